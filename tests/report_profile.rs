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

/// The charts' legends as a reader sees them: Chromium lays out histograms
/// (bars reaching as high as they can, under one to three markers) and
/// grouped bar charts, and a script on the test page (the reports
/// themselves carry none) measures each drawn box. No bar may come within
/// 6 px of a legend, each legend's text must stay inside its box, and a count axis
/// must not repeat a label (0, 1, 1, 2 from rounded half steps).
#[test]
fn chart_legends_stay_off_the_bars_and_count_axes_do_not_repeat() {
    use dpn::report::bars::{bar_chart, histogram, BarChart, BarSeries, Histogram};
    use dpn::report::chart::num;
    let mut figures = String::new();
    let markers = ["median 6.791 ms", "p90 7.057 ms", "p99 7.115 ms"];
    for tallest in 1..=12usize {
        for m in 1..=3 {
            // Everything in the last bin (under the legend), one sample elsewhere.
            let mut samples = vec![1.0];
            samples.extend(std::iter::repeat_n(9.0, tallest));
            let h = histogram(&Histogram {
                title: "Latency",
                x_label: "ms",
                y_label: "batches",
                samples: &samples,
                bins: 8,
                markers: markers[..m]
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (5.0 + i as f64, l.to_string()))
                    .collect(),
            });
            figures.push_str(&h.into_string());
        }
    }
    for k in 2..=3usize {
        let b = bar_chart(&BarChart {
            title: "MACs",
            x_label: "model",
            y_label: "multiply-adds",
            categories: vec!["a".into(), "b".into()],
            series: (0..k)
                .map(|j| BarSeries {
                    name: format!("FLOPs (published) {j}"),
                    values: vec![Some(1e9), Some(3e9 + j as f64 * 1e8)],
                })
                .collect(),
            fmt: num,
        });
        figures.push_str(&b.into_string());
    }
    let script = r#"
addEventListener('load', () => {
  const out = [];
  document.querySelectorAll('svg').forEach((svg, i) => {
    const rects = [...svg.querySelectorAll('rect')];
    const box = rects.find(r => r.getAttribute('stroke') === '#000000' && r.getAttribute('fill') === 'none');
    if (!box) { out.push(`chart ${i}: no legend box`); return; }
    const lb = box.getBoundingClientRect();
    const bars = rects.filter(r => r.getAttribute('opacity') !== '0.8' && r.getAttribute('fill') !== 'none'
      && r.getAttribute('fill') !== '#FFFFFF' && Number(r.getAttribute('width')) > 20);
    if (bars.length === 0) out.push(`chart ${i}: no bars found`);
    for (const r of bars) {
      const b = r.getBoundingClientRect();
      // 6 px of air: a bar that touches the box reads as part of it.
      if (b.left < lb.right && b.right > lb.left && b.top < lb.bottom + 6 && b.bottom > lb.top)
        out.push(`chart ${i}: a bar (top ${b.top - lb.bottom} px below the legend) touches the legend`);
    }
    for (const t of svg.querySelectorAll('text')) {
      const b = t.getBoundingClientRect();
      const inside = b.left >= lb.left - 1 && b.top >= lb.top - 1 && b.right <= lb.right + 1 && b.bottom <= lb.bottom + 1;
      const touches = b.left < lb.right && b.right > lb.left && b.top < lb.bottom && b.bottom > lb.top;
      if (touches && !inside) out.push(`chart ${i}: legend text '${t.textContent.trim()}' spills out of its box`);
    }
    if (svg.closest('figure').querySelector('figcaption').textContent.startsWith('Latency')) {
      const ys = [...svg.querySelectorAll('text[text-anchor="end"]')].map(t => t.textContent.trim());
      if (new Set(ys).size !== ys.length) out.push(`chart ${i}: repeated y labels ${ys.join(',')}`);
    }
  });
  const pre = document.createElement('pre');
  pre.id = 'verdict';
  pre.textContent = JSON.stringify({charts: document.querySelectorAll('svg').length, problems: out});
  document.body.appendChild(pre);
});
"#;
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("legends.html");
    std::fs::write(
        &page,
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><script>{script}</script></head><body>{figures}</body></html>"),
    )
    .unwrap();
    let shot = dir.path().join("legends.png");
    let r = report_browser::render(&page, &shot);
    let at = r
        .dom
        .find("<pre id=\"verdict\">")
        .expect("the page's script ran");
    let text = &r.dom[at + 18..];
    let verdict: Value =
        serde_json::from_str(&text[..text.find('<').unwrap()].replace("&quot;", "\"")).unwrap();
    assert_eq!(verdict["charts"], 12 * 3 + 2, "{verdict}");
    let problems = verdict["problems"].as_array().unwrap();
    assert!(
        problems.is_empty(),
        "{}",
        serde_json::to_string_pretty(problems).unwrap()
    );
}
