//! Shutdown on a signal, as the examples do it: the first SIGINT or SIGTERM starts the graceful
//! shutdown of every loop (new requests get 503, every connection is closed with 1001 after what
//! is queued on it, the close handshakes are waited for up to the drain timeout); a second one
//! exits at once. Then the report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sansio_ws_mio::{ServerHandle, ShutdownReport};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Starts a thread that turns SIGINT and SIGTERM into a graceful shutdown of `server`, first
/// raising `flag` if one is given (for handlers that act differently while shutting down).
pub(crate) fn drain_on_signals(
    name: &'static str,
    server: ServerHandle,
    drain: Duration,
    flag: Option<Arc<AtomicBool>>,
) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        let mut draining = false;
        for signal in signals.forever() {
            let what = if signal == SIGINT { "SIGINT" } else { "SIGTERM" };
            if draining {
                eprintln!("{name}: {what} again: exiting now, without waiting for the drain");
                std::process::exit(1);
            }
            draining = true;
            eprintln!(
                "{name}: {what}: shutting down: closing every connection with 1001, new requests get 503, \
                 waiting up to {} s (send it again to exit at once)",
                drain.as_secs_f64()
            );
            if let Some(flag) = &flag {
                flag.store(true, Ordering::Relaxed);
            }
            if server.shutdown(drain).is_err() {
                eprintln!("{name}: the server had stopped already");
            }
        }
    })?;
    Ok(())
}

/// One line: how the shutdown went.
pub(crate) fn print_report(name: &str, report: &ShutdownReport) {
    eprintln!(
        "{name}: shut down: {} connections closed cleanly, {} forced at the deadline ({} bytes in {} messages unsent), \
         {} ended otherwise; {} requests refused while draining, {} handshakes dropped",
        report.clean,
        report.forced,
        report.unsent_bytes,
        report.unsent_messages,
        report.other,
        report.refused_draining,
        report.handshakes_dropped
    );
}
