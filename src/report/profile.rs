//! The page of `dpn profile --report`: where a model's work, parameters,
//! activations, time and memory go, beside the figures published with it.
//!
//! The page's figures are `dpn profile`'s own: the summary row of each
//! model is the row `--format json` prints (its values by column key), and
//! the per-stage counts are `arch::cost`'s, as `--by-stage` prints them.
//! What only the page shows is computed from the same sources: parameters
//! per stage from the state-dict names (`model::parameter_shapes`), the
//! latency distribution from every timed batch, the estimated activation
//! memory from `arch::cost::bytes_per_image`.

use anyhow::Result;
use maud::{html, Markup};
use serde_json::Value;

use super::bars::{bar_chart, histogram, BarChart, BarSeries, Histogram};
use super::chart::num;
use super::page;
use crate::arch::{cost, ArchSpec, Plan};
use crate::output::{thousands, Table};

/// What the summary row cannot hold about one profiled model.
pub struct ModelRun {
    /// The architecture counted (with --weights, the file's class count).
    pub arch: ArchSpec,
    pub img_size: usize,
    /// The image size the published figures are for (the registry's).
    pub published_size: usize,
    /// Wall times (ms) of the timed batches, sorted; empty when not timed.
    pub times_ms: Vec<f64>,
}

/// One model of the page: its summary row by column key, and the rest.
struct Model<'a> {
    row: serde_json::Map<String, Value>,
    run: &'a ModelRun,
    stages: Vec<StageRow>,
}

/// One stage's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StageRow {
    pub stage: String,
    pub counts: cost::Counts,
    /// Learnable parameters of the stage's layers.
    pub params: u64,
}

/// The stage (as `cost::Stage::name`) a state-dict key belongs to: timm's
/// DPN names its layers `features.conv1_*` (the stem), `features.convN_*`
/// (stage N), `features.conv5_bn_ac` and `classifier` (the head, where
/// `arch::cost` counts the last BatchNorm and the pool).
fn stage_of(key: &str) -> String {
    let k = key.strip_prefix("features.").unwrap_or(key);
    if k.starts_with("conv5_bn_ac") || k.starts_with("classifier") {
        return "head".into();
    }
    if k.starts_with("conv1_") {
        return "stem".into();
    }
    match k.strip_prefix("conv").and_then(|r| r.split('_').next()) {
        Some(n) if n.parse::<usize>().is_ok() => format!("conv{n}"),
        _ => "head".into(),
    }
}

/// The per-stage figures of `arch` at `size` px.
pub fn stages(arch: &ArchSpec, size: usize) -> Vec<StageRow> {
    let prof = cost::profile(&Plan::new(arch), size, size);
    let mut rows: Vec<StageRow> = prof
        .stages
        .iter()
        .map(|(s, c)| StageRow {
            stage: s.name(),
            counts: *c,
            params: 0,
        })
        .collect();
    for p in crate::model::parameter_shapes(arch)
        .iter()
        .filter(|p| p.trainable)
    {
        let stage = stage_of(&p.name);
        let n = p.shape.iter().product::<i64>().max(0) as u64;
        if let Some(r) = rows.iter_mut().find(|r| r.stage == stage) {
            r.params += n;
        }
    }
    rows
}

/// How the page writes a summary value: integers with thousands
/// separators, other numbers to 3 decimals, nothing as "-".
pub fn figure(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(n) => match n.as_u64() {
            Some(u) => thousands(u),
            None => n
                .as_f64()
                .map_or_else(|| n.to_string(), |f| format!("{f:.3}")),
        },
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn get_f64(row: &serde_json::Map<String, Value>, k: &str) -> Option<f64> {
    row.get(k).and_then(Value::as_f64)
}

fn int(v: f64) -> String {
    if v >= 0.0 && v.fract() == 0.0 && v < 1e18 {
        thousands(v as u64)
    } else {
        num(v)
    }
}

fn mib(v: f64) -> String {
    format!("{:.2}", v / (1024.0 * 1024.0))
}

/// The summary columns the page shows, in order (keys of `dpn profile`'s rows).
const SUMMARY: [(&str, &str); 16] = [
    ("img_size", "size (px)"),
    ("params", "parameters"),
    ("buffers", "buffers"),
    ("macs", "MACs"),
    ("activations", "activations"),
    ("file_size", "file (bytes)"),
    ("file_size_source", "file from"),
    ("device", "device"),
    ("dtype", "dtype"),
    ("network", "network"),
    ("batch_size", "batch"),
    ("latency_ms_median", "median ms"),
    ("latency_ms_p90", "p90 ms"),
    ("images_per_s", "images/s"),
    ("peak_memory_bytes", "peak memory (bytes)"),
    ("load_ms", "load ms"),
];

fn summary(models: &[Model]) -> Markup {
    html! {
        table.summary {
            thead { tr { th { "model" } @for (_, h) in SUMMARY { th { (h) } } } }
            tbody {
                @for (i, m) in models.iter().enumerate() {
                    tr data-model=(i) {
                        td data-k="model" { (figure(m.row.get("model").unwrap_or(&Value::Null))) }
                        @for (k, _) in SUMMARY {
                            td data-k=(k) { (figure(m.row.get(k).unwrap_or(&Value::Null))) }
                        }
                    }
                }
            }
        }
    }
}

/// A ratio to 3 decimals, or "-".
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    }
}

/// MACs (all, convolutions) of `m` at the size its published figures are for.
fn published_size_macs(m: &Model) -> (u64, u64) {
    let s = m.run.published_size;
    let c = cost::profile(&Plan::new(&m.run.arch), s, s).total();
    (c.total_macs(), c.conv_macs)
}

fn published(models: &[Model]) -> Markup {
    let names: Vec<String> = models
        .iter()
        .map(|m| format!("{} {} px", model_name(m), m.run.published_size))
        .collect();
    let macs: Vec<(u64, u64)> = models.iter().map(published_size_macs).collect();
    let col = |k: &str| -> Vec<Option<f64>> { models.iter().map(|m| get_f64(&m.row, k)).collect() };
    let any_published = models.iter().any(|m| {
        ["seed_params", "seed_flops", "seed_file_size"]
            .iter()
            .any(|k| get_f64(&m.row, k).is_some())
    });
    html! {
        h2 { "Beside the published figures" }
        p { "Published: the registry's figures (model-index.yaml), for its image size, at which the MACs here are \
             counted too. MACs are counted in fvcore's convention; the published FLOPs use another (about 1.29 \
             times the convolution MACs), so their ratio is not 1." }
        @if !any_published { p { "None of these models has published figures in the registry." } }
        table.published {
            thead { tr {
                th { "model" } th { "parameters" } th { "published" } th { "ratio" }
                th { "MACs at the published size" } th { "published FLOPs" } th { "ratio" }
                th { "file (bytes)" } th { "published" } th { "ratio" }
            } }
            tbody {
                @for (i, m) in models.iter().enumerate() {
                    @let g = |k: &str| m.row.get(k).unwrap_or(&Value::Null);
                    tr data-model=(i) {
                        td { (names[i]) }
                        td { (figure(g("params"))) } td data-k="seed_params" { (figure(g("seed_params"))) }
                        td { (ratio(get_f64(&m.row, "params"), get_f64(&m.row, "seed_params"))) }
                        td { (thousands(macs[i].0)) } td data-k="seed_flops" { (figure(g("seed_flops"))) }
                        td { (ratio(Some(macs[i].0 as f64), get_f64(&m.row, "seed_flops"))) }
                        td { (figure(g("file_size"))) } td data-k="seed_file_size" { (figure(g("seed_file_size"))) }
                        td { (ratio(get_f64(&m.row, "file_size"), get_f64(&m.row, "seed_file_size"))) }
                    }
                }
            }
        }
        section.charts {
            (bar_chart(&BarChart {
                title: "Parameters, counted and published",
                x_label: "model",
                y_label: "parameters",
                categories: names.clone(),
                series: vec![
                    BarSeries { name: "counted".into(), values: col("params") },
                    BarSeries { name: "published".into(), values: col("seed_params") },
                ],
                fmt: int,
            }))
            (bar_chart(&BarChart {
                title: "MACs counted, FLOPs published",
                x_label: "model",
                y_label: "multiply-adds per image",
                categories: names,
                series: vec![
                    BarSeries { name: "MACs (counted)".into(), values: macs.iter().map(|m| Some(m.0 as f64)).collect() },
                    BarSeries { name: "convolution MACs".into(), values: macs.iter().map(|m| Some(m.1 as f64)).collect() },
                    BarSeries { name: "FLOPs (published)".into(), values: col("seed_flops") },
                ],
                fmt: int,
            }))
        }
    }
}

fn model_name(m: &Model) -> String {
    figure(m.row.get("model").unwrap_or(&Value::Null))
}

fn label(m: &Model) -> String {
    format!("{} {} px", model_name(m), m.run.img_size)
}

/// Percentile by nearest rank on the sorted sample (as `dpn profile`'s p90).
fn nearest_rank(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn latency(m: &Model, i: usize) -> Markup {
    let t = &m.run.times_ms;
    if t.is_empty() {
        return html! { p { "Not timed (--iters 0): no latency or memory measured." } };
    }
    let n = t.len() as f64;
    let mean = t.iter().sum::<f64>() / n;
    let sd = (t.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let median = get_f64(&m.row, "latency_ms_median").unwrap_or(f64::NAN);
    let p90 = get_f64(&m.row, "latency_ms_p90").unwrap_or(f64::NAN);
    let title = format!("Latency of {} timed batches, {}", t.len(), label(m));
    let bins = (t.len() as f64).sqrt().ceil().clamp(5.0, 30.0) as usize;
    let rows: [(&str, &str, f64); 8] = [
        ("min", "min", t[0]),
        ("mean", "mean", mean),
        ("median", "latency_ms_median", median),
        ("p90", "latency_ms_p90", p90),
        ("p99", "p99", nearest_rank(t, 0.99)),
        ("max", "max", t[t.len() - 1]),
        ("standard deviation", "sd", sd),
        ("batches timed", "n", n),
    ];
    html! {
        section.charts {
            (histogram(&Histogram {
                title: &title,
                x_label: "milliseconds per batch",
                y_label: "batches",
                samples: t,
                bins,
                markers: vec![(median, format!("median {median:.3} ms")), (p90, format!("p90 {p90:.3} ms"))],
            }))
            div { table.latency data-model=(i) {
                thead { tr { th { "latency" } th { "ms" } } }
                tbody {
                    @for (name, k, v) in rows {
                        tr { th { (name) } td data-k=(k) { @if k == "n" { (t.len()) } @else { (format!("{v:.3}")) } } }
                    }
                }
            } }
        }
    }
}

fn memory(m: &Model) -> Markup {
    let g = |k: &str| get_f64(&m.row, k);
    let plan = Plan::new(&m.run.arch);
    let batch = g("batch_size").unwrap_or(1.0);
    let per_image = cost::bytes_per_image(&plan, m.run.img_size, m.run.img_size, 4) as f64;
    let weights = (g("params").unwrap_or(0.0) + g("buffers").unwrap_or(0.0)) * 4.0;
    let cats = [
        ("weights as f32", Some(weights)),
        ("weights file", g("file_size")),
        ("published file", g("seed_file_size")),
        ("activations, estimated", Some(per_image * batch)),
        ("peak, measured", g("peak_memory_bytes")),
    ];
    let title = format!("Memory, {} (batch {})", label(m), int(batch));
    html! {
        section.charts { (bar_chart(&BarChart {
            title: &title,
            x_label: "what",
            y_label: "MiB",
            categories: cats.iter().map(|c| c.0.to_string()).collect(),
            series: vec![BarSeries { name: "MiB".into(), values: cats.iter().map(|c| c.1.map(|b| b / (1024.0 * 1024.0))).collect() }],
            fmt: |v| format!("{v:.2}"),
        })) }
        p { small { "Activations, estimated: the f32 input and every convolution output of the batch, \
                     an upper bound (inference frees most of them as it goes); " (mib(per_image)) " MiB an image. \
                     Peak, measured: the CUDA allocator's peak on a GPU, the growth of the peak resident set on the CPU." } }
    }
}

fn stage_section(m: &Model, i: usize) -> Markup {
    let cats: Vec<String> = m.stages.iter().map(|s| s.stage.clone()).collect();
    let col = |f: fn(&StageRow) -> u64| -> Vec<Option<f64>> {
        m.stages.iter().map(|s| Some(f(s) as f64)).collect()
    };
    let total_macs: u64 = m.stages.iter().map(|s| s.counts.total_macs()).sum();
    let mac_title = format!("MACs per stage, {}", label(m));
    let param_title = format!("Parameters per stage, {}", label(m));
    let act_title = format!("Activations per stage, {}", label(m));
    html! {
        section.charts {
            (bar_chart(&BarChart {
                title: &mac_title,
                x_label: "stage",
                y_label: "multiply-adds per image",
                categories: cats.clone(),
                series: vec![
                    BarSeries { name: "convolution".into(), values: col(|s| s.counts.conv_macs) },
                    BarSeries { name: "BatchNorm".into(), values: col(|s| s.counts.bn_macs) },
                    BarSeries { name: "pool".into(), values: col(|s| s.counts.pool_macs) },
                ],
                fmt: int,
            }))
            (bar_chart(&BarChart {
                title: &param_title,
                x_label: "stage",
                y_label: "parameters",
                categories: cats.clone(),
                series: vec![BarSeries { name: "parameters".into(), values: col(|s| s.params) }],
                fmt: int,
            }))
            (bar_chart(&BarChart {
                title: &act_title,
                x_label: "stage",
                y_label: "convolution output elements per image",
                categories: cats,
                series: vec![BarSeries { name: "activations".into(), values: col(|s| s.counts.activations) }],
                fmt: int,
            }))
        }
        table.stages data-model=(i) {
            thead { tr {
                th { "stage" } th { "conv MACs" } th { "BN MACs" } th { "pool MACs" } th { "MACs" }
                th { "share of MACs" } th { "activations" } th { "parameters" }
            } }
            tbody {
                @for s in &m.stages {
                    tr data-stage=(s.stage) {
                        th { (s.stage) }
                        td data-k="conv_macs" { (thousands(s.counts.conv_macs)) }
                        td data-k="bn_macs" { (thousands(s.counts.bn_macs)) }
                        td data-k="pool_macs" { (thousands(s.counts.pool_macs)) }
                        td data-k="macs" { (thousands(s.counts.total_macs())) }
                        td { (format!("{:.1}%", 100.0 * s.counts.total_macs() as f64 / total_macs.max(1) as f64)) }
                        td data-k="activations" { (thousands(s.counts.activations)) }
                        td data-k="params" { (thousands(s.params)) }
                    }
                }
            }
        }
    }
}

/// The whole page: `table` is `dpn profile`'s summary (one row per model),
/// `runs[i]` what was measured of its row `i`.
pub fn render(table: &Table, runs: &[ModelRun]) -> String {
    let models: Vec<Model> = table
        .rows
        .iter()
        .zip(runs)
        .map(|(row, run)| Model {
            row: table
                .columns
                .iter()
                .zip(row)
                .map(|(c, cell)| (c.key.to_string(), cell.value.clone()))
                .collect(),
            run,
            stages: stages(&run.arch, run.img_size),
        })
        .collect();
    let names: Vec<String> = models.iter().map(label).collect();
    let title = format!("dpn profile: {}", names.join(", "));
    let body = html! {
        h1 { (title) }
        p { "MACs follow fvcore's convention (timm's benchmark tables): convolution multiply-adds without bias, \
             2 per BatchNorm output element, 1 per element entering the global average pool, counted from the \
             architecture. Activations are the elements convolutions output. Times are wall times of whole batches." }
        (summary(&models))
        (published(&models))
        @for (i, m) in models.iter().enumerate() {
            h2 { (names[i]) }
            h3 { "Work, parameters and activations per stage" }
            (stage_section(m, i))
            h3 { "Latency" }
            (latency(m, i))
            h3 { "Memory" }
            (memory(m))
        }
    };
    page::page(&title, body)
}

/// Writes the page to `out` (whole or not at all).
pub fn write(
    out: &crate::sys::output_path::OutputPath,
    table: &Table,
    runs: &[ModelRun],
) -> Result<()> {
    out.write(render(table, runs).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    #[test]
    fn stage_parameters_add_up_to_the_model() {
        let reg = Registry::load(None).unwrap();
        for name in ["dpn48b", "dpn68", "dpn92"] {
            let arch = &reg.get(name).unwrap().arch;
            let rows = stages(arch, 64);
            let names: Vec<&str> = rows.iter().map(|r| r.stage.as_str()).collect();
            assert_eq!(names, ["stem", "conv2", "conv3", "conv4", "conv5", "head"]);
            assert!(rows.iter().all(|r| r.params > 0), "{rows:?}");
            assert_eq!(
                rows.iter().map(|r| r.params).sum::<u64>(),
                crate::model::parameter_count(arch),
                "{name}"
            );
            let total = cost::profile(&Plan::new(arch), 64, 64).total();
            assert_eq!(
                rows.iter().map(|r| r.counts.total_macs()).sum::<u64>(),
                total.total_macs()
            );
        }
    }

    #[test]
    fn figures_are_written_as_the_page_shows_them() {
        assert_eq!(figure(&serde_json::json!(9126226)), "9,126,226");
        assert_eq!(figure(&serde_json::json!(2.34567)), "2.346");
        assert_eq!(figure(&Value::Null), "-");
        assert_eq!(figure(&serde_json::json!("cpu")), "cpu");
        assert_eq!(
            nearest_rank(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 0.9),
            9.0
        );
    }
}
