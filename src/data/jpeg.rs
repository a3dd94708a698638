//! JPEG decoding by libjpeg-turbo, the library inside Pillow, at Pillow's
//! settings, through the C shim `csrc/jpeg.c` (built and linked by `build.rs`).
//!
//! Why libjpeg-turbo itself: Pillow's pixels are libjpeg-turbo's, and a JPEG
//! decoder's output is a matter of its algorithms (the accurate integer IDCT,
//! the "fancy" triangle-filter chroma upsampling, block smoothing of
//! progressive scans, the fixed-point YCbCr->RGB tables), not of the format.
//! zune-jpeg (used before) and jpeg-decoder round the IDCT and upsample
//! chroma their own way: up to 7 levels off on photographs.
//!
//! Why not a crate around it: `mozjpeg-sys` (under `mozjpeg`) compiles a
//! vendored copy whose x86 SIMD code needs `nasm`; without it the plain-C
//! decoder is bit-identical but about 2.5 times slower than with SIMD, which
//! would lose dpn's speed lead over Pillow, and its error handler unwinds a
//! Rust panic through C frames. `turbojpeg-sys` needs TurboJPEG 3's `tj3`
//! API, either from the system (Debian and Ubuntu ship 2.x, and not in the
//! default packages) or built with `cmake` and `nasm`. The system's
//! libjpeg-turbo (2.1 or newer) is already built with its SIMD code and its
//! `jpeglib.h` API is stable, so dpn compiles one small C file against it,
//! links it statically where `libjpeg.a` is installed (the binary then
//! carries the decoder it was tested with), and keeps libjpeg's
//! `setjmp`/`longjmp` error handling inside C, where it is defined.
//!
//! `tests/data_parity.rs` checks the output against Pillow's, byte for byte.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::ptr::NonNull;

#[repr(C)]
struct Handle {
    _private: [u8; 0],
}

const ERROR: i32 = -1;
const TRUNCATED: i32 = -2;
/// The most rows one `read_rows` call decodes (the shim's `DPN_JPEG_MAX_ROWS`).
pub(crate) const MAX_ROWS: usize = 16;

extern "C" {
    fn dpn_jpeg_open(data: *const u8, len: usize) -> *mut Handle;
    fn dpn_jpeg_close(d: *mut Handle);
    fn dpn_jpeg_message(d: *const Handle) -> *const std::ffi::c_char;
    fn dpn_jpeg_read_header(
        d: *mut Handle,
        width: *mut u32,
        height: *mut u32,
        components: *mut i32,
    ) -> i32;
    fn dpn_jpeg_start(d: *mut Handle) -> i32;
    fn dpn_jpeg_read_rows(d: *mut Handle, out: *mut u8, stride: usize, rows: u32) -> i32;
    fn dpn_jpeg_finish(d: *mut Handle) -> i32;
}

/// One libjpeg decompressor reading a JPEG held in memory. Its methods are
/// libjpeg's steps, in order: [`read_header`](Self::read_header),
/// [`start`](Self::start), [`read_rows`](Self::read_rows) until every row
/// is out, [`finish`](Self::finish). Errors are libjpeg's messages, or
/// Pillow's words for a file that ends too soon.
pub(crate) struct Decoder<'a> {
    handle: NonNull<Handle>,
    /// The image width, once the header is read.
    width: usize,
    /// Bytes per output row, once started.
    row_bytes: usize,
    _bytes: PhantomData<&'a [u8]>,
}

impl Drop for Decoder<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle came from dpn_jpeg_open and is freed once.
        unsafe { dpn_jpeg_close(self.handle.as_ptr()) }
    }
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Result<Self, String> {
        // SAFETY: libjpeg reads `bytes` only while the decoder lives, and the
        // lifetime keeps the slice alive that long.
        let handle = unsafe { dpn_jpeg_open(bytes.as_ptr(), bytes.len()) };
        let handle = NonNull::new(handle).ok_or("out of memory")?;
        Ok(Decoder {
            handle,
            width: 0,
            row_bytes: 0,
            _bytes: PhantomData,
        })
    }

    /// A status from the shim: `Ok` for values >= 0.
    fn check(&self, status: i32) -> Result<usize, String> {
        match status {
            s if s >= 0 => Ok(s as usize),
            TRUNCATED => Err("image file is truncated".into()),
            _ => {
                debug_assert_eq!(status, ERROR);
                // SAFETY: the shim keeps a NUL-terminated message in the handle.
                let msg = unsafe { CStr::from_ptr(dpn_jpeg_message(self.handle.as_ptr())) };
                Err(msg.to_string_lossy().into_owned())
            }
        }
    }

    /// Reads the markers up to the first scan: `(width, height)`. Nothing
    /// large is allocated yet.
    pub(crate) fn read_header(&mut self) -> Result<(usize, usize), String> {
        let (mut w, mut h, mut comps) = (0u32, 0u32, 0i32);
        // SAFETY: the handle is live; the out-pointers are valid locals.
        let status =
            unsafe { dpn_jpeg_read_header(self.handle.as_ptr(), &mut w, &mut h, &mut comps) };
        self.check(status)?;
        self.width = w as usize;
        Ok((w as usize, h as usize))
    }

    /// Starts decompressing (a progressive file is read whole here) and
    /// returns the channels per pixel: 1 (gray), 3 (RGB) or 4 (CMYK as
    /// stored, Adobe-inverted).
    /// Output rows are `width * channels` bytes (no scaling).
    pub(crate) fn start(&mut self) -> Result<usize, String> {
        // SAFETY: the handle is live.
        let comps = self.check(unsafe { dpn_jpeg_start(self.handle.as_ptr()) })?;
        self.row_bytes = self.width * comps;
        Ok(comps)
    }

    /// Decodes the next rows into `out`, `stride` bytes apart: as many as
    /// fit, at most [`MAX_ROWS`]. Returns how many it wrote (at least one).
    pub(crate) fn read_rows(&mut self, out: &mut [u8], stride: usize) -> Result<usize, String> {
        if self.row_bytes == 0 || stride < self.row_bytes {
            return Err("read_rows before start, or rows too short".into());
        }
        // The last row needs only `row_bytes`.
        let rows = ((out.len() + stride - self.row_bytes) / stride).min(MAX_ROWS);
        if rows == 0 {
            return Err("no room for a row".into());
        }
        // SAFETY: the handle is live; `out` has room for `rows` rows of
        // `row_bytes` bytes, `stride` apart, and libjpeg writes no more.
        let status = unsafe {
            dpn_jpeg_read_rows(self.handle.as_ptr(), out.as_mut_ptr(), stride, rows as u32)
        };
        self.check(status)
    }

    /// Reads to the end of the image (a missing EOI is not an error).
    pub(crate) fn finish(&mut self) -> Result<(), String> {
        // SAFETY: the handle is live.
        self.check(unsafe { dpn_jpeg_finish(self.handle.as_ptr()) })
            .map(drop)
    }
}
