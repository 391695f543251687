//! `say!`: one line to standard error in one write. `eprintln!` makes a system call for every
//! piece of its format (standard error is unbuffered): a server logging each connection's end
//! would spend more on that than on the connection's handshake.

/// Formats a line and writes it to standard error at once.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut line = format!($($arg)*);
        line.push('\n');
        // A standard error that is gone leaves nowhere to say so.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }};
}

pub(crate) use say;
