//! A results file: the figures, what produced them and the exact tally, so
//! that `dpn evaluate --merge` combines shards into the whole set's result.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};

use super::breakdown::Breakdown;
use super::tally::Tally;
use crate::data::classes::Classes;
use crate::data::shard::Shard;
use crate::output;
use crate::sys::error;
use crate::sys::output_path::OutputPath;

/// What produced a result, besides its tally.
#[derive(Debug, Clone, PartialEq)]
pub struct Setup {
    pub model: String,
    pub weights: Option<String>,
    /// SHA-256 of the weights file (what `--merge` compares).
    pub weights_sha256: Option<String>,
    pub data: Option<String>,
    /// `I/N`, or how a merged result was made.
    pub shard: String,
    pub shard_index: usize,
    pub shard_count: usize,
    /// The inputs of the whole set, before sharding.
    pub total_images: u64,
    pub param_count: u64,
    pub img_size: usize,
    pub crop_pct: f64,
    pub interpolation: String,
    pub mean: [f64; 3],
    pub std: [f64; 3],
}

/// A results file's contents (its JSON keys are these field names). The
/// keys after `counts` are newer: a file without them was written by an
/// earlier dpn and can be read, but not merged.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Results {
    pub model: String,
    pub weights: Option<String>,
    pub data: Option<String>,
    pub shard: String,
    pub images: u64,
    pub skipped: u64,
    pub top1: f64,
    pub top1_err: f64,
    pub top5: f64,
    pub top5_err: f64,
    pub loss: f64,
    pub images_per_s: f64,
    pub reported_top1: Option<f64>,
    pub reported_top5: Option<f64>,
    pub top1_diff: Option<f64>,
    pub top5_diff: Option<f64>,
    pub param_count: u64,
    pub img_size: usize,
    pub crop_pct: f64,
    pub interpolation: String,
    #[serde(default)]
    pub mean: Option<[f64; 3]>,
    #[serde(default)]
    pub std: Option<[f64; 3]>,
    #[serde(default)]
    pub weights_sha256: Option<String>,
    #[serde(default)]
    pub shard_index: Option<usize>,
    #[serde(default)]
    pub shard_count: Option<usize>,
    #[serde(default)]
    pub total_images: Option<u64>,
    pub counts: Tally,
    /// What `--report` shows beyond the tally (confusions, calibration,
    /// the most confident mistakes): written only by a run with `--report`,
    /// so that `--merge --report` can show them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakdown: Option<Breakdown>,
}

impl Results {
    /// The figures of `tally`, beside the published top-1/top-5 of the model.
    pub fn new(setup: Setup, tally: Tally, reported: (Option<f64>, Option<f64>)) -> Results {
        let (top1, top5) = (tally.top1(), tally.top5());
        let (reported_top1, reported_top5) = reported;
        Results {
            model: setup.model,
            weights: setup.weights,
            data: setup.data,
            shard: setup.shard,
            images: tally.images,
            skipped: tally.skipped,
            top1,
            top1_err: 100.0 - top1,
            top5,
            top5_err: 100.0 - top5,
            loss: tally.mean_loss(),
            images_per_s: if tally.seconds > 0.0 {
                (tally.images + tally.skipped) as f64 / tally.seconds
            } else {
                0.0
            },
            reported_top1,
            reported_top5,
            top1_diff: reported_top1.map(|r| top1 - r),
            top5_diff: reported_top5.map(|r| top5 - r),
            param_count: setup.param_count,
            img_size: setup.img_size,
            crop_pct: setup.crop_pct,
            interpolation: setup.interpolation,
            mean: Some(setup.mean),
            std: Some(setup.std),
            weights_sha256: setup.weights_sha256,
            shard_index: Some(setup.shard_index),
            shard_count: Some(setup.shard_count),
            total_images: Some(setup.total_images),
            counts: tally,
            breakdown: None,
        }
    }

    /// Reads a JSON results file written by [`Results::write`].
    pub fn read(path: &Path) -> Result<Results> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read results file {}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            error::bad_input(format!(
                "results file {}: not a dpn evaluate JSON results file ({e})",
                path.display()
            ))
        })
    }

    /// Writes the result atomically: CSV (one header row, the tally's totals
    /// flattened in) when the path ends in `.csv`, else pretty JSON.
    pub fn write(&self, out: &OutputPath) -> Result<()> {
        let csv_out = out
            .given()
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let bytes = if csv_out {
            let mut w = csv::Writer::from_writer(Vec::new());
            let mut v = serde_json::to_value(self)?;
            let counts = v.as_object_mut().and_then(|o| o.remove("counts"));
            if let Some(o) = v.as_object_mut() {
                o.remove("breakdown");
            }
            let mut fields: Vec<(String, String)> = v
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| (k.clone(), output::csv_field(v)))
                .collect();
            if let Some(serde_json::Value::Object(c)) = counts {
                for (k, v) in c.iter().filter(|(k, _)| *k != "per_class") {
                    fields.push((k.clone(), output::csv_field(v)));
                }
            }
            w.write_record(fields.iter().map(|(k, _)| k))?;
            w.write_record(fields.iter().map(|(_, v)| v))?;
            w.into_inner()
                .map_err(|e| anyhow::anyhow!("{}", e.error()))?
        } else {
            let mut b = serde_json::to_vec_pretty(self)?;
            b.push(b'\n');
            b
        };
        out.write(&bytes)
    }

    /// Writes per-class accuracy as CSV, one row per class that had images.
    pub fn write_per_class(&self, out: &OutputPath, classes: &Classes) -> Result<()> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "class_index",
            "synset",
            "class_name",
            "images",
            "top1",
            "top5",
        ])?;
        for (i, [n, c1, c5]) in self.counts.per_class.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            let c = classes.get(i);
            let pct = |k: u64| (100.0 * k as f64 / *n as f64).to_string();
            w.write_record([
                i.to_string(),
                c.map(|c| c.synset.clone()).unwrap_or_default(),
                c.map(|c| c.name.clone()).unwrap_or_default(),
                n.to_string(),
                pct(*c1),
                pct(*c5),
            ])?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
        out.write(&bytes)
    }
}

/// The provenance fields a results file needs to be merged.
struct Provenance<'a> {
    sha256: &'a str,
    mean: [f64; 3],
    std: [f64; 3],
    index: usize,
    count: usize,
    total: u64,
}

impl Results {
    fn provenance(&self, path: &Path) -> Result<Provenance<'_>> {
        match (
            &self.weights_sha256,
            self.mean,
            self.std,
            self.shard_index,
            self.shard_count,
            self.total_images,
        ) {
            (Some(sha256), Some(mean), Some(std), Some(index), Some(count), Some(total)) => {
                Ok(Provenance {
                    sha256,
                    mean,
                    std,
                    index,
                    count,
                    total,
                })
            }
            _ => Err(error::bad_input(format!(
                "results file {} was written by an earlier dpn: it lacks the weights digest, \
                 preprocessing and shard fields that --merge checks; evaluate that shard again \
                 with this version",
                path.display()
            ))),
        }
    }

    /// Refuses counts that cannot come from an evaluation: more hits than
    /// images, per-class counts that do not add up to the totals, figures
    /// that do not match the counts, a shard with more or fewer images than
    /// its share of the set. Sums are checked, so a huge count cannot wrap.
    fn check_counts(&self, path: &Path, p: &Provenance) -> Result<()> {
        let bad = |why: String| {
            error::bad_input(format!(
                "results file {}: {why}; these counts cannot come from an evaluation (was the \
                 file edited or damaged?), evaluate that shard again",
                path.display()
            ))
        };
        let c = &self.counts;
        if c.non_finite > 0 {
            return Err(bad(format!(
                "{} images had non-finite outputs, which dpn never reports",
                c.non_finite
            )));
        }
        if p.count == 0 || p.index >= p.count {
            return Err(bad(format!(
                "shard {}/{} is out of range",
                p.index, p.count
            )));
        }
        if c.correct1 > c.correct5 || c.correct5 > c.images {
            return Err(bad(format!(
                "{} top-1 and {} top-5 hits among {} images",
                c.correct1, c.correct5, c.images
            )));
        }
        let mut sums = [0u64; 3];
        for (class, pc) in c.per_class.iter().enumerate() {
            if pc[1] > pc[2] || pc[2] > pc[0] {
                return Err(bad(format!(
                    "class {class} has {} top-1 and {} top-5 hits among {} images",
                    pc[1], pc[2], pc[0]
                )));
            }
            for i in 0..3 {
                sums[i] = sums[i]
                    .checked_add(pc[i])
                    .ok_or_else(|| bad("the per-class counts add up to more than 2^64".into()))?;
            }
        }
        if sums != [c.images, c.correct1, c.correct5] {
            return Err(bad(format!(
                "the per-class counts add up to {} images, {} top-1 and {} top-5 hits, the totals \
                 are {}, {} and {}",
                sums[0], sums[1], sums[2], c.images, c.correct1, c.correct5
            )));
        }
        let scored = c
            .images
            .checked_add(c.skipped)
            .ok_or_else(|| bad("images plus skipped images exceed 2^64".into()))?;
        let share = Shard {
            index: p.index,
            count: p.count,
        }
        .share(p.total);
        if scored != share {
            return Err(bad(format!(
                "shard {}/{} of {} images has {share} images, but the file counts {scored} \
                 (scored and skipped; a run with --limit cannot be merged)",
                p.index, p.count, p.total
            )));
        }
        if (self.images, self.skipped) != (c.images, c.skipped) {
            return Err(bad(format!(
                "it reports {} images and {} skipped, but its counts hold {} and {}",
                self.images, self.skipped, c.images, c.skipped
            )));
        }
        let figures = [
            ("top1", self.top1, c.top1()),
            ("top5", self.top5, c.top5()),
            ("loss", self.loss, c.mean_loss()),
        ];
        for (key, file, counted) in figures {
            if file != counted {
                return Err(bad(format!(
                    "its {key} is {file}, but its counts give {counted}"
                )));
            }
        }
        Ok(())
    }
}

/// The setup and summed tally of the shard results in `paths`, refusing
/// anything that would not give the whole set's result: files of earlier
/// dpn versions, impossible counts, files of different evaluations (model,
/// weights, preprocessing, data set size), a shard given twice or missing.
pub fn merge(paths: &[PathBuf]) -> Result<(Setup, Tally)> {
    merge_all(paths).map(|(s, t, _)| (s, t))
}

/// [`merge`], and the sum of the shards' breakdowns when every shard has
/// one (`None` when one has none: it ran without `--report`); a breakdown
/// that does not fit its shard's counts is refused.
pub fn merge_all(paths: &[PathBuf]) -> Result<(Setup, Tally, Option<Breakdown>)> {
    let files = paths
        .iter()
        .map(|p| Results::read(p).map(|r| (p, r)))
        .collect::<Result<Vec<_>>>()?;
    let Some((first_path, first)) = files.first() else {
        return Err(error::usage("no results files to merge"));
    };
    let fp = first.provenance(first_path)?;
    // What must be equal for files to be shards of one evaluation.
    let identity = |r: &Results, p: &Provenance| -> Vec<(&'static str, String)> {
        vec![
            ("model", r.model.clone()),
            ("weights SHA-256", p.sha256.to_string()),
            ("image size", r.img_size.to_string()),
            ("crop pct", r.crop_pct.to_string()),
            ("interpolation", r.interpolation.clone()),
            ("mean", format!("{:?}", p.mean)),
            ("std", format!("{:?}", p.std)),
            ("classes", r.counts.per_class.len().to_string()),
            ("images in the whole set", p.total.to_string()),
            ("shard count", p.count.to_string()),
        ]
    };
    let want = identity(first, &fp);
    let mut seen = std::collections::BTreeMap::new();
    let mut total = Tally::default();
    for (path, r) in &files {
        let p = r.provenance(path)?;
        r.check_counts(path, &p)?;
        for ((what, a), (_, b)) in want.iter().zip(identity(r, &p)) {
            if *a != b {
                return Err(error::bad_input(format!(
                    "results files {} and {} are not shards of one evaluation ({what}: {a} vs \
                     {b}); merge only the shards of one run",
                    first_path.display(),
                    path.display()
                )));
            }
        }
        if let Some(other) = seen.insert(p.index, *path) {
            return Err(error::bad_input(format!(
                "results files {} and {} are both shard {}/{}; give each shard once",
                other.display(),
                path.display(),
                p.index,
                p.count
            )));
        }
        total
            .add(&r.counts)
            .map_err(|e| error::bad_input(format!("results file {}: {e}", path.display())))?;
        if let Some(b) = &r.breakdown {
            b.fits(&r.counts).map_err(|why| {
                error::bad_input(format!(
                    "results file {}: its report counts do not fit its counts ({why}); was the \
                     file edited or damaged? evaluate that shard again",
                    path.display()
                ))
            })?;
        }
    }
    let parts: Option<Vec<Breakdown>> = files.iter().map(|(_, r)| r.breakdown.clone()).collect();
    let breakdown = match parts {
        Some(parts) => Some(
            Breakdown::sum(&parts)
                .map_err(|e| error::bad_input(format!("the shards' report counts: {e}")))?,
        ),
        None => None,
    };
    if seen.len() != fp.count {
        let missing: Vec<String> = (0..fp.count)
            .filter(|i| !seen.contains_key(i))
            .take(10)
            .map(|i| i.to_string())
            .collect();
        let absent = fp.count - seen.len();
        let more = absent - missing.len();
        return Err(error::bad_input(format!(
            "shard{} {}{} of {} {} missing from the {} results files given ({}); merge every \
             shard's file",
            if absent == 1 { "" } else { "s" },
            missing.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            fp.count,
            if absent == 1 { "is" } else { "are" },
            files.len(),
            names(paths),
        )));
    }
    let setup = Setup {
        model: first.model.clone(),
        weights: first.weights.clone(),
        weights_sha256: Some(fp.sha256.to_string()),
        data: first.data.clone(),
        shard: format!("merged {}", paths.len()),
        shard_index: 0,
        shard_count: 1,
        total_images: fp.total,
        param_count: first.param_count,
        img_size: first.img_size,
        crop_pct: first.crop_pct,
        interpolation: first.interpolation.clone(),
        mean: fp.mean,
        std: fp.std,
    };
    Ok((setup, total, breakdown))
}

/// `a.json, b.json, c.json` (the first few, then how many more).
fn names(paths: &[PathBuf]) -> String {
    let mut s: Vec<String> = paths
        .iter()
        .take(4)
        .map(|p| p.display().to_string())
        .collect();
    if paths.len() > 4 {
        s.push(format!("and {} more", paths.len() - 4));
    }
    s.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::loss_sum::LossSum;
    use crate::sys::error::exit_code;

    fn setup(index: usize, count: usize, total: u64) -> Setup {
        Setup {
            model: "dpn68b".into(),
            weights: Some("w.safetensors".into()),
            weights_sha256: Some("ab".repeat(32)),
            data: Some("val".into()),
            shard: format!("{index}/{count}"),
            shard_index: index,
            shard_count: count,
            total_images: total,
            param_count: 12_611_602,
            img_size: 224,
            crop_pct: 0.875,
            interpolation: "bicubic".into(),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }

    /// Shard `index` of `count` over `total` images: image k has class k % 3,
    /// is a top-1 hit when k % 4 == 0, a top-5 hit when k % 2 == 0, and
    /// loses k / 8.
    fn shard_tally(index: usize, count: usize, total: u64) -> Tally {
        let mut t = Tally::new(3);
        for k in (0..total).filter(|k| *k as usize % count == index) {
            let pc = &mut t.per_class[(k % 3) as usize];
            let (h1, h5) = (u64::from(k % 4 == 0), u64::from(k % 2 == 0));
            pc[0] += 1;
            pc[1] += h1;
            pc[2] += h5;
            t.images += 1;
            t.correct1 += h1;
            t.correct5 += h5;
            t.loss_units = t
                .loss_units
                .checked_add(&LossSum::from_loss(k as f64 / 8.0).unwrap())
                .unwrap();
        }
        t
    }

    fn write(dir: &Path, name: &str, r: &Results) -> PathBuf {
        let p = dir.join(name);
        r.write(&OutputPath::resolve(&p).unwrap()).unwrap();
        p
    }

    fn shard_file(dir: &Path, index: usize, count: usize) -> PathBuf {
        let r = Results::new(
            setup(index, count, 10),
            shard_tally(index, count, 10),
            (None, None),
        );
        write(dir, &format!("s{index}-{count}.json"), &r)
    }

    /// The error of merging `paths`: exit code 3, one line, naming `names`.
    fn refused(paths: &[PathBuf], names: &[&PathBuf], says: &str) {
        let e = merge(paths).unwrap_err();
        let msg = format!("{e:#}");
        assert_eq!(exit_code(&e), 3, "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(says), "{msg}");
        for n in names {
            assert!(msg.contains(&n.display().to_string()), "{msg}");
        }
    }

    #[test]
    fn shards_merge_into_the_whole() {
        let dir = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..3).map(|i| shard_file(dir.path(), i, 3)).collect();
        let (s, t) = merge(&files).unwrap();
        let whole = shard_tally(0, 1, 10);
        assert_eq!((t.images, t.correct1, t.correct5), (10, 3, 5));
        assert_eq!(t.per_class, whole.per_class);
        assert_eq!(t.loss_units, whole.loss_units);
        assert_eq!((s.shard_index, s.shard_count, s.total_images), (0, 1, 10));
        // A merged result merges again, alone.
        let merged = write(dir.path(), "m.json", &Results::new(s, t, (None, None)));
        assert_eq!(merge(&[merged]).unwrap().1.images, 10);
    }

    #[test]
    fn duplicated_missing_and_foreign_shards_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let f: Vec<PathBuf> = (0..3).map(|i| shard_file(d, i, 3)).collect();
        refused(
            &[f[0].clone(), f[0].clone(), f[1].clone(), f[2].clone()],
            &[&f[0]],
            "both shard 0/3",
        );
        refused(
            &[f[0].clone(), f[2].clone()],
            &[&f[0], &f[2]],
            "shard 1 of 3 is missing",
        );
        let other_count = shard_file(d, 1, 4);
        refused(
            &[f[0].clone(), other_count.clone(), f[2].clone()],
            &[&f[0], &other_count],
            "shard count: 3 vs 4",
        );
        let foreign = |name: &str, change: &dyn Fn(&mut Setup)| {
            let mut s = setup(1, 3, 10);
            change(&mut s);
            let r = Results::new(s, shard_tally(1, 3, 10), (None, None));
            let p = write(d, name, &r);
            refused(
                &[f[0].clone(), p.clone(), f[2].clone()],
                &[&f[0], &p],
                "not shards of one evaluation",
            );
        };
        foreign("model.json", &|s| s.model = "dpn92".into());
        foreign("weights.json", &|s| {
            s.weights_sha256 = Some("cd".repeat(32))
        });
        foreign("size.json", &|s| s.img_size = 256);
        foreign("crop.json", &|s| s.crop_pct = 0.9);
        foreign("interp.json", &|s| s.interpolation = "bilinear".into());
        foreign("mean.json", &|s| s.mean = [0.5; 3]);
        foreign("std.json", &|s| s.std = [0.5; 3]);
        foreign("total.json", &|s| s.total_images = 9);
    }

    #[test]
    fn impossible_and_old_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let f: Vec<PathBuf> = (0..2).map(|i| shard_file(d, i, 2)).collect();
        let edit = |name: &str, change: &dyn Fn(&mut serde_json::Value), says: &str| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&f[1]).unwrap()).unwrap();
            change(&mut v);
            let p = d.join(name);
            std::fs::write(&p, serde_json::to_vec(&v).unwrap()).unwrap();
            refused(&[f[0].clone(), p.clone()], &[&p], says);
        };
        // Top-1 of 833%: more hits than images.
        edit(
            "833.json",
            &|v| {
                v["counts"]["correct1"] = 25.into();
                v["top1"] = (100.0 * 25.0 / 5.0).into();
            },
            "25 top-1 and 0 top-5 hits among 5 images",
        );
        edit(
            "class.json",
            &|v| v["counts"]["per_class"][0][0] = 7.into(),
            "per-class counts add up to",
        );
        edit("top1.json", &|v| v["top1"] = 99.0.into(), "its top1 is 99");
        edit("loss.json", &|v| v["loss"] = 0.0.into(), "its loss is 0");
        edit(
            "limit.json",
            &|v| {
                v["counts"]["images"] = 4.into();
                v["images"] = 4.into();
                v["counts"]["per_class"][1][0] = 1.into();
            },
            "has 5 images, but the file counts 4",
        );
        // Two shards whose image counts would wrap u64 when added.
        let huge = |i: usize| {
            let mut t = Tally::new(3);
            t.images = u64::MAX;
            t.per_class[0][0] = u64::MAX;
            let r = Results::new(setup(i, 2, u64::MAX), t, (None, None));
            write(d, &format!("huge{i}.json"), &r)
        };
        let (h0, h1) = (huge(0), huge(1));
        refused(
            &[h0.clone(), h1],
            &[&h0],
            "has 9223372036854775808 images, but the file counts 18446744073709551615",
        );
        let mut t = Tally::new(3);
        t.per_class = vec![[u64::MAX, 0, 0], [1, 0, 0], [0, 0, 0]];
        t.images = 0;
        let p = write(
            d,
            "wrap.json",
            &Results::new(setup(0, 1, 0), t, (None, None)),
        );
        refused(std::slice::from_ref(&p), &[&p], "more than 2^64");
        // A results file of an earlier dpn: no provenance fields.
        edit(
            "old.json",
            &|v| {
                let o = v.as_object_mut().unwrap();
                for k in [
                    "weights_sha256",
                    "mean",
                    "std",
                    "shard_index",
                    "shard_count",
                    "total_images",
                ] {
                    o.remove(k);
                }
            },
            "written by an earlier dpn",
        );
    }

    #[test]
    fn results_files_of_earlier_versions_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.json");
        std::fs::write(
            &p,
            r#"{"model":"dpn68b","weights":"w","data":"val","shard":"0/1","images":2,
            "skipped":0,"top1":50.0,"top1_err":50.0,"top5":100.0,"top5_err":0.0,"loss":0.5,
            "images_per_s":1.0,"reported_top1":null,"reported_top5":null,"top1_diff":null,
            "top5_diff":null,"param_count":1,"img_size":224,"crop_pct":0.875,
            "interpolation":"bicubic","counts":{"images":2,"skipped":0,"correct1":1,
            "correct5":2,"loss_units":16777216,"seconds":1.0,"per_class":[[2,1,2]]}}"#,
        )
        .unwrap();
        let r = Results::read(&p).unwrap();
        assert_eq!(r.counts.mean_loss(), 0.5);
        assert_eq!(r.weights_sha256, None);
    }
}
