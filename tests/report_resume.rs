//! Run reports of real `dpn train` runs in headless Chromium (network off):
//! a run killed during a checkpoint write and resumed shows where it was
//! resumed and what was done again (segments.csv), a run with `--model-ema`
//! shows the EMA's validation, and the two side by side mark the settings
//! that differ. The figures on the pages equal metrics.csv and segments.csv.
//!
//! The kill uses the checkpoint pause hook, so the file needs the
//! `test-hooks` feature (`make test` enables it).
#![cfg(feature = "test-hooks")]

mod common;
mod report_browser;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env(
            "DPN_CACHE_DIR",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("train-cache"),
        )
        .env_remove(dpn::train::checkpoint::TEST_PAUSE_ENV);
    c
}

/// A smaller digits set: 3 training images per class (30, 3 updates of 10
/// an epoch), the whole validation set; made under `root`.
fn small_digits(root: &Path) -> std::path::PathBuf {
    let src = common::digits();
    let dst = root.join("digits");
    for class in std::fs::read_dir(src.join("train")).unwrap() {
        let class = class.unwrap().path();
        let to = dst.join("train").join(class.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&class)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files.iter().take(3) {
            std::fs::copy(f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    dst
}

/// `dpn train` of dpn48b at 32 px on [`small_digits`] for `epochs` epochs into `out`.
fn train(data: &Path, out: &Path, epochs: u32) -> Command {
    let mut c = dpn();
    c.arg("train")
        .arg("--data")
        .arg(data.join("train"))
        .arg("--val-data")
        .arg(common::digits().join("val"))
        .args(["-m", "dpn48b", "--img-size", "32", "--batch-size", "10"])
        .args(["--warmup-epochs", "1", "--workers", "1", "--seed", "7"])
        .args(["--epochs", &epochs.to_string()])
        .arg("--output")
        .arg(out);
    c
}

fn ok(o: &std::process::Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// metrics.csv's last row, by column name.
fn last_metrics(dir: &Path) -> std::collections::HashMap<String, f64> {
    let mut r = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
    let header = r.headers().unwrap().clone();
    let last = r.records().last().unwrap().unwrap();
    header
        .iter()
        .zip(last.iter())
        .filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?)))
        .collect()
}

/// The last epoch's cells of run `i` on the page against metrics.csv.
fn check_last_epoch(dom: &str, i: usize, dir: &Path, ema: bool) {
    let m = last_metrics(dir);
    let cell = |k: &str| report_browser::cell(dom, &i.to_string(), k);
    assert_eq!(cell("last-train-loss"), format!("{:.4}", m["train_loss"]));
    assert_eq!(cell("last-val-loss"), format!("{:.4}", m["val_loss"]));
    assert_eq!(cell("last-top1"), format!("{:.2}%", m["top1"]));
    assert_eq!(cell("last-top5"), format!("{:.2}%", m["top5"]));
    if ema {
        assert_eq!(
            cell("last-ema-val-loss"),
            format!("{:.4}", m["ema_val_loss"])
        );
        assert_eq!(cell("last-ema-top1"), format!("{:.2}%", m["ema_top1"]));
        assert_eq!(cell("last-ema-top5"), format!("{:.2}%", m["ema_top5"]));
    }
}

fn render_clean(page: &Path, shot: &Path) -> String {
    let r = report_browser::render(page, shot);
    assert!(
        r.problems.is_empty(),
        "the browser reported: {:#?}",
        r.problems
    );
    report_browser::assert_no_script(&r.dom);
    r.dom
}

fn report(runs: &[&Path], out: &Path) {
    let mut c = dpn();
    c.arg("report").args(runs).arg("-o").arg(out);
    ok(&c.output().unwrap());
}

/// The text of the cell `data-k="{key}"` in the segments row of run `run`, segment `seg`.
fn segment_cell(dom: &str, run: usize, seg: usize, key: &str) -> String {
    let at = dom
        .find(&format!("data-run=\"{run}\" data-segment=\"{seg}\""))
        .unwrap_or_else(|| panic!("no segment {seg} of run {run} on the page"));
    let rest = &dom[at..];
    let k = rest.find(&format!("data-k=\"{key}\">")).unwrap();
    let text = &rest[k + key.len() + 10..];
    text[..text.find('<').unwrap()].to_string()
}

#[test]
fn resumed_ema_and_compared_runs_render_with_their_figures() {
    let root = common::shared_tempdir("report-resume-").keep();
    let shots = root.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let (a, b) = (root.join("interrupted"), root.join("ema"));

    // Run B (other settings, an EMA) trains meanwhile.
    let data = small_digits(&root);
    let mut ema = train(&data, &b, 2);
    ema.args(["--lr", "0.05", "--model-ema", "--model-ema-decay", "0.9"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let ema = ema.spawn().unwrap();

    // Run A: killed while writing its second checkpoint (epoch 2's updates
    // logged, `last` still epoch 1's), then resumed.
    let marker = root.join("paused");
    let mut c = train(&data, &a, 2);
    c.env(dpn::train::checkpoint::TEST_PAUSE_ENV, &marker)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    let t0 = Instant::now();
    while !marker.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("dpn train ended ({status}) before its second checkpoint");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(300),
            "no second checkpoint"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let mut resume = dpn();
    resume.arg("train").arg("--resume").arg(&a);
    ok(&resume.output().unwrap());

    // segments.csv: the first process from update 0, the second from the
    // checkpoint of epoch 1 (update 3) after the first had logged 6.
    let seg = std::fs::read_to_string(a.join("segments.csv")).unwrap();
    let rows: Vec<Vec<&str>> = seg
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{seg}");
    assert_eq!(rows[0][1..], ["0", "0", "0", "0"], "{seg}");
    assert_eq!(rows[1][1..], ["3", "1", "0", "6"], "{seg}");

    // `dpn train` rewrote report.html at the resumed run's epoch end.
    let dom = render_clean(&a.join("report.html"), &shots.join("resumed.png"));
    check_last_epoch(&dom, 0, &a, false);
    assert_eq!(report_browser::cell(&dom, "0", "epochs"), "2");
    assert_eq!(report_browser::cell(&dom, "0", "segments"), "2");
    assert!(
        dom.contains(
            "resumed at update 3 (start of epoch 2); 3 updates past its last checkpoint done again"
        ),
        "the resume is not noted"
    );
    assert_eq!(segment_cell(&dom, 0, 0, "started"), rows[0][0]);
    assert_eq!(segment_cell(&dom, 0, 1, "started"), rows[1][0]);
    assert_eq!(segment_cell(&dom, 0, 0, "to"), "3");
    assert_eq!(
        segment_cell(&dom, 0, 1, "from"),
        "update 3 (start of epoch 2)"
    );
    assert_eq!(segment_cell(&dom, 0, 1, "to"), "6");
    assert_eq!(segment_cell(&dom, 0, 1, "redone"), "3");
    // The resume is marked on the charts (dashed line, listed under the numbers).
    assert!(
        dom.contains("Marked: resumed at update 3"),
        "no resume marker on the per-update charts"
    );
    assert!(
        dom.contains("Marked: resumed at epoch 1.5"),
        "no resume marker on the per-epoch charts"
    );

    // Run B: the EMA's validation on the page and in the charts.
    let o = ema.wait_with_output().unwrap();
    ok(&o);
    let dom = render_clean(&b.join("report.html"), &shots.join("ema.png"));
    check_last_epoch(&dom, 0, &b, true);
    assert_eq!(report_browser::cell(&dom, "0", "segments"), "1");
    assert_eq!(report_browser::cell(&dom, "0", "notes"), "continuous");
    for series in ["ema EMA top-1", "ema EMA top-5", "ema EMA val"] {
        assert!(
            dom.contains(&format!("<td>{series}</td>")),
            "no {series} series"
        );
    }

    // Side by side: the settings that differ are marked, the equal ones not.
    let both = root.join("both.html");
    report(&[&a, &b], &both);
    let dom = render_clean(&both, &shots.join("both.png"));
    check_last_epoch(&dom, 0, &a, false);
    check_last_epoch(&dom, 1, &b, true);
    assert!(
        dom.contains("<tr class=\"differs\"><th>model_ema</th><td><mark>false</mark></td><td><mark>true</mark></td></tr>"),
        "model_ema is not marked as differing"
    );
    assert!(
        dom.contains("<tr class=\"differs\"><th>lr</th>"),
        "lr is not marked as differing"
    );
    assert!(
        dom.contains("<tr><th>model</th><td>\"dpn48b\"</td><td>\"dpn48b\"</td></tr>"),
        "model is marked though equal"
    );
    assert!(
        dom.contains("Marked: interrupted resumed at update 3"),
        "the resume of one of two runs is not marked"
    );
    eprintln!("screenshots kept in {}", shots.display());
}
