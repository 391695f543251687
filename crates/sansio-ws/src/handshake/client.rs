//! The client role: write the opening request (RFC 6455 §4.1) and validate the server's answer.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use alloc::boxed::Box;
use core::time::Duration;

use base64::Engine as _;

use super::extensions::{Extension, ExtensionFormatError, ExtensionParseError, parse_extensions, write_extensions};
use super::head::{HeadLimits, HeadPhase};
use super::headers::{
    FieldProblem, Headers, check_extra_field, first_two, httparse_problem, is_token, is_valid_field_value,
    list_elements, trim_ows, write_field,
};
use super::upgraded::AgreedDeflate;
use super::upgraded::Upgraded;
use super::url::{Target, UrlError};
use super::{DEFAULT_TIMEOUT, PERMESSAGE_DEFLATE, WEBSOCKET_VERSION, accept_key};
#[cfg(feature = "deflate")]
use crate::deflate::{DeflateConfig, DeflateError};
use crate::rand::Randomness;
use crate::{Instant, Role};

/// Settings of a [`ClientHandshake`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Bounds on the response head.
    pub limits: HeadLimits,
    /// The `Origin` header field to send, e.g. `https://app.example` (browsers always send one;
    /// other clients usually do not).
    pub origin: Option<String>,
    /// Subprotocols to offer (`Sec-WebSocket-Protocol`), most preferred first. Each must be a
    /// token, and unique.
    pub subprotocols: Vec<String>,
    /// Extensions to offer (`Sec-WebSocket-Extensions`), in order of preference. The same
    /// extension may be offered several times with different parameters.
    pub extensions: Vec<Extension>,
    /// Extra header fields (e.g. `Authorization`, `Cookie`). The fields the handshake writes
    /// itself are refused.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate (RFC 7692): offered with these settings (after
    /// [`extensions`](Self::extensions)), and the server's answer checked against them; `None`
    /// to not offer it. Default on, with [`DeflateConfig::default`].
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
    /// How long the server may take to answer, from [`ClientHandshake::new`] (so it includes the
    /// time to connect, if the handshake is created before connecting). Default 10 s.
    pub timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            limits: HeadLimits::default(),
            origin: None,
            subprotocols: Vec::new(),
            extensions: Vec::new(),
            headers: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: Some(DeflateConfig::default()),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

with_setters!(ClientConfig {
    with_limits => limits: HeadLimits,
    #[cfg(feature = "deflate")]
    with_deflate => deflate: Option<DeflateConfig>,
    with_timeout => timeout: Duration,
});

impl ClientConfig {
    /// Sets the `Origin` to send.
    #[must_use]
    pub fn with_origin(mut self, origin: impl Into<String>) -> Self {
        self.origin = Some(origin.into());
        self
    }

    /// Adds a subprotocol to offer.
    #[must_use]
    pub fn with_subprotocol(mut self, protocol: impl Into<String>) -> Self {
        self.subprotocols.push(protocol.into());
        self
    }

    /// Adds an extension offer.
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

/// The client side of the opening handshake.
///
/// [`new`](Self::new) checks the URI and configuration and builds the request; send the bytes of
/// [`write_request`](Self::write_request), then feed what the server answers to
/// [`handle_input`](Self::handle_input) until it yields the [`Upgraded`] that becomes the
/// connection. On an error the client fails the connection (§4.1): it closes the TCP connection
/// without sending anything more. [`poll_timeout`](Self::poll_timeout) says until when the answer
/// may take to arrive.
pub struct ClientHandshake {
    target: Target,
    request: Vec<u8>,
    key: String,
    expected_accept: String,
    subprotocols: Vec<String>,
    extensions: Vec<Extension>,
    limits: HeadLimits,
    timeout: Duration,
    #[cfg(feature = "deflate")]
    deflate: Option<DeflateConfig>,
    phase: HeadPhase<ClientHandshakeError>,
    /// The key's generator, handed on to the connection for its masking keys; taken when the
    /// handshake yields its [`Upgraded`].
    rng: Option<Box<dyn Randomness>>,
}

impl fmt::Debug for ClientHandshake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientHandshake")
            .field("target", &self.target)
            .field("key", &self.key)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

/// Fields the client writes itself (or that would announce a request body).
const RESERVED_IN_REQUEST: &[&str] = &[
    "Host",
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Key",
    "Sec-WebSocket-Version",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
    "Origin",
    "Content-Length",
    "Transfer-Encoding",
];

impl ClientHandshake {
    /// Prepares a handshake to `uri` (`ws://` or `wss://`) started at `now`, with the operating
    /// system's random generator for the key and, later, the connection's masking keys.
    ///
    /// Errors are the caller's: an unusable URI or configuration.
    #[cfg(feature = "std")]
    pub fn new(uri: &str, config: ClientConfig, now: Instant) -> Result<Self, RequestError> {
        Self::with_randomness(uri, config, now, Box::new(crate::rand::OsRandom::new()))
    }

    /// Like [`new`](Self::new), drawing the key and the connection's masking keys from `rng`
    /// (required without `std`; reproducible with [`SeededRandom`](crate::rand::SeededRandom)).
    pub fn with_randomness(
        uri: &str,
        config: ClientConfig,
        now: Instant,
        mut rng: Box<dyn Randomness>,
    ) -> Result<Self, RequestError> {
        let target = Target::parse(uri).map_err(RequestError::Url)?;
        if let Some(origin) = &config.origin {
            if origin.is_empty() || !is_valid_field_value(origin) {
                return Err(RequestError::InvalidHeaderValue { name: "Origin".to_string() });
            }
        }
        for (i, p) in config.subprotocols.iter().enumerate() {
            if !is_token(p.as_bytes()) {
                return Err(RequestError::InvalidSubprotocol { protocol: p.clone() });
            }
            if config.subprotocols[..i].contains(p) {
                return Err(RequestError::DuplicateSubprotocol { protocol: p.clone() });
            }
        }
        if config.extensions.iter().any(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE)) {
            return Err(RequestError::DeflateInExtensions);
        }
        #[cfg_attr(not(feature = "deflate"), allow(unused_mut))]
        let mut offers = config.extensions;
        #[cfg(feature = "deflate")]
        if let Some(deflate) = &config.deflate {
            offers.push(deflate.offer());
        }
        let mut extensions = String::new();
        write_extensions(&offers, &mut extensions).map_err(RequestError::InvalidExtension)?;
        for (name, value) in &config.headers {
            check_extra_field(name, value, RESERVED_IN_REQUEST).map_err(|p| match p {
                FieldProblem::Name => RequestError::InvalidHeaderName { name: name.clone() },
                FieldProblem::Value => RequestError::InvalidHeaderValue { name: name.clone() },
                FieldProblem::Reserved => RequestError::ReservedHeader { name: name.clone() },
            })?;
        }

        let mut raw = [0u8; 16];
        rng.fill(&mut raw);
        let key = base64::engine::general_purpose::STANDARD.encode(raw);
        let expected_accept = accept_key(key.as_bytes());

        let mut request = Vec::with_capacity(256);
        request.extend_from_slice(b"GET ");
        request.extend_from_slice(target.resource().as_bytes());
        request.extend_from_slice(b" HTTP/1.1\r\n");
        write_field(&mut request, "Host", target.host_header().as_bytes());
        write_field(&mut request, "Upgrade", b"websocket");
        write_field(&mut request, "Connection", b"Upgrade");
        write_field(&mut request, "Sec-WebSocket-Key", key.as_bytes());
        write_field(&mut request, "Sec-WebSocket-Version", WEBSOCKET_VERSION.as_bytes());
        if let Some(origin) = &config.origin {
            write_field(&mut request, "Origin", origin.as_bytes());
        }
        if !config.subprotocols.is_empty() {
            write_field(&mut request, "Sec-WebSocket-Protocol", config.subprotocols.join(", ").as_bytes());
        }
        if !extensions.is_empty() {
            write_field(&mut request, "Sec-WebSocket-Extensions", extensions.as_bytes());
        }
        for (name, value) in &config.headers {
            write_field(&mut request, name, value.as_bytes());
        }
        request.extend_from_slice(b"\r\n");

        Ok(ClientHandshake {
            target,
            request,
            key,
            expected_accept,
            subprotocols: config.subprotocols,
            extensions: offers,
            limits: config.limits,
            timeout: config.timeout,
            #[cfg(feature = "deflate")]
            deflate: config.deflate,
            phase: HeadPhase::new(&config.limits, now + config.timeout),
            rng: Some(rng),
        })
    }

    /// Feeds bytes read from the connection, in pieces of any size.
    ///
    /// - `Ok(None)`: the response head is not complete yet; read more (not an error).
    /// - `Ok(Some(upgraded))`: the server accepted; the connection is open. The [`Upgraded`]
    ///   carries the server's response, what was agreed and the bytes after the head (frames the
    ///   server sent at once); [`Upgraded::into_connection`] makes the connection. Give every
    ///   later byte to the connection: a further call here is refused with
    ///   [`ClientHandshakeError::AlreadyUpgraded`].
    /// - `Err(e)`: fail the connection. Every later call returns the same error.
    pub fn handle_input(&mut self, data: &[u8]) -> Result<Option<Upgraded>, ClientHandshakeError> {
        if self.phase.is_done() {
            return Err(ClientHandshakeError::AlreadyUpgraded);
        }
        let limit = self.limits.max_head_size;
        // The phase is taken out for the call so that `parse_response` can borrow the rest.
        let mut phase = core::mem::replace(&mut self.phase, HeadPhase::new(&self.limits, Instant::MAX));
        let result =
            phase.feed(data, || ClientHandshakeError::HeadTooLarge { limit }, |head| self.parse_response(head));
        let upgraded = result.map(|done| {
            done.map(|(response, deflate)| Upgraded {
                role: Role::Client,
                response: Vec::new(),
                subprotocol: response.subprotocol.clone(),
                extensions: response.extensions.clone(),
                deflate,
                trailing: phase.take_trailing(),
                rng: self.rng.take(),
                server_response: Some(response),
            })
        });
        self.phase = phase;
        upgraded
    }

    /// Until when the server's answer may take to arrive: call
    /// [`handle_timeout`](Self::handle_timeout) then. `None` once the answer is complete (or the
    /// handshake failed).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.phase.deadline()
    }

    /// The deadline of [`poll_timeout`](Self::poll_timeout) may have passed. Past it, while the
    /// answer is still incomplete, the handshake fails with [`ClientHandshakeError::Timeout`].
    /// Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), ClientHandshakeError> {
        let after = self.timeout;
        self.phase.handle_timeout(now, || ClientHandshakeError::Timeout { after })
    }

    /// Appends the opening request to `out`. It is the same every time; send it once.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.request);
    }

    /// The URI being connected to.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the handshake has yielded its [`Upgraded`].
    pub fn is_done(&self) -> bool {
        self.phase.is_done()
    }

    /// The validated response, with the permessage-deflate parameters its answer agreed.
    fn parse_response(&self, head: &[u8]) -> Result<(Response, AgreedDeflate), ClientHandshakeError> {
        let mut slots = vec![httparse::EMPTY_HEADER; self.limits.max_headers];
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(head) {
            Ok(httparse::Status::Complete(n)) if n == head.len() => {}
            Ok(_) => return Err(ClientHandshakeError::Malformed { what: "unexpected blank line" }),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ClientHandshakeError::TooManyHeaders { limit: self.limits.max_headers });
            }
            Err(e) => return Err(ClientHandshakeError::Malformed { what: httparse_problem(e) }),
        }
        let (Some(version), Some(status)) = (parsed.version, parsed.code) else {
            return Err(ClientHandshakeError::Malformed { what: "incomplete status line" });
        };
        let reason = parsed.reason.unwrap_or("").to_string();
        let headers = Headers::from_parsed(parsed.headers);

        // §4.1 step 1: anything but 101 is handled by the application per HTTP.
        if status != 101 {
            return Err(ClientHandshakeError::Rejected(RejectedResponse { status, reason, headers }));
        }
        if version < 1 {
            return Err(ClientHandshakeError::UnsupportedHttpVersion);
        }
        // Step 2: Upgrade is exactly `websocket`.
        match first_two(headers.get_all("Upgrade").flat_map(list_elements)) {
            (Some(v), None) if v.eq_ignore_ascii_case(b"websocket") => {}
            _ => return Err(ClientHandshakeError::MissingUpgrade),
        }
        // Step 3.
        if !headers.list_contains("Connection", "upgrade") {
            return Err(ClientHandshakeError::MissingConnectionUpgrade);
        }
        // Step 4.
        match first_two(headers.get_all("Sec-WebSocket-Accept")) {
            (None, _) => return Err(ClientHandshakeError::MissingAccept),
            (Some(_), Some(_)) => return Err(ClientHandshakeError::RepeatedHeader { name: "Sec-WebSocket-Accept" }),
            (Some(v), None) if trim_ows(v) == self.expected_accept.as_bytes() => {}
            (Some(_), None) => return Err(ClientHandshakeError::WrongAccept),
        }
        // Step 5: every extension in use was offered, each at most once.
        let mut extensions: Vec<Extension> = Vec::new();
        for value in headers.get_all("Sec-WebSocket-Extensions") {
            for e in parse_extensions(value).map_err(ClientHandshakeError::InvalidExtensions)? {
                if !self.extensions.iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                    return Err(ClientHandshakeError::ExtensionNotOffered { name: e.name });
                }
                if extensions.iter().any(|o| o.name.eq_ignore_ascii_case(&e.name)) {
                    return Err(ClientHandshakeError::DuplicateExtension { name: e.name });
                }
                extensions.push(e);
            }
        }
        // Step 6: at most one subprotocol, one that was offered.
        let subprotocol = match first_two(headers.get_all("Sec-WebSocket-Protocol")) {
            (None, _) => None,
            (Some(_), Some(_)) => return Err(ClientHandshakeError::RepeatedHeader { name: "Sec-WebSocket-Protocol" }),
            (Some(v), None) => {
                let p = String::from_utf8_lossy(v).into_owned();
                if !self.subprotocols.contains(&p) {
                    return Err(ClientHandshakeError::SubprotocolNotOffered { protocol: p });
                }
                Some(p)
            }
        };
        let deflate = self.agreed_deflate(&extensions)?;
        Ok((Response { status, headers, subprotocol, extensions }, deflate))
    }

    /// Checks the server's permessage-deflate answer, if any, against the offer.
    #[cfg(feature = "deflate")]
    fn agreed_deflate(&self, extensions: &[Extension]) -> Result<AgreedDeflate, ClientHandshakeError> {
        let answer = extensions.iter().find(|e| e.name.eq_ignore_ascii_case(PERMESSAGE_DEFLATE));
        match (answer, self.deflate) {
            (Some(answer), Some(deflate)) => {
                let params = deflate.accept_response(answer).map_err(ClientHandshakeError::Deflate)?;
                Ok(Some((params, deflate)))
            }
            // Not offered: the check against the offers has refused it already.
            _ => Ok(None),
        }
    }

    #[cfg(not(feature = "deflate"))]
    fn agreed_deflate(&self, _: &[Extension]) -> Result<AgreedDeflate, ClientHandshakeError> {
        Ok(None)
    }
}

/// The server's `101 Switching Protocols`, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Headers,
    subprotocol: Option<String>,
    extensions: Vec<Extension>,
}

impl Response {
    /// The status code (always 101).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// All header fields, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The first header field called `name` (case-insensitive), if present and UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The subprotocol the server chose, one of those offered.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The extensions in use, with the server's parameters, in order. Each was offered.
    pub fn extensions(&self) -> &[Extension] {
        &self.extensions
    }
}

/// A response other than `101`: the server declined the upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedResponse {
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields. The body, if any, is not read.
    pub headers: Headers,
}

impl RejectedResponse {
    /// The `Location` of a redirect (3xx), if given. Following it (with a new handshake) is up
    /// to the application.
    pub fn location(&self) -> Option<&str> {
        if (300..400).contains(&self.status) { self.headers.get_str("Location") } else { None }
    }
}

/// Why the client fails the connection: the server's answer is not an acceptable handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientHandshakeError {
    /// The response head did not end within [`HeadLimits::max_head_size`] bytes.
    HeadTooLarge {
        /// The limit.
        limit: usize,
    },
    /// The response has more than [`HeadLimits::max_headers`] fields.
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The response is not valid HTTP/1.x.
    Malformed {
        /// What is wrong.
        what: &'static str,
    },
    /// The server answered with a status other than 101 (an error, authentication, a redirect).
    Rejected(RejectedResponse),
    /// A 101 over HTTP/1.0.
    UnsupportedHttpVersion,
    /// `Upgrade` is missing or not exactly `websocket`.
    MissingUpgrade,
    /// `Connection` does not contain `Upgrade`.
    MissingConnectionUpgrade,
    /// There is no `Sec-WebSocket-Accept`.
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key sent.
    WrongAccept,
    /// A field that must appear at most once is repeated.
    RepeatedHeader {
        /// The field name.
        name: &'static str,
    },
    /// The server chose a subprotocol the client did not offer (or a list of them).
    SubprotocolNotOffered {
        /// The value received.
        protocol: String,
    },
    /// `Sec-WebSocket-Extensions` does not follow §9.1.
    InvalidExtensions(ExtensionParseError),
    /// The server uses an extension the client did not offer.
    ExtensionNotOffered {
        /// Its name.
        name: String,
    },
    /// The server lists the same extension twice.
    DuplicateExtension {
        /// Its name.
        name: String,
    },
    /// The server's permessage-deflate answer does not fit the offer (RFC 7692 §7.1).
    #[cfg(feature = "deflate")]
    Deflate(DeflateError),
    /// The answer did not arrive within [`ClientConfig::timeout`].
    Timeout {
        /// The timeout in force.
        after: Duration,
    },
    /// Bytes were given to the handshake after it had yielded its [`Upgraded`]: they belong to
    /// the connection (this side's mistake, not the server's).
    AlreadyUpgraded,
}

impl ClientHandshakeError {
    /// The redirect target, when the server answered with a 3xx and a `Location`.
    pub fn location(&self) -> Option<&str> {
        match self {
            ClientHandshakeError::Rejected(r) => r.location(),
            _ => None,
        }
    }

    /// The status code, when the server answered with something other than 101.
    pub fn rejected_status(&self) -> Option<u16> {
        match self {
            ClientHandshakeError::Rejected(r) => Some(r.status),
            _ => None,
        }
    }
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::HeadTooLarge { limit } => write!(f, "the response head is larger than {limit} bytes"),
            ClientHandshakeError::TooManyHeaders { limit } => {
                write!(f, "the response has more than {limit} header fields")
            }
            ClientHandshakeError::Malformed { what } => write!(f, "malformed HTTP response: {what}"),
            ClientHandshakeError::Rejected(r) => write!(f, "the server refused the upgrade: {} {}", r.status, r.reason),
            ClientHandshakeError::UnsupportedHttpVersion => f.write_str("a 101 response must be HTTP/1.1 or later"),
            ClientHandshakeError::MissingUpgrade => f.write_str("the Upgrade header field is not websocket"),
            ClientHandshakeError::MissingConnectionUpgrade => {
                f.write_str("the Connection header field does not contain Upgrade")
            }
            ClientHandshakeError::MissingAccept => f.write_str("the Sec-WebSocket-Accept header field is missing"),
            ClientHandshakeError::WrongAccept => f.write_str("Sec-WebSocket-Accept does not match the key sent"),
            ClientHandshakeError::RepeatedHeader { name } => {
                write!(f, "the {name} header field appears more than once")
            }
            ClientHandshakeError::SubprotocolNotOffered { protocol } => {
                write!(f, "the server chose subprotocol {protocol:?}, which was not offered")
            }
            ClientHandshakeError::InvalidExtensions(e) => write!(f, "invalid Sec-WebSocket-Extensions: {e}"),
            ClientHandshakeError::ExtensionNotOffered { name } => {
                write!(f, "the server uses extension {name:?}, which was not offered")
            }
            ClientHandshakeError::DuplicateExtension { name } => write!(f, "the server lists extension {name:?} twice"),
            #[cfg(feature = "deflate")]
            ClientHandshakeError::Deflate(e) => write!(f, "unacceptable permessage-deflate answer: {e}"),
            ClientHandshakeError::Timeout { after } => write!(f, "the server did not answer within {after:?}"),
            ClientHandshakeError::AlreadyUpgraded => {
                f.write_str("the handshake is over: bytes after the response belong to the connection")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClientHandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientHandshakeError::InvalidExtensions(e) => Some(e),
            #[cfg(feature = "deflate")]
            ClientHandshakeError::Deflate(e) => Some(e),
            _ => None,
        }
    }
}

/// The client's request cannot be built: an unusable URI or configuration (the caller's mistake).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The URI is not a usable `ws://` or `wss://` URI.
    Url(UrlError),
    /// An extra header field name is not a token.
    InvalidHeaderName {
        /// The name.
        name: String,
    },
    /// A header field value (an extra field or `Origin`) is empty where it cannot be, or contains
    /// CR, LF or another control character.
    InvalidHeaderValue {
        /// The field name.
        name: String,
    },
    /// An extra header field is one the handshake writes itself.
    ReservedHeader {
        /// The field name.
        name: String,
    },
    /// A subprotocol is not a token.
    InvalidSubprotocol {
        /// The subprotocol.
        protocol: String,
    },
    /// A subprotocol is listed twice.
    DuplicateSubprotocol {
        /// The subprotocol.
        protocol: String,
    },
    /// An extension offer cannot be written.
    InvalidExtension(ExtensionFormatError),
    /// permessage-deflate was put in [`ClientConfig::extensions`]: the handshake offers it
    /// itself, from [`ClientConfig::deflate`], so that the connection compresses as agreed.
    DeflateInExtensions,
}

impl From<UrlError> for RequestError {
    fn from(e: UrlError) -> Self {
        RequestError::Url(e)
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Url(e) => write!(f, "invalid WebSocket URI: {e}"),
            RequestError::InvalidHeaderName { name } => write!(f, "header field name {name:?} is not a token"),
            RequestError::InvalidHeaderValue { name } => write!(f, "the value of header field {name} is not valid"),
            RequestError::ReservedHeader { name } => write!(f, "header field {name} is written by the handshake"),
            RequestError::InvalidSubprotocol { protocol } => write!(f, "subprotocol {protocol:?} is not a token"),
            RequestError::DuplicateSubprotocol { protocol } => write!(f, "subprotocol {protocol:?} is listed twice"),
            RequestError::InvalidExtension(e) => write!(f, "cannot write the extension offers: {e}"),
            RequestError::DeflateInExtensions => {
                f.write_str("permessage-deflate is offered by the handshake (ClientConfig::deflate), not in extensions")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RequestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RequestError::Url(e) => Some(e),
            RequestError::InvalidExtension(e) => Some(e),
            _ => None,
        }
    }
}
