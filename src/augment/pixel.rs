//! timm's lookup-table AutoAugment/RandAugment ops (`timm/data/auto_augment.py`:
//! `auto_contrast`, `equalize`, `invert`, `posterize`, `solarize`,
//! `solarize_add`) as Pillow 13's `ImageOps` computes them on RGB images.
//!
//! Every one builds a table per band and applies it with `Image.point`, which
//! for an 8-bit image clips each entry to 0..=255 (`_imaging.c`'s `_point`,
//! `CLIP8`). Tables depending on the image use its per-band histogram
//! (`Image.histogram`: 256 counts per band, bands in order).

use std::fmt;

use crate::data::decode::RgbImage;

/// A table per band, entries before Pillow's `CLIP8`.
type Luts = [[i64; 256]; 3];

/// `Image.point(lut)` on an RGB image: each band through its own table,
/// entries clipped to 0..=255.
fn apply(img: &RgbImage, luts: &Luts) -> RgbImage {
    let clipped = luts.map(|l| l.map(|v| v.clamp(0, 255) as u8));
    let mut out = img.clone();
    for px in out.data.chunks_exact_mut(3) {
        for (c, v) in px.iter_mut().enumerate() {
            *v = clipped[c][*v as usize];
        }
    }
    out
}

/// One table for every band.
fn same(f: impl Fn(i64) -> i64) -> Luts {
    let lut: [i64; 256] = std::array::from_fn(|i| f(i as i64));
    [lut; 3]
}

/// `Image.histogram()`: the counts of each value, per band.
fn histogram(img: &RgbImage) -> [[u64; 256]; 3] {
    let mut h = [[0u64; 256]; 3];
    for px in img.data.chunks_exact(3) {
        for (c, &v) in px.iter().enumerate() {
            h[c][v as usize] += 1;
        }
    }
    h
}

/// `ImageOps.autocontrast(img)` (cutoff 0, no ignore, no mask, no
/// `preserve_tone`): per band, with `lo`/`hi` the lowest/highest value
/// present, `v -> int(v * scale + offset)` clipped, `scale = 255 / (hi - lo)`,
/// `offset = -lo * scale` (f64, `int` truncating towards zero); a band with
/// `hi <= lo` is left alone.
pub fn auto_contrast(img: &RgbImage) -> RgbImage {
    let hist = histogram(img);
    let luts = hist.map(|h| {
        let lo = h.iter().position(|&n| n != 0).unwrap_or(255);
        let hi = h.iter().rposition(|&n| n != 0).unwrap_or(0);
        if hi <= lo {
            return std::array::from_fn(|i| i as i64);
        }
        let scale = 255.0 / (hi - lo) as f64;
        let offset = -(lo as f64) * scale;
        std::array::from_fn(|i| ((i as f64 * scale + offset) as i64).clamp(0, 255))
    });
    apply(img, &luts)
}

/// `ImageOps.equalize(img)`: per band, over the non-zero histogram counts,
/// `step = (sum - last) // 255` (`last`: the count of the highest value
/// present); a band with one value or `step == 0` is left alone, otherwise
/// `lut[i] = (step // 2 + sum(h[..i])) // step`, in integers.
pub fn equalize(img: &RgbImage) -> RgbImage {
    let hist = histogram(img);
    let luts = hist.map(|h| {
        let present: Vec<u64> = h.iter().copied().filter(|&n| n != 0).collect();
        let identity = std::array::from_fn(|i| i as i64);
        if present.len() <= 1 {
            return identity;
        }
        let total: u64 = present.iter().sum();
        let step = (total - present[present.len() - 1]) / 255;
        if step == 0 {
            return identity;
        }
        let mut n = step / 2;
        std::array::from_fn(|i| {
            let v = (n / step) as i64;
            n += h[i];
            v
        })
    });
    apply(img, &luts)
}

/// `ImageOps.invert(img)`: `v -> 255 - v`.
pub fn invert(img: &RgbImage) -> RgbImage {
    apply(img, &same(|i| 255 - i))
}

/// Pillow 13's `ImageOps.posterize` refuses `bits` outside 1..=8, and timm's
/// `posterize` only skips it for `bits >= 8`, so timm raises `ValueError:
/// bits must be between or equal to 1 and 8` for the 0 (or negative) bits its
/// level functions give at low magnitudes (`Posterize`, `PosterizeOriginal`
/// never) and high ones (`PosterizeIncreasing` at magnitude 10 and beyond).
/// Older Pillows masked everything to 0 instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PosterizeBitsError(pub i64);

impl fmt::Display for PosterizeBitsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "posterize keeps {} bits; Pillow's ImageOps.posterize needs 1 to 8 \
             (bits must be between or equal to 1 and 8)",
            self.0
        )
    }
}

impl std::error::Error for PosterizeBitsError {}

/// timm's `posterize(img, bits_to_keep)`: unchanged for `bits >= 8`, else
/// `ImageOps.posterize`: `v -> v & !(2^(8 - bits) - 1)`.
pub fn posterize(img: &RgbImage, bits: i64) -> Result<RgbImage, PosterizeBitsError> {
    if bits >= 8 {
        return Ok(img.clone());
    }
    if bits < 1 {
        return Err(PosterizeBitsError(bits));
    }
    let mask = !((1i64 << (8 - bits)) - 1);
    Ok(apply(img, &same(|i| i & mask)))
}

/// `ImageOps.solarize(img, threshold)`: `v -> v` below the threshold,
/// `255 - v` from it on.
pub fn solarize(img: &RgbImage, thresh: i64) -> RgbImage {
    apply(img, &same(|i| if i < thresh { i } else { 255 - i }))
}

/// timm's `solarize_add(img, add, thresh)` (its own table): `v ->
/// min(255, v + add)` below the threshold, `v` from it on. timm's default
/// threshold is 128.
pub fn solarize_add(img: &RgbImage, add: i64, thresh: i64) -> RgbImage {
    apply(
        img,
        &same(|i| if i < thresh { (i + add).min(255) } else { i }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(values: &[[u8; 3]]) -> RgbImage {
        RgbImage::from_raw(values.len(), 1, values.concat()).unwrap()
    }

    #[test]
    fn simple_tables() {
        let im = img(&[[0, 127, 128], [200, 255, 3]]);
        assert_eq!(invert(&im).data, [255, 128, 127, 55, 0, 252]);
        assert_eq!(solarize(&im, 128).data, [0, 127, 127, 55, 0, 3]);
        assert_eq!(solarize(&im, 256).data, im.data);
        assert_eq!(solarize(&im, 0).data, invert(&im).data);
        assert_eq!(
            solarize_add(&im, 110, 128).data,
            [110, 237, 128, 200, 255, 113]
        );
        assert_eq!(posterize(&im, 2).unwrap().data, [0, 64, 128, 192, 192, 0]);
        assert_eq!(posterize(&im, 8).unwrap(), im);
        assert_eq!(posterize(&im, 0), Err(PosterizeBitsError(0)));
    }

    #[test]
    fn auto_contrast_stretches_each_band() {
        let im = img(&[[10, 0, 7], [20, 255, 7], [15, 100, 7]]);
        let out = auto_contrast(&im);
        // Red: 10..20 onto 0..255 with scale 25.5: 15 -> int(127.5) = 127.
        assert_eq!(out.pixel(0, 0)[0], 0);
        assert_eq!(out.pixel(1, 0)[0], 255);
        assert_eq!(out.pixel(2, 0)[0], 127);
        // Green already spans 0..255, blue is constant: both unchanged.
        assert_eq!([out.pixel(2, 0)[1], out.pixel(2, 0)[2]], [100, 7]);
    }

    #[test]
    fn equalize_of_two_values() {
        // 255 zeros and 255 twos in every band: step = (510 - 255) // 255 = 1,
        // lut[i] = (0 + count below i) // 1: 0 -> 0, 2 -> 255.
        let mut v = vec![[0u8; 3]; 255];
        v.extend(vec![[2u8; 3]; 255]);
        let out = equalize(&img(&v));
        assert_eq!(out.pixel(0, 0), [0; 3]);
        assert_eq!(out.pixel(300, 0), [255; 3]);
        // Too few pixels for a step: unchanged.
        let few = img(&[[0, 0, 0], [9, 9, 9]]);
        assert_eq!(equalize(&few), few);
    }
}
