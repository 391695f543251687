//! The core driven by tokio at both ends, over real sockets on 127.0.0.1.

mod support;

use sansio_ws::connection::{CloseCause, Config, ReceiveMode, Side};
use sansio_ws::handshake::{ClientConfig, ServerConfig};
use support::app::Echo;
use support::harness::{Driver, exchange, runtime, within_limit};
use support::script::{Finish, Script};
use support::tokio_driver;

#[test]
fn tokio_client_and_server_exchange_then_client_closes() {
    exchange(Driver::Tokio, Driver::Tokio, Finish::ClientCloses, false, Config::default());
}

/// Everything queued at once, and a server that streams: it echoes each piece as it arrives with
/// `send_fragment`, so the 8 MiB messages go back before they have fully arrived.
#[test]
fn tokio_pipelined_streaming_echo_then_server_closes() {
    let streaming = Config::default().with_receive_mode(ReceiveMode::Streaming);
    exchange(Driver::Tokio, Driver::Tokio, Finish::ServerCloses, true, streaming);
}

/// Client and server as two tasks of one current-thread runtime: the drivers never block it.
#[test]
fn tokio_client_and_server_share_one_thread() {
    let (script, client, server) = within_limit(|| {
        runtime().block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("ws://{}/", listener.local_addr().unwrap());
            let server = tokio::spawn(async move {
                let (stream, _) = listener.accept().await?;
                let upgraded = tokio_driver::accept(stream, ServerConfig::default(), Config::default()).await?;
                tokio_driver::run(upgraded, &mut Echo::default()).await
            });
            let mut script = Script::new(Script::standard_steps(), Finish::ClientCloses, true);
            let upgraded = tokio_driver::connect(&url, ClientConfig::default(), Config::default()).await.unwrap();
            let client = tokio_driver::run(upgraded, &mut script).await.unwrap();
            (script, client, server.await.unwrap().unwrap())
        })
    });
    assert!(script.problems.is_empty(), "{:#?}", script.problems);
    assert!(script.complete());
    assert!(matches!(client.cause, CloseCause::Clean { initiator: Side::Local, .. }), "{client:?}");
    assert!(matches!(server.cause, CloseCause::Clean { initiator: Side::Remote, .. }), "{server:?}");
}
