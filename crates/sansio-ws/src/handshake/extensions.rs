//! The `Sec-WebSocket-Extensions` header field (RFC 6455 §9.1): parsed offers and a writer.
//!
//! ```text
//! Sec-WebSocket-Extensions = 1#extension
//! extension = token *( ";" param )
//! param     = token [ "=" ( token / quoted-string ) ]
//! ```
//!
//! Optional whitespace is accepted around `,`, `;` and `=`. A field may carry several extensions
//! and the field may be repeated; the handshake concatenates them in order. Negotiating a
//! particular extension (such as permessage-deflate, RFC 7692) is done on these parsed values.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::headers::{is_ows, is_tchar, is_token};

/// One extension of a `Sec-WebSocket-Extensions` list: a name and its parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Extension {
    /// The extension token, e.g. `permessage-deflate`.
    pub name: String,
    /// The parameters, in the order given.
    pub params: Vec<ExtensionParam>,
}

/// A parameter of an [`Extension`]: `name` or `name=value`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtensionParam {
    /// The parameter token, e.g. `client_max_window_bits`.
    pub name: String,
    /// The value, unquoted; `None` for a parameter without `=`.
    pub value: Option<String>,
}

impl Extension {
    /// An extension without parameters.
    pub fn new(name: impl Into<String>) -> Self {
        Extension { name: name.into(), params: Vec::new() }
    }

    /// Adds a parameter without a value.
    #[must_use]
    pub fn with_flag(mut self, name: impl Into<String>) -> Self {
        self.params.push(ExtensionParam { name: name.into(), value: None });
        self
    }

    /// Adds a parameter with a value.
    #[must_use]
    pub fn with_value(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push(ExtensionParam { name: name.into(), value: Some(value.into()) });
        self
    }

    /// The first parameter called `name` (compared case-insensitively).
    pub fn param(&self, name: &str) -> Option<&ExtensionParam> {
        self.params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }
}

/// Parses one `Sec-WebSocket-Extensions` field value.
///
/// Empty list elements (`a, , b`) are skipped (RFC 7230 §7), but a value with no extension at all
/// is an error, as is any other deviation from the grammar. Quoted values are unescaped and, as
/// §9.1 requires, must still be tokens.
///
/// ```
/// use sansio_ws::handshake::parse_extensions;
///
/// let list = parse_extensions(b"permessage-deflate; client_max_window_bits=\"10\", x-foo").unwrap();
/// assert_eq!(list[0].name, "permessage-deflate");
/// assert_eq!(list[0].params[0].value.as_deref(), Some("10"));
/// assert_eq!(list[1].name, "x-foo");
/// ```
pub fn parse_extensions(value: &[u8]) -> Result<Vec<Extension>, ExtensionParseError> {
    Parser { s: value, i: 0 }.list()
}

/// Where and why a `Sec-WebSocket-Extensions` value did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtensionParseError {
    /// Byte offset in the field value where the problem was found.
    pub offset: usize,
    /// What was wrong there.
    pub kind: ExtensionParseErrorKind,
}

/// The kinds of [`ExtensionParseError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionParseErrorKind {
    /// The value lists no extension.
    Empty,
    /// An extension name (a token) was expected.
    ExpectedName,
    /// A parameter name (a token) was expected after `;`.
    ExpectedParamName,
    /// A value (a token or a quoted string) was expected after `=`.
    ExpectedValue,
    /// A quoted string is not closed.
    UnterminatedQuote,
    /// A quoted string contains a control character.
    InvalidQuotedChar,
    /// A quoted value is not a token once unquoted (§9.1).
    QuotedValueNotToken,
    /// A `,` or `;` (or the end) was expected; this byte was found instead.
    Unexpected(u8),
}

impl fmt::Display for ExtensionParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.offset;
        match self.kind {
            ExtensionParseErrorKind::Empty => write!(f, "the extension list is empty"),
            ExtensionParseErrorKind::ExpectedName => write!(f, "expected an extension name at byte {at}"),
            ExtensionParseErrorKind::ExpectedParamName => write!(f, "expected a parameter name at byte {at}"),
            ExtensionParseErrorKind::ExpectedValue => write!(f, "expected a parameter value at byte {at}"),
            ExtensionParseErrorKind::UnterminatedQuote => write!(f, "quoted string opened at byte {at} is not closed"),
            ExtensionParseErrorKind::InvalidQuotedChar => {
                write!(f, "control character in a quoted string at byte {at}")
            }
            ExtensionParseErrorKind::QuotedValueNotToken => {
                write!(f, "quoted value at byte {at} is not a token once unquoted")
            }
            ExtensionParseErrorKind::Unexpected(b) => {
                write!(f, "expected ',' or ';' at byte {at}, found {:?}", char::from(b))
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ExtensionParseError {}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn list(mut self) -> Result<Vec<Extension>, ExtensionParseError> {
        let mut out = Vec::new();
        loop {
            self.skip_ows();
            match self.peek() {
                None => break,
                Some(b',') => {
                    self.i += 1;
                    continue;
                }
                Some(_) => {}
            }
            let name = self.token().ok_or(self.err(ExtensionParseErrorKind::ExpectedName))?;
            let mut ext = Extension::new(name);
            self.skip_ows();
            while self.peek() == Some(b';') {
                self.i += 1;
                self.skip_ows();
                let name = self.token().ok_or(self.err(ExtensionParseErrorKind::ExpectedParamName))?;
                self.skip_ows();
                let mut value = None;
                if self.peek() == Some(b'=') {
                    self.i += 1;
                    self.skip_ows();
                    value = Some(if self.peek() == Some(b'"') {
                        self.quoted()?
                    } else {
                        self.token().ok_or(self.err(ExtensionParseErrorKind::ExpectedValue))?
                    });
                    self.skip_ows();
                }
                ext.params.push(ExtensionParam { name, value });
            }
            out.push(ext);
            match self.peek() {
                None => break,
                Some(b',') => self.i += 1,
                Some(b) => return Err(self.err(ExtensionParseErrorKind::Unexpected(b))),
            }
        }
        if out.is_empty() {
            return Err(ExtensionParseError { offset: 0, kind: ExtensionParseErrorKind::Empty });
        }
        Ok(out)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn err(&self, kind: ExtensionParseErrorKind) -> ExtensionParseError {
        ExtensionParseError { offset: self.i, kind }
    }

    fn skip_ows(&mut self) {
        while self.peek().is_some_and(is_ows) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // Tokens are ASCII.
        (self.i > start).then(|| self.s[start..self.i].iter().map(|&b| char::from(b)).collect())
    }

    /// A quoted-string (RFC 7230 §3.2.6) starting at the current `"`.
    fn quoted(&mut self) -> Result<String, ExtensionParseError> {
        let open = self.i;
        self.i += 1;
        let mut value = Vec::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExtensionParseError { offset: open, kind: ExtensionParseErrorKind::UnterminatedQuote });
                }
                Some(b'"') => {
                    self.i += 1;
                    break;
                }
                Some(b'\\') => {
                    self.i += 1;
                    match self.peek() {
                        None => {
                            return Err(ExtensionParseError {
                                offset: open,
                                kind: ExtensionParseErrorKind::UnterminatedQuote,
                            });
                        }
                        Some(b) if is_quotable(b) => value.push(b),
                        Some(_) => return Err(self.err(ExtensionParseErrorKind::InvalidQuotedChar)),
                    }
                    self.i += 1;
                }
                Some(b) if is_quotable(b) => {
                    value.push(b);
                    self.i += 1;
                }
                Some(_) => return Err(self.err(ExtensionParseErrorKind::InvalidQuotedChar)),
            }
        }
        if !is_token(&value) {
            return Err(ExtensionParseError { offset: open, kind: ExtensionParseErrorKind::QuotedValueNotToken });
        }
        Ok(value.iter().map(|&b| char::from(b)).collect())
    }
}

/// Bytes allowed inside a quoted string, escaped or not: HTAB, SP, VCHAR, obs-text.
fn is_quotable(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Formats `list` as a `Sec-WebSocket-Extensions` field value, appending to `out`:
/// `name; param; param=value, name2`.
///
/// Names must be tokens. Values that are tokens are written bare; other values are written as
/// quoted strings (escaping `"` and `\`). Note that §9.1 requires even quoted values to be tokens,
/// so a strict peer (including [`parse_extensions`]) rejects such values: prefer token values. A
/// value containing a control character or non-ASCII text cannot be written at all. On error
/// `out` is left as it was.
///
/// ```
/// use sansio_ws::handshake::{Extension, write_extensions};
///
/// let mut s = String::new();
/// let offer = [Extension::new("permessage-deflate").with_flag("client_max_window_bits")];
/// write_extensions(&offer, &mut s).unwrap();
/// assert_eq!(s, "permessage-deflate; client_max_window_bits");
/// ```
pub fn write_extensions(list: &[Extension], out: &mut String) -> Result<(), ExtensionFormatError> {
    let start = out.len();
    let result = write_list(list, out);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn write_list(list: &[Extension], out: &mut String) -> Result<(), ExtensionFormatError> {
    for (n, ext) in list.iter().enumerate() {
        if !is_token(ext.name.as_bytes()) {
            return Err(ExtensionFormatError::InvalidName { name: ext.name.clone() });
        }
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&ext.name);
        for p in &ext.params {
            if !is_token(p.name.as_bytes()) {
                return Err(ExtensionFormatError::InvalidParamName {
                    extension: ext.name.clone(),
                    param: p.name.clone(),
                });
            }
            out.push_str("; ");
            out.push_str(&p.name);
            let Some(value) = &p.value else { continue };
            out.push('=');
            if is_token(value.as_bytes()) {
                out.push_str(value);
            } else if value.bytes().all(|b| b == b'\t' || (0x20..0x7f).contains(&b)) {
                out.push('"');
                for c in value.chars() {
                    if c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            } else {
                return Err(ExtensionFormatError::InvalidValue { extension: ext.name.clone(), param: p.name.clone() });
            }
        }
    }
    Ok(())
}

/// An extension list that cannot be written as a header field value.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionFormatError {
    /// An extension name is not a token.
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// A parameter name is not a token.
    InvalidParamName {
        /// The extension it belongs to.
        extension: String,
        /// The offending parameter name.
        param: String,
    },
    /// A parameter value contains a control character or non-ASCII text.
    InvalidValue {
        /// The extension it belongs to.
        extension: String,
        /// The parameter whose value is invalid.
        param: String,
    },
}

impl fmt::Display for ExtensionFormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionFormatError::InvalidName { name } => write!(f, "extension name {name:?} is not a token"),
            ExtensionFormatError::InvalidParamName { extension, param } => {
                write!(f, "parameter name {param:?} of extension {extension} is not a token")
            }
            ExtensionFormatError::InvalidValue { extension, param } => {
                write!(f, "the value of parameter {param} of extension {extension} cannot be written in a header")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ExtensionFormatError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Extension {
        Extension {
            name: name.to_string(),
            params: params
                .iter()
                .map(|(n, v)| ExtensionParam { name: n.to_string(), value: v.map(|v| v.to_string()) })
                .collect(),
        }
    }

    #[test]
    fn accepted_syntax() {
        let cases: &[(&str, Vec<Extension>)] = &[
            ("foo", vec![ext("foo", &[])]),
            ("foo;bar", vec![ext("foo", &[("bar", None)])]),
            (" foo ; bar = 1 ;baz=\"x\" ", vec![ext("foo", &[("bar", Some("1")), ("baz", Some("x"))])]),
            ("a, b;c=d , e", vec![ext("a", &[]), ext("b", &[("c", Some("d"))]), ext("e", &[])]),
            ("a,,b,", vec![ext("a", &[]), ext("b", &[])]),
            ("x;v=\"a\\bc\"", vec![ext("x", &[("v", Some("abc"))])]),
            (
                "permessage-deflate; client_max_window_bits, permessage-deflate; server_max_window_bits=10",
                vec![
                    ext("permessage-deflate", &[("client_max_window_bits", None)]),
                    ext("permessage-deflate", &[("server_max_window_bits", Some("10"))]),
                ],
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(&parse_extensions(input.as_bytes()).unwrap(), expected, "{input}");
        }
    }

    #[test]
    fn rejected_syntax() {
        use ExtensionParseErrorKind::*;
        let cases: &[(&[u8], usize, ExtensionParseErrorKind)] = &[
            (b"", 0, Empty),
            (b" , ", 0, Empty),
            (b"foo bar", 4, Unexpected(b'b')),
            (b";x", 0, ExpectedName),
            (b"foo;", 4, ExpectedParamName),
            (b"foo; =1", 5, ExpectedParamName),
            (b"foo;a=", 6, ExpectedValue),
            (b"foo;a=,", 6, ExpectedValue),
            (b"foo;a=\"1", 6, UnterminatedQuote),
            (b"foo;a=\"1\\", 6, UnterminatedQuote),
            (b"foo;a=\"a b\"", 6, QuotedValueNotToken),
            (b"foo;a=\"\"", 6, QuotedValueNotToken),
            (b"foo;a=\"\x01\"", 7, InvalidQuotedChar),
            (b"foo;a=1 2", 8, Unexpected(b'2')),
            (b"f\xc3\xa9", 1, Unexpected(0xc3)),
            (b"foo;a=b=c", 7, Unexpected(b'=')),
        ];
        for (input, offset, kind) in cases {
            let err = parse_extensions(input).unwrap_err();
            assert_eq!(err, ExtensionParseError { offset: *offset, kind: *kind }, "{:?}", input);
            assert!(!err.to_string().is_empty());
        }
    }

    #[test]
    fn write_quotes_only_when_needed() {
        let mut s = String::new();
        let list = [ext("a", &[("p", Some("tok")), ("q", None), ("r", Some("sp ace\"\\"))]), ext("b", &[])];
        write_extensions(&list, &mut s).unwrap();
        assert_eq!(s, "a; p=tok; q; r=\"sp ace\\\"\\\\\", b");
    }

    #[test]
    fn write_rejects_invalid_and_leaves_output_alone() {
        let mut s = String::from("keep");
        let bad = [
            (ext("a b", &[]), ExtensionFormatError::InvalidName { name: "a b".into() }),
            (
                ext("a", &[("p q", None)]),
                ExtensionFormatError::InvalidParamName { extension: "a".into(), param: "p q".into() },
            ),
            (
                ext("a", &[("p", Some("x\r\ny"))]),
                ExtensionFormatError::InvalidValue { extension: "a".into(), param: "p".into() },
            ),
        ];
        for (e, expected) in bad {
            assert_eq!(write_extensions(&[ext("ok", &[]), e], &mut s), Err(expected));
            assert_eq!(s, "keep");
        }
    }

    #[test]
    fn written_token_lists_parse_back() {
        let list = vec![
            ext("permessage-deflate", &[("client_max_window_bits", None), ("server_max_window_bits", Some("12"))]),
            ext("x-y", &[]),
        ];
        let mut s = String::new();
        write_extensions(&list, &mut s).unwrap();
        assert_eq!(parse_extensions(s.as_bytes()).unwrap(), list);
    }
}
