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

    #[test]
    fn each_field_problem_is_checked_in_turn() {
        // A bad name is reported before a bad value, a bad value before a reserved name.
        assert_eq!(check_extra_field("", "v", &[]), Err(FieldProblem::Name));
        assert_eq!(check_extra_field("Bad:Name", "a\nb", &["Bad:Name"]), Err(FieldProblem::Name));
        assert_eq!(check_extra_field("Upgrade", "a\nb", &["upgrade"]), Err(FieldProblem::Value));
        assert_eq!(check_extra_field("X-Mine", "v", &["Upgrade", "Connection"]), Ok(()));
        assert_eq!(check_extra_field("CONNECTION", "", &["Upgrade", "Connection"]), Err(FieldProblem::Reserved));
    }

    #[test]
    fn tchar_is_a_visible_character_other_than_a_delimiter() {
        // RFC 7230 §3.2.6: a token is any VCHAR (0x21..=0x7E) except the delimiters
        // DQUOTE and "(),/:;<=>?@[\]{}"; no space, control, DEL or byte above ASCII.
        let delimiters = b"\"(),/:;<=>?@[\\]{}";
        for b in 0..=255u8 {
            let expected = (0x21..=0x7E).contains(&b) && !delimiters.contains(&b);
            assert_eq!(is_tchar(b), expected, "byte {b:#04x}");
        }
        assert!(is_tchar(b'!') && is_tchar(b'~') && is_tchar(b'0') && is_tchar(b'z') && is_tchar(b'Z'));
    }

    #[test]
    fn a_token_is_one_or_more_tchars() {
        assert!(is_token(b"websocket"));
        assert!(is_token(b"x"));
        assert!(is_token(b"permessage-deflate"));
        assert!(!is_token(b""));
        assert!(!is_token(b"a b"));
        assert!(!is_token(b"a,"));
        assert!(!is_token(b"/a"));
        assert!(!is_token(b"\xC3\xA9"));
    }

    #[test]
    fn ows_is_space_or_horizontal_tab_only() {
        // RFC 7230 §3.2.3: OWS = *( SP / HTAB ).
        for b in 0..=255u8 {
            assert_eq!(is_ows(b), b == 0x20 || b == 0x09, "byte {b:#04x}");
        }
    }

    #[test]
    fn trim_ows_keeps_everything_between_the_first_and_last_visible_byte() {
        assert_eq!(trim_ows(b""), b"");
        assert_eq!(trim_ows(b"x"), b"x");
        assert_eq!(trim_ows(b"\tx"), b"x");
        assert_eq!(trim_ows(b"x "), b"x");
        assert_eq!(trim_ows(b"a \t b"), b"a \t b");
        // CR, LF and other controls are not OWS.
        assert_eq!(trim_ows(b"\rx\n"), b"\rx\n");
    }

    #[test]
    fn list_elements_split_on_commas_only() {
        let v: Vec<&[u8]> = list_elements(b"Upgrade").collect();
        assert_eq!(v, [&b"Upgrade"[..]]);
        let v: Vec<&[u8]> = list_elements(b"keep-alive, Upgrade").collect();
        assert_eq!(v, [&b"keep-alive"[..], b"Upgrade"]);
        let v: Vec<&[u8]> = list_elements(b"a;b=1 , c d").collect();
        assert_eq!(v, [&b"a;b=1"[..], b"c d"]);
        assert_eq!(list_elements(b"").count(), 0);
        assert_eq!(list_elements(b" , ,\t,").count(), 0);
    }

    #[test]
    fn field_values_exclude_controls_but_allow_tab_space_and_text() {
        // RFC 7230 §3.2: field-content is VCHAR, obs-text (here UTF-8 text), SP and HTAB.
        for b in 0..0x80u8 {
            let s = [b];
            let value = core::str::from_utf8(&s).unwrap();
            let expected = b == b'\t' || (0x20..=0x7E).contains(&b);
            assert_eq!(is_valid_field_value(value), expected, "byte {b:#04x}");
        }
        assert!(is_valid_field_value(""));
        assert!(is_valid_field_value("caf\u{e9} \u{2603}\tok"));
        assert!(!is_valid_field_value("ok\r\nInjected: 1"));
        assert!(!is_valid_field_value("ok\u{7f}"));
    }

    #[test]
    fn headers_len_iteration_and_values() {
        let mut h = Headers::new();
        assert!(h.is_empty());
        assert_eq!(h.len(), 0);
        assert_eq!(h.iter().count(), 0);
        h.push("A", "1");
        assert!(!h.is_empty());
        assert_eq!(h.len(), 1);
        h.push("B", &b"\xFF"[..]);
        h.push("a", "three");
        assert_eq!(h.len(), 3);
        let names: Vec<&str> = h.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "a"]);
        let names: Vec<&str> = (&h).into_iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A", "B", "a"]);
        assert_eq!(h.get("b"), Some(&b"\xFF"[..]));
        assert_eq!(h.get("c"), None);
        assert_eq!(h.get_str("A"), Some("1"));
        assert_eq!(h.get_str("B"), None, "not UTF-8");
        assert_eq!(h.count("A"), 2);
        assert_eq!(h.count("B"), 1);
        assert_eq!(h.count("C"), 0);
        assert_eq!(h.get_all("c").count(), 0);
        let first = h.iter().next().unwrap();
        assert_eq!(first.value_str(), Some("1"));
        assert_eq!(h.iter().nth(1).unwrap().value_str(), None);
        assert_eq!(h.iter().nth(2).unwrap().value_str(), Some("three"));
    }

    #[test]
    fn parsed_fields_keep_order_and_case_and_lose_surrounding_whitespace() {
        let parsed = [
            httparse::Header { name: "Upgrade", value: b" websocket\t" },
            httparse::Header { name: "connection", value: b"Upgrade" },
            httparse::Header { name: "X-Empty", value: b"  " },
        ];
        let h = Headers::from_parsed(&parsed);
        assert_eq!(h.len(), 3);
        let fields: Vec<(&str, &[u8])> = h.iter().map(|f| (f.name.as_str(), f.value.as_slice())).collect();
        assert_eq!(fields, [("Upgrade", &b"websocket"[..]), ("connection", b"Upgrade"), ("X-Empty", b"")]);
    }

    #[test]
    fn list_contains_looks_into_every_field_of_that_name() {
        let mut h = Headers::new();
        h.push("Connection", "keep-alive");
        h.push("connection", " foo , UPGRADE ");
        h.push("Other", "websocket");
        assert!(h.list_contains("Connection", "upgrade"));
        assert!(h.list_contains("CONNECTION", "Keep-Alive"));
        assert!(!h.list_contains("Connection", "websocket"));
        assert!(!h.list_contains("Connection", "keep"));
        assert!(!h.list_contains("Missing", "upgrade"));
        assert!(h.list_contains("Other", "websocket"));
    }

    #[test]
    fn first_two_tells_absent_once_and_repeated_apart() {
        assert_eq!(first_two(core::iter::empty::<u8>()), (None, None));
        assert_eq!(first_two([7u8].into_iter()), (Some(7), None));
        assert_eq!(first_two([7u8, 8, 9].into_iter()), (Some(7), Some(8)));
    }

    #[test]
    fn reason_phrases_are_those_of_the_registry() {
        // RFC 7231 §6.1, RFC 7538 §3 (308), RFC 6585 §4 and §5 (429, 431).
        let cases = [
            (101, "Switching Protocols"),
            (200, "OK"),
            (204, "No Content"),
            (301, "Moved Permanently"),
            (302, "Found"),
            (303, "See Other"),
            (307, "Temporary Redirect"),
            (308, "Permanent Redirect"),
            (400, "Bad Request"),
            (401, "Unauthorized"),
            (403, "Forbidden"),
            (404, "Not Found"),
            (405, "Method Not Allowed"),
            (409, "Conflict"),
            (426, "Upgrade Required"),
            (429, "Too Many Requests"),
            (431, "Request Header Fields Too Large"),
            (500, "Internal Server Error"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (503, "Service Unavailable"),
            (505, "HTTP Version Not Supported"),
        ];
        for (status, reason) in cases {
            assert_eq!(reason_phrase(status), reason, "{status}");
        }
        // Codes without a name here get an empty phrase, which RFC 7230 §3.1.2 allows.
        for status in [100, 199, 299, 418, 499, 599, 999] {
            assert_eq!(reason_phrase(status), "", "{status}");
        }
    }

    #[test]
    fn status_lines_and_fields_are_written_exactly() {
        let mut out = Vec::new();
        write_status_line(&mut out, 101);
        assert_eq!(out, b"HTTP/1.1 101 Switching Protocols\r\n");
        let mut out = b"prefix ".to_vec();
        write_status_line(&mut out, 499);
        // An empty reason phrase keeps the space before it (RFC 7230 §3.1.2).
        assert_eq!(out, b"prefix HTTP/1.1 499 \r\n");
        let mut out = Vec::new();
        write_field(&mut out, "Upgrade", b"websocket");
        write_field(&mut out, "X-Empty", b"");
        assert_eq!(out, b"Upgrade: websocket\r\nX-Empty: \r\n");
    }

    #[test]
    fn each_httparse_error_has_its_own_description() {
        use httparse::Error;
        let cases = [
            (Error::HeaderName, "invalid header name"),
            (Error::HeaderValue, "invalid header value"),
            (Error::NewLine, "invalid line ending"),
            (Error::Status, "invalid status line"),
            (Error::Token, "invalid token in the start line"),
            (Error::TooManyHeaders, "too many header fields"),
            (Error::Version, "invalid HTTP version"),
        ];
        for (e, what) in cases {
            assert_eq!(httparse_problem(e), what, "{e:?}");
        }
    }
}
