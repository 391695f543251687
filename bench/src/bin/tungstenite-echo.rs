//! An echo server on tokio-tungstenite, in the style of its own echo-server example (multi-threaded
//! runtime, one task per connection, `read.forward(write)`); with `--tls-cert CERT --tls-key KEY`,
//! through tokio-rustls as its README recommends for `wss://` (the same rustls configuration as the
//! mio driver's: ring, X25519 first, ALPN http/1.1).
//!
//! `--threads N` sets the runtime's worker threads (default: one per core, as `#[tokio::main]`).
//!
//! `tungstenite-echo 127.0.0.1:9002 [--tls-cert CERT.pem --tls-key KEY.pem] [--threads N]`

#![allow(clippy::print_stderr)]

use std::sync::Arc;

use futures_util::{StreamExt, TryStreamExt, future};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads = args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1));
    let threads = threads.map(|n| n.parse::<usize>().expect("--threads N: a number"));
    // What `#[tokio::main]` builds, with the worker count given if one is.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        runtime.worker_threads(n.max(1));
    }
    runtime.enable_all().build().expect("a runtime").block_on(serve(args));
}

async fn serve(args: Vec<String>) {
    let addr = args.first().filter(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9002".into());
    let option =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(std::path::PathBuf::from);
    let tls = match (option("--tls-cert"), option("--tls-key")) {
        (Some(cert), Some(key)) => {
            let config = sansio_ws_mio::tls::server_config(&cert, &key).expect("the certificate and key");
            Some(tokio_rustls::TlsAcceptor::from(Arc::clone(&config)))
        }
        _ => None,
    };
    let listener = TcpListener::bind(&addr).await.expect("bind");
    eprintln!("tungstenite-echo: listening on {addr}{}", if tls.is_some() { " (TLS)" } else { "" });
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        match tls.clone() {
            None => {
                tokio::spawn(accept_connection(stream));
            }
            Some(acceptor) => {
                tokio::spawn(async move {
                    if let Ok(stream) = acceptor.accept(stream).await {
                        accept_connection(stream).await;
                    }
                });
            }
        }
    }
}

async fn accept_connection<S: AsyncRead + AsyncWrite + Unpin>(stream: S) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let (write, read) = ws.split();
    let _ = read.try_filter(|msg| future::ready(msg.is_text() || msg.is_binary())).forward(write).await;
}
