//! One end blocking, the other on tokio: the wire does not care which driver moves the bytes.

mod support;

use sansio_ws::connection::Config;
use support::harness::{Driver, exchange};
use support::script::Finish;

#[test]
fn blocking_client_with_tokio_server_client_closes() {
    exchange(Driver::Tokio, Driver::Blocking, Finish::ClientCloses, false, Config::default());
}

#[test]
fn blocking_client_with_tokio_server_pipelined_server_closes() {
    exchange(Driver::Tokio, Driver::Blocking, Finish::ServerCloses, true, Config::default());
}

#[test]
fn tokio_client_with_blocking_server_client_closes() {
    exchange(Driver::Blocking, Driver::Tokio, Finish::ClientCloses, true, Config::default());
}

#[test]
fn tokio_client_with_blocking_server_server_closes() {
    exchange(Driver::Blocking, Driver::Tokio, Finish::ServerCloses, false, Config::default());
}
