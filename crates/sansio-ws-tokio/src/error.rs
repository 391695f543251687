//! What can go wrong: while connected ([`Error`]), and in the opening handshake
//! ([`HandshakeError`]).

use std::fmt;
use std::io;

use sansio_ws::connection::{Closed, Fragment};
use sansio_ws::error::SendErrorKind;
use sansio_ws::handshake::{ClientHandshakeError, RequestError};

/// Why a connection's stream or sink failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The connection ended without completing the close handshake. Its final event says why
    /// (the peer vanished, broke the protocol, stopped answering the heartbeat, the close
    /// handshake timed out…) and what was left unsent; the stream ends after this.
    Closed(Box<Closed>),
    /// The transport failed (a reset, a broken pipe), which ended the connection;
    /// [`WebSocketStream::close_info`](crate::WebSocketStream::close_info) has its final event.
    Io(io::Error),
    /// The sink refused a message: the connection is closing or closed, or the message was not
    /// possible (see [`SendErrorKind`]).
    Send(SendErrorKind),
    /// A piece of a message, in [`ReceiveMode::Streaming`](sansio_ws::connection::ReceiveMode::Streaming):
    /// the stream of whole messages hands it over as it is (use
    /// [`recv_event`](crate::WebSocketStream::recv_event) in that mode).
    Fragment(Fragment),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed(closed) => write!(f, "the connection ended: {}", closed.cause),
            Error::Io(e) => write!(f, "the transport failed: {e}"),
            Error::Send(SendErrorKind::Backpressure) => f.write_str("message refused: the send queue is full"),
            Error::Send(SendErrorKind::Usage(e)) => write!(f, "message refused: {e}"),
            Error::Send(_) => f.write_str("message refused"),
            Error::Fragment(_) => f.write_str("a message fragment in streaming mode (take it with recv_event)"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Why an opening handshake failed, on either side.
#[derive(Debug)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The URL or the client's settings cannot make a request.
    Request(RequestError),
    /// Resolving the host or connecting to it failed (every address tried).
    Connect(io::Error),
    /// The transport failed during the handshake.
    Io(io::Error),
    /// The handshake did not finish within the configured handshake timeout (which counts from
    /// the call and covers connecting and TLS too).
    Timeout,
    /// The server's answer was refused, or the server refused us (its status is in the error).
    Client(ClientHandshakeError),
    /// The client's request was refused; it has been answered with this error's status.
    Server(sansio_ws::handshake::HandshakeError),
    /// The application refused the request (the status it chose has been sent).
    Rejected(u16),
    /// The application's answer could not be written (an invalid header, a subprotocol the client
    /// did not offer).
    Accept(sansio_ws::handshake::AcceptError),
    /// A request of an HTTP version that cannot be upgraded: an HTTP/2 or HTTP/3 request handed
    /// to [`upgrade`](crate::upgrade::upgrade) (WebSockets over HTTP/2, RFC 8441, are not
    /// supported); answered with `505`.
    UnsupportedHttpVersion,
    /// `wss://` without the `rustls` feature.
    TlsUnavailable,
    /// The TLS handshake failed (with the `rustls` feature).
    Tls(io::Error),
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Request(e) => write!(f, "cannot make the request: {e}"),
            HandshakeError::Connect(e) => write!(f, "cannot connect: {e}"),
            HandshakeError::Io(e) => write!(f, "the transport failed during the opening handshake: {e}"),
            HandshakeError::Timeout => f.write_str("the opening handshake timed out"),
            HandshakeError::Client(e) => write!(f, "the server's answer was refused: {e}"),
            HandshakeError::Server(e) => write!(f, "the request was refused with {}: {e}", e.status()),
            HandshakeError::Rejected(status) => write!(f, "the application refused the request with {status}"),
            HandshakeError::Accept(e) => write!(f, "the answer could not be written: {e}"),
            HandshakeError::UnsupportedHttpVersion => {
                f.write_str("the request cannot be upgraded: only HTTP/1.1 requests can (505)")
            }
            HandshakeError::TlsUnavailable => f.write_str("wss:// needs the rustls feature of sansio-ws-tokio"),
            HandshakeError::Tls(e) => write!(f, "the TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::Connect(e) | HandshakeError::Io(e) | HandshakeError::Tls(e) => Some(e),
            HandshakeError::Request(e) => Some(e),
            HandshakeError::Client(e) => Some(e),
            HandshakeError::Server(e) => Some(e),
            HandshakeError::Accept(e) => Some(e),
            _ => None,
        }
    }
}
