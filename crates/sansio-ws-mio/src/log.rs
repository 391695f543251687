//! Reports through the `log` facade when the `log` feature is on; nothing at all otherwise (the
//! arguments are still type-checked, then compiled away).

/// `report!(level, format, args…)`: `log::level!` under the crate's target, or nothing.
#[cfg(feature = "log")]
macro_rules! report {
    ($level:ident, $($arg:tt)*) => { log::$level!(target: "sansio_ws_mio", $($arg)*) };
}

#[cfg(not(feature = "log"))]
macro_rules! report {
    ($level:ident, $($arg:tt)*) => {
        if false {
            let _ = format_args!($($arg)*);
        }
    };
}

pub(crate) use report;
