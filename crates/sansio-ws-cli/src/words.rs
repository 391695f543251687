//! Close codes and connection endings in plain words, for people reading the output.

use sansio_ws::connection::{CloseCause, Side};
use sansio_ws::frame::CloseCode;

/// What a close code means (RFC 6455 §7.4.1 and the IANA registry).
pub(crate) fn meaning(code: CloseCode) -> &'static str {
    match code.as_u16() {
        1000 => "closed normally",
        1001 => "going away (a server shutting down, a page navigated away)",
        1002 => "a protocol error",
        1003 => "a kind of data it does not take",
        1005 => "no status code given",
        1006 => "the connection was lost, with no close handshake",
        1007 => "text that is not valid UTF-8, or data that does not fit the message type",
        1008 => "a policy was broken",
        1009 => "a message too big",
        1010 => "an extension the client needs was not agreed",
        1011 => "the server hit an unexpected condition",
        1012 => "the service is restarting",
        1013 => "try again later (overloaded)",
        1014 => "a gateway or proxy got a bad answer upstream",
        1015 => "the TLS handshake failed",
        3000..=3999 => "a code registered for a library or framework",
        4000..=4999 => "an application's own code",
        _ => "a code with no registered meaning",
    }
}

/// `1009 (a message too big)`.
pub(crate) fn code(code: CloseCode) -> String {
    format!("{} ({})", code.as_u16(), meaning(code))
}

/// Why a connection ended, as a sentence about `peer` ("the server", "the client").
pub(crate) fn cause(cause: &CloseCause, peer: &str) -> String {
    match cause {
        CloseCause::Clean { code: c, reason, initiator } => {
            let who = match initiator {
                Side::Local => "we",
                Side::Remote => peer,
            };
            let reason = if reason.is_empty() { String::new() } else { format!(" \"{reason}\"") };
            format!("closed cleanly: {who} closed first with {}{reason}", code(*c))
        }
        CloseCause::PeerVanished { during_close: false } => {
            format!("{peer} vanished: the TCP connection ended (EOF or reset) without a close handshake (1006)")
        }
        CloseCause::PeerVanished { during_close: true } => {
            format!("{peer} vanished while we were closing: the TCP connection ended before its Close (1006)")
        }
        CloseCause::ProtocolViolation(e) => {
            format!("{peer} broke the protocol ({e}): failed with {}", code(e.close_code()))
        }
        CloseCause::HeartbeatTimeout { misses, last_rtt } => {
            let rtt = last_rtt.map_or(String::new(), |r| format!(" (last round trip {:.1} ms)", r.as_secs_f64() * 1e3));
            format!("{peer} stopped answering pings: {misses} in a row unanswered{rtt}")
        }
        CloseCause::CloseTimeout => format!("{peer} never answered our Close within the close timeout"),
        CloseCause::DrainTimeout => format!("{peer} stopped reading: what we queued could not be written in time"),
        CloseCause::IdleTimeout => "nothing was sent or received for the idle timeout: closed with 1001".into(),
        CloseCause::LocalAbort => "we aborted the connection".into(),
        other => format!("{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_their_registered_meaning() {
        assert_eq!(code(CloseCode::MESSAGE_TOO_BIG), "1009 (a message too big)");
        assert_eq!(code(CloseCode::from_u16(4001)), "4001 (an application's own code)");
        assert_eq!(code(CloseCode::from_u16(3003)), "3003 (a code registered for a library or framework)");
        assert_eq!(meaning(CloseCode::from_u16(2999)), "a code with no registered meaning");
    }

    #[test]
    fn endings_name_who_did_what() {
        let clean = CloseCause::Clean { code: CloseCode::GOING_AWAY, reason: "bye".into(), initiator: Side::Remote };
        assert_eq!(
            cause(&clean, "the server"),
            "closed cleanly: the server closed first with 1001 (going away (a server shutting down, a page navigated away)) \"bye\""
        );
        let ours = CloseCause::Clean { code: CloseCode::NORMAL, reason: String::new(), initiator: Side::Local };
        assert_eq!(cause(&ours, "the server"), "closed cleanly: we closed first with 1000 (closed normally)");
        assert!(
            cause(&CloseCause::PeerVanished { during_close: false }, "the client").starts_with("the client vanished")
        );
        assert_eq!(
            cause(&CloseCause::CloseTimeout, "the server"),
            "the server never answered our Close within the close timeout"
        );
    }
}
