//! timm's augmentation splits (`--aug-splits N`): each training image gives
//! one clean view and `N - 1` augmented views of the same crop, as timm's
//! `AugMixDataset` builds them for AugMix's JSD loss.
//!
//! timm (`timm/data/dataset.py`, `AugMixDataset.__getitem__`): the primary
//! transform (crop and flips) runs once; the clean view is that image
//! normalized; each further view runs the secondary transforms (`--aa`,
//! colour jitter, grayscale, blur) on the same cropped image, then is
//! normalized. With train.py's `--no-prefetcher` (which dpn follows, see
//! `--resplit`) the final transform, random erasing included, runs on every
//! view, the clean one too. The random numbers here come in that order from
//! the image's own generator: crop and flips, erasing of view 0, then per
//! further view its secondary steps and its erasing.
//!
//! The views of one image are written one after another (`N` contiguous
//! `3 x size x size` blocks), reported to the loader as one `size * N` tall
//! image; [`split_major`] turns the loader's batch into timm's layout.

use tch::Tensor;

use crate::data::transform::{normalize_into, CropFlip, ImageTransform, Trace};
use crate::data::{RgbImage, TrainTransform};

/// [`TrainTransform`] with `splits` views an image.
#[derive(Debug, Clone)]
pub struct SplitTransform {
    pub inner: TrainTransform,
    /// The number of views, at least 2 (timm's `num_splits`).
    pub splits: usize,
}

impl SplitTransform {
    /// The views of the `index`-th image into `out` (`splits` blocks of
    /// `3 * size * size`); returns each view's last 8-bit image and the crop
    /// and flips they share, and with `traces` (one per view) appends each
    /// view's steps to its own.
    pub fn apply_explained(
        &self,
        img: &RgbImage,
        index: usize,
        out: &mut [f32],
        mut traces: Option<&mut [Trace]>,
    ) -> (Vec<RgbImage>, CropFlip) {
        let tf = &self.inner;
        let n = 3 * tf.size * tf.size;
        assert_eq!(out.len(), n * self.splits, "output buffer size");
        let mut rng = tf.rng_for(index);
        let (base, drawn) = tf.crop_flip_explained(img, &mut rng);
        let mut views = Vec::with_capacity(self.splits);
        for (j, chunk) in out.chunks_exact_mut(n).enumerate() {
            let mut trace = traces.as_deref_mut().map(|t| &mut t[j]);
            let view = if j == 0 {
                base.clone()
            } else {
                tf.secondary(base.clone(), &mut rng, trace.as_deref_mut())
            };
            normalize_into(&view, tf.mean, tf.std, chunk);
            if let Some(e) = &tf.erasing {
                e.apply(chunk, 3, tf.size, tf.size, &mut rng, trace);
            }
            views.push(view);
        }
        (views, drawn)
    }
}

impl ImageTransform for SplitTransform {
    fn output_size(&self) -> (usize, usize) {
        (self.inner.size * self.splits, self.inner.size)
    }

    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]) {
        self.apply_explained(img, index, out, None);
    }
}

/// A loader batch of [`SplitTransform`] outputs (`[B, 3, splits * s, s]`,
/// each image's views contiguous) and its labels as timm's `fast_collate`
/// de-interleaves them: `[splits * B, 3, s, s]`, view `j` of image `i` at
/// row `j * B + i`, so that `torch.split(x, B)` gives the views in order;
/// the labels repeated `splits` times.
pub fn split_major(images: &Tensor, labels: &Tensor, splits: usize) -> (Tensor, Tensor) {
    let size = images.size();
    let (b, s) = (size[0], size[3]);
    let n = splits as i64;
    let x = images
        .reshape([b, n, 3, s, s])
        .transpose(0, 1)
        .reshape([n * b, 3, s, s]);
    (x, labels.repeat([n]))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::augment::{EraseMode, RandomErasing};
    use crate::data::transform::NormalizedStep;
    use crate::data::Filter;

    fn photo() -> RgbImage {
        let mut img = RgbImage::new(40, 30);
        for (i, v) in img.data.iter_mut().enumerate() {
            *v = (i * 37 % 251) as u8;
        }
        img
    }

    fn tf() -> TrainTransform {
        let p = crate::registry::Preprocess {
            normalization: None,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            crop_pct: 0.875,
            interpolation: crate::registry::Interpolation::Bilinear,
            image_size: 16,
        };
        let mut t = TrainTransform::from_preprocess(&p, 9);
        t.filter = Filter::Bilinear;
        t.grayscale = 0.5;
        t
    }

    /// View 0 is the plain transform's image; a further view continues the
    /// same generator (here: a grayscale draw), so views differ and repeat.
    #[test]
    fn the_clean_view_is_the_plain_transform() {
        let img = photo();
        let mut plain = tf();
        plain.grayscale = 0.0;
        let split = SplitTransform {
            inner: tf(),
            splits: 3,
        };
        let n = 3 * 16 * 16;
        let mut a = vec![0f32; n];
        let mut b = vec![0f32; 3 * n];
        let mut c = vec![0f32; 3 * n];
        for index in [0usize, 5, 99] {
            plain.apply_into(&img, index, &mut a);
            split.apply_into(&img, index, &mut b);
            split.apply_into(&img, index, &mut c);
            assert_eq!(a, b[..n], "view 0 is the crop and flip alone");
            assert_eq!(b, c, "repeatable");
        }
        assert_eq!(split.output_size(), (48, 16));
    }

    /// With erasing, every view is erased (timm's --no-prefetcher path), and
    /// the draws go crop, erase 0, secondary 1, erase 1, ...
    #[test]
    fn erasing_runs_on_every_view_in_order() {
        let img = photo();
        let mut inner = tf();
        inner.grayscale = 0.0;
        let e = RandomErasing::new(1.0, EraseMode::Const, 1);
        inner.erasing = Some(Arc::new(e.clone()) as Arc<dyn NormalizedStep>);
        let split = SplitTransform { inner, splits: 2 };
        let n = 3 * 16 * 16;
        let mut got = vec![0f32; 2 * n];
        split.apply_into(&img, 3, &mut got);
        let mut rng = split.inner.rng_for(3);
        let base = split.inner.crop_flip(&img, &mut rng);
        let mut want = vec![0f32; 2 * n];
        for chunk in want.chunks_exact_mut(n) {
            normalize_into(&base, split.inner.mean, split.inner.std, chunk);
            assert_eq!(e.erase(chunk, 3, 16, 16, &mut rng).len(), 1);
        }
        assert_eq!(got, want);
    }

    #[test]
    fn split_major_is_fast_collates_layout() {
        // Two images, three views of 1x1 "pixels": value = 10 * image + view.
        let data: Vec<f32> = (0..2)
            .flat_map(|i| (0..3).flat_map(move |j| [10.0 * i as f32 + j as f32; 3]))
            .collect();
        let x = Tensor::from_slice(&data).view([2, 3, 3, 1]);
        let y = Tensor::from_slice(&[7i64, 8]);
        let (x, y) = split_major(&x, &y, 3);
        assert_eq!(x.size(), [6, 3, 1, 1]);
        let firsts: Vec<f32> = (0..6)
            .map(|r| x.double_value(&[r, 0, 0, 0]) as f32)
            .collect();
        assert_eq!(firsts, [0.0, 10.0, 1.0, 11.0, 2.0, 12.0]);
        assert_eq!(Vec::<i64>::try_from(&y).unwrap(), [7, 8, 7, 8, 7, 8]);
    }
}
