//! Parity of `dpn::data` with Pillow, torchvision and timm
//! (tests/py/data_reference.py).
//!
//! One Python run writes scikit-image's photographs in many formats and modes
//! (and copies the real JPEG photographs that scikit-image and scikit-learn
//! ship), and what Pillow decodes, Pillow resizes, torchvision crops and
//! timm's eval transform makes of them. Its output is kept under the target's
//! tmp dir, keyed by a hash of the script, so later runs skip Python.
//!
//! Bounds (measured 2026-12-02, Pillow 13.0.0 with libjpeg-turbo 3.2.0; dpn
//! with the system's libjpeg-turbo 2.1.5):
//! - PNG, BMP, TIFF, GIF, lossless WebP, JPEG (baseline, progressive,
//!   4:4:4/4:2:2/4:2:0, grayscale, CMYK, YCCK, restart intervals, odd sizes,
//!   real photographs), every mode: exact.
//! - Damaged JPEGs (cut short, corrupt scan data): the same error or the
//!   same pixels as Pillow.
//! - Resize, every filter, every size, and torchvision's resized_crop: exact.
//! - Eval transform on every PNG and JPEG: bit-identical f32.

mod common;
use common::python;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use dpn::data::batches::{BatchLoader, Item, LoaderOptions};
use dpn::data::decode::{decode_bytes, decode_file, sniff, Format, RgbImage, MAX_PIXELS};
use dpn::data::resize::{self, Filter};
use dpn::data::transform::{
    self, center_fallback, random_resized_crop_params, CropParams, EvalTransform, ImageTransform,
    TrainTransform,
};
use dpn::registry::{Interpolation, Registry};
use dpn::sys::error::{exit_code, Exit};
use rand::SeedableRng;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Lossy WebP: measured exact (image-webp and libwebp agree), bounded loosely
/// because lossy decoders may legitimately differ in rounding.
const WEBP_LOSSY_MAX: u8 = 2;
const WEBP_LOSSY_MEAN: f64 = 0.05;

const SCRIPT: &str = include_str!("py/data_reference.py");

/// The reference directory, made once per script version.
fn reference() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let mut h = DefaultHasher::new();
        SCRIPT.hash(&mut h);
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let dir = base.join(format!("data_parity-{:016x}", h.finish()));
        if dir.join("manifest.json").is_file() {
            return dir;
        }
        let tmp = base.join(format!("data_parity-tmp-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/data_reference.py");
        let out = Command::new(python())
            .arg(&script)
            .arg(&tmp)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", python().display()));
        assert!(
            out.status.success(),
            "data_reference.py failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&dir);
        if std::fs::rename(&tmp, &dir).is_err() {
            // Another process won the race; use its copy.
            let _ = std::fs::remove_dir_all(&tmp);
        }
        // Copies made by earlier versions of the script are stale.
        let current = dir.file_name().unwrap().to_owned();
        for old in std::fs::read_dir(base).into_iter().flatten().flatten() {
            let name = old.file_name();
            let stale = name.to_string_lossy().starts_with("data_parity-")
                && !name.to_string_lossy().starts_with("data_parity-tmp-")
                && name != current;
            if stale {
                let _ = std::fs::remove_dir_all(old.path());
            }
        }
        dir
    })
}

fn manifest() -> &'static Value {
    static M: OnceLock<Value> = OnceLock::new();
    M.get_or_init(|| {
        let text = std::fs::read_to_string(reference().join("manifest.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

fn entries(kind: &str) -> &'static [Value] {
    manifest()[kind].as_array().unwrap()
}

fn file(v: &Value) -> PathBuf {
    reference().join(v.as_str().unwrap())
}

fn read_u8(v: &Value) -> Vec<u8> {
    std::fs::read(file(v)).unwrap()
}

fn read_f32(v: &Value) -> Vec<f32> {
    std::fs::read(file(v))
        .unwrap()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn usize_of(v: &Value) -> usize {
    v.as_u64().unwrap() as usize
}

/// (max, mean) absolute difference.
fn diff_u8(a: &[u8], b: &[u8]) -> (u8, f64) {
    assert_eq!(a.len(), b.len());
    let mut max = 0u8;
    let mut sum = 0u64;
    for (&x, &y) in a.iter().zip(b) {
        let d = x.abs_diff(y);
        max = max.max(d);
        sum += d as u64;
    }
    (max, sum as f64 / a.len().max(1) as f64)
}

fn filter_of(name: &str) -> Filter {
    match name {
        "nearest" => Filter::Nearest,
        "bilinear" => Filter::Bilinear,
        "bicubic" => Filter::Bicubic,
        "lanczos" => Filter::Lanczos,
        "box" => Filter::Box,
        "hamming" => Filter::Hamming,
        other => panic!("unknown filter {other}"),
    }
}

#[test]
fn decode_matches_pillow() {
    let mut problems = Vec::new();
    let mut report = Vec::new();
    let mut jpegs = 0;
    for e in entries("decode") {
        let path = file(&e["file"]);
        let name = e["file"].as_str().unwrap();
        let img = match decode_file(&path) {
            Ok(img) => img,
            Err(err) => {
                problems.push(format!("{name}: {err:#}"));
                continue;
            }
        };
        let (w, h) = (usize_of(&e["w"]), usize_of(&e["h"]));
        if (img.width, img.height) != (w, h) {
            problems.push(format!(
                "{name}: size {}x{} != {w}x{h}",
                img.width, img.height
            ));
            continue;
        }
        let (max, mean) = diff_u8(&img.data, &read_u8(&e["rgb"]));
        let kind = e["kind"].as_str().unwrap();
        report.push(format!("{name:32} {kind:6} max {max:3} mean {mean:.4}"));
        let ok = match kind {
            "exact" => max == 0,
            "lossy" => max <= WEBP_LOSSY_MAX && mean < WEBP_LOSSY_MEAN,
            other => panic!("unknown kind {other}"),
        };
        if !ok {
            problems.push(format!("{name} ({kind}): max {max} mean {mean:.4}"));
        }
        if sniff(&std::fs::read(&path).unwrap()) == Some(Format::Jpeg) {
            assert_eq!(kind, "exact", "{name}: JPEGs must decode exactly");
            jpegs += 1;
        }
    }
    eprintln!("decode vs Pillow:\n{}", report.join("\n"));
    // Subsampling x quality, progressive, gray, CMYK, YCCK, restarts, odd
    // sizes, shipped photographs.
    assert!(jpegs >= 70, "only {jpegs} JPEG cases");
    assert!(
        problems.is_empty(),
        "decode differences:\n{}",
        problems.join("\n")
    );
}

#[test]
fn resize_matches_pillow_exactly() {
    let mut problems = Vec::new();
    let mut cache: std::collections::HashMap<String, RgbImage> = Default::default();
    let all = entries("resize");
    for e in all {
        let src = e["src"].as_str().unwrap().to_string();
        let img = cache
            .entry(src.clone())
            .or_insert_with(|| decode_file(&file(&e["src"])).unwrap());
        let (w, h) = (usize_of(&e["w"]), usize_of(&e["h"]));
        let f = e["filter"].as_str().unwrap();
        let out = resize::resize(img, w, h, filter_of(f));
        assert_eq!((out.width, out.height), (w, h));
        let (max, mean) = diff_u8(&out.data, &read_u8(&e["out"]));
        if max != 0 {
            problems.push(format!(
                "{src} {}x{} -> {w}x{h} {f}: max {max} mean {mean:.5}",
                img.width, img.height
            ));
        }
    }
    assert!(all.len() >= 100, "too few resize cases: {}", all.len());
    assert!(
        problems.is_empty(),
        "resize differences:\n{}",
        problems.join("\n")
    );
}

#[test]
fn resize_window_is_a_piece_of_the_whole() {
    let img = decode_file(&reference().join("images/coffee.png")).unwrap();
    let full = [0.0, 0.0, img.width as f32, img.height as f32];
    for f in [
        Filter::Bicubic,
        Filter::Lanczos,
        Filter::Nearest,
        Filter::Box,
    ] {
        for (w, h) in [(384, 256), (100, 500), (700, 30)] {
            let whole = resize::resize(&img, w, h, f);
            let win = resize::Window {
                x: w / 5,
                y: h / 7,
                width: w / 2,
                height: h / 3,
            };
            let part = resize::resize_window(&img, full, w, h, f, win);
            let expect = resize::crop(&whole, win.x, win.y, win.width, win.height);
            assert_eq!(part, expect, "{f:?} {w}x{h}");
        }
    }
}

#[test]
fn resized_crop_matches_torchvision() {
    let mut problems = Vec::new();
    for e in entries("crop_resize") {
        let img = decode_file(&file(&e["src"])).unwrap();
        let c = CropParams {
            top: e["top"].as_i64().unwrap(),
            left: e["left"].as_i64().unwrap(),
            height: usize_of(&e["height"]),
            width: usize_of(&e["width"]),
        };
        let s = usize_of(&e["size"]);
        let out = transform::resized_crop(&img, c, s, s, Filter::Bicubic);
        let (max, mean) = diff_u8(&out.data, &read_u8(&e["out"]));
        if max != 0 {
            problems.push(format!("{c:?}: max {max} mean {mean:.5}"));
        }
    }
    assert!(
        problems.is_empty(),
        "resized_crop differences:\n{}",
        problems.join("\n")
    );
}

#[test]
fn eval_transform_matches_timm() {
    let registry = Registry::load(None).unwrap();
    let mut problems = Vec::new();
    let mut report = Vec::new();
    let mut jpegs = 0;
    for e in entries("eval") {
        let model = e["model"].as_str().unwrap();
        let name = e["file"].as_str().unwrap();
        let floats = |k: &str| -> [f32; 3] {
            let a = e[k].as_array().unwrap();
            [0, 1, 2].map(|i| a[i].as_f64().unwrap() as f32)
        };
        let t = EvalTransform {
            image_size: usize_of(&e["image_size"]),
            crop_pct: e["crop_pct"].as_f64().unwrap(),
            filter: filter_of(e["interpolation"].as_str().unwrap()),
            mean: floats("mean"),
            std: floats("std"),
        };
        // The registry's preprocessing must be timm's.
        let spec = registry.get(model).unwrap();
        let from_registry = EvalTransform::from_preprocess(&spec.preprocess);
        assert_eq!(from_registry.image_size, t.image_size, "{model}");
        assert!(
            (from_registry.crop_pct - t.crop_pct).abs() < 1e-9,
            "{model} crop_pct"
        );
        assert_eq!(from_registry.filter, t.filter, "{model}");
        for c in 0..3 {
            assert!(
                (from_registry.mean[c] - t.mean[c]).abs() < 1e-6,
                "{model} mean"
            );
            assert!(
                (from_registry.std[c] - t.std[c]).abs() < 1e-6,
                "{model} std"
            );
        }

        let img = decode_file(&file(&e["file"])).unwrap();
        let got = t.apply(&img);
        let want = read_f32(&e["out"]);
        assert_eq!(got.len(), want.len(), "{name}");
        let plane = t.image_size * t.image_size;
        // Bit for bit; the report gives differences in 8-bit levels (undoing
        // the normalization).
        let mut max = 0f64;
        let mut differ = 0usize;
        for (i, (&a, &b)) in got.iter().zip(&want).enumerate() {
            if a.to_bits() != b.to_bits() {
                differ += 1;
                let d = ((a - b) as f64).abs() * t.std[i / plane] as f64 * 255.0;
                max = max.max(d);
            }
        }
        report.push(format!(
            "{model:7} {name:32} {differ:6} values differ, max {max:.6} levels"
        ));
        if differ != 0 {
            problems.push(format!(
                "{model} {name}: {differ} values differ, max {max:.6} levels"
            ));
        }
        if name.ends_with(".jpg") {
            jpegs += 1;
        }
    }
    eprintln!("eval transform vs timm:\n{}", report.join("\n"));
    assert!(jpegs >= 60, "only {jpegs} JPEG eval cases");
    assert!(
        problems.is_empty(),
        "eval differences:\n{}",
        problems.join("\n")
    );
}

#[test]
fn eval_geometry_follows_torchvision() {
    assert_eq!(transform::shorter_side_size(600, 400, 256), (384, 256));
    assert_eq!(transform::shorter_side_size(333, 517, 235), (235, 364));
    assert_eq!(transform::shorter_side_size(512, 512, 256), (256, 256));
    // Python rounds halves to even: (3/2) -> 2, (1/2) -> 0, (5/2) -> 2.
    assert_eq!(transform::center_crop_offsets(227, 225, 224, 224), (2, 0));
    assert_eq!(transform::center_crop_offsets(229, 224, 224, 224), (2, 0));
    // Smaller than the crop: zero padding, left/top get the smaller half.
    let img = RgbImage::from_raw(1, 2, vec![9; 6]).unwrap();
    let c = transform::center_crop(&img, 4, 3);
    assert_eq!((c.width, c.height), (4, 3));
    assert_eq!(c.pixel(1, 0), [9, 9, 9]);
    assert_eq!(c.pixel(1, 1), [9, 9, 9]);
    assert_eq!(c.pixel(0, 0), [0, 0, 0]);
    assert_eq!(c.pixel(1, 2), [0, 0, 0]);
    let t = EvalTransform {
        image_size: 224,
        crop_pct: 0.95,
        filter: Filter::Bicubic,
        mean: [0.0; 3],
        std: [1.0; 3],
    };
    assert_eq!(t.scale_size(), 235);
    let tiny = decode_file(&reference().join("images/tiny_31x17.png")).unwrap();
    assert_eq!(t.apply_tensor(&tiny).size(), vec![3, 224, 224]);
}

#[test]
fn train_crop_geometry() {
    // timm's fallback: clamp the aspect ratio into [3/4, 4/3], center.
    let r = (3.0 / 4.0, 4.0 / 3.0);
    assert_eq!(
        center_fallback(1000, 100, r),
        CropParams {
            top: 0,
            left: 433,
            height: 100,
            width: 133
        }
    );
    assert_eq!(
        center_fallback(100, 1000, r),
        CropParams {
            top: 433,
            left: 0,
            height: 133,
            width: 100
        }
    );
    assert_eq!(
        center_fallback(400, 300, r),
        CropParams {
            top: 0,
            left: 0,
            height: 300,
            width: 400
        }
    );
    // A fixed "random" source: the first try's numbers decide the crop.
    struct Fixed(Vec<u64>);
    impl rand::RngCore for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.next_u64() as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0.remove(0)
        }
        fn fill_bytes(&mut self, d: &mut [u8]) {
            rand::rand_core::impls::fill_bytes_via_next(self, d)
        }
    }
    // random::<f64>() is (u64 >> 11) * 2^-53: 0 -> scale 0.08, aspect 3/4.
    let mut rng = Fixed(vec![0, 0, 0, 0, 0, 0]);
    let c = random_resized_crop_params(600, 400, (0.08, 1.0), r, &mut rng);
    // area 0.08 * 240000 = 19200; w = round(sqrt(19200 * 0.75)) = 120, h = 160.
    assert_eq!((c.width, c.height, c.top, c.left), (120, 160, 0, 0));

    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut fraction = 0.0;
    let n = 2000;
    for _ in 0..n {
        let c = random_resized_crop_params(500, 375, (0.08, 1.0), r, &mut rng);
        assert!(c.top >= 0 && c.left >= 0);
        assert!(c.top as usize + c.height <= 375 && c.left as usize + c.width <= 500);
        fraction += (c.width * c.height) as f64 / (500.0 * 375.0);
    }
    // Mean area fraction of U(0.08, 1) is 0.54, lowered by rejected large tries.
    let mean = fraction / n as f64;
    assert!((0.4..0.56).contains(&mean), "mean area fraction {mean}");

    // The train transform is a pure function of (seed, index).
    let img = decode_file(&reference().join("images/chelsea.png")).unwrap();
    let registry = Registry::load(None).unwrap();
    let t = TrainTransform::from_preprocess(&registry.get("dpn68b").unwrap().preprocess, 1);
    let mut a = vec![0f32; 3 * 224 * 224];
    let mut b = vec![0f32; 3 * 224 * 224];
    t.apply_into(&img, 5, &mut a);
    t.apply_into(&img, 5, &mut b);
    assert_eq!(a, b);
    t.apply_into(&img, 6, &mut b);
    assert_ne!(a, b);
}

#[test]
fn bad_files_are_clean_errors() {
    for e in entries("bad") {
        let path = file(&e["file"]);
        let err = decode_file(&path).expect_err(&path.display().to_string());
        let msg = format!("{err:#}");
        assert_eq!(exit_code(&err), Exit::BadInput.code(), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
        assert!(
            msg.starts_with(&format!("image {}: ", path.display())),
            "{msg}"
        );
    }
    let missing = reference().join("images/does-not-exist.jpg");
    let err = decode_file(&missing).unwrap_err();
    assert_eq!(exit_code(&err), Exit::BadInput.code());
    // Truncations of a good JPEG at many points: errors, never panics.
    let jpeg = std::fs::read(reference().join("images/coffee.jpg")).unwrap();
    for cut in (0..jpeg.len()).step_by(jpeg.len() / 37 + 1) {
        let r = decode_bytes(&jpeg[..cut], "cut.jpg");
        assert!(
            r.is_err(),
            "a JPEG cut at {cut} of {} bytes decoded",
            jpeg.len()
        );
    }
    // Flipped bytes in a PNG and a GIF: an image or an error, never a panic.
    for name in [
        "images/coffee.png",
        "images/astronaut.gif",
        "images/astronaut_lossless.webp",
    ] {
        let good = std::fs::read(reference().join(name)).unwrap();
        for i in (16..good.len()).step_by(good.len() / 23 + 1) {
            let mut bad = good.clone();
            bad[i] ^= 0x5A;
            let _ = decode_bytes(&bad, name);
        }
    }
}

#[test]
fn damaged_jpegs_fail_or_decode_as_pillow() {
    let mut sources: std::collections::HashMap<String, Vec<u8>> = Default::default();
    let (mut errors, mut images, mut problems) = (0, 0, Vec::new());
    for e in entries("jpeg_damage") {
        let src = e["src"].as_str().unwrap();
        let data = sources
            .entry(src.to_string())
            .or_insert_with(|| std::fs::read(file(&e["src"])).unwrap());
        let mut bytes = match e["cut"].as_u64() {
            Some(cut) => data[..cut as usize].to_vec(),
            None => data.clone(),
        };
        if let Some(i) = e["flip"].as_u64() {
            bytes[i as usize] ^= 0x5A;
        }
        let what = format!("{src} cut {} flip {}", e["cut"], e["flip"]);
        let got = decode_bytes(&bytes, "damaged.jpg");
        match (e["sha256"].as_str(), got) {
            (None, Err(err)) => {
                let msg = format!("{err:#}");
                assert_eq!(exit_code(&err), Exit::BadInput.code(), "{msg}");
                assert!(msg.starts_with("image damaged.jpg: "), "{msg}");
                assert!(!msg.contains('\n'), "{msg}");
                errors += 1;
            }
            (Some(want), Ok(img)) => {
                let got = dpn::sys::digest::hex(&Sha256::digest(&img.data));
                if got != want {
                    problems.push(format!("{what}: pixels differ from Pillow's"));
                }
                images += 1;
            }
            (None, Ok(_)) => problems.push(format!("{what}: Pillow raises, dpn decodes")),
            (Some(_), Err(err)) => problems.push(format!("{what}: Pillow decodes, dpn: {err:#}")),
        }
    }
    assert!(
        errors >= 100 && images >= 50,
        "{errors} errors, {images} images"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn jpeg_size_is_checked_from_the_header() {
    // A real JPEG whose frame header claims 20000 x 10000 pixels: refused
    // before anything is decoded or allocated, as Pillow's bomb check does.
    let mut jpeg = std::fs::read(reference().join("images/chelsea.jpg")).unwrap();
    let sof = jpeg.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0x27, 0x10, 0x4E, 0x20]);
    const { assert!(20_000u64 * 10_000 > MAX_PIXELS) };
    let err = decode_bytes(&jpeg, "bomb.jpg").unwrap_err();
    let msg = format!("{err:#}");
    assert_eq!(exit_code(&err), Exit::BadInput.code(), "{msg}");
    assert!(msg.contains("decompression bomb"), "{msg}");
    // Under the limit, the same file decodes: libjpeg meets the EOI marker
    // early and decodes the rest from zero coefficients, with a warning (so
    // does Pillow).
    jpeg[sof + 5..sof + 9].copy_from_slice(&[0x10, 0x00, 0x10, 0x00]);
    let img = decode_bytes(&jpeg, "short.jpg").unwrap();
    assert_eq!((img.width, img.height), (4096, 4096));
}

/// Counts the images it transforms; sleeps a little per image.
struct Counting {
    inner: EvalTransform,
    calls: Arc<AtomicUsize>,
}

impl ImageTransform for Counting {
    fn output_size(&self) -> (usize, usize) {
        self.inner.output_size()
    }
    fn apply_into(&self, img: &RgbImage, index: usize, out: &mut [f32]) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.apply_into(img, index, out)
    }
}

fn small_eval() -> EvalTransform {
    EvalTransform {
        image_size: 32,
        crop_pct: 0.875,
        filter: Filter::Bicubic,
        mean: [0.5; 3],
        std: [0.25; 3],
    }
}

#[test]
fn loader_keeps_order_and_reports_failures() {
    let names = [
        "chelsea.png",
        "empty.jpg",
        "coffee.jpg",
        "rocket.png",
        "text.jpg",
        "camera.png",
        "coins.jpg",
        "astronaut.gif",
        "truncated.jpg",
        "hubble_333x517.png",
        "tiny_31x17.jpg",
    ];
    let items: Vec<Item> = names
        .iter()
        .enumerate()
        .map(|(i, n)| Item::labeled(reference().join("images").join(n), i as i64 * 10))
        .collect();
    let t = small_eval();
    let opts = LoaderOptions {
        batch_size: 4,
        workers: 3,
        prefetch: 2,
    };
    let loader = BatchLoader::new(items.clone(), Arc::new(t.clone()), opts).unwrap();
    assert_eq!(loader.num_batches(), 3);
    let mut seen = Vec::new();
    let mut failed = Vec::new();
    for (n, batch) in loader.enumerate() {
        let batch = batch.unwrap();
        assert_eq!(batch.number, n);
        assert_eq!(batch.images.size(), vec![batch.len() as i64, 3, 32, 32]);
        for (k, &i) in batch.indices.iter().enumerate() {
            assert_eq!(batch.paths[k], items[i].path);
            assert_eq!(batch.labels[k], Some(i as i64 * 10));
            let want = t.apply(&decode_file(&items[i].path).unwrap());
            let got: Vec<f32> = batch
                .images
                .get(k as i64)
                .flatten(0, -1)
                .try_into()
                .unwrap();
            assert_eq!(got, want, "{}", items[i].path.display());
        }
        assert_eq!(
            batch.label_tensor().unwrap().size(),
            vec![batch.len() as i64]
        );
        seen.extend(batch.indices.iter().copied());
        for f in &batch.failures {
            assert!(
                f.error.contains(&*f.path.display().to_string()),
                "{}",
                f.error
            );
            assert!(!f.error.contains('\n'));
            failed.push(f.index);
        }
    }
    assert_eq!(seen, vec![0, 2, 3, 5, 6, 7, 9, 10]);
    assert_eq!(failed, vec![1, 4, 8]);
}

#[test]
fn loader_prefetch_is_bounded() {
    let path = reference().join("images/chelsea.png");
    let items: Vec<Item> = (0..60).map(|_| Item::new(&path)).collect();
    let calls = Arc::new(AtomicUsize::new(0));
    let t = Counting {
        inner: small_eval(),
        calls: calls.clone(),
    };
    let (batch, prefetch) = (3, 2);
    let opts = LoaderOptions {
        batch_size: batch,
        workers: 2,
        prefetch,
    };
    let mut loader = BatchLoader::new(items, Arc::new(t), opts).unwrap();
    let first = loader.next().unwrap().unwrap();
    assert_eq!(first.len(), batch);
    std::thread::sleep(Duration::from_millis(700));
    // Held by us (1) + waiting in the channel (prefetch) + one being built.
    let bound = (1 + prefetch + 1) * batch;
    let done = calls.load(Ordering::SeqCst);
    assert!(
        done <= bound,
        "{done} images transformed while the consumer waited (bound {bound})"
    );
    assert!(done >= (1 + prefetch) * batch, "no prefetching: {done}");
    // Dropping mid-way stops the thread.
    drop(loader);
    let after = calls.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(calls.load(Ordering::SeqCst), after);
    // And a full run yields every image.
    let items: Vec<Item> = (0..10).map(|_| Item::new(&path)).collect();
    let opts = LoaderOptions {
        batch_size: 4,
        workers: 1,
        prefetch: 1,
    };
    let n: usize = BatchLoader::new(items, Arc::new(small_eval()), opts)
        .unwrap()
        .map(|b| b.unwrap().len())
        .sum();
    assert_eq!(n, 10);
}

#[test]
fn interpolation_maps_to_filter() {
    assert_eq!(Filter::from(Interpolation::Bicubic), Filter::Bicubic);
    assert_eq!(Filter::from(Interpolation::Nearest), Filter::Nearest);
    assert_eq!(Filter::from(Interpolation::Lanczos), Filter::Lanczos);
}
