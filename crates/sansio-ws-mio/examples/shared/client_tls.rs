//! `--ca FILE` for the example clients: trust a private CA (besides Mozilla's roots) for wss://.

use std::path::Path;

use sansio_ws_mio::DriverConfig;

/// `config`, trusting the CA certificates of `ca` too.
#[cfg(feature = "tls")]
pub(crate) fn trusting(config: DriverConfig, ca: Option<&Path>) -> std::io::Result<DriverConfig> {
    use sansio_ws_mio::tls;
    let Some(ca) = ca else { return Ok(config) };
    let roots = tls::roots_from_pem_file(tls::webpki_roots(), ca)?;
    Ok(config.with_tls_client(tls::client_config(roots)))
}

#[cfg(not(feature = "tls"))]
pub(crate) fn trusting(config: DriverConfig, ca: Option<&Path>) -> std::io::Result<DriverConfig> {
    match ca {
        None => Ok(config),
        Some(_) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "--ca needs TLS, which this build leaves out: run it with `--features tls`",
        )),
    }
}
