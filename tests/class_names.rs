//! Class names and recorded preprocessing, end to end: a tiny dpn48b trained
//! on three of scikit-learn's digits (folders `zero`, `one`, `two`) scores
//! every image the same whichever subset of the class folders `evaluate`
//! sees; synset-named folders fine-tune to the run's own class list (or keep
//! ImageNet's head with `--num-classes 1000`); the weights carry the
//! preprocessing their validation used, so `predict`, `evaluate` and
//! `profile` need no preprocessing flags; and timm loads a checkpoint folder
//! through its config.json and predicts what dpn predicts.

mod common;
use common::python;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The digits taken, with the folder names they get.
const CLASSES: [(&str, &str); 3] = [("0", "zero"), ("1", "one"), ("2", "two")];

/// The training recipe (the learning rate aside): small images, 27 updates
/// an epoch of digits(); three epochs tell the digits apart (98% top-1).
#[rustfmt::skip]
const RECIPE: &[&str] = &[
    "--img-size", "32", "--crop-pct", "1", "--batch-size", "16", "--scale", "0.6", "1",
    "--hflip", "0", "--seed", "0", "--workers", "1",
];

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn tempdir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(tmp())
        .unwrap()
}

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env("DPN_CACHE_DIR", tmp().join("class-names-cache"))
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK");
    c
}

fn run(c: &mut Command) -> Output {
    c.output().unwrap()
}

fn ok(c: &mut Command) -> Output {
    let o = run(c);
    assert!(o.status.success(), "{:?}: {}", c, stderr(&o));
    o
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Copies the first `limit` files of `from` (by name) into `to`.
fn copy_dir(from: &Path, to: &Path, limit: usize) {
    std::fs::create_dir_all(to).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(from)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    for f in files.into_iter().take(limit) {
        std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
}

/// `make` into `name` under the target's tmp dir, once: built in a temporary
/// folder, then renamed into place (another test process may race).
fn made_once(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    let dir = tmp().join(name);
    if dir.join("done").exists() {
        return dir;
    }
    let t = tempdir(&format!("{name}-")).keep();
    make(&t);
    std::fs::write(t.join("done"), "").unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if std::fs::rename(&t, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&t);
    }
    dir
}

/// `train/` and `val/` of the digits 0, 1, 2 under the names of CLASSES
/// (about 430 and 110 images).
fn digits() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        made_once("class-names-digits", |dir| {
            let all = dir.join("all");
            let o = Command::new(python())
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/make_digits.py"))
                .arg(&all)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
            for split in ["train", "val"] {
                for (digit, name) in CLASSES {
                    copy_dir(
                        &all.join(split).join(digit),
                        &dir.join(split).join(name),
                        usize::MAX,
                    );
                }
            }
            std::fs::remove_dir_all(&all).unwrap();
        })
    })
}

/// The run trained on digits() by this test process: its output folder.
fn trained() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = digits();
        let out = tmp().join("class-names-run");
        let _ = std::fs::remove_dir_all(&out);
        ok(dpn()
            .arg("train")
            .arg("--data")
            .arg(d.join("train"))
            .arg("--val-data")
            .arg(d.join("val"))
            .args(["-m", "dpn48b", "--epochs", "5"])
            .args(["--lr", "0.05", "--warmup-epochs", "1"])
            .args(RECIPE)
            .arg("--output")
            .arg(&out));
        out
    })
}

fn best() -> PathBuf {
    trained().join("best/model.safetensors")
}

fn metadata(weights: &Path) -> BTreeMap<String, String> {
    dpn::weights::read_safetensors(weights).unwrap().metadata
}

/// The rows of a --per-class file by class name: [index, synset, name,
/// images, top-1, top-5].
fn per_class(path: &Path) -> BTreeMap<String, Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "class_index",
            "synset",
            "class_name",
            "images",
            "top1",
            "top5"
        ]
    );
    r.records()
        .map(|r| {
            let r = r.unwrap();
            (r[2].to_string(), r.iter().map(String::from).collect())
        })
        .collect()
}

/// `dpn evaluate` of `weights` on `data`: the results file and the
/// per-class rows.
fn evaluate(weights: &Path, data: &Path, extra: &[&str]) -> (Value, BTreeMap<String, Vec<String>>) {
    let out = tempdir("class-names-eval-");
    let (results, classes) = (out.path().join("r.json"), out.path().join("c.csv"));
    ok(dpn()
        .args(["-q", "evaluate", "--device", "cpu", "--weights"])
        .arg(weights)
        .arg("--data")
        .arg(data)
        .arg("--results-file")
        .arg(&results)
        .arg("--per-class")
        .arg(&classes)
        .args(extra));
    let r = serde_json::from_slice(&std::fs::read(&results).unwrap()).unwrap();
    (r, per_class(&classes))
}

/// A folder holding links to some class folders of `from`, as `names`.
fn subset(from: &Path, classes: &[(&str, &str)], into: &Path) -> PathBuf {
    std::fs::create_dir_all(into).unwrap();
    for (class, name) in classes {
        std::os::unix::fs::symlink(from.join(class), into.join(name)).unwrap();
    }
    into.to_path_buf()
}

/// `dpn predict --format jsonl` lines.
fn predict(weights: &Path, paths: &[PathBuf], extra: &[&str]) -> Vec<Value> {
    let o = ok(dpn()
        .args([
            "predict",
            "--device",
            "cpu",
            "--format",
            "jsonl",
            "--weights",
        ])
        .arg(weights)
        .args(extra)
        .args(paths));
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn every_subset_of_the_class_folders_scores_each_image_the_same() {
    let val = digits().join("val");
    let (whole, rows) = evaluate(&best(), &val, &[]);
    let top1 = whole["top1"].as_f64().unwrap();
    // A model that tells the classes apart, so that a wrong label would show.
    assert!(top1 >= 80.0, "top-1 {top1}: {whole}");

    // Per image, from predict: right when the top class is the image's folder.
    let lines = predict(&best(), std::slice::from_ref(&val), &["-k", "1"]);
    let mut counts: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for l in &lines {
        let path = PathBuf::from(l["path"].as_str().unwrap());
        let folder = path
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        let c = counts.entry(folder.to_string()).or_default();
        c.0 += 1;
        c.1 += (l["top"][0]["class_name"] == folder) as u64;
    }
    assert_eq!(rows.len(), 3);
    for (name, (n, right)) in &counts {
        let row = &rows[name];
        assert_eq!(row[3], n.to_string(), "{name}: images");
        assert_eq!(
            row[4],
            (100.0 * *right as f64 / *n as f64).to_string(),
            "{name}: top-1"
        );
    }
    // Sorted names: the model's outputs are one, two, zero.
    assert_eq!(rows["one"][0], "0");
    assert_eq!(rows["zero"][0], "2");

    // Each one- and two-class subset: the rows of its classes, unchanged.
    let tmp = tempdir("class-names-subsets-");
    let links: Vec<(&str, &str)> = CLASSES.iter().map(|(_, n)| (*n, *n)).collect();
    let mut sets: Vec<Vec<(&str, &str)>> = links.iter().map(|c| vec![*c]).collect();
    for i in 0..3 {
        for j in i + 1..3 {
            sets.push(vec![links[i], links[j]]);
        }
    }
    for (k, set) in sets.iter().enumerate() {
        let dir = subset(&val, set, &tmp.path().join(k.to_string()));
        let (r, sub) = evaluate(&best(), &dir, &[]);
        let names: Vec<&str> = set.iter().map(|c| c.1).collect();
        assert_eq!(sub.len(), set.len(), "{names:?}");
        for (name, row) in &sub {
            assert_eq!(row, &rows[name], "{names:?}: class {name}");
        }
        let right: u64 = names.iter().map(|n| counts[*n].1).sum();
        assert_eq!(r["counts"]["correct1"], right, "{names:?}");
    }

    // A labels file naming the classes scores the same.
    let list = tmp.path().join("labels.csv");
    let mut text = String::from("path,label\n");
    for f in std::fs::read_dir(val.join("two")).unwrap().flatten() {
        text.push_str(&format!("two/{},two\n", f.file_name().to_str().unwrap()));
    }
    std::fs::write(&list, text).unwrap();
    let (_, by_list) = evaluate(&best(), &val, &["--labels-file", list.to_str().unwrap()]);
    assert_eq!(by_list["two"], rows["two"]);
}

#[test]
fn a_folder_the_model_does_not_know_is_bad_input() {
    let val = digits().join("val");
    let tmp = tempdir("class-names-unknown-");
    let dir = subset(
        &val,
        &[("zero", "zero"), ("one", "cat")],
        &tmp.path().join("data"),
    );
    let results = tmp.path().join("r.json");
    let o = run(dpn()
        .args(["evaluate", "--device", "cpu", "--weights"])
        .arg(best())
        .arg("--data")
        .arg(&dir)
        .arg("--results-file")
        .arg(&results));
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("`cat`"), "{err}");
    assert!(err.contains("one, two, zero"), "the known classes: {err}");
    assert!(o.stdout.is_empty());
    assert!(!results.exists());
}

/// Three ImageNet synset ids whose ImageNet indices (100, 500, 900) are not
/// their positions in the run's sorted class list.
fn synsets() -> Vec<(String, usize)> {
    let tsv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/imagenet1k_classes.tsv"),
    )
    .unwrap();
    let ids: Vec<&str> = tsv.lines().map(|l| l.split('\t').next().unwrap()).collect();
    [100, 500, 900]
        .iter()
        .map(|&i| (ids[i].to_string(), i))
        .collect()
}

/// digits() with its class folders named by `synsets()` (in the order of
/// the trained model's classes, so that fine-tuning it keeps their
/// meaning), 16 training images a class (3 updates an epoch) and the whole
/// validation set.
fn synset_digits() -> PathBuf {
    let syn = synsets();
    made_once("class-names-synsets-16", |dir| {
        for (split, limit) in [("train", 16), ("val", usize::MAX)] {
            for (name, (id, _)) in ["one", "two", "zero"].iter().zip(&syn) {
                copy_dir(
                    &digits().join(split).join(name),
                    &dir.join(split).join(id),
                    limit,
                );
            }
        }
    })
}

#[test]
fn synset_folders_fine_tune_to_their_own_class_list() {
    let data = synset_digits();
    let syn = synsets();
    let ids: Vec<String> = syn.iter().map(|s| s.0.clone()).collect();
    let tmp = tempdir("class-names-synsets-");
    let out = tmp.path().join("run");
    ok(dpn()
        .arg("train")
        .arg("--data")
        .arg(data.join("train"))
        .arg("--val-data")
        .arg(data.join("val"))
        .args(["-m", "dpn48b", "--epochs", "1", "--weights"])
        .arg(best())
        .args(RECIPE)
        .args(["--lr", "0.01"])
        .arg("--output")
        .arg(&out));
    let weights = out.join("last/model.safetensors");
    let names: Vec<String> = serde_json::from_str(&metadata(&weights)["dpn.class_names"]).unwrap();
    assert_eq!(names, ids, "the run's classes are its folders");

    // Scored by that list: as the run's own validation scored it.
    let (r, rows) = evaluate(&weights, &data.join("val"), &[]);
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let val_top1: f64 = metrics
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .nth(4)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(r["top1"].as_f64().unwrap(), val_top1, "{metrics}");
    assert!(val_top1 >= 80.0, "{metrics}");
    // Rows by position, with ImageNet's name for each synset.
    let row = rows.values().find(|r| r[1] == ids[2]).unwrap();
    assert_eq!(row[0], "2");
    assert_eq!(row[2], "water tower");
    // A subset: the same row.
    let one = subset(
        &data.join("val"),
        &[(&ids[2], &ids[2])],
        &tmp.path().join("one"),
    );
    let (_, sub) = evaluate(&weights, &one, &[]);
    assert_eq!(sub.values().collect::<Vec<_>>(), [row]);
    // predict names the class by synset and ImageNet name.
    let img = std::fs::read_dir(one.join(&ids[2]))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let line = &predict(&weights, &[img], &["-k", "3"])[0];
    let top = line["top"].as_array().unwrap();
    let idx: Vec<u64> = top
        .iter()
        .map(|t| t["class_index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        {
            let mut i = idx.clone();
            i.sort();
            i
        },
        [0, 1, 2]
    );
    for t in top {
        let i = t["class_index"].as_u64().unwrap() as usize;
        assert_eq!(t["synset"], ids[i].as_str());
    }
}

#[test]
fn synset_folders_with_1000_classes_keep_imagenet_indices() {
    let data = synset_digits();
    let syn = synsets();
    let tmp = tempdir("class-names-imagenet-head-");
    let out = tmp.path().join("run");
    let o = ok(dpn()
        .arg("train")
        .arg("--data")
        .arg(data.join("train"))
        .args(["-m", "dpn48b", "--epochs", "1", "--num-classes", "1000"])
        .args(["--lr", "0.05"])
        .args(RECIPE)
        .arg("--output")
        .arg(&out));
    assert!(stderr(&o).contains("ImageNet's indices"), "{}", stderr(&o));
    let weights = out.join("last/model.safetensors");
    let names: Vec<String> = serde_json::from_str(&metadata(&weights)["dpn.class_names"]).unwrap();
    assert_eq!(names.len(), 1000);
    for (id, i) in &syn {
        assert_eq!(&names[*i], id);
    }
    let (id, i) = &syn[1];
    let one = subset(&data.join("val"), &[(id, id)], &tmp.path().join("one"));
    let (_, rows) = evaluate(&weights, &one, &[]);
    let row = rows.values().next().unwrap();
    assert_eq!(row[0], i.to_string(), "ImageNet's index");
    assert_eq!(&row[1], id);
}

#[test]
fn weights_record_the_preprocessing_that_predict_evaluate_and_profile_use() {
    let m = metadata(&best());
    assert_eq!(m["dpn.eval.image_size"], "32");
    assert_eq!(m["dpn.eval.crop_pct"], "1");
    assert_eq!(m["dpn.eval.interpolation"], "bicubic");
    assert_eq!(m["dpn.eval.mean"], "[0.485,0.456,0.406]");
    assert_eq!(m["dpn.eval.std"], "[0.229,0.224,0.225]");

    // The demo's commands with and without the flags.
    let val = digits().join("val");
    let flags = ["--img-size", "32", "--crop-pct", "1"];
    let (plain, plain_rows) = evaluate(&best(), &val, &[]);
    let (flagged, flagged_rows) = evaluate(&best(), &val, &flags);
    for key in [
        "images",
        "top1",
        "top5",
        "loss",
        "img_size",
        "crop_pct",
        "interpolation",
    ] {
        assert_eq!(plain[key], flagged[key], "{key}");
    }
    for key in ["correct1", "correct5", "loss_units", "per_class"] {
        assert_eq!(plain["counts"][key], flagged["counts"][key], "{key}");
    }
    assert_eq!(plain["img_size"], 32);
    assert_eq!(plain_rows, flagged_rows);
    let images: Vec<PathBuf> = ["zero", "one", "two"]
        .iter()
        .map(|c| {
            std::fs::read_dir(val.join(c))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
        })
        .collect();
    assert_eq!(
        predict(&best(), &images, &[]),
        predict(&best(), &images, &flags)
    );

    // -v says where the preprocessing came from; a flag overrides.
    let o = ok(dpn()
        .args(["-v", "predict", "--device", "cpu", "--weights"])
        .arg(best())
        .arg(&images[0]));
    assert!(
        stderr(&o).contains("32 px, crop 1, bicubic"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("(recorded in the weights)"),
        "{}",
        stderr(&o)
    );
    let o = ok(dpn()
        .args([
            "-v",
            "predict",
            "--device",
            "cpu",
            "--img-size",
            "48",
            "--weights",
        ])
        .arg(best())
        .arg(&images[0]));
    assert!(
        stderr(&o).contains("48 px, crop 1, bicubic, mean [0.485, 0.456, 0.406]")
            && stderr(&o).contains("overridden by --img-size"),
        "{}",
        stderr(&o)
    );
    let (big, _) = evaluate(&best(), &val, &["--img-size", "48"]);
    assert_eq!(big["img_size"], 48);
    assert_ne!(big["loss"], plain["loss"]);

    // profile times at the recorded size.
    let o = ok(dpn()
        .args([
            "profile",
            "dpn48b",
            "--iters",
            "0",
            "--format",
            "json",
            "--weights",
        ])
        .arg(best()));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["img_size"], 32, "{v}");
}

/// timm's predictions for `images` with `folder` loaded as a hub model.
fn timm_predictions(folder: &Path, images: &[PathBuf]) -> Value {
    let out = tempdir("class-names-timm-");
    let json = out.path().join("timm.json");
    let o = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/hub_folder_reference.py"))
        .arg(folder)
        .arg(&json)
        .args(images)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

/// dpn's top-3 for `images` equal timm's: same classes, probabilities
/// within 1e-5.
fn assert_same_predictions(
    weights: &Path,
    images: &[PathBuf],
    timm: &Value,
    env: &[(&str, &Path)],
) {
    let mut c = dpn();
    for (k, v) in env {
        c.env(k, v);
    }
    let o = ok(c
        .args([
            "predict",
            "--device",
            "cpu",
            "--format",
            "jsonl",
            "-k",
            "3",
            "--weights",
        ])
        .arg(weights)
        .args(images));
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), images.len());
    let labels = timm["label_names"].as_array().unwrap();
    for line in &lines {
        let path = line["path"].as_str().unwrap();
        let probs: Vec<f64> = timm["images"][path]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let argmax = (0..probs.len())
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .unwrap();
        let top = line["top"].as_array().unwrap();
        assert_eq!(top[0]["class_index"], argmax, "{path}: top-1");
        assert_eq!(top[0]["class_name"], labels[argmax], "{path}: class name");
        for t in top {
            let i = t["class_index"].as_u64().unwrap() as usize;
            let d = (t["probability"].as_f64().unwrap() - probs[i]).abs();
            assert!(d < 1e-5, "{path}: class {i}: probability differs by {d}");
        }
    }
}

#[test]
fn timm_loads_a_checkpoint_folder_through_its_config() {
    let folder = trained().join("best");
    let config: Value =
        serde_json::from_slice(&std::fs::read(folder.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architecture"], "dpn48b");
    assert_eq!(config["num_classes"], 3);
    assert_eq!(
        config["label_names"],
        serde_json::json!(["one", "two", "zero"])
    );
    assert_eq!(
        config["pretrained_cfg"]["input_size"],
        serde_json::json!([3, 32, 32])
    );
    assert!(config.get("model_args").is_none());

    let val = digits().join("val");
    let images: Vec<PathBuf> = ["zero", "one", "two"]
        .iter()
        .flat_map(|c| {
            let mut f: Vec<PathBuf> = std::fs::read_dir(val.join(c))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            f.sort();
            f.into_iter().take(2)
        })
        .collect();
    let timm = timm_predictions(&folder, &images);
    assert_eq!(timm["architecture"], "dpn48b");
    assert_eq!(timm["num_classes"], 3);
    assert_eq!(
        timm["data_config"]["input_size"],
        serde_json::json!([3, 32, 32])
    );
    assert_eq!(timm["data_config"]["crop_pct"], 1.0);
    assert_same_predictions(&folder.join("model.safetensors"), &images, &timm, &[]);
}

/// A DPN that timm does not know by name, from a user's model index.
const CUSTOM_INDEX: &str = "\
Models:
- Name: dpn20-test
  Metadata:
    Crop Pct: '0.875'
    Image Size: '40'
    Interpolation: bilinear
  DPN:
    Architecture:
      Small: true
      Init Features: 8
      K R: 32
      Groups: 8
      B: true
      K Sec: [1, 1, 1, 1]
      Inc Sec: [8, 8, 16, 16]
      Activation: silu
    Normalization: imagenet
";

#[test]
fn timm_loads_a_custom_architecture_through_model_args() {
    let tmp = tempdir("class-names-custom-");
    let index = tmp.path().join("index.yaml");
    std::fs::write(&index, CUSTOM_INDEX).unwrap();
    let out = tmp.path().join("run");
    let d = digits();
    ok(dpn()
        .env("DPN_MODEL_INDEX", &index)
        .arg("train")
        .arg("--data")
        .arg(d.join("train"))
        .arg("--val-data")
        .arg(d.join("val"))
        .args([
            "-m",
            "dpn20-test",
            "--epochs",
            "1",
            "--batch-size",
            "32",
            "--workers",
            "1",
        ])
        .arg("--output")
        .arg(&out));
    let folder = out.join("last");
    let config: Value =
        serde_json::from_slice(&std::fs::read(folder.join("config.json")).unwrap()).unwrap();
    assert_eq!(
        config["model_args"]["k_sec"],
        serde_json::json!([1, 1, 1, 1])
    );
    assert_eq!(config["pretrained_cfg"]["interpolation"], "bilinear");
    let images: Vec<PathBuf> = ["zero", "two"]
        .iter()
        .map(|c| {
            std::fs::read_dir(d.join("val").join(c))
                .unwrap()
                .next()
                .unwrap()
                .unwrap()
                .path()
        })
        .collect();
    let timm = timm_predictions(&folder, &images);
    assert_eq!(
        timm["data_config"]["input_size"],
        serde_json::json!([3, 40, 40])
    );
    assert_eq!(timm["data_config"]["interpolation"], "bilinear");
    assert_same_predictions(
        &folder.join("model.safetensors"),
        &images,
        &timm,
        &[("DPN_MODEL_INDEX", &index)],
    );
}
