//! What an evaluation report shows beyond the tally: which classes are
//! confused with which, how confidence matches accuracy
//! ([`super::calibration`]), and the most confident mistakes with a
//! thumbnail of each. `dpn evaluate --report` feeds an [`Observer`] every
//! batch beside [`super::score`]; [`Observer::finish`] gives the
//! [`Breakdown`], which the results file carries (key `breakdown`) so that
//! `--merge` can write the same report from shards.
//!
//! The mistakes are kept in a bounded heap while the evaluation runs, so
//! memory stays at K thumbnails whatever the set's size and no file is read
//! twice. A thumbnail is made from the batch tensor the model saw (the
//! resized, centre-cropped image, un-normalized), only for a mistake that
//! enters the heap: the image is in memory then, and re-reading the file at
//! the end would show a different picture (the whole image, before the
//! crop) and could fail or find a changed file.

use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeMap, BinaryHeap};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use super::calibration::Calibration;
use super::tally::Tally;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_PX: u32 = 96;

/// The largest `--report-errors`.
pub const MAX_ERRORS: usize = 1000;

/// One misclassified image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mistake {
    /// The image's path, as text.
    pub path: String,
    /// Its class.
    pub label: u64,
    /// The softmax probability of the (wrong) top-1 class.
    pub confidence: f64,
    /// The top-3 classes and their probabilities, most probable first.
    pub top3: Vec<(u64, f64)>,
    /// A PNG thumbnail as a `data:` URI.
    pub thumbnail: Option<String>,
}

/// The report's counts of a set of images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    /// The data's classes by index, as `[synset, name]` (synset empty when none).
    pub classes: Vec<(String, String)>,
    pub calibration: Calibration,
    /// Top-1 mistakes as `[true class, predicted class, images]`, sorted;
    /// hits are the tally's per-class top-1 counts.
    pub confusion: Vec<[u64; 3]>,
    /// How many mistakes the gallery keeps (`--report-errors`; 0: none).
    pub errors_kept: usize,
    /// The most confident mistakes, most confident first.
    pub gallery: Vec<Mistake>,
}

/// A mistake in the heap: ordered by confidence, then by path (the
/// smaller first), so that which ones are kept does not depend on the
/// order images come in, and shards merge to the whole set's gallery.
struct Kept {
    mistake: Mistake,
    image: Option<image::RgbImage>,
}

impl Kept {
    fn key(&self) -> (f64, &str) {
        (self.mistake.confidence, &self.mistake.path)
    }
}

fn rank(a: (f64, &str), b: (f64, &str)) -> Ordering {
    a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1))
}

impl PartialEq for Kept {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Kept {
    fn cmp(&self, o: &Self) -> Ordering {
        rank(self.key(), o.key())
    }
}

/// Accumulates a [`Breakdown`] batch by batch.
pub struct Observer {
    classes: Vec<(String, String)>,
    calibration: Calibration,
    confusion: BTreeMap<(u64, u64), u64>,
    errors_kept: usize,
    /// A min-heap of the kept mistakes: its top is the first to go.
    heap: BinaryHeap<Reverse<Kept>>,
    mean: [f64; 3],
    std: [f64; 3],
}

impl Observer {
    /// An observer keeping `errors_kept` mistakes (bounded by
    /// [`MAX_ERRORS`]); `mean` and `std` undo the batches' normalization
    /// for the thumbnails.
    pub fn new(
        classes: Vec<(String, String)>,
        errors_kept: usize,
        mean: [f64; 3],
        std: [f64; 3],
    ) -> Observer {
        Observer {
            classes,
            calibration: Calibration::default(),
            confusion: BTreeMap::new(),
            errors_kept: errors_kept.min(MAX_ERRORS),
            heap: BinaryHeap::new(),
            mean,
            std,
        }
    }

    /// Counts one batch: `logits` `[N, C]`, its `labels`, the `images`
    /// `[N, 3, H, W]` the model saw (normalized) and their `paths`. The
    /// top-1 class is the first of the same `topk` that
    /// [`super::score`] takes; images with non-finite logits are left out,
    /// as the tally leaves them out.
    pub fn observe(
        &mut self,
        logits: &Tensor,
        labels: &[i64],
        images: &Tensor,
        paths: &[String],
    ) -> Result<()> {
        let logits = logits.to_device(tch::Device::Cpu);
        let c = logits.size()[1];
        let k = 5.min(c);
        let (_, top) = logits.topk(k, -1, true, true);
        let probs = logits.softmax(-1, Kind::Double).gather(1, &top, false);
        let top: Vec<Vec<i64>> = Vec::<Vec<i64>>::try_from(&top)?;
        let probs: Vec<Vec<f64>> = Vec::<Vec<f64>>::try_from(&probs)?;
        let finite: Vec<bool> = Vec::<bool>::try_from(logits.isfinite().all_dim(1, false))?;
        for (i, &label) in labels.iter().enumerate() {
            if !finite[i] || !probs[i][0].is_finite() {
                continue;
            }
            let (pred, confidence) = (top[i][0], probs[i][0]);
            self.calibration.add_one(confidence, pred == label);
            if pred == label {
                continue;
            }
            *self
                .confusion
                .entry((label as u64, pred as u64))
                .or_default() += 1;
            let path = paths.get(i).cloned().unwrap_or_default();
            if !self.enters((confidence, &path)) {
                continue;
            }
            let mistake = Mistake {
                path,
                label: label as u64,
                confidence,
                top3: top[i]
                    .iter()
                    .zip(&probs[i])
                    .take(3)
                    .map(|(&c, &p)| (c as u64, p))
                    .collect(),
                thumbnail: None,
            };
            let image = self.thumbnail(&images.get(i as i64));
            self.heap.push(Reverse(Kept { mistake, image }));
            if self.heap.len() > self.errors_kept {
                self.heap.pop();
            }
        }
        Ok(())
    }

    /// Whether a mistake of this key would be kept.
    fn enters(&self, key: (f64, &str)) -> bool {
        if self.errors_kept == 0 {
            return false;
        }
        match self.heap.peek() {
            Some(Reverse(least)) if self.heap.len() >= self.errors_kept => {
                rank(key, least.key()) == Ordering::Greater
            }
            _ => true,
        }
    }

    /// The image `[3, H, W]` un-normalized to RGB8, its longest side
    /// [`THUMBNAIL_PX`] at most (`None` if the tensor is not an image).
    fn thumbnail(&self, t: &Tensor) -> Option<image::RgbImage> {
        let size = t.size();
        let [3, h, w] = size[..] else { return None };
        let v: Vec<f32> =
            Vec::<f32>::try_from(t.to_kind(Kind::Float).contiguous().flatten(0, -1)).ok()?;
        let (h, w) = (h as usize, w as usize);
        let mut rgb = vec![0u8; 3 * h * w];
        for ch in 0..3 {
            for p in 0..h * w {
                let x = f64::from(v[ch * h * w + p]) * self.std[ch] + self.mean[ch];
                rgb[3 * p + ch] = (x * 255.0).round().clamp(0.0, 255.0) as u8;
            }
        }
        let img = image::RgbImage::from_raw(w as u32, h as u32, rgb)?;
        let longest = w.max(h) as f64;
        if longest <= f64::from(THUMBNAIL_PX) {
            return Some(img);
        }
        let scale = f64::from(THUMBNAIL_PX) / longest;
        let side = |n: usize| ((n as f64 * scale).round() as u32).max(1);
        Some(image::imageops::thumbnail(&img, side(w), side(h)))
    }

    /// The counts, with the kept mistakes' thumbnails encoded.
    pub fn finish(self) -> Breakdown {
        let mut kept: Vec<Kept> = self.heap.into_iter().map(|Reverse(k)| k).collect();
        kept.sort_by(|a, b| b.cmp(a));
        let gallery = kept
            .into_iter()
            .map(|k| Mistake {
                thumbnail: k.image.as_ref().and_then(png_data_uri),
                ..k.mistake
            })
            .collect();
        Breakdown {
            classes: self.classes,
            calibration: self.calibration,
            confusion: self
                .confusion
                .into_iter()
                .map(|((t, p), n)| [t, p, n])
                .collect(),
            errors_kept: self.errors_kept,
            gallery,
        }
    }
}

/// `img` as a `data:image/png;base64,...` URI.
pub fn png_data_uri(img: &image::RgbImage) -> Option<String> {
    let mut png = Vec::new();
    image::DynamicImage::ImageRgb8(img.clone())
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .ok()?;
    Some(format!("data:image/png;base64,{}", base64(&png)))
}

/// Standard base64 with padding (RFC 4648, section 4).
pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                s.push(A[(n >> shift) as usize & 63] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

impl Breakdown {
    /// Whether these counts can be those of the images `tally` counts:
    /// one confidence per scored image, top-1 hits as many as the tally's,
    /// each class's mistakes adding up to its images minus its hits, and
    /// classes and gallery within bounds. Only an edited file, or a rank
    /// that is not a dpn of the run, fails this.
    pub fn fits(&self, tally: &Tally) -> std::result::Result<(), String> {
        self.calibration.check()?;
        let c = &self.calibration;
        if (c.images(), c.correct()) != (tally.images, tally.correct1) {
            return Err(format!(
                "the confidence bins hold {} images and {} top-1 hits, the counts {} and {}",
                c.images(),
                c.correct(),
                tally.images,
                tally.correct1
            ));
        }
        let n = tally.per_class.len() as u64;
        let mut missed = vec![0u64; tally.per_class.len()];
        for &[t, p, k] in &self.confusion {
            if t >= n || p >= n || t == p || k == 0 {
                return Err(format!(
                    "a confusion of class {t} with {p} ({k} images) among {n} classes"
                ));
            }
            missed[t as usize] = missed[t as usize].saturating_add(k);
        }
        for (class, (m, pc)) in missed.iter().zip(&tally.per_class).enumerate() {
            if *m != pc[0] - pc[1].min(pc[0]) {
                return Err(format!(
                    "class {class} has {m} confusions but {} top-1 misses",
                    pc[0] - pc[1].min(pc[0])
                ));
            }
        }
        if self.gallery.len() > self.errors_kept || self.errors_kept > MAX_ERRORS {
            return Err(format!(
                "{} mistakes kept of at most {}",
                self.gallery.len(),
                self.errors_kept
            ));
        }
        if let Some(m) = self
            .gallery
            .iter()
            .find(|m| m.label >= n || m.top3.iter().any(|(c, _)| *c >= n))
        {
            return Err(format!(
                "a kept mistake of class {} among {n} classes",
                m.label
            ));
        }
        Ok(())
    }

    /// The sum of `parts` (shards or ranks of one evaluation): bins and
    /// confusions add up, the galleries' most confident mistakes are kept
    /// (the whole set's, since each part kept its own most confident ones);
    /// a part without a gallery leaves the sum without one.
    pub fn sum(parts: &[Breakdown]) -> std::result::Result<Breakdown, String> {
        let Some(first) = parts.first() else {
            return Err("nothing to add up".into());
        };
        let mut calibration = Calibration::default();
        let mut confusion: BTreeMap<(u64, u64), u64> = BTreeMap::new();
        let errors_kept = parts.iter().map(|p| p.errors_kept).min().unwrap_or(0);
        let mut gallery = Vec::new();
        for p in parts {
            calibration.add(&p.calibration)?;
            for &[t, q, k] in &p.confusion {
                let slot = confusion.entry((t, q)).or_default();
                *slot = slot
                    .checked_add(k)
                    .ok_or_else(|| "the confusion counts pass 2^64".to_string())?;
            }
            gallery.extend(p.gallery.iter().cloned());
        }
        gallery.sort_by(|a: &Mistake, b: &Mistake| {
            rank((b.confidence, &b.path), (a.confidence, &a.path))
        });
        gallery.truncate(errors_kept);
        Ok(Breakdown {
            classes: first.classes.clone(),
            calibration,
            confusion: confusion.into_iter().map(|((t, p), n)| [t, p, n]).collect(),
            errors_kept,
            gallery,
        })
    }
}

impl Breakdown {
    /// The sum of every rank's breakdown, on rank 0 (the others get their
    /// own back, unused): sent as JSON through the rendezvous store as
    /// [`Tally::all_ranks`] sends tallies, and checked against `total`,
    /// the ranks' summed tally, before rank 0 reports it.
    pub fn all_ranks(self, group: &crate::dist::Group, total: &Tally) -> Result<Breakdown> {
        let mine = serde_json::to_vec(&self)?;
        let verdict = group.gather("the report counts", &mine)?.map(|all| {
            let parts = all
                .iter()
                .enumerate()
                .map(|(r, bytes)| {
                    serde_json::from_slice::<Breakdown>(bytes).map_err(|e| {
                        format!("rank {r} sent report counts that are not a breakdown ({e})")
                    })
                })
                .collect::<std::result::Result<Vec<_>, String>>()?;
            let sum = Breakdown::sum(&parts)?;
            sum.fits(total).map_err(|why| {
                format!(
                    "the ranks' report counts do not fit their counts: {why}; no report is written"
                )
            })?;
            serde_json::to_vec(&sum).map_err(|e| e.to_string())
        });
        let sum = group.decide_with(verdict)?;
        Ok(serde_json::from_slice(&sum)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), coded);
        }
    }

    fn observe(o: &mut Observer, rows: &[[f32; 4]], labels: &[i64], names: &[&str]) {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let logits = Tensor::from_slice(&flat).view([rows.len() as i64, 4]);
        let images = Tensor::zeros(
            [rows.len() as i64, 3, 8, 8],
            (Kind::Float, tch::Device::Cpu),
        );
        let paths: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        o.observe(&logits, labels, &images, &paths).unwrap();
    }

    #[test]
    fn the_heap_keeps_the_most_confident_mistakes_whatever_the_order() {
        let rows = [
            [5.0, 0.0, 0.0, 0.0], // class 0 predicted, label 1: very confident
            [0.0, 1.0, 0.0, 0.0], // hit
            [0.0, 0.0, 2.0, 0.0], // label 3: confident
            [0.0, 0.0, 0.0, 0.5], // label 0: not very
            [f32::NAN, 0.0, 0.0, 0.0],
        ];
        let labels = [1, 1, 3, 0, 2];
        let names = ["a", "b", "c", "d", "e"];
        let mut whole = Observer::new(vec![], 2, [0.5; 3], [0.25; 3]);
        observe(&mut whole, &rows, &labels, &names);
        let whole = whole.finish();
        let kept: Vec<&str> = whole.gallery.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(whole.gallery[0].top3.len(), 3);
        assert_eq!(whole.gallery[0].top3[0].0, 0);
        let t = whole.gallery[0].thumbnail.as_deref().unwrap();
        assert!(t.starts_with("data:image/png;base64,iVBOR"), "{t}");
        assert_eq!(whole.confusion, vec![[0, 3, 1], [1, 0, 1], [3, 2, 1]]);
        assert_eq!(
            (whole.calibration.images(), whole.calibration.correct()),
            (4, 1)
        );
        // One image at a time, backwards, in two parts: the same counts.
        let mut parts = Vec::new();
        for part in [&[4usize, 3][..], &[2, 1, 0]] {
            let mut o = Observer::new(vec![], 2, [0.5; 3], [0.25; 3]);
            for &i in part {
                observe(&mut o, &rows[i..=i], &labels[i..=i], &names[i..=i]);
            }
            parts.push(o.finish());
        }
        assert_eq!(Breakdown::sum(&parts).unwrap(), whole);
        // fits: against the tally of the same logits.
        let mut tally = Tally::new(4);
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        let logits = Tensor::from_slice(&flat).view([5, 4]);
        super::super::score(&logits, &Tensor::from_slice(&labels), &mut tally).unwrap();
        whole.fits(&tally).unwrap();
        let mut bad = whole.clone();
        bad.confusion[0][2] = 2;
        assert!(bad
            .fits(&tally)
            .unwrap_err()
            .contains("class 0 has 2 confusions"));
        let mut bad = whole.clone();
        bad.calibration.bins[14].images += 1;
        assert!(bad.fits(&tally).is_err());
    }
}
