//! Broadcast to many connections spread across the mio driver's loops: the time from
//! `ServerHandle::broadcast` until every client has the whole message, and the server's memory per
//! recipient while a large broadcast waits in every queue (framed once and shared, so it should be
//! the queue entries, not copies of the payload).
//!
//! `broadcast [--conns 10000] [--threads 2]`
//!
//! The process is the server; it runs the clients in a child process of the same binary
//! (`broadcast --clients ADDR N`), so that the server's RSS is its own and each process stays
//! within its descriptor limit. The child reads commands on stdin (`read BYTES`: read that many
//! bytes on every connection, then print `done`) and prints `ready` once every connection is open.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use sansio_ws::connection::{Config, Message, PreparedMessage};
use sansio_ws::handshake::{OriginPolicy, ServerConfig};
use sansio_ws_mio::{ConnId, Ctx, DriverConfig, Handler, Opened, Server};

/// Counts the connections that opened.
struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Handler for Count {
    fn on_open(&mut self, _ctx: &mut Ctx<'_>, _id: ConnId, _opened: &Opened) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--clients") {
        let addr: SocketAddr = args[2].parse().expect("an address");
        let n: usize = args[3].parse().expect("a count");
        return clients(addr, n);
    }
    let mut conns = 10_000usize;
    let mut threads = 2usize;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--conns" => conns = it.next().and_then(|v| v.parse().ok()).expect("--conns N"),
            "--threads" => threads = it.next().and_then(|v| v.parse().ok()).expect("--threads N"),
            other => panic!("unknown argument {other}"),
        }
    }
    let config = DriverConfig::default()
        .with_server(ServerConfig::default().with_origin_policy(OriginPolicy::Any).with_deflate(None))
        .with_connection(Config::default().with_heartbeat(None).with_high_water_mark(usize::MAX))
        .with_max_connections(conns * 2)
        .with_max_handshakes(conns * 2)
        // Shared broadcast buffers are counted once per recipient by the budget: off for this run.
        .with_memory_budget(usize::MAX);
    let frame_size = config.connection.send_frame_size;
    let opened = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = opened.clone();
    let mut server = Server::new(config, threads, move |_| Count(count.clone()))?;
    let addr = server.listen("127.0.0.1:0".parse().unwrap())?;
    let handle = server.handle();
    let running = std::thread::spawn(move || server.run());

    let mut child = Command::new(std::env::current_exe()?)
        .args(["--clients", &addr.to_string(), &conns.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut to_child = child.stdin.take().expect("piped");
    let mut from_child = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut expect = |want: &str| -> io::Result<()> {
        let line = from_child.next().ok_or_else(|| io::Error::other("the clients exited"))??;
        if line != want {
            return Err(io::Error::other(format!("the clients said {line:?}, not {want:?}")));
        }
        Ok(())
    };
    expect("ready")?;
    while opened.load(std::sync::atomic::Ordering::Relaxed) < conns {
        std::thread::sleep(Duration::from_millis(10));
    }
    println!("{conns} connections on {threads} loops");

    // Memory: a 1 MiB broadcast waits in every queue (the clients do not read).
    let big = Message::Binary(vec![7u8; 1 << 20].into());
    let big_wire: usize = PreparedMessage::new(big.clone(), frame_size).frames().iter().map(|f| f.len()).sum();
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_kib();
    handle.broadcast(big).map_err(io::Error::other)?;
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_kib();
    println!(
        "1 MiB broadcast queued on {conns} connections: server RSS {before} KiB -> {after} KiB, {} bytes per recipient",
        (after.saturating_sub(before) * 1024) / conns as u64
    );
    writeln!(to_child, "read {big_wire}")?;
    expect("done")?;

    for size in [16usize, 1024, 64 * 1024] {
        let message = Message::Binary(vec![1u8; size].into());
        let wire: usize = PreparedMessage::new(message.clone(), frame_size).frames().iter().map(|f| f.len()).sum();
        writeln!(to_child, "read {wire}")?;
        std::thread::sleep(Duration::from_millis(200));
        let start = Instant::now();
        handle.broadcast(message).map_err(io::Error::other)?;
        expect("done")?;
        let elapsed = start.elapsed();
        println!(
            "{size} B broadcast: every client had all of it {:.1} ms after the call ({:.0} ns per recipient)",
            elapsed.as_secs_f64() * 1e3,
            elapsed.as_secs_f64() * 1e9 / conns as f64
        );
    }
    drop(to_child);
    child.wait()?;
    handle.shutdown(Duration::from_secs(5)).map_err(io::Error::other)?;
    running.join().expect("the server thread")?;
    Ok(())
}

/// The child: opens `n` connections, then on each `read BYTES` line reads that many bytes on every
/// connection and prints `done`.
fn clients(addr: SocketAddr, n: usize) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut socks = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = TcpStream::connect(addr)?;
        s.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )?;
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte)? == 0 {
                return Err(io::Error::other("closed during the handshake"));
            }
            head.push(byte[0]);
        }
        s.set_nonblocking(true)?;
        let mut sock = MioStream::from_std(s);
        poll.registry().register(&mut sock, Token(i), Interest::READABLE)?;
        socks.push(sock);
    }
    let mut out = io::stdout();
    writeln!(out, "ready")?;
    out.flush()?;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    for line in io::stdin().lock().lines() {
        let line = line?;
        let want: usize = line.strip_prefix("read ").and_then(|v| v.parse().ok()).expect("read BYTES");
        let mut got = vec![0usize; n];
        let mut complete = 0;
        // Whatever is already buffered (no new readiness would say so), then as it comes.
        let mut ready: Vec<usize> = (0..n).collect();
        while complete < n {
            for &i in &ready {
                while got[i] < want {
                    match socks[i].read(&mut buf[..(want - got[i]).min(256 * 1024)]) {
                        Ok(0) => return Err(io::Error::other("a connection closed")),
                        Ok(k) => {
                            got[i] += k;
                            if got[i] == want {
                                complete += 1;
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
            }
            if complete == n {
                break;
            }
            poll.poll(&mut events, Some(Duration::from_secs(10)))?;
            if events.is_empty() {
                return Err(io::Error::other(format!("{} connections waited 10 s for their bytes", n - complete)));
            }
            ready = events.iter().map(|e| e.token().0).filter(|&i| got[i] < want).collect();
        }
        writeln!(out, "done")?;
        out.flush()?;
    }
    Ok(())
}
