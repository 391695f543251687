//! Header fields as received, and the small pieces of HTTP/1.1 grammar (RFC 7230 §3.2) the
//! handshake needs: tokens, comma-separated lists, field values and status lines.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

/// One header field as received: the name as the peer spelled it and the raw value bytes, with
/// leading and trailing whitespace removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The field name, in the case the peer sent it (names compare case-insensitively).
    pub name: String,
    /// The field value. HTTP allows bytes outside ASCII here, so it is kept as bytes; see
    /// [`Header::value_str`].
    pub value: Vec<u8>,
}

impl Header {
    /// The value as text, or `None` if it is not UTF-8.
    pub fn value_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.value).ok()
    }
}

/// The header fields of a request or response, in the order they were received. Repeated fields
/// are kept as separate entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Header>,
}

impl Headers {
    /// An empty list.
    pub fn new() -> Self {
        Headers { fields: Vec::new() }
    }

    /// Appends a field.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.fields.push(Header { name: name.into(), value: value.into() });
    }

    /// The number of fields (repeated fields count once each).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields in order.
    pub fn iter(&self) -> core::slice::Iter<'_, Header> {
        self.fields.iter()
    }

    /// The value of the first field called `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.get_all(name).next()
    }

    /// The value of the first field called `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// The values of every field called `name`, in order.
    pub fn get_all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a [u8]> {
        self.fields.iter().filter(move |h| h.name.eq_ignore_ascii_case(name)).map(|h| h.value.as_slice())
    }

    /// How many fields are called `name`.
    pub fn count(&self, name: &str) -> usize {
        self.get_all(name).count()
    }

    /// Copies the fields httparse found.
    pub(crate) fn from_parsed(parsed: &[httparse::Header<'_>]) -> Self {
        let fields =
            parsed.iter().map(|h| Header { name: String::from(h.name), value: trim_ows(h.value).to_vec() }).collect();
        Headers { fields }
    }

    /// Whether any element of the comma-separated lists in the fields called `name` equals
    /// `token`, ignoring ASCII case.
    pub(crate) fn list_contains(&self, name: &str, token: &str) -> bool {
        self.get_all(name).flat_map(list_elements).any(|e| e.eq_ignore_ascii_case(token.as_bytes()))
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = core::slice::Iter<'a, Header>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// The first two items of `iter`: enough to tell "absent", "once" and "repeated" apart.
pub(crate) fn first_two<T>(mut iter: impl Iterator<Item = T>) -> (Option<T>, Option<T>) {
    let first = iter.next();
    (first, iter.next())
}

/// `tchar` of RFC 7230 §3.2.6.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token = 1*tchar`.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// `OWS = *( SP / HTAB )`.
pub(crate) fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Removes optional whitespace at both ends.
pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !is_ows(*first) {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !is_ows(*last) {
            break;
        }
        s = rest;
    }
    s
}

/// The non-empty elements of a `#rule` list (RFC 7230 §7), whitespace trimmed. Empty elements
/// (`a, , b`) are skipped as §7 asks of recipients.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

/// Whether `value` can be sent as a field value: visible characters, spaces and tabs (and UTF-8
/// text above ASCII), no control characters, in particular no CR or LF that would end the field.
pub(crate) fn is_valid_field_value(value: &str) -> bool {
    value.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The reason phrase this crate writes for `status`; empty (which HTTP allows) for codes it does
/// not name.
pub(crate) fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends `HTTP/1.1 <status> <reason>\r\n`.
pub(crate) fn write_status_line(out: &mut Vec<u8>, status: u16) {
    let mut line = String::with_capacity(40);
    // Writing into a String cannot fail.
    let _ = write!(line, "HTTP/1.1 {status} {}\r\n", reason_phrase(status));
    out.extend_from_slice(line.as_bytes());
}

/// Appends `name: value\r\n`. The caller has checked both.
pub(crate) fn write_field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Why an application-supplied header field cannot be sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FieldProblem {
    /// The name is not a token.
    Name,
    /// The value contains CR, LF or another control character.
    Value,
    /// The name is one this crate writes itself.
    Reserved,
}

/// Checks an application-supplied field against the grammar and the list of names the caller
/// writes itself.
pub(crate) fn check_extra_field(name: &str, value: &str, reserved: &[&str]) -> Result<(), FieldProblem> {
    if !is_token(name.as_bytes()) {
        return Err(FieldProblem::Name);
    }
    if !is_valid_field_value(value) {
        return Err(FieldProblem::Value);
    }
    if reserved.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(FieldProblem::Reserved);
    }
    Ok(())
}

/// A short description of an httparse error.
pub(crate) fn httparse_problem(e: httparse::Error) -> &'static str {
    match e {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token in the start line",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid HTTP version",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_elements_trim_and_skip_empty() {
        let v: Vec<&[u8]> = list_elements(b" a ,, b\t,c,").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn trim_ows_both_ends() {
        assert_eq!(trim_ows(b" \t x y \t"), b"x y");
        assert_eq!(trim_ows(b"   "), b"");
    }

    #[test]
    fn headers_lookup_is_case_insensitive_and_ordered() {
        let mut h = Headers::new();
        h.push("X-A", "1");
        h.push("x-a", "2");
        h.push("Y", "3");
        assert_eq!(h.get("x-A"), Some(&b"1"[..]));
        assert_eq!(h.get_all("X-a").collect::<Vec<_>>(), [&b"1"[..], b"2"]);
        assert_eq!(h.count("x-a"), 2);
        assert_eq!(h.get_str("missing"), None);
    }

    #[test]
    fn field_checks() {
        assert_eq!(check_extra_field("X-Ok", "fine value", &[]), Ok(()));
        assert_eq!(check_extra_field("Bad Name", "v", &[]), Err(FieldProblem::Name));
        assert_eq!(check_extra_field("X", "a\r\nInjected: 1", &[]), Err(FieldProblem::Value));
        assert_eq!(check_extra_field("upgrade", "x", &["Upgrade"]), Err(FieldProblem::Reserved));
    }
}
