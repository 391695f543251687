//! The `sansio-ws-mio` event loop at one end or both, the blocking and tokio drivers at the other:
//! the same exchange, the same checks, whichever driver moves the bytes.

mod support;

use sansio_ws::connection::Config;
use support::harness::{Driver, exchange};
use support::script::Finish;

/// The event loop without permessage-deflate: the same frames on the wire as the other drivers.
const MIO: Driver = Driver::Mio { deflate: false };

/// The event loop as it comes: permessage-deflate offered as a client, accepted as a server. The
/// blocking and tokio drivers never negotiate it, so against them it stays off.
const MIO_DEFLATE: Driver = Driver::Mio { deflate: true };

#[test]
fn mio_client_and_server_exchange_then_client_closes() {
    exchange(MIO, MIO, Finish::ClientCloses, false, Config::default());
}

/// Everything queued at once: sends are refused for backpressure and retried on `Writable`.
#[test]
fn mio_client_and_server_pipelined_then_server_closes() {
    exchange(MIO, MIO, Finish::ServerCloses, true, Config::default());
}

/// Both loops negotiate permessage-deflate: every message travels compressed.
#[test]
fn mio_client_and_server_with_permessage_deflate_then_client_closes() {
    exchange(MIO_DEFLATE, MIO_DEFLATE, Finish::ClientCloses, false, Config::default());
}

#[test]
fn mio_client_with_blocking_server_client_closes() {
    exchange(Driver::Blocking, MIO_DEFLATE, Finish::ClientCloses, false, Config::default());
}

#[test]
fn mio_client_with_blocking_server_server_closes() {
    exchange(Driver::Blocking, MIO_DEFLATE, Finish::ServerCloses, false, Config::default());
}

#[test]
fn blocking_client_with_mio_server_client_closes() {
    exchange(MIO_DEFLATE, Driver::Blocking, Finish::ClientCloses, false, Config::default());
}

#[test]
fn blocking_client_with_mio_server_server_closes() {
    exchange(MIO_DEFLATE, Driver::Blocking, Finish::ServerCloses, false, Config::default());
}

#[test]
fn mio_client_with_tokio_server_client_closes() {
    exchange(Driver::Tokio, MIO_DEFLATE, Finish::ClientCloses, false, Config::default());
}

#[test]
fn mio_client_with_tokio_server_server_closes() {
    exchange(Driver::Tokio, MIO_DEFLATE, Finish::ServerCloses, false, Config::default());
}

#[test]
fn tokio_client_with_mio_server_client_closes() {
    exchange(MIO_DEFLATE, Driver::Tokio, Finish::ClientCloses, false, Config::default());
}

#[test]
fn tokio_client_with_mio_server_server_closes() {
    exchange(MIO_DEFLATE, Driver::Tokio, Finish::ServerCloses, false, Config::default());
}
