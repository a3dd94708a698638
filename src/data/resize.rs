//! Pillow-exact image resampling (`Image.resize`, Pillow 13's `libImaging/Resample.c`
//! and, for nearest neighbour, `Geometry.c`'s affine scaling).
//!
//! Hand-written because no crate reproduces Pillow's arithmetic, and models
//! are trained on Pillow's output: fast_image_resize's Catmull-Rom differs from
//! Pillow's BICUBIC by up to 6/255 on photographs (docs/conventions.md,
//! "Weights and preprocessing"). What has to be the same, bit for bit:
//!
//! - one separable filter per axis whose support is scaled by the downscale
//!   factor (antialiasing), its taps evaluated in `f64` at
//!   `(x + xmin - center + 0.5) / filterscale` and normalised to sum 1;
//! - taps in fixed point with 22 fractional bits (`32 - 8 - 2`), rounded half
//!   away from zero; sums start at one half and are clipped to 0..=255 after an
//!   arithmetic shift;
//! - two passes with an 8-bit, clipped image in between: horizontal first
//!   (over only the rows the vertical pass reads), unless the height shrinks by
//!   more than twice as many pixels as the width, then vertical first;
//! - Pillow's shortcuts: same size and whole box is a copy, an integer box of
//!   the output's size is a crop;
//! - nearest neighbour is not a filter but an affine scan that adds the step to
//!   a running `f64` coordinate and truncates it.
//!
//! Resampling can produce a window of the output only ([`resize_window`]):
//! every output pixel depends only on its own taps, so a window is identical to
//! the same pixels of the whole result, and the eval transform's
//! resize-then-center-crop computes only what it keeps.

use rayon::prelude::*;

use super::decode::RgbImage;
use crate::registry::Interpolation;

/// Pillow's resampling filters (`Image.Resampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    Nearest,
    Box,
    Bilinear,
    Hamming,
    Bicubic,
    Lanczos,
}

impl From<Interpolation> for Filter {
    fn from(i: Interpolation) -> Self {
        match i {
            Interpolation::Nearest => Filter::Nearest,
            Interpolation::Box => Filter::Box,
            Interpolation::Bilinear => Filter::Bilinear,
            Interpolation::Hamming => Filter::Hamming,
            Interpolation::Bicubic => Filter::Bicubic,
            Interpolation::Lanczos => Filter::Lanczos,
        }
    }
}

impl Filter {
    /// Half-width of the filter at scale 1.
    fn support(self) -> f64 {
        match self {
            Filter::Nearest => 0.0,
            Filter::Box => 0.5,
            Filter::Bilinear | Filter::Hamming => 1.0,
            Filter::Bicubic => 2.0,
            Filter::Lanczos => 3.0,
        }
    }

    fn eval(self, x: f64) -> f64 {
        match self {
            Filter::Nearest => 0.0,
            Filter::Box => {
                if x > -0.5 && x <= 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Filter::Bilinear => {
                let x = x.abs();
                if x < 1.0 {
                    1.0 - x
                } else {
                    0.0
                }
            }
            Filter::Hamming => {
                let x = x.abs();
                if x == 0.0 {
                    1.0
                } else if x >= 1.0 {
                    0.0
                } else {
                    let x = x * std::f64::consts::PI;
                    // Pillow writes the window's constants as C floats.
                    x.sin() / x * (0.54f32 as f64 + 0.46f32 as f64 * x.cos())
                }
            }
            Filter::Bicubic => {
                const A: f64 = -0.5;
                let x = x.abs();
                if x < 1.0 {
                    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
                } else if x < 2.0 {
                    (((x - 5.0) * x + 8.0) * x - 4.0) * A
                } else {
                    0.0
                }
            }
            Filter::Lanczos => {
                if (-3.0..3.0).contains(&x) {
                    sinc(x) * sinc(x / 3.0)
                } else {
                    0.0
                }
            }
        }
    }
}

fn sinc(x: f64) -> f64 {
    if x == 0.0 {
        1.0
    } else {
        let x = x * std::f64::consts::PI;
        x.sin() / x
    }
}

const PRECISION_BITS: u32 = 32 - 8 - 2;
const HALF: i32 = 1 << (PRECISION_BITS - 1);

#[inline(always)]
fn clip8(v: i32) -> u8 {
    (v >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The fixed-point taps of one axis: output pixel `i` reads input pixels
/// `start[i] .. start[i] + len[i]` with weights `weights[i * ksize ..][.. len[i]]`.
struct Taps {
    ksize: usize,
    start: Vec<usize>,
    len: Vec<usize>,
    weights: Vec<i32>,
}

impl Taps {
    /// Taps for output pixels `first .. first + count` of a resize of the
    /// input span `in0 .. in1` (of an axis `in_size` long) to `out_size` pixels.
    fn new(
        filter: Filter,
        in_size: usize,
        in0: f32,
        in1: f32,
        out_size: usize,
        first: usize,
        count: usize,
    ) -> Taps {
        let scale = (in1 - in0) as f64 / out_size as f64;
        let filterscale = scale.max(1.0);
        let support = filter.support() * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let inv = 1.0 / filterscale;
        let mut start = Vec::with_capacity(count);
        let mut len = Vec::with_capacity(count);
        let mut weights = vec![0i32; count * ksize];
        let mut w = vec![0f64; ksize];
        for (i, xx) in (first..first + count).enumerate() {
            let center = in0 as f64 + (xx as f64 + 0.5) * scale;
            // C's (int) cast truncates toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64);
            let n = ((xmax - xmin).max(0) as usize).min(ksize);
            let mut sum = 0.0;
            for (x, slot) in w.iter_mut().enumerate().take(n) {
                let v = filter.eval(((x as i64 + xmin) as f64 - center + 0.5) * inv);
                *slot = v;
                sum += v;
            }
            let k = &mut weights[i * ksize..(i + 1) * ksize];
            for x in 0..n {
                let v = if sum != 0.0 { w[x] / sum } else { w[x] };
                let f = v * (1u32 << PRECISION_BITS) as f64;
                k[x] = if v < 0.0 {
                    (f - 0.5) as i32
                } else {
                    (f + 0.5) as i32
                };
            }
            start.push(xmin as usize);
            len.push(n);
        }
        Taps {
            ksize,
            start,
            len,
            weights,
        }
    }

    fn weights(&self, i: usize) -> &[i32] {
        &self.weights[i * self.ksize..i * self.ksize + self.len[i]]
    }

    /// The taps of the same resize of a part of a larger axis that starts
    /// at `offset`.
    fn moved(mut self, offset: usize) -> Taps {
        if offset > 0 {
            for s in &mut self.start {
                *s += offset;
            }
        }
        self
    }

    /// The taps in the opposite order: output pixel `i` gets pixel
    /// `count - 1 - i`'s taps, which mirrors the result (each output pixel
    /// depends only on its own taps).
    fn reversed(mut self) -> Taps {
        self.start.reverse();
        self.len.reverse();
        if self.ksize > 0 {
            let mut w = Vec::with_capacity(self.weights.len());
            for k in self.weights.rchunks_exact(self.ksize) {
                w.extend_from_slice(k);
            }
            self.weights = w;
        }
        self
    }
}

/// Rows processed per parallel task.
const ROWS_PER_TASK: usize = 8;

/// Horizontal pass: output row `r` is computed from input row `row0 + r`.
fn pass_horizontal(src: &RgbImage, row0: usize, rows: usize, taps: &Taps) -> RgbImage {
    let out_w = taps.start.len();
    let mut out = RgbImage::new(out_w, rows);
    if out_w == 0 || rows == 0 {
        return out;
    }
    let row_len = src.width * 3;
    let simd = has_sse41();
    let avx2 = has_avx2();
    #[cfg(target_arch = "x86_64")]
    if avx2 {
        let split = SplitTaps::new(taps);
        out.data
            .par_chunks_mut(out_w * 3)
            .with_min_len(ROWS_PER_TASK)
            .enumerate()
            .for_each_init(Vec::new, |padded, (r, line)| {
                let y = row0 + r;
                // Groups of four taps read 16 bytes from a tap's pixel: up
                // to 13 past the row, which the next rows hold except near
                // the end of the image (then a padded copy).
                let from = y * row_len;
                let input: &[u8] = if from + row_len + AVX2_OVERREAD <= src.data.len() {
                    &src.data[from..from + row_len + AVX2_OVERREAD]
                } else {
                    padded.clear();
                    padded.extend_from_slice(src.row(y));
                    padded.extend_from_slice(&[0; AVX2_OVERREAD]);
                    padded
                };
                // SAFETY: the CPU has AVX2 (checked at run time); `input`
                // has AVX2_OVERREAD bytes after the row.
                unsafe { horizontal_row_avx2(input, line, taps, &split) };
            });
        return out;
    }
    out.data
        .par_chunks_mut(out_w * 3)
        .with_min_len(ROWS_PER_TASK)
        .enumerate()
        .for_each_init(Vec::new, |padded, (r, line)| {
            let y = row0 + r;
            // Each tap reads 4 bytes (a pixel and one more, ignored): the
            // image's last row gets a padded copy.
            let input: &[u8] = if (y + 1) * row_len + 2 <= src.data.len() {
                &src.data[y * row_len..(y + 1) * row_len + 2]
            } else {
                padded.clear();
                padded.extend_from_slice(src.row(y));
                padded.extend_from_slice(&[0, 0]);
                padded
            };
            #[cfg(target_arch = "x86_64")]
            if simd {
                // SAFETY: the CPU has SSE4.1 (checked at run time).
                unsafe { horizontal_row_sse41(input, line, taps) };
                return;
            }
            let _ = (simd, avx2);
            horizontal_row(input, line, taps);
        });
    out
}

/// Bytes [`horizontal_row_avx2`] may read after a row: a group of four taps
/// reads 16 bytes from its first pixel, which is at most three pixels before
/// the row's last (bytes up to 13 past the row's end).
const AVX2_OVERREAD: usize = 16;

/// A tap's weight as `hi * 2048 + lo` with `0 <= lo < 2048`: both halves fit
/// 16 bits (taps are fractions of one, `2^22`, far below the `2^26` that
/// would overflow `hi`), so `pmaddwd` multiplies a sample by each and
/// `(sum hi-products << 11) + sum lo-products` is the 32-bit sum of the
/// sample times the weight, exactly (32-bit integer arithmetic is the same
/// in any order, wrapping included).
#[derive(Debug)]
struct SplitTaps {
    /// Groups of four taps per output pixel (the longest pixel's, rounded up).
    groups: usize,
    /// Per pixel and group: the `hi` halves in the 16 lanes `pmaddwd` meets
    /// them in (taps 0, 1 for the low 128 bits, 2, 3 for the high: `[w0, w1]`
    /// three times, once per band, then two zeros), then the `lo` halves.
    lanes: Vec<[i16; 32]>,
}

impl SplitTaps {
    fn new(taps: &Taps) -> SplitTaps {
        let groups = taps.len.iter().copied().max().unwrap_or(0).div_ceil(4);
        let mut lanes = vec![[0i16; 32]; taps.start.len() * groups];
        for xx in 0..taps.start.len() {
            for (j, &w) in taps.weights(xx).iter().enumerate() {
                let (hi, lo) = ((w >> 11) as i16, (w & 2047) as i16);
                let v = &mut lanes[xx * groups + j / 4];
                // Tap j's lanes: band c of pixel pair (j % 4) / 2, slot j % 2.
                let base = (j % 4 / 2) * 8 + j % 2;
                for c in 0..3 {
                    v[base + 2 * c] = hi;
                    v[16 + base + 2 * c] = lo;
                }
            }
        }
        SplitTaps { groups, lanes }
    }
}

fn has_sse41() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// [`horizontal_row`] with AVX2, four taps at a time: the four pixels'
/// samples as 16-bit lanes, band by band in pairs (`r0 r1 g0 g1 b0 b1 0 0`
/// for taps 0 and 1 in the low half, taps 2 and 3 in the high), `pmaddwd`
/// with [`SplitTaps`]' halves, the two 128-bit halves added at the end.
/// The same 32-bit integer sum as the scalar pass, so the same bytes.
/// `input` is the row plus [`AVX2_OVERREAD`] bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn horizontal_row_avx2(input: &[u8], line: &mut [u8], taps: &Taps, split: &SplitTaps) {
    use std::arch::x86_64::*;
    // Bytes p0 p1 p2 p3 (three each) -> 16-bit r0 r1 g0 g1 b0 b1 0 0 | r2 r3 g2 g3 b2 b3 0 0.
    let z = -1i8;
    #[rustfmt::skip]
    let shuffle = _mm256_setr_epi8(
        0, z, 3, z, 1, z, 4, z, 2, z, 5, z, z, z, z, z,
        6, z, 9, z, 7, z, 10, z, 8, z, 11, z, z, z, z, z,
    );
    let half = _mm_set1_epi32(HALF);
    let groups = split.groups;
    for (xx, px) in line.chunks_exact_mut(3).enumerate() {
        let s = taps.start[xx] * 3;
        let n = taps.len[xx];
        let mut acc_hi = _mm256_setzero_si256();
        let mut acc_lo = _mm256_setzero_si256();
        let w = &split.lanes[xx * groups..xx * groups + n.div_ceil(4)];
        for (g, wg) in w.iter().enumerate() {
            let at = s + g * 12;
            // Up to 13 bytes past the row (AVX2_OVERREAD), asserted here.
            let bytes = &input[at..at + 16];
            let p = _mm256_broadcastsi128_si256(_mm_loadu_si128(bytes.as_ptr().cast()));
            let p = _mm256_shuffle_epi8(p, shuffle);
            let whi = _mm256_loadu_si256(wg.as_ptr().cast());
            let wlo = _mm256_loadu_si256(wg.as_ptr().add(16).cast());
            acc_hi = _mm256_add_epi32(acc_hi, _mm256_madd_epi16(p, whi));
            acc_lo = _mm256_add_epi32(acc_lo, _mm256_madd_epi16(p, wlo));
        }
        let hi = _mm_add_epi32(
            _mm256_castsi256_si128(acc_hi),
            _mm256_extracti128_si256(acc_hi, 1),
        );
        let lo = _mm_add_epi32(
            _mm256_castsi256_si128(acc_lo),
            _mm256_extracti128_si256(acc_lo, 1),
        );
        let sum = _mm_add_epi32(_mm_add_epi32(_mm_slli_epi32(hi, 11), lo), half);
        // `clip8`: the shift, then saturation to 0..=255 (via i16).
        let v = _mm_srai_epi32(sum, PRECISION_BITS as i32);
        let v = _mm_packus_epi16(_mm_packs_epi32(v, v), _mm_setzero_si128());
        let rgb = (_mm_cvtsi128_si32(v) as u32).to_le_bytes();
        px.copy_from_slice(&rgb[..3]);
    }
}

/// One row of the horizontal pass; `input` is the row plus one byte.
fn horizontal_row(input: &[u8], line: &mut [u8], taps: &Taps) {
    for (xx, px) in line.chunks_exact_mut(3).enumerate() {
        let s = taps.start[xx] * 3;
        let k = taps.weights(xx);
        let seg = &input[s..s + k.len() * 3 + 1];
        let mut acc = [HALF; 3];
        for (j, &w) in k.iter().enumerate() {
            for c in 0..3 {
                acc[c] += seg[j * 3 + c] as i32 * w;
            }
        }
        px[0] = clip8(acc[0]);
        px[1] = clip8(acc[1]);
        px[2] = clip8(acc[2]);
    }
}

/// [`horizontal_row`] with SSE4.1: a pixel's three samples (and one more,
/// unused) in the lanes of one vector, multiplied by the tap in 32 bits; the
/// same integer arithmetic, so the same result.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn horizontal_row_sse41(input: &[u8], line: &mut [u8], taps: &Taps) {
    use std::arch::x86_64::*;
    for (xx, px) in line.chunks_exact_mut(3).enumerate() {
        let s = taps.start[xx] * 3;
        let k = taps.weights(xx);
        let seg = &input[s..s + k.len() * 3 + 1];
        let mut acc = _mm_set1_epi32(HALF);
        for (j, &w) in k.iter().enumerate() {
            let four = u32::from_le_bytes(seg[j * 3..j * 3 + 4].try_into().unwrap());
            let p = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(four as i32));
            acc = _mm_add_epi32(acc, _mm_mullo_epi32(p, _mm_set1_epi32(w)));
        }
        let mut lanes = [0i32; 4];
        _mm_storeu_si128(lanes.as_mut_ptr().cast(), acc);
        px[0] = clip8(lanes[0]);
        px[1] = clip8(lanes[1]);
        px[2] = clip8(lanes[2]);
    }
}

/// Vertical pass over columns `col0 .. col0 + cols` of `src`: output row `yy`
/// sums input rows `taps.start[yy] - shift ..`.
fn pass_vertical(src: &RgbImage, col0: usize, cols: usize, shift: usize, taps: &Taps) -> RgbImage {
    let out_h = taps.start.len();
    let mut out = RgbImage::new(cols, out_h);
    if cols == 0 || out_h == 0 {
        return out;
    }
    let n = cols * 3;
    let avx2 = has_avx2();
    out.data
        .par_chunks_mut(n)
        .with_min_len(ROWS_PER_TASK)
        .enumerate()
        .for_each_init(
            || vec![0i32; n],
            |acc, (yy, line)| {
                let y0 = taps.start[yy] - shift;
                let w = taps.weights(yy);
                #[cfg(target_arch = "x86_64")]
                if avx2 {
                    // SAFETY: the CPU has AVX2 (checked at run time).
                    unsafe { vertical_row_avx2(src, y0, col0 * 3, w, acc, line) };
                    return;
                }
                vertical_row(src, y0, col0 * 3, w, acc, line);
            },
        );
    out
}

/// One row of the vertical pass: `line[i] = clip8(HALF + sum_j
/// src[y0 + j][c0 + i] * w[j])`, `acc` a scratch row of `line.len()`.
#[inline(always)]
fn vertical_row(src: &RgbImage, y0: usize, c0: usize, w: &[i32], acc: &mut [i32], line: &mut [u8]) {
    let n = line.len();
    acc.fill(HALF);
    for (j, &w) in w.iter().enumerate() {
        let row = &src.row(y0 + j)[c0..c0 + n];
        for (a, &p) in acc.iter_mut().zip(row) {
            *a += p as i32 * w;
        }
    }
    for (o, &a) in line.iter_mut().zip(acc.iter()) {
        *o = clip8(a);
    }
}

/// [`vertical_row`] compiled for AVX2 (eight 32-bit products per
/// instruction; integer arithmetic, so the same result).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_row_avx2(
    src: &RgbImage,
    y0: usize,
    c0: usize,
    w: &[i32],
    acc: &mut [i32],
    line: &mut [u8],
) {
    vertical_row(src, y0, c0, w, acc, line)
}

/// A rectangle of the output: columns `x .. x + width`, rows `y .. y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl Window {
    /// The whole of a `width x height` image.
    pub fn whole(width: usize, height: usize) -> Window {
        Window {
            x: 0,
            y: 0,
            width,
            height,
        }
    }
}

/// `Image.resize((width, height), filter)`.
pub fn resize(src: &RgbImage, width: usize, height: usize, filter: Filter) -> RgbImage {
    let full = [0.0, 0.0, src.width as f32, src.height as f32];
    resize_window(
        src,
        full,
        width,
        height,
        filter,
        Window::whole(width, height),
    )
}

/// The pixels in `win` of `Image.resize((width, height), filter, bx)`, which
/// are the same as those of the whole result.
///
/// # Panics
/// If `win` is not inside `width x height`, or `bx` is not inside `src` and
/// non-empty (Pillow raises for those).
pub fn resize_window(
    src: &RgbImage,
    bx: [f32; 4],
    width: usize,
    height: usize,
    filter: Filter,
    win: Window,
) -> RgbImage {
    resize_window_mirrored(src, bx, width, height, filter, win, false)
}

/// `Image.resize((width, height), filter)`, mirrored left to right when
/// `mirror` (then `.transpose(FLIP_LEFT_RIGHT)`, the same bytes): the
/// horizontal pass takes its taps in reverse order instead of a second pass
/// over the result.
pub fn resize_mirrored(
    src: &RgbImage,
    width: usize,
    height: usize,
    filter: Filter,
    mirror: bool,
) -> RgbImage {
    let full = [0.0, 0.0, src.width as f32, src.height as f32];
    let win = Window::whole(width, height);
    resize_window_mirrored(src, full, width, height, filter, win, mirror)
}

/// Mirrors `img` left to right in place.
fn mirror_in_place(img: &mut RgbImage) {
    let w = img.width;
    if w == 0 {
        return;
    }
    for row in img.data.chunks_exact_mut(w * 3) {
        for x in 0..w / 2 {
            let (a, b) = (x * 3, (w - 1 - x) * 3);
            for c in 0..3 {
                row.swap(a + c, b + c);
            }
        }
    }
}

/// [`resize_window`], mirrored when `mirror`: the horizontal taps reversed
/// when there is a horizontal pass (a window must then be the whole width),
/// else the result flipped.
fn resize_window_mirrored(
    src: &RgbImage,
    bx: [f32; 4],
    width: usize,
    height: usize,
    filter: Filter,
    win: Window,
    mirror: bool,
) -> RgbImage {
    let whole = Window::whole(src.width, src.height);
    resize_part(src, whole, bx, width, height, filter, win, mirror)
}

/// `crop(src, part)` then [`resize_mirrored`] to `width x height`, without
/// the copy: the passes read the part in place. The taps are computed for an
/// image of the part's size (as on the copy, so with the same clipping at its
/// edges and the same floating point) and only then moved by its offset, so
/// every byte is the copy's. Nearest neighbour, which is not done by taps,
/// resizes a copy.
///
/// # Panics
/// If `part` is not inside `src`.
pub fn resize_crop_mirrored(
    src: &RgbImage,
    part: Window,
    width: usize,
    height: usize,
    filter: Filter,
    mirror: bool,
) -> RgbImage {
    if filter == Filter::Nearest {
        let copy = crop(src, part.x, part.y, part.width, part.height);
        return resize_mirrored(&copy, width, height, filter, mirror);
    }
    let full = [0.0, 0.0, part.width as f32, part.height as f32];
    let win = Window::whole(width, height);
    resize_part(src, part, full, width, height, filter, win, mirror)
}

/// [`resize_window_mirrored`] on the `part` of `src` as if it were the whole
/// image (`bx` in the part's coordinates). Nearest neighbour only for the
/// whole image.
#[allow(clippy::too_many_arguments)]
fn resize_part(
    src: &RgbImage,
    part: Window,
    bx: [f32; 4],
    width: usize,
    height: usize,
    filter: Filter,
    win: Window,
    mirror: bool,
) -> RgbImage {
    assert!(
        part.x + part.width <= src.width && part.y + part.height <= src.height,
        "part outside the image"
    );
    let flipped = |mut img: RgbImage| {
        if mirror {
            mirror_in_place(&mut img);
        }
        img
    };
    assert!(
        !mirror || (win.x == 0 && win.width == width),
        "a mirrored window is whole rows"
    );
    assert!(
        win.x + win.width <= width && win.y + win.height <= height,
        "window outside the output"
    );
    assert!(
        bx[0] >= 0.0
            && bx[1] >= 0.0
            && bx[2] <= part.width as f32
            && bx[3] <= part.height as f32
            && bx[2] >= bx[0]
            && bx[3] >= bx[1],
        "resize box outside the image"
    );
    let (in_w, in_h) = (part.width, part.height);
    let whole_box = bx == [0.0, 0.0, in_w as f32, in_h as f32];
    // Image.resize: same size, whole box -> copy. _resize: an integer box of the
    // output's size -> crop.
    if (width == in_w && height == in_h && whole_box)
        || (bx[0].fract() == 0.0
            && bx[1].fract() == 0.0
            && bx[2] - bx[0] == width as f32
            && bx[3] - bx[1] == height as f32)
    {
        return flipped(crop(
            src,
            part.x + bx[0] as usize + win.x,
            part.y + bx[1] as usize + win.y,
            win.width,
            win.height,
        ));
    }
    if filter == Filter::Nearest {
        assert!(
            (part.width, part.height) == (src.width, src.height),
            "nearest neighbour on a part"
        );
        return flipped(nearest(src, bx, width, height, win));
    }

    let need_h = width != in_w || bx[0] != 0.0 || bx[2] != width as f32;
    let need_v = height != in_h || bx[1] != 0.0 || bx[3] != height as f32;
    let horizontal_first =
        !(in_h > height && (in_h as i64 - height as i64) > (in_w as i64 - width as i64) * 2);

    let taps_h = need_h.then(|| {
        let t = Taps::new(filter, in_w, bx[0], bx[2], width, win.x, win.width).moved(part.x);
        if mirror {
            t.reversed()
        } else {
            t
        }
    });
    let taps_v = need_v
        .then(|| Taps::new(filter, in_h, bx[1], bx[3], height, win.y, win.height).moved(part.y));

    match (taps_h, taps_v) {
        (None, None) => flipped(crop(
            src,
            part.x + win.x,
            part.y + win.y,
            win.width,
            win.height,
        )),
        (Some(h), None) => pass_horizontal(src, part.y + win.y, win.height, &h),
        (None, Some(v)) => flipped(pass_vertical(src, part.x + win.x, win.width, 0, &v)),
        (Some(h), Some(v)) => {
            if horizontal_first {
                // Only the input rows the vertical pass reads.
                let first = v.start.iter().copied().min().unwrap_or(0);
                let last = v
                    .start
                    .iter()
                    .zip(&v.len)
                    .map(|(s, l)| s + l)
                    .max()
                    .unwrap_or(0);
                let tmp = pass_horizontal(src, first, last - first, &h);
                pass_vertical(&tmp, 0, win.width, first, &v)
            } else {
                // All columns the horizontal pass reads.
                let c0 = h.start.iter().copied().min().unwrap_or(0);
                let c1 = h
                    .start
                    .iter()
                    .zip(&h.len)
                    .map(|(s, l)| s + l)
                    .max()
                    .unwrap_or(0);
                let tmp = pass_vertical(src, c0, c1 - c0, 0, &v);
                let shifted = Taps {
                    ksize: h.ksize,
                    start: h.start.iter().map(|s| s - c0).collect(),
                    len: h.len,
                    weights: h.weights,
                };
                pass_horizontal(&tmp, 0, win.height, &shifted)
            }
        }
    }
}

/// A `width x height` piece of `src` from (`x`, `y`), which must lie inside it.
pub fn crop(src: &RgbImage, x: usize, y: usize, width: usize, height: usize) -> RgbImage {
    assert!(
        x + width <= src.width && y + height <= src.height,
        "crop outside the image"
    );
    let mut data = Vec::with_capacity(width * height * 3);
    for r in y..y + height {
        data.extend_from_slice(&src.row(r)[x * 3..(x + width) * 3]);
    }
    RgbImage {
        width,
        height,
        data,
    }
}

/// Pillow's nearest-neighbour resize (`ImagingScaleAffine`): a coordinate
/// that starts half a step in and grows by the step, truncated.
fn nearest(src: &RgbImage, bx: [f32; 4], width: usize, height: usize, win: Window) -> RgbImage {
    let coords = |b0: f32, b1: f32, out: usize, first: usize, count: usize, limit: usize| {
        let step = (b1 - b0) as f64 / out as f64;
        let mut pos = b0 as f64 + step * 0.5;
        let mut v = Vec::with_capacity(count);
        for i in 0..first + count {
            if i >= first {
                let c = if pos < 0.0 { -1 } else { pos as i64 };
                v.push((c >= 0 && (c as usize) < limit).then_some(c as usize));
            }
            pos += step;
        }
        v
    };
    let xs = coords(bx[0], bx[2], width, win.x, win.width, src.width);
    let ys = coords(bx[1], bx[3], height, win.y, win.height, src.height);
    let mut out = RgbImage::new(win.width, win.height);
    if win.width == 0 {
        return out;
    }
    out.data
        .par_chunks_mut(win.width * 3)
        .zip(ys.par_iter())
        .for_each(|(line, yi)| {
            let Some(yi) = yi else { return };
            let row = src.row(*yi);
            for (px, xi) in line.chunks_exact_mut(3).zip(&xs) {
                if let Some(xi) = xi {
                    px.copy_from_slice(&row[xi * 3..xi * 3 + 3]);
                }
            }
        });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The SIMD horizontal pass is the scalar one, bit for bit.
    #[test]
    fn simd_row_equals_scalar_row() {
        if !has_sse41() {
            return;
        }
        let w = 97;
        let mut state = 12345u32;
        let row: Vec<u8> = (0..w * 3 + 1)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        for filter in [
            Filter::Bicubic,
            Filter::Bilinear,
            Filter::Lanczos,
            Filter::Box,
            Filter::Hamming,
        ] {
            for out_w in [1, 2, 13, 50, 61, 96, 97, 140, 300] {
                let taps = Taps::new(filter, w, 0.0, w as f32, out_w, 0, out_w);
                let mut a = vec![0u8; out_w * 3];
                let mut b = vec![0u8; out_w * 3];
                horizontal_row(&row, &mut a, &taps);
                #[cfg(target_arch = "x86_64")]
                // SAFETY: checked above.
                unsafe {
                    horizontal_row_sse41(&row, &mut b, &taps)
                };
                assert_eq!(a, b, "{filter:?} {out_w}");
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    let mut c = vec![0u8; out_w * 3];
                    let mut padded = row[..w * 3].to_vec();
                    padded.extend_from_slice(&[0; AVX2_OVERREAD]);
                    let split = SplitTaps::new(&taps);
                    // SAFETY: checked just above; AVX2_OVERREAD bytes after the row.
                    unsafe { horizontal_row_avx2(&padded, &mut c, &taps, &split) };
                    assert_eq!(a, c, "avx2 {filter:?} {out_w}");
                }
            }
        }
    }

    /// Resizing a part in place is resizing a copy of it, byte for byte:
    /// parts at every edge and inside, every filter, both pass orders, one
    /// pass, the crop shortcut, mirrored or not.
    #[test]
    fn part_in_place_equals_copy() {
        let mut state = 3u32;
        let (w, h) = (61, 47);
        let data = (0..w * h * 3)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 24) as u8
            })
            .collect();
        let img = RgbImage::from_raw(w, h, data).unwrap();
        let parts = [
            (0, 0, w, h),
            (0, 0, 20, 30),
            (w - 25, h - 17, 25, 17),
            (7, 5, 33, 40),
            (13, 0, 48, h),
            (0, 11, w, 9),
            (30, 20, 1, 1),
        ];
        let sizes = [(16, 16), (33, 40), (40, 33), (70, 9), (5, 60), (1, 1)];
        for filter in [
            Filter::Nearest,
            Filter::Box,
            Filter::Bilinear,
            Filter::Hamming,
            Filter::Bicubic,
            Filter::Lanczos,
        ] {
            for &(x, y, pw, ph) in &parts {
                let part = Window {
                    x,
                    y,
                    width: pw,
                    height: ph,
                };
                let copy = crop(&img, x, y, pw, ph);
                for &(ow, oh) in &sizes {
                    for mirror in [false, true] {
                        let expect = resize_mirrored(&copy, ow, oh, filter, mirror);
                        let got = resize_crop_mirrored(&img, part, ow, oh, filter, mirror);
                        assert_eq!(
                            (got.width, got.height),
                            (expect.width, expect.height),
                            "{filter:?} {part:?} {ow}x{oh} {mirror}"
                        );
                        assert!(
                            got.data == expect.data,
                            "{filter:?} {part:?} {ow}x{oh} {mirror}"
                        );
                    }
                }
            }
        }
    }

    /// The mirrored resize is the resize, flipped, in every path (copy,
    /// crop, one pass, two passes either order, nearest).
    #[test]
    fn mirrored_equals_resize_then_flip() {
        let mut state = 7u32;
        let mut img = |w: usize, h: usize| {
            let data = (0..w * h * 3)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    (state >> 24) as u8
                })
                .collect();
            RgbImage::from_raw(w, h, data).unwrap()
        };
        for (sw, sh, ow, oh) in [
            (40, 30, 40, 30),
            (40, 30, 17, 30),
            (40, 30, 40, 11),
            (40, 30, 23, 19),
            (20, 90, 18, 13),
            (15, 12, 31, 29),
        ] {
            let src = img(sw, sh);
            for f in [
                Filter::Bilinear,
                Filter::Bicubic,
                Filter::Nearest,
                Filter::Lanczos,
            ] {
                let mut want = resize(&src, ow, oh, f);
                mirror_in_place(&mut want);
                assert_eq!(
                    resize_mirrored(&src, ow, oh, f, true),
                    want,
                    "{sw}x{sh}->{ow}x{oh} {f:?}"
                );
                assert_eq!(
                    resize_mirrored(&src, ow, oh, f, false),
                    resize(&src, ow, oh, f)
                );
            }
        }
    }
}
