//! `dpn info`, the registry and the global CLI behaviour, run as a user would.

use std::path::Path;
use std::process::{Command, Output};

fn dpn(args: &[&str]) -> Output {
    dpn_env(args, &[])
}

fn dpn_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dpn"));
    cmd.args(args)
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("NO_COLOR");
    // Never read or write the user's real cache from tests.
    cmd.env(
        "DPN_CACHE_DIR",
        std::env::temp_dir().join("dpn-test-empty-cache"),
    );
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dpn")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// One clear line on stderr, no panic or backtrace, nothing on stdout.
fn assert_one_line_error(o: &Output, code: i32, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(o.stdout.is_empty(), "stdout should be empty: {}", stdout(o));
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("dpn: error: "), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "`{n}` missing from: {err}");
    }
}

// The seed's figures (shared/seeds/dpn-model-index.md), which `dpn info` must
// reproduce unchanged: name, params, FLOPs, file size, top-1, top-5.
const SEED: [(&str, u64, u64, u64, f64, f64); 6] = [
    (
        "dpn107",
        86_920_000,
        23_524_280_296,
        348_612_331,
        80.16,
        94.91,
    ),
    (
        "dpn131",
        79_250_000,
        20_586_274_792,
        318_016_207,
        79.83,
        94.71,
    ),
    ("dpn68", 12_610_000, 2_990_567_880, 50_761_994, 76.31, 92.97),
    (
        "dpn68b",
        12_610_000,
        2_990_567_880,
        50_781_025,
        79.21,
        94.42,
    ),
    (
        "dpn92",
        37_670_000,
        8_357_659_624,
        151_248_422,
        79.99,
        94.84,
    ),
    (
        "dpn98",
        61_570_000,
        15_003_675_112,
        247_021_307,
        79.65,
        94.61,
    ),
];

// docs/conventions.md's exact parameter counts ("Architecture").
const EXACT_PARAMS: [(&str, u64); 7] = [
    ("dpn48b", 9_126_226),
    ("dpn68", 12_611_602),
    ("dpn68b", 12_611_602),
    ("dpn92", 37_668_392),
    ("dpn98", 61_570_728),
    ("dpn131", 79_254_504),
    ("dpn107", 86_917_800),
];

#[test]
fn csv_lists_seed_figures_and_dpn48b() {
    let o = dpn(&["info", "--all", "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut r = csv::Reader::from_reader(o.stdout.as_slice());
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name}"))
    };
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| &r[col("model")] == name)
            .unwrap_or_else(|| panic!("no row {name}"))
    };
    for (name, params, flops, size, top1, top5) in SEED {
        let r = row(name);
        assert_eq!(r[col("params")].parse::<u64>().unwrap(), params, "{name}");
        assert_eq!(r[col("flops")].parse::<u64>().unwrap(), flops, "{name}");
        assert_eq!(r[col("file_size")].parse::<u64>().unwrap(), size, "{name}");
        assert_eq!(r[col("top1")].parse::<f64>().unwrap(), top1, "{name}");
        assert_eq!(r[col("top5")].parse::<f64>().unwrap(), top5, "{name}");
        assert_eq!(&r[col("pretrained")], "true");
        assert_eq!(&r[col("cached")], "false");
    }
    let r = row("dpn48b");
    assert_eq!(&r[col("params")], "", "dpn48b has no published figures");
    assert_eq!(&r[col("pretrained")], "false");
    for (name, exact) in EXACT_PARAMS {
        assert_eq!(
            row(name)[col("params_exact")].parse::<u64>().unwrap(),
            exact,
            "{name}"
        );
    }
    assert_eq!(rows.len(), 7);
}

#[test]
fn json_and_yaml_parse() {
    let o = dpn(&["info", "--all", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(rows[0]["model"], "dpn107");
    assert_eq!(rows[0]["flops"], 23_524_280_296u64);
    assert_eq!(rows[0]["top1"], 80.16);

    let o = dpn(&["info", "dpn68b", "dpn92", "--format", "json"]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["name"], "dpn68b");
    assert_eq!(v[0]["architecture"]["b"], true);
    assert_eq!(v[0]["preprocessing"]["mean"][0], 0.485);
    assert_eq!(v[0]["preprocessing"]["crop_pct"], 0.95);
    assert_eq!(v[0]["weights"]["sha256_prefix"], "a31ca160");
    assert_eq!(v[0]["weights"]["hub_id"], "timm/dpn68b.ra_in1k");
    assert_eq!(v[1]["preprocessing"]["mean"][0], 124.0 / 255.0);
    assert_eq!(v[1]["preprocessing"]["std"][2], 1.0 / (0.0167 * 255.0));
    assert_eq!(v[1]["metadata"]["lr"], 0.316);
    assert_eq!(v[1]["results"][0]["top5"], 94.84);

    let o = dpn(&["info", "dpn107", "--format", "yaml"]);
    assert!(o.status.success());
    let y: serde_yaml::Value = serde_yaml::from_slice(&o.stdout).unwrap();
    assert_eq!(y[0]["params_exact"].as_u64(), Some(86_917_800));
}

#[test]
fn table_and_markdown_are_for_people() {
    let o = dpn(&["info"]);
    assert!(o.status.success());
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 8, "{out}");
    assert!(lines[0].starts_with("Model"));
    assert!(
        out.contains("86.92M")
            && out.contains("23.52G")
            && out.contains("332.5 MiB")
            && out.contains("80.16%")
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );

    let o = dpn(&["info", "--all", "--format", "markdown"]);
    let out = stdout(&o);
    assert!(out.lines().nth(1).unwrap().starts_with("|---|"), "{out}");
    assert_eq!(out.lines().count(), 9);

    let o = dpn(&["info", "dpn92", "--format", "table"]);
    let out = stdout(&o);
    assert!(
        out.contains("params_exact") && out.contains("37,668,392"),
        "{out}"
    );
    assert!(out.contains("dpn92_extra-b040e4a9b.pth"));
}

#[test]
fn detail_csv_has_one_row_per_model() {
    let o = dpn(&["info", "dpn68", "dpn48b", "--format", "csv"]);
    assert!(o.status.success());
    let mut r = csv::Reader::from_reader(o.stdout.as_slice());
    let headers = r.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("architecture.k_sec")], "3;4;12;3");
    assert_eq!(&rows[1][col("architecture.activation")], "silu");
    assert_eq!(&rows[1][col("weights.url")], "");
}

const CUSTOM: &str = "\
Models:
- Name: dpn-tiny
  Metadata:
    Crop Pct: '0.9'
    Image Size: '160'
    Interpolation: bilinear
  DPN:
    Architecture:
      Small: true
      Init Features: 10
      K R: 64
      Groups: 16
      B: true
      K Sec: [1, 2, 2, 1]
      Inc Sec: [8, 16, 16, 32]
      Activation: silu
      Num Classes: 10
    Normalization: imagenet
- Name: dpn92
  Metadata:
    Crop Pct: '1.0'
    Image Size: '288'
    Interpolation: bicubic
  DPN:
    Architecture: {Small: false, Init Features: 64, K R: 96, Groups: 32, B: false,
                   K Sec: [3, 4, 20, 3], Inc Sec: [16, 32, 24, 128], Activation: relu}
    Normalization: {Mean: [0.5, 0.5, 0.5], Std: [0.25, 0.25, 0.25]}
";

#[test]
fn custom_model_index_adds_and_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.yaml");
    std::fs::write(&path, CUSTOM).unwrap();
    let p = path.to_str().unwrap();
    for o in [
        dpn(&["--model-index", p, "info", "--all", "--format", "json"]),
        dpn_env(
            &["info", "--all", "--format", "json"],
            &[("DPN_MODEL_INDEX", p)],
        ),
    ] {
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let rows = v.as_array().unwrap();
        assert_eq!(rows.len(), 8);
        let tiny = rows.iter().find(|r| r["model"] == "dpn-tiny").unwrap();
        assert_eq!(tiny["img_size"], 160);
        assert_eq!(tiny["interpolation"], "bilinear");
        let dpn92 = rows.iter().find(|r| r["model"] == "dpn92").unwrap();
        assert_eq!(
            dpn92["img_size"], 288,
            "the user's entry replaces the built-in one"
        );
        assert_eq!(dpn92["params_exact"], 37_668_392);
        assert_eq!(dpn92["top1"], serde_json::Value::Null);
    }
    let o = dpn(&["--model-index", p, "info", "dpn-tiny", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["source"], p);
    assert_eq!(v[0]["architecture"]["num_classes"], 10);
    assert_eq!(v[0]["preprocessing"]["normalization"], "imagenet");
}

#[test]
fn unknown_model_suggests_the_closest() {
    let o = dpn(&["info", "dpn93"]);
    assert_one_line_error(
        &o,
        2,
        &["unknown model `dpn93`", "did you mean `dpn92`", "dpn48b"],
    );
    let o = dpn(&["info", "resnet50"]);
    assert_one_line_error(&o, 2, &["unknown model `resnet50`", "known models: dpn107"]);
}

#[test]
fn malformed_model_index_names_file_and_problem() {
    let dir = tempfile::tempdir().unwrap();
    let bad_yaml = dir.path().join("bad.yaml");
    std::fs::write(&bad_yaml, "Models:\n- Name: x\n  DPN: [unclosed\n").unwrap();
    let o = dpn(&["--model-index", bad_yaml.to_str().unwrap(), "info"]);
    assert_one_line_error(&o, 3, &["bad.yaml", "line"]);

    let missing_field = dir.path().join("missing.yaml");
    std::fs::write(&missing_field, CUSTOM.replace("      K R: 64\n", "")).unwrap();
    let o = dpn(&["--model-index", missing_field.to_str().unwrap(), "info"]);
    assert_one_line_error(&o, 3, &["missing.yaml", "K R"]);

    let no_dpn = dir.path().join("nodpn.yaml");
    std::fs::write(
        &no_dpn,
        "Models:\n- Name: foo\n  Metadata: {Crop Pct: '0.9'}\n",
    )
    .unwrap();
    let o = dpn(&["--model-index", no_dpn.to_str().unwrap(), "info"]);
    assert_one_line_error(
        &o,
        3,
        &["nodpn.yaml", "model `foo`", "missing required field `DPN`"],
    );

    let bad_groups = dir.path().join("groups.yaml");
    std::fs::write(&bad_groups, CUSTOM.replace("Groups: 16", "Groups: 7")).unwrap();
    let o = dpn(&["--model-index", bad_groups.to_str().unwrap(), "info"]);
    assert_one_line_error(
        &o,
        3,
        &["groups.yaml", "dpn-tiny", "Groups (7) must divide"],
    );

    let nope = dir.path().join("does-not-exist.yaml");
    let o = dpn(&["--model-index", nope.to_str().unwrap(), "info"]);
    assert_one_line_error(&o, 2, &["does-not-exist.yaml"]);
}

#[test]
fn usage_errors_exit_2() {
    let o = dpn(&["info", "--format", "xml"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("xml"));
    let o = dpn(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    let o = dpn(&["info", "dpn92", "--all"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn quiet_still_reports_errors() {
    let o = dpn(&["-q", "info", "nope"]);
    assert_one_line_error(&o, 2, &["unknown model `nope`"]);
    let o = dpn(&["-q", "info", "--all", "--format", "csv"]);
    assert!(o.status.success() && o.stderr.is_empty());
}

#[test]
fn color_follows_the_flag() {
    let o = dpn(&["--color", "always", "info", "nope"]);
    assert!(
        stderr(&o).contains("\x1b[1;31mdpn: error:"),
        "{}",
        stderr(&o)
    );
    let o = dpn_env(&["info", "nope"], &[("NO_COLOR", "1")]);
    assert!(!stderr(&o).contains('\x1b'));
}

#[test]
fn cached_weights_show_up() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("weights")).unwrap();
    std::fs::write(dir.path().join("weights/dpn68-66bebafa7.safetensors"), b"x").unwrap();
    let o = dpn_env(
        &["info", "--all", "--format", "json"],
        &[("DPN_CACHE_DIR", dir.path().to_str().unwrap())],
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cached: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["cached"] == true)
        .map(|r| r["model"].as_str().unwrap())
        .collect();
    assert_eq!(cached, ["dpn68"]);
}

#[test]
fn version_names_libtorch_and_cuda() {
    let o = dpn(&["--version"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(
        out.starts_with(&format!("dpn {}", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(out.contains("libtorch 2.11.0"), "{out}");
    assert!(out.contains("CUDA: "), "{out}");
    // scripts/setup.sh installs the headers, so the test build has NCCL.
    assert!(out.contains("distributed: Gloo, NCCL"), "{out}");
}

#[test]
fn version_into_a_closed_pipe_is_quiet() {
    // `dpn --version | head -0`: the reader is gone before dpn writes.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .arg("--version")
        .env_remove("RUST_BACKTRACE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "", "no panic, no message");
}

#[test]
fn runs_without_ld_library_path() {
    // The rpath written by build.rs is what finds libtorch.
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(["info", "--all", "--format", "csv"])
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Path::new(env!("CARGO_BIN_EXE_dpn")).exists());
}
