//! The client's side: connecting to a `ws://` (or, with the `rustls` feature, `wss://`) URL, or
//! running the opening handshake over a stream connected by other means.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sansio_ws::connection::Config;
use sansio_ws::handshake::{ClientConfig, ClientHandshake, Response};
use sansio_ws::time::Epoch;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

use crate::accept::deadline;
use crate::error::HandshakeError;
use crate::stream::WebSocketStream;

/// A client's transport: plain TCP for `ws://`, TLS over TCP for `wss://`.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://` (feature `rustls`).
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

/// Connects to `url` (`ws://host:port/path`, or `wss://` with the `rustls` feature) with the
/// default settings: permessage-deflate offered, a 10 s handshake timeout that covers resolving,
/// connecting and TLS. Gives the stream and the server's `101` response.
pub async fn connect(url: &str) -> Result<(WebSocketStream<MaybeTlsStream>, Response), HandshakeError> {
    connect_with(url, ClientConfig::default(), Config::default()).await
}

/// Connects to `url` with these handshake and connection settings (`wss://` verified against
/// Mozilla's root certificates).
pub async fn connect_with(
    url: &str,
    handshake: ClientConfig,
    config: Config,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), HandshakeError> {
    #[cfg(feature = "rustls")]
    let tls = crate::tls::default_client_config;
    #[cfg(not(feature = "rustls"))]
    let tls = || ();
    connect_inner(url, handshake, config, tls).await
}

/// Connects to a `ws://` or `wss://` URL, verifying a `wss://` server with `tls` (e.g. roots of
/// a private CA). Feature `rustls`.
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), HandshakeError> {
    connect_inner(url, handshake, config, move || tls).await
}

#[cfg(feature = "rustls")]
type TlsConfig = std::sync::Arc<rustls::ClientConfig>;
#[cfg(not(feature = "rustls"))]
type TlsConfig = ();

async fn connect_inner(
    url: &str,
    handshake: ClientConfig,
    config: Config,
    tls: impl FnOnce() -> TlsConfig,
) -> Result<(WebSocketStream<MaybeTlsStream>, Response), HandshakeError> {
    let epoch = Epoch::new(crate::engine::clock());
    let now = || epoch.instant(crate::engine::clock());
    let hs = ClientHandshake::new(url, handshake, now()).map_err(HandshakeError::Request)?;
    let give_up = deadline(epoch, hs.poll_timeout());
    let target = hs.target().clone();
    let tcp = tokio::time::timeout_at(give_up, TcpStream::connect((target.host(), target.port())))
        .await
        .map_err(|_| HandshakeError::Timeout)?
        .map_err(HandshakeError::Connect)?;
    // Small messages leave at once; the connection batches its own writes.
    tcp.set_nodelay(true).map_err(HandshakeError::Connect)?;
    let stream = if target.is_secure() {
        #[cfg(feature = "rustls")]
        {
            let connecting = crate::tls::connect(tls(), target.host(), tcp)?;
            let tls = tokio::time::timeout_at(give_up, connecting)
                .await
                .map_err(|_| HandshakeError::Timeout)?
                .map_err(HandshakeError::Tls)?;
            MaybeTlsStream::Rustls(Box::new(tls))
        }
        #[cfg(not(feature = "rustls"))]
        {
            tls();
            return Err(HandshakeError::TlsUnavailable);
        }
    } else {
        drop(tls);
        MaybeTlsStream::Plain(tcp)
    };
    handshake_over(hs, stream, config, epoch).await
}

/// Runs the client's opening handshake for `url` over `stream`, already connected to its host
/// (and through TLS for `wss://`, if the stream does that); the handshake timeout counts from
/// this call. Gives the stream and the server's `101` response.
///
/// Cancelling any of the `connect` functions drops the connection mid-handshake (nothing to
/// resume); the handshake timeout already bounds them.
pub async fn client_with<S>(
    url: &str,
    stream: S,
    handshake: ClientConfig,
    config: Config,
) -> Result<(WebSocketStream<S>, Response), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let epoch = Epoch::new(crate::engine::clock());
    let hs =
        ClientHandshake::new(url, handshake, epoch.instant(crate::engine::clock())).map_err(HandshakeError::Request)?;
    handshake_over(hs, stream, config, epoch).await
}

async fn handshake_over<S>(
    mut hs: ClientHandshake,
    mut stream: S,
    config: Config,
    epoch: Epoch,
) -> Result<(WebSocketStream<S>, Response), HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let now = || epoch.instant(crate::engine::clock());
    let mut request = Vec::new();
    hs.write_request(&mut request);
    let sent = async {
        stream.write_all(&request).await?;
        stream.flush().await
    };
    tokio::time::timeout_at(deadline(epoch, hs.poll_timeout()), sent)
        .await
        .map_err(|_| HandshakeError::Timeout)?
        .map_err(HandshakeError::Io)?;
    let mut buf = vec![0; 4096];
    let upgraded = loop {
        let input = match tokio::time::timeout_at(deadline(epoch, hs.poll_timeout()), stream.read(&mut buf)).await {
            Ok(Ok(0)) => return Err(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(Ok(n)) => hs.handle_input(&buf[..n]),
            Ok(Err(e)) => return Err(HandshakeError::Io(e)),
            Err(_) => hs.handle_timeout(now()).map(|()| None),
        };
        match input {
            Ok(Some(upgraded)) => break upgraded,
            Ok(None) => {}
            Err(sansio_ws::handshake::ClientHandshakeError::Timeout { .. }) => return Err(HandshakeError::Timeout),
            Err(e) => return Err(HandshakeError::Client(e)),
        }
    };
    let response = upgraded
        .server_response()
        .cloned()
        .ok_or_else(|| HandshakeError::Io(io::Error::other("the client handshake gave no response")))?;
    Ok((WebSocketStream::from_upgraded_at(stream, upgraded, config, epoch), response))
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTlsStream::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}
