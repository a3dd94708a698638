//! `dpn profile --report` in a real browser (headless Chromium, network
//! off): no console errors or failed loads, a screenshot that is not blank,
//! and the figures on the page equal to what the same invocation prints
//! with `--format json` (and `--by-stage --format json` for the stages).

mod common;
mod report_browser;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn dpn(args: &[&str], extra: &[&Path]) -> Vec<Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .env("NO_COLOR", "1")
        .env(
            "DPN_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-profile-cache"),
        )
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The page's text of `data-k="{key}"` after the element `data-model="{i}"` of `table`.
/// (A table of one model carries `data-model` itself.)
fn cell(dom: &str, table: &str, i: usize, key: &str) -> String {
    let rest = match dom.find(&format!("<table class=\"{table}\" data-model=\"{i}\"")) {
        Some(t) => &dom[t..],
        None => {
            let t = dom
                .find(&format!("<table class=\"{table}\">"))
                .unwrap_or_else(|| panic!("no {table} table"));
            let rest = &dom[t..];
            let row = rest
                .find(&format!("data-model=\"{i}\""))
                .unwrap_or_else(|| panic!("no model {i} in the {table} table"));
            &rest[row..]
        }
    };
    let k = rest
        .find(&format!("data-k=\"{key}\">"))
        .unwrap_or_else(|| panic!("no {key} for model {i}"));
    let text = &rest[k + key.len() + 10..];
    text[..text.find('<').unwrap()].to_string()
}

/// A JSON value as the page writes it (integers with thousands separators,
/// other numbers to 3 decimals).
fn shown(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) if n.is_u64() => {
            let s = n.to_string();
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 {
                    out.push(',');
                }
                out.push(c);
            }
            out
        }
        Value::Number(n) => format!("{:.3}", n.as_f64().unwrap()),
        other => other.to_string(),
    }
}

#[test]
fn profile_report_renders_offline_with_the_json_figures() {
    let root = common::shared_tempdir("report-profile-").keep();
    let page = root.join("profile.html");
    let rows = dpn(
        &[
            "profile",
            "dpn48b",
            "dpn68",
            "--img-size",
            "32",
            "--iters",
            "12",
            "--warmup",
            "1",
            "--format",
            "json",
            "--report",
        ],
        &[&page],
    );
    assert_eq!(rows.len(), 2);
    let shot = root.join("profile.png");
    let r = report_browser::render(&page, &shot);
    assert!(
        r.problems.is_empty(),
        "the browser reported: {:#?}",
        r.problems
    );
    report_browser::assert_no_script(&r.dom);
    let dom = &r.dom;

    for (i, row) in rows.iter().enumerate() {
        let row = row.as_object().unwrap();
        for key in [
            "model",
            "img_size",
            "params",
            "buffers",
            "macs",
            "activations",
            "file_size",
            "device",
            "dtype",
            "batch_size",
            "latency_ms_median",
            "latency_ms_p90",
            "images_per_s",
            "peak_memory_bytes",
        ] {
            assert_eq!(cell(dom, "summary", i, key), shown(&row[key]), "{key}");
        }
        for key in ["seed_params", "seed_flops", "seed_file_size"] {
            assert_eq!(cell(dom, "published", i, key), shown(&row[key]), "{key}");
        }
        // The latency table's median and p90 are the JSON's, and it counts every timed batch.
        for key in ["latency_ms_median", "latency_ms_p90"] {
            assert_eq!(cell(dom, "latency", i, key), shown(&row[key]), "{key}");
        }
        assert_eq!(cell(dom, "latency", i, "n"), "12");
        let (min, max) = (
            cell(dom, "latency", i, "min").parse::<f64>().unwrap(),
            cell(dom, "latency", i, "max").parse::<f64>().unwrap(),
        );
        let median = row["latency_ms_median"].as_f64().unwrap();
        assert!(min <= median + 5e-4 && median <= max + 5e-4);
    }
    // dpn68 has published figures in the registry, dpn48b none.
    assert!(rows[1]["seed_params"].is_u64() && rows[0]["seed_params"].is_null());

    // Per stage: the figures of `--by-stage --format json`.
    let stages = dpn(
        &[
            "profile",
            "dpn48b",
            "dpn68",
            "--img-size",
            "32",
            "--by-stage",
            "--format",
            "json",
        ],
        &[],
    );
    let mut checked = 0;
    for s in &stages {
        let i = rows.iter().position(|r| r["model"] == s["model"]).unwrap();
        if s["stage"] == "total" {
            assert_eq!(s["macs"], rows[i]["macs"]);
            continue;
        }
        let t = dom
            .find(&format!("<table class=\"stages\" data-model=\"{i}\""))
            .unwrap();
        let rest = &dom[t..];
        let at = rest
            .find(&format!("data-stage=\"{}\"", s["stage"].as_str().unwrap()))
            .unwrap();
        let rest = &rest[at..];
        for key in ["conv_macs", "bn_macs", "pool_macs", "macs", "activations"] {
            let k = rest.find(&format!("data-k=\"{key}\">")).unwrap();
            let text = &rest[k + key.len() + 10..];
            assert_eq!(&text[..text.find('<').unwrap()], shown(&s[key]), "{key}");
        }
        checked += 1;
    }
    assert_eq!(checked, 12, "six stages of two models");

    // Every chart has its title, axis labels and numbers.
    for title in [
        "Parameters, counted and published",
        "MACs per stage, dpn48b 32 px",
        "Parameters per stage, dpn68 32 px",
        "Activations per stage, dpn48b 32 px",
        "Latency of 12 timed batches, dpn48b 32 px",
        "Memory, dpn68 32 px (batch 1)",
    ] {
        assert!(
            dom.contains(&format!("<figcaption>{title}</figcaption>")),
            "no chart {title}"
        );
        assert!(
            dom.contains(&format!("<summary>Numbers: {title}")),
            "no numbers for {title}"
        );
    }
    assert!(
        dom.contains("milliseconds per batch") && dom.contains("multiply-adds per image"),
        "axis labels missing"
    );
    eprintln!("screenshot kept in {}", shot.display());
}

/// A --report that cannot be written fails before any work, in one line (exit 2).
#[test]
fn profile_report_into_a_missing_folder_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let page = tmp.path().join("no/such/folder/p.html");
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(["profile", "dpn48b", "--img-size", "32", "--report"])
        .arg(&page)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--report") && err.contains("does not exist"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(o.stdout.is_empty());
}
