//! A blocking driver on `std::net::TcpStream`: one thread per connection, no runtime.
//!
//! A thread blocked in `read` cannot also wait for "writable", so the loop bounds every wait:
//! - the read timeout is the core's next deadline (`poll_timeout`), so timers fire on time;
//! - writes carry a short timeout ([`WRITE_STALL`]): when the peer stops taking bytes, the write
//!   returns what it managed, and the thread goes back to reading for a moment before trying again.
//!   Without that, two blocking peers writing large messages to each other would both block in
//!   `write` forever, each waiting for the other to read.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use sansio_ws::connection::{Closed, Config};
use sansio_ws::handshake::{Accept, ClientConfig, ClientHandshake, ServerConfig, ServerHandshake};

use super::app::{
    Clock, Established, Handler, LINGER, READ_CHUNK, ReadResult, drain, handshake_error, is_would_block, report_read,
};

/// How long one write may wait for the peer to make room before the thread reads instead.
pub(crate) const WRITE_STALL: Duration = Duration::from_millis(5);

/// Serves WebSocket connections from `listener` forever, one thread each, running the handler
/// `make_handler` builds. `report` hears how each connection ended.
pub(crate) fn serve<H, F, R>(listener: TcpListener, config: Config, make_handler: F, report: R) -> io::Result<()>
where
    H: Handler,
    F: Fn() -> H + Send + Sync + 'static,
    R: Fn(io::Result<Closed>) + Send + Sync + 'static,
{
    let shared = std::sync::Arc::new((make_handler, report));
    loop {
        let (stream, _) = listener.accept()?;
        let config = config.clone();
        let shared = shared.clone();
        thread::spawn(move || {
            let (make_handler, report) = &*shared;
            let clock = Clock::new();
            let result = accept(stream, ServerConfig::default(), config, clock)
                .and_then(|upgraded| run(upgraded, clock, &mut make_handler()));
            report(result);
        });
    }
}

/// The server's opening handshake on an accepted stream. The `101` answer is not written yet: the
/// connection holds it, and it goes out with the first frames, in [`run`]. A refused request is
/// answered (400, 403, 408 when it does not arrive in time…) and reported as an error.
pub(crate) fn accept(
    mut stream: TcpStream,
    handshake: ServerConfig,
    config: Config,
    clock: Clock,
) -> io::Result<Established<TcpStream>> {
    let mut handshake = ServerHandshake::new(handshake, clock.now());
    let mut buf = vec![0; 4096];
    let request = loop {
        // The core bounds the handshake: read until its deadline, then let it say what it thinks.
        let give_up = handshake.poll_timeout().unwrap_or(sansio_ws::Instant::MAX);
        let input = match read_before(&mut stream, &mut buf, clock, give_up) {
            Ok(n) => handshake.handle_input(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => handshake.handle_timeout(clock.now()).map(|()| None),
            Err(e) => return Err(e),
        };
        match input {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                let mut answer = Vec::new();
                e.write_response(&mut answer);
                stream.set_write_timeout(Some(LINGER))?;
                // The peer is told why if it listens; either way the connection ends here.
                if stream.write_all(&answer).is_ok() {
                    linger(stream, clock);
                }
                return Err(handshake_error(e));
            }
        }
    };
    // The connection gets the `101`, permessage-deflate as agreed, and the frames the client sent
    // right behind its request, before any read.
    let upgraded = handshake.accept(&request, Accept::new()).map_err(handshake_error)?;
    Ok(Established { stream, conn: upgraded.into_connection(config, clock.now()) })
}

/// Connects to `url` (`ws://host:port/path`) and runs the client's opening handshake.
pub(crate) fn connect(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    clock: Clock,
) -> io::Result<Established<TcpStream>> {
    let mut handshake = ClientHandshake::new(url, handshake, clock.now()).map_err(handshake_error)?;
    let target = handshake.target();
    let mut stream = TcpStream::connect((target.host(), target.port()))?;
    let mut request = Vec::new();
    handshake.write_request(&mut request);
    let give_up = handshake.poll_timeout().unwrap_or(sansio_ws::Instant::MAX);
    stream.set_write_timeout(Some((give_up - clock.now()).max(Duration::from_millis(1))))?;
    stream.write_all(&request)?;
    let mut buf = vec![0; 4096];
    let upgraded = loop {
        let give_up = handshake.poll_timeout().unwrap_or(sansio_ws::Instant::MAX);
        let input = match read_before(&mut stream, &mut buf, clock, give_up) {
            Ok(n) => handshake.handle_input(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => handshake.handle_timeout(clock.now()).map(|()| None),
            Err(e) => return Err(e),
        };
        if let Some(upgraded) = input.map_err(handshake_error)? {
            break upgraded;
        }
    };
    // Frames the server sent right behind its `101` come before anything read from now on.
    Ok(Established { stream, conn: upgraded.into_connection(config, clock.now()) })
}

/// Runs an established connection until its final event, which it returns, then closes the
/// transport. I/O errors end the connection (the core hears them as end of stream); the result is
/// an error only when the socket cannot be set up.
pub(crate) fn run<H: Handler>(
    established: Established<TcpStream>,
    clock: Clock,
    handler: &mut H,
) -> io::Result<Closed> {
    let Established { mut stream, mut conn } = established;
    stream.set_nodelay(true)?;
    stream.set_write_timeout(Some(WRITE_STALL))?;
    let mut transport_failed = false;
    let mut eof_given = false;
    handler.on_open(&mut conn, clock.now());
    loop {
        // After every input or command: write, handle events, then re-read the deadline.
        let write = |slices: &[IoSlice<'_>]| stream.write_vectored(slices);
        if let Some(closed) = drain(&mut conn, handler, clock, &mut transport_failed, write) {
            linger(stream, clock);
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
        let mut wait = deadline.map(|d| d - now);
        if conn.wants_write() {
            // Output is stalled: read for a moment only, then try writing again.
            wait = Some(wait.map_or(WRITE_STALL, |w| w.min(WRITE_STALL)));
        }
        stream.set_read_timeout(wait)?;
        // Read straight into the connection's buffer: no copy.
        let result = stream.read(conn.input_buffer(READ_CHUNK));
        let now = clock.now();
        match report_read(&mut conn, now, result) {
            ReadResult::Data => {}
            // Early (a stalled write woke us) or on time: spurious calls are harmless.
            ReadResult::Nothing => conn.handle_timeout(now),
            ReadResult::Ended => eof_given = true,
        }
    }
}

/// Closes the transport gracefully: no more output (FIN after our last bytes), then reads and
/// discards until the peer closes too or [`LINGER`] passes. Closing a socket with unread input
/// makes the kernel send a reset, which can destroy our Close frame before the peer reads it.
pub(crate) fn linger(mut stream: TcpStream, clock: Clock) {
    let _ = stream.shutdown(Shutdown::Write);
    let give_up = clock.now() + LINGER;
    let mut scratch = [0; 4096];
    // Ends at the peer's end of stream (an error for `read_before`), a failure, or `give_up`.
    while read_before(&mut stream, &mut scratch, clock, give_up).is_ok() {}
}

/// One read that gives up at `give_up` (on the driver's clock); end of stream is an error.
fn read_before(stream: &mut TcpStream, buf: &mut [u8], clock: Clock, give_up: sansio_ws::Instant) -> io::Result<usize> {
    loop {
        let left = give_up - clock.now();
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => return Ok(n),
            Err(e) if is_would_block(&e) || e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
