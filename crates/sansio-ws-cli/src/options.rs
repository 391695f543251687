//! Command-line values the subcommands share: how to reach the endpoint, sizes and durations.

use std::time::Duration;

use sansio_ws::handshake::ClientConfig;

/// Where to connect and how to ask for the upgrade (`connect` and `diagnose`).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Target {
    /// The endpoint: ws://HOST[:PORT][/PATH][?QUERY], or wss://
    #[arg(value_name = "URL")]
    pub(crate) url: String,
    /// Offer this subprotocol (repeat for more, most preferred first)
    #[arg(long = "subprotocol", value_name = "NAME")]
    pub(crate) subprotocols: Vec<String>,
    /// Send this header field with the request, e.g. --header 'Authorization: Bearer x' (repeatable)
    #[arg(long = "header", value_name = "NAME:VALUE", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
    /// Send this Origin (what a browser on that site would send)
    #[arg(long, value_name = "ORIGIN")]
    pub(crate) origin: Option<String>,
    /// Do not offer permessage-deflate
    #[arg(long = "no-deflate")]
    pub(crate) no_deflate: bool,
    /// For wss://: trust the CA certificates of this PEM file too (a private or test CA)
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<std::path::PathBuf>,
    /// How long resolving, connecting and the opening handshake may take together, in seconds
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_secs)]
    pub(crate) timeout: Duration,
}

impl Target {
    /// The driver's settings for this target: `connection` for the connection, and the TLS roots
    /// (Mozilla's, plus `--ca`). The error names the file.
    pub(crate) fn driver_config(
        &self,
        connection: sansio_ws::connection::Config,
    ) -> Result<sansio_ws_mio::DriverConfig, String> {
        let config = sansio_ws_mio::DriverConfig::default().with_connection(connection);
        let Some(ca) = &self.ca else { return Ok(config) };
        let roots = sansio_ws_mio::tls::roots_from_pem_file(sansio_ws_mio::tls::webpki_roots(), ca)
            .map_err(|e| format!("--ca: {e}"))?;
        Ok(config.with_tls_client(sansio_ws_mio::tls::client_config(roots)))
    }

    /// The handshake's settings.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::default().with_timeout(self.timeout);
        if self.no_deflate {
            config = config.with_deflate(None);
        }
        if let Some(origin) = &self.origin {
            config = config.with_origin(origin.clone());
        }
        for protocol in &self.subprotocols {
            config = config.with_subprotocol(protocol.clone());
        }
        for (name, value) in &self.headers {
            config = config.with_header(name.clone(), value.clone());
        }
        config
    }
}

/// `NAME:VALUE` (spaces around the value are dropped).
fn parse_header(arg: &str) -> Result<(String, String), String> {
    let (name, value) = arg.split_once(':').ok_or("give NAME:VALUE, e.g. 'Authorization: Bearer x'")?;
    let name = name.trim();
    if name.is_empty() {
        return Err("the header field has no name".into());
    }
    Ok((name.to_string(), value.trim().to_string()))
}

/// Seconds, fractions allowed.
pub(crate) fn parse_secs(arg: &str) -> Result<Duration, String> {
    let secs: f64 = arg.parse().map_err(|e| format!("{e} (give seconds, e.g. 2.5)"))?;
    Duration::try_from_secs_f64(secs).map_err(|e| e.to_string())
}

/// A duration, or none (`off`). (A wrapper: clap takes an `Option` field as an optional argument.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SecsOrOff(pub(crate) Option<Duration>);

/// Seconds, or `off`.
pub(crate) fn parse_secs_or_off(arg: &str) -> Result<SecsOrOff, String> {
    if arg == "off" { Ok(SecsOrOff(None)) } else { parse_secs(arg).map(|d| SecsOrOff(Some(d))) }
}

/// A size in bytes: a number with an optional unit, `k`/`KiB` (1024), `M`/`MiB`, `G`/`GiB`.
pub(crate) fn parse_size(arg: &str) -> Result<u64, String> {
    let digits = arg.find(|c: char| !c.is_ascii_digit()).unwrap_or(arg.len());
    let (number, unit) = arg.split_at(digits);
    let number: u64 = number.parse().map_err(|_| format!("{arg:?} is not a size (e.g. 65536, 64KiB, 16MiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kib" | "kb" => 10,
        "m" | "mib" | "mb" => 20,
        "g" | "gib" | "gb" => 30,
        other => return Err(format!("unknown unit {other:?} (give B, KiB, MiB or GiB)")),
    };
    number.checked_mul(1 << shift).ok_or_else(|| format!("{arg} is too large"))
}

/// A size for people: `16 MiB`, `1.5 KiB`, `300 B`.
pub(crate) fn size(bytes: u64) -> String {
    let units = [(30, "GiB"), (20, "MiB"), (10, "KiB")];
    for (shift, unit) in units {
        if bytes >= 1 << shift {
            let value = bytes as f64 / (1u64 << shift) as f64;
            return if value.fract() == 0.0 { format!("{value:.0} {unit}") } else { format!("{value:.1} {unit}") };
        }
    }
    format!("{bytes} B")
}

/// A duration in milliseconds for people: `0.42 ms`, `12.3 ms`, `1520 ms`.
pub(crate) fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("16M"), Ok(16 << 20));
        assert_eq!(parse_size("1 GiB"), Ok(1 << 30));
        assert!(parse_size("12 parsecs").unwrap_err().contains("unknown unit"));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999999GiB").unwrap_err().contains("too large"));
        assert_eq!(size(16 << 20), "16 MiB");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(300), "300 B");
    }

    #[test]
    fn headers_and_durations() {
        assert_eq!(parse_header("Authorization: Bearer x"), Ok(("Authorization".into(), "Bearer x".into())));
        assert!(parse_header("no colon").is_err());
        assert!(parse_header(": value").is_err());
        assert_eq!(parse_secs("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(parse_secs_or_off("off"), Ok(SecsOrOff(None)));
        assert_eq!(parse_secs_or_off("1"), Ok(SecsOrOff(Some(Duration::from_secs(1)))));
        assert!(parse_secs("-1").is_err());
        assert_eq!(ms(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(ms(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(ms(Duration::from_millis(1520)), "1520 ms");
    }
}
