//! An echo server on tokio-websockets, in the style of its README's echo server: `#[tokio::main]`
//! (the multi-threaded runtime), a task per connection, `ServerBuilder::new().accept(stream)` with
//! the default configuration and limits, then `next()` and a text or binary message sent back.
//! The handshake runs in the connection's task, as in its echo_server example, rather than in the
//! accept loop as in the README, so that one slow handshake does not hold up the others.
//!
//! Two ways to send the echo back:
//!
//! - default: `send(msg)` per message, as the README and the echo_server example do: each echo is
//!   queued and flushed (one write per message at least);
//! - `--batched`: every message that is already decoded or readable without waiting is taken
//!   first, then each is `feed(msg)` (queued, not flushed) and one `flush()` follows. They are taken
//!   before any is fed because the crate flushes its send queue at every `next()`: feeding each
//!   message as it comes would still write once per message. (The crate also writes on its own
//!   once its queue holds `flush_threshold` bytes, 8 KiB by default.)
//!
//! `--threads N` sets the runtime's worker threads (default: one per core, as `#[tokio::main]`).
//!
//! `tokio-websockets-echo 127.0.0.1:9004 [--batched] [--threads N]`

#![allow(clippy::print_stderr)]

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_websockets::{Error, ServerBuilder};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().filter(|a| !a.starts_with("--")).cloned().unwrap_or_else(|| "127.0.0.1:9004".into());
    let batched = args.iter().any(|a| a == "--batched");
    let threads = args.iter().position(|a| a == "--threads").and_then(|i| args.get(i + 1));
    let threads = threads.map(|n| n.parse::<usize>().expect("--threads N: a number"));
    // What `#[tokio::main]` builds, with the worker count given if one is.
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        runtime.worker_threads(n.max(1));
    }
    let runtime = runtime.enable_all().build().expect("a runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(&addr).await.expect("bind");
        eprintln!("tokio-websockets-echo: listening on {addr}{}", if batched { " (batched)" } else { "" });
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = if batched { echo_batched(stream).await } else { echo(stream).await };
            });
        }
    });
}

/// The README's loop: one `send` (queue and flush) per message.
async fn echo(stream: TcpStream) -> Result<(), Error> {
    let (_request, mut ws) = ServerBuilder::new().accept(stream).await?;
    while let Some(Ok(msg)) = ws.next().await {
        if msg.is_text() || msg.is_binary() {
            ws.send(msg).await?;
        }
    }
    Ok(())
}

/// Takes every message that is ready, `feed`s them, then one `flush`.
async fn echo_batched(stream: TcpStream) -> Result<(), Error> {
    let (_request, mut ws) = ServerBuilder::new().accept(stream).await?;
    let mut batch = Vec::new();
    while let Some(Ok(msg)) = ws.next().await {
        batch.push(msg);
        // Polled once each: messages already decoded or readable now; the end stops the loop.
        let mut ended = false;
        while !ended {
            match ws.next().now_or_never() {
                Some(Some(Ok(next))) => batch.push(next),
                Some(_) => ended = true,
                None => break,
            }
        }
        for msg in batch.drain(..) {
            if msg.is_text() || msg.is_binary() {
                ws.feed(msg).await?;
            }
        }
        ws.flush().await?;
        if ended {
            break;
        }
    }
    Ok(())
}
