//! Outgoing connections on loopback: host names resolved off the loop's thread, every address
//! tried in turn, the phase each failure happened in, the timings and the server's response; and
//! the application timer of a connection.

use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant as StdInstant};

use sansio_ws::connection::{Closed, Config, Message};
use sansio_ws::frame::CloseCode;
use sansio_ws::handshake::{Accept, ClientConfig, OriginPolicy, Request, ServerConfig};
use sansio_ws::{Instant, Role};
use sansio_ws_mio::{ConnId, ConnectError, ConnectPhase, Ctx, Decision, DriverConfig, EventLoop, Handler, Opened};

#[derive(Default)]
struct Dialer {
    opened: Vec<(ConnId, Opened)>,
    errors: Vec<(ConnId, ConnectError)>,
    closed: Vec<(ConnId, Closed)>,
    /// Application timers fired: which connection, and the loop's time.
    fired: Vec<(ConnId, Instant)>,
    /// In on_open of the server side: set a timer this far ahead (and again from on_timer
    /// while `repeat` lasts).
    timer: Option<Duration>,
    repeat: usize,
    /// The server side's connection ids.
    servers: Vec<ConnId>,
}

impl Handler for Dialer {
    fn on_request(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, _request: &Request) -> Decision {
        Decision::Accept(Accept::new().with_header("X-Served-By", "dial-test"))
    }

    fn on_open(&mut self, ctx: &mut Ctx<'_>, id: ConnId, opened: &Opened) {
        if opened.role == Role::Server {
            self.servers.push(id);
            if let Some(after) = self.timer {
                assert!(ctx.set_timer(id, ctx.now() + after), "an open connection takes a timer");
            }
        }
        self.opened.push((id, opened.clone()));
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, id: ConnId) {
        self.fired.push((id, ctx.now()));
        if self.repeat > 0 {
            self.repeat -= 1;
            let after = self.timer.unwrap_or_default();
            assert!(ctx.set_timer(id, ctx.now() + after));
        }
    }

    fn on_connect_error(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, error: ConnectError) {
        self.errors.push((id, error));
    }

    fn on_close(&mut self, _ctx: &mut Ctx<'_>, id: ConnId, closed: &Closed) {
        self.closed.push((id, closed.clone()));
    }
}

fn config() -> DriverConfig {
    DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any))
        .with_connection(Config::default().with_heartbeat(None))
}

fn turn_until<H: Handler>(el: &mut EventLoop<H>, mut done: impl FnMut(&H) -> bool) {
    let start = StdInstant::now();
    while !done(el.handler()) {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out");
        el.turn(Some(Duration::from_millis(20))).unwrap();
    }
}

/// An address nothing listens on (bound, then let go).
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

#[test]
fn a_host_name_is_resolved_off_the_loop_and_the_open_connection_has_its_timings_and_response() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let started = StdInstant::now();
    let id = el.connect(&format!("ws://localhost:{}/chat", addr.port())).unwrap();
    turn_until(&mut el, |h| h.opened.len() == 2);
    let elapsed = started.elapsed();
    let (_, client) = el.handler().opened.iter().find(|(i, _)| *i == id).expect("the client side opened");
    assert_eq!(client.role, Role::Client);
    assert_eq!(client.path, "/chat");
    assert_eq!(client.peer.port(), addr.port());
    let response = client.response.as_ref().expect("a client has the server's response");
    assert_eq!(response.status(), 101);
    assert_eq!(response.header("x-served-by"), Some("dial-test"));
    let timing = client.timing.expect("a client has its timings");
    assert!(timing.attempts >= 1, "{timing:?}");
    assert!(timing.total() <= elapsed, "{timing:?} within the {elapsed:?} the test waited");
    // The server side knows nothing of either.
    let (_, server) = el.handler().opened.iter().find(|(i, _)| *i != id).unwrap();
    assert!(server.response.is_none() && server.timing.is_none());
}

#[test]
fn an_ip_address_needs_no_lookup() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let id = el.connect(&format!("ws://{addr}/")).unwrap();
    turn_until(&mut el, |h| h.opened.len() == 2);
    let timing = el.handler().opened.iter().find(|(i, _)| *i == id).and_then(|(_, o)| o.timing).unwrap();
    assert_eq!(timing.resolve, Duration::ZERO, "{timing:?}");
    assert_eq!(timing.attempts, 1);
}

#[test]
fn every_address_is_tried_in_turn_until_one_takes_the_connection() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let (dead1, dead2) = (closed_port(), closed_port());
    let id = el
        .with_ctx(|_, ctx| ctx.connect_to("ws://service.example/", ClientConfig::default(), &[dead1, dead2, addr]))
        .unwrap();
    turn_until(&mut el, |h| h.opened.len() == 2 || !h.errors.is_empty());
    let h = el.handler();
    assert!(h.errors.is_empty(), "{:?}", h.errors);
    let (_, client) = h.opened.iter().find(|(i, _)| *i == id).unwrap();
    assert_eq!(client.peer, addr, "the address that took the connection");
    assert_eq!(client.timing.unwrap().attempts, 3);
}

#[test]
fn when_no_address_takes_the_connection_the_error_names_the_host_and_the_attempts() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    let addrs = [closed_port(), closed_port()];
    let id = el.with_ctx(|_, ctx| ctx.connect_to("ws://service.example/", ClientConfig::default(), &addrs)).unwrap();
    turn_until(&mut el, |h| !h.errors.is_empty());
    let (failed, error) = &el.handler().errors[0];
    assert_eq!(*failed, id);
    assert_eq!(error.phase(), Some(ConnectPhase::Connecting));
    let ConnectError::Io { error: io, .. } = error else { panic!("{error:?}") };
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused, "{io}");
    let text = error.to_string();
    assert!(text.contains("service.example") && text.contains("all 2 of its addresses"), "{text}");
    assert_eq!(el.sockets(), 0, "nothing is left of it");
}

#[test]
fn a_name_that_does_not_resolve_fails_in_the_resolving_phase() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    // `.invalid` is reserved never to resolve (RFC 6761).
    let id = el.connect("ws://no-such-host.invalid/").unwrap();
    turn_until(&mut el, |h| !h.errors.is_empty());
    let (failed, error) = &el.handler().errors[0];
    assert_eq!(*failed, id);
    match error {
        // The name server said no (or could not be reached in time).
        ConnectError::Resolve { host, .. } => assert_eq!(host, "no-such-host.invalid"),
        ConnectError::Timeout { phase: ConnectPhase::Resolving, .. } => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(error.phase(), Some(ConnectPhase::Resolving));
    assert!(error.to_string().contains("no-such-host.invalid") || error.to_string().contains("resolving"));
}

#[test]
fn a_server_that_never_answers_times_out_in_the_handshake_phase() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    // Takes the TCP connection (the kernel does) but never reads or answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", silent.local_addr().unwrap());
    let timeout = Duration::from_millis(300);
    let started = StdInstant::now();
    el.with_ctx(|_, ctx| ctx.connect_with(&url, ClientConfig::default().with_timeout(timeout))).unwrap();
    turn_until(&mut el, |h| !h.errors.is_empty());
    let elapsed = started.elapsed();
    let (_, error) = &el.handler().errors[0];
    let ConnectError::Timeout { phase, after } = error else { panic!("{error:?}") };
    assert_eq!((*phase, *after), (ConnectPhase::Handshake, timeout));
    assert_eq!(error.to_string(), "timed out after 300 ms waiting for the server's handshake response");
    assert!(elapsed >= timeout && elapsed < Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn the_application_timer_fires_once_at_its_time_and_again_when_set_again() {
    let after = Duration::from_millis(50);
    let mut el = EventLoop::new(config(), Dialer { timer: Some(after), repeat: 2, ..Dialer::default() }).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    el.connect(&format!("ws://{addr}/")).unwrap();
    turn_until(&mut el, |h| h.fired.len() == 3);
    let server = el.handler().servers[0];
    let opened_at = el.handler().fired[0].1;
    // Three firings, each at least `after` past the one before, all on the server's connection.
    let fired = el.handler().fired.clone();
    assert!(fired.iter().all(|(id, _)| *id == server));
    for pair in fired.windows(2) {
        assert!(pair[1].1 >= pair[0].1 + after, "{fired:?}");
    }
    // Not set again the third time: it stays quiet.
    let end = StdInstant::now() + after * 4;
    while StdInstant::now() < end {
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert_eq!(el.handler().fired.len(), 3, "fired after {opened_at:?}: {:?}", el.handler().fired);
}

#[test]
fn a_cleared_timer_does_not_fire_and_one_on_a_closed_connection_cannot_be_set() {
    let mut el =
        EventLoop::new(config(), Dialer { timer: Some(Duration::from_millis(30)), ..Dialer::default() }).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = el.connect(&format!("ws://{addr}/")).unwrap();
    turn_until(&mut el, |h| h.opened.len() == 2);
    let server = el.handler().servers[0];
    assert!(el.with_ctx(|_, ctx| ctx.clear_timer(server)), "the timer set on open");
    assert!(!el.with_ctx(|_, ctx| ctx.clear_timer(server)), "nothing left to clear");
    let end = StdInstant::now() + Duration::from_millis(150);
    while StdInstant::now() < end {
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert!(el.handler().fired.is_empty(), "{:?}", el.handler().fired);

    // A timer set, then the connection closes before it is due: it never fires.
    el.with_ctx(|_, ctx| {
        assert!(ctx.set_timer(server, ctx.now() + Duration::from_millis(100)));
        ctx.close(client, CloseCode::NORMAL, "bye").unwrap();
    });
    turn_until(&mut el, |h| h.closed.len() == 2);
    assert!(!el.with_ctx(|_, ctx| ctx.set_timer(server, ctx.now())), "a closed connection takes no timer");
    let end = StdInstant::now() + Duration::from_millis(200);
    while StdInstant::now() < end {
        el.turn(Some(Duration::from_millis(10))).unwrap();
    }
    assert!(el.handler().fired.is_empty(), "{:?}", el.handler().fired);
    // Sending on it is refused too: the id is spent.
    assert!(el.with_ctx(|_, ctx| ctx.send(server, Message::Text("late".into())).is_err()));
}

#[test]
fn a_timer_set_earlier_than_the_connections_own_deadline_wakes_the_loop_for_it() {
    // The heartbeat's deadline is 30 s away: the loop must still wake for a 40 ms timer.
    let cfg = config().with_connection(Config::default());
    let mut el = EventLoop::new(cfg, Dialer { timer: Some(Duration::from_millis(40)), ..Dialer::default() }).unwrap();
    let addr = el.listen("127.0.0.1:0".parse().unwrap()).unwrap();
    el.connect(&format!("ws://{addr}/")).unwrap();
    turn_until(&mut el, |h| h.opened.len() == 2);
    let started = StdInstant::now();
    // Turns that would sleep for up to 5 s if nothing woke them.
    while el.handler().fired.is_empty() {
        assert!(started.elapsed() < Duration::from_secs(4), "the timer did not wake the loop");
        el.turn(Some(Duration::from_secs(5))).unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(1), "{:?}", started.elapsed());
}

#[test]
fn a_wake_from_another_thread_ends_a_waiting_turn() {
    let mut el = EventLoop::new(config(), Dialer::default()).unwrap();
    let handle = el.handle();
    let waker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle.wake()
    });
    let started = StdInstant::now();
    // Nothing else to wake it: without the wake this turn would sleep 5 s.
    el.turn(Some(Duration::from_secs(5))).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert_eq!(waker.join().unwrap(), Ok(()));
}
