//! Runs the scripted client against the echo server over real sockets on 127.0.0.1, under any
//! combination of drivers, and checks how both ends finished.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use sansio_ws::connection::{CloseCause, Closed, Config, Side, Unsent};
use sansio_ws::deflate::DeflateConfig;
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{ClientConfig, ServerConfig};
use sansio_ws_mio::DriverConfig;

use super::app::{Clock, Echo};
use super::script::{Finish, Script, Step};
use super::{blocking, mio_driver, tokio_driver};

/// How long any one exchange may take before the test fails.
pub(crate) const TEST_LIMIT: Duration = Duration::from_secs(60);

/// The Ping payload the echo server sends when a connection opens.
pub(crate) const SERVER_PING: &[u8] = b"server-hello";

/// Which driver runs one end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    /// `std::net`, a thread per connection.
    Blocking,
    /// tokio, a current-thread runtime.
    Tokio,
    /// The `sansio-ws-mio` event loop, with permessage-deflate offered (client) and accepted
    /// (server) when `deflate` is set, as the core's handshakes do by default. The other drivers
    /// run with it off here ([`plain_server`]), so it is only on between two mio ends that have it.
    Mio {
        /// Whether the loop negotiates permessage-deflate.
        deflate: bool,
    },
}

impl Driver {
    /// Whether this end offers or accepts permessage-deflate.
    pub(crate) fn deflate(self) -> bool {
        matches!(self, Driver::Mio { deflate: true })
    }
}

/// One end's outcome: its application (with what it counted) and its final event.
pub(crate) type Outcome<H> = (H, io::Result<Closed>);

/// A current-thread tokio runtime with I/O and timers.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

/// The handshake settings of the blocking and tokio drivers here: without permessage-deflate, so
/// that their large messages really fill the send queue (the pipelined exchange's backpressure).
fn plain_server() -> ServerConfig {
    ServerConfig::default().with_deflate(None)
}

/// See [`plain_server`].
fn plain_client() -> ClientConfig {
    ClientConfig::default().with_deflate(None)
}

/// The mio event loop's settings for connections with `config`.
fn mio_config(config: Config, deflate: bool) -> DriverConfig {
    let deflate = deflate.then(DeflateConfig::default);
    DriverConfig::default()
        .with_connection(config)
        .with_server(ServerConfig::default().with_deflate(deflate))
        .with_client(ClientConfig::default().with_deflate(deflate))
}

/// When a mio loop started now stops waiting for its connection to end.
fn mio_give_up() -> std::time::Instant {
    std::time::Instant::now() + TEST_LIMIT
}

/// Starts an echo server for one connection on a free port of 127.0.0.1.
pub(crate) fn serve_once(driver: Driver, config: Config) -> (SocketAddr, thread::JoinHandle<Outcome<Echo>>) {
    let (bound, address) = mpsc::channel();
    let server = thread::spawn(move || {
        let mut echo = Echo::pinging(SERVER_PING);
        let result = serve(driver, config, &mut echo, &bound);
        (echo, result)
    });
    (address.recv().expect("the server's address"), server)
}

/// Serves one connection with `echo`, telling `bound` the address once it listens.
fn serve(driver: Driver, config: Config, echo: &mut Echo, bound: &mpsc::Sender<SocketAddr>) -> io::Result<Closed> {
    let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
    let listen = || {
        let listener = TcpListener::bind(localhost).expect("bind 127.0.0.1:0");
        // The receiver waits for this before anything else.
        let _ = bound.send(listener.local_addr().expect("the bound address"));
        listener
    };
    let clock = Clock::new();
    match driver {
        Driver::Blocking => listen().accept().and_then(|(stream, _)| {
            let upgraded = blocking::accept(stream, plain_server(), config, clock)?;
            blocking::run(upgraded, clock, echo)
        }),
        Driver::Tokio => runtime().block_on(async {
            let listener = listen();
            listener.set_nonblocking(true)?;
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let (stream, _) = listener.accept().await?;
            let upgraded = tokio_driver::accept(stream, plain_server(), config).await?;
            tokio_driver::run(upgraded, echo).await
        }),
        Driver::Mio { deflate } => {
            let (event_loop, addr) =
                mio_driver::listen(localhost, mio_config(config, deflate), echo).expect("a mio loop on 127.0.0.1:0");
            let _ = bound.send(addr);
            mio_driver::run(event_loop, mio_give_up())
        }
    }
}

/// Runs `script` as a client of `addr` on the calling thread.
pub(crate) fn connect(driver: Driver, addr: SocketAddr, config: Config, mut script: Script) -> Outcome<Script> {
    let url = format!("ws://{addr}/echo");
    let clock = Clock::new();
    let result = match driver {
        Driver::Blocking => blocking::connect(&url, plain_client(), config, clock)
            .and_then(|upgraded| blocking::run(upgraded, clock, &mut script)),
        Driver::Tokio => runtime().block_on(async {
            let upgraded = tokio_driver::connect(&url, plain_client(), config).await?;
            tokio_driver::run(upgraded, &mut script).await
        }),
        Driver::Mio { deflate } => mio_driver::connect(&url, mio_config(config, deflate), &mut script)
            .and_then(|event_loop| mio_driver::run(event_loop, mio_give_up())),
    };
    (script, result)
}

/// Runs `f` on its own thread and fails the test if it takes longer than [`TEST_LIMIT`].
pub(crate) fn within_limit<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        // The receiver is gone only if the limit already passed.
        let _ = tx.send(f());
    });
    rx.recv_timeout(TEST_LIMIT).unwrap_or_else(|_| panic!("the exchange took longer than {TEST_LIMIT:?}"))
}

/// The full exchange: the standard steps from a `client` to a `server`, ended as `finish` says,
/// with every check on both ends.
pub(crate) fn exchange(server: Driver, client: Driver, finish: Finish, pipelined: bool, server_config: Config) {
    let ((script, client_result), (echo, server_result)) = within_limit(move || {
        let (addr, server_thread) = serve_once(server, server_config);
        let script = Script::new(Script::standard_steps(), finish, pipelined);
        let client_outcome = connect(client, addr, Config::default(), script);
        (client_outcome, server_thread.join().expect("the server thread"))
    });
    let client_closed = client_result.expect("the client ran");
    let server_closed = server_result.expect("the server ran");

    // The client got every echo and Pong, in order, and the server's Ping.
    assert!(script.problems.is_empty(), "client problems: {:#?}", script.problems);
    assert!(script.complete(), "the client's script did not complete");
    let steps = script.steps();
    let pings = steps.iter().filter(|s| matches!(s, Step::Ping(_))).count();
    assert_eq!(script.answered, steps.len());
    if pipelined {
        // The 8 MiB messages queued at once go over the high-water mark: the later ones were
        // refused, handed back, and sent again on `Writable`.
        assert!(script.refusals > 0, "no send was refused for backpressure");
    }
    assert_eq!(script.pings, 1, "the server's Ping reached the client");
    // The server saw every message and Ping, and the client answered its Ping.
    let asked_to_close = usize::from(finish == Finish::ServerCloses);
    assert_eq!(echo.messages, steps.len() - pings + asked_to_close);
    assert_eq!(echo.pings, pings);
    assert_eq!(echo.pongs, [Bytes::from_static(SERVER_PING)]);
    assert_eq!(echo.close_received, Some(CloseCode::NORMAL));
    // permessage-deflate is on exactly when both ends negotiate it.
    let deflate = server.deflate() && client.deflate();
    assert_eq!((script.deflate, echo.deflate), (deflate, deflate), "permessage-deflate on (client, server)");

    // Both ends closed cleanly, agreeing on who started.
    let (client_side, server_side, reason) = match finish {
        Finish::ClientCloses => (Side::Local, Side::Remote, "done"),
        Finish::ServerCloses => (Side::Remote, Side::Local, "as requested"),
    };
    let clean = |initiator| CloseCause::Clean { code: CloseCode::NORMAL, reason: reason.to_string(), initiator };
    assert_eq!((client_closed.cause, client_closed.unsent), (clean(client_side), Unsent::default()));
    assert_eq!((server_closed.cause, server_closed.unsent), (clean(server_side), Unsent::default()));
}
