//! File paths in outputs, lossless and unambiguous.
//!
//! A Unix file name is bytes; printed lossily, `a\xFE.jpg`, `a\xFF.jpg` and
//! `a\u{FFFD}.jpg` would all read `a\u{FFFD}.jpg`, and rows could not be
//! traced to files. A path that is valid UTF-8 and holds no backslash (all
//! ordinary ones) is printed as it is; any other is escaped: each byte that
//! is not UTF-8 as `\xHH` (two upper-case hex digits) and a backslash as
//! `\\`. A printed path without a backslash is therefore the name itself,
//! and one with a backslash is decoded by those two rules alone.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

/// The one warning a command prints when it escaped a path.
pub const ESCAPED_WARNING: &str = "some paths are not valid UTF-8 or hold a backslash; \
     they are printed escaped (a byte that is not UTF-8 as \\xHH, a backslash as \\\\)";

/// Whether [`path_text`] escapes `path`.
pub fn needs_escape(path: &Path) -> bool {
    std::str::from_utf8(path.as_os_str().as_encoded_bytes()).map_or(true, |s| s.contains('\\'))
}

/// `path` as dpn prints it in its outputs (see the module's rules).
pub fn path_text(path: &Path) -> Cow<'_, str> {
    let bytes = path.as_os_str().as_encoded_bytes();
    match std::str::from_utf8(bytes) {
        Ok(s) if !s.contains('\\') => Cow::Borrowed(s),
        _ => {
            let mut out = String::with_capacity(bytes.len() + 8);
            for chunk in bytes.utf8_chunks() {
                for c in chunk.valid().chars() {
                    if c == '\\' {
                        out.push_str("\\\\");
                    } else {
                        out.push(c);
                    }
                }
                for b in chunk.invalid() {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
            Cow::Owned(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn p(bytes: &[u8]) -> &Path {
        use std::os::unix::ffi::OsStrExt;
        Path::new(std::ffi::OsStr::from_bytes(bytes))
    }

    #[cfg(unix)]
    #[test]
    fn escapes_only_what_needs_it_and_keeps_names_apart() {
        let cases: [(&[u8], &str); 6] = [
            (b"dir/a.jpg", "dir/a.jpg"),
            ("dir/\u{FFFD} é\n.jpg".as_bytes(), "dir/\u{FFFD} é\n.jpg"),
            (b"a\xfe.jpg", "a\\xFE.jpg"),
            (b"a\xff.jpg", "a\\xFF.jpg"),
            (b"a\\xFE.jpg", "a\\\\xFE.jpg"),
            (b"\xc3\xa9\xc3", "\u{e9}\\xC3"),
        ];
        for (bytes, want) in cases {
            assert_eq!(path_text(p(bytes)), want, "{bytes:?}");
            assert_eq!(needs_escape(p(bytes)), want.contains('\\'), "{bytes:?}");
        }
        assert!(matches!(path_text(p(b"plain")), Cow::Borrowed(_)));
    }
}
