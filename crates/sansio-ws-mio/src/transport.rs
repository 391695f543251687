//! A socket, plain or under TLS: plaintext in, plaintext out, whatever goes over the wire.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;

use mio::net::TcpStream;

/// What one read gave.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// This many plaintext bytes.
    Data(usize),
    /// Nothing more for now.
    WouldBlock,
    /// The peer's orderly end: TCP EOF (plain), `close_notify` (TLS), or a failed socket.
    Eof,
    /// TLS only: the TCP stream ended (or was reset) without `close_notify`.
    #[cfg(feature = "tls")]
    Truncated,
    /// TLS only: the TLS layer failed (a bad record, a refused certificate, an alert); the alert
    /// to the peer, if any, is queued.
    #[cfg(feature = "tls")]
    TlsFailed(rustls::Error),
}

/// A connection's socket and, under TLS, its rustls connection.
pub(crate) struct Transport {
    pub(crate) sock: TcpStream,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<Box<rustls::Connection>>,
    /// Our write side is to be shut once what is queued has gone (TLS records after close_notify).
    shutting: bool,
    shut: bool,
    /// Raw bytes read from the socket (TLS records included).
    pub(crate) raw_read: u64,
}

impl Transport {
    pub(crate) fn plain(sock: TcpStream) -> Self {
        Transport {
            sock,
            #[cfg(feature = "tls")]
            tls: None,
            shutting: false,
            shut: false,
            raw_read: 0,
        }
    }

    #[cfg(feature = "tls")]
    pub(crate) fn tls(sock: TcpStream, tls: rustls::Connection) -> Self {
        Transport { tls: Some(Box::new(tls)), ..Transport::plain(sock) }
    }

    /// Reads plaintext into `buf`.
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Incoming {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            return read_tls(&mut self.sock, tls, buf, &mut self.raw_read);
        }
        match self.sock.read(buf) {
            Ok(0) => Incoming::Eof,
            Ok(n) => {
                self.raw_read += n as u64;
                Incoming::Data(n)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Incoming::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Incoming::Data(0),
            Err(_) => Incoming::Eof,
        }
    }

    /// Writes plaintext from `bufs`: returns how much was taken, or `WouldBlock` when the socket
    /// (or the TLS records waiting for it) takes nothing now. Adds the bytes that went to the
    /// socket to `written`.
    pub(crate) fn write(&mut self, bufs: &[IoSlice<'_>], written: &mut u64) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            if flush_tls(&mut self.sock, tls, written)? {
                return Err(io::ErrorKind::WouldBlock.into());
            }
            let taken = tls.writer().write_vectored(bufs)?;
            // Records out at once where the socket takes them; the rest waits for the next flush.
            flush_tls(&mut self.sock, tls, written)?;
            return if taken == 0 { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(taken) };
        }
        loop {
            match self.sock.write_vectored(bufs) {
                Ok(0) if bufs.iter().any(|b| !b.is_empty()) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    *written += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes what the TLS layer has queued (handshake messages, records, alerts), then shuts
    /// the write side if that was asked for and nothing is left. Returns whether bytes remain.
    pub(crate) fn flush(&mut self, written: &mut u64) -> io::Result<bool> {
        #[cfg(not(feature = "tls"))]
        let _ = written;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            if flush_tls(&mut self.sock, tls, written)? {
                return Ok(true);
            }
        }
        if self.shutting && !self.shut {
            self.shut = true;
            let _ = self.sock.shutdown(Shutdown::Write);
        }
        Ok(false)
    }

    /// Ends our side: under TLS `close_notify` first (after everything queued), then the TCP
    /// write side, once the records have gone.
    pub(crate) fn shutdown_write(&mut self, written: &mut u64) {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
        }
        self.shutting = true;
        let _ = self.flush(written);
    }

    /// Whether the TLS handshake is still going on (never for a plain socket).
    pub(crate) fn is_handshaking(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref() {
            return tls.is_handshaking();
        }
        false
    }
}

/// Plaintext from a TLS connection: what rustls holds, else more records from the socket.
#[cfg(feature = "tls")]
fn read_tls(sock: &mut TcpStream, tls: &mut rustls::Connection, buf: &mut [u8], raw: &mut u64) -> Incoming {
    loop {
        match tls.reader().read(buf) {
            // close_notify: the peer's orderly end.
            Ok(0) if !buf.is_empty() => return Incoming::Eof,
            Ok(n) => return Incoming::Data(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            // TCP ended without close_notify.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Incoming::Truncated,
            Err(_) => return Incoming::Eof,
        }
        match tls.read_tls(sock) {
            // The TCP end: the reader says next whether close_notify came first.
            Ok(0) => {}
            Ok(n) => {
                *raw += n as u64;
                if let Err(e) = tls.process_new_packets() {
                    return Incoming::TlsFailed(e);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Incoming::WouldBlock,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A reset: without close_notify, so a truncation.
            Err(_) => return Incoming::Truncated,
        }
    }
}

/// Writes the records rustls has queued; returns whether some remain (the socket is full).
#[cfg(feature = "tls")]
fn flush_tls(sock: &mut TcpStream, tls: &mut rustls::Connection, written: &mut u64) -> io::Result<bool> {
    while tls.wants_write() {
        match tls.write_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *written += n as u64,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}
