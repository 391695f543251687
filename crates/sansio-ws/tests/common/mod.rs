//! What the test files share: HTTP heads built from field lists, feeding input whole, byte by
//! byte, and with trailing bytes appended; client frames built by hand.
// Each test file uses part of this module.
#![allow(dead_code)]

/// Header fields, in order.
pub(crate) type Fields = Vec<(String, String)>;

/// A head: `start` line, the fields, the blank line.
pub(crate) fn head(start: &str, fields: &Fields) -> Vec<u8> {
    let mut s = format!("{start}\r\n");
    for (n, v) in fields {
        s.push_str(&format!("{n}: {v}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Removes every field called `name` (any case).
pub(crate) fn remove(fields: &mut Fields, name: &str) {
    fields.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
}

/// Replaces the fields called `name` by one with `value`.
pub(crate) fn set(fields: &mut Fields, name: &str, value: &str) {
    remove(fields, name);
    add(fields, name, value);
}

/// Appends a field.
pub(crate) fn add(fields: &mut Fields, name: &str, value: &str) {
    fields.push((name.into(), value.into()));
}

/// How input is fed.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    Whole,
    ByteByByte,
    WholeWithTrailing,
    ByteByByteWithTrailing,
}

/// Every way of feeding input.
pub(crate) const MODES: [Mode; 4] =
    [Mode::Whole, Mode::ByteByByte, Mode::WholeWithTrailing, Mode::ByteByByteWithTrailing];

impl Mode {
    /// Whether `trailing` is appended to the input.
    pub(crate) fn with_trailing(self) -> bool {
        matches!(self, Mode::WholeWithTrailing | Mode::ByteByByteWithTrailing)
    }
}

/// Feeds `input` (plus `trailing` in the trailing modes) to `handle` and returns the first outcome
/// that is not "need more"; a value is returned at most once; input ending while partial panics.
pub(crate) fn feed<T, E>(
    mode: Mode,
    input: &[u8],
    trailing: &[u8],
    mut handle: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<T, E> {
    let mut all = input.to_vec();
    if mode.with_trailing() {
        all.extend_from_slice(trailing);
    }
    let pieces: Vec<&[u8]> = match mode {
        Mode::Whole | Mode::WholeWithTrailing => vec![&all[..]],
        Mode::ByteByByte | Mode::ByteByByteWithTrailing => all.chunks(1).collect(),
    };
    let mut outcome = None;
    for piece in pieces {
        match handle(piece) {
            Ok(None) => {}
            Ok(Some(value)) => {
                assert!(outcome.is_none(), "{mode:?}: a head is returned once");
                outcome = Some(Ok(value));
            }
            Err(e) => {
                outcome = Some(Err(e));
                break;
            }
        }
    }
    outcome.unwrap_or_else(|| panic!("{mode:?}: no outcome, input ended while partial"))
}

/// Like [`feed`], for a reader that takes no more input once it has returned its value (the
/// client handshake: the bytes after the response belong to the connection). Returns the value
/// and the input not fed yet when it came, which the caller hands on; input ending while partial
/// panics.
pub(crate) fn feed_until_value<T, E>(
    mode: Mode,
    input: &[u8],
    trailing: &[u8],
    mut handle: impl FnMut(&[u8]) -> Result<Option<T>, E>,
) -> Result<(T, Vec<u8>), E> {
    let mut all = input.to_vec();
    if mode.with_trailing() {
        all.extend_from_slice(trailing);
    }
    let step = match mode {
        Mode::Whole | Mode::WholeWithTrailing => all.len().max(1),
        Mode::ByteByByte | Mode::ByteByByteWithTrailing => 1,
    };
    let mut fed = 0;
    while fed < all.len() {
        let piece = &all[fed..(fed + step).min(all.len())];
        fed += piece.len();
        if let Some(value) = handle(piece)? {
            return Ok((value, all[fed..].to_vec()));
        }
    }
    panic!("{mode:?}: no outcome, input ended while partial")
}

/// The masking key of [`masked`] frames.
pub(crate) const KEY: [u8; 4] = [0x11, 0x22, 0x33, 0x44];

/// A client frame: first byte `b0` (FIN, RSV, opcode), payload masked with [`KEY`], in the
/// shortest length form.
pub(crate) fn masked(b0: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![b0];
    match payload.len() {
        n @ 0..=125 => f.push(0x80 | n as u8),
        n @ 126..=0xFFFF => {
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
