//! A tokio driver: one task per connection. The task waits, in one `select!`, for the socket to be
//! readable, for it to be writable (only while the connection has output), and for the core's
//! next deadline (`sleep_until`). The socket is used through `try_read`/`try_write_vectored`, so
//! bytes are read straight into the connection's buffer and written straight from its queue.

use std::io::{self, IoSlice};
use std::time::Duration;

use sansio_ws::Instant;
use sansio_ws::connection::{Closed, Config};
use sansio_ws::handshake::{Accept, ClientConfig, ClientHandshake, HandshakeError, ServerConfig, ServerHandshake};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::app::{Clock, Established, Handler, LINGER, READ_CHUNK, ReadResult, drain, handshake_error, report_read};

/// Serves WebSocket connections from `listener` forever, one task each, running the handler
/// `make_handler` builds. `report` hears how each connection ended. Call within a tokio runtime.
pub(crate) async fn serve<H, F, R>(listener: TcpListener, config: Config, make_handler: F, report: R) -> io::Result<()>
where
    H: Handler + Send + 'static,
    F: Fn() -> H + Send + Sync + 'static,
    R: Fn(io::Result<Closed>) + Send + Sync + 'static,
{
    let shared = std::sync::Arc::new((make_handler, report));
    loop {
        let (stream, _) = listener.accept().await?;
        let config = config.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let (make_handler, report) = &*shared;
            let clock = Clock::new();
            let result = match accept(stream, ServerConfig::default(), config, clock).await {
                Ok(upgraded) => run(upgraded, clock, &mut make_handler()).await,
                Err(e) => Err(e),
            };
            report(result);
        });
    }
}

/// The server's opening handshake on an accepted stream. The `101` answer is not written yet: the
/// connection holds it, and it goes out with the first frames, in [`run`]. A refused request is
/// answered (400, 403, 408 when it does not arrive in time…) and reported as an error.
pub(crate) async fn accept(
    mut stream: TcpStream,
    handshake: ServerConfig,
    config: Config,
    clock: Clock,
) -> io::Result<Established<TcpStream>> {
    let mut handshake = ServerHandshake::new(handshake, clock.now());
    let mut buf = vec![0; 4096];
    let reading = async {
        loop {
            // The core bounds the handshake: wait for bytes until its deadline.
            let give_up = until(clock, handshake.poll_timeout());
            let input = match tokio::time::timeout_at(give_up, stream.read(&mut buf)).await {
                Ok(Ok(0)) => return Err(Refused::Io(io::ErrorKind::UnexpectedEof.into())),
                Ok(Ok(n)) => handshake.handle_input(&buf[..n]),
                Ok(Err(e)) => return Err(Refused::Io(e)),
                Err(_) => handshake.handle_timeout(clock.now()).map(|()| None),
            };
            match input {
                Ok(Some(request)) => return Ok(request),
                Ok(None) => {}
                Err(e) => return Err(Refused::Handshake(e)),
            }
        }
    };
    let request = match reading.await {
        Ok(request) => request,
        Err(Refused::Io(e)) => return Err(e),
        Err(Refused::Handshake(e)) => {
            let mut answer = Vec::new();
            e.write_response(&mut answer);
            // The peer is told why if it listens; either way the connection ends here.
            if matches!(tokio::time::timeout(LINGER, stream.write_all(&answer)).await, Ok(Ok(()))) {
                linger(stream).await;
            }
            return Err(handshake_error(e));
        }
    };
    // The connection gets the `101`, permessage-deflate as agreed, and the frames the client sent
    // right behind its request, before any read.
    let upgraded = handshake.accept(&request, Accept::new()).map_err(handshake_error)?;
    Ok(Established { stream, conn: upgraded.into_connection(config, clock.now()) })
}

/// A core deadline as a tokio instant; none is an hour away (the handshakes always have one).
fn until(clock: Clock, deadline: Option<Instant>) -> tokio::time::Instant {
    let now = clock.now();
    tokio::time::Instant::from_std(clock.to_std(deadline.unwrap_or(now + Duration::from_secs(3600))))
}

/// Why the server's handshake stopped reading.
enum Refused {
    Io(io::Error),
    Handshake(HandshakeError),
}

/// Connects to `url` (`ws://host:port/path`) and runs the client's opening handshake.
pub(crate) async fn connect(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    clock: Clock,
) -> io::Result<Established<TcpStream>> {
    let mut handshake = ClientHandshake::new(url, handshake, clock.now()).map_err(handshake_error)?;
    let target = handshake.target();
    let give_up = until(clock, handshake.poll_timeout());
    let connecting = TcpStream::connect((target.host(), target.port()));
    let mut stream =
        tokio::time::timeout_at(give_up, connecting).await.map_err(|_| handshake_error("connect timed out"))??;
    let mut request = Vec::new();
    handshake.write_request(&mut request);
    tokio::time::timeout_at(give_up, stream.write_all(&request))
        .await
        .map_err(|_| handshake_error("request not sent in time"))??;
    let mut buf = vec![0; 4096];
    let upgraded = loop {
        let input = match tokio::time::timeout_at(until(clock, handshake.poll_timeout()), stream.read(&mut buf)).await {
            Ok(Ok(0)) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
            Ok(Ok(n)) => handshake.handle_input(&buf[..n]),
            Ok(Err(e)) => return Err(e),
            Err(_) => handshake.handle_timeout(clock.now()).map(|()| None),
        };
        if let Some(upgraded) = input.map_err(handshake_error)? {
            break upgraded;
        }
    };
    // Frames the server sent right behind its `101` come before anything read from now on.
    Ok(Established { stream, conn: upgraded.into_connection(config, clock.now()) })
}

/// Runs an established connection until its final event, which it returns, then closes the
/// transport. I/O errors end the connection (the core hears them as end of stream).
pub(crate) async fn run<H: Handler>(
    established: Established<TcpStream>,
    clock: Clock,
    handler: &mut H,
) -> io::Result<Closed> {
    let Established { stream, mut conn } = established;
    stream.set_nodelay(true)?;
    let mut transport_failed = false;
    let mut eof_given = false;
    handler.on_open(&mut conn, clock.now());
    loop {
        // After every input or command: write, handle events, then re-read the deadline.
        let write = |slices: &[IoSlice<'_>]| stream.try_write_vectored(slices);
        if let Some(closed) = drain(&mut conn, handler, clock, &mut transport_failed, write) {
            linger(stream).await;
            return Ok(closed);
        }
        if eof_given || transport_failed {
            // `handle_eof` always ends the connection; never spin on a transport that is over.
            return Err(io::Error::other("the connection did not end after end of stream"));
        }

        let now = clock.now();
        let deadline = conn.poll_timeout();
        if deadline.is_some_and(|d| d <= now) {
            conn.handle_timeout(now);
            continue;
        }
        // `select!` evaluates every branch's future, so the sleep needs an instant even with no
        // deadline; its branch is disabled then.
        let wake_at = until(clock, deadline);
        let wants_write = !transport_failed && conn.wants_write();
        tokio::select! {
            ready = stream.readable() => {
                let result = ready.and_then(|()| stream.try_read(conn.input_buffer(READ_CHUNK)));
                // `Nothing` is a spurious wake-up: tokio clears the readiness, the next wait is real.
                if report_read(&mut conn, clock.now(), result) == ReadResult::Ended {
                    eof_given = true;
                }
            }
            // The drain at the top of the loop writes.
            _ = stream.writable(), if wants_write => {}
            () = tokio::time::sleep_until(wake_at), if deadline.is_some() => conn.handle_timeout(clock.now()),
        }
    }
}

/// Closes the transport gracefully: shut down our sending side (FIN after our last bytes), then
/// read and discard until the peer closes too or [`LINGER`] passes. Closing a socket with unread
/// input makes the kernel send a reset, which can destroy our Close frame before the peer reads it.
pub(crate) async fn linger(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    let mut scratch = [0; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while let Ok(n) = stream.read(&mut scratch).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
