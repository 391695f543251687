//! `sansio-ws`: talk to a WebSocket endpoint, diagnose one, or serve an echo server that tells
//! each connection's life. Built on the `sansio-ws` engine and its mio driver.
//!
//! ```text
//! sansio-ws connect ws://127.0.0.1:9001/           # stdin lines out as text, messages printed
//! sansio-ws diagnose ws://127.0.0.1:9001/ --json   # timings, pings, close, size limit, verdict
//! sansio-ws serve 9001 --origin-any                # echo, with a log line per event
//! ```
//!
//! Exit status: `connect` 0 after a clean close, 1 when the connection ended otherwise, 2 when
//! it never opened; `diagnose` 0 healthy, 1 degraded, 2 unreachable; a command line that cannot
//! be parsed also exits with 2, with the usage.

// A command-line tool talks to its user on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

/// One line to standard error in one write (`eprintln!` makes a system call per piece of its
/// format, and `serve` says a line per event).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut line = format!($($arg)*);
        line.push('\n');
        // A standard error that is gone leaves nowhere to say so.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }};
}

mod connect;
mod diagnose;
mod options;
mod report;
mod serve;
mod words;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sansio_ws::handshake::{Extension, write_extensions};
use sansio_ws_mio::{Handle, Opened, ServerHandle};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

#[derive(clap::Parser, Debug)]
#[command(
    name = "sansio-ws",
    version,
    about = "Talk to a WebSocket endpoint, diagnose one, or serve an echo server that tells each connection's life",
    after_help = "Exit status: connect 0 after a clean close, 1 when the connection ended otherwise, 2 when it \
                  never opened; diagnose 0 healthy, 1 degraded, 2 unreachable."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Connect: lines read from stdin are sent as text messages, messages received are printed
    /// on stdout, and what happens to the connection is told on stderr
    Connect(connect::Args),
    /// Check an endpoint and print one report: the time to resolve, connect and upgrade, the
    /// response, round trips of Pings, the close handshake, the largest message it takes, and
    /// why each connection ended
    Diagnose(diagnose::Args),
    /// Serve an echo server for testing clients, printing each connection's request, messages
    /// and the cause of its end
    Serve(serve::Args),
}

fn main() -> ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let result = match cli.command {
        Command::Connect(args) => connect::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Serve(args) => serve::run(args),
    };
    result.unwrap_or_else(|e| {
        say!("sansio-ws: {e}");
        ExitCode::from(2)
    })
}

/// Extensions as a `Sec-WebSocket-Extensions` value.
fn extensions(list: &[Extension]) -> String {
    let mut out = String::new();
    match write_extensions(list, &mut out) {
        Ok(()) => out,
        Err(e) => format!("(cannot be written: {e})"),
    }
}

/// `(127.0.0.1:9001) in 1.2 ms: resolve …; subprotocol chat; permessage-deflate; …`, the
/// client's timings included when known.
fn describe_open(opened: &Opened) -> String {
    let mut text = format!("({})", opened.peer);
    if let Some(t) = opened.timing {
        text += &format!(
            " in {}: resolve {}, connect {}, TLS {}, handshake {}",
            options::ms(t.total()),
            options::ms(t.resolve),
            options::ms(t.connect),
            options::ms(t.tls),
            options::ms(t.handshake)
        );
    }
    if let Some(tls) = &opened.tls {
        text += &format!("; {} {}", tls.version, tls.cipher_suite);
    }
    if opened.role == sansio_ws::Role::Server {
        text += &format!(" on {}", opened.path);
    }
    text += &format!("; subprotocol {}", opened.subprotocol.as_deref().unwrap_or("none"));
    let ext = if opened.extensions.is_empty() { "none".into() } else { extensions(&opened.extensions) };
    text += &format!("; extensions {ext}");
    text
}

/// The first SIGINT or SIGTERM raises `flag` and calls `first` (it starts closing: a client
/// wakes its loop, a server shuts down gracefully); a second one exits at once with status 130.
fn on_signals(flag: Arc<AtomicBool>, mut first: impl FnMut() + Send + 'static) -> Result<(), String> {
    let mut signals = Signals::new([SIGINT, SIGTERM]).map_err(|e| format!("cannot catch signals: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                if flag.swap(true, Ordering::Relaxed) {
                    say!("sansio-ws: interrupted again: quitting now");
                    std::process::exit(130);
                }
                first();
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}

/// A client: the first signal wakes the loop, which sees `flag` and closes the connection.
fn close_on_signals(handle: Handle, flag: Arc<AtomicBool>) -> Result<(), String> {
    on_signals(flag, move || {
        if handle.wake().is_err() {
            std::process::exit(130);
        }
    })
}

/// A server: the first signal shuts it down gracefully (every connection closed with 1001, up to
/// `drain` for the close handshakes).
fn drain_on_signals(server: ServerHandle, drain: Duration, flag: Arc<AtomicBool>) -> Result<(), String> {
    on_signals(flag, move || {
        say!("sansio-ws: shutting down: closing every connection with 1001 (again to quit at once)");
        if server.shutdown(drain).is_err() {
            std::process::exit(0);
        }
    })
}
