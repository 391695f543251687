//! [`Upgraded`]: what a finished opening handshake hands to the connection.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

use super::client::Response;
use super::extensions::Extension;
use crate::connection::{Config, Connection};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, DeflateParams};
use crate::rand::Randomness;
use crate::{Instant, Role};

/// The permessage-deflate parameters agreed, and the settings to run them with (nothing without
/// the `deflate` feature).
#[cfg(feature = "deflate")]
pub(super) type AgreedDeflate = Option<(DeflateParams, DeflateConfig)>;
#[cfg(not(feature = "deflate"))]
pub(super) type AgreedDeflate = Option<core::convert::Infallible>;

/// A finished opening handshake, either role: everything the connection needs, carried from one
/// phase to the next so that no step can be forgotten.
///
/// The server gets it from [`ServerHandshake::accept`](super::ServerHandshake::accept), the
/// client from [`ClientHandshake::handle_input`](super::ClientHandshake::handle_input). It holds
/// the server's `101` response (still to be written), the chosen subprotocol, the extensions in
/// use and the permessage-deflate parameters, and the bytes that followed the handshake (frames
/// a peer sent without waiting). [`into_connection`](Self::into_connection) builds the
/// [`Connection`] with all of it applied.
///
/// ```text
///  bytes ──► ServerHandshake ──► Request ──accept──► Upgraded ──into_connection(config, now)──► Connection
///  bytes ──► ClientHandshake ──────────────────────► Upgraded ──into_connection(config, now)──► Connection
/// ```
#[must_use = "an Upgraded holds the handshake's response and early frames: turn it into a Connection"]
pub struct Upgraded {
    pub(super) role: Role,
    /// Server: the `101` response. Client: empty.
    pub(super) response: Vec<u8>,
    pub(super) subprotocol: Option<String>,
    pub(super) extensions: Vec<Extension>,
    pub(super) deflate: AgreedDeflate,
    pub(super) trailing: Bytes,
    /// Client: the generator the handshake drew its key from, kept for the masking keys.
    pub(super) rng: Option<Box<dyn Randomness>>,
    /// Client: the server's validated response.
    pub(super) server_response: Option<Response>,
}

impl Upgraded {
    /// The connection, established at `now`, with settings `config`: the server's `101`
    /// response queued as its first output (so it goes out with everything else through
    /// [`poll_transmit`](Connection::poll_transmit)), permessage-deflate on if it was agreed, and
    /// the bytes that followed the handshake already fed in (their events are ready to poll).
    pub fn into_connection(self, config: Config, now: Instant) -> Connection {
        let Upgraded { role, response, trailing, rng, .. } = self;
        let mut conn = Connection::new(role, config, rng, now);
        if !response.is_empty() {
            conn.queue_preamble(response);
        }
        if let Some(agreed) = self.deflate {
            enable_deflate(&mut conn, agreed);
        }
        if !trailing.is_empty() {
            conn.handle_input(now, &trailing);
        }
        conn
    }

    /// Which end this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The subprotocol in use, if one was chosen.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extensions in use, as the server's response lists them (permessage-deflate included
    /// when it was agreed).
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }

    /// The permessage-deflate parameters agreed, if it is in use.
    #[cfg(feature = "deflate")]
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate.map(|(params, _)| params)
    }

    /// The bytes that followed the handshake's head: frames the peer sent without waiting.
    /// [`into_connection`](Self::into_connection) feeds them to the connection.
    pub fn trailing(&self) -> &[u8] {
        &self.trailing
    }

    /// Server side: the `101 Switching Protocols` response, which
    /// [`into_connection`](Self::into_connection) queues for sending. Empty on the client side.
    pub fn response_bytes(&self) -> &[u8] {
        &self.response
    }

    /// Server side: takes the `101 Switching Protocols` response out, for a server whose HTTP
    /// library writes the response itself (an upgrade through hyper, say): the caller sends these
    /// bytes' status and fields its own way, and [`into_connection`](Self::into_connection) then
    /// queues nothing before the first frame. Empty on the client side, and on a second call.
    pub fn take_response_bytes(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.response)
    }

    /// Client side: the server's validated response (its status and header fields, such as
    /// `Set-Cookie`). `None` on the server side.
    pub fn server_response(&self) -> Option<&Response> {
        self.server_response.as_ref()
    }
}

#[cfg(feature = "deflate")]
fn enable_deflate(conn: &mut Connection, (params, deflate): (DeflateParams, DeflateConfig)) {
    conn.enable_deflate(params, &deflate);
}

#[cfg(not(feature = "deflate"))]
fn enable_deflate(_: &mut Connection, never: core::convert::Infallible) {
    match never {}
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Upgraded");
        d.field("role", &self.role)
            .field("response", &self.response.len())
            .field("subprotocol", &self.subprotocol)
            .field("extensions", &self.extensions);
        #[cfg(feature = "deflate")]
        d.field("deflate", &self.deflate());
        d.field("trailing", &self.trailing.len()).finish_non_exhaustive()
    }
}
