//! `dpn predict` and `dpn evaluate` against timm's own pipeline (Pillow +
//! torchvision eval transform, timm model) on real photographs.

mod common;
use common::python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

fn dpn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK")
        .output()
        .unwrap()
}

fn ok(o: &Output) -> &Output {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// timm's reference files and the converted weights, made once per test process.
struct Reference {
    dir: tempfile::TempDir,
    json: Value,
}

impl Reference {
    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn weights(&self) -> String {
        self.path("weights.safetensors").display().to_string()
    }
}

fn reference() -> &'static Reference {
    static R: OnceLock<Reference> = OnceLock::new();
    R.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("dpn-predict-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let o = Command::new(python())
            .arg(root.join("tests/py/predict_reference.py"))
            .args([
                "make",
                dir.path().to_str().unwrap(),
                root.join("data/imagenet1k_classes.tsv").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let json: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("reference.json")).unwrap())
                .unwrap();
        // The random timm weights go through `dpn convert`, as a user's would.
        let pth = dir.path().join("weights.pth");
        let st = dir.path().join("weights.safetensors");
        ok(&dpn(&[
            "-q",
            "convert",
            pth.to_str().unwrap(),
            st.to_str().unwrap(),
        ]));
        Reference { dir, json }
    })
}

#[test]
fn predict_matches_timm_on_png_and_jpeg() {
    let r = reference();
    let images = r.path("images");
    let o = dpn(&[
        "predict",
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--batch-size",
        "3",
        "--format",
        "jsonl",
        images.to_str().unwrap(),
    ]);
    ok(&o);
    let lines: Vec<Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    let (mut max, mut jpegs) = (0f64, 0);
    for line in &lines {
        let path = line["path"].as_str().unwrap();
        let want = &r.json["images"][path];
        let got_idx: Vec<u64> = line["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["class_index"].as_u64().unwrap())
            .collect();
        let want_idx: Vec<u64> = want["index"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let diff = line["top"]
            .as_array()
            .unwrap()
            .iter()
            .zip(want["prob"].as_array().unwrap())
            .map(|(g, w)| (g["probability"].as_f64().unwrap() - w.as_f64().unwrap()).abs())
            .fold(0.0, f64::max);
        assert_eq!(got_idx[0], want_idx[0], "{path}: top-1");
        assert_eq!(got_idx, want_idx, "{path}: top-5");
        max = max.max(diff);
        jpegs += path.ends_with(".jpg") as usize;
        assert_eq!(line["top"][0]["synset"].as_str().map(|s| s.len()), Some(9));
    }
    assert_eq!(jpegs, 8);
    eprintln!("largest probability difference vs timm: {max:.2e}");
    // Preprocessing is Pillow-exact, JPEG decoding included, so only float
    // summation order differs.
    assert!(max < 1e-4, "probability difference {max}");
}

#[test]
fn evaluate_matches_timm_and_shards_merge_exactly() {
    let r = reference();
    let folder = r.path("folder");
    let out = tempfile::tempdir().unwrap();
    let whole = out.path().join("whole.json");
    ok(&dpn(&[
        "-q",
        "evaluate",
        "--data",
        folder.to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--results-file",
        whole.to_str().unwrap(),
        "--format",
        "json",
    ]));
    let w: Value = serde_json::from_slice(&std::fs::read(&whole).unwrap()).unwrap();
    let f = &r.json["folder"];
    assert_eq!(w["images"], f["images"]);
    assert_eq!(
        w["counts"]["correct1"], f["correct1"],
        "top-1 as timm's validation"
    );
    assert_eq!(
        w["counts"]["correct5"], f["correct5"],
        "top-5 as timm's validation"
    );
    let n = f["images"].as_f64().unwrap();
    assert_eq!(
        w["top1"].as_f64().unwrap(),
        100.0 * f["correct1"].as_f64().unwrap() / n
    );
    assert_eq!(w["reported_top1"], 79.21);

    // The same per-image batches (batch size 1) in the whole run and the
    // shards: then even the mean loss, whose last bits depend on how the
    // CPU kernels split a batch, must merge to the identical value.
    let whole1 = out.path().join("whole1.json");
    ok(&dpn(&[
        "-q",
        "evaluate",
        "--data",
        folder.to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--batch-size",
        "1",
        "--results-file",
        whole1.to_str().unwrap(),
    ]));
    let w1: Value = serde_json::from_slice(&std::fs::read(&whole1).unwrap()).unwrap();
    assert_eq!(w1["counts"]["correct1"], w["counts"]["correct1"]);
    assert!((w1["loss"].as_f64().unwrap() - w["loss"].as_f64().unwrap()).abs() < 1e-5);
    let w = w1;
    let mut shards = Vec::new();
    for i in 0..4 {
        let p = out.path().join(format!("s{i}.json"));
        ok(&dpn(&[
            "-q",
            "eval",
            "--data",
            folder.to_str().unwrap(),
            "--weights",
            &r.weights(),
            "--device",
            "cpu",
            "--shard",
            &format!("{i}/4"),
            "--batch-size",
            "1",
            "--results-file",
            p.to_str().unwrap(),
        ]));
        shards.push(p.display().to_string());
    }
    let merged = out.path().join("merged.json");
    let mut args = vec![
        "-q",
        "evaluate",
        "--results-file",
        merged.to_str().unwrap(),
        "--merge",
    ];
    args.extend(shards.iter().map(String::as_str));
    ok(&dpn(&args));
    let m: Value = serde_json::from_slice(&std::fs::read(&merged).unwrap()).unwrap();
    for key in ["images", "skipped", "top1", "top5", "loss"] {
        assert_eq!(m[key], w[key], "{key}: merged shards must equal the whole");
    }
    assert_eq!(m["counts"]["per_class"], w["counts"]["per_class"]);
}

#[test]
fn bad_images_are_reported_and_the_rest_go_on() {
    let r = reference();
    let dir = tempfile::tempdir().unwrap();
    let cls = dir.path().join("n01440764");
    std::fs::create_dir_all(&cls).unwrap();
    let good = std::fs::read(r.path("images/chelsea.jpg")).unwrap();
    std::fs::write(cls.join("a_good.jpg"), &good).unwrap();
    std::fs::write(cls.join("b_truncated.jpg"), &good[..good.len() / 3]).unwrap();
    std::fs::write(cls.join("c_empty.jpg"), b"").unwrap();
    std::fs::write(cls.join("d_text.jpg"), b"this is not an image\n").unwrap();
    // A CMYK JPEG is a valid image and must be classified.
    let o = Command::new(python())
        .args(["-c", "import sys; from PIL import Image; Image.open(sys.argv[1]).convert('CMYK').save(sys.argv[2])"])
        .arg(r.path("images/coffee.png"))
        .arg(cls.join("e_cmyk.jpg"))
        .output()
        .unwrap();
    assert!(o.status.success());

    let o = dpn(&[
        "predict",
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--format",
        "csv",
        "-k",
        "1",
        cls.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut rd = csv::Reader::from_reader(o.stdout.as_slice());
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 5, "one row per image, in order");
    let errors: Vec<bool> = rows.iter().map(|r| !r[6].is_empty()).collect();
    assert_eq!(errors, [false, true, true, true, false]);
    for r in &rows[1..4] {
        assert!(r[6].contains(&r[0]), "the error names the file: {:?}", r);
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("3 of 5 images could not be read"), "{err}");
    assert_eq!(
        err.lines()
            .filter(|l| l.starts_with("dpn: warning: "))
            .count(),
        3,
        "{err}"
    );

    let o = dpn(&[
        "evaluate",
        "--data",
        dir.path().to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(7));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["images"], 2);
    assert_eq!(v[0]["skipped"], 3);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("3 of 5 images could not be read and were skipped"));
}

#[test]
fn features_are_written_per_path() {
    let r = reference();
    let out = tempfile::tempdir().unwrap();
    let npy = out.path().join("f.npy");
    let st = out.path().join("f.safetensors");
    let images = r.path("images");
    for f in [&npy, &st] {
        ok(&dpn(&[
            "-q",
            "predict",
            "--weights",
            &r.weights(),
            "--device",
            "cpu",
            "--features",
            f.to_str().unwrap(),
            "--format",
            "csv",
            images.to_str().unwrap(),
        ]));
    }
    let check = "import sys, numpy as np; from safetensors.numpy import load_file; from safetensors import safe_open;\n\
a = np.load(sys.argv[1]); paths = open(sys.argv[1] + '.paths.txt').read().split();\n\
f = safe_open(sys.argv[2], 'np'); b = f.get_tensor('features'); import json; p2 = json.loads(f.metadata()['paths']);\n\
assert a.shape == (16, 832) and b.shape == (16, 832), (a.shape, b.shape); assert paths == p2 and len(paths) == 16;\n\
assert np.array_equal(a, b) and np.isfinite(a).all(); print('ok')";
    let o = Command::new(python())
        .args(["-c", check, npy.to_str().unwrap(), st.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = dpn(&[
        "predict",
        "--weights",
        &r.weights(),
        "--features",
        out.path().join("f.txt").to_str().unwrap(),
        images.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn usage_errors() {
    let r = reference();
    let o = dpn(&[
        "predict",
        "/nonexistent/image.jpg",
        "--weights",
        &r.weights(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = dpn(&["predict", r.path("images").to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "no model named: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = dpn(&[
        "evaluate",
        "--data",
        r.path("folder").to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--shard",
        "4/4",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let o = dpn(&[
        "evaluate",
        "--data",
        r.path("folder").to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--amp",
        "--device",
        "cpu",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let empty = tempfile::tempdir().unwrap();
    let o = dpn(&[
        "evaluate",
        "--data",
        empty.path().to_str().unwrap(),
        "--weights",
        &r.weights(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}
