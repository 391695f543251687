//! An echo server on tokio-tungstenite, in the style of its own echo-server example (multi-threaded
//! runtime, one task per connection, `read.forward(write)`).
//!
//! `tungstenite-echo 127.0.0.1:9002`

#![allow(clippy::print_stderr)]

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9002".into());
    let listener = TcpListener::bind(&addr).await.expect("bind");
    eprintln!("tungstenite-echo: listening on {addr}");
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(accept_connection(stream));
    }
}

async fn accept_connection(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let (write, read) = ws.split();
    let _ = read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write).await;
}
