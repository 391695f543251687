//! WebSockets inside an HTTP server built on hyper 1.x (axum, and anything else that hands out
//! hyper's requests): [`upgrade`] checks a request, gives the `101` response for the server to
//! return, and a [`PendingUpgrade`] that becomes the [`WebSocketStream`] once hyper has sent it.
//!
//! The request is checked by the same code as [`accept`](crate::accept)'s: its head is given to
//! the core's [`ServerHandshake`] as the bytes it would have read, so the origin policy, the size
//! limits, the version and key checks and the permessage-deflate negotiation are the ones every
//! other server of this project applies, and a refusal carries the same status and explanation.
//!
//! ```no_run
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use sansio_ws_tokio::{Config, ServerConfig};
//!
//! async fn handle(mut request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
//!     match sansio_ws_tokio::upgrade::upgrade(&mut request, ServerConfig::default(), Config::default()) {
//!         Ok((response, pending)) => {
//!             tokio::spawn(async move {
//!                 let Ok(mut ws) = pending.await else { return };
//!                 while let Some(Ok(message)) = ws.recv().await {
//!                     if ws.send(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!             response
//!         }
//!         // The status (400, 403, 426…) and a body that says what was wrong.
//!         Err(refused) => refused.into_response(),
//!     }
//! }
//! ```
//!
//! Only HTTP/1.1 upgrades are handled; WebSockets over HTTP/2 (RFC 8441) are not, and such a
//! request is refused with a `505`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::Pin;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Version};
use hyper_util::rt::TokioIo;
use sansio_ws::connection::{Config, Connection};
use sansio_ws::handshake::{Accept, Reject, Request, ServerConfig, ServerHandshake};
use sansio_ws::time::Epoch;

use crate::error::HandshakeError;
use crate::stream::WebSocketStream;

/// The stream of a connection upgraded through hyper.
pub type UpgradedStream = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Checks `request` as a WebSocket opening request with `handshake`'s policy and accepts it: the
/// `101` response to return from the handler, and the connection to await once it is sent.
pub fn upgrade<T, B: From<Bytes>>(
    request: &mut http::Request<T>,
    handshake: ServerConfig,
    config: Config,
) -> Result<(http::Response<B>, PendingUpgrade), UpgradeError> {
    upgrade_with_callback(request, handshake, config, |_| Ok(Accept::new()))
}

/// As [`upgrade`], letting `callback` look at the valid request (its path, header fields,
/// offered subprotocols) and answer it: an [`Accept`] (a subprotocol, header fields) or a
/// [`Reject`] (its status, fields and body become the [`UpgradeError`]'s response).
pub fn upgrade_with_callback<T, B, F>(
    request: &mut http::Request<T>,
    handshake: ServerConfig,
    config: Config,
    callback: F,
) -> Result<(http::Response<B>, PendingUpgrade), UpgradeError>
where
    B: From<Bytes>,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let epoch = Epoch::new(crate::engine::clock());
    let now = epoch.instant(crate::engine::clock());
    let head = request_head(request)?;
    let mut hs = ServerHandshake::new(handshake, now);
    let valid = match hs.handle_input(&head) {
        Ok(Some(valid)) => valid,
        Err(e) => {
            let mut answer = Vec::new();
            e.write_response(&mut answer);
            return Err(UpgradeError { answer, error: HandshakeError::Server(e) });
        }
        // A head ends with its blank line, which `request_head` always writes.
        Ok(None) => return Err(UpgradeError::internal(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into()))),
    };
    let accept = match callback(&valid) {
        Ok(accept) => accept,
        Err(reject) => {
            let mut answer = Vec::new();
            return Err(match reject.write(&mut answer) {
                Ok(()) => UpgradeError { answer, error: HandshakeError::Rejected(reject.status) },
                Err(e) => UpgradeError::internal(HandshakeError::Accept(e)),
            });
        }
    };
    let mut upgraded = hs.accept(&valid, accept).map_err(|e| UpgradeError::internal(HandshakeError::Accept(e)))?;
    // hyper writes the response: the connection starts with its first frame.
    let response = to_response(&upgraded.take_response_bytes());
    let on_upgrade = hyper::upgrade::on(request);
    let conn = upgraded.into_connection(config, now);
    Ok((response, PendingUpgrade { on_upgrade, conn, epoch }))
}

/// The request head as it came over the wire (hyper parsed it; the core checks it).
fn request_head<T>(request: &http::Request<T>) -> Result<Vec<u8>, UpgradeError> {
    let version = match request.version() {
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        other => {
            let mut answer = Vec::new();
            let why = format!("{other:?} requests cannot be upgraded here (only HTTP/1.1)\n");
            // A status in range and no field: writing it cannot fail.
            let _cannot_fail = Reject::new(505).with_body(why.into_bytes()).write(&mut answer);
            return Err(UpgradeError { answer, error: HandshakeError::UnsupportedHttpVersion });
        }
    };
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let mut head = Vec::with_capacity(256 + 64 * request.headers().len());
    for piece in [request.method().as_str(), " ", target, " ", version, "\r\n"] {
        head.extend_from_slice(piece.as_bytes());
    }
    for (name, value) in request.headers() {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    Ok(head)
}

/// An HTTP response written by the core (a `101`, a refusal) as hyper's type.
fn to_response<B: From<Bytes>>(bytes: &[u8]) -> http::Response<B> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Response::new(&mut fields);
    let Ok(httparse::Status::Complete(head_len)) = parsed.parse(bytes) else {
        return status_only(500);
    };
    let mut response = http::Response::new(B::from(Bytes::copy_from_slice(&bytes[head_len..])));
    *response.status_mut() = match parsed.code.and_then(|code| http::StatusCode::from_u16(code).ok()) {
        Some(status) => status,
        None => return status_only(500),
    };
    for field in parsed.headers.iter() {
        // hyper writes the body's length itself.
        if field.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        match (HeaderName::from_bytes(field.name.as_bytes()), HeaderValue::from_bytes(field.value)) {
            (Ok(name), Ok(value)) => {
                response.headers_mut().append(name, value);
            }
            _ => return status_only(500),
        }
    }
    response
}

/// A response with `status` and nothing else.
fn status_only<B: From<Bytes>>(status: u16) -> http::Response<B> {
    let mut response = http::Response::new(B::from(Bytes::new()));
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// A WebSocket accepted by [`upgrade`], waiting for hyper to send the `101` and hand over the
/// connection: `.await` it (in a task of its own, after returning the response).
pub struct PendingUpgrade {
    on_upgrade: hyper::upgrade::OnUpgrade,
    conn: Connection,
    epoch: Epoch,
}

impl fmt::Debug for PendingUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingUpgrade").field("connection", &self.conn).finish_non_exhaustive()
    }
}

impl IntoFuture for PendingUpgrade {
    type Output = Result<UpgradedStream, HandshakeError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        let PendingUpgrade { on_upgrade, conn, epoch } = self;
        Box::pin(async move {
            // hyper fails it when the response was not a 101 or the connection ended first.
            let io = on_upgrade
                .await
                .map_err(|e| HandshakeError::Io(io::Error::other(format!("the HTTP upgrade did not complete: {e}"))))?;
            Ok(WebSocketStream::from_connection(TokioIo::new(io), conn, epoch))
        })
    }
}

/// A request [`upgrade`] refused: return [`into_response`](Self::into_response) from the
/// handler, which tells the client why with the right status.
#[derive(Debug)]
pub struct UpgradeError {
    /// The answer, as the core wrote it.
    answer: Vec<u8>,
    error: HandshakeError,
}

impl UpgradeError {
    /// An answer of the application's or of this module's making that could not be written.
    fn internal(error: HandshakeError) -> Self {
        let mut answer = Vec::new();
        // A status in range and no field: writing it cannot fail.
        let _cannot_fail = Reject::new(500).write(&mut answer);
        UpgradeError { answer, error }
    }

    /// The status of the answer: 400 for a malformed request or one without the upgrade, 403 for
    /// a refused origin, 426 for a WebSocket version other than 13, 505 for HTTP/2, the
    /// application's own for a [`Reject`]…
    pub fn status(&self) -> u16 {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut fields);
        match parsed.parse(&self.answer) {
            Ok(_) => parsed.code.unwrap_or(500),
            Err(_) => 500,
        }
    }

    /// What was wrong.
    pub fn error(&self) -> &HandshakeError {
        &self.error
    }

    /// The answer to send: the status, its header fields and a body that explains it.
    pub fn into_response<B: From<Bytes>>(self) -> http::Response<B> {
        to_response(&self.answer)
    }
}

/// What was wrong, as [`error`](UpgradeError::error) says it (with the status).
impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for UpgradeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.error)
    }
}
