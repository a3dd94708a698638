//! `dpn report RUN...` in a real browser (headless Chromium, network off):
//! no console errors or failed loads, a screenshot that is not blank, the
//! last epoch's figures on the page equal to metrics.csv, settings that
//! differ between runs marked, and a hostile run folder name shown as text.

mod common;
mod report_browser;

use std::fs;
use std::path::Path;
use std::process::Command;

use dpn::train::checkpoint::EpochMetrics;
use dpn::train::logs::{write_metrics, STEPS_HEADER};

/// A run folder in the files `dpn train` writes (metrics.csv through
/// `train::logs`), `epochs` epochs of `per_epoch` updates.
fn fake_run(dir: &Path, epochs: &[u64], lr: f64, per_epoch: u64) {
    fs::create_dir_all(dir).unwrap();
    let history: Vec<EpochMetrics> = epochs
        .iter()
        .map(|&e| {
            let t = e as f64;
            EpochMetrics {
                epoch: e,
                lr: lr * (1.0 - t / 20.0),
                train_loss: 2.3 / (1.0 + 0.37 * t),
                val_loss: Some(2.1 / (1.0 + 0.41 * t)),
                top1: Some(10.0 + 79.123 * (1.0 - (-0.3 * t).exp())),
                top5: Some(50.0 + 49.5 * (1.0 - (-0.5 * t).exp())),
                images_per_s: 120.0 + 3.0 * t,
                seconds: 10.0,
                skipped: 0,
                ema_val_loss: None,
                ema_top1: None,
                ema_top5: None,
            }
        })
        .collect();
    write_metrics(dir, &history).unwrap();
    let mut steps = format!("{STEPS_HEADER}\n");
    for &e in epochs {
        for s in 0..per_epoch {
            let u = (e - 1) * per_epoch + s;
            steps.push_str(&format!(
                "{u},{},{s},{},{},64\n",
                e - 1,
                lr * (1.0 - u as f64 / 400.0),
                2.3 - 0.004 * u as f64
            ));
        }
    }
    fs::write(dir.join("steps.csv"), steps).unwrap();
    let run = serde_json::json!({"model": "dpn48b", "epochs": 12, "lr": lr, "batch_size": 64, "sched": "cosine"});
    fs::write(
        dir.join("run.json"),
        serde_json::to_vec_pretty(&run).unwrap(),
    )
    .unwrap();
}

fn dpn(args: &[&std::ffi::OsStr]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(args)
        .output()
        .unwrap()
}

fn last_row(dir: &Path) -> csv::StringRecord {
    let mut r = csv::Reader::from_path(dir.join("metrics.csv")).unwrap();
    r.records().last().unwrap().unwrap()
}

/// The page's last-epoch cells of run `i` against metrics.csv.
fn check_last_epoch(dom: &str, i: usize, dir: &Path) {
    let last = last_row(dir);
    let f = |col: usize| last[col].parse::<f64>().unwrap();
    assert_eq!(
        report_browser::cell(dom, &i.to_string(), "last-train-loss"),
        format!("{:.4}", f(2))
    );
    assert_eq!(
        report_browser::cell(dom, &i.to_string(), "last-val-loss"),
        format!("{:.4}", f(3))
    );
    assert_eq!(
        report_browser::cell(dom, &i.to_string(), "last-top1"),
        format!("{:.2}%", f(4))
    );
    assert_eq!(
        report_browser::cell(dom, &i.to_string(), "last-top5"),
        format!("{:.2}%", f(5))
    );
}

#[test]
fn run_reports_render_offline_with_the_csv_figures() {
    // Kept after the test (screenshots are its artifacts); the next run clears it.
    let root = common::shared_tempdir("report-run-").keep();
    let artifacts = root.join("screenshots");
    fs::create_dir_all(&artifacts).unwrap();

    // One run: default output RUN/report.html.
    let a = root.join("run-a");
    fake_run(&a, &(1..=12).collect::<Vec<_>>(), 0.05, 20);
    let out = dpn(&["report".as_ref(), a.as_os_str()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = a.join("report.html");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        page.display().to_string()
    );
    let r = report_browser::render(&page, &artifacts.join("run.png"));
    assert!(
        r.problems.is_empty(),
        "the browser reported: {:#?}",
        r.problems
    );
    report_browser::assert_no_script(&r.dom);
    check_last_epoch(&r.dom, 0, &a);
    assert_eq!(report_browser::cell(&r.dom, "0", "epochs"), "12");
    assert_eq!(report_browser::cell(&r.dom, "0", "best-epoch"), "12");
    for title in [
        "Loss per epoch",
        "Validation accuracy per epoch",
        "Learning rate per update",
        "Training throughput per epoch",
    ] {
        assert!(
            r.dom.contains(&format!("<figcaption>{title}</figcaption>")),
            "no chart {title}"
        );
    }
    assert!(
        r.dom.contains("<details>"),
        "the charts' numbers are not on the page"
    );

    // Two runs with different settings, one of them with a hostile name and
    // a gap (epochs 5 and 6 missing from its metrics).
    let b = root.join("<img src=x onerror=alert(1)> \"quoted\"");
    let mut epochs: Vec<u64> = (1..=4).collect();
    epochs.extend(7..=9);
    fake_run(&b, &epochs, 0.1, 20);
    let both = root.join("both.html");
    let out = dpn(&[
        "report".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "-o".as_ref(),
        both.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report_browser::render(&both, &artifacts.join("runs.png"));
    assert!(
        r.problems.is_empty(),
        "the browser reported: {:#?}",
        r.problems
    );
    report_browser::assert_no_script(&r.dom);
    check_last_epoch(&r.dom, 0, &a);
    check_last_epoch(&r.dom, 1, &b);
    assert!(
        r.dom
            .contains("&lt;img src=x onerror=alert(1)&gt; \"quoted\""),
        "the hostile name is not shown as text"
    );
    assert!(r.dom.contains("<tr class=\"differs\"><th>lr</th><td><mark>0.05</mark></td><td><mark>0.1</mark></td></tr>"), "lr is not marked as differing");
    assert!(
        r.dom
            .contains("<tr><th>model</th><td>\"dpn48b\"</td><td>\"dpn48b\"</td></tr>"),
        "model is marked though equal"
    );
    assert!(
        r.dom.contains("epochs jump from 4 to 7"),
        "the gap is not shown"
    );
    assert!(
        r.dom.contains("updates jump from 79 to 120"),
        "the gap in updates is not shown"
    );
    eprintln!("screenshots kept in {}", artifacts.display());
}

#[test]
fn report_refuses_a_folder_that_is_not_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = dpn(&["report".as_ref(), tmp.path().as_os_str()]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a dpn train run folder"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// `dpn train` keeps report.html in its run folder current: after a short
/// run it holds the last epoch of metrics.csv, and renders cleanly.
#[test]
fn train_keeps_its_report_current() {
    let root = common::shared_tempdir("report-train-").keep();
    let run = root.join("run");
    let out = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .args(common::digits_train_args(&run, 1, "32"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = run.join("report.html");
    assert!(page.is_file(), "dpn train wrote no report.html");
    let r = report_browser::render(&page, &root.join("train.png"));
    assert!(
        r.problems.is_empty(),
        "the browser reported: {:#?}",
        r.problems
    );
    report_browser::assert_no_script(&r.dom);
    check_last_epoch(&r.dom, 0, &run);
    assert_eq!(report_browser::cell(&r.dom, "0", "epochs"), "1");
}
