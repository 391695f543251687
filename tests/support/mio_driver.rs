//! The `sansio-ws-mio` event loop as a driver of the harness: an [`Adapter`] turns the loop's
//! callbacks into the harness's [`Handler`] calls, so the echo server and the scripted client run
//! on it unchanged. One loop serves or opens one connection, on the calling thread.
//!
//! The loop itself writes, reads, keeps the timers and lingers after the final event; all this
//! module adds is the forwarding, and turning the loop until the connection has ended.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use sansio_ws::connection::{Closed, Event, Message};
use sansio_ws::handshake::{Accept, Reject, Request};
use sansio_ws_mio::{ConnId, ConnectError, Ctx, Decision, DriverConfig, EventLoop, Opened};

use super::app::{Handler, LINGER};

/// The longest one turn of the loop waits: how often the time limit is checked.
const TURN: Duration = Duration::from_millis(20);

/// Runs a harness application as a `sansio_ws_mio::Handler` for one connection: every callback
/// that carries an event goes to the application with that connection, and the final event is kept
/// as the outcome.
pub(crate) struct Adapter<'a, H> {
    app: &'a mut H,
    /// The connection being served (a server refuses any later request).
    id: Option<ConnId>,
    accepted: bool,
    /// The final event, or why the connection never opened.
    outcome: Option<io::Result<Closed>>,
}

impl<'a, H: Handler> Adapter<'a, H> {
    fn new(app: &'a mut H) -> Self {
        Adapter { app, id: None, accepted: false, outcome: None }
    }

    /// Hands `event` to the application, with the connection it happened on.
    fn forward(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: Event) {
        if self.id != Some(id) {
            return;
        }
        let now = ctx.now();
        // What the application queues through the connection is written when the callback returns.
        if let Some(conn) = ctx.connection_mut(id) {
            self.app.on_event(conn, now, event);
        }
    }
}

impl<H: Handler> sansio_ws_mio::Handler for Adapter<'_, H> {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, _request: &Request) -> Decision {
        if std::mem::replace(&mut self.accepted, true) {
            return Decision::Reject(Reject::new(503));
        }
        Decision::Accept(Accept::new())
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, _opened: &Opened) {
        if self.id.is_some() {
            return;
        }
        self.id = Some(id);
        let now = ctx.now();
        if let Some(conn) = ctx.connection_mut(id) {
            self.app.on_open(conn, now);
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, id: ConnId, message: Message) {
        self.forward(ctx, id, Event::Message(message));
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, id: ConnId, event: &Event) {
        self.forward(ctx, id, event.clone());
    }

    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        if self.id == Some(id) {
            self.outcome = Some(Ok(closed.clone()));
        }
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, error: ConnectError) {
        self.outcome = Some(Err(io::Error::other(format!("the connection did not open: {error}"))));
    }
}

/// An event loop listening on `addr` that serves its first connection with `app`, and the address
/// it is bound to (for port 0).
pub(crate) fn listen<H: Handler>(
    addr: SocketAddr,
    config: DriverConfig,
    app: &mut H,
) -> io::Result<(EventLoop<Adapter<'_, H>>, SocketAddr)> {
    let mut event_loop = EventLoop::new(config, Adapter::new(app))?;
    let bound = event_loop.listen(addr)?;
    Ok((event_loop, bound))
}

/// An event loop with one connection to `url` (`ws://host:port/path`) on its way, run by `app`
/// once open.
pub(crate) fn connect<'a, H: Handler>(
    url: &str,
    config: DriverConfig,
    app: &'a mut H,
) -> io::Result<EventLoop<Adapter<'a, H>>> {
    let mut event_loop = EventLoop::new(config, Adapter::new(app))?;
    event_loop.connect(url).map_err(|e| io::Error::other(format!("cannot connect to {url}: {e}")))?;
    Ok(event_loop)
}

/// Turns the loop until the connection's final event (or its failure to open), which it returns,
/// then until the socket has finished lingering. Gives up at `give_up`.
pub(crate) fn run<H: Handler>(
    mut event_loop: EventLoop<Adapter<'_, H>>,
    give_up: std::time::Instant,
) -> io::Result<Closed> {
    let outcome = loop {
        if let Some(outcome) = event_loop.handler_mut().outcome.take() {
            break outcome;
        }
        if std::time::Instant::now() >= give_up {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the connection did not end in time"));
        }
        event_loop.turn(Some(TURN))?;
    };
    // The loop has shut our sending side and reads until the peer's end of stream, so that
    // closing the socket does not reset it under our last frames. A shutdown stops the listener
    // (a client loop has none) and makes `run` return once that socket is gone, after `LINGER`
    // at most.
    event_loop.with_ctx(|_, ctx| ctx.shutdown(LINGER));
    event_loop.run()?;
    outcome
}
