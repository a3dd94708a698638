//! `dpn predict` and `dpn evaluate` against timm's own pipeline (Pillow +
//! torchvision eval transform, timm model) on real photographs.

mod common;
use common::python;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The variables of job arrays and launchers, which `--shard auto` reads.
const JOB_VARIABLES: [&str; 7] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "RANK",
    "WORLD_SIZE",
];

fn dpn(args: &[&str]) -> Output {
    dpn_env(args, &[])
}

/// `dpn args` with `vars` as the only job-array variables set.
fn dpn_env(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpn"));
    cmd.args(args).env_remove("DPN_MODEL_INDEX");
    for k in JOB_VARIABLES {
        cmd.env_remove(k);
    }
    cmd.envs(vars.iter().copied()).output().unwrap()
}

/// The Slurm variables of task `id` of `--array=0-8:4` (tasks 0, 4, 8),
/// beside torchrun's.
const SLURM_STEP_4: [(&str, &str); 7] = [
    ("SLURM_ARRAY_TASK_ID", "4"),
    ("SLURM_ARRAY_TASK_COUNT", "3"),
    ("SLURM_ARRAY_TASK_MIN", "0"),
    ("SLURM_ARRAY_TASK_MAX", "8"),
    ("SLURM_ARRAY_TASK_STEP", "4"),
    ("RANK", "1"),
    ("WORLD_SIZE", "2"),
];

/// How many of `total` sorted inputs shard `i` of `n` takes (every n-th from i).
fn share(i: usize, n: usize, total: usize) -> usize {
    (0..total).filter(|k| k % n == i).count()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
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
        let dir = common::shared_tempdir("dpn-predict-");
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

/// `predict` on the reference photographs with `extra` flags, as JSON lines.
fn predict_photos(extra: &[&str]) -> Vec<Value> {
    let r = reference();
    let images = r.path("images");
    let mut args = vec![
        "predict",
        "--device",
        "cpu",
        "--batch-size",
        "3",
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    let weights = r.weights();
    args.extend(["--weights", &weights, images.to_str().unwrap()]);
    let o = dpn(&args);
    ok(&o);
    let lines: Vec<Value> = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 16);
    lines
}

/// The folded network (the CPU's default) and the exact one both give
/// timm's top-5 on every photograph, probabilities within 1e-4.
#[test]
fn predict_matches_timm_on_png_and_jpeg() {
    predict_matches_timm(&[]);
}

#[test]
fn predict_exact_matches_timm_on_png_and_jpeg() {
    predict_matches_timm(&["--exact"]);
}

/// bf16 against timm's f32: the top-1 of every photograph (at least 99% of
/// them is the aim; 16 of 16 here), for bf16's default network (folded; with
/// f32 convolutions where the CPU has no bf16 kernels), the exact one and
/// the folded one.
#[test]
fn predict_bf16_top1_agrees_with_timm_f32() {
    bf16_top1_agrees_with_timm_f32(&["--dtype", "bf16"]);
    bf16_top1_agrees_with_timm_f32(&["--dtype", "bf16", "--exact"]);
    bf16_top1_agrees_with_timm_f32(&["--dtype", "bf16", "--folded"]);
}

#[test]
fn folded_and_exact_together_are_a_usage_error() {
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(["predict", "--folded", "--exact", "x.png"])
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--folded") && err.contains("--exact"), "{err}");
}

fn bf16_top1_agrees_with_timm_f32(flags: &[&str]) {
    let r = reference();
    let lines = predict_photos(flags);
    let agree = lines
        .iter()
        .filter(|line| {
            let path = line["path"].as_str().unwrap();
            line["top"][0]["class_index"] == r.json["images"][path]["index"][0]
        })
        .count();
    eprintln!(
        "{flags:?}: top-1 agreement with timm f32: {agree} of {}",
        lines.len()
    );
    assert_eq!(agree, lines.len(), "bf16 top-1 agreement");
}

fn predict_matches_timm(extra: &[&str]) {
    let r = reference();
    let lines = predict_photos(extra);
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
    eprintln!("largest probability difference vs timm ({extra:?}): {max:.2e}");
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
    for key in ["images", "correct1", "correct5", "loss_units", "per_class"] {
        assert_eq!(m["counts"][key], w["counts"][key], "counts.{key}");
    }

    // What produced a result: timm's preprocessing, the weights' digest,
    // the shard and the size of the whole set.
    let cfg = &r.json["config"];
    assert_eq!(w["img_size"], cfg["input_size"][2]);
    assert_eq!(w["crop_pct"], cfg["crop_pct"]);
    assert_eq!(w["interpolation"], cfg["interpolation"]);
    assert_eq!(w["mean"], cfg["mean"]);
    assert_eq!(w["std"], cfg["std"]);
    let o = Command::new(python())
        .args(["-c", "import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], 'rb').read()).hexdigest())"])
        .arg(r.weights())
        .output()
        .unwrap();
    assert_eq!(
        w["weights_sha256"],
        String::from_utf8(o.stdout).unwrap().trim()
    );
    assert_eq!(
        (&w["shard_index"], &w["shard_count"]),
        (&0.into(), &1.into())
    );
    assert_eq!(w["total_images"], f["images"]);
    let s2: Value = serde_json::from_slice(&std::fs::read(&shards[2]).unwrap()).unwrap();
    assert_eq!(
        (&s2["shard_index"], &s2["shard_count"]),
        (&2.into(), &4.into())
    );
    assert_eq!(s2["total_images"], f["images"]);

    // Merging refuses what would not be the whole set's result, in one line
    // naming the files, and writes nothing.
    let refused = |files: &[&str], names: &[&str], says: &str| {
        let out = out.path().join("refused.json");
        let mut args = vec![
            "evaluate",
            "--results-file",
            out.to_str().unwrap(),
            "--merge",
        ];
        args.extend_from_slice(files);
        let o = dpn(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{files:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
        for n in names {
            assert!(err.contains(n), "{n}: {err}");
        }
        assert!(o.stdout.is_empty());
        assert!(!out.exists());
    };
    let s: Vec<&str> = shards.iter().map(String::as_str).collect();
    refused(&[s[0], s[0]], &[s[0]], "both shard 0/4");
    refused(&[s[0], s[1], s[2], s[3], s[1]], &[s[1]], "both shard 1/4");
    refused(
        &[s[0], s[1], s[3]],
        &[s[0], s[1], s[3]],
        "shard 2 of 4 is missing",
    );
    // A shard of another evaluation: the same weights, bilinear resizing.
    let foreign = out.path().join("foreign.json");
    ok(&dpn(&[
        "-q",
        "evaluate",
        "--data",
        folder.to_str().unwrap(),
        "--weights",
        &r.weights(),
        "--device",
        "cpu",
        "--shard",
        "2/4",
        "--interpolation",
        "bilinear",
        "--results-file",
        foreign.to_str().unwrap(),
    ]));
    let foreign = foreign.to_str().unwrap();
    refused(
        &[s[0], s[1], foreign, s[3]],
        &[s[0], foreign],
        "interpolation: bicubic vs bilinear",
    );
    // An edited file claiming a top-1 of 833%.
    let mut v = s2.clone();
    let images = v["counts"]["images"].as_u64().unwrap();
    v["counts"]["correct1"] = (images * 25 / 3).into();
    v["top1"] = (100.0 * (images * 25 / 3) as f64 / images as f64).into();
    let edited = out.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let edited = edited.to_str().unwrap();
    refused(
        &[s[0], s[1], edited, s[3]],
        &[edited],
        "cannot come from an evaluation",
    );
    // A results file of an earlier dpn.
    let mut v = s2.clone();
    v.as_object_mut().unwrap().remove("weights_sha256");
    let old = out.path().join("old.json");
    std::fs::write(&old, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let old = old.to_str().unwrap();
    refused(
        &[s[0], s[1], old, s[3]],
        &[old],
        "written by an earlier dpn",
    );
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
    let check = "import sys, json, numpy as np; from safetensors.numpy import load_file; from safetensors import safe_open;\n\
a = np.load(sys.argv[1]); paths = [json.loads(l) for l in open(sys.argv[1] + '.paths.jsonl')];\n\
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

/// `predict --format jsonl` with `vars` set: the paths of the output rows.
fn predicted(extra: &[&str], vars: &[(&str, &str)]) -> (Vec<String>, String) {
    let r = reference();
    let (images, weights) = (r.path("images"), r.weights());
    let mut args = vec![
        "predict",
        "--weights",
        &weights,
        "--device",
        "cpu",
        "-k",
        "1",
        "--batch-size",
        "8",
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    args.push(images.to_str().unwrap());
    let o = dpn_env(&args, vars);
    ok(&o);
    let paths = String::from_utf8(o.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["path"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    (paths, stderr(&o))
}

/// `evaluate --format json` of the reference folder with `vars` set: its
/// image count and stderr.
fn evaluated(extra: &[&str], vars: &[(&str, &str)]) -> (u64, String) {
    let r = reference();
    let (data, weights) = (r.path("folder"), r.weights());
    let mut args = vec![
        "evaluate",
        "--data",
        data.to_str().unwrap(),
        "--weights",
        &weights,
        "--device",
        "cpu",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let o = dpn_env(&args, vars);
    ok(&o);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    (v[0]["images"].as_u64().unwrap(), stderr(&o))
}

#[test]
fn job_variables_shard_only_with_shard_auto() {
    let r = reference();
    let all_images = r.json["images"].as_object().unwrap().len();
    let folder_images = r.json["folder"]["images"].as_u64().unwrap() as usize;

    // Inside a Slurm array task, without --shard: everything.
    let array_task = &SLURM_STEP_4[..5];
    let (paths, err) = predicted(&[], array_task);
    assert_eq!(paths.len(), all_images, "{err}");
    assert!(!err.contains("shard"), "{err}");
    let (n, err) = evaluated(&[], array_task);
    assert_eq!(n as usize, folder_images, "{err}");
    assert!(!err.contains("shard"), "{err}");
    // Under a launcher (RANK/WORLD_SIZE), without --shard: predict would have
    // every process classify everything, so it asks for --shard auto;
    // evaluate joins the other ranks (tests/dist.rs), which needs the
    // rendezvous address torchrun always sets.
    let weights = r.weights();
    let images = r.path("images");
    let o = dpn_env(
        &["predict", "--weights", &weights, images.to_str().unwrap()],
        &SLURM_STEP_4,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("pass --shard auto"), "{}", stderr(&o));
    let folder = r.path("folder");
    let o = dpn_env(
        &[
            "evaluate",
            "--weights",
            &weights,
            "--data",
            folder.to_str().unwrap(),
        ],
        &SLURM_STEP_4,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("MASTER_PORT is not set"),
        "{}",
        stderr(&o)
    );

    // --shard auto: task 4 of --array=0-8:4 is shard 1 of 3.
    let (whole, _) = predicted(&[], &[]);
    let (paths, err) = predicted(&["--shard", "auto"], &SLURM_STEP_4);
    let want: Vec<String> = whole
        .iter()
        .enumerate()
        .filter(|(k, _)| k % 3 == 1)
        .map(|(_, p)| p.clone())
        .collect();
    assert_eq!(paths, want);
    assert!(
        err.contains(&format!(
            "shard 1/3 (from SLURM_ARRAY_TASK_ID): {} of {all_images} images",
            want.len()
        )),
        "{err}"
    );
    // The last task of the array, 8, is shard 2 of 3.
    let mut last = SLURM_STEP_4;
    last[0].1 = "8";
    let (n, err) = evaluated(&["--shard", "auto"], &last);
    assert_eq!(n as usize, share(2, 3, folder_images), "{err}");
    assert!(
        err.contains(&format!(
            "shard 2/3 (from SLURM_ARRAY_TASK_ID): {n} of {folder_images} images"
        )),
        "{err}"
    );
    // torchrun alone.
    let (n, err) = evaluated(&["--shard", "auto"], &[("RANK", "1"), ("WORLD_SIZE", "2")]);
    assert_eq!(n as usize, share(1, 2, folder_images), "{err}");
    assert!(err.contains("shard 1/2 (from RANK/WORLD_SIZE)"), "{err}");
    // An explicit --shard wins over the environment and says so.
    let (paths, err) = predicted(&["--shard", "0/4"], &SLURM_STEP_4);
    assert_eq!(paths.len(), share(0, 4, all_images));
    assert!(err.contains("shard 0/4 (from --shard)"), "{err}");

    // --shard auto outside a job array is a usage error naming the variables.
    let o = dpn_env(
        &[
            "predict",
            "--weights",
            &r.weights(),
            "--shard",
            "auto",
            r.path("images").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    for v in JOB_VARIABLES {
        assert!(err.contains(v), "{err}");
    }
}

/// A copy of the reference weights with one defect (tests/py/edit_weights.py).
fn edited_weights(dir: &Path, kind: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.join(format!("{kind}.safetensors"));
    let o = Command::new(python())
        .arg(root.join("tests/py/edit_weights.py"))
        .arg(reference().weights())
        .arg(&out)
        .arg(kind)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    out.display().to_string()
}

#[test]
fn unsound_weights_are_warned_about_or_refused() {
    let r = reference();
    let dir = tempfile::tempdir().unwrap();
    let nan = edited_weights(dir.path(), "nan");
    let negvar = edited_weights(dir.path(), "negvar");
    let image = r.path("images/chelsea.png");
    let image = image.to_str().unwrap();
    let folder = r.path("folder");
    let folder = folder.to_str().unwrap();
    let nan_found = "has 1 NaN or infinite value in 1 tensor (features.conv1_1.conv.weight: 1)";
    let negvar_found = "has 2 negative BatchNorm running variances in 1 tensor \
                        (features.conv1_1.bn.running_var: 2)";

    // By default, a warning when the weights are loaded.
    let predict = |w: &str, extra: &[&str]| {
        let mut args = vec!["predict", "--weights", w, "--device", "cpu", "-k", "1"];
        args.extend_from_slice(extra);
        args.push(image);
        dpn(&args)
    };
    let evaluate = |w: &str, extra: &[&str]| {
        let mut args = vec![
            "evaluate",
            "--data",
            folder,
            "--weights",
            w,
            "--device",
            "cpu",
        ];
        args.extend_from_slice(extra);
        dpn(&args)
    };
    let warned = |o: &Output, found: &str, file: &str| {
        let err = stderr(o);
        let line = err
            .lines()
            .find(|l| l.starts_with("dpn: warning: weights file"))
            .unwrap_or_else(|| panic!("no warning: {err}"));
        assert!(line.contains(file) && line.contains(found), "{line}");
        assert!(line.contains("--reject-non-finite"), "{line}");
    };
    warned(&predict(&nan, &[]), nan_found, &nan);
    warned(&evaluate(&negvar, &[]), negvar_found, &negvar);
    let out = dir.path().join("converted.safetensors");
    let o = dpn(&["convert", &nan, out.to_str().unwrap()]);
    ok(&o);
    warned(&o, nan_found, &nan);
    // A weight that f16 cannot hold becomes infinite in the conversion.
    let big = edited_weights(dir.path(), "big");
    let o = dpn(&["convert", &big, out.to_str().unwrap(), "--dtype", "f16"]);
    ok(&o);
    warned(
        &o,
        "1 NaN or infinite value in 1 tensor (classifier.weight: 1)",
        &big,
    );
    let o = dpn(&["convert", &big, out.to_str().unwrap()]);
    assert!(
        !stderr(&ok(&o).clone()).contains("warning"),
        "{}",
        stderr(&o)
    );
    // Sound weights load without a word.
    let o = predict(&r.weights(), &[]);
    assert!(
        !stderr(&ok(&o).clone()).contains("warning"),
        "{}",
        stderr(&o)
    );

    // Never a probability or an accuracy from NaN or infinite outputs:
    // predict gives each image an error row (exit code 7), evaluate refuses
    // (exit code 3) and writes no results file.
    let images = r.path("images");
    let all_images = r.json["images"].as_object().unwrap().len();
    let folder_images = r.json["folder"]["images"].as_u64().unwrap();
    let inf = edited_weights(dir.path(), "inf");
    for w in [&nan, &inf] {
        let mut args = vec![
            "predict",
            "--weights",
            w,
            "--device",
            "cpu",
            "--format",
            "csv",
        ];
        args.extend(["-k", "2", "--batch-size", "5", images.to_str().unwrap()]);
        let o = dpn(&args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(7), "{err}");
        let mut rd = csv::Reader::from_reader(o.stdout.as_slice());
        let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len(), all_images, "one error row per image");
        for row in &rows {
            assert!(row[6].contains(&row[0]), "{row:?}");
            assert!(row[6].contains("NaN or infinite"), "{row:?}");
            assert!(row[5].is_empty(), "no probability: {row:?}");
        }
        assert!(
            err.contains(&format!(
                "{all_images} of {all_images} images failed: {all_images} gave NaN or infinite outputs"
            )),
            "{err}"
        );
        for format in ["table", "jsonl"] {
            let o = dpn(&[
                "-q",
                "predict",
                "--weights",
                w,
                "--device",
                "cpu",
                "--format",
                format,
                image,
            ]);
            assert_eq!(o.status.code(), Some(7));
            let out = String::from_utf8(o.stdout).unwrap();
            assert!(!out.to_lowercase().contains("nan%"), "{out}");
            assert!(
                out.contains("error") && out.contains("NaN or infinite"),
                "{out}"
            );
        }
    }
    let results = dir.path().join("results.json");
    for w in [&nan, &negvar, &inf] {
        let o = evaluate(w, &["--results-file", results.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert!(o.stdout.is_empty());
        assert!(!results.exists());
        let last = err.lines().last().unwrap();
        assert!(
            last.contains(&format!(
                "{folder_images} of {folder_images} images gave NaN or infinite outputs"
            )) && last.contains(w.as_str()),
            "{err}"
        );
    }

    // --reject-non-finite refuses them: exit code 3, one line, nothing written.
    let refused = |o: Output, file: &str, found: &str| {
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(file) && err.contains(found), "{err}");
        assert!(
            o.stdout.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stdout)
        );
    };
    let reject = ["-q", "--reject-non-finite"];
    refused(predict(&nan, &reject), &nan, nan_found);
    refused(predict(&negvar, &reject), &negvar, negvar_found);
    refused(evaluate(&nan, &reject), &nan, nan_found);
    let fresh = dir.path().join("refused.safetensors");
    refused(
        dpn(&[
            "-q",
            "convert",
            &nan,
            fresh.to_str().unwrap(),
            "--reject-non-finite",
        ]),
        &nan,
        nan_found,
    );
    assert!(!fresh.exists());
    refused(
        dpn(&[
            "-q",
            "profile",
            "dpn68b",
            "--weights",
            &negvar,
            "--device",
            "cpu",
            "--warmup",
            "0",
            "--iters",
            "1",
            "--reject-non-finite",
        ]),
        &negvar,
        negvar_found,
    );
}
