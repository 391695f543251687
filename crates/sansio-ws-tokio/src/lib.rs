//! The [sansio-ws](sansio_ws) WebSocket engine on tokio: a [`WebSocketStream`] over any
//! `AsyncRead + AsyncWrite` transport, as `async fn`s (`recv`, `send`, `close`) and as a
//! `Stream` + `Sink` of messages; [`split`](WebSocketStream::split) halves for two tasks;
//! [`accept`] for servers and [`connect`] for clients (`wss://` with the `rustls` feature).
//!
//! The protocol — framing, fragmentation, UTF-8, the close handshake, the adaptive heartbeat,
//! permessage-deflate — is the core's; this crate moves bytes and turns the core's deadlines
//! into tokio timers. When a connection ends, [`close_info`](WebSocketStream::close_info)
//! says why ([`CloseCause`]: a clean close and who started it, the peer vanishing, a protocol
//! violation with its close code, a heartbeat or close-handshake timeout…) and what was left
//! unsent.
//!
//! ```no_run
//! use sansio_ws_tokio::{CloseCode, Message};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // A server: echo every message.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = sansio_ws_tokio::accept(tcp).await?;
//! while let Some(message) = ws.recv().await {
//!     ws.send(message?).await?;
//! }
//! println!("ended: {}", ws.close_info().expect("the stream ended").cause);
//!
//! // A client.
//! let (mut ws, _response) = sansio_ws_tokio::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! let echoed = ws.recv().await.expect("an answer")?;
//! assert_eq!(echoed, Message::text("hello"));
//! let closed = ws.close(CloseCode::NORMAL, "done").await?;
//! println!("{}", closed.cause);
//! # Ok(())
//! # }
//! ```
//!
//! See [`WebSocketStream`] for what runs when (timers and Pongs run while a receive is pending)
//! and for the cancel safety of each method.

mod accept;
mod connect;
mod engine;
mod error;
mod split;
mod stream;
#[cfg(feature = "rustls")]
pub mod tls;
#[cfg(feature = "hyper")]
pub mod upgrade;

pub use accept::{accept, accept_with, accept_with_callback};
#[cfg(feature = "rustls")]
pub use connect::connect_with_tls;
pub use connect::{MaybeTlsStream, client_with, connect, connect_with};
pub use error::{Error, HandshakeError};
pub use sansio_ws;
pub use sansio_ws::connection::{CloseCause, Closed, Config, Event, Message, Side, Stats};
pub use sansio_ws::frame::CloseCode;
pub use sansio_ws::handshake::{Accept, ClientConfig, Reject, Request, Response, ServerConfig};
pub use split::{ReadHalf, WriteHalf};
pub use stream::WebSocketStream;
