//! The server role: read and validate the client's opening handshake (RFC 6455 §4.2.1), then
//! answer it with `101 Switching Protocols` (§4.2.2) or an HTTP error.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64::Engine as _;

use super::extensions::{Extension, ExtensionFormatError, ExtensionParseError, parse_extensions, write_extensions};
use super::head::{HeadLimits, HeadPhase};
use super::headers::{
    FieldProblem, Headers, check_extra_field, first_two, httparse_problem, is_tchar, is_token, list_elements,
    write_field, write_status_line,
};
use super::origin::{OriginPolicy, split_authority};
use super::upgraded::{AgreedDeflate, Upgraded};
use super::{DEFAULT_TIMEOUT, PERMESSAGE_DEFLATE, WEBSOCKET_VERSION, accept_key};
#[cfg(feature = "deflate")]
use crate::deflate::DeflateConfig;
use crate::{Instant, Role};

/// Settings of a [`ServerHandshake`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Bounds on the request head.
    pub limits: HeadLimits,
    /// Which `Origin`s are accepted; [`OriginPolicy::SameHost`] by default.
    pub origin_policy: OriginPolicy,
    /// permessage-deflate (RFC 7692): accept a client's offer with these settings, or `None` to
    /// decline every offer. Default on, with [`DeflateConfig::default`].
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// How long the request head may take to arrive, from [`ServerHandshake::new`]; a client that
    /// connects and sends nothing, or a byte now and then, gets a `408` then. Default 10 s.
    pub timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            limits: HeadLimits::default(),
            origin_policy: OriginPolicy::default(),
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateConfig::default()),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

with_setters!(ServerConfig {
    with_limits => limits: HeadLimits,
    with_origin_policy => origin_policy: OriginPolicy,
    #[cfg(feature = "deflate")]
    with_deflate => deflate: Option<DeflateConfig>,
    with_timeout => timeout: Duration,
});

/// The server side of the opening handshake: feed it bytes until it yields a validated
/// [`Request`], then answer with [`accept`](Self::accept) (which gives the [`Upgraded`] that
/// becomes the connection) or [`Reject::write`].
///
/// On an error, write [`HandshakeError::write_response`] to the peer and close the connection.
/// [`poll_timeout`](Self::poll_timeout) says until when the request may take to arrive.
#[derive(Debug)]
pub struct ServerHandshake {
    config: ServerConfig,
    phase: HeadPhase<HandshakeError>,
    /// Path of a well-formed GET without any `Upgrade` field.
    plain_get: Option<String>,
    /// How far the first bytes are known to start an HTTP request line.
    start: RequestStart,
}

/// The judgement of a request's first bytes, made as they arrive, so that a peer speaking
/// something else (TLS, another protocol, noise) is refused at once instead of at the deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RequestStart {
    /// This many bytes of the method token seen so far, no space yet.
    Method(usize),
    /// A method token and a space: the rest is for the parser of the whole head.
    Plausible,
}

/// The longest method token waited for before the first space (the longest registered HTTP
/// method is 17 bytes).
const MAX_METHOD_LEN: usize = 24;

impl RequestStart {
    /// Judges the next bytes of the input; `Err` once they cannot start a request line. Only
    /// the first `max_head_size` bytes are judged: past them the head is too large whatever they
    /// are, so the outcome does not depend on how the input is split.
    fn judge(&mut self, data: &[u8], max_head_size: usize) -> Result<(), HandshakeError> {
        for &b in data {
            let RequestStart::Method(seen) = *self else { return Ok(()) };
            if seen >= max_head_size {
                return Ok(());
            }
            *self = match b {
                b' ' if seen > 0 => RequestStart::Plausible,
                // A TLS record of type handshake (RFC 8446 §5.1): a ClientHello.
                0x16 if seen == 0 => return Err(HandshakeError::TlsOnPlainText),
                b if is_tchar(b) && seen < MAX_METHOD_LEN => RequestStart::Method(seen + 1),
                _ => return Err(HandshakeError::NotHttp),
            };
        }
        Ok(())
    }
}

impl ServerHandshake {
    /// A handshake waiting for the first byte of a request, on a connection accepted at `now`
    /// (the [`timeout`](ServerConfig::timeout) counts from it).
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        let phase = HeadPhase::new(&config.limits, now + config.timeout);
        ServerHandshake { config, phase, plain_get: None, start: RequestStart::Method(0) }
    }

    /// Feeds bytes read from the connection, in pieces of any size.
    ///
    /// - `Ok(None)`: the head is not complete yet; read more (this is not an error).
    /// - `Ok(Some(request))`: a complete, valid WebSocket request; answer it with
    ///   [`accept`](Self::accept) or a [`Reject`]. Bytes that followed its head are kept for the
    ///   connection ([`Upgraded::trailing`]); input given after this point is added to them and
    ///   `Ok(None)` is returned.
    /// - `Err(e)`: the request is refused; send [`HandshakeError::write_response`] and close.
    ///   Every later call returns the same error. Bytes that cannot start a request line (a TLS
    ///   ClientHello, binary noise) are refused as soon as they arrive, not at the deadline.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<Option<Request>, HandshakeError> {
        let ServerHandshake { config, phase, plain_get, start } = self;
        let limit = config.limits.max_head_size;
        if phase.is_reading() {
            if let Err(e) = start.judge(data, limit) {
                return Err(phase.fail(e));
            }
        }
        phase.feed(
            data,
            || HandshakeError::HeadTooLarge { limit },
            |head| {
                let result = parse_request(head, config);
                if let Err(HandshakeError::MissingUpgrade) = result {
                    *plain_get = plain_get_path(head);
                }
                result
            },
        )
    }

    /// Until when the request head may take to arrive: call
    /// [`handle_timeout`](Self::handle_timeout) then. `None` once the head is complete (or the
    /// handshake failed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.phase.deadline()
    }

    /// The deadline of [`poll_timeout`](Self::poll_timeout) may have passed. Past it, while the
    /// head is still incomplete, the handshake fails with [`HandshakeError::Timeout`] (answer it
    /// with [`HandshakeError::write_response`], a `408`, and close). Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), HandshakeError> {
        let after = self.config.timeout;
        self.phase.handle_timeout(now, || HandshakeError::Timeout { after })
    }

    /// Accepts `request` (the one [`handle_input`](Self::handle_input) returned) with the
    /// subprotocol, extensions and header fields of `accept`, and negotiates permessage-deflate
    /// when [`ServerConfig::deflate`] is set. The [`Upgraded`] holds the `101` response, what was
    /// agreed, and the bytes the client sent after its request; turn it into the connection with
    /// [`Upgraded::into_connection`].
    ///
    /// Errors are misuse by the application (a subprotocol or extension the client did not offer,
    /// an invalid or reserved header field, permessage-deflate in `accept` instead of in the
    /// configuration); answer the client with a `500` ([`Reject`]) then.
    pub fn accept(self, request: &Request, mut accept: Accept) -> Result<Upgraded, AcceptError> {
        let ServerHandshake { config, mut phase, .. } = self;
        let negotiated = negotiate_deflate(&config, request, &mut accept)?;
        let mut response = Vec::with_capacity(160);
        request.write_accept(&accept, &mut response)?;
        Ok(Upgraded {
            role: Role::Server,
            response,
            subprotocol: accept.subprotocol,
            extensions: accept.extensions,
            deflate: negotiated,
            trailing: phase.take_trailing(),
            rng: None,
            server_response: None,
        })
    }

    /// Whether a request has been returned.
    pub fn is_done(&self) -> bool {
        self.phase.is_done()
    }

    /// The settings this handshake was created with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// After [`HandshakeError::MissingUpgrade`]: if the request was an ordinary HTTP `GET` with no
    /// `Upgrade` field at all, its path (without the query). A server that also serves pages (a
    /// demo's HTML, a health check) may answer it with a [`Reject`] carrying a 200 and a body
    /// instead of the 400.
    pub fn plain_http_path(&self) -> Option<&str> {
        self.plain_get.as_deref()
    }
}

/// The path of a GET request without an `Upgrade` field.
fn plain_get_path(head: &[u8]) -> Option<String> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut slots);
    parsed.parse(head).ok()?;
    if parsed.method != Some("GET") || parsed.headers.iter().any(|h| h.name.eq_ignore_ascii_case("upgrade")) {
        return None;
    }
    let (path, _) = split_target(parsed.path?)?;
    Some(path)
}

/// The server's permessage-deflate choice, added to `accept`'s extensions: the parameters and the
/// settings to run with, or `None`.
#[cfg(feature = "deflate")]
fn negotiate_deflate(
    config: &ServerConfig,
    request: &Request,
    accept: &mut Accept,
) -> Result<AgreedDeflate, AcceptError> {
    if accept.extensions.iter().any(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)) {
        return Err(AcceptError::DeflateInAccept);
    }
    let Some(deflate) = config.deflate else { return Ok(None) };
    let Some((answer, params)) = deflate.negotiate(request.extensions()) else { return Ok(None) };
    accept.extensions.push(answer);
    Ok(Some((params, deflate)))
}

#[cfg(not(feature = "deflate"))]
fn negotiate_deflate(_: &ServerConfig, _: &Request, accept: &mut Accept) -> Result<AgreedDeflate, AcceptError> {
    if accept.extensions.iter().any(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)) {
        return Err(AcceptError::DeflateInAccept);
    }
    Ok(None)
}

/// A validated WebSocket opening request.
///
/// It can only be obtained from [`ServerHandshake::handle_input`], so every accessor returns data
/// that passed the checks of RFC 6455 §4.2.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    method: String,
    target: String,
    path: String,
    query: Option<String>,
    headers: Headers,
    host: String,
    origin: Option<String>,
    key: String,
    subprotocols: Vec<String>,
    extensions: Vec<Extension>,
}

impl Request {
    /// Writes the `101 Switching Protocols` response that accepts this request, with the
    /// subprotocol, extensions and extra header fields of `accept`, appending to `out`.
    ///
    /// Errors are misuse by the application (a subprotocol or extension the client did not offer,
    /// an invalid or reserved header field); nothing is written then.
    fn write_accept(&self, accept: &Accept, out: &mut Vec<u8>) -> Result<(), AcceptError> {
        if let Some(p) = &accept.subprotocol {
            if !self.subprotocols.iter().any(|o| o == p) {
                return Err(AcceptError::SubprotocolNotOffered { protocol: p.clone() });
            }
        }
        for (i, e) in accept.extensions.iter().enumerate() {
            if !self.extensions.iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                return Err(AcceptError::ExtensionNotOffered { name: e.name.clone() });
            }
            if accept.extensions[..i].iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                return Err(AcceptError::DuplicateExtension { name: e.name.clone() });
            }
        }
        let mut extensions = String::new();
        write_extensions(&accept.extensions, &mut extensions).map_err(AcceptError::InvalidExtension)?;
        check_fields(&accept.headers, RESERVED_IN_101)?;

        write_status_line(out, 101);
        write_field(out, "Upgrade", b"websocket");
        write_field(out, "Connection", b"Upgrade");
        write_field(out, "Sec-WebSocket-Accept", accept_key(self.key.as_bytes()).as_bytes());
        if let Some(p) = &accept.subprotocol {
            write_field(out, "Sec-WebSocket-Protocol", p.as_bytes());
        }
        if !extensions.is_empty() {
            write_field(out, "Sec-WebSocket-Extensions", extensions.as_bytes());
        }
        for (name, value) in &accept.headers {
            write_field(out, name, value.as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }

    /// The request method (always `GET`).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent: a path with optional query, or an absolute `http(s)` URI.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The path of the target (the part before `?`), not percent-decoded. Always starts with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query of the target (after `?`, without it), not percent-decoded.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// All header fields, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first header field called `name` (case-insensitive), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The `Host` header field: `host[:port]`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The `Origin` header field, present for browser clients; it passed the
    /// [`OriginPolicy`].
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The `Sec-WebSocket-Key` header field (base64 of 16 bytes).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order of preference.
    pub fn subprotocols(&self) -> &[String] {
        &self.subprotocols
    }

    /// The extensions the client offered (`Sec-WebSocket-Extensions`), in order.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }
}

/// What the application accepts: written by [`ServerHandshake::accept`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Accept {
    /// The subprotocol chosen among [`Request::subprotocols`], if any.
    pub subprotocol: Option<String>,
    /// The extensions accepted, with the parameters of the response, in the order they apply.
    /// Each must have been offered (by name), at most once. permessage-deflate is not among them:
    /// the handshake negotiates it from [`ServerConfig::deflate`].
    pub extensions: Vec<Extension>,
    /// Extra header fields (e.g. `Set-Cookie`). The fields the handshake writes itself are
    /// refused.
    pub headers: Vec<(String, String)>,
}

impl Accept {
    /// Accepts with no subprotocol, no extension and no extra header field.
    pub fn new() -> Self {
        Accept::default()
    }

    /// Sets the chosen subprotocol.
    #[must_use]
    pub fn with_subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocol = Some(protocol.into());
        self
    }

    /// Adds an accepted extension.
    #[must_use]
    pub fn with_extension(mut self, extension: Extension) -> Self {
        self.extensions.push(extension);
        self
    }

    /// Adds an extra header field.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A refusal chosen by the application after reading a valid request (authentication failed, a
/// redirect, the server is busy): written by [`Reject::write`] with `Connection: close` and a
/// `Content-Length` for the body.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reject {
    /// The status code, 200 to 599.
    pub status: u16,
    /// Extra header fields, e.g. `Location` or `WWW-Authenticate`.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reject {
    /// A refusal with this status, no extra field and an empty body.
    pub fn new(status: u16) -> Self {
        Reject { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header field.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Appends the response to `out`. Errors (a status outside 200..=599, an invalid or reserved
    /// header field) are application misuse; nothing is written then.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), AcceptError> {
        if !(200..=599).contains(&self.status) {
            return Err(AcceptError::InvalidStatus { status: self.status });
        }
        check_fields(&self.headers, RESERVED_IN_REJECT)?;
        let extra: Vec<(&str, &str)> = self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        write_closing_response(out, self.status, "close", &extra, &self.body);
        Ok(())
    }
}

/// Fields [`ServerHandshake::accept`] writes itself.
const RESERVED_IN_101: &[&str] = &[
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Content-Length",
    "Transfer-Encoding",
];

/// Fields [`Reject::write`] writes itself.
const RESERVED_IN_REJECT: &[&str] = &["Connection", "Content-Length", "Transfer-Encoding"];

fn check_fields(fields: &[(String, String)], reserved: &[&str]) -> Result<(), AcceptError> {
    for (name, value) in fields {
        check_extra_field(name, value, reserved).map_err(|p| match p {
            FieldProblem::Name => AcceptError::InvalidHeaderName { name: name.clone() },
            FieldProblem::Value => AcceptError::InvalidHeaderValue { name: name.clone() },
            FieldProblem::Reserved => AcceptError::ReservedHeader { name: name.clone() },
        })?;
    }
    Ok(())
}

/// Appends a complete response that ends the connection.
fn write_closing_response(out: &mut Vec<u8>, status: u16, connection: &str, extra: &[(&str, &str)], body: &[u8]) {
    write_status_line(out, status);
    write_field(out, "Connection", connection.as_bytes());
    write_field(out, "Content-Length", body.len().to_string().as_bytes());
    for (name, value) in extra {
        write_field(out, name, value.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Parses and validates a complete request head.
fn parse_request(head: &[u8], config: &ServerConfig) -> Result<Request, HandshakeError> {
    let mut slots = vec![httparse::EMPTY_HEADER; config.limits.max_headers];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(head) {
        Ok(httparse::Status::Complete(n)) if n == head.len() => {}
        // The head reader found `\r\n\r\n` but httparse ended elsewhere: a bare LF blank line
        // earlier, or blank lines before the request line.
        Ok(_) => return Err(HandshakeError::Malformed { what: "unexpected blank line" }),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HandshakeError::TooManyHeaders { limit: config.limits.max_headers });
        }
        Err(e) => return Err(HandshakeError::Malformed { what: httparse_problem(e) }),
    }
    let (Some(method), Some(target), Some(version)) = (parsed.method, parsed.path, parsed.version) else {
        return Err(HandshakeError::Malformed { what: "incomplete request line" });
    };
    let headers = Headers::from_parsed(parsed.headers);

    // §4.2.1 item 1: an HTTP/1.1 or higher GET request.
    if method != "GET" {
        return Err(HandshakeError::MethodNotAllowed { method: method.to_string() });
    }
    if version < 1 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let (path, query) = split_target(target).ok_or(HandshakeError::InvalidTarget)?;

    // Item 2: Host (RFC 7230 §5.4: exactly one, valid).
    let host = single_text(&headers, "Host")?.ok_or(HandshakeError::MissingHost)?;
    if split_authority(host).is_none() {
        return Err(HandshakeError::InvalidHost);
    }

    // A body would make the bytes after the head ambiguous (frames or body?).
    if headers.count("Transfer-Encoding") > 0 || headers.get_all("Content-Length").any(|v| v != b"0") {
        return Err(HandshakeError::UnexpectedBody);
    }

    // Items 3 and 4.
    if !headers.list_contains("Upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !headers.list_contains("Connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }

    // Item 6, checked before the key so that clients of other versions (whose keys may differ)
    // get the 426 that tells them which version to use.
    match first_two(headers.get_all("Sec-WebSocket-Version")) {
        (None, _) => return Err(HandshakeError::MissingVersion),
        (Some(_), Some(_)) => return Err(HandshakeError::RepeatedHeader { name: "Sec-WebSocket-Version" }),
        (Some(v), None) if v == WEBSOCKET_VERSION.as_bytes() => {}
        (Some(v), None) => {
            return Err(HandshakeError::UnsupportedVersion { version: String::from_utf8_lossy(v).into_owned() });
        }
    }

    // Item 5.
    let key = single_text(&headers, "Sec-WebSocket-Key")?.ok_or(HandshakeError::MissingKey)?;
    match base64::engine::general_purpose::STANDARD.decode(key) {
        Ok(raw) if raw.len() == 16 => {}
        _ => return Err(HandshakeError::InvalidKey),
    }

    // Item 8 (optional): subprotocols, a list of unique tokens (§4.1 item 10).
    let mut subprotocols: Vec<String> = Vec::new();
    for element in headers.get_all("Sec-WebSocket-Protocol").flat_map(list_elements) {
        let protocol = String::from_utf8_lossy(element).into_owned();
        if !is_token(element) {
            return Err(HandshakeError::InvalidSubprotocol { protocol });
        }
        if subprotocols.contains(&protocol) {
            return Err(HandshakeError::DuplicateSubprotocol { protocol });
        }
        subprotocols.push(protocol);
    }

    // Item 9 (optional): extensions.
    let mut extensions = Vec::new();
    for value in headers.get_all("Sec-WebSocket-Extensions") {
        extensions.extend(parse_extensions(value).map_err(HandshakeError::InvalidExtensions)?);
    }

    // Item 7 (optional): Origin, checked against the policy.
    let origin = single_text(&headers, "Origin")?;
    if let Some(origin) = origin {
        if !config.origin_policy.allows(origin, host) {
            return Err(HandshakeError::OriginRefused { origin: origin.to_string() });
        }
    }

    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        path,
        query,
        host: host.to_string(),
        origin: origin.map(str::to_string),
        key: key.to_string(),
        subprotocols,
        extensions,
        headers,
    })
}

/// The value of a field that may appear at most once, as text.
fn single_text<'a>(headers: &'a Headers, name: &'static str) -> Result<Option<&'a str>, HandshakeError> {
    let first = match first_two(headers.get_all(name)) {
        (None, _) => return Ok(None),
        (Some(_), Some(_)) => return Err(HandshakeError::RepeatedHeader { name }),
        (Some(first), None) => first,
    };
    match core::str::from_utf8(first) {
        Ok(s) if !s.is_empty() => Ok(Some(s)),
        _ => Err(HandshakeError::InvalidHeaderValue { name }),
    }
}

/// Splits an origin-form (`/path?query`) or absolute-form (`http://host/path?query`, also
/// `https`, `ws`, `wss`) request target into path and query.
fn split_target(target: &str) -> Option<(String, Option<String>)> {
    let rest = if target.starts_with('/') {
        target
    } else {
        let (scheme, after) = target.split_once("://")?;
        if !["http", "https", "ws", "wss"].iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
            return None;
        }
        let end = after.find(['/', '?']).unwrap_or(after.len());
        let (authority, rest) = after.split_at(end);
        split_authority(authority)?;
        rest
    };
    if rest.contains('#') {
        return None;
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (rest, None),
    };
    let path = if path.is_empty() { "/".to_string() } else { path.to_string() };
    Some((path, query))
}

/// Why the server refuses a client's opening handshake: the client's fault (or an attacker's).
///
/// Each variant maps to the HTTP status the server answers with ([`status`](Self::status));
/// [`write_response`](Self::write_response) writes the whole answer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head did not end within [`HeadLimits::max_head_size`] bytes. Status 431.
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The head has more than [`HeadLimits::max_headers`] fields. Status 431.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The head is not valid HTTP/1.x. Status 400.
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// The method is not `GET`. Status 405 (with `Allow: GET`).
    MethodNotAllowed {
        /// The method received.
        method: String,
    },
    /// The request is HTTP/1.0; WebSocket needs HTTP/1.1 or later. Status 400.
    UnsupportedHttpVersion,
    /// The request target is neither a path nor an absolute `http(s)`/`ws(s)` URI, or has a
    /// fragment. Status 400.
    InvalidTarget,
    /// There is no `Host` field. Status 400.
    MissingHost,
    /// The `Host` field is not `host[:port]`. Status 400.
    InvalidHost,
    /// A field that must appear at most once (`Host`, `Sec-WebSocket-Key`, `Origin`,
    /// `Sec-WebSocket-Version`) is repeated. Status 400.
    RepeatedHeader {
        /// The field name.
        name: &'static str,
    },
    /// A field is empty or not UTF-8. Status 400.
    InvalidHeaderValue {
        /// The field name.
        name: &'static str,
    },
    /// The request announces a body (`Content-Length` other than 0, or `Transfer-Encoding`).
    /// Status 400.
    UnexpectedBody,
    /// `Upgrade` does not contain `websocket`. Status 400.
    MissingUpgrade,
    /// `Connection` does not contain `Upgrade`. Status 400.
    MissingConnectionUpgrade,
    /// There is no `Sec-WebSocket-Version` field. Status 426 (with `Sec-WebSocket-Version: 13`).
    MissingVersion,
    /// `Sec-WebSocket-Version` is not `13`. Status 426 (with
    /// `Sec-WebSocket-Version: 13`).
    UnsupportedVersion {
        /// The version received.
        version: String,
    },
    /// There is no `Sec-WebSocket-Key` field. Status 400.
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes. Status 400.
    InvalidKey,
    /// An offered subprotocol is not a token. Status 400.
    InvalidSubprotocol {
        /// The element received.
        protocol: String,
    },
    /// A subprotocol is offered twice. Status 400.
    DuplicateSubprotocol {
        /// The repeated subprotocol.
        protocol: String,
    },
    /// `Sec-WebSocket-Extensions` does not follow §9.1. Status 400.
    InvalidExtensions(ExtensionParseError),
    /// The `Origin` is refused by the [`OriginPolicy`]. Status 403.
    OriginRefused {
        /// The origin received.
        origin: String,
    },
    /// The first bytes cannot start an HTTP request line (no method token and space). Status
    /// 400, sent as soon as they arrive.
    NotHttp,
    /// The first byte is that of a TLS record: a client speaking TLS (`wss://`, `https://`) to a
    /// plain-text listener. Status 400 for the record, but
    /// [`write_response`](Self::write_response) writes nothing: a TLS client cannot read an
    /// HTTP answer, so just close.
    TlsOnPlainText,
    /// The request head did not arrive within [`ServerConfig::timeout`]. Status 408.
    Timeout {
        /// The timeout in force.
        after: Duration,
    },
}

impl HandshakeError {
    /// The HTTP status code the server answers with.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge { .. } | HandshakeError::TooManyHeaders { .. } => 431,
            HandshakeError::MethodNotAllowed { .. } => 405,
            HandshakeError::MissingVersion | HandshakeError::UnsupportedVersion { .. } => 426,
            HandshakeError::OriginRefused { .. } => 403,
            HandshakeError::Timeout { .. } => 408,
            _ => 400,
        }
    }

    /// Appends the complete HTTP response refusing the handshake to `out`: the status line,
    /// `Connection: close`, `Content-Length`, the fields the status calls for
    /// (`Sec-WebSocket-Version: 13` and `Upgrade: websocket` for 426, whose `Connection` is then
    /// `Upgrade, close`; `Allow: GET` for 405), and a short text body naming the problem (the
    /// [`Display`](fmt::Display) of the error). Close the connection once it is written.
    pub fn write_response(&self, out: &mut Vec<u8>) {
        if *self == HandshakeError::TlsOnPlainText {
            return;
        }
        let body = format!("{self}\n");
        let status = self.status();
        let mut extra = vec![("Content-Type", "text/plain; charset=utf-8")];
        let connection = match status {
            426 => {
                extra.push(("Upgrade", "websocket"));
                extra.push(("Sec-WebSocket-Version", WEBSOCKET_VERSION));
                // A sender of `Upgrade` must list it in `Connection` (RFC 7230 §6.7).
                "Upgrade, close"
            }
            405 => {
                extra.push(("Allow", "GET"));
                "close"
            }
            _ => "close",
        };
        write_closing_response(out, status, connection, &extra, body.as_bytes());
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::HeadTooLarge { limit } => write!(f, "the request head is larger than {limit} bytes"),
            HandshakeError::TooManyHeaders { limit } => write!(f, "the request has more than {limit} header fields"),
            HandshakeError::Malformed { what } => write!(f, "malformed HTTP request: {what}"),
            HandshakeError::MethodNotAllowed { method } => {
                write!(f, "method {method} is not allowed, a WebSocket handshake uses GET")
            }
            HandshakeError::UnsupportedHttpVersion => f.write_str("a WebSocket handshake needs HTTP/1.1 or later"),
            HandshakeError::InvalidTarget => f.write_str("the request target is not a path or an absolute http URI"),
            HandshakeError::MissingHost => f.write_str("the Host header field is missing"),
            HandshakeError::InvalidHost => f.write_str("the Host header field is not host[:port]"),
            HandshakeError::RepeatedHeader { name } => write!(f, "the {name} header field appears more than once"),
            HandshakeError::InvalidHeaderValue { name } => write!(f, "the {name} header field is empty or not UTF-8"),
            HandshakeError::UnexpectedBody => f.write_str("a WebSocket handshake request must not have a body"),
            HandshakeError::MissingUpgrade => f.write_str("the Upgrade header field does not contain websocket"),
            HandshakeError::MissingConnectionUpgrade => {
                f.write_str("the Connection header field does not contain Upgrade")
            }
            HandshakeError::MissingVersion => f.write_str("the Sec-WebSocket-Version header field is missing"),
            HandshakeError::UnsupportedVersion { version } => {
                write!(f, "WebSocket version {version:?} is not supported, only {WEBSOCKET_VERSION}")
            }
            HandshakeError::MissingKey => f.write_str("the Sec-WebSocket-Key header field is missing"),
            HandshakeError::InvalidKey => f.write_str("Sec-WebSocket-Key is not the base64 encoding of 16 bytes"),
            HandshakeError::InvalidSubprotocol { protocol } => {
                write!(f, "offered subprotocol {protocol:?} is not a token")
            }
            HandshakeError::DuplicateSubprotocol { protocol } => {
                write!(f, "subprotocol {protocol:?} is offered more than once")
            }
            HandshakeError::InvalidExtensions(e) => write!(f, "invalid Sec-WebSocket-Extensions: {e}"),
            HandshakeError::OriginRefused { origin } => write!(f, "origin {origin:?} is not allowed"),
            HandshakeError::Timeout { after } => write!(f, "the request did not arrive within {after:?}"),
            HandshakeError::NotHttp => f.write_str("the first bytes are not an HTTP request line"),
            HandshakeError::TlsOnPlainText => f.write_str("TLS received on a plain-text listener"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::InvalidExtensions(e) => Some(e),
            _ => None,
        }
    }
}

/// The application asked for a response that cannot be sent: its own mistake, not the peer's.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AcceptError {
    /// The chosen subprotocol is not among those the client offered.
    SubprotocolNotOffered {
        /// The chosen subprotocol.
        protocol: String,
    },
    /// An accepted extension was not offered by the client.
    ExtensionNotOffered {
        /// Its name.
        name: String,
    },
    /// An extension is accepted twice.
    DuplicateExtension {
        /// Its name.
        name: String,
    },
    /// An accepted extension cannot be written.
    InvalidExtension(ExtensionFormatError),
    /// An extra header field name is not a token.
    InvalidHeaderName {
        /// The name.
        name: String,
    },
    /// An extra header field value contains CR, LF or another control character.
    InvalidHeaderValue {
        /// The field name.
        name: String,
    },
    /// An extra header field is one the handshake writes itself.
    ReservedHeader {
        /// The field name.
        name: String,
    },
    /// A [`Reject`] status outside 200..=599.
    InvalidStatus {
        /// The status.
        status: u16,
    },
    /// permessage-deflate was put in [`Accept::extensions`]: the handshake negotiates it itself,
    /// from [`ServerConfig::deflate`], so that the connection compresses as agreed.
    DeflateInAccept,
}

impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::SubprotocolNotOffered { protocol } => {
                write!(f, "subprotocol {protocol:?} was not offered by the client")
            }
            AcceptError::ExtensionNotOffered { name } => write!(f, "extension {name:?} was not offered by the client"),
            AcceptError::DuplicateExtension { name } => write!(f, "extension {name:?} is accepted twice"),
            AcceptError::InvalidExtension(e) => write!(f, "cannot write the accepted extensions: {e}"),
            AcceptError::InvalidHeaderName { name } => write!(f, "header field name {name:?} is not a token"),
            AcceptError::InvalidHeaderValue { name } => {
                write!(f, "the value of header field {name} contains a control character")
            }
            AcceptError::ReservedHeader { name } => write!(f, "header field {name} is written by the handshake"),
            AcceptError::InvalidStatus { status } => write!(f, "status {status} cannot refuse a handshake"),
            AcceptError::DeflateInAccept => {
                f.write_str("permessage-deflate is negotiated by the handshake (ServerConfig::deflate), not in Accept")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for AcceptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcceptError::InvalidExtension(e) => Some(e),
            _ => None,
        }
    }
}
