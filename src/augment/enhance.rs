//! timm's `ImageEnhance` AutoAugment/RandAugment ops (`timm/data/auto_augment.py`:
//! `color`, `contrast`, `brightness`, `sharpness`, `desaturate`) as Pillow 13
//! computes them on RGB images.
//!
//! `ImageEnhance._Enhance.enhance(factor)` is `Image.blend(degenerate, image,
//! factor)`, and `ImagingBlend` (`libImaging/Blend.c`) works in C `float`:
//! `alpha = (float)factor`; `alpha == 0` copies the degenerate image and
//! `alpha == 1` the image; for `0 <= alpha <= 1` each byte is
//! `(UINT8)(d + alpha * (i - d))` (truncated), otherwise the same value is
//! clipped to 0..=255 before truncation. The degenerate images:
//!
//! - Color: `image.convert("L").convert("RGB")`, with `Convert.c`'s `rgb2l`
//!   `L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16`;
//! - Contrast: a flat image of `int(mean + 0.5)`, the mean of that L image
//!   (`ImageStat.Stat(...).mean[0]`: the integer sum of its histogram over the
//!   pixel count, a correctly rounded f64 division);
//! - Brightness: black;
//! - Sharpness: `image.filter(ImageFilter.SMOOTH)`, see [`smooth`].

use crate::data::decode::RgbImage;

/// `Image.blend(degenerate, img, factor)` (`ImagingBlend`).
pub fn blend(degenerate: &RgbImage, img: &RgbImage, factor: f64) -> RgbImage {
    assert_eq!(
        (degenerate.width, degenerate.height),
        (img.width, img.height),
        "blend of images of different sizes"
    );
    let alpha = factor as f32;
    if alpha == 0.0 {
        return degenerate.clone();
    }
    if alpha == 1.0 {
        return img.clone();
    }
    let interpolate = (0.0..=1.0).contains(&alpha);
    let data = degenerate
        .data
        .iter()
        .zip(&img.data)
        .map(|(&d, &i)| {
            let v = f32::from(d) + alpha * (i32::from(i) - i32::from(d)) as f32;
            if interpolate {
                v as u8
            } else if v <= 0.0 {
                0
            } else if v >= 255.0 {
                255
            } else {
                v as u8
            }
        })
        .collect();
    RgbImage::from_raw(img.width, img.height, data).expect("same size as the input")
}

/// `Convert.c`'s `rgb2l` (ITU-R 601-2 luma in 16-bit fixed point).
fn luma(px: &[u8]) -> u8 {
    let [r, g, b] = [px[0], px[1], px[2]].map(u32::from);
    ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16) as u8
}

/// `image.convert("L").convert("RGB")`.
pub fn grayscale(img: &RgbImage) -> RgbImage {
    let mut out = img.clone();
    for px in out.data.chunks_exact_mut(3) {
        let l = luma(px);
        px.copy_from_slice(&[l; 3]);
    }
    out
}

/// `ImageEnhance.Color(img).enhance(factor)`: 0 is grey, 1 the image.
pub fn color(img: &RgbImage, factor: f64) -> RgbImage {
    blend(&grayscale(img), img, factor)
}

/// `ImageEnhance.Contrast(img).enhance(factor)`: 0 is flat grey at the mean
/// luma, 1 the image.
pub fn contrast(img: &RgbImage, factor: f64) -> RgbImage {
    let pixels = (img.width * img.height) as u64;
    let sum: u64 = img.data.chunks_exact(3).map(|px| u64::from(luma(px))).sum();
    // `ImageStat`'s mean is 0 for an empty image; `int(m + 0.5)` floors.
    let mean = if pixels == 0 {
        0.0
    } else {
        sum as f64 / pixels as f64
    };
    let level = (mean + 0.5) as u8;
    let mut degenerate = img.clone();
    degenerate.data.fill(level);
    blend(&degenerate, img, factor)
}

/// `ImageEnhance.Brightness(img).enhance(factor)`: 0 is black, 1 the image.
pub fn brightness(img: &RgbImage, factor: f64) -> RgbImage {
    blend(&RgbImage::new(img.width, img.height), img, factor)
}

/// `image.filter(ImageFilter.SMOOTH)`: the 3x3 kernel `[1 1 1; 1 5 1; 1 1 1] /
/// 13` through `Filter.c`'s `ImagingFilter3x3`. The kernel is f32 (`_filter`
/// divides each entry by the f32 divisor); per band, the sum starts at the
/// offset plus 0.5 (rounding), then adds the row below, the row, the row
/// above, each as `(left k0 + centre k1) + right k2` in f32, and is clamped
/// to 0..=255 and truncated. The first and last rows and columns are copied;
/// an image under 3x3 is copied whole (`ImagingFilter`).
pub fn smooth(img: &RgbImage) -> RgbImage {
    let (w, h) = (img.width, img.height);
    if w < 3 || h < 3 {
        return img.clone();
    }
    let k1 = 1.0f32 / 13.0f32;
    let k5 = 5.0f32 / 13.0f32;
    // Rows of kernel entries in the order ImagingFilter3x3 applies them:
    // kernel[0..3] to the row below, [3..6] to the row, [6..9] to the row above.
    let kernel = [[k1, k1, k1], [k1, k5, k1], [k1, k1, k1]];
    let mut out = img.clone();
    let at = |x: usize, y: usize, c: usize| f32::from(img.data[(y * w + x) * 3 + c]);
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            for c in 0..3 {
                let mut ss = 0.0f32 + 0.5;
                for (k, yy) in kernel.iter().zip([y + 1, y, y - 1]) {
                    ss += at(x - 1, yy, c) * k[0] + at(x, yy, c) * k[1] + at(x + 1, yy, c) * k[2];
                }
                out.data[(y * w + x) * 3 + c] = ss.clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// `ImageEnhance.Sharpness(img).enhance(factor)`: 0 is smoothed, 1 the
/// image, 2 sharpened.
pub fn sharpness(img: &RgbImage, factor: f64) -> RgbImage {
    blend(&smooth(img), img, factor)
}

/// timm's `desaturate(img, factor)`: `Color` at `min(1, max(0, 1 - factor))`.
pub fn desaturate(img: &RgbImage, factor: f64) -> RgbImage {
    color(img, (1.0 - factor).clamp(0.0, 1.0))
}

/// `Filter.c`-free half of `BoxBlur.c`: `_gaussian_blur_radius`, the
/// extended box radius whose `passes` box blurs approximate a Gaussian of
/// standard deviation `radius` (Gwosdek et al., "Theoretical foundations of
/// Gaussian convolution by extended box filtering", SSVM 2011). C's mixture of
/// `float` variables and `double` literals is kept: `sigma2`, `l`, `a` are f32,
/// `sqrt` and the `floor` argument are f64.
fn box_radius(radius: f32, passes: u32) -> f32 {
    let sigma2 = radius * radius / passes as f32;
    let big_l = (12.0 * f64::from(sigma2) + 1.0).sqrt() as f32;
    let l = ((f64::from(big_l) - 1.0) / 2.0).floor() as f32;
    let mut a = (2.0 * l + 1.0) * (l * (l + 1.0) - 3.0 * sigma2);
    a /= 6.0 * (sigma2 - (l + 1.0) * (l + 1.0));
    l + a
}

/// `BoxBlur.c`'s `ImagingHorizontalBoxBlur` on one line of `n` pixels (a
/// row, or a column after Pillow's transpose), one band at `stride`: a box of
/// `2 r + 1` pixels, `r = (int)radius`, weighted `ww = (u32)(2^24 / (2 radius + 1))`
/// (the division in f32), plus the two pixels just outside it weighted
/// `fw = (2^24 - (2 r + 1) ww) / 2`; pixels beyond the ends repeat the end
/// pixels; the sum is rounded from 24 fractional bits. The running sum is
/// Pillow's, in wrapping u32 arithmetic.
fn box_blur_line(line: &mut [u8], radius: f32) {
    let n = line.len();
    let r = radius as i64;
    let ww = (16_777_216.0f32 / (radius * 2.0 + 1.0)) as u32;
    let fw = (16_777_216u32.wrapping_sub(((r * 2 + 1) as u32).wrapping_mul(ww))) / 2;
    let last = n as i64 - 1;
    // Index clamped to the line: the accumulator's reads past the ends, as
    // Pillow's three loops arrange them.
    let input: Vec<u8> = line.to_vec();
    let at = |i: i64| u32::from(input[i.clamp(0, last) as usize]);
    let edge_a = (r + 1).min(n as i64);
    // The sum for pixel -1: pixel 0 counted r + 1 times, then 0..edge_a-1,
    // then the last pixel for the part of the box beyond the line.
    let mut acc = at(0).wrapping_mul((r + 1) as u32);
    for x in 0..edge_a - 1 {
        acc = acc.wrapping_add(at(x));
    }
    acc = acc.wrapping_add(at(last).wrapping_mul((r - edge_a + 1) as u32));
    for x in 0..n as i64 {
        // Leaving: pixel x - r - 1 (clamped to 0); entering: x + r (clamped
        // to the last pixel); the far pixels: x - r - 1 and x + r + 1, clamped.
        let sub = at(x - r - 1);
        let add = at(x + r);
        acc = acc.wrapping_add(add.wrapping_sub(sub));
        let bulk = acc
            .wrapping_mul(ww)
            .wrapping_add((at(x - r - 1) + at(x + r + 1)).wrapping_mul(fw));
        line[x as usize] = (bulk.wrapping_add(1 << 23) >> 24) as u8;
    }
}

/// `ImageFilter.GaussianBlur(radius)` (`Image.gaussian_blur`, 3 passes):
/// radius 0 is a copy; otherwise `BoxBlur.c`'s `ImagingBoxBlur` with the
/// extended box radius of [`box_radius`] (f32, as `_gaussian_blur` parses it):
/// three horizontal passes over every row, then three over every column,
/// each pass reading the previous one's 8-bit output.
pub fn gaussian_blur(img: &RgbImage, radius: f64) -> RgbImage {
    const PASSES: u32 = 3;
    if radius == 0.0 {
        return img.clone();
    }
    let br = box_radius(radius as f32, PASSES);
    let mut out = img.clone();
    let (w, h) = (img.width, img.height);
    if w == 0 || h == 0 || br == 0.0 {
        return out;
    }
    let mut line = Vec::new();
    for c in 0..3 {
        for y in 0..h {
            line.clear();
            line.extend((0..w).map(|x| out.data[(y * w + x) * 3 + c]));
            for _ in 0..PASSES {
                box_blur_line(&mut line, br);
            }
            for (x, &v) in line.iter().enumerate() {
                out.data[(y * w + x) * 3 + c] = v;
            }
        }
        for x in 0..w {
            line.clear();
            line.extend((0..h).map(|y| out.data[(y * w + x) * 3 + c]));
            for _ in 0..PASSES {
                box_blur_line(&mut line, br);
            }
            for (y, &v) in line.iter().enumerate() {
                out.data[(y * w + x) * 3 + c] = v;
            }
        }
    }
    out
}

/// timm's `gaussian_blur_rand(img, factor)`: a Gaussian blur of radius
/// `random.uniform(0.1, 2.0 * factor) = 0.1 + (2.0 * factor - 0.1) * u`, with
/// `u` (`random.random()`) drawn by the caller.
pub fn gaussian_blur_rand(img: &RgbImage, factor: f64, u: f64) -> RgbImage {
    let (a, b) = (0.1, 2.0 * factor);
    gaussian_blur(img, a + (b - a) * u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_rounds_in_f32_and_clips_outside() {
        let d = RgbImage::from_raw(1, 1, vec![0, 100, 255]).unwrap();
        let i = RgbImage::from_raw(1, 1, vec![255, 100, 0]).unwrap();
        assert_eq!(blend(&d, &i, 0.5).data, [127, 100, 127]);
        assert_eq!(blend(&d, &i, 1.9).data, [255, 100, 0]);
        assert_eq!(blend(&d, &i, -0.5).data, [0, 100, 255]);
        assert_eq!(blend(&d, &i, 1.0), i);
        assert_eq!(blend(&d, &i, 0.0), d);
    }

    #[test]
    fn luma_and_contrast_mean() {
        let im = RgbImage::from_raw(2, 1, vec![255, 0, 0, 0, 0, 255]).unwrap();
        // 255 * 19595 + 0x8000 >> 16 = 76; 255 * 7471 + 0x8000 >> 16 = 29.
        assert_eq!(grayscale(&im).data, [76, 76, 76, 29, 29, 29]);
        // Mean 52.5 -> int(53.0) = 53.
        assert_eq!(contrast(&im, 0.0).data, [53; 6]);
    }

    #[test]
    fn smooth_keeps_borders_and_small_images() {
        let data = (0..5 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let im = RgbImage::from_raw(5, 4, data).unwrap();
        let s = smooth(&im);
        for x in 0..5 {
            assert_eq!(s.pixel(x, 0), im.pixel(x, 0));
            assert_eq!(s.pixel(x, 3), im.pixel(x, 3));
        }
        for y in 0..4 {
            assert_eq!(s.pixel(0, y), im.pixel(0, y));
            assert_eq!(s.pixel(4, y), im.pixel(4, y));
        }
        let tiny = RgbImage::from_raw(2, 5, vec![9; 30]).unwrap();
        assert_eq!(smooth(&tiny), tiny);
        // A flat image stays flat: 13 * v / 13 + 0.5 truncates to v.
        let flat = RgbImage::from_raw(4, 4, vec![200; 48]).unwrap();
        assert_eq!(smooth(&flat), flat);
    }
}
