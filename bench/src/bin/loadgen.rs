//! Load generator for the loopback echo comparison: opens N connections, performs the opening
//! handshake (no extensions offered), then keeps a window of pre-encoded masked binary frames in
//! flight on each connection and counts the echoes (each checked: opcode, length, first and last
//! byte). With `--window 1 --conns 1` it also reports round-trip latency percentiles.
//!
//! `loadgen ADDR --conns 64 --size 16 --window 32 --secs 5 [--pid SERVER_PID] [--idle] [--tls CA.pem]`
//!
//! `--idle` only opens the connections, prints `ready`, and holds them until stdin closes.
//! `--tls CA.pem` speaks TLS (rustls, the server's name taken as `localhost`, verified against
//! that CA) under the WebSocket. `--handshakes N` opens and closes N connections one after the
//! other instead, and reports handshakes per second (TCP, TLS if asked for, the upgrade).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{self, BufRead, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};
use sansio_ws_bench::{Rng, encode_frame};

struct Args {
    addr: SocketAddr,
    conns: usize,
    size: usize,
    window: usize,
    secs: f64,
    warmup: f64,
    pid: Option<u32>,
    idle: bool,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    handshakes: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        addr: "127.0.0.1:9001".parse().unwrap(),
        conns: 1,
        size: 16,
        window: 1,
        secs: 5.0,
        warmup: 1.0,
        pid: None,
        idle: false,
        tls: None,
        handshakes: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = || it.next().expect("a value");
        match arg.as_str() {
            "--conns" => a.conns = val().parse().unwrap(),
            "--size" => a.size = val().parse().unwrap(),
            "--window" => a.window = val().parse().unwrap(),
            "--secs" => a.secs = val().parse().unwrap(),
            "--warmup" => a.warmup = val().parse().unwrap(),
            "--pid" => a.pid = Some(val().parse().unwrap()),
            "--idle" => a.idle = true,
            "--handshakes" => a.handshakes = val().parse().unwrap(),
            "--tls" => {
                let ca = std::path::PathBuf::from(val());
                let roots =
                    sansio_ws_mio::tls::roots_from_pem_file(rustls::RootCertStore::empty(), &ca).expect("the CA");
                a.tls = Some(sansio_ws_mio::tls::client_config(roots));
            }
            other => a.addr = other.parse().expect("an address"),
        }
    }
    a
}

/// A connection's stream, plain or under TLS.
enum Io {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Read for Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.read(buf),
            Io::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Io {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Plain(s) => s.write(buf),
            Io::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Io::Plain(s) => s.flush(),
            Io::Tls(s) => s.flush(),
        }
    }
}

/// Opens a connection and completes the client handshake; returns bytes read past the response.
fn connect(addr: SocketAddr, tls: Option<&std::sync::Arc<rustls::ClientConfig>>) -> io::Result<(Io, Vec<u8>)> {
    let s = TcpStream::connect(addr)?;
    s.set_nodelay(true)?;
    let mut s = match tls {
        None => Io::Plain(s),
        Some(config) => {
            let conn = rustls::ClientConnection::new(config.clone(), "localhost".try_into().unwrap())
                .map_err(io::Error::other)?;
            Io::Tls(Box::new(rustls::StreamOwned::new(conn, s)))
        }
    };
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed during handshake"));
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]);
            if !head.starts_with("HTTP/1.1 101") {
                return Err(io::Error::other(format!("handshake refused: {head}")));
            }
            if head.to_ascii_lowercase().contains("sec-websocket-extensions") {
                return Err(io::Error::other("an extension was negotiated"));
            }
            return Ok((s, buf[end + 4..].to_vec()));
        }
    }
}

struct Conn {
    sock: MioStream,
    /// Under TLS: the client connection (records in and out of `sock`).
    tls: Option<rustls::ClientConnection>,
    out: Vec<u8>,
    out_pos: usize,
    inp: Vec<u8>,
    in_pos: usize,
    in_flight: usize,
    /// Payload bytes of the echo being received so far.
    msg_len: usize,
    sent_at: Option<Instant>,
}

/// Plaintext from a TLS connection: what rustls holds, else more records from the socket.
fn read_tls(tls: &mut rustls::ClientConnection, sock: &mut MioStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            other => return other,
        }
        if tls.read_tls(sock)? == 0 {
            return Ok(0);
        }
        tls.process_new_packets().map_err(io::Error::other)?;
    }
}

/// `--handshakes N`: connections opened (TCP, TLS, upgrade) and closed one after the other.
fn handshakes(a: &Args) -> io::Result<()> {
    let cpu0 = a.pid.map_or(0, cpu_ticks);
    let start = Instant::now();
    for _ in 0..a.handshakes {
        let (mut io, _) = connect(a.addr, a.tls.as_ref())?;
        // A Close 1000, masked; the server answers and ends the connection.
        io.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])?;
        io.flush()?;
        let mut sink = [0u8; 64];
        while matches!(io.read(&mut sink), Ok(n) if n > 0) {}
    }
    let elapsed = start.elapsed().as_secs_f64();
    print!("handshakes={} per_s={:.0}", a.handshakes, a.handshakes as f64 / elapsed);
    if let Some(pid) = a.pid {
        let cpu_s = (cpu_ticks(pid) - cpu0) as f64 / clock_ticks_per_sec() as f64;
        print!(" server_cpu_us/handshake={:.0}", cpu_s * 1e6 / a.handshakes as f64);
    }
    println!();
    Ok(())
}

/// CPU time (user + system, clock ticks) of a process.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the server's /proc stat");
    // Fields after the command name (which is in parentheses): state is field 3; utime 14, stime 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn clock_ticks_per_sec() -> u64 {
    std::env::var("CLK_TCK").ok().and_then(|v| v.parse().ok()).unwrap_or(100)
}

fn main() -> io::Result<()> {
    let a = parse_args();
    let mut conns = Vec::with_capacity(a.conns);
    let mut poll = Poll::new()?;
    if a.handshakes > 0 {
        return handshakes(&a);
    }
    for i in 0..a.conns {
        let (io, extra) = connect(a.addr, a.tls.as_ref())?;
        assert!(extra.is_empty(), "data before the first message");
        let (s, tls) = match io {
            Io::Plain(s) => (s, None),
            Io::Tls(stream) => {
                let rustls::StreamOwned { conn, sock } = *stream;
                (sock, Some(conn))
            }
        };
        s.set_nonblocking(true)?;
        let mut sock = MioStream::from_std(s);
        poll.registry().register(&mut sock, Token(i), Interest::READABLE | Interest::WRITABLE)?;
        conns.push(Conn {
            sock,
            tls,
            out: Vec::new(),
            out_pos: 0,
            inp: Vec::new(),
            in_pos: 0,
            in_flight: 0,
            msg_len: 0,
            sent_at: None,
        });
    }
    if a.idle {
        println!("ready {}", conns.len());
        io::stdout().flush()?;
        // Hold the connections until stdin closes.
        for _ in io::stdin().lock().lines() {}
        return Ok(());
    }

    let mut rng = Rng::new(7);
    let payload = sansio_ws_bench::binary(&mut rng, a.size);
    let mut frame = Vec::new();
    encode_frame(&mut frame, true, 2, &payload, Some(rng.mask()));
    let (first, last) = (payload[0], payload[a.size - 1]);

    for c in &mut conns {
        for _ in 0..a.window {
            c.out.extend_from_slice(&frame);
        }
        c.in_flight = a.window;
        c.sent_at = Some(Instant::now());
    }

    let start = Instant::now();
    let warm_end = start + Duration::from_secs_f64(a.warmup);
    let end = warm_end + Duration::from_secs_f64(a.secs);
    let mut measuring = false;
    let mut echoes: u64 = 0;
    let mut cpu0 = 0;
    let mut latencies: Vec<u32> = Vec::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let now = Instant::now();
        if !measuring && now >= warm_end {
            measuring = true;
            echoes = 0;
            latencies.clear();
            cpu0 = a.pid.map_or(0, cpu_ticks);
        }
        if now >= end {
            break;
        }
        poll.poll(&mut events, Some(Duration::from_millis(10)))?;
        for ev in &events {
            let c = &mut conns[ev.token().0];
            // Read everything available and count complete echoes.
            loop {
                let read = match c.tls.as_mut() {
                    None => c.sock.read(&mut buf),
                    Some(tls) => read_tls(tls, &mut c.sock, &mut buf),
                };
                match read {
                    Ok(0) => panic!("server closed the connection"),
                    Ok(n) => c.inp.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            // Count complete echoes; a server may send a long message as several frames.
            let mut got = 0;
            loop {
                let h = &c.inp[c.in_pos..];
                if h.len() < 2 {
                    break;
                }
                let (len, hl) = match h[1] & 0x7f {
                    126 if h.len() >= 4 => (u16::from_be_bytes([h[2], h[3]]) as usize, 4),
                    127 if h.len() >= 10 => (u64::from_be_bytes(h[2..10].try_into().unwrap()) as usize, 10),
                    126 | 127 => break,
                    n => (n as usize, 2),
                };
                if h.len() < hl + len {
                    break;
                }
                assert_eq!(h[1] & 0x80, 0, "echo: a server frame must not be masked");
                let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
                let p = &h[hl..hl + len];
                if c.msg_len == 0 {
                    assert_eq!(opcode, 2, "echo: not a binary message");
                    assert!(len == 0 || p[0] == first, "echo: payload differs");
                } else {
                    assert_eq!(opcode, 0, "echo: expected a continuation");
                }
                c.msg_len += len;
                if fin {
                    assert_eq!(c.msg_len, a.size, "echo: length differs");
                    assert!(len == 0 || p[len - 1] == last, "echo: payload differs");
                    c.msg_len = 0;
                    got += 1;
                }
                c.in_pos += hl + len;
            }
            if c.in_pos > 0 && (c.in_pos == c.inp.len() || c.in_pos > (1 << 20)) {
                c.inp.drain(..c.in_pos);
                c.in_pos = 0;
            }
            if got > 0 {
                if measuring {
                    echoes += got as u64;
                    if a.window == 1 {
                        latencies.push(c.sent_at.unwrap().elapsed().as_nanos() as u32);
                    }
                }
                c.in_flight -= got;
                for _ in 0..got {
                    c.out.extend_from_slice(&frame);
                }
                c.in_flight += got;
                c.sent_at = Some(Instant::now());
            }
            // Write what is pending (under TLS: as plaintext into rustls, then its records out).
            // rustls takes a bounded amount of plaintext at a time: feed it and write its records
            // out until the socket is full (readiness is edge-triggered: no event comes otherwise).
            if let Some(tls) = c.tls.as_mut() {
                'feed: loop {
                    if c.out_pos < c.out.len() {
                        c.out_pos += tls.writer().write(&c.out[c.out_pos..])?;
                    }
                    if !tls.wants_write() {
                        break;
                    }
                    while tls.wants_write() {
                        match tls.write_tls(&mut c.sock) {
                            Ok(_) => {}
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break 'feed,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
            }
            while c.tls.is_none() && c.out_pos < c.out.len() {
                match c.sock.write(&c.out[c.out_pos..]) {
                    Ok(n) => c.out_pos += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if c.out_pos == c.out.len() {
                c.out.clear();
                c.out_pos = 0;
            }
        }
    }
    let elapsed = a.secs;
    let rate = echoes as f64 / elapsed;
    print!(
        "conns={} size={} window={} msgs/s={:.0} payload_MB/s={:.1}",
        a.conns,
        a.size,
        a.window,
        rate,
        rate * a.size as f64 / 1e6
    );
    if let Some(pid) = a.pid {
        let ticks = cpu_ticks(pid) - cpu0;
        let cpu_s = ticks as f64 / clock_ticks_per_sec() as f64;
        print!(" server_cpu_s={cpu_s:.2} server_cpu_ns/msg={:.0}", cpu_s * 1e9 / echoes.max(1) as f64);
    }
    if !latencies.is_empty() {
        latencies.sort_unstable();
        let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize] as f64 / 1000.0;
        print!(" rtt_p50_us={:.1} rtt_p99_us={:.1}", pct(0.50), pct(0.99));
    }
    println!();
    Ok(())
}
