//! # sansio-ws
//!
//! A Sans-IO WebSocket (RFC 6455) protocol engine. It takes bytes and the current time in, and gives
//! bytes to write, events and the next deadline out. It never touches a socket, a clock, a thread or
//! a runtime, so the same core runs under mio, io_uring, tokio, a blocking loop or an embedded
//! executor.
//!
//! ```text
//!            bytes read ──► handle_input(now, &[u8]) ─┐
//!                 EOF ──► handle_eof(now)             │      ┌──► poll_transmit()  ──► bytes to write
//!      timer expired ──► handle_timeout(now)          ├──► core ──► poll_event()     ──► events
//!   app commands ──► send_text / send_binary / ping / │      └──► poll_timeout()   ──► next deadline
//!                    close / abort  ──────────────────┘
//! ```
//!
//! A connection starts with the opening [`handshake`], whose [`Upgraded`](handshake::Upgraded)
//! result becomes the [`Connection`](connection::Connection): see the `handshake` module for the
//! whole life, and the `connection` module for the run loop and which methods take `now`.
//!
//! The layers, each usable on its own:
//! - [`frame`]: frame headers, masking, close payloads and codes (RFC 6455 §5, §7.4).
//! - [`utf8`]: a streaming UTF-8 validator that fails at the first bad byte.
//! - [`handshake`]: the HTTP/1.1 Upgrade handshake for both roles (RFC 6455 §4).
//! - [`connection`]: the state machine of an established WebSocket.
//! - `deflate`: permessage-deflate (RFC 7692), feature `deflate`.
//! - `sim`: an in-memory client/server pair on a virtual clock, for tests (feature `sim`).
//! - [`time`]: the core's [`Instant`], and (with `std`) `time::Epoch` to convert from a
//!   `std::time::Instant` clock.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

/// `with_*` setters for a settings struct whose fields are public but which is
/// `#[non_exhaustive]`, so that code outside the crate (which cannot use a struct literal) builds
/// one as `Settings::default().with_x(…).with_y(…)`.
macro_rules! with_setters {
    ($ty:ty { $($(#[$attr:meta])* $setter:ident => $field:ident: $fty:ty),* $(,)? }) => {
        impl $ty {
            $(
                #[doc = concat!("Sets [`", stringify!($field), "`](Self::", stringify!($field), ").")]
                $(#[$attr])*
                #[must_use]
                pub fn $setter(mut self, value: $fty) -> Self {
                    self.$field = value;
                    self
                }
            )*
        }
    };
}

pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod rand;
#[cfg(feature = "sim")]
pub mod sim;
pub mod time;
pub mod utf8;

/// The `bytes` crate, whose [`Bytes`](bytes::Bytes) carries payloads in and out of the core.
pub use bytes;
pub use time::Instant;

/// Which end of the connection this endpoint is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that accepted the TCP connection and answered the opening handshake. It
    /// receives masked frames and sends unmasked ones.
    Server,
    /// The endpoint that opened the connection. It masks every frame it sends.
    Client,
}

impl Role {
    /// The other role.
    pub const fn peer(self) -> Role {
        match self {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        }
    }
}
