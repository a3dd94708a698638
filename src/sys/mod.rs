//! Small leaves every layer may use: exit codes and error kinds, atomic file
//! writes, file digests, the allocator settings, peak-memory metering and
//! facts about the libtorch the binary runs on. Nothing here imports another
//! part of dpn.

pub mod allocator;
pub mod atomic;
pub mod digest;
pub mod error;
pub mod memory;
pub mod panic;
pub mod runtime;
pub mod time;
