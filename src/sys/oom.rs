//! What a failed allocation in dpn's own (Rust) code does.
//!
//! Rust's default, when the allocator returns null, is to print "memory
//! allocation of N bytes failed" and abort: SIGABRT, perhaps a core dump, and
//! no exit code of ours. A batch job must see out of memory as exit code 8
//! (`error::Exit::OutOfMemory`) like any other, so [`Guarded`] is dpn's
//! global allocator: the system allocator, except that an allocation that
//! fails prints one `dpn: error:` line and exits 8.
//!
//! Buffers whose size a user's flags choose (a batch of images) are taken
//! through [`try_zeroed`] instead, which fails as an ordinary
//! `error::out_of_memory` that the caller words with the batch size and what
//! to try; the guard is the fallback for every other allocation.
//! libtorch's tensors do not come through here (they use `posix_memalign`
//! directly and fail as a libtorch error, see `sys::panic`).
//!
//! Written by hand because the standard library's hook for this
//! (`std::alloc::set_alloc_error_hook`) is not stable.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use anyhow::Result;

thread_local! {
    // `const` and without a destructor: reading it never allocates, so the
    // allocator itself may.
    static FALLIBLE: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator, with a one-line exit 8 instead of an abort when an
/// infallible allocation fails.
pub struct Guarded;

/// Declared in the library, so the `dpn` binary and every test binary get it.
#[global_allocator]
static GLOBAL: Guarded = Guarded;

// SAFETY: every method forwards to `System` with the caller's arguments; the
// only addition happens after `System` returned null.
unsafe impl GlobalAlloc for Guarded {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            failed(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            failed(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            failed(new_size);
        }
        p
    }
}

/// Called with the allocator's null: returns when the caller asked to be told
/// (inside [`try_zeroed`]), else reports and exits 8 without allocating.
fn failed(size: usize) {
    if FALLIBLE.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    let mut line = Line::default();
    line.push(b"dpn: error: out of memory on cpu: could not allocate ");
    line.push_mib(size);
    line.push(b" MiB; try a smaller --batch-size or --img-size, or fewer --workers\n");
    // SAFETY: write(2) and _exit(2) are async-signal-safe and allocate
    // nothing; unwinding or running destructors from inside the allocator
    // would not be sound.
    unsafe {
        libc::write(2, line.buf.as_ptr().cast(), line.len);
        libc::_exit(crate::sys::error::Exit::OutOfMemory.code());
    }
}

/// A message built on the stack: there is no memory to format into.
struct Line {
    buf: [u8; 192],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Line {
            buf: [0; 192],
            len: 0,
        }
    }
}

impl Line {
    fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(self.buf.len() - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    /// `size` bytes in MiB with one decimal.
    fn push_mib(&mut self, size: usize) {
        let tenths = (size as u128 * 10).div_ceil(1 << 20);
        self.push_int(tenths / 10);
        self.push(b".");
        self.push_int(tenths % 10);
    }

    fn push_int(&mut self, mut v: u128) {
        let mut digits = [0u8; 40];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        self.push(&digits[i..]);
    }
}

/// A vector of `len` zeros, or an out-of-memory error (exit 8) naming `what`
/// when the memory is not there.
pub fn try_zeroed<T: Copy + Default>(len: usize, what: &str) -> Result<Vec<T>> {
    let mut v: Vec<T> = Vec::new();
    let reserved = {
        FALLIBLE.with(|f| f.set(true));
        let r = v.try_reserve_exact(len);
        FALLIBLE.with(|f| f.set(false));
        r
    };
    if reserved.is_err() {
        return Err(crate::sys::error::out_of_memory(format!(
            "out of memory on cpu: could not allocate {:.1} MiB for {what}",
            (len * std::mem::size_of::<T>()) as f64 / (1 << 20) as f64
        )));
    }
    v.resize(len, T::default());
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_written_in_mib_with_one_decimal() {
        let mut l = Line::default();
        l.push_mib(50_331_648);
        l.push(b" ");
        l.push_mib(1);
        l.push(b" ");
        l.push_mib(0);
        assert_eq!(&l.buf[..l.len], b"48.0 0.1 0.0");
    }

    #[test]
    fn an_impossible_buffer_is_an_out_of_memory_error() {
        // Past what any machine has, yet a valid layout: malloc itself says no.
        let e = try_zeroed::<f32>(isize::MAX as usize / 8, "a test batch").unwrap_err();
        assert_eq!(
            crate::sys::error::exit_code(&e),
            crate::sys::error::Exit::OutOfMemory.code()
        );
        assert!(format!("{e}").contains("for a test batch"), "{e}");
        assert_eq!(try_zeroed::<u8>(3, "x").unwrap(), vec![0, 0, 0]);
    }
}
