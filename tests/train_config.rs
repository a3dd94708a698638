//! `dpn train --config`: timm's documented recipes as args.yaml files (a DPN
//! as the model, no drop-path) run on digits; the args.yaml each run writes
//! holds train.py's keys with the recipe's values and train.py's defaults,
//! read back by PyYAML (tests/py/timm_args_check.py) and by `--config`
//! itself (the same settings again); keys dpn cannot honour are refused by
//! name before anything is written.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod common;
use common::{digits, python};

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env_remove("DPN_MODEL_INDEX").arg("--quiet");
    c
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The recipe `name` with `data_dir` pointing at digits (train/ and val/:
/// timm's default splits "train" and "validation" find them).
fn recipe(dir: &Path, name: &str) -> PathBuf {
    let text =
        std::fs::read_to_string(root().join("tests/fixtures/timm_recipes").join(name)).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{text}data_dir: {}\n", digits().display())).unwrap();
    path
}

/// What the test's command line replaces to keep a run short on the CPU.
const OVERRIDES: &[&str] = &[
    "--epochs",
    "1",
    "--img-size",
    "32",
    "--batch-size",
    "16",
    "--workers",
    "1",
    "--amp",
    "f32",
];
const OVERRIDDEN: &str = "epochs,img_size,batch_size,workers,amp";

fn run_config(config: &Path, out: &Path) -> Output {
    let o = dpn()
        .arg("train")
        .arg("--config")
        .arg(config)
        .args(OVERRIDES)
        .arg("--output")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    o
}

fn check_with_pyyaml(written: &Path, recipe: &Path) {
    let o = Command::new(python())
        .arg(root().join("tests/py/timm_args_check.py"))
        .arg(written)
        .arg(recipe)
        .arg(root().join("src/train/timm_train_args.yaml"))
        .arg(OVERRIDDEN)
        .output()
        .unwrap();
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "ok",
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(&o)
    );
}

fn run_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("run.json")).unwrap()).unwrap()
}

#[test]
fn timm_recipes_run_and_write_timm_args() {
    let tmp = tempfile::tempdir().unwrap();
    for name in [
        "efficientnet_b2_ra.yaml",
        "resnext50_ra.yaml",
        "seresnext26_cosine.yaml",
    ] {
        let config = recipe(tmp.path(), name);
        let out = tmp.path().join(name.trim_end_matches(".yaml"));
        run_config(&config, &out);
        let written = out.join("args.yaml");
        check_with_pyyaml(&written, &config);
        let cfg = run_json(&out);
        // The command line won over the file.
        assert_eq!(cfg["epochs"], 1, "{name}");
        assert_eq!(cfg["batch_size"], 16, "{name}");
        // timm's meaning: a recipe without --opt trains with timm's sgd (Nesterov).
        if name.starts_with("seresnext") {
            assert_eq!(cfg["opt"], "sgd");
            assert_eq!(cfg["nesterov"], true);
            assert_eq!(cfg["warmup_lr"], 1e-5);
        } else if name.starts_with("efficientnet") {
            assert_eq!(cfg["opt"], "rmsproptf");
            assert_eq!(cfg["decay_epochs"], 2.4);
            assert_eq!(cfg["model_ema"], true);
            assert_eq!(cfg["drop"], 0.3);
        }
        // The data came from data_dir and timm's split names.
        assert!(cfg["data"].as_str().unwrap().ends_with("/train"), "{cfg}");
        assert!(cfg["val_data"].as_str().unwrap().ends_with("/val"), "{cfg}");
        if name.starts_with("efficientnet") {
            // Its own args.yaml, given back, is the same run.
            let again = tmp.path().join("again");
            let o = dpn()
                .arg("train")
                .arg("--config")
                .arg(&written)
                .args(["--output"])
                .arg(&again)
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
            let (mut a, mut b) = (cfg.clone(), run_json(&again));
            // The device: `auto` in the first run, its resolution in args.yaml.
            a["device"] = serde_json::Value::Null;
            b["device"] = serde_json::Value::Null;
            assert_eq!(a, b, "the written args.yaml runs the same settings");
        }
    }
}

#[test]
fn keys_dpn_cannot_honour_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("args.yaml");
    std::fs::write(
        &config,
        "model: dpn48b\ndrop_path: 0.2\nsplit_bn: true\nno_such_key: 1\nlog_interval: 10\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let o = dpn()
        .args(["train", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(digits().join("train"))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    for key in ["drop_path: 0.2", "split_bn: true", "no_such_key"] {
        assert!(err.contains(key), "{key} not named: {err}");
    }
    assert!(!err.contains("log_interval"), "{err}");
    assert!(!out.exists(), "nothing is written");

    // A value clap refuses is named by its timm key.
    std::fs::write(&config, "model: dpn48b\nsched: sometimes\n").unwrap();
    let o = dpn()
        .args(["train", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains(": sched: "), "{}", stderr(&o));

    // A missing or malformed file is bad input (exit 3), named.
    let o = dpn()
        .args(["train", "--config"])
        .arg(tmp.path().join("nope.yaml"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("nope.yaml"), "{}", stderr(&o));
    std::fs::write(&config, "model: [unclosed\n").unwrap();
    let o = dpn()
        .args(["train", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));

    // Without a model anywhere: a usage error, not a panic.
    std::fs::write(&config, "opt: adamw\n").unwrap();
    let o = dpn()
        .args(["train", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(digits().join("train"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("--model"), "{}", stderr(&o));
}
