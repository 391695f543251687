//! Load and abuse scenarios against a running WebSocket echo server on loopback (the mio
//! driver's `echo-server` example): each prints one line, `PASS` or `FAIL`, with what it measured,
//! and the process exits non-zero on a failure. `scripts/stress.sh` starts a fresh server for each
//! scenario and runs them all.
//!
//! `cargo run --release --example stress -- SCENARIO --addr HOST:PORT [--server-pid PID] [--short]`
//!
//! The peers here are raw sockets writing frames by hand: an attacker does not use a library.

// A command-line tool reports on the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: stress SCENARIO --addr HOST:PORT [--server-pid PID] [--short]

Runs one load or abuse scenario against a WebSocket echo server and prints one PASS or FAIL line.

scenarios:
  ping-flood-limited  a peer floods Pings without reading; the server's control-frame limit is on:
                      the flooder gets Close 1008, other peers' echoes stay fast
  ping-flood          the same against a server with the limit off: the flooder is read one budget
                      per turn, other peers' echo p99 stays under 20 ms
  non-reader          a peer sends 64 KiB messages and never reads: the server stops reading it,
                      its memory stays bounded, and every echo arrives once the peer reads
  overload            many peers each send most of a large fragmented message: the server's memory
                      stays near its budget, each peer gets its echo or a Close 1013, none is silent
                      (50 × 6 MiB against the default 256 MiB; short: 10 × 6 MiB against 32 MiB)
  large-partials      the same with a few very large messages (8 × 60 MiB; short: 4 × 12 MiB)
  slowloris           thousands of sockets connect and send one byte: a real client still gets in
  tls-hello           a TLS ClientHello and binary junk on the plain listener are refused at once
  shutdown            500 clients (short: 200) and one slow reader with a 4 MiB echo in flight; then
                      SIGTERM to the server (needs --server-pid): every client gets Close 1001 and a
                      clean TCP close, the slow reader gets its whole echo first, the server exits
                      within its 5 s drain timeout
  shutdown-twice      a client that never answers the Close keeps the drain going; a second SIGTERM
                      makes the server exit at once
  churn               50 000 connections (short: 5 000) come and go, upgraded and closed, refused, or
                      dropped at once; then the server's metrics count each exactly (--metrics on
                      the next port)
  metrics             connections that end in known ways, then a scrape of the server's
                      /metrics on the port after ADDR's (--metrics): every count is there
  fd-exhaustion       against a server limited to 64 descriptors, 100 clients: the ones it cannot
                      accept wait, the open ones are still served, and once some close the waiting
                      ones get in within a second, with no new client to wake the server

options:
  --addr HOST:PORT    the server (required)
  --server-pid PID    the server's process, to sample its memory (RSS) from /proc
  --short             the short form (smaller counts), as CI runs it
  -h, --help          this text
";

/// Scale of a run.
#[derive(Clone, Copy)]
struct Scale {
    short: bool,
}

impl Scale {
    fn pick<T>(self, full: T, short: T) -> T {
        if self.short { short } else { full }
    }
}

struct Options {
    scenario: String,
    addr: SocketAddr,
    server_pid: Option<u32>,
    scale: Scale,
}

fn parse_args() -> Result<Options, String> {
    let mut scenario = None;
    let mut addr = None;
    let mut server_pid = None;
    let mut short = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--addr" => {
                let v = value(&arg)?;
                addr = Some(v.parse().map_err(|e| format!("--addr {v}: {e}"))?);
            }
            "--server-pid" => {
                let v = value(&arg)?;
                server_pid = Some(v.parse().map_err(|e| format!("--server-pid {v}: {e}"))?);
            }
            "--short" => short = true,
            a if a.starts_with('-') => return Err(format!("unknown option {a}")),
            a => scenario = Some(a.to_string()),
        }
    }
    Ok(Options {
        scenario: scenario.ok_or("no scenario given")?,
        addr: addr.ok_or("--addr is required")?,
        server_pid,
        scale: Scale { short },
    })
}

fn main() {
    let options = match parse_args() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("stress: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let Options { scenario, addr, server_pid, scale } = options;
    let result = match scenario.as_str() {
        "ping-flood-limited" => ping_flood(addr, scale, true),
        "ping-flood" => ping_flood(addr, scale, false),
        "non-reader" => non_reader(addr, server_pid, scale),
        "overload" => overload(addr, server_pid, scale.pick((50, 96, 256), (10, 96, 32))),
        "large-partials" => overload(addr, server_pid, scale.pick((8, 960, 256), (4, 192, 32))),
        "slowloris" => slowloris(addr, scale),
        "tls-hello" => tls_hello(addr),
        "shutdown" => shutdown(addr, server_pid, scale),
        "shutdown-twice" => shutdown_twice(addr, server_pid),
        "fd-exhaustion" => fd_exhaustion(addr),
        "metrics" => metrics(addr),
        "churn" => churn(addr, scale),
        other => {
            eprintln!("stress: unknown scenario {other}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    match result {
        Ok(Verdict { pass: true, figures }) => println!("PASS  {scenario}: {figures}"),
        Ok(Verdict { pass: false, figures }) => {
            println!("FAIL  {scenario}: {figures}");
            std::process::exit(1);
        }
        Err(e) => {
            println!("FAIL  {scenario}: {e}");
            std::process::exit(1);
        }
    }
}

/// What a scenario found: whether it passed, and its figures.
struct Verdict {
    pass: bool,
    figures: String,
}

// ---- a raw WebSocket peer -------------------------------------------------------------------

/// The masking key of every frame sent here (the server unmasks whatever key it gets).
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame: first byte `b0` (FIN, opcode), masked payload.
fn frame(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(payload.len() + 14);
    f.push(b0);
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            f.push(0x80 | 126);
            f.extend((n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend((n as u64).to_be_bytes());
        }
    }
    f.extend(KEY);
    f.extend(payload.iter().zip(KEY.iter().cycle()).map(|(b, k)| b ^ k));
    f
}

/// A server frame: first byte, payload.
fn read_frame(sock: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let mut head = [0u8; 2];
    sock.read_exact(&mut head)?;
    let len = match head[1] & 0x7f {
        126 => {
            let mut n = [0u8; 2];
            sock.read_exact(&mut n)?;
            u64::from(u16::from_be_bytes(n))
        }
        127 => {
            let mut n = [0u8; 8];
            sock.read_exact(&mut n)?;
            u64::from_be_bytes(n)
        }
        n => u64::from(n),
    };
    let len = usize::try_from(len).map_err(|_| io::Error::other("a frame longer than memory"))?;
    let mut payload = vec![0u8; len];
    sock.read_exact(&mut payload)?;
    Ok((head[0], payload))
}

/// A whole server message, its fragments joined: (opcode, payload); a control frame comes as it is.
fn read_message(sock: &mut impl Read) -> io::Result<(u8, Vec<u8>)> {
    let (b0, mut payload) = read_frame(sock)?;
    let (mut fin, opcode) = (b0 & 0x80 != 0, b0 & 0x0f);
    if opcode >= 0x8 {
        return Ok((opcode, payload));
    }
    while !fin {
        let (b0, more) = read_frame(sock)?;
        if b0 & 0x0f >= 0x8 {
            return Ok((b0 & 0x0f, more));
        }
        payload.extend_from_slice(&more);
        fin = b0 & 0x80 != 0;
    }
    Ok((opcode, payload))
}

/// The code of a Close frame's payload (1005 when it has none).
fn close_code(payload: &[u8]) -> u16 {
    payload.get(..2).map_or(1005, |c| u16::from_be_bytes([c[0], c[1]]))
}

/// Connects and completes the opening handshake (no extension offered).
fn upgrade(addr: SocketAddr) -> io::Result<TcpStream> {
    let mut sock = TcpStream::connect(addr)?;
    sock.set_nodelay(true)?;
    sock.set_read_timeout(Some(Duration::from_secs(10)))?;
    sock.write_all(
        b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )?;
    let head = read_head(&mut sock)?;
    if !head.starts_with("HTTP/1.1 101 ") {
        return Err(io::Error::other(format!("the server answered {:?}", head.lines().next().unwrap_or(""))));
    }
    Ok(sock)
}

/// An HTTP head, byte by byte (nothing after it is consumed).
fn read_head(sock: &mut TcpStream) -> io::Result<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if sock.read(&mut byte)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed during the handshake"));
        }
        head.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

// ---- measuring ------------------------------------------------------------------------------

/// Round trips of a small text message on a connection of its own, until `stop` (and at least
/// `min` of them): the latency another peer sees.
fn probe(addr: SocketAddr, stop: Arc<AtomicBool>, min: usize) -> io::Result<Vec<Duration>> {
    let mut sock = upgrade(addr)?;
    sock.set_read_timeout(Some(Duration::from_secs(5)))?;
    let message = frame(0x81, b"probe");
    let mut samples = Vec::new();
    while samples.len() < min || !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        sock.write_all(&message)?;
        let (b0, payload) = read_frame(&mut sock)?;
        if b0 != 0x81 || payload != b"probe" {
            return Err(io::Error::other(format!("the echo is {b0:#04x} {payload:?}")));
        }
        samples.push(start.elapsed());
        thread::sleep(Duration::from_millis(1));
    }
    Ok(samples)
}

/// The `p`-quantile (0..=1) of `samples`.
fn quantile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples.get(i).copied().unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// The resident memory of process `pid`, in bytes.
fn rss(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Samples a process's RSS every 20 ms until dropped; `peak` is the most seen.
struct RssWatch {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<usize>>,
    baseline: usize,
}

impl RssWatch {
    fn start(pid: Option<u32>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let baseline = pid.and_then(rss).unwrap_or(0);
        let thread = pid.map(|pid| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut peak = 0;
                while !stop.load(Ordering::Relaxed) {
                    peak = peak.max(rss(pid).unwrap_or(0));
                    thread::sleep(Duration::from_millis(20));
                }
                peak
            })
        });
        RssWatch { stop, thread, baseline }
    }

    /// The peak RSS seen, if a process was watched.
    fn finish(mut self) -> Option<usize> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().map(|t| t.join().unwrap_or(0))
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

// ---- scenarios ------------------------------------------------------------------------------

/// The echo p99 other peers may see under a flood.
const P99_BOUND: Duration = Duration::from_millis(20);

/// A peer floods Pings and never reads, while four others measure their echo latency.
fn ping_flood(addr: SocketAddr, scale: Scale, limited: bool) -> io::Result<Verdict> {
    let pings: usize = scale.pick(10_000_000, 1_000_000);
    let mut flooder = upgrade(addr)?;
    let stop = Arc::new(AtomicBool::new(false));
    let probes: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || probe(addr, stop, 200))
        })
        .collect();
    thread::sleep(Duration::from_millis(100));
    let writer = {
        let mut sock = flooder.try_clone()?;
        thread::spawn(move || {
            const BATCH: usize = 10_000;
            let batch: Vec<u8> = (0..BATCH).flat_map(|_| frame(0x89, b"")).collect();
            let start = Instant::now();
            let mut sent = 0;
            while sent < pings {
                if sock.write_all(&batch).is_err() {
                    break;
                }
                sent += BATCH;
            }
            (sent, start.elapsed())
        })
    };
    let (sent, flood_time) = writer.join().map_err(|_| io::Error::other("the flooder panicked"))?;
    stop.store(true, Ordering::Relaxed);
    let mut samples = Vec::new();
    for p in probes {
        samples.extend(p.join().map_err(|_| io::Error::other("a probe panicked"))??);
    }
    let p50 = quantile(&mut samples, 0.5);
    let p99 = quantile(&mut samples, 0.99);
    let max = quantile(&mut samples, 1.0);
    let latency =
        format!("other peers' echo p50 {} p99 {} max {} ({} round trips)", ms(p50), ms(p99), ms(max), samples.len());
    if limited {
        // What the flooder reads: Pongs, then the server's Close.
        flooder.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut pongs = 0;
        let code = loop {
            match read_frame(&mut flooder) {
                Ok((0x8a, _)) => pongs += 1,
                Ok((0x88, payload)) => break Some(close_code(&payload)),
                Ok(_) | Err(_) => break None,
            }
        };
        let pass = code == Some(1008) && p99 <= P99_BOUND;
        let figures = format!(
            "flooder closed with {} after {pongs} Pongs (it wrote {sent} Pings); {latency}",
            code.map_or("no Close".to_string(), |c| c.to_string())
        );
        Ok(Verdict { pass, figures })
    } else {
        let rate = sent as f64 / flood_time.as_secs_f64();
        let pass = sent >= pings && p99 <= P99_BOUND;
        let figures = format!(
            "{sent} Pings taken in {:.2} s ({:.1} M/s); {latency}; bound p99 {}",
            flood_time.as_secs_f64(),
            rate / 1e6,
            ms(P99_BOUND)
        );
        Ok(Verdict { pass, figures })
    }
}

/// A peer sends 64 KiB messages and does not read its echoes; later it reads them all.
fn non_reader(addr: SocketAddr, pid: Option<u32>, scale: Scale) -> io::Result<Verdict> {
    const SIZE: usize = 64 * 1024;
    let messages: usize = scale.pick(3_200, 400); // 200 MiB or 25 MiB
    let sock = upgrade(addr)?;
    let watch = RssWatch::start(pid);
    let writer = {
        let mut sock = sock.try_clone()?;
        thread::spawn(move || {
            let message = frame(0x82, &[0x5a; SIZE]);
            let mut sent = 0;
            while sent < messages && sock.write_all(&message).is_ok() {
                sent += 1;
            }
            sent
        })
    };
    // The server stops reading once the echoes it cannot write pile up: the writer blocks.
    thread::sleep(Duration::from_secs(2));
    let pushed_back = !writer.is_finished();
    let mut reader = sock;
    reader.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut echoes = 0;
    let mut failure = None;
    while echoes < messages {
        match read_frame(&mut reader) {
            Ok((0x82, payload)) if payload.len() == SIZE => echoes += 1,
            Ok((b0, payload)) => {
                failure = Some(format!("an unexpected frame {b0:#04x} of {} bytes", payload.len()));
                break;
            }
            Err(e) => {
                failure = Some(format!("reading the echoes: {e}"));
                break;
            }
        }
    }
    let sent = writer.join().map_err(|_| io::Error::other("the writer panicked"))?;
    let baseline = watch.baseline;
    let peak = watch.finish();
    // The send queue's high-water mark (4 MiB), a read or two, the held echoes, allocator slack.
    let bound = 32 << 20;
    let memory_ok = peak.is_none_or(|p| p.saturating_sub(baseline) <= bound);
    let memory = peak.map_or("server RSS not sampled (no --server-pid)".to_string(), |p| {
        format!(
            "server peak RSS {} over a {} baseline (bound {})",
            mib(p.saturating_sub(baseline)),
            mib(baseline),
            mib(bound)
        )
    });
    let pass = failure.is_none() && echoes == messages && sent == messages && pushed_back && memory_ok;
    let figures = format!(
        "{sent} × 64 KiB sent, {echoes} echoes received{}; the peer was {}pushed back while not reading; {memory}",
        failure.map_or(String::new(), |f| format!(" ({f})")),
        if pushed_back { "" } else { "NOT " }
    );
    Ok(Verdict { pass, figures })
}

/// `peers` peers each send `parts` × 64 KiB of a fragmented message, unfinished, to a server with
/// a memory budget of `budget_mib`; then the ones still open finish it.
fn overload(
    addr: SocketAddr,
    pid: Option<u32>,
    (peers, parts, budget_mib): (usize, usize, usize),
) -> io::Result<Verdict> {
    const PART: usize = 64 * 1024;
    let held_each = parts * PART;
    let watch = RssWatch::start(pid);
    let baseline = watch.baseline;
    let mut socks = Vec::new();
    for _ in 0..peers {
        socks.push(upgrade(addr)?);
    }
    // Each peer writes its parts and the final fragment (blocking while the server does not read
    // it), then reads: the echo of its whole message, or the server's Close 1013.
    let peers_done: Vec<_> = socks
        .into_iter()
        .map(|mut sock| {
            thread::spawn(move || -> Result<&'static str, String> {
                let timeout = Some(Duration::from_secs(60));
                sock.set_write_timeout(timeout)
                    .and_then(|()| sock.set_read_timeout(timeout))
                    .map_err(|e| e.to_string())?;
                let first = frame(0x02, &[1; PART]);
                let more = frame(0x00, &[2; PART]);
                // A server that closed this peer stops reading it: the rest of the writes fail,
                // and what the peer reads says what happened.
                let _written_or_closed = sock
                    .write_all(&first)
                    .and_then(|()| (1..parts).try_for_each(|_| sock.write_all(&more)))
                    .and_then(|()| sock.write_all(&frame(0x80, b"end")));
                match read_message(&mut sock) {
                    Ok((0x2, payload)) if payload.len() == held_each + 3 => Ok("echo"),
                    Ok((0x8, payload)) if close_code(&payload) == 1013 => Ok("1013"),
                    Ok((0x8, payload)) => Err(format!(
                        "Close {} {:?}",
                        close_code(&payload),
                        String::from_utf8_lossy(payload.get(2..).unwrap_or_default())
                    )),
                    Ok((opcode, payload)) => Err(format!("opcode {opcode:#x}, {} bytes", payload.len())),
                    Err(e) => Err(format!("nothing: {e}")),
                }
            })
        })
        .collect();
    let mut echoes = 0;
    let mut closed = 0;
    let mut silent = Vec::new();
    for f in peers_done {
        match f.join().map_err(|_| io::Error::other("a peer panicked"))? {
            Ok("echo") => echoes += 1,
            Ok(_) => closed += 1,
            Err(e) => silent.push(e),
        }
    }
    let peak = watch.finish();
    let budget = budget_mib << 20;
    // The budget, plus a read per connection, the echoes being written, and allocator slack.
    let bound = budget + budget / 16 + (16 << 20);
    let memory_ok = peak.is_none_or(|p| p.saturating_sub(baseline) <= bound);
    let memory = peak.map_or("server RSS not sampled (no --server-pid)".to_string(), |p| {
        format!(
            "server peak RSS {} over a {} baseline (budget {}, bound {})",
            mib(p.saturating_sub(baseline)),
            mib(baseline),
            mib(budget),
            mib(bound)
        )
    });
    let pass = silent.is_empty() && closed > 0 && echoes > 0 && memory_ok;
    let figures = format!(
        "{peers} peers × {} sent unfinished ({} in all): {echoes} finished and got their echo, {closed} were closed with 1013, {} got neither{}; {memory}",
        mib(held_each),
        mib(peers * held_each),
        silent.len(),
        silent.first().map_or(String::new(), |e| format!(" (first: {e})"))
    );
    Ok(Verdict { pass, figures })
}

/// Thousands of sockets connect and send one byte; a real client then connects and echoes.
fn slowloris(addr: SocketAddr, scale: Scale) -> io::Result<Verdict> {
    let count: usize = scale.pick(10_000, 2_000);
    let mut silent = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        match TcpStream::connect(addr) {
            Ok(mut s) => {
                // One byte of a request that never completes.
                if s.write_all(b"G").is_ok() {
                    silent.push(s);
                }
            }
            Err(e) => return Err(io::Error::new(e.kind(), format!("connecting socket {i}: {e}"))),
        }
    }
    let connect_time = start.elapsed();
    thread::sleep(Duration::from_millis(200));
    let start = Instant::now();
    let result = upgrade(addr).and_then(|mut sock| {
        sock.write_all(&frame(0x81, b"hello"))?;
        let (b0, payload) = read_frame(&mut sock)?;
        if (b0, payload.as_slice()) == (0x81, b"hello".as_slice()) {
            Ok(())
        } else {
            Err(io::Error::other(format!("the echo is {b0:#04x} {payload:?}")))
        }
    });
    let elapsed = start.elapsed();
    let bound = Duration::from_secs(1);
    let pass = result.is_ok() && elapsed <= bound;
    let figures = format!(
        "{} silent sockets opened in {:.2} s; a real client {} in {} (bound {})",
        silent.len(),
        connect_time.as_secs_f64(),
        match &result {
            Ok(()) => "upgraded and got its echo".to_string(),
            Err(e) => format!("FAILED ({e})"),
        },
        ms(elapsed),
        ms(bound)
    );
    drop(silent);
    Ok(Verdict { pass, figures })
}

/// A TLS ClientHello is closed with nothing written, binary junk is answered 400, both at once.
fn tls_hello(addr: SocketAddr) -> io::Result<Verdict> {
    // The first bytes of a TLS 1.2/1.3 ClientHello record.
    let hello: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x5a, 0x5a];
    let junk: &[u8] = &[0x00, 0xff, 0x13, 0x37, 0x0d, 0x0a];
    let bound = Duration::from_millis(100);
    let mut parts = Vec::new();
    let mut pass = true;
    for (name, bytes, want) in [("ClientHello", hello, ""), ("binary junk", junk, "HTTP/1.1 400 ")] {
        let mut sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(11)))?;
        let start = Instant::now();
        sock.write_all(bytes)?;
        let mut answer = Vec::new();
        let read = sock.read_to_end(&mut answer);
        let elapsed = start.elapsed();
        let answer = String::from_utf8_lossy(&answer);
        let ok =
            read.is_ok() && elapsed <= bound && answer.starts_with(want) && (!want.is_empty() || answer.is_empty());
        pass &= ok;
        let first = answer.lines().next().unwrap_or("");
        parts.push(format!(
            "{name}: closed after {} with {}",
            ms(elapsed),
            if first.is_empty() { "nothing written".to_string() } else { format!("{first:?}") }
        ));
    }
    parts.push(format!("bound {}", ms(bound)));
    Ok(Verdict { pass, figures: parts.join("; ") })
}

/// The server's side of a graceful close as a client sees it: its Close 1001 "server shutting
/// down" (after whatever was queued before it), our Close in reply, then the end of the stream.
fn closed_by_shutdown(mut sock: TcpStream) -> Result<(), String> {
    let (opcode, payload) = read_message(&mut sock).map_err(|e| format!("no Close: {e}"))?;
    if opcode != 0x8 || close_code(&payload) != 1001 || payload.get(2..) != Some(b"server shutting down".as_slice()) {
        return Err(format!("opcode {opcode:#x} with {:?} instead of Close 1001", String::from_utf8_lossy(&payload)));
    }
    let reply = frame(0x88, &1000u16.to_be_bytes());
    sock.write_all(&reply).map_err(|e| format!("replying to the Close: {e}"))?;
    let mut rest = Vec::new();
    match sock.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => Ok(()),
        Ok(_) => Err(format!("{} bytes after the Close", rest.len())),
        Err(e) => Err(format!("no clean end of stream: {e}")),
    }
}

/// Whether process `pid` has exited (gone, or a zombie waiting for its parent).
fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')),
    }
}

/// Clients connected, one with a large echo in flight to it, then SIGTERM to the server.
fn shutdown(addr: SocketAddr, pid: Option<u32>, scale: Scale) -> io::Result<Verdict> {
    let pid = pid.ok_or_else(|| io::Error::other("this scenario signals the server: --server-pid is needed"))?;
    let count: usize = scale.pick(500, 200);
    let clients = (0..count).map(|_| upgrade(addr)).collect::<io::Result<Vec<_>>>()?;
    // The slow reader: a 4 MiB message echoed to it, not read until a second after the signal.
    const BIG: usize = 4 << 20;
    let mut slow = upgrade(addr)?;
    slow.write_all(&frame(0x82, &vec![0x42; BIG]))?;
    thread::sleep(Duration::from_millis(300));

    let signalled = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status()?;
    if !kill.success() {
        return Err(io::Error::other(format!("kill -TERM {pid}: {kill}")));
    }
    let mut failures = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        if let Err(e) = closed_by_shutdown(c) {
            failures.push(format!("client {i}: {e}"));
        }
    }
    let all_closed = signalled.elapsed();
    thread::sleep(Duration::from_secs(1).saturating_sub(signalled.elapsed()));
    let slow_result = match read_message(&mut slow) {
        Ok((0x2, payload)) if payload.len() == BIG && payload.iter().all(|&b| b == 0x42) => closed_by_shutdown(slow),
        Ok((opcode, payload)) => Err(format!("opcode {opcode:#x} of {} bytes instead of the echo", payload.len())),
        Err(e) => Err(format!("no echo: {e}")),
    };
    let mut exit_time = None;
    while signalled.elapsed() < Duration::from_secs(15) {
        if exited(pid) {
            exit_time = Some(signalled.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let bound = Duration::from_secs(5);
    let pass = failures.is_empty() && slow_result.is_ok() && exit_time.is_some_and(|t| t <= bound);
    let figures = format!(
        "{} of {count} clients got Close 1001 and a clean end of stream ({} after the signal){}; the slow reader {}; the server exited {} (bound {})",
        count - failures.len(),
        ms(all_closed),
        failures.first().map_or(String::new(), |f| format!(", first failure: {f}")),
        match &slow_result {
            Ok(()) => "got its whole 4 MiB echo, then the Close".to_string(),
            Err(e) => format!("FAILED: {e}"),
        },
        exit_time.map_or("NOT within 15 s".to_string(), |t| format!("{} after the signal", ms(t))),
        ms(bound)
    );
    Ok(Verdict { pass, figures })
}

/// A second signal while draining ends the server at once.
fn shutdown_twice(addr: SocketAddr, pid: Option<u32>) -> io::Result<Verdict> {
    let pid = pid.ok_or_else(|| io::Error::other("this scenario signals the server: --server-pid is needed"))?;
    // Never answers the Close: without the second signal the drain would last its whole timeout.
    let _stubborn = upgrade(addr)?;
    let term = || std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    term()?;
    thread::sleep(Duration::from_millis(300));
    let still_draining = !exited(pid);
    let second = Instant::now();
    term()?;
    let mut exit_time = None;
    while second.elapsed() < Duration::from_secs(5) {
        if exited(pid) {
            exit_time = Some(second.elapsed());
            break;
        }
        thread::sleep(Duration::from_millis(5));
    }
    let bound = Duration::from_millis(500);
    let pass = still_draining && exit_time.is_some_and(|t| t <= bound);
    let figures = format!(
        "after the first SIGTERM the server was {}draining; after the second it exited {} (bound {})",
        if still_draining { "still " } else { "NOT " },
        exit_time.map_or("NOT within 5 s".to_string(), |t| format!("{} later", ms(t))),
        ms(bound)
    );
    Ok(Verdict { pass, figures })
}

/// More clients than the server has descriptors for; then some leave.
fn fd_exhaustion(addr: SocketAddr) -> io::Result<Verdict> {
    const CLIENTS: usize = 100;
    let (tx, rx) = std::sync::mpsc::channel();
    for i in 0..CLIENTS {
        let tx = tx.clone();
        thread::spawn(move || {
            let result = upgrade(addr);
            let _receiver_gone = tx.send((i, result, Instant::now()));
        });
    }
    drop(tx);
    // Those the server could take are in by now; the rest wait in its listen backlog.
    let mut open = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(1);
    while let Ok((i, result, _)) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        open.push((i, result.map_err(|e| io::Error::new(e.kind(), format!("client {i}: {e}")))?));
    }
    let taken = open.len();
    let waiting = CLIENTS - taken;
    if waiting == 0 {
        return Ok(Verdict {
            pass: false,
            figures: format!("all {CLIENTS} clients got in: the server was not out of descriptors"),
        });
    }
    // The open ones are still served.
    let served = {
        let sock = &mut open[0].1;
        sock.write_all(&frame(0x81, b"still here"))
            .and_then(|()| read_frame(sock))
            .is_ok_and(|(b0, payload)| b0 == 0x81 && payload == b"still here")
    };
    // Some leave: the server's descriptors free up, and the waiting clients must get in.
    let leaving = (waiting + 5).min(taken);
    open.truncate(taken - leaving);
    let freed = Instant::now();
    let mut last = None;
    let mut failed = Vec::new();
    for _ in 0..waiting {
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((_, Ok(sock), at)) => {
                last = Some(at.saturating_duration_since(freed));
                open.push((0, sock));
            }
            Ok((i, Err(e), _)) => failed.push(format!("client {i}: {e}")),
            Err(_) => {
                failed.push("no answer within 10 s".to_string());
                break;
            }
        }
    }
    let bound = Duration::from_secs(1);
    let reported =
        scrape(addr).ok().and_then(|t| sample(&t, "sansio_ws_accept_errors_total{kind=\"out_of_descriptors\"}"));
    let pass = served && failed.is_empty() && last.is_some_and(|t| t <= bound) && reported.is_some_and(|n| n > 0);
    let figures = format!(
        "{taken} of {CLIENTS} clients got in, {waiting} waited; the open ones were {}served; {leaving} left, and the waiting ones {}{}",
        if served { "" } else { "NOT " },
        match last {
            Some(t) if failed.is_empty() => format!("all got in within {} (bound {})", ms(t), ms(bound)),
            _ => "did not all get in".to_string(),
        },
        failed.first().map_or(String::new(), |f| format!(" (first failure: {f})"))
    ) + &format!(
        "; the metrics count {} accept errors for want of descriptors",
        reported.map_or("NO".to_string(), |n| n.to_string())
    );
    Ok(Verdict { pass, figures })
}

/// Connections that end in known ways, then the server's metrics (served on the next port).
fn metrics(addr: SocketAddr) -> io::Result<Verdict> {
    for _ in 0..3 {
        let mut sock = upgrade(addr)?;
        sock.write_all(&frame(0x81, b"hello"))?;
        read_frame(&mut sock)?;
        sock.write_all(&frame(0x88, &1000u16.to_be_bytes()))?;
        let (b0, _) = read_frame(&mut sock)?;
        if b0 != 0x88 {
            return Err(io::Error::other("no Close in reply"));
        }
    }
    let mut tls = TcpStream::connect(addr)?;
    tls.write_all(&[0x16, 0x03, 0x01, 0x00, 0x10])?;
    let _closed = tls.read_to_end(&mut Vec::new());
    // The loop publishes its metrics every turn: give it one.
    thread::sleep(Duration::from_millis(100));
    let text = scrape(addr)?;
    let want = [
        "sansio_ws_connections_opened_total 3",
        "sansio_ws_connections_closed_total{cause=\"clean_remote\"} 3",
        "sansio_ws_messages_total{direction=\"received\"} 3",
        "sansio_ws_requests_refused_total{reason=\"tls_on_plain\"} 1",
        "sansio_ws_connections_open 0",
        "# EOF",
    ];
    let missing: Vec<&str> = want.iter().copied().filter(|line| !text.lines().any(|l| l == *line)).collect();
    let pass = text.starts_with("HTTP/1.1 200 ") && missing.is_empty();
    let figures = if pass {
        format!("the scrape ({} lines) has every expected value: {}", text.lines().count(), want[..4].join(", "))
    } else {
        format!("missing from the scrape: {missing:?}")
    };
    Ok(Verdict { pass, figures })
}

/// The server's metrics, from the port after `addr`'s (the server runs with `--metrics`).
fn scrape(addr: SocketAddr) -> io::Result<String> {
    let mut sock = TcpStream::connect(SocketAddr::new(addr.ip(), addr.port() + 1))?;
    sock.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")?;
    let mut text = String::new();
    sock.read_to_string(&mut text)?;
    Ok(text)
}

/// The value of the sample `name` (with its labels) in a scrape.
fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Connections come and go in three ways; the server's counts must match exactly.
fn churn(addr: SocketAddr, scale: Scale) -> io::Result<Verdict> {
    let cycles: usize = scale.pick(50_000, 5_000);
    let start = Instant::now();
    let (mut upgraded, mut refused, mut dropped) = (0u64, 0u64, 0u64);
    for i in 0..cycles {
        match i % 5 {
            // Upgraded, one echo, the close handshake: the server closes TCP first.
            0 | 1 => {
                let mut sock = upgrade(addr)?;
                sock.write_all(&frame(0x81, b"x"))?;
                read_frame(&mut sock)?;
                sock.write_all(&frame(0x88, &1000u16.to_be_bytes()))?;
                read_frame(&mut sock)?;
                let _eof = sock.read_to_end(&mut Vec::new());
                upgraded += 1;
            }
            // Not a WebSocket request: 400, and the server closes first.
            2 | 3 => {
                let mut sock = TcpStream::connect(addr)?;
                sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")?;
                let _answer = sock.read_to_end(&mut Vec::new());
                refused += 1;
            }
            // Gone at once, before a byte.
            _ => {
                drop(TcpStream::connect(addr)?);
                dropped += 1;
            }
        }
    }
    let elapsed = start.elapsed();
    // The last sockets linger (up to 2 s) and the loops publish at each turn.
    let mut text = String::new();
    for _ in 0..50 {
        thread::sleep(Duration::from_millis(100));
        text = scrape(addr)?;
        if sample(&text, "sansio_ws_connections_handshaking") == Some(0)
            && sample(&text, "sansio_ws_connections_open") == Some(0)
        {
            break;
        }
    }
    let got = |name: &str| sample(&text, name).unwrap_or(u64::MAX);
    let checks = [
        ("connections_open", got("sansio_ws_connections_open"), 0),
        ("connections_handshaking", got("sansio_ws_connections_handshaking"), 0),
        ("accepted", got("sansio_ws_accepted_total"), cycles as u64),
        ("connections_opened", got("sansio_ws_connections_opened_total"), upgraded),
        ("closed clean_remote", got("sansio_ws_connections_closed_total{cause=\"clean_remote\"}"), upgraded),
        ("refused bad_request", got("sansio_ws_requests_refused_total{reason=\"bad_request\"}"), refused),
    ];
    let wrong: Vec<String> = checks
        .iter()
        .filter(|(_, got, want)| got != want)
        .map(|(name, got, want)| format!("{name} {got} (want {want})"))
        .collect();
    let pass = wrong.is_empty();
    let figures = format!(
        "{cycles} connections in {:.1} s ({upgraded} upgraded and closed, {refused} refused with 400, {dropped} dropped at once): {}",
        elapsed.as_secs_f64(),
        if pass { "every count exact, nothing left open".to_string() } else { format!("WRONG: {}", wrong.join(", ")) }
    );
    Ok(Verdict { pass, figures })
}
