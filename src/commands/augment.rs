//! `dpn augment`: the training transform made visible. Writes the images
//! `dpn train` with the same augmentation flags and seed would feed the
//! model, a contact sheet, and with `--explain` every random step as JSON.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::Args;
use serde_json::{json, Value};
use tch::Tensor;

use super::augment_flags::{self, AugmentFlags, MixupFlags};
use super::common::weights_metadata;
use super::Context;
use crate::augment::mixup::{self, Share};
use crate::augment::splits::SplitTransform;
use crate::data::transform::{CropFlip, Trace};
use crate::data::{decode_file, Filter, RgbImage, TrainTransform};
use crate::output::paths::path_text;
use crate::registry::Preprocess;
use crate::sys::error;
use crate::sys::output_path::write_atomic;
use crate::train::config::TrainConfig;
use crate::train::trainer::epoch_seed;
use crate::weights::meta;

/// The most versions of each image `--count` asks for: a contact sheet of
/// more is no longer something to look at.
pub const MAX_COUNT: usize = 1000;

#[derive(Debug, Args)]
#[command(after_help = "\
Version K of an image is what `dpn train` with the same flags and --seed feeds the model for \
an image at position I of epoch K, I being the image's position on the command line: the crop \
and flips, then --aa (RandAugment, AutoAugment or AugMix) or colour jitter, grayscale and blur, \
as PNG after the last 8-bit step. Random erasing and Mixup/CutMix work on the normalized image; \
their pixels are shown de-normalized (x * std + mean, rounded to 8 bits). With --mixup/--cutmix \
the images given form the batch (version K: update K's draws), so their number must suit the \
mode (even for pair).

Outputs are DIR/<stem>-<K>.png (<stem>.<I>-<K>.png when two images share a stem), each written \
whole or not at all. With --aug-splits N each version has N views of the same crop, \
DIR/<stem>-<K>-split<J>.png: split 0 is the clean view, the others went through --aa, colour \
jitter, grayscale and blur each on its own (random erasing runs on every view, as timm's \
train.py without its prefetcher); the contact sheet then has a column per version and split.

--explain writes one JSON object per output image (JSON Lines; README, \
\"dpn augment --explain\", lists the keys): its file, source, crop box, filter, flips, then \
every random step in order with timm's name for it and the exact arguments it received.")]
pub struct AugmentArgs {
    /// Images to augment
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<PathBuf>,

    /// Folder the augmented PNGs go to (made if missing)
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,

    /// Versions of each image (epochs 0 to K - 1)
    #[arg(short = 'k', long, value_name = "K", default_value_t = 4)]
    pub count: usize,

    /// Seed, as `dpn train --seed`
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,

    /// Also write a contact sheet: a row per image, a column per version
    #[arg(long, value_name = "FILE.png")]
    pub grid: Option<PathBuf>,

    /// Write each output's steps as JSON Lines to FILE, or - for stdout
    #[arg(long, value_name = "FILE")]
    pub explain: Option<PathBuf>,

    /// Model whose mean, std and input size the transform uses (see `dpn info`)
    #[arg(short, long, value_name = "MODEL")]
    pub model: Option<String>,

    /// A weights file converted or trained by dpn: its recorded model and preprocessing
    #[arg(long, value_name = "FILE")]
    pub weights: Option<PathBuf>,

    /// Output side in pixels [default: the model's, or the weights' recorded one]
    #[arg(long, value_name = "N")]
    pub img_size: Option<usize>,

    #[command(flatten)]
    pub augment: Box<AugmentFlags>,

    #[command(flatten)]
    pub mixup: Box<MixupFlags>,
}

/// The model's preprocessing: the one `--weights` records, else the
/// registry's for `-m`.
fn preprocess(args: &AugmentArgs, ctx: &Context) -> Result<(String, Preprocess)> {
    let meta = match &args.weights {
        Some(w) => {
            crate::store::resolve::explicit_file(w)?;
            weights_metadata(w)
        }
        None => Default::default(),
    };
    let name =
        match (&args.model, meta.get(meta::MODEL)) {
            (Some(n), _) => n.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => return Err(error::usage(
                "which model's mean and std? pass -m MODEL (see `dpn info`), or --weights FILE \
                 converted or trained by dpn",
            )),
        };
    let spec = ctx.registry.get(&name)?;
    let base = match &args.weights {
        Some(w) => meta::recorded_preprocess(&meta, &spec.preprocess, w)?
            .unwrap_or_else(|| spec.preprocess.clone()),
        None => spec.preprocess.clone(),
    };
    Ok((name, base))
}

/// The settings `dpn train` would record for these flags (only the
/// augmentation ones matter here).
fn config(args: &AugmentArgs, model: String, p: &Preprocess, n: usize) -> Result<TrainConfig> {
    let mut cfg = TrainConfig {
        model,
        img_size: args.img_size.unwrap_or(p.image_size),
        seed: args.seed,
        batch_size: n,
        num_classes: n.max(1),
        ..TrainConfig::default()
    };
    args.augment.apply(&mut cfg);
    args.mixup.apply(&mut cfg);
    crate::arch::cost::check_image_size(cfg.img_size)?;
    let mixing = cfg.mixup > 0.0 || cfg.cutmix > 0.0 || cfg.cutmix_minmax.is_some();
    if mixing && n % 2 == 1 {
        return Err(error::usage(format!(
            "with --mixup or --cutmix the images given form the batch, and timm mixes each with \
             the batch's reverse: give an even number of images (got {n})"
        )));
    }
    augment_flags::check(&cfg, n)?;
    if !(1..=MAX_COUNT).contains(&args.count) {
        return Err(error::usage(format!(
            "--count {} must be in 1..={MAX_COUNT}",
            args.count
        )));
    }
    Ok(cfg)
}

/// `<stem>-<k>.png`, or `<stem>.<i>-<k>.png` when stems repeat.
fn output_names(images: &[PathBuf]) -> Vec<String> {
    let stems: Vec<String> = images
        .iter()
        .map(|p| {
            p.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "image".into())
        })
        .collect();
    let mut seen = HashSet::new();
    let unique = stems.iter().all(|s| seen.insert(s.clone()));
    stems
        .into_iter()
        .enumerate()
        .map(|(i, s)| if unique { s } else { format!("{s}.{i}") })
        .collect()
}

fn filter_name(f: Filter) -> &'static str {
    match f {
        Filter::Nearest => "nearest",
        Filter::Box => "box",
        Filter::Bilinear => "bilinear",
        Filter::Hamming => "hamming",
        Filter::Bicubic => "bicubic",
        Filter::Lanczos => "lanczos",
    }
}

/// The 8-bit picture of a normalized CHW image: `rgb`'s own bytes where
/// the floats are still what normalizing `rgb` gave, else the floats
/// de-normalized (`x * std + mean`, times 255, rounded, clamped).
fn picture(rgb: &RgbImage, chw: &[f32], tf: &TrainTransform) -> RgbImage {
    let plane = rgb.width * rgb.height;
    let mut own = vec![0f32; 3 * plane];
    crate::data::transform::normalize_into(rgb, tf.mean, tf.std, &mut own);
    let mut out = rgb.clone();
    for c in 0..3 {
        for i in 0..plane {
            let x = chw[c * plane + i];
            if x.to_bits() != own[c * plane + i].to_bits() {
                let v = (x * tf.std[c] + tf.mean[c]) * 255.0;
                out.data[i * 3 + c] = v.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

fn encode_png(img: &RgbImage) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    image::codecs::png::PngEncoder::new(&mut bytes)
        .write_image(
            &img.data,
            img.width as u32,
            img.height as u32,
            image::ExtendedColorType::Rgb8,
        )
        .context("encoding a PNG")?;
    Ok(bytes)
}

use image::ImageEncoder as _;

/// A row per image, a column per version, 4 grey pixels between them.
fn contact_sheet(rows: &[Vec<RgbImage>], side: usize) -> RgbImage {
    const GAP: usize = 4;
    let cols = rows.first().map_or(0, Vec::len);
    let (w, h) = (
        cols * side + (cols + 1) * GAP,
        rows.len() * side + (rows.len() + 1) * GAP,
    );
    let mut sheet = RgbImage::new(w, h);
    sheet.data.fill(128);
    for (r, row) in rows.iter().enumerate() {
        for (c, img) in row.iter().enumerate() {
            let (x0, y0) = (GAP + c * (side + GAP), GAP + r * (side + GAP));
            for y in 0..side {
                let dst = ((y0 + y) * w + x0) * 3;
                sheet.data[dst..dst + side * 3].copy_from_slice(img.row(y));
            }
        }
    }
    sheet
}

/// One version of every image: per image, the picture of each view (one, or
/// `--aug-splits`) and its `--explain` record.
struct Version {
    pictures: Vec<Vec<RgbImage>>,
    records: Vec<Vec<Value>>,
}

/// The `--explain` fields of one view: what the crop and flips drew (shared
/// by an image's splits) and the view's later steps.
fn record(drawn: &CropFlip, split: usize, ops: Trace) -> Value {
    let c = drawn.crop;
    json!({
        "split": split,
        "crop": {"top": c.top, "left": c.left, "height": c.height, "width": c.width},
        "interpolation": filter_name(drawn.filter),
        "hflip": drawn.hflip,
        "vflip": drawn.vflip,
        "ops": ops,
        "mixup": Value::Null,
    })
}

fn version(cfg: &TrainConfig, p: &Preprocess, images: &[RgbImage], k: usize) -> Result<Version> {
    let tf = cfg.train_transform(p, epoch_seed(cfg.seed, k as u64))?;
    let s = tf.size;
    let plane = 3 * s * s;
    let mut rgbs = Vec::with_capacity(images.len());
    let mut chws = Vec::with_capacity(images.len());
    let mut records = Vec::with_capacity(images.len());
    for (i, img) in images.iter().enumerate() {
        if cfg.aug_splits >= 2 {
            let split = SplitTransform {
                inner: tf.clone(),
                splits: cfg.aug_splits,
            };
            let mut chw = vec![0f32; plane * split.splits];
            let mut traces = vec![Trace::new(); split.splits];
            let (views, drawn) = split.apply_explained(img, i, &mut chw, Some(&mut traces));
            records.push(
                traces
                    .into_iter()
                    .enumerate()
                    .map(|(j, t)| record(&drawn, j, t))
                    .collect(),
            );
            chws.push(chw.chunks_exact(plane).map(<[f32]>::to_vec).collect());
            rgbs.push(views);
        } else {
            let mut chw = vec![0f32; plane];
            let mut ops = Vec::new();
            let (rgb, drawn) = tf.apply_explained(img, i, &mut chw, Some(&mut ops));
            records.push(vec![record(&drawn, 0, ops)]);
            rgbs.push(vec![rgb]);
            chws.push(vec![chw]);
        }
    }
    if let Some(m) = cfg.mixup()? {
        // Splits are refused with mixup: one view an image.
        let n = images.len();
        let flat: Vec<f32> = chws.iter().flat_map(|v| v[0].iter().copied()).collect();
        let x = Tensor::from_slice(&flat).view([n as i64, 3, s as i64, s as i64]);
        let labels = Tensor::arange(n as i64, (tch::Kind::Int64, tch::Device::Cpu));
        let mut rng = mixup::rng_for(cfg.seed, k as u64);
        let draws = m.draw(&mut rng, n, Share::single(n), (s, s), true);
        let (mixed, _) = m.mix(&x, &labels, &draws);
        let mut out = vec![0f32; flat.len()];
        mixed.contiguous().copy_data(&mut out, flat.len());
        for (i, e) in m.explain(&draws, n, s, s).into_iter().enumerate() {
            records[i][0]["mixup"] = e;
            chws[i][0].copy_from_slice(&out[i * plane..(i + 1) * plane]);
        }
    }
    let pictures = rgbs
        .iter()
        .zip(&chws)
        .map(|(rgb, chw)| {
            rgb.iter()
                .zip(chw)
                .map(|(rgb, chw)| picture(rgb, chw, &tf))
                .collect()
        })
        .collect();
    Ok(Version { pictures, records })
}

pub fn run(args: AugmentArgs, ctx: &Context) -> Result<()> {
    let (model, p) = preprocess(&args, ctx)?;
    let cfg = config(&args, model, &p, args.images.len())?;
    let p = Preprocess {
        image_size: cfg.img_size,
        ..p
    };
    // Every image decoded before anything is written: a bad one stops the
    // command with nothing half done.
    let images: Vec<RgbImage> = args
        .images
        .iter()
        .map(|f| decode_file(f))
        .collect::<Result<_>>()?;
    std::fs::create_dir_all(&args.output).map_err(|e| {
        error::usage(format!(
            "cannot create the --output folder {}: {e}",
            args.output.display()
        ))
    })?;
    let names = output_names(&args.images);
    let mut explain_stdout = args.explain.as_deref() == Some(Path::new("-"));
    let mut lines = String::new();
    let mut rows: Vec<Vec<RgbImage>> = vec![Vec::new(); images.len()];
    let mut written = 0usize;
    for k in 0..args.count {
        let v = version(&cfg, &p, &images, k)?;
        for (i, (pics, recs)) in v.pictures.into_iter().zip(v.records).enumerate() {
            let views = pics.len();
            for (j, (pic, mut rec)) in pics.into_iter().zip(recs).enumerate() {
                let name = if views > 1 {
                    format!("{}-{k}-split{j}.png", names[i])
                } else {
                    format!("{}-{k}.png", names[i])
                };
                let file = args.output.join(name);
                write_atomic(&file, &encode_png(&pic)?)?;
                let src = &images[i];
                let head = json!({
                    "file": path_text(&file),
                    "source": path_text(&args.images[i]),
                    "image": i,
                    "version": k,
                    "seed": args.seed,
                    "source_size": {"height": src.height, "width": src.width},
                    "img_size": p.image_size,
                });
                if args.explain.is_some() {
                    let mut obj = head.as_object().cloned().expect("an object");
                    obj.extend(rec.as_object_mut().expect("an object").clone());
                    lines.push_str(&serde_json::to_string(&Value::Object(obj))?);
                    lines.push('\n');
                    if explain_stdout {
                        let mut out = std::io::stdout().lock();
                        if out.write_all(lines.as_bytes()).is_err() {
                            // A closed pipe (`| head`): the rest is not wanted.
                            explain_stdout = false;
                        }
                        lines.clear();
                    }
                }
                if args.grid.is_some() {
                    rows[i].push(pic);
                }
                written += 1;
            }
        }
    }
    if let Some(grid) = &args.grid {
        write_atomic(grid, &encode_png(&contact_sheet(&rows, p.image_size))?)?;
    }
    if let Some(path) = args.explain.as_deref().filter(|p| *p != Path::new("-")) {
        write_atomic(path, lines.as_bytes())?;
    }
    ctx.ui.info(format!(
        "wrote {written} image{} to {}",
        if written == 1 { "" } else { "s" },
        args.output.display()
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_apart() {
        let p = |v: &[&str]| v.iter().map(PathBuf::from).collect::<Vec<_>>();
        assert_eq!(output_names(&p(&["a/x.jpg", "b/y.png"])), ["x", "y"]);
        assert_eq!(output_names(&p(&["a/x.jpg", "b/x.png"])), ["x.0", "x.1"]);
    }

    #[test]
    fn untouched_pixels_keep_their_bytes() {
        let mut rgb = RgbImage::new(5, 4);
        for (i, v) in rgb.data.iter_mut().enumerate() {
            *v = (i * 13 % 256) as u8;
        }
        let tf = TrainTransform::from_preprocess(
            &crate::registry::Registry::load(None)
                .unwrap()
                .get("dpn68")
                .unwrap()
                .preprocess,
            1,
        );
        let mut chw = vec![0f32; 3 * 20];
        crate::data::transform::normalize_into(&rgb, tf.mean, tf.std, &mut chw);
        assert_eq!(picture(&rgb, &chw, &tf).data, rgb.data);
        // An erased pixel (0 in the normalized image) shows the mean.
        chw[0] = 0.0;
        chw[20] = 0.0;
        chw[40] = 0.0;
        let pic = picture(&rgb, &chw, &tf);
        let mean: Vec<u8> = tf.mean.iter().map(|m| (m * 255.0).round() as u8).collect();
        assert_eq!(&pic.data[..3], &mean[..]);
        assert_eq!(&pic.data[3..], &rgb.data[3..]);
    }
}
