//! The tokio end: the `sansio-ws-tokio` crate, one task per connection, with an adapter from its
//! events to [`Handler`] (the handler's commands go to the stream's connection, and the stream
//! writes them out on its next poll).

use std::io;
use std::sync::Arc;

use sansio_ws::connection::{Closed, Config, Event};
use sansio_ws::handshake::{ClientConfig, ServerConfig};
use sansio_ws_tokio::{MaybeTlsStream, WebSocketStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use super::app::{Handler, handshake_error};

/// Serves WebSocket connections from `listener` forever, one task each, running the handler
/// `make_handler` builds. `report` hears how each connection ended. Call within a tokio runtime.
pub(crate) async fn serve<H, F, R>(listener: TcpListener, config: Config, make_handler: F, report: R) -> io::Result<()>
where
    H: Handler + Send + 'static,
    F: Fn() -> H + Send + Sync + 'static,
    R: Fn(io::Result<Closed>) + Send + Sync + 'static,
{
    let shared = Arc::new((make_handler, report));
    loop {
        let (stream, _) = listener.accept().await?;
        let config = config.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let (make_handler, report) = &*shared;
            let result = match accept(stream, ServerConfig::default(), config).await {
                Ok(ws) => run(ws, &mut make_handler()).await,
                Err(e) => Err(e),
            };
            report(result);
        });
    }
}

/// The server's opening handshake on an accepted stream (a refused request is answered with its
/// status before the error returns).
pub(crate) async fn accept(
    stream: TcpStream,
    handshake: ServerConfig,
    config: Config,
) -> io::Result<WebSocketStream<TcpStream>> {
    stream.set_nodelay(true)?;
    sansio_ws_tokio::accept_with(stream, handshake, config).await.map_err(handshake_error)
}

/// Connects to `url` (`ws://host:port/path`) and runs the client's opening handshake.
pub(crate) async fn connect(
    url: &str,
    handshake: ClientConfig,
    config: Config,
) -> io::Result<WebSocketStream<MaybeTlsStream>> {
    let (ws, _response) = sansio_ws_tokio::connect_with(url, handshake, config).await.map_err(handshake_error)?;
    if let MaybeTlsStream::Plain(tcp) = ws.get_ref() {
        tcp.set_nodelay(true)?;
    }
    Ok(ws)
}

/// Runs a connection until the stream ends (after its final event, which it returns: the
/// stream has closed the transport by then).
pub(crate) async fn run<S, H>(mut ws: WebSocketStream<S>, handler: &mut H) -> io::Result<Closed>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handler,
{
    let epoch = ws.epoch();
    let now = move || epoch.instant(std::time::Instant::now());
    handler.on_open(ws.connection_mut(), now());
    let mut closed = None;
    while let Some(event) = ws.recv_event().await {
        match event {
            Event::Closed(end) => closed = Some(end),
            event => handler.on_event(ws.connection_mut(), now(), event),
        }
    }
    closed.ok_or_else(|| io::Error::other("the stream ended without its final event"))
}
