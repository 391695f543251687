//! The opening handshake (RFC 6455 §4): the HTTP/1.1 Upgrade exchange, for both roles.
//!
//! Like the rest of the crate this module does no I/O. Each side has one input method,
//! `handle_input(&[u8])`, fed with whatever the transport read, in pieces of any size. It answers
//! `Ok(None)` while the head is incomplete ("need more data" is not an error), the validated
//! head once it is complete, or an error saying who broke which rule. Output is appended to a
//! caller-owned `Vec<u8>`.
//!
//! - Server: [`ServerHandshake`] yields a [`Request`]; answer with [`Request::accept`] (writes
//!   `101 Switching Protocols`), [`Reject::write`], or on an error
//!   [`HandshakeError::write_response`] (400, 403, 405, 426 or 431, see
//!   [`HandshakeError::status`]).
//! - Client: [`ClientHandshake`] writes the request and yields a [`Response`] or a
//!   [`ClientHandshakeError`] (on which the client closes the connection).
//!
//! Both read the head incrementally and within [`HeadLimits`] (16 KiB and 64 fields by default),
//! scanning each byte a bounded number of times however the input is split. Bytes that arrive
//! after the head (frames a peer sends without waiting) are never dropped: `take_trailing` hands
//! them on as [`Bytes`](bytes::Bytes) for the connection.
//!
//! Subprotocols are offered and chosen as plain tokens. Extensions are parsed into
//! [`Extension`] values (§9.1) and written back with [`write_extensions`]; this is where
//! permessage-deflate negotiation plugs in. Browsers' cross-site requests are filtered by an
//! [`OriginPolicy`] (same host by default).
//!
//! # Server
//!
//! ```
//! use sansio_ws::handshake::{Accept, ServerConfig, ServerHandshake};
//!
//! let mut handshake = ServerHandshake::new(ServerConfig::default());
//! let input = b"GET /chat?room=1 HTTP/1.1\r\n\
//!     Host: server.example.com\r\n\
//!     Upgrade: websocket\r\n\
//!     Connection: Upgrade\r\n\
//!     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\
//!     Sec-WebSocket-Protocol: chat, superchat\r\n\
//!     \r\n";
//!
//! // Pieces of any size; here, two.
//! assert!(handshake.handle_input(&input[..40]).unwrap().is_none());
//! let request = match handshake.handle_input(&input[40..]) {
//!     Ok(Some(request)) => request,
//!     Ok(None) => unreachable!("the head is complete"),
//!     Err(e) => {
//!         // Send the refusal and close.
//!         let mut out = Vec::new();
//!         e.write_response(&mut out);
//!         return;
//!     }
//! };
//! assert_eq!(request.path(), "/chat");
//! assert_eq!(request.query(), Some("room=1"));
//!
//! let mut out = Vec::new();
//! request.accept(&Accept::new().with_subprotocol("chat"), &mut out).unwrap();
//! assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
//! assert!(text.contains("Sec-WebSocket-Protocol: chat\r\n"));
//!
//! // Frames the client sent right after its request belong to the connection.
//! let early_frames = handshake.take_trailing();
//! assert!(early_frames.is_empty());
//! ```
//!
//! # Client
//!
//! ```
//! use sansio_ws::handshake::{ClientConfig, ClientHandshake, accept_key};
//! use sansio_ws::rand::SeededRandom;
//!
//! let config = ClientConfig::default().with_subprotocol("chat");
//! let mut handshake = ClientHandshake::new("ws://example.com/chat", config, &mut SeededRandom::new(1)).unwrap();
//! let mut request = Vec::new();
//! handshake.write_request(&mut request);
//! assert!(request.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
//!
//! // What a server would answer, followed by a first frame (a text "hi").
//! let mut answer = format!(
//!     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!      Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
//!     accept_key(handshake.key().as_bytes()),
//! )
//! .into_bytes();
//! answer.extend_from_slice(b"\x81\x02hi");
//! let response = handshake.handle_input(&answer).unwrap().expect("complete");
//! assert_eq!(response.subprotocol(), Some("chat"));
//! assert_eq!(&handshake.take_trailing()[..], b"\x81\x02hi");
//! ```

mod client;
mod extensions;
mod head;
mod headers;
mod origin;
mod server;
mod url;

#[cfg(test)]
mod tests;

use alloc::string::String;

use base64::Engine as _;
use sha1::{Digest as _, Sha1};

pub use client::{ClientConfig, ClientHandshake, ClientHandshakeError, RejectedResponse, RequestError, Response};
pub use extensions::{
    Extension, ExtensionFormatError, ExtensionParam, ExtensionParseError, ExtensionParseErrorKind, parse_extensions,
    write_extensions,
};
pub use head::HeadLimits;
pub use headers::{Header, Headers};
pub use origin::OriginPolicy;
pub use server::{Accept, AcceptError, HandshakeError, Reject, Request, ServerConfig, ServerHandshake};
pub use url::{Target, UrlError};

/// The GUID appended to the client's key to compute `Sec-WebSocket-Accept` (§1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks, as sent in `Sec-WebSocket-Version` (§4.1, §11.3.5).
pub const WEBSOCKET_VERSION: &str = "13";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64 of the SHA-1 of the key (as
/// sent, not decoded) followed by [`WEBSOCKET_GUID`] (§1.3, §4.2.2).
///
/// ```
/// assert_eq!(sansio_ws::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}
