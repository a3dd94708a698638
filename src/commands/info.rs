//! `dpn info`: the registry's models, one row each or all facts of one.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::Context;
use crate::arch::Plan;
use crate::model;
use crate::output::{self, Cell, Column, Format, Table};
use crate::registry::ModelSpec;
use crate::store;

#[derive(Debug, Args)]
#[command(after_help = "\
Without MODEL, prints one row per model. With MODEL names, prints every fact the registry holds \
about each. CSV, JSON and YAML carry exact numbers under stable keys; the table uses human units.")]
pub struct InfoArgs {
    /// Models to describe in full (see `dpn info --all` for names)
    #[arg(value_name = "MODEL", conflicts_with = "all")]
    pub models: Vec<String>,

    /// One summary row for every model (the default without MODEL)
    #[arg(long)]
    pub all: bool,

    /// Output format
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: InfoArgs, ctx: &Context) -> Result<()> {
    let mut out = std::io::stdout().lock();
    if args.models.is_empty() {
        summary(ctx, ctx.registry.models().iter()).write(args.format, &mut out)?;
    } else {
        let specs = args
            .models
            .iter()
            .map(|n| ctx.registry.get(n))
            .collect::<Result<Vec<_>>>()?;
        let details: Vec<Value> = specs.iter().map(|s| detail(ctx, s)).collect();
        write_details(&details, args.format, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

fn summary<'a>(ctx: &Context, specs: impl Iterator<Item = &'a ModelSpec>) -> Table {
    let mut t = Table::new(vec![
        Column::new("model", "Model", false),
        Column::new("params", "Params", true),
        Column::new("params_exact", "Params (exact)", true),
        Column::new("flops", "FLOPs", true),
        Column::new("file_size", "File size", true),
        Column::new("top1", "Top-1", true),
        Column::new("top5", "Top-5", true),
        Column::new("crop_pct", "Crop", true),
        Column::new("interpolation", "Interp.", false),
        Column::new("img_size", "Size", true),
        Column::new("pretrained", "Weights", false),
        Column::new("cached", "Cached", false),
    ]);
    for spec in specs {
        let md = &spec.metadata;
        let result = spec.imagenet_result();
        let pct = |v: f64| format!("{v:.2}%");
        let exact = model::parameter_count(&spec.arch);
        t.push(vec![
            Cell::plain(spec.name.as_str()),
            Cell::opt(md.parameters, output::si),
            Cell::new(exact, output::thousands(exact)),
            Cell::opt(md.flops, output::si),
            Cell::opt(md.file_size, output::bytes),
            Cell::opt(result.and_then(|r| r.top1), pct),
            Cell::opt(result.and_then(|r| r.top5), pct),
            Cell::new(
                spec.preprocess.crop_pct,
                spec.preprocess.crop_pct.to_string(),
            ),
            Cell::plain(spec.preprocess.interpolation.to_string()),
            Cell::plain(spec.preprocess.image_size),
            Cell::plain(spec.weights.is_some()),
            Cell::plain(store::find_weights(&ctx.cache, spec).is_some()),
        ]);
    }
    t
}

/// Every fact about one model, nested as the JSON and YAML outputs show it.
fn detail(ctx: &Context, spec: &ModelSpec) -> Value {
    let plan = Plan::new(&spec.arch);
    let a = &spec.arch;
    let p = &spec.preprocess;
    let md = &spec.metadata;
    let cached = store::find_weights(&ctx.cache, spec);
    let results: Vec<Value> = spec
        .results
        .iter()
        .map(|r| json!({"task": r.task, "dataset": r.dataset, "top1": r.top1, "top5": r.top5}))
        .collect();
    json!({
        "name": spec.name,
        "collection": spec.collection,
        "source": spec.source.to_string(),
        "params_exact": model::parameter_count(&spec.arch),
        "buffers_exact": model::buffer_count(&spec.arch),
        "architecture": {
            "small": a.small,
            "init_features": a.init_features,
            "k_r": a.k_r,
            "groups": a.groups,
            "b": a.b,
            "k_sec": a.k_sec,
            "inc_sec": a.inc_sec,
            "activation": a.activation.to_string(),
            "num_classes": a.num_classes,
            "in_chans": a.in_chans,
            "num_features": plan.num_features,
        },
        "preprocessing": {
            "normalization": p.normalization,
            "mean": p.mean,
            "std": p.std,
            "crop_pct": p.crop_pct,
            "interpolation": p.interpolation.to_string(),
            "image_size": p.image_size,
        },
        "weights": {
            "url": spec.weights.as_ref().map(|w| &w.url),
            "file_name": spec.weights.as_ref().map(|w| &w.file_name),
            "sha256_prefix": spec.weights.as_ref().and_then(|w| w.sha256_prefix.as_ref()),
            "hub_id": spec.hub_id,
            "cached": cached.is_some(),
            "cached_path": cached.map(|p| p.display().to_string()),
        },
        "metadata": {
            "flops": md.flops,
            "parameters": md.parameters,
            "file_size": md.file_size,
            "lr": md.lr,
            "batch_size": md.batch_size,
            "layers": md.layers,
            "crop_pct": md.crop_pct,
            "training_resources": md.training_resources,
            "training_techniques": md.training_techniques,
            "training_data": md.training_data,
            "architecture": md.architecture,
            "tasks": md.tasks,
            "id": md.id,
        },
        "results": results,
        "code": spec.code,
        "paper": spec.paper.as_ref().map(|p| json!({"title": p.title, "url": p.url})),
    })
}

fn write_details(details: &[Value], format: Format, out: &mut dyn Write) -> Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, details)?;
            writeln!(out)?;
        }
        Format::Yaml => serde_yaml::to_writer(&mut *out, details)?,
        Format::Csv => {
            // One row per model; columns are the union of flattened keys, so a
            // model lacking a fact (no results, no paper) leaves its cell empty.
            let flat: Vec<Vec<(String, Value)>> = details.iter().map(flatten).collect();
            let mut keys: Vec<String> = Vec::new();
            for (k, _) in flat.iter().flatten() {
                if !keys.contains(k) {
                    keys.push(k.clone());
                }
            }
            let mut w = csv::Writer::from_writer(out);
            w.write_record(&keys)?;
            for row in &flat {
                w.write_record(keys.iter().map(|k| {
                    row.iter()
                        .find(|(rk, _)| rk == k)
                        .map(|(_, v)| output::csv_field(v))
                        .unwrap_or_default()
                }))?;
            }
            w.flush()?;
        }
        Format::Table | Format::Markdown => {
            for (i, d) in details.iter().enumerate() {
                let mut t = Table::new(vec![
                    Column::new("key", "Key", false),
                    Column::new("value", "Value", false),
                ]);
                for (k, v) in flatten(d) {
                    let human = human_text(&v);
                    t.push(vec![Cell::plain(k), Cell::new(v, human)]);
                }
                if i > 0 {
                    writeln!(out)?;
                }
                if format == Format::Markdown {
                    writeln!(out, "## {}\n", d["name"].as_str().unwrap_or("?"))?;
                }
                t.write(format, out)?;
            }
        }
    }
    Ok(())
}

/// Dotted paths to leaves; lists of scalars stay whole, lists of objects are indexed.
fn flatten(v: &Value) -> Vec<(String, Value)> {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
        let key = |k: &str| {
            if prefix.is_empty() {
                k.to_string()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    walk(&key(k), child, out);
                }
            }
            Value::Array(items) if items.iter().any(|i| i.is_object()) => {
                for (i, child) in items.iter().enumerate() {
                    walk(&key(&i.to_string()), child, out);
                }
            }
            Value::Array(items) if items.is_empty() => {}
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out
}

fn human_text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match n.as_u64() {
            Some(u) if u >= 10_000 => output::thousands(u),
            _ => n.to_string(),
        },
        Value::Array(items) => items.iter().map(human_text).collect::<Vec<_>>().join(", "),
        Value::Object(_) => serde_json::to_string(v).unwrap_or_default(),
    }
}
