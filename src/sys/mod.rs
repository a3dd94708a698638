//! Small leaves every layer may use: exit codes and error kinds, atomic file
//! writes, the C++ shims' error buffer, dropping a gradient, file digests, the allocator settings and its out-of-memory exit, peak-memory metering and
//! facts about the libtorch the binary runs on. Nothing here imports another
//! part of dpn.

pub mod allocator;
pub mod atomic;
pub mod c_error;
pub mod digest;
pub mod error;
#[cfg(feature = "test-hooks")]
pub mod fail;
pub mod grad;
pub mod memory;
pub mod oom;
pub mod output_path;
pub mod panic;
pub mod runtime;
pub mod time;
