//! permessage-deflate (RFC 7692): negotiation, and the compressor and decompressor a
//! [`Connection`](crate::connection::Connection) uses once it is enabled.
//!
//! # Negotiation
//!
//! - A client offers [`DeflateConfig::offer`] in its handshake and checks the server's answer with
//!   [`DeflateConfig::accept_response`].
//! - A server picks the first offer it can honour with [`DeflateConfig::negotiate`], which returns
//!   the extension to put in its 101 response. Offers with unknown or repeated parameters or values
//!   out of range are declined, never accepted half-way.
//! - The handshakes do this themselves when their configuration has a `deflate` setting
//!   ([`ServerConfig::deflate`](crate::handshake::ServerConfig::deflate),
//!   [`ClientConfig::deflate`](crate::handshake::ClientConfig::deflate)), and
//!   [`Upgraded::into_connection`](crate::handshake::Upgraded::into_connection) turns compression
//!   on with the agreed [`DeflateParams`]. After a handshake done elsewhere, call
//!   [`Connection::enable_deflate`](crate::connection::Connection::enable_deflate) with them.
//!
//! # Data
//!
//! A message at least [`DeflateConfig::threshold`] bytes long is compressed (RSV1 on its first frame
//! only); smaller ones go out as they are. Received messages are inflated as their bytes arrive, and
//! [`Config::max_message_size`](crate::connection::Config::max_message_size) bounds the *inflated*
//! size while inflating: a few kilobytes cannot expand into gigabytes (the connection fails with
//! 1009). Without context takeover the compressor or decompressor restarts for every message.
//!
//! # Memory per connection (zlib-rs)
//!
//! The compressor and decompressor are created on first use, so a connection that never sends or
//! receives a compressed message pays nothing. Measured (resident memory, averaged over 200
//! connections that each received and sent one compressed message; `tests/deflate_memory.rs`):
//!
//! | windows | resident per connection |
//! | --- | --- |
//! | 2^15 (default) | about 350 KiB (compressor ≈ 256 KiB: window, hash chains, pending buffer; decompressor ≈ 40 KiB; buffers) |
//! | 2^9 | about 205 KiB (the hash table and pending buffer do not shrink with the window) |
//! | no context takeover + [`DeflateConfig::release_between_messages`] | nothing between messages |
//!
//! `server_max_window_bits` and `client_max_window_bits` bound the windows; with
//! `*_no_context_takeover` a connection can drop the state between messages entirely, trading an
//! allocation per message for idle memory.
//!
//! zlib cannot compress with a 2^8 window: a connection whose agreed window for its own messages is
//! 8 bits sends them uncompressed, which RFC 7692 always allows. Decompression uses at least 2^9,
//! which reads any 2^8 stream.

mod codec;
mod negotiate;

pub(crate) use codec::{Deflater, InflateError, Inflater};
pub use negotiate::{DeflateConfig, DeflateError, DeflateParams, PERMESSAGE_DEFLATE};
