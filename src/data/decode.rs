//! Image files to 8-bit RGB, as Pillow's `Image.open(f).convert("RGB")` makes them.
//!
//! The format is recognised from the file's first bytes, never from its name.
//! What Pillow does, and so what this module does (measured with Pillow 13.0):
//!
//! - grayscale (`L`, 1-, 2-, 4-bit) is replicated into the three channels;
//! - alpha (`LA`, `RGBA`, any bit depth) is dropped, never composited;
//! - palette images (`P`, with or without transparency) are looked up in
//!   their palette; the transparent index keeps its palette colour;
//! - 16-bit grayscale (`I;16`) is clipped: values above 255 become 255 (Pillow's
//!   `I;16 -> RGB`), it is not scaled;
//! - 16-bit colour and 16-bit gray+alpha keep the high byte of each sample
//!   (Pillow unpacks `RGB;16B`, `RGBA;16B`, `LA;16B` that way);
//! - 4-channel JPEGs (CMYK, YCCK) are read as Adobe-inverted CMYK and turned
//!   into RGB with Pillow's `cmyk2rgb`: `R = (255-K) - C*(255-K)/255`, each
//!   product rounded as Pillow's `MULDIV255` rounds it;
//! - a GIF gives its first frame only, on a canvas filled with the frame's
//!   transparent index (or index 0) outside the frame;
//! - EXIF orientation is not applied (Pillow's `convert` does not, nor does timm).
//!
//! JPEGs are decoded by libjpeg-turbo, the library Pillow uses, at Pillow's
//! settings (accurate integer IDCT, fancy upsampling, libjpeg's YCbCr->RGB;
//! see [`super::jpeg`] for why not a pure-Rust decoder): every format is
//! bit-identical to Pillow (`tests/data_parity.rs`). A JPEG that ends too
//! soon is an error, as in Pillow (`LOAD_TRUNCATED_IMAGES` off); corrupt scan
//! data decodes as libjpeg and Pillow decode it, with a warning that neither
//! prints.
//!
//! Every failure (unreadable, empty, truncated, unknown format, too large) is
//! an [`error::bad_input`] naming the file, and a decoder panic is caught and
//! reported the same way. The size limit is checked from the header, before
//! the pixels are allocated.

use std::path::Path;

use anyhow::Result;
use image::{DynamicImage, ImageFormat};

use super::jpeg;
use crate::sys::error;

/// Pillow refuses images above twice its `MAX_IMAGE_PIXELS` (89,478,485) as
/// decompression bombs; so does this module.
pub const MAX_PIXELS: u64 = 2 * 89_478_485;

/// An 8-bit RGB image, rows top to bottom, pixels interleaved (`RGBRGB...`).
#[derive(Clone, PartialEq, Eq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

impl std::fmt::Debug for RgbImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RgbImage({}x{})", self.width, self.height)
    }
}

impl RgbImage {
    /// A black image.
    pub fn new(width: usize, height: usize) -> Self {
        RgbImage {
            width,
            height,
            data: vec![0; width * height * 3],
        }
    }

    /// Wraps `data` (`width * height * 3` bytes); `None` when the length is wrong.
    pub fn from_raw(width: usize, height: usize, data: Vec<u8>) -> Option<Self> {
        (data.len() == width * height * 3).then_some(RgbImage {
            width,
            height,
            data,
        })
    }

    /// One row, `width * 3` bytes.
    pub fn row(&self, y: usize) -> &[u8] {
        &self.data[y * self.width * 3..(y + 1) * self.width * 3]
    }

    /// The pixel at column `x`, row `y`.
    pub fn pixel(&self, x: usize, y: usize) -> [u8; 3] {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }
}

/// The container formats this module reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Tiff,
    WebP,
}

/// Recognises a format from the first bytes of a file.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let starts = |m: &[u8]| bytes.len() >= m.len() && &bytes[..m.len()] == m;
    if starts(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some(Format::Gif)
    } else if starts(b"BM") {
        Some(Format::Bmp)
    } else if starts(b"II*\0") || starts(b"MM\0*") {
        Some(Format::Tiff)
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some(Format::WebP)
    } else {
        None
    }
}

/// The largest image file read (docs/conventions.md, "Limits on sizes"):
/// [`MAX_PIXELS`] of 8-bit RGB, stored uncompressed, is 537 MB, but no
/// photograph a classifier sees is near that, and a file is read whole
/// before decoding.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Reads and decodes the image file at `path`. Only a regular file of at
/// most [`MAX_FILE_BYTES`] is read: a device such as `/dev/zero`, a FIFO or
/// a file that grows while it is read is refused, not read until memory ends.
pub fn decode_file(path: &Path) -> Result<RgbImage> {
    let bytes = read_image_file(path)?;
    decode_bytes(&bytes, &path.display().to_string())
}

fn read_image_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let fail = |msg: String| error::bad_input(format!("image {}: {msg}", path.display()));
    let not_regular =
        || fail("not a regular file (a device, FIFO or socket); only image files are read".into());
    // Checked before opening too: opening a FIFO waits for a writer.
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(|e| fail(format!("cannot read: {e}")))?;
    // And the open file's own metadata: the path may have been swapped.
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let too_large = |size: u64| {
        fail(format!(
            "the file is {size} bytes; dpn reads image files of at most {MAX_FILE_BYTES} bytes"
        ))
    };
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// Decodes an encoded image held in memory; `name` is used in error messages.
pub fn decode_bytes(bytes: &[u8], name: &str) -> Result<RgbImage> {
    let fail = |msg: String| error::bad_input(format!("image {name}: {msg}"));
    if bytes.is_empty() {
        return Err(fail("empty file".into()));
    }
    let Some(format) = sniff(bytes) else {
        return Err(fail("not a JPEG, PNG, GIF, BMP, TIFF or WebP image".into()));
    };
    // Decoders are third-party code fed untrusted bytes: a panic in one is a
    // bad image, not a crash.
    let result = std::panic::catch_unwind(|| match format {
        Format::Jpeg => decode_jpeg(bytes),
        Format::Gif => decode_gif(bytes),
        Format::Png => decode_with_image(bytes, ImageFormat::Png),
        Format::Bmp => decode_with_image(bytes, ImageFormat::Bmp),
        Format::Tiff => decode_with_image(bytes, ImageFormat::Tiff),
        Format::WebP => decode_with_image(bytes, ImageFormat::WebP),
    });
    match result {
        Ok(Ok(img)) => Ok(img),
        Ok(Err(msg)) => Err(fail(format!("{}: {msg}", format_name(format)))),
        Err(_) => Err(fail(format!("{}: the decoder failed", format_name(format)))),
    }
}

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Jpeg => "JPEG",
        Format::Png => "PNG",
        Format::Gif => "GIF",
        Format::Bmp => "BMP",
        Format::Tiff => "TIFF",
        Format::WebP => "WebP",
    }
}

fn check_size(w: usize, h: usize) -> Result<(), String> {
    if w == 0 || h == 0 {
        return Err(format!("empty image ({w}x{h})"));
    }
    if (w as u64) * (h as u64) > MAX_PIXELS {
        return Err(format!(
            "{w}x{h} is more than {MAX_PIXELS} pixels (a decompression bomb?)"
        ));
    }
    Ok(())
}

fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pillow's `MULDIV255`: `a * b / 255`, rounded.
fn muldiv255(a: u32, b: u32) -> u32 {
    let t = a * b + 128;
    ((t >> 8) + t) >> 8
}

/// JPEG through libjpeg-turbo ([`super::jpeg`]). RGB rows are decoded in
/// place; gray and CMYK rows go through a small buffer and are converted.
fn decode_jpeg(bytes: &[u8]) -> Result<RgbImage, String> {
    let mut dec = jpeg::Decoder::new(bytes)?;
    let (w, h) = dec.read_header()?;
    check_size(w, h)?;
    let channels = dec.start()?;
    let mut data = vec![0u8; w * h * 3];
    let mut y = 0;
    if channels == 3 {
        while y < h {
            y += dec.read_rows(&mut data[y * w * 3..], w * 3)?;
        }
    } else {
        let mut rows = vec![0u8; w * channels * jpeg::MAX_ROWS];
        while y < h {
            let n = dec.read_rows(&mut rows, w * channels)?;
            let src = &rows[..n * w * channels];
            let dst = &mut data[y * w * 3..(y + n) * w * 3];
            match channels {
                1 => {
                    for (o, &v) in dst.chunks_exact_mut(3).zip(src) {
                        o.fill(v);
                    }
                }
                4 => {
                    for (o, p) in dst.chunks_exact_mut(3).zip(src.chunks_exact(4)) {
                        // Adobe CMYK is stored inverted; Pillow reads it as "CMYK;I".
                        let nk = p[3] as u32; // 255 - (255 - stored K)
                        for (o, &s) in o.iter_mut().zip(&p[..3]) {
                            let c = 255 - s as u32;
                            *o = (nk - muldiv255(c, nk)) as u8;
                        }
                    }
                }
                _ => return Err(format!("{channels} channels")),
            }
            y += n;
        }
    }
    dec.finish()?;
    Ok(RgbImage {
        width: w,
        height: h,
        data,
    })
}

fn gray_to_rgb(gray: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(gray.len() * 3);
    for &v in gray {
        out.extend_from_slice(&[v, v, v]);
    }
    out
}

fn decode_gif(bytes: &[u8]) -> Result<RgbImage, String> {
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let mut dec = opts.read_info(bytes).map_err(one_line)?;
    let (w, h) = (dec.width() as usize, dec.height() as usize);
    check_size(w, h)?;
    let global: Option<Vec<u8>> = dec.global_palette().map(<[u8]>::to_vec);
    let frame = dec
        .read_next_frame()
        .map_err(one_line)?
        .ok_or("no frames")?;
    let palette: Vec<u8> = match (&frame.palette, &global) {
        (Some(p), _) => p.clone(),
        (None, Some(p)) => p.clone(),
        // No palette at all: Pillow reads the indices as gray levels.
        (None, None) => (0..=255u8).flat_map(|v| [v, v, v]).collect(),
    };
    let fill = frame.transparent.unwrap_or(0);
    let mut index = vec![fill; w * h];
    let (fw, fh) = (frame.width as usize, frame.height as usize);
    let (fl, ft) = (frame.left as usize, frame.top as usize);
    for y in 0..fh {
        let cy = ft + y;
        if cy >= h {
            break;
        }
        let src = &frame.buffer[y * fw..(y + 1) * fw];
        for (x, &v) in src.iter().enumerate() {
            let cx = fl + x;
            if cx < w {
                index[cy * w + cx] = v;
            }
        }
    }
    let mut data = Vec::with_capacity(w * h * 3);
    for &i in &index {
        let i = i as usize * 3;
        match palette.get(i..i + 3) {
            Some(c) => data.extend_from_slice(c),
            None => data.extend_from_slice(&[0, 0, 0]),
        }
    }
    Ok(RgbImage {
        width: w,
        height: h,
        data,
    })
}

fn decode_with_image(bytes: &[u8], format: ImageFormat) -> Result<RgbImage, String> {
    use image::ImageDecoder;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_PIXELS * 8);
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    reader.limits(limits.clone());
    // The header's size is checked before any pixel is decoded, as for JPEG.
    let mut decoder = reader.into_decoder().map_err(one_line)?;
    let (w, h) = decoder.dimensions();
    check_size(w as usize, h as usize)?;
    // What `ImageReader::decode` does after making its decoder.
    limits.reserve(decoder.total_bytes()).map_err(one_line)?;
    decoder.set_limits(limits).map_err(one_line)?;
    let img = DynamicImage::from_decoder(decoder).map_err(one_line)?;
    let (w, h) = (img.width() as usize, img.height() as usize);
    check_size(w, h)?;
    let data = match img {
        DynamicImage::ImageRgb8(b) => b.into_raw(),
        DynamicImage::ImageRgba8(b) => b
            .into_raw()
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        DynamicImage::ImageLuma8(b) => gray_to_rgb(b.as_raw()),
        DynamicImage::ImageLumaA8(b) => {
            b.as_raw().chunks_exact(2).flat_map(|p| [p[0]; 3]).collect()
        }
        // Pillow's I;16 -> RGB clips.
        DynamicImage::ImageLuma16(b) => b
            .as_raw()
            .iter()
            .flat_map(|&v| [v.min(255) as u8; 3])
            .collect(),
        // LA;16B, RGB;16B, RGBA;16B: Pillow keeps the high byte.
        DynamicImage::ImageLumaA16(b) => b
            .as_raw()
            .chunks_exact(2)
            .flat_map(|p| [(p[0] >> 8) as u8; 3])
            .collect(),
        DynamicImage::ImageRgb16(b) => b.as_raw().iter().map(|&v| (v >> 8) as u8).collect(),
        DynamicImage::ImageRgba16(b) => b
            .as_raw()
            .chunks_exact(4)
            .flat_map(|p| [(p[0] >> 8) as u8, (p[1] >> 8) as u8, (p[2] >> 8) as u8])
            .collect(),
        other => other.to_rgb8().into_raw(),
    };
    Ok(RgbImage {
        width: w,
        height: h,
        data,
    })
}
