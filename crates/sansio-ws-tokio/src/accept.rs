//! The server's opening handshake on a raw stream.

use std::io;

use sansio_ws::Instant;
use sansio_ws::connection::Config;
use sansio_ws::handshake::{Accept, Reject, Request, ServerConfig, ServerHandshake};
use sansio_ws::time::Epoch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::engine::LINGER;
use crate::error::HandshakeError;
use crate::stream::WebSocketStream;

/// Accepts a WebSocket on `stream` with the default settings: the request must come within 10 s,
/// from a page of the same host (`Origin`), permessage-deflate accepted when offered. A refused
/// request is answered with its status (400, 403, 408, 426…) before the error returns.
pub async fn accept<S>(stream: S) -> Result<WebSocketStream<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, ServerConfig::default(), Config::default()).await
}

/// Accepts a WebSocket on `stream` with these handshake and connection settings.
pub async fn accept_with<S>(
    stream: S,
    handshake: ServerConfig,
    config: Config,
) -> Result<WebSocketStream<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with_callback(stream, handshake, config, |_| Ok(Accept::new())).await
}

/// Accepts a WebSocket on `stream`, letting `callback` look at the valid request (its path,
/// header fields, offered subprotocols) and answer it: an [`Accept`] (with a subprotocol, header
/// fields) or a [`Reject`] (its status, fields and body are sent, then the stream is closed).
///
/// Cancelling any of the `accept` functions drops the stream mid-handshake (nothing to resume);
/// the handshake's own timeout ([`ServerConfig::timeout`]) already bounds how long they wait.
pub async fn accept_with_callback<S, F>(
    mut stream: S,
    handshake: ServerConfig,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Accept, Reject>,
{
    let epoch = Epoch::new(crate::engine::clock());
    let now = || epoch.instant(crate::engine::clock());
    let mut hs = ServerHandshake::new(handshake, now());
    let mut buf = vec![0; 4096];
    let request = loop {
        let give_up = deadline(epoch, hs.poll_timeout());
        let input = match tokio::time::timeout_at(give_up, stream.read(&mut buf)).await {
            Ok(Ok(0)) => return Err(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(n)) => hs.handle_input(&buf[..n]),
            Ok(Err(e)) => return Err(HandshakeError::Io(e)),
            Err(_) => hs.handle_timeout(now()).map(|()| None),
        };
        match input {
            Ok(Some(request)) => break request,
            Ok(None) => {}
            Err(e) => {
                let mut answer = Vec::new();
                e.write_response(&mut answer);
                answer_and_close(&mut stream, &answer).await;
                return Err(HandshakeError::Server(e));
            }
        }
    };
    let accept = match callback(&request) {
        Ok(accept) => accept,
        Err(reject) => {
            let mut answer = Vec::new();
            if let Err(e) = reject.write(&mut answer) {
                answer_and_close(&mut stream, &internal_error()).await;
                return Err(HandshakeError::Accept(e));
            }
            answer_and_close(&mut stream, &answer).await;
            return Err(HandshakeError::Rejected(reject.status));
        }
    };
    match hs.accept(&request, accept) {
        // The `101` goes out with the connection's first frames, in one write.
        Ok(upgraded) => Ok(WebSocketStream::from_upgraded_at(stream, upgraded, config, epoch)),
        Err(e) => {
            answer_and_close(&mut stream, &internal_error()).await;
            Err(HandshakeError::Accept(e))
        }
    }
}

/// The answer to an application's impossible `Accept` or `Reject`.
fn internal_error() -> Vec<u8> {
    let mut answer = Vec::new();
    // A status in range and no field: writing it cannot fail.
    if Reject::new(500).write(&mut answer).is_err() {
        answer.clear();
    }
    answer
}

/// A core deadline as a tokio instant (none: an hour away; a handshake always has one).
pub(crate) fn deadline(epoch: Epoch, at: Option<Instant>) -> tokio::time::Instant {
    let at = at.map_or_else(|| crate::engine::clock() + std::time::Duration::from_secs(3600), |t| epoch.to_std(t));
    tokio::time::Instant::from_std(at)
}

/// Writes a refusal, shuts our side and reads until the peer's end (at most [`LINGER`]), so
/// that unread input does not turn the answer into a reset before the client reads it.
async fn answer_and_close<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, answer: &[u8]) {
    let written = tokio::time::timeout(LINGER, async {
        stream.write_all(answer).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    if !matches!(written, Ok(Ok(()))) {
        return;
    }
    let mut scratch = [0; 1024];
    // Whether the peer closes in time or not, the stream is done with.
    let _drained =
        tokio::time::timeout(LINGER, async { while matches!(stream.read(&mut scratch).await, Ok(n) if n > 0) {} })
            .await;
}
