//! The command line every example server shares: an address, `--threads`, `--drain-timeout`,
//! `--no-deflate`, `--help`, and whatever options the example adds.

use std::net::SocketAddr;
use std::time::Duration;

/// The lines of `--help` for the shared options.
pub(crate) const SERVER_OPTIONS: &str = "  --threads N            event loops, one per thread (default: one per core)
  --drain-timeout SECS   on SIGINT or SIGTERM, how long the connections have to close (default 5)
  --no-deflate           do not accept permessage-deflate
  --metrics ADDR         also serve the metrics at http://ADDR/metrics (Prometheus text format)
  -h, --help             this text
";

/// The shared options, parsed.
pub(crate) struct ServerOptions {
    pub(crate) addr: SocketAddr,
    pub(crate) threads: usize,
    pub(crate) drain: Duration,
    pub(crate) deflate: bool,
    pub(crate) metrics: Option<SocketAddr>,
}

/// The next argument, as the value of option `name`.
pub(crate) fn value(args: &mut impl Iterator<Item = String>, name: &str) -> Result<String, String> {
    args.next().ok_or_else(|| format!("{name} needs a value"))
}

impl ServerOptions {
    /// Parses the command line: `extra(option, args)` is offered each option not shared, takes
    /// its value from `args` if it has one, and says whether it knew the option. `--help` prints
    /// `usage` and exits.
    pub(crate) fn parse(
        usage: &str,
        mut extra: impl FnMut(&str, &mut std::env::Args) -> Result<bool, String>,
    ) -> Result<Self, String> {
        let mut options = ServerOptions {
            addr: SocketAddr::from(([127, 0, 0, 1], 9001)),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            drain: Duration::from_secs(5),
            deflate: true,
            metrics: None,
        };
        let mut args = std::env::args();
        args.next();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => {
                    print!("{usage}");
                    std::process::exit(0);
                }
                "--no-deflate" => options.deflate = false,
                "--metrics" => {
                    let v = value(&mut args, &arg)?;
                    options.metrics = Some(v.parse().map_err(|e| format!("--metrics {v}: {e}"))?);
                }
                "--threads" => {
                    let v = value(&mut args, &arg)?;
                    options.threads = v.parse().map_err(|e| format!("--threads {v}: {e}"))?;
                    if options.threads == 0 {
                        return Err("--threads must be at least 1".into());
                    }
                }
                "--drain-timeout" => {
                    let v = value(&mut args, &arg)?;
                    let secs: f64 = v.parse().map_err(|e| format!("--drain-timeout {v}: {e}"))?;
                    options.drain =
                        Duration::try_from_secs_f64(secs).map_err(|e| format!("--drain-timeout {v}: {e}"))?;
                }
                a if a.starts_with('-') => {
                    if !extra(a, &mut args)? {
                        return Err(format!("unknown option {a}"));
                    }
                }
                // An address, or a bare port on the loopback interface.
                a => {
                    options.addr = match a.parse::<u16>() {
                        Ok(port) => SocketAddr::from(([127, 0, 0, 1], port)),
                        Err(_) => a.parse().map_err(|e| format!("address {a} (HOST:PORT, or a port): {e}"))?,
                    }
                }
            }
        }
        Ok(options)
    }
}

/// Exits with status 2 and the usage on a command-line error.
pub(crate) fn or_usage<T>(name: &str, usage: &str, parsed: Result<T, String>) -> T {
    parsed.unwrap_or_else(|e| {
        eprintln!("{name}: {e}\n\n{usage}");
        std::process::exit(2);
    })
}
