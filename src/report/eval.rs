//! The page of an evaluation (`dpn evaluate --report`): the figures beside
//! the published ones, per-class accuracy worst first, what the classes are
//! confused with (a heat map up to [`HEATMAP_MAX`] classes, else the most
//! confused pairs), the reliability diagram with the expected calibration
//! error (`metrics::calibration`), and the most confident mistakes with
//! their thumbnails. It reads a `metrics::Results` (what the results file
//! holds), so a page of merged shards is the same page.
//!
//! Sizes are bounded whatever the set: one row per class, at most
//! [`PAIRS_SHOWN`] pairs, at most `metrics::breakdown::MAX_ERRORS`
//! thumbnails of 96 px, charts whose element count does not grow with the
//! number of images.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

use super::calib;
use super::chart::{line_chart, num, LineChart, Series};
use super::page;
use crate::metrics::breakdown::{Breakdown, Mistake};
use crate::metrics::Results;

/// The most classes the confusion matrix is drawn for.
pub const HEATMAP_MAX: usize = 100;

/// How many confused pairs the table lists.
pub const PAIRS_SHOWN: usize = 50;

/// What the page shows.
pub struct EvalPage<'a> {
    pub results: &'a Results,
    /// The data's classes as `(synset, name)`, by index (the breakdown's,
    /// or the caller's when there is none).
    pub classes: &'a [(String, String)],
    /// A line saying what the result is made of (e.g. merged shards).
    pub note: Option<String>,
}

/// A class's name for the page: `name (synset)`, `name`, or `#index`.
fn class_name(classes: &[(String, String)], i: u64) -> String {
    match classes.get(i as usize) {
        Some((s, n)) if !s.is_empty() && s != n => format!("{n} ({s})"),
        Some((_, n)) => n.clone(),
        None => format!("#{i}"),
    }
}

fn pct(v: f64) -> String {
    format!("{v:.3}%")
}

fn opt_pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), pct)
}

fn summary(p: &EvalPage) -> Markup {
    let r = p.results;
    let ece = r.breakdown.as_ref().map(|b| 100.0 * b.calibration.ece());
    html! {
        table.summary {
            thead { tr {
                th { "model" } th { "images" } th { "skipped" } th { "top-1" } th { "top-5" }
                th { "loss" } th { "top-1 (published)" } th { "top-5 (published)" }
                th { "Δ top-1" } th { "Δ top-5" } th { "ECE" } th { "images/s" }
            } }
            tbody {
                tr data-run="eval" {
                    td data-k="model" { (r.model) }
                    td data-k="images" { (r.images) }
                    td data-k="skipped" { (r.skipped) }
                    td data-k="top1" { (pct(r.top1)) }
                    td data-k="top5" { (pct(r.top5)) }
                    td data-k="loss" { (format!("{:.4}", r.loss)) }
                    td data-k="reported-top1" { (opt_pct(r.reported_top1)) }
                    td data-k="reported-top5" { (opt_pct(r.reported_top5)) }
                    td data-k="top1-diff" { (r.top1_diff.map_or("-".into(), |d| format!("{d:+.3}"))) }
                    td data-k="top5-diff" { (r.top5_diff.map_or("-".into(), |d| format!("{d:+.3}"))) }
                    td data-k="ece" { (opt_pct(ece)) }
                    td data-k="images-per-s" { (format!("{:.1}", r.images_per_s)) }
                }
            }
        }
        details {
            summary { "Setup" }
            table {
                tr { th { "weights" } td { (r.weights.as_deref().unwrap_or("-")) } }
                tr { th { "weights SHA-256" } td { (r.weights_sha256.as_deref().unwrap_or("-")) } }
                tr { th { "data" } td { (r.data.as_deref().unwrap_or("-")) } }
                tr { th { "shard" } td { (r.shard) } }
                tr { th { "parameters" } td { (r.param_count) } }
                tr { th { "image size" } td { (r.img_size) } }
                tr { th { "crop pct" } td { (num(r.crop_pct)) } }
                tr { th { "interpolation" } td { (r.interpolation) } }
            }
        }
    }
}

/// Each class's most frequent wrong top-1 class, `(class, images)`.
fn most_confused(b: Option<&Breakdown>, n: usize) -> Vec<Option<(u64, u64)>> {
    let mut out: Vec<Option<(u64, u64)>> = vec![None; n];
    for &[t, q, k] in b.map_or(&[][..], |b| &b.confusion) {
        if let Some(slot) = out.get_mut(t as usize) {
            if slot.is_none_or(|(_, best)| k > best) {
                *slot = Some((q, k));
            }
        }
    }
    out
}

fn per_class(p: &EvalPage) -> Markup {
    let pc = &p.results.counts.per_class;
    let b = p.results.breakdown.as_ref();
    let mut order: Vec<usize> = (0..pc.len()).filter(|&i| pc[i][0] > 0).collect();
    let acc = |i: usize| pc[i][1] as f64 / pc[i][0] as f64;
    order.sort_by(|&a, &c| acc(a).total_cmp(&acc(c)).then(a.cmp(&c)));
    let empty: Vec<usize> = (0..pc.len().max(p.classes.len()))
        .filter(|&i| pc.get(i).is_none_or(|c| c[0] == 0))
        .collect();
    let confused = most_confused(b, pc.len());
    let chart = LineChart {
        title: "Top-1 accuracy per class, worst first",
        x_label: "class rank (worst first)",
        y_label: "top-1 accuracy (%)",
        series: vec![Series {
            name: "top-1".into(),
            points: order
                .iter()
                .enumerate()
                .map(|(r, &i)| ((r + 1) as f64, 100.0 * acc(i)))
                .collect(),
        }],
        marker: None,
        max_table_rows: 100,
    };
    html! {
        h2 { "Per-class accuracy" }
        p { (order.len()) " classes have images in this set." }
        @if !empty.is_empty() {
            details.empty-classes {
                summary { (empty.len()) " of the model's classes have no images in this set" }
                ul { @for &i in empty.iter().take(200) { li { (i) ": " (class_name(p.classes, i as u64)) } }
                     @if empty.len() > 200 { li { "and " (empty.len() - 200) " more" } } }
            }
        }
        section.charts { (line_chart(&chart)) }
        details open[pc.len() <= 100] {
            summary { "Per-class table (" (order.len()) " classes, worst top-1 first)" }
            table.per-class {
                thead { tr {
                    th { "index" } th { "class" } th { "images" } th { "top-1 hits" } th { "top-1" }
                    th { "top-5 hits" } th { "top-5" } th { "most often taken for" }
                } }
                tbody {
                    @for &i in &order {
                        @let [n, c1, c5] = pc[i];
                        tr data-run=(format!("class-{i}")) {
                            td { (i) }
                            td { (class_name(p.classes, i as u64)) }
                            td data-k="images" { (n) }
                            td data-k="top1" { (c1) }
                            td { (pct(100.0 * c1 as f64 / n as f64)) }
                            td data-k="top5" { (c5) }
                            td { (pct(100.0 * c5 as f64 / n as f64)) }
                            td { @if let Some((q, k)) = confused[i] { (class_name(p.classes, q)) " (" (k) ")" } @else { "-" } }
                        }
                    }
                }
            }
        }
    }
}

/// The classes the matrix shows: those with images or predicted, sorted.
fn matrix_classes(pc: &[[u64; 3]], b: &Breakdown) -> Vec<u64> {
    let mut s: std::collections::BTreeSet<u64> = (0..pc.len() as u64)
        .filter(|&i| pc[i as usize][0] > 0)
        .collect();
    s.extend(b.confusion.iter().map(|c| c[1]));
    s.into_iter().collect()
}

/// Shade of a share in [0, 1]: white to dark blue (darker is more; reads in grey).
fn shade(f: f64) -> RGBColor {
    let f = f.clamp(0.0, 1.0);
    let mix = |to: f64| (255.0 - f * (255.0 - to)).round() as u8;
    RGBColor(mix(8.0), mix(48.0), mix(107.0))
}

/// The integer a tick at `v` labels, when it is one (ticks between cells get none).
fn centre(v: f64) -> Option<i64> {
    ((v - v.round()).abs() < 1e-6).then_some(v.round() as i64)
}

fn heatmap_svg(pc: &[[u64; 3]], b: &Breakdown, shown: &[u64]) -> Result<String, String> {
    let m = shown.len();
    let pos = |c: u64| shown.binary_search(&c).ok();
    let mut out = String::new();
    {
        let side = 520u32;
        let root = SVGBackend::with_string(&mut out, (side + 90, side + 70)).into_drawing_area();
        let e = |e: &dyn std::fmt::Display| e.to_string();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut c = ChartBuilder::on(&root)
            .caption(
                "Confusion matrix (share of each true class)",
                ("sans-serif", 16),
            )
            .margin(8)
            .x_label_area_size(40)
            .y_label_area_size(50)
            // Cell k spans [k - 0.5, k + 0.5]: integer ticks fall on cell centres.
            .build_cartesian_2d(-0.5f64..m as f64 - 0.5, -0.5f64..m as f64 - 0.5)
            .map_err(|x| e(&x))?;
        let labels = m.min(20);
        c.configure_mesh()
            .disable_mesh()
            .x_labels(labels)
            .y_labels(labels)
            .x_label_formatter(&|x| centre(*x).map_or(String::new(), |k| k.to_string()))
            .y_label_formatter(&|y| {
                centre(*y).map_or(String::new(), |k| (m as i64 - 1 - k).to_string())
            })
            .x_desc("predicted class (position, see the table)")
            .y_desc("true class (position)")
            .draw()
            .map_err(|x| e(&x))?;
        let row = |t: usize| (m - 1 - t) as f64;
        let cell = |t: usize, q: usize, n: u64, total: u64| {
            let f = n as f64 / total.max(1) as f64;
            let (x, y) = (q as f64, row(t));
            Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], shade(f).filled())
        };
        let mut cells = Vec::new();
        for (t, &class) in shown.iter().enumerate() {
            if let Some(&[n, c1, _]) = pc.get(class as usize) {
                if c1 > 0 {
                    cells.push(cell(t, t, c1, n));
                }
            }
        }
        for &[t, q, k] in &b.confusion {
            if let (Some(t_at), Some(q_at)) = (pos(t), pos(q)) {
                let n = pc.get(t as usize).map_or(0, |c| c[0]);
                cells.push(cell(t_at, q_at, k, n));
            }
        }
        c.draw_series(cells).map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    Ok(out)
}

fn confusion(p: &EvalPage, b: &Breakdown) -> Markup {
    let pc = &p.results.counts.per_class;
    let shown = matrix_classes(pc, b);
    let total = |t: u64| pc.get(t as usize).map_or(0, |c| c[0]);
    let mut pairs = b.confusion.clone();
    pairs.sort_by(|a, c| c[2].cmp(&a[2]).then(a.cmp(c)));
    let share = |t: u64, k: u64| pct(100.0 * k as f64 / total(t).max(1) as f64);
    html! {
        h2 { "Confusions" }
        @if shown.len() <= HEATMAP_MAX {
            @let svg = heatmap_svg(pc, b, &shown).unwrap_or_default();
            figure.chart {
                (PreEscaped(svg))
                figcaption { "Confusion matrix (share of each true class)" }
                details {
                    summary { "Numbers: confusion matrix (" (shown.len()) " classes; cells that are not 0)" }
                    table.positions {
                        thead { tr { th { "position" } th { "index" } th { "class" } th { "images" } th { "top-1 hits" } } }
                        tbody { @for (at, &c) in shown.iter().enumerate() {
                            tr { td { (at) } td { (c) } td { (class_name(p.classes, c)) } td { (total(c)) }
                                 td { (pc.get(c as usize).map_or(0, |x| x[1])) } }
                        } }
                    }
                    (pairs_table(p, &pairs, &share))
                }
            }
        } @else {
            p { (shown.len()) " classes are too many for a matrix; the most confused pairs:" }
            (pairs_table(p, &pairs[..pairs.len().min(PAIRS_SHOWN)], &share))
        }
    }
}

fn pairs_table(p: &EvalPage, pairs: &[[u64; 3]], share: &dyn Fn(u64, u64) -> String) -> Markup {
    html! {
        table.pairs {
            thead { tr { th { "true class" } th { "taken for" } th { "images" } th { "share of the true class" } } }
            tbody { @for &[t, q, k] in pairs {
                tr { td { (class_name(p.classes, t)) } td { (class_name(p.classes, q)) } td { (k) } td { (share(t, k)) } }
            } }
        }
    }
}

fn gallery(p: &EvalPage, b: &Breakdown) -> Markup {
    let item = |m: &Mistake| {
        html! {
            figure.mistake {
                @if let Some(uri) = &m.thumbnail {
                    img src=(uri) alt=(format!("an image of {}", class_name(p.classes, m.label)));
                } @else { div.nothumb { "no thumbnail" } }
                figcaption {
                    "true: " b { (class_name(p.classes, m.label)) }
                    ol { @for (c, pr) in &m.top3 { li { (class_name(p.classes, *c)) " " (format!("{:.1}%", 100.0 * pr)) } } }
                    small { (m.path) }
                }
            }
        }
    };
    html! {
        h2 { "The most confident mistakes" }
        @if b.errors_kept == 0 {
            p { "No mistakes were kept (--report-errors 0, or a shard that kept none)." }
        } @else if b.gallery.is_empty() {
            p { "No mistakes: every image's top-1 class is its own." }
        } @else {
            p { "The " (b.gallery.len()) " mistakes (of " (p.results.images - p.results.counts.correct1)
                ") made with the highest top-1 probability, as the model saw them (the resized crop); "
                "each with its true class and the model's top-3." }
            section.gallery { @for m in &b.gallery { (item(m)) } }
        }
    }
}

/// The whole page.
pub fn render(p: &EvalPage) -> String {
    let r = p.results;
    let title = format!(
        "dpn evaluation: {} on {}",
        r.model,
        r.data.as_deref().unwrap_or("shards")
    );
    let body = html! {
        h1 { (title) }
        @if let Some(n) = &p.note { p.note { (n) } }
        (summary(p))
        (per_class(p))
        @match &r.breakdown {
            Some(b) => {
                (confusion(p, b))
                h2 { "Calibration" }
                (calib::reliability(&b.calibration))
                (gallery(p, b))
            }
            None => {
                p.missing { "This result holds no confusions, confidences or mistakes: the shards \
                    it was merged from ran without --report. Evaluate them with --report (and \
                    --results-file) for the whole page." }
            }
        }
    };
    page::page(&title, body)
}
