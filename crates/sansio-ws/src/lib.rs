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
//! The layers, each usable on its own:
//! - [`frame`]: frame headers, masking, close payloads and codes (RFC 6455 §5, §7.4).
//! - [`utf8`]: a streaming UTF-8 validator that fails at the first bad byte.
//! - [`handshake`]: the HTTP/1.1 Upgrade handshake for both roles (RFC 6455 §4).
//! - [`connection`]: the state machine of an established WebSocket.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod rand;
pub mod sim;
pub mod time;
pub mod utf8;

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
