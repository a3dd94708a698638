//! The error buffer of the C++ shims' entry points (csrc/guarded.h): each
//! failed call leaves its C++ exception's first line in a buffer the caller
//! passes, and returns non-zero or null.

use std::os::raw::c_char;

/// The size of the buffer a caller passes.
pub const ERR_LEN: usize = 1024;

/// The message a failed call left in `err`.
pub fn message(err: &[c_char]) -> String {
    let bytes: Vec<u8> = err
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let s = String::from_utf8_lossy(&bytes).trim().to_string();
    if s.is_empty() {
        "unknown error".into()
    } else {
        s
    }
}
