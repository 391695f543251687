//! An echo server on fastwebsockets, in the style of its own echo_server example (hyper upgrade,
//! current-thread runtime, `FragmentCollector`, an unconstrained task per connection).
//!
//! `fastwebsockets-echo 127.0.0.1:9003`

#![allow(clippy::print_stderr)]

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(mut req: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::task::spawn(async move {
        let _ = tokio::task::unconstrained(handle_client(fut)).await;
    });
    Ok(response)
}

fn main() -> Result<(), WebSocketError> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9003".into());
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().expect("a runtime");
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("fastwebsockets-echo: listening on {addr}");
        loop {
            let (stream, _) = listener.accept().await?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = http1::Builder::new().serve_connection(io, service_fn(server_upgrade)).with_upgrades();
                let _ = conn.await;
            });
        }
    })
}
