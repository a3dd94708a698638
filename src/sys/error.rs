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
    /// The command line is wrong: bad flag, unknown model name, bad value, a
    /// `dpn train` output folder another process is writing.
    Usage = 2,
    /// An input is invalid: malformed model index, corrupt or wrong weights
    /// (NaN/infinite values or negative BatchNorm variances under
    /// `--reject-non-finite`), bad image, a class folder that is not among the
    /// model's classes, results files that do not merge, weights whose outputs
    /// are NaN or infinite (`evaluate`), a download that is not the model's
    /// weights.
    BadInput = 3,
    /// A file fails its digest check: a download whose SHA-256 does not match
    /// the prefix in its name, or a cached file that no longer verifies.
    Verification = 4,
    /// A download failed: HTTP error (404, 403, ...), timeout, unreachable
    /// server, a body over its stated size or the ceiling, a stalling transfer.
    Network = 5,
    /// The weights a command needs are not in the cache (and `--offline` or
    /// no explicit file forbids getting them).
    NotCached = 6,
    /// Some inputs failed (unreadable images, NaN or infinite outputs in
    /// `predict`); the others were processed and their results written.
    Partial = 7,
    /// Out of memory on the CPU or a CUDA device (after the retries at
    /// smaller batches that predict, evaluate and profile make).
    OutOfMemory = 8,
    /// A distributed run (torchrun, srun) failed as a whole: this rank could
    /// not meet the others within `--dist-timeout`, a peer died or stopped
    /// answering, or another rank failed (its own line says why).
    Distributed = 9,
    /// A bug in dpn: a panic that reached the top. The line asks for a report.
    Internal = 70,
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

/// The exit code for an error: the first [`Coded`] in its chain; else 8
/// for a libtorch out-of-memory error, 70 for a caught panic that is not
/// libtorch's (a bug); else 1.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    use crate::sys::panic::Bug;
    if let Some(c) = err.chain().find_map(|e| e.downcast_ref::<Coded>()) {
        return c.exit.code();
    }
    if is_out_of_memory(err) {
        return Exit::OutOfMemory.code();
    }
    if err.chain().any(|e| e.downcast_ref::<Bug>().is_some()) {
        return Exit::Internal.code();
    }
    Exit::Failure.code()
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

/// Out of memory (exit code 8).
pub fn out_of_memory(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::OutOfMemory,
        message: message.into(),
    }
    .into()
}

/// A distributed run that cannot go on (exit code 9).
pub fn distributed(message: impl Into<String>) -> anyhow::Error {
    Coded {
        exit: Exit::Distributed,
        message: message.into(),
    }
    .into()
}

/// True when `err` is (or wraps) an out-of-memory error.
pub fn is_out_of_memory(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<Coded>()
            .is_some_and(|c| c.exit == Exit::OutOfMemory)
            || e.downcast_ref::<crate::sys::panic::Libtorch>()
                .is_some_and(|l| l.out_of_memory)
            // A fallible tch call (`f_*`) returns libtorch's message as text.
            || e.downcast_ref::<tch::TchError>()
                .is_some_and(|t| crate::sys::panic::says_out_of_memory(&t.to_string()))
    })
}

/// A write to a closed pipe (`dpn ... | head -1`): not a failure of dpn's.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}
