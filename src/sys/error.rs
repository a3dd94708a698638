//! Exit codes and the error kinds that select them.
//!
//! Every failure travels as an `anyhow::Error`; a [`Coded`] error somewhere in
//! its chain decides the process exit code, anything else exits with
//! [`Exit::Failure`]. `main` prints the whole chain on one stderr line.

use std::fmt;

/// Documented process exit codes (README, "Exit codes"; `dpn --help`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success = 0,
    /// A runtime failure: I/O, libtorch, the network.
    Failure = 1,
    /// The command line is wrong: bad flag, unknown model name, bad value.
    Usage = 2,
    /// An input is invalid: malformed model index, corrupt or wrong weights, bad image, a
    /// class folder that is not among the model's classes.
    BadInput = 3,
    /// A file fails its digest check: a download whose SHA-256 does not match
    /// the prefix in its name, or a cached file that no longer verifies.
    Verification = 4,
    /// A download failed: HTTP error (404, 403, ...), timeout, unreachable server.
    Network = 5,
    /// The weights a command needs are not in the cache (and `--offline` or
    /// no explicit file forbids getting them).
    NotCached = 6,
    /// Some inputs failed (unreadable images); the others were processed
    /// and their results written.
    Partial = 7,
    /// Stopped by SIGINT or SIGTERM after saving a resumable state (`dpn
    /// train`: a checkpoint to `--resume` from); 128 + SIGINT, as shells report Ctrl-C.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Coded {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// A mistake on the command line (exit code 2).
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Usage,
        message: message.into(),
    }
    .into()
}

/// An input file that cannot be used (exit code 3).
pub fn bad_input(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::BadInput,
        message: message.into(),
    }
    .into()
}

/// A file that fails its digest check (exit code 4).
pub fn verification(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Verification,
        message: message.into(),
    }
    .into()
}

/// A download that failed (exit code 5).
pub fn network(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Network,
        message: message.into(),
    }
    .into()
}

/// Weights that are not in the cache (exit code 6).
pub fn not_cached(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::NotCached,
        message: message.into(),
    }
    .into()
}

/// The exit code for an error: the first [`Coded`] in its chain, else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Coded>())
        .map_or(Exit::Failure.code(), |c| c.exit.code())
}

/// Some inputs failed while the rest succeeded (exit code 7).
pub fn partial(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Partial,
        message: message.into(),
    }
    .into()
}

/// A run stopped by SIGINT/SIGTERM after saving what it needs to go on (exit code 130).
pub fn interrupted(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Interrupted,
        message: message.into(),
    }
    .into()
}
