//! The command line every example server shares (an address, `--threads`, `--drain-timeout`,
//! `--no-deflate`, `--metrics`), flattened by each example into its own `clap` parser, which
//! gives `--help`, `--version`-free usage lines and errors that name the option at fault.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use sansio_ws_mio::{Handler, Server};

/// The shared options.
#[derive(clap::Args, Debug)]
pub(crate) struct ServerOptions {
    /// Where to listen: HOST:PORT, or a bare port (on 127.0.0.1)
    #[arg(value_name = "ADDR", default_value = "127.0.0.1:9001", value_parser = parse_listen_addr)]
    pub(crate) addr: SocketAddr,
    /// Event loops, one per thread [default: one per core]
    #[arg(long, value_name = "N", default_value_t = default_threads(), hide_default_value = true,
          value_parser = clap::builder::TypedValueParser::map(clap::value_parser!(u16).range(1..), usize::from))]
    pub(crate) threads: usize,
    /// On SIGINT or SIGTERM, how long the connections have to close, in seconds
    #[arg(long = "drain-timeout", value_name = "SECS", default_value = "5", value_parser = parse_secs)]
    pub(crate) drain: Duration,
    /// Do not accept permessage-deflate
    #[arg(long = "no-deflate", action = clap::ArgAction::SetFalse)]
    pub(crate) deflate: bool,
    /// Also serve the metrics at http://ADDR/metrics (Prometheus text format)
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<SocketAddr>,
    /// Serve over TLS (https://, wss://) with this certificate chain, PEM (scripts/dev-cert.sh
    /// makes one for local use)
    #[arg(long = "tls-cert", value_name = "CERT.pem", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert, PEM
    #[arg(long = "tls-key", value_name = "KEY.pem", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
}

impl ServerOptions {
    /// Listens on the address, over TLS when a certificate is given; returns the bound address
    /// and whether it is TLS. The errors name the address or the file.
    pub(crate) fn listen<H: Handler + Send + 'static>(
        &self,
        server: &mut Server<H>,
    ) -> std::io::Result<(SocketAddr, bool)> {
        let addr = self.addr;
        let named = |e: std::io::Error| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return server.listen(addr).map(|a| (a, false)).map_err(named);
        };
        listen_tls(server, addr, cert, key)
            .map(|a| (a, true))
            .map_err(|e| if e.kind() == std::io::ErrorKind::InvalidInput { e } else { named(e) })
    }
}

#[cfg(feature = "tls")]
fn listen_tls<H: Handler + Send + 'static>(
    server: &mut Server<H>,
    addr: SocketAddr,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> std::io::Result<SocketAddr> {
    let config = sansio_ws_mio::tls::server_config(cert, key)?;
    server.listen_tls(addr, config)
}

#[cfg(not(feature = "tls"))]
fn listen_tls<H: Handler + Send + 'static>(
    _server: &mut Server<H>,
    _addr: SocketAddr,
    _cert: &std::path::Path,
    _key: &std::path::Path,
) -> std::io::Result<SocketAddr> {
    Err(std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "--tls-cert needs TLS, which this build leaves out: run it with `--features tls`",
    ))
}

fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// An address, or a bare port on the loopback interface.
pub(crate) fn parse_listen_addr(arg: &str) -> Result<SocketAddr, String> {
    match arg.parse::<u16>() {
        Ok(port) => Ok(SocketAddr::from(([127, 0, 0, 1], port))),
        Err(_) => arg.parse().map_err(|e| format!("{e} (give HOST:PORT, e.g. 0.0.0.0:9001, or a port)")),
    }
}

/// Seconds, fractions allowed.
pub(crate) fn parse_secs(arg: &str) -> Result<Duration, String> {
    let secs: f64 = arg.parse().map_err(|e| format!("{e} (give seconds, e.g. 2.5)"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}
