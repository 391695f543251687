//! The connection lifecycle: every state transition of a [`Connection`](super::Connection) is in
//! [`Phase::step`], and nowhere else.
//!
//! ```text
//!                     close()                       our Close written
//!        ┌──────┐ ──────────────► LocalClosing ─────────┐   + peer's Close
//!        │ Open │                                        ├──► handshake complete ─┬─ server ─► Closed
//!        └──────┘ ──────────────► RemoteClosing ────────┘                         └─ client ─► AwaitingEof ─► Closed
//!          │  │    peer's Close                 our reply written                      (EOF or close timeout)
//!          │  └──────────────────► Failing ───── our Close written ──────────────────────────► Closed
//!          │     protocol error
//!          └─────────────────────────────────── EOF / abort / heartbeat dead ─────────────────► Closed
//! ```
//!
//! A transport cut without its own orderly close (a TLS connection without close_notify) is EOF
//! too: `Truncated` where a plain EOF would be `PeerVanished`, and clean once the handshake is
//! complete.
//!
//! From any closing phase, EOF, abort, the drain timeout and the close timeout lead to `Closed`
//! with the cause they imply. Inputs that mean nothing in a phase (a spurious timeout, a second
//! EOF) leave it unchanged.

use alloc::string::String;

use crate::Role;
use crate::error::ProtocolError;
use crate::frame::CloseCode;

use super::event::{CloseCause, Side};

/// The coarse state of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// The close handshake (or a failure) is under way: no new messages can be sent.
    Closing,
    /// Over; the final [`Event::Closed`](super::Event::Closed) has been (or is about to be) reported.
    Closed,
}

/// The detailed phase. Each variant holds exactly what it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Open,
    /// We queued a Close (behind the data already queued).
    LocalClosing {
        code: CloseCode,
        reason: String,
        /// Started by the idle timeout rather than by the application.
        idle: bool,
        /// Our Close frame has been handed to the transport.
        written: bool,
        /// The peer's Close has arrived.
        peer_closed: bool,
    },
    /// The peer's Close arrived first; our reply is queued.
    RemoteClosing {
        code: CloseCode,
        reason: String,
    },
    /// The peer broke the protocol; our Close is queued, then the transport closes.
    Failing(ProtocolError),
    /// Client only: the handshake is complete and the server is to close the TCP connection first
    /// (RFC 6455 §7.1.1).
    AwaitingEof(CloseCause),
    Closed,
}

/// Something that can move the lifecycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Input {
    /// The application (or the idle timeout) starts the close handshake.
    LocalClose { code: CloseCode, reason: String, idle: bool },
    /// A valid Close frame arrived.
    PeerClose { code: CloseCode, reason: String },
    /// Our Close frame has been handed to the transport in full.
    CloseWritten,
    /// The transport reported end of stream or an error; `truncated`: without its own orderly
    /// close (a TLS connection cut without close_notify).
    Eof { truncated: bool },
    /// The peer broke the protocol.
    Violation(ProtocolError),
    /// Queued output did not reach the transport within the drain timeout.
    DrainTimeout,
    /// The close timeout expired.
    CloseTimeout,
    /// The heartbeat declared the peer dead.
    HeartbeatDead { misses: u32, last_rtt: Option<core::time::Duration> },
    /// The application aborted.
    Abort,
}

/// A Close frame to queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CloseOrder {
    pub(crate) code: CloseCode,
    pub(crate) reason: String,
}

/// What the connection must do after a step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Effects {
    pub(crate) queue_close: Option<CloseOrder>,
    /// Arm the drain deadline (output must reach the transport by then).
    pub(crate) arm_drain: bool,
    /// Our Close is out: disarm the drain deadline.
    pub(crate) disarm_drain: bool,
    /// Arm the close deadline (waiting for the peer's Close or, on a client, for EOF).
    pub(crate) arm_close: bool,
    /// Report this final cause; any output still queued is discarded and counted as unsent.
    pub(crate) finish: Option<CloseCause>,
}

impl Phase {
    pub(crate) fn state(&self) -> State {
        match self {
            Phase::Open => State::Open,
            Phase::Closed => State::Closed,
            _ => State::Closing,
        }
    }

    /// Whether received frames are still processed: while open, and after our own Close until the
    /// peer's arrives (RFC 6455 §1.4: data may still arrive until then).
    pub(crate) fn reads_frames(&self) -> bool {
        matches!(self, Phase::Open | Phase::LocalClosing { peer_closed: false, .. })
    }

    /// Whether the application may still queue data and pings.
    pub(crate) fn accepts_sends(&self) -> bool {
        matches!(self, Phase::Open)
    }

    /// Whether heartbeat and idle timers run.
    pub(crate) fn is_open(&self) -> bool {
        matches!(self, Phase::Open)
    }

    /// Who started closing, while closing.
    pub(crate) fn initiator(&self) -> Option<Side> {
        match self {
            Phase::LocalClosing { .. } => Some(Side::Local),
            Phase::RemoteClosing { .. } => Some(Side::Remote),
            Phase::AwaitingEof(CloseCause::Clean { initiator, .. }) => Some(*initiator),
            // The idle timeout's Close is ours.
            Phase::AwaitingEof(CloseCause::IdleTimeout) => Some(Side::Local),
            _ => None,
        }
    }

    /// The one transition function. Returns what the caller must do; an input that means nothing
    /// in the current phase returns no effects and leaves the phase as it was.
    pub(crate) fn step(&mut self, role: Role, input: Input) -> Effects {
        let mut fx = Effects::default();
        let old = core::mem::replace(self, Phase::Closed);
        *self = match (old, input) {
            (Phase::Closed, _) => Phase::Closed,

            (Phase::Open, Input::LocalClose { code, reason, idle }) => {
                fx.queue_close = Some(CloseOrder { code, reason: reason.clone() });
                fx.arm_drain = true;
                Phase::LocalClosing { code, reason, idle, written: false, peer_closed: false }
            }
            (Phase::Open, Input::PeerClose { code, reason }) => {
                // Echo the peer's code and reason; an empty Close is answered with 1000 (Normal).
                let reply = if code == CloseCode::NO_STATUS { CloseCode::NORMAL } else { code };
                fx.queue_close = Some(CloseOrder { code: reply, reason: reason.clone() });
                fx.arm_drain = true;
                Phase::RemoteClosing { code, reason }
            }
            (Phase::Open, Input::Violation(e)) => {
                fx.queue_close = Some(CloseOrder { code: e.close_code(), reason: e.reason().into() });
                fx.arm_drain = true;
                Phase::Failing(e)
            }

            // Our Close is queued; the peer's may come before or after ours is written.
            (Phase::LocalClosing { code, reason, idle, written: false, peer_closed }, Input::CloseWritten) => {
                fx.disarm_drain = true;
                if peer_closed {
                    complete(role, local_cause(code, reason, idle), &mut fx)
                } else {
                    fx.arm_close = true;
                    Phase::LocalClosing { code, reason, idle, written: true, peer_closed }
                }
            }
            (Phase::LocalClosing { code, reason, idle, written, peer_closed: false }, Input::PeerClose { .. }) => {
                if written {
                    complete(role, local_cause(code, reason, idle), &mut fx)
                } else {
                    Phase::LocalClosing { code, reason, idle, written, peer_closed: true }
                }
            }
            (Phase::LocalClosing { written: false, peer_closed: false, .. }, Input::Violation(e)) => {
                // Our Close has not started: the failure's Close replaces it.
                fx.queue_close = Some(CloseOrder { code: e.close_code(), reason: e.reason().into() });
                Phase::Failing(e)
            }
            (Phase::LocalClosing { written: true, .. }, Input::Violation(e)) => {
                finish(CloseCause::ProtocolViolation(e), &mut fx)
            }
            (Phase::LocalClosing { written, .. }, Input::Eof { truncated }) => {
                finish(vanished(written, truncated), &mut fx)
            }
            (Phase::LocalClosing { written: false, .. }, Input::DrainTimeout) => {
                finish(CloseCause::DrainTimeout, &mut fx)
            }
            (Phase::LocalClosing { written: true, .. }, Input::CloseTimeout) => {
                finish(CloseCause::CloseTimeout, &mut fx)
            }

            (Phase::RemoteClosing { code, reason }, Input::CloseWritten) => {
                fx.disarm_drain = true;
                complete(role, CloseCause::Clean { code, reason, initiator: Side::Remote }, &mut fx)
            }
            (Phase::RemoteClosing { code, reason }, Input::Eof { .. }) => {
                // The peer sent its Close and hung up before reading our reply: its side of the
                // handshake was complete.
                finish(CloseCause::Clean { code, reason, initiator: Side::Remote }, &mut fx)
            }
            (Phase::RemoteClosing { .. }, Input::DrainTimeout) => finish(CloseCause::DrainTimeout, &mut fx),

            (Phase::Failing(e), Input::CloseWritten | Input::Eof { .. } | Input::DrainTimeout) => {
                finish(CloseCause::ProtocolViolation(e), &mut fx)
            }

            // The handshake is complete: however the transport ends now, the ending is clean.
            (Phase::AwaitingEof(cause), Input::Eof { .. } | Input::CloseTimeout | Input::Abort) => {
                finish(cause, &mut fx)
            }

            (Phase::Open, Input::Eof { truncated }) => finish(vanished(false, truncated), &mut fx),
            (Phase::Open | Phase::LocalClosing { .. }, Input::HeartbeatDead { misses, last_rtt }) => {
                finish(CloseCause::HeartbeatTimeout { misses, last_rtt }, &mut fx)
            }
            (_, Input::Abort) => finish(CloseCause::LocalAbort, &mut fx),

            // Everything else means nothing in that phase.
            (old, _) => old,
        };
        fx
    }
}

/// The transport ended before the close handshake completed: cut without its orderly close
/// (`truncated`), or simply gone.
fn vanished(during_close: bool, truncated: bool) -> CloseCause {
    if truncated { CloseCause::Truncated { during_close } } else { CloseCause::PeerVanished { during_close } }
}

fn local_cause(code: CloseCode, reason: String, idle: bool) -> CloseCause {
    if idle { CloseCause::IdleTimeout } else { CloseCause::Clean { code, reason, initiator: Side::Local } }
}

/// The close handshake is complete: a server closes the transport now, a client waits for the
/// server to do so (RFC 6455 §7.1.1), bounded by the close timeout.
fn complete(role: Role, cause: CloseCause, fx: &mut Effects) -> Phase {
    match role {
        Role::Server => finish(cause, fx),
        Role::Client => {
            fx.arm_close = true;
            Phase::AwaitingEof(cause)
        }
    }
}

fn finish(cause: CloseCause, fx: &mut Effects) -> Phase {
    fx.finish = Some(cause);
    Phase::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local_close() -> Input {
        Input::LocalClose { code: CloseCode::NORMAL, reason: "bye".into(), idle: false }
    }
    fn peer_close(code: u16) -> Input {
        Input::PeerClose { code: CloseCode::from_u16(code), reason: String::new() }
    }

    #[test]
    fn local_close_then_written_then_peer_close_completes() {
        for role in [Role::Server, Role::Client] {
            let mut p = Phase::Open;
            let fx = p.step(role, local_close());
            assert!(fx.arm_drain);
            assert_eq!(fx.queue_close.map(|c| c.code), Some(CloseCode::NORMAL));
            let fx = p.step(role, Input::CloseWritten);
            assert!(fx.arm_close && fx.disarm_drain);
            let fx = p.step(role, peer_close(1000));
            let clean = CloseCause::Clean { code: CloseCode::NORMAL, reason: "bye".into(), initiator: Side::Local };
            match role {
                Role::Server => {
                    assert_eq!(fx.finish, Some(clean));
                    assert_eq!(p, Phase::Closed);
                }
                Role::Client => {
                    assert!(fx.finish.is_none() && fx.arm_close);
                    assert_eq!(p.step(role, Input::Eof { truncated: false }).finish, Some(clean));
                }
            }
        }
    }

    #[test]
    fn peer_close_before_ours_is_written_still_waits_for_ours() {
        let mut p = Phase::Open;
        p.step(Role::Server, local_close());
        assert_eq!(p.step(Role::Server, peer_close(1001)).finish, None);
        assert!(!p.reads_frames());
        assert!(p.step(Role::Server, Input::CloseWritten).finish.is_some());
    }

    #[test]
    fn empty_peer_close_is_answered_with_1000_and_reported_as_1005() {
        let mut p = Phase::Open;
        let fx = p.step(Role::Server, peer_close(1005));
        assert_eq!(fx.queue_close.map(|c| c.code), Some(CloseCode::NORMAL));
        let fx = p.step(Role::Server, Input::CloseWritten);
        assert!(matches!(
            fx.finish,
            Some(CloseCause::Clean { code: CloseCode::NO_STATUS, initiator: Side::Remote, .. })
        ));
    }

    #[test]
    fn violations_fail_with_their_code() {
        let e = ProtocolError::InvalidUtf8 { offset: 0 };
        let mut p = Phase::Open;
        let fx = p.step(Role::Client, Input::Violation(e));
        assert_eq!(fx.queue_close.map(|c| c.code), Some(CloseCode::INVALID_PAYLOAD));
        assert_eq!(p.state(), State::Closing);
        assert!(!p.reads_frames() && !p.accepts_sends());
        // A failing client closes the transport itself: it does not wait for the server.
        assert_eq!(p.step(Role::Client, Input::CloseWritten).finish, Some(CloseCause::ProtocolViolation(e)));
    }

    #[test]
    fn timeouts_and_eof_in_each_phase() {
        let mut p = Phase::Open;
        assert_eq!(
            p.step(Role::Server, Input::Eof { truncated: false }).finish,
            Some(CloseCause::PeerVanished { during_close: false })
        );
        assert_eq!(p.step(Role::Server, Input::Eof { truncated: false }), Effects::default(), "closed stays closed");

        let mut p = Phase::Open;
        p.step(Role::Server, local_close());
        assert_eq!(p.step(Role::Server, Input::CloseTimeout), Effects::default(), "not armed before written");
        assert_eq!(p.step(Role::Server, Input::DrainTimeout).finish, Some(CloseCause::DrainTimeout));

        let mut p = Phase::Open;
        p.step(Role::Server, local_close());
        p.step(Role::Server, Input::CloseWritten);
        assert_eq!(p.step(Role::Server, Input::DrainTimeout), Effects::default(), "drain done once written");
        assert_eq!(p.step(Role::Server, Input::CloseTimeout).finish, Some(CloseCause::CloseTimeout));

        let mut p = Phase::Open;
        p.step(Role::Client, local_close());
        p.step(Role::Client, Input::CloseWritten);
        assert_eq!(
            p.step(Role::Client, Input::Eof { truncated: false }).finish,
            Some(CloseCause::PeerVanished { during_close: true })
        );
    }

    /// A transport cut without its orderly close (TLS without close_notify): `Truncated` where a
    /// plain EOF gives `PeerVanished`; the same ending as a plain EOF everywhere else.
    #[test]
    fn a_truncated_transport_in_each_phase() {
        let cut = Input::Eof { truncated: true };
        let mut p = Phase::Open;
        assert_eq!(p.step(Role::Server, cut.clone()).finish, Some(CloseCause::Truncated { during_close: false }));
        assert_eq!(p.step(Role::Server, cut.clone()), Effects::default(), "closed stays closed");

        // Our Close queued but not written yet, then written.
        let mut p = Phase::Open;
        p.step(Role::Client, local_close());
        assert_eq!(
            p.clone().step(Role::Client, cut.clone()).finish,
            Some(CloseCause::Truncated { during_close: false })
        );
        p.step(Role::Client, Input::CloseWritten);
        assert_eq!(p.step(Role::Client, cut.clone()).finish, Some(CloseCause::Truncated { during_close: true }));

        // The peer's Close arrived: its side of the handshake is complete, the ending is clean.
        let mut p = Phase::Open;
        p.step(Role::Server, Input::PeerClose { code: CloseCode::GOING_AWAY, reason: "bye".into() });
        let clean = CloseCause::Clean { code: CloseCode::GOING_AWAY, reason: "bye".into(), initiator: Side::Remote };
        assert_eq!(p.step(Role::Server, cut.clone()).finish, Some(clean));

        // A client whose close handshake is complete: a server that closes TCP without
        // close_notify is not an error.
        let mut p = Phase::AwaitingEof(CloseCause::Clean {
            code: CloseCode::NORMAL,
            reason: String::new(),
            initiator: Side::Local,
        });
        let clean = CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Local };
        assert_eq!(p.step(Role::Client, cut.clone()).finish, Some(clean));

        // Failing: the violation stays the cause.
        let mut p = Phase::Failing(ProtocolError::UnexpectedContinuation);
        assert_eq!(
            p.step(Role::Client, cut).finish,
            Some(CloseCause::ProtocolViolation(ProtocolError::UnexpectedContinuation))
        );
    }

    #[test]
    fn idle_close_reports_idle_timeout() {
        let mut p = Phase::Open;
        p.step(Role::Server, Input::LocalClose { code: CloseCode::GOING_AWAY, reason: "idle".into(), idle: true });
        p.step(Role::Server, Input::CloseWritten);
        assert_eq!(p.step(Role::Server, peer_close(1001)).finish, Some(CloseCause::IdleTimeout));
    }

    #[test]
    fn second_local_close_is_ignored() {
        let mut p = Phase::Open;
        p.step(Role::Server, local_close());
        assert_eq!(p.step(Role::Server, local_close()), Effects::default());
        assert_eq!(p.initiator(), Some(Side::Local));
    }

    fn local_closing(written: bool, peer_closed: bool) -> Phase {
        Phase::LocalClosing { code: CloseCode::NORMAL, reason: "bye".into(), idle: false, written, peer_closed }
    }
    fn clean(initiator: Side) -> CloseCause {
        CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator }
    }

    /// What each phase allows, as the lifecycle documents it: frames are read while open and after
    /// our own Close until the peer's arrives; data is accepted and the timers run only while open.
    #[test]
    fn each_phase_reports_its_state_and_what_it_allows() {
        let violation = ProtocolError::InvalidUtf8 { offset: 3 };
        // (phase, state, reads frames, accepts sends and runs timers, initiator)
        let table = [
            (Phase::Open, State::Open, true, true, None),
            (local_closing(false, false), State::Closing, true, false, Some(Side::Local)),
            (local_closing(true, false), State::Closing, true, false, Some(Side::Local)),
            (local_closing(false, true), State::Closing, false, false, Some(Side::Local)),
            (
                Phase::RemoteClosing { code: CloseCode::NORMAL, reason: String::new() },
                State::Closing,
                false,
                false,
                Some(Side::Remote),
            ),
            (Phase::Failing(violation), State::Closing, false, false, None),
            (Phase::AwaitingEof(clean(Side::Local)), State::Closing, false, false, Some(Side::Local)),
            (Phase::AwaitingEof(clean(Side::Remote)), State::Closing, false, false, Some(Side::Remote)),
            // A client that closed for the idle timeout, waiting for the server's EOF: its close.
            (Phase::AwaitingEof(CloseCause::IdleTimeout), State::Closing, false, false, Some(Side::Local)),
            (Phase::Closed, State::Closed, false, false, None),
        ];
        for (phase, state, reads, open, initiator) in table {
            assert_eq!(phase.state(), state, "{phase:?}");
            assert_eq!(phase.reads_frames(), reads, "{phase:?} reads frames");
            assert_eq!(phase.accepts_sends(), open, "{phase:?} accepts sends");
            assert_eq!(phase.is_open(), open, "{phase:?} runs the timers");
            assert_eq!(phase.initiator(), initiator, "{phase:?}");
        }
    }

    /// A client that answered the server's Close waits for the server to close the TCP connection,
    /// remembering who started; a server closes at once.
    #[test]
    fn the_client_waits_for_eof_after_answering_the_server() {
        let mut p = Phase::Open;
        let fx = p.step(Role::Client, peer_close(1001));
        assert_eq!(fx.queue_close, Some(CloseOrder { code: CloseCode::GOING_AWAY, reason: String::new() }));
        assert!(fx.arm_drain && !fx.arm_close && fx.finish.is_none());
        assert_eq!(p.initiator(), Some(Side::Remote));
        let fx = p.step(Role::Client, Input::CloseWritten);
        assert_eq!(fx, Effects { disarm_drain: true, arm_close: true, ..Effects::default() });
        let cause = CloseCause::Clean { code: CloseCode::GOING_AWAY, reason: String::new(), initiator: Side::Remote };
        assert_eq!(p, Phase::AwaitingEof(cause.clone()));
        assert_eq!(p.initiator(), Some(Side::Remote));
        assert_eq!(p.step(Role::Client, Input::DrainTimeout), Effects::default(), "nothing left to drain");
        assert_eq!(p.step(Role::Client, Input::CloseTimeout).finish, Some(cause));

        let mut p = Phase::Open;
        p.step(Role::Server, peer_close(1001));
        let fx = p.step(Role::Server, Input::CloseWritten);
        assert!(fx.disarm_drain && !fx.arm_close);
        assert_eq!(fx.finish.map(|c| c.code()), Some(CloseCode::GOING_AWAY));
        assert_eq!(p, Phase::Closed);
    }

    /// Endings from each closing phase: the peer hanging up after its Close is still clean; a
    /// violation after our Close is out ends at once; the heartbeat and abort end any phase that
    /// still runs them.
    #[test]
    fn endings_from_the_closing_phases() {
        let remote = || Phase::RemoteClosing { code: CloseCode::from_u16(4000), reason: "x".into() };
        let mut p = remote();
        let cause = CloseCause::Clean { code: CloseCode::from_u16(4000), reason: "x".into(), initiator: Side::Remote };
        assert_eq!(p.step(Role::Server, Input::Eof { truncated: false }).finish, Some(cause));
        let mut p = remote();
        assert_eq!(p.step(Role::Server, Input::DrainTimeout).finish, Some(CloseCause::DrainTimeout));
        let mut p = remote();
        assert_eq!(p.step(Role::Server, Input::CloseTimeout), Effects::default());
        assert_eq!(p, remote());

        let e = ProtocolError::InvalidUtf8 { offset: 0 };
        let mut p = local_closing(true, false);
        assert_eq!(p.step(Role::Client, Input::Violation(e)).finish, Some(CloseCause::ProtocolViolation(e)));
        let mut p = local_closing(false, false);
        let fx = p.step(Role::Client, Input::Violation(e));
        assert_eq!(
            fx.queue_close.map(|c| c.code),
            Some(CloseCode::INVALID_PAYLOAD),
            "the failure's Close replaces ours"
        );
        assert!(!fx.arm_drain && fx.finish.is_none(), "the drain deadline is already armed");
        assert_eq!(p, Phase::Failing(e));
        for input in [Input::Eof { truncated: false }, Input::DrainTimeout] {
            let mut p = Phase::Failing(e);
            assert_eq!(p.step(Role::Server, input).finish, Some(CloseCause::ProtocolViolation(e)));
        }

        let dead = || Input::HeartbeatDead { misses: 3, last_rtt: None };
        let timeout = CloseCause::HeartbeatTimeout { misses: 3, last_rtt: None };
        assert_eq!(Phase::Open.step(Role::Server, dead()).finish, Some(timeout.clone()));
        assert_eq!(local_closing(true, false).step(Role::Server, dead()).finish, Some(timeout));
        assert_eq!(Phase::Failing(e).step(Role::Server, dead()), Effects::default());
        for mut p in [Phase::Open, local_closing(false, true), remote(), Phase::Failing(e)] {
            assert_eq!(p.step(Role::Client, Input::Abort).finish, Some(CloseCause::LocalAbort), "{p:?}");
        }
        let mut p = Phase::AwaitingEof(clean(Side::Local));
        assert_eq!(p.step(Role::Client, Input::Abort).finish, Some(clean(Side::Local)));
    }
}
