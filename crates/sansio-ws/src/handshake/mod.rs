//! The opening handshake (RFC 6455 §4): the HTTP/1.1 Upgrade exchange, for both roles, and the
//! typed hand-off to the [`Connection`](crate::connection::Connection).
//!
//! Like the rest of the crate this module does no I/O. Each side has one input method,
//! `handle_input(&[u8])`, fed with whatever the transport read, in pieces of any size. It answers
//! `Ok(None)` while the head is incomplete ("need more data" is not an error), a result once it is
//! complete, or an error saying who broke which rule. Each side also has a deadline
//! (`poll_timeout` / `handle_timeout`, [`DEFAULT_TIMEOUT`] by default), so every driver bounds a
//! slow or silent peer the same way.
//!
//! ```text
//!  server: bytes ──► ServerHandshake ──► Request ──accept(&request, Accept)──► Upgraded ─┐
//!  client: write_request ─► bytes ──► ClientHandshake ────────────────────────► Upgraded ─┤
//!                                                       into_connection(config, now) ◄────┘
//!                                                                  │
//!                                                                  ▼
//!                   Connection: 101 queued (server), permessage-deflate on, early frames fed
//! ```
//!
//! - Server: [`ServerHandshake`] yields a [`Request`]; answer with [`ServerHandshake::accept`],
//!   which gives the [`Upgraded`], or with a [`Reject`]; on an error, with
//!   [`HandshakeError::write_response`] (400, 403, 405, 408, 426 or 431, see
//!   [`HandshakeError::status`]).
//! - Client: [`ClientHandshake`] writes the request and yields the [`Upgraded`] or a
//!   [`ClientHandshakeError`] (on which the client closes the connection).
//! - [`Upgraded::into_connection`] builds the connection with everything the handshake decided:
//!   the server's `101` response queued as its first output, permessage-deflate on with the
//!   agreed parameters, and the bytes that followed the head (frames a peer sent without waiting)
//!   already fed in. Nothing is left for the driver to do by hand.
//!
//! Both read the head incrementally and within [`HeadLimits`] (16 KiB and 64 fields by default),
//! scanning each byte a bounded number of times however the input is split.
//!
//! Subprotocols are offered and chosen as plain tokens. Extensions are parsed into
//! [`Extension`] values (§9.1) and written back with [`write_extensions`]. permessage-deflate is
//! negotiated here, from `ServerConfig::deflate` and `ClientConfig::deflate` (on by default
//! with the `deflate` feature). Browsers' cross-site requests are filtered by an [`OriginPolicy`]
//! (same host by default).
//!
//! # Server
//!
//! ```
//! use sansio_ws::Instant;
//! use sansio_ws::connection::{Config, Event, Message};
//! use sansio_ws::handshake::{Accept, ServerConfig, ServerHandshake};
//!
//! let now = Instant::from_secs(1);
//! let mut handshake = ServerHandshake::new(ServerConfig::default(), now);
//! assert_eq!(handshake.poll_timeout(), Some(now + std::time::Duration::from_secs(10)));
//! let mut input = b"GET /chat?room=1 HTTP/1.1\r\n\
//!     Host: server.example.com\r\n\
//!     Upgrade: websocket\r\n\
//!     Connection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\
//!     Sec-WebSocket-Protocol: chat, superchat\r\n\
//!     \r\n"
//!     .to_vec();
//! // A masked text frame "Hello" the client sent right behind its request (RFC 6455 §5.7).
//! input.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//!
//! // Pieces of any size; here, two.
//! assert!(handshake.handle_input(&input[..40]).unwrap().is_none());
//! let request = match handshake.handle_input(&input[40..]) {
//!     Ok(Some(request)) => request,
//!     Ok(None) => unreachable!("the head is complete"),
//!     Err(e) => {
//!         // Send the refusal and close.
//!         let mut out = Vec::new();
//!         e.write_response(&mut out);
//!         return;
//!     }
//! };
//! assert_eq!(request.path(), "/chat");
//! assert_eq!(request.query(), Some("room=1"));
//!
//! let upgraded = handshake.accept(&request, Accept::new().with_subprotocol("chat")).unwrap();
//! assert_eq!(upgraded.subprotocol(), Some("chat"));
//! let mut conn = upgraded.into_connection(Config::default(), now);
//!
//! // The frame that followed the request is already an event, and the `101` is the first output.
//! assert_eq!(conn.poll_event(), Some(Event::Message(Message::from("Hello"))));
//! let mut out = Vec::new();
//! while conn.poll_transmit(now, &mut out) > 0 {}
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
//! assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
//! assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
//! ```
//!
//! # Client
//!
//! ```
//! use sansio_ws::Instant;
//! use sansio_ws::connection::{Config, Event, Message};
//! use sansio_ws::handshake::{ClientConfig, ClientHandshake, accept_key};
//! use sansio_ws::rand::SeededRandom;
//!
//! let now = Instant::from_secs(1);
//! let config = ClientConfig::default().with_subprotocol("chat");
//! let rng = Box::new(SeededRandom::new(1)); // `ClientHandshake::new` uses the OS generator
//! let mut handshake = ClientHandshake::with_randomness("ws://example.com/chat", config, now, rng).unwrap();
//! let mut request = Vec::new();
//! handshake.write_request(&mut request);
//! assert!(request.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
//!
//! // What a server would answer, followed by a first frame (a text "hi").
//! let mut answer = format!(
//!     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!      Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
//!     accept_key(handshake.key().as_bytes()),
//! )
//! .into_bytes();
//! answer.extend_from_slice(b"\x81\x02hi");
//! let upgraded = handshake.handle_input(&answer).unwrap().expect("complete");
//! assert_eq!(upgraded.subprotocol(), Some("chat"));
//! assert_eq!(upgraded.server_response().unwrap().status(), 101);
//! let mut conn = upgraded.into_connection(Config::default(), now);
//! assert_eq!(conn.poll_event(), Some(Event::Message(Message::from("hi"))));
//! ```

mod client;
mod extensions;
mod head;
mod headers;
mod origin;
mod server;
mod upgraded;
mod url;

#[cfg(test)]
mod tests;

use alloc::string::String;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

pub use client::{ClientConfig, ClientHandshake, ClientHandshakeError, RejectedResponse, RequestError, Response};
pub use extensions::{
    Extension, ExtensionFormatError, ExtensionParam, ExtensionParseError, ExtensionParseErrorKind, parse_extensions,
    write_extensions,
};
pub use head::HeadLimits;
pub use headers::{Header, Headers};
pub use origin::OriginPolicy;
pub use server::{Accept, AcceptError, HandshakeError, Reject, Request, ServerConfig, ServerHandshake};
pub use upgraded::Upgraded;
pub use url::{Target, UrlError};

/// How long a handshake may take by default ([`ServerConfig::timeout`], [`ClientConfig::timeout`]).
pub const DEFAULT_TIMEOUT: core::time::Duration = core::time::Duration::from_secs(10);

/// The permessage-deflate extension token (RFC 7692 §5).
pub(crate) const PERMESSAGE_DEFLATE: &str = "permessage-deflate";

/// The GUID appended to the client's key to compute `Sec-WebSocket-Accept` (§1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks, as sent in `Sec-WebSocket-Version` (§4.1, §11.3.5).
pub const WEBSOCKET_VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the key (as
/// sent, not decoded) followed by [`WEBSOCKET_GUID`] (§1.3, §4.2.2).
///
/// ```
/// assert_eq!(sansio_ws::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}
