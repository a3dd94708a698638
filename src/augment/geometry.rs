//! timm's geometric AutoAugment/RandAugment ops (`timm/data/auto_augment.py`:
//! `rotate`, `shear_x`, `shear_y`, `translate_{x,y}_{abs,rel}`), computed as
//! Pillow 13 computes `Image.transform(size, AFFINE, data, resample,
//! fillcolor=fill)` and `Image.rotate(angle, resample, fillcolor=fill)` on RGB
//! images, to the byte.
//!
//! What Pillow does (`Image.py`: `transform`, `__transformer`, `rotate`;
//! `libImaging/Geometry.c`: `ImagingTransformAffine`, which sends every filter
//! but NEAREST to `ImagingGenericTransform`):
//!
//! - the output, of the input's size, starts as the fill colour
//!   (`Image.new(mode, size, fillcolor)`), and an output pixel whose source
//!   point falls outside the input keeps it (`fill` is 0 when a `fillcolor` is
//!   given, so nothing is cleared);
//! - output pixel `(x, y)` samples the input at `affine_transform`'s
//!   `xin = a0 (x + 0.5) + a1 (y + 0.5) + a2`, `yin = a3 (x + 0.5) + a4 (y + 0.5) + a5`
//!   (f64, evaluated left to right), and is outside when `xin < 0`,
//!   `xin >= width`, `yin < 0` or `yin >= height`;
//! - `bilinear_filter32RGB` / `bicubic_filter32RGB` interpolate around
//!   `(xin - 0.5, yin - 0.5)` in f64, columns clamped to the image, the first
//!   row clamped and each later row, when outside the image, replaced by the
//!   row value before it; bilinear truncates the result to u8, bicubic clips it
//!   to 0..=255 first.
//!
//! Only BILINEAR and BICUBIC are here: they are the two timm draws from
//! (`_RANDOM_INTERPOLATION`) and what its `interpolation` hparam can be in a
//! training recipe. NEAREST takes other code paths in Pillow (fixed-point
//! affine scans) and is not implemented.

use crate::data::decode::RgbImage;

/// The resampling filters timm's geometric ops use (`Image.Resampling`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resample {
    Bilinear,
    Bicubic,
}

/// `Geometry.c`'s `FLOOR`: C's `(int)` truncation for non-negative values,
/// `floor` for negative ones, i.e. floor. Written with a truncation and a
/// compare so that it needs no `floor` call on baseline x86-64 (same value for
/// every finite `v` in `i64`'s range, which the in-image test guarantees).
#[inline(always)]
fn floor_i(v: f64) -> i64 {
    let t = v as i64;
    if (t as f64) > v {
        t - 1
    } else {
        t
    }
}

/// `Geometry.c`'s `BILINEAR(v, a, b, d)`: `a + (b - a) * d`.
#[inline(always)]
fn lerp(a: f64, b: f64, d: f64) -> f64 {
    a + (b - a) * d
}

/// `Geometry.c`'s `BICUBIC(v, v1, v2, v3, v4, d)`: the a = -1 cubic
/// convolution, in Horner form, with Pillow's grouping of the terms.
#[inline(always)]
fn cubic(v1: f64, v2: f64, v3: f64, v4: f64, d: f64) -> f64 {
    let p1 = v2;
    let p2 = -v1 + v3;
    let p3 = 2.0 * (v1 - v2) + v3 - v4;
    let p4 = -v1 + v2 - v3 + v4;
    p1 + d * (p2 + d * (p3 + d * p4))
}

/// The three bands of the pixel at byte offset `i` (in bounds: callers clamp).
#[inline(always)]
fn px3(data: &[u8], i: usize) -> [f64; 3] {
    let p = &data[i..i + 3];
    [f64::from(p[0]), f64::from(p[1]), f64::from(p[2])]
}

/// `bilinear_filter32RGB`, all three bands (each band's arithmetic is
/// Pillow's, in its order; the coordinates are shared), at a point already
/// known to be inside.
#[inline(always)]
fn bilinear(img: &RgbImage, xin: f64, yin: f64) -> [u8; 3] {
    let (w, h) = (img.width as i64, img.height as i64);
    let xin = xin - 0.5;
    let yin = yin - 0.5;
    let x = floor_i(xin);
    let y = floor_i(yin);
    let dx = xin - x as f64;
    let dy = yin - y as f64;
    // `XCLIP`.
    let x0 = x.clamp(0, w - 1) as usize * 3;
    let x1 = (x + 1).clamp(0, w - 1) as usize * 3;
    let stride = img.width * 3;
    // The first row is clamped (`YCLIP`); the second, when outside, repeats it.
    let r0 = y.clamp(0, h - 1) as usize * stride;
    let (a, b) = (px3(&img.data, r0 + x0), px3(&img.data, r0 + x1));
    let v1 = [
        lerp(a[0], b[0], dx),
        lerp(a[1], b[1], dx),
        lerp(a[2], b[2], dx),
    ];
    let v2 = if y + 1 >= 0 && y + 1 < h {
        let r1 = (y + 1) as usize * stride;
        let (a, b) = (px3(&img.data, r1 + x0), px3(&img.data, r1 + x1));
        [
            lerp(a[0], b[0], dx),
            lerp(a[1], b[1], dx),
            lerp(a[2], b[2], dx),
        ]
    } else {
        v1
    };
    // A convex combination of u8 values: `(UINT8)` truncates.
    [
        lerp(v1[0], v2[0], dy) as u8,
        lerp(v1[1], v2[1], dy) as u8,
        lerp(v1[2], v2[2], dy) as u8,
    ]
}

/// `bicubic_filter32RGB`, all three bands, at a point already known to be
/// inside.
#[inline(always)]
fn bicubic(img: &RgbImage, xin: f64, yin: f64) -> [u8; 3] {
    let (w, h) = (img.width as i64, img.height as i64);
    let xin = xin - 0.5;
    let yin = yin - 0.5;
    let x = floor_i(xin);
    let y = floor_i(yin);
    let dx = xin - x as f64;
    let dy = yin - y as f64;
    let (x, y) = (x - 1, y - 1);
    let xc = |k: i64| (x + k).clamp(0, w - 1) as usize * 3;
    let xs = [xc(0), xc(1), xc(2), xc(3)];
    let stride = img.width * 3;
    let row = |yy: i64| {
        let r = yy as usize * stride;
        let p = [
            px3(&img.data, r + xs[0]),
            px3(&img.data, r + xs[1]),
            px3(&img.data, r + xs[2]),
            px3(&img.data, r + xs[3]),
        ];
        let c = |c: usize| cubic(p[0][c], p[1][c], p[2][c], p[3][c], dx);
        [c(0), c(1), c(2)]
    };
    let inside = |yy: i64| yy >= 0 && yy < h;
    let v1 = row(y.clamp(0, h - 1));
    let v2 = if inside(y + 1) { row(y + 1) } else { v1 };
    let v3 = if inside(y + 2) { row(y + 2) } else { v2 };
    let v4 = if inside(y + 3) { row(y + 3) } else { v3 };
    let out = |c: usize| {
        let v = cubic(v1[c], v2[c], v3[c], v4[c], dy);
        if v <= 0.0 {
            0
        } else if v >= 255.0 {
            255
        } else {
            v as u8
        }
    };
    [out(0), out(1), out(2)]
}

/// `img.transform(img.size, Image.AFFINE, a, resample, fillcolor=fill)`: the
/// output pixel `(x, y)` is the input sampled at `(a0 x' + a1 y' + a2,
/// a3 x' + a4 y' + a5)` with `x' = x + 0.5`, `y' = y + 0.5` (the inverse map,
/// from output to input).
pub fn affine(img: &RgbImage, a: [f64; 6], resample: Resample, fill: [u8; 3]) -> RgbImage {
    let mut out = RgbImage::new(img.width, img.height);
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked at run time). Only integer and
        // f64 add/mul/compare code is compiled differently (Rust never fuses
        // a multiply and an add), so the result is the same.
        unsafe { affine_avx2(img, a, resample, fill, &mut out) };
        return out;
    }
    affine_into(img, a, resample, fill, &mut out);
    out
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn affine_avx2(
    img: &RgbImage,
    a: [f64; 6],
    resample: Resample,
    fill: [u8; 3],
    out: &mut RgbImage,
) {
    match resample {
        // SAFETY: this function's caller checked AVX2.
        Resample::Bicubic => affine_with(img, a, fill, out, |i, x, y| unsafe {
            bicubic_avx2(i, x, y)
        }),
        Resample::Bilinear => affine_into(img, a, resample, fill, out),
    }
}

/// [`cubic`] on the three bands at once, one per f64 lane (the fourth
/// unused): the same operations in the same order, lane by lane, and no
/// fused multiply-add, so the same values.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn cubic_x4(
    v1: std::arch::x86_64::__m256d,
    v2: std::arch::x86_64::__m256d,
    v3: std::arch::x86_64::__m256d,
    v4: std::arch::x86_64::__m256d,
    d: std::arch::x86_64::__m256d,
) -> std::arch::x86_64::__m256d {
    use std::arch::x86_64::*;
    let p1 = v2;
    // `-v1 + v3` and `-v1 + v2` are the subtractions, exactly.
    let p2 = _mm256_sub_pd(v3, v1);
    let two = _mm256_set1_pd(2.0);
    let p3 = _mm256_sub_pd(
        _mm256_add_pd(_mm256_mul_pd(two, _mm256_sub_pd(v1, v2)), v3),
        v4,
    );
    let p4 = _mm256_add_pd(_mm256_sub_pd(_mm256_sub_pd(v2, v1), v3), v4);
    let inner = _mm256_add_pd(p3, _mm256_mul_pd(d, p4));
    let inner = _mm256_add_pd(p2, _mm256_mul_pd(d, inner));
    _mm256_add_pd(p1, _mm256_mul_pd(d, inner))
}

/// [`bicubic`] with the bands in the lanes of [`cubic_x4`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn bicubic_avx2(img: &RgbImage, xin: f64, yin: f64) -> [u8; 3] {
    use std::arch::x86_64::*;
    let (w, h) = (img.width as i64, img.height as i64);
    let xin = xin - 0.5;
    let yin = yin - 0.5;
    let x = floor_i(xin);
    let y = floor_i(yin);
    let dx = _mm256_set1_pd(xin - x as f64);
    let dy = _mm256_set1_pd(yin - y as f64);
    let (x, y) = (x - 1, y - 1);
    let xc = |k: i64| (x + k).clamp(0, w - 1) as usize * 3;
    let xs = [xc(0), xc(1), xc(2), xc(3)];
    let stride = img.width * 3;
    let load = |i: usize| {
        let p = &img.data[i..i + 3];
        let v = u32::from(p[0]) | u32::from(p[1]) << 8 | u32::from(p[2]) << 16;
        _mm256_cvtepi32_pd(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(v as i32)))
    };
    let row = |yy: i64| {
        let r = yy as usize * stride;
        cubic_x4(
            load(r + xs[0]),
            load(r + xs[1]),
            load(r + xs[2]),
            load(r + xs[3]),
            dx,
        )
    };
    let inside = |yy: i64| yy >= 0 && yy < h;
    let v1 = row(y.clamp(0, h - 1));
    let v2 = if inside(y + 1) { row(y + 1) } else { v1 };
    let v3 = if inside(y + 2) { row(y + 2) } else { v2 };
    let v4 = if inside(y + 3) { row(y + 3) } else { v3 };
    let v = cubic_x4(v1, v2, v3, v4, dy);
    // `v <= 0 -> 0`, `v >= 255 -> 255`, else truncated: the clamp then the
    // truncation give the same (no NaN comes from u8 samples).
    let v = _mm256_min_pd(_mm256_max_pd(v, _mm256_setzero_pd()), _mm256_set1_pd(255.0));
    let i = _mm256_cvttpd_epi32(v);
    let mut lanes = [0i32; 4];
    _mm_storeu_si128(lanes.as_mut_ptr().cast(), i);
    [lanes[0] as u8, lanes[1] as u8, lanes[2] as u8]
}

#[inline(always)]
fn affine_into(img: &RgbImage, a: [f64; 6], resample: Resample, fill: [u8; 3], out: &mut RgbImage) {
    match resample {
        Resample::Bilinear => affine_with(img, a, fill, out, bilinear),
        Resample::Bicubic => affine_with(img, a, fill, out, bicubic),
    }
}

#[inline(always)]
fn affine_with(
    img: &RgbImage,
    a: [f64; 6],
    fill: [u8; 3],
    out: &mut RgbImage,
    sample: impl Fn(&RgbImage, f64, f64) -> [u8; 3],
) {
    let (w, h) = (img.width, img.height);
    if w == 0 {
        return;
    }
    for (y, line) in out.data.chunks_exact_mut(w * 3).enumerate() {
        let yo = y as f64 + 0.5;
        for (x, px) in line.chunks_exact_mut(3).enumerate() {
            let xo = x as f64 + 0.5;
            let xin = a[0] * xo + a[1] * yo + a[2];
            let yin = a[3] * xo + a[4] * yo + a[5];
            let v = if xin < 0.0 || xin >= w as f64 || yin < 0.0 || yin >= h as f64 {
                fill
            } else {
                sample(img, xin, yin)
            };
            px.copy_from_slice(&v);
        }
    }
}

/// Python's `round(v, 15)`: the nearest f64 to `v` rounded to 15 decimals.
/// Rust's formatting rounds the exact binary value correctly, as CPython's
/// `round` does (`_Py_dg_dtoa` mode 3), and parsing is correctly rounded too.
fn round15(v: f64) -> f64 {
    format!("{v:.15}").parse().expect("a formatted f64 parses")
}

/// Python's float `%` with a positive divisor: the result takes the divisor's
/// sign (`float_rem` in CPython's floatobject.c).
fn py_mod(a: f64, m: f64) -> f64 {
    let r = a % m;
    if r != 0.0 && r < 0.0 {
        r + m
    } else if r == 0.0 {
        0.0
    } else {
        r
    }
}

/// The 90°-step rotations `Image.transpose` makes (`Geometry.c`'s
/// `ImagingRotate90/180/270`), which `rotate` takes instead of resampling.
fn transpose(img: &RgbImage, quarter_turns_ccw: u32) -> RgbImage {
    let (w, h) = (img.width, img.height);
    let (ow, oh) = if quarter_turns_ccw == 2 {
        (w, h)
    } else {
        (h, w)
    };
    let mut out = RgbImage::new(ow, oh);
    for y in 0..oh {
        for x in 0..ow {
            let (sx, sy) = match quarter_turns_ccw {
                // Counter-clockwise: the top-right corner comes to the top left.
                1 => (w - 1 - y, x),
                2 => (w - 1 - x, h - 1 - y),
                _ => (y, h - 1 - x),
            };
            let o = (y * ow + x) * 3;
            let i = (sy * w + sx) * 3;
            out.data[o..o + 3].copy_from_slice(&img.data[i..i + 3]);
        }
    }
    out
}

/// timm's `rotate(img, degrees)`: `img.rotate(degrees, resample,
/// fillcolor=fill)`, counter-clockwise about the centre, same size.
///
/// Pillow's `Image.rotate`: `angle = degrees % 360`; 0 is a copy, 180 a
/// transpose, and 90 or 270 a transpose when the image is square. Otherwise the
/// inverse matrix, with `t = -radians(angle)`, is
/// `[round(cos t, 15), round(sin t, 15), c, round(-sin t, 15), round(cos t, 15), f]`
/// where `(c, f) = M (-w/2, -h/2) + (w/2, h/2)`.
pub fn rotate(img: &RgbImage, degrees: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    let angle = py_mod(degrees, 360.0);
    if angle == 0.0 {
        return img.clone();
    }
    if angle == 180.0 {
        return transpose(img, 2);
    }
    if (angle == 90.0 || angle == 270.0) && img.width == img.height {
        return transpose(img, if angle == 90.0 { 1 } else { 3 });
    }
    let (w, h) = (img.width as f64, img.height as f64);
    let (cx, cy) = (w / 2.0, h / 2.0);
    // `math.radians` multiplies by `pi / 180` (CPython's `degToRad`).
    let t = -(angle * (std::f64::consts::PI / 180.0));
    let mut m = [
        round15(t.cos()),
        round15(t.sin()),
        0.0,
        round15(-t.sin()),
        round15(t.cos()),
        0.0,
    ];
    // `transform(-center[0] - post_trans[0], ...)`: `a x + b y + c`, c = 0.
    let (x, y) = (-cx - 0.0, -cy - 0.0);
    m[2] = m[0] * x + m[1] * y + 0.0;
    m[5] = m[3] * x + m[4] * y + 0.0;
    m[2] += cx;
    m[5] += cy;
    affine(img, m, resample, fill)
}

/// timm's `shear_x(img, factor)`: matrix `(1, factor, 0, 0, 1, 0)`.
pub fn shear_x(img: &RgbImage, factor: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    affine(img, [1.0, factor, 0.0, 0.0, 1.0, 0.0], resample, fill)
}

/// timm's `shear_y(img, factor)`: matrix `(1, 0, 0, factor, 1, 0)`.
pub fn shear_y(img: &RgbImage, factor: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    affine(img, [1.0, 0.0, 0.0, factor, 1.0, 0.0], resample, fill)
}

/// timm's `translate_x_abs(img, pixels)`: matrix `(1, 0, pixels, 0, 1, 0)`;
/// positive `pixels` moves the content left.
pub fn translate_x_abs(img: &RgbImage, pixels: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    affine(img, [1.0, 0.0, pixels, 0.0, 1.0, 0.0], resample, fill)
}

/// timm's `translate_y_abs(img, pixels)`: matrix `(1, 0, 0, 0, 1, pixels)`.
pub fn translate_y_abs(img: &RgbImage, pixels: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    affine(img, [1.0, 0.0, 0.0, 0.0, 1.0, pixels], resample, fill)
}

/// timm's `translate_x_rel(img, pct)`: `pixels = pct * width`.
pub fn translate_x_rel(img: &RgbImage, pct: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    translate_x_abs(img, pct * img.width as f64, resample, fill)
}

/// timm's `translate_y_rel(img, pct)`: `pixels = pct * height`.
pub fn translate_y_rel(img: &RgbImage, pct: f64, resample: Resample, fill: [u8; 3]) -> RgbImage {
    translate_y_abs(img, pct * img.height as f64, resample, fill)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(w: usize, h: usize) -> RgbImage {
        let data = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        RgbImage::from_raw(w, h, data).unwrap()
    }

    #[test]
    fn python_round_and_mod() {
        assert_eq!(round15(1.0 / 3.0), 0.333333333333333);
        assert_eq!(round15((30f64).to_radians().cos()), 0.866025403784439);
        assert_eq!(py_mod(-45.0, 360.0), 315.0);
        assert_eq!(py_mod(720.0, 360.0), 0.0);
        assert_eq!(py_mod(30.0, 360.0), 30.0);
    }

    /// The AVX2 bicubic sampler gives the scalar one's bytes: rotations,
    /// shears and translations of a noisy image, edges and overshoot
    /// (clipping) included.
    #[test]
    fn avx2_bicubic_equals_scalar() {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            let mut state = 99u32;
            let (w, h) = (37, 29);
            let data = (0..w * h * 3)
                .map(|_| {
                    state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    // Extremes next to each other overshoot the cubic.
                    if state >> 31 == 1 {
                        255
                    } else {
                        (state >> 24) as u8 & 15
                    }
                })
                .collect();
            let img = RgbImage::from_raw(w, h, data).unwrap();
            let mut mats = vec![
                [1.0, 0.3, -4.0, 0.0, 1.0, 0.0],
                [1.0, 0.0, 0.0, -0.27, 1.0, 3.5],
                [1.0, 0.0, 7.3, 0.0, 1.0, -2.2],
            ];
            for deg in [3.0f64, -17.0, 29.5, 90.0, 181.0] {
                let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
                mats.push([c, s, -3.0, -s, c, 5.0]);
            }
            for a in mats {
                let mut want = RgbImage::new(w, h);
                affine_into(&img, a, Resample::Bicubic, [9, 8, 7], &mut want);
                assert_eq!(affine(&img, a, Resample::Bicubic, [9, 8, 7]), want, "{a:?}");
            }
        }
    }

    #[test]
    fn identity_matrix_is_a_copy() {
        let img = ramp(7, 5);
        for r in [Resample::Bilinear, Resample::Bicubic] {
            assert_eq!(
                affine(&img, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], r, [1, 2, 3]),
                img
            );
        }
    }

    #[test]
    fn integer_translation_shifts_and_fills() {
        let img = ramp(6, 4);
        let out = translate_x_abs(&img, 2.0, Resample::Bilinear, [9, 8, 7]);
        for y in 0..4 {
            for x in 0..6 {
                let want = if x + 2 < 6 {
                    img.pixel(x + 2, y)
                } else {
                    [9, 8, 7]
                };
                assert_eq!(out.pixel(x, y), want, "({x}, {y})");
            }
        }
    }

    #[test]
    fn quarter_turns() {
        let img = ramp(3, 3);
        let ccw = rotate(&img, 90.0, Resample::Bicubic, [0; 3]);
        assert_eq!(ccw.pixel(0, 0), img.pixel(2, 0));
        let cw = rotate(&img, -90.0, Resample::Bicubic, [0; 3]);
        assert_eq!(cw.pixel(0, 0), img.pixel(0, 2));
        let half = rotate(&ramp(4, 2), 180.0, Resample::Bilinear, [0; 3]);
        assert_eq!(half.pixel(0, 0), ramp(4, 2).pixel(3, 1));
    }
}
