//! `dpn export`: a network as an ONNX model (docs/export.md).
//!
//! [`graph`] records the network's own forward pass ([`crate::model::Ops`])
//! as ONNX operators, [`fold`] folds BatchNorms into convolutions when asked,
//! [`encode`] builds the protobuf message (the schema compiled by prost,
//! [`proto`]) and [`check`] reads the written file back and checks it.

pub mod check;
pub mod encode;
pub mod fold;
pub mod graph;
pub mod proto;

use anyhow::Result;
use prost::Message;

use crate::arch::ArchSpec;
use crate::data::classes::Classes;
use crate::model::infer::Precision;
use crate::model::Dpn;
use crate::registry::Preprocess;
use crate::sys::error;
use encode::{Dim, Header};
use graph::Graph;
pub use proto::ModelProto;

/// The ONNX operator set the graph is written for: the oldest one both
/// onnxruntime and TensorRT 8.6+ take that has every operator the graph
/// uses in its current form (docs/export.md).
pub const OPSET: i64 = 17;
/// The IR version that goes with [`OPSET`] (ONNX 1.12).
pub const IR_VERSION: i64 = 8;
/// The graph's input: normalized pixels, `[N, 3, H, W]`.
pub const INPUT: &str = "pixel_values";
pub const LOGITS: &str = "logits";
pub const FEATURES: &str = "features";
/// The name of a dynamic batch dimension.
pub const BATCH: &str = "batch";
/// protobuf cannot encode a message of 2 GiB or more.
const PROTOBUF_LIMIT: usize = (1 << 31) - 1;

/// How to export.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// A fixed batch size, or `None` for a dynamic one.
    pub batch: Option<i64>,
    /// The element type of the input, the outputs and every weight.
    pub precision: Precision,
    pub fold_bn: bool,
    /// Adds the output `features` (the pooled embedding).
    pub features: bool,
}

/// What a deployment needs to know to feed the model, recorded in its
/// `metadata_props`.
pub struct Description<'a> {
    pub model: &'a str,
    pub preprocess: &'a Preprocess,
    pub classes: &'a Classes,
}

/// An exported model, encoded.
pub struct Exported {
    pub model: ModelProto,
    pub bytes: Vec<u8>,
    /// Nodes in the graph.
    pub nodes: usize,
    /// BatchNorms folded into convolutions.
    pub folded: usize,
}

/// `model` (with architecture `arch`) as an ONNX model.
pub fn export(model: &Dpn, arch: &ArchSpec, d: &Description, o: &Options) -> Result<Exported> {
    let mut g = Graph::record(model, INPUT, o.features);
    let outputs: &[&str] = if o.features {
        &[LOGITS, FEATURES]
    } else {
        &[LOGITS]
    };
    let folded = if o.fold_bn {
        fold::fold_batch_norms(&mut g, outputs)
    } else {
        0
    };
    let batch = match o.batch {
        Some(n) => Dim::Fixed(n),
        None => Dim::Named(BATCH),
    };
    let size = d.preprocess.image_size as i64;
    let mut out = vec![(LOGITS, vec![batch.clone(), Dim::Fixed(arch.num_classes as i64)])];
    if o.features {
        out.push((
            FEATURES,
            vec![batch.clone(), Dim::Fixed(model.num_features() as i64)],
        ));
    }
    let header = Header {
        name: d.model,
        opset: OPSET,
        ir_version: IR_VERSION,
        kind: o.precision.kind(),
        inputs: vec![(
            INPUT,
            vec![batch, Dim::Fixed(arch.in_chans as i64), Dim::Fixed(size), Dim::Fixed(size)],
        )],
        outputs: out,
        doc: doc(d),
        metadata: metadata(d, arch),
    };
    let proto = encode::encode(&g, &header);
    let len = proto.encoded_len();
    if len > PROTOBUF_LIMIT {
        return Err(error::usage(format!(
            "the model is {} bytes as ONNX, over protobuf's 2 GiB limit; export in f16 or bf16",
            len
        )));
    }
    Ok(Exported {
        bytes: proto.encode_to_vec(),
        nodes: g.nodes.len(),
        model: proto,
        folded,
    })
}

/// Reads `written` (the file's bytes as they are on disk) back and checks
/// it against what was exported ([`check::check`]).
pub fn verify(written: &[u8], e: &Exported, arch: &ArchSpec, o: &Options) -> Result<()> {
    let params = crate::model::parameter_shapes(arch);
    check::check(written, &e.model, &params, !o.fold_bn)
}

/// The model card a reader of the file sees first.
fn doc(d: &Description) -> String {
    let p = d.preprocess;
    format!(
        "{model}, exported by dpn {version}. Input `{INPUT}`: RGB images resized with \
         {interp} interpolation so that the center crop of {crop} of the shorter side is \
         {size} px, center-cropped to {size}x{size}, scaled to [0, 1], then normalized \
         per channel as (x - mean) / std with mean {mean:?} and std {std:?}; NCHW. \
         Output `{LOGITS}`: one logit per class (metadata `class_names`).",
        model = d.model,
        version = env!("CARGO_PKG_VERSION"),
        interp = p.interpolation,
        crop = p.crop_pct,
        size = p.image_size,
        mean = p.mean,
        std = p.std,
    )
}

/// `metadata_props`: the preprocessing as timm's `pretrained_cfg` names it,
/// and the classes in logit order (docs/export.md, "Metadata").
fn metadata(d: &Description, arch: &ArchSpec) -> Vec<(String, String)> {
    let p = d.preprocess;
    let json = |v: &serde_json::Value| v.to_string();
    let mut m = vec![
        ("dpn.model", d.model.to_string()),
        ("dpn.version", env!("CARGO_PKG_VERSION").to_string()),
        (
            "input_size",
            json(&serde_json::json!([arch.in_chans, p.image_size, p.image_size])),
        ),
        ("crop_pct", p.crop_pct.to_string()),
        ("interpolation", p.interpolation.to_string()),
        ("mean", json(&serde_json::json!(p.mean))),
        ("std", json(&serde_json::json!(p.std))),
        ("num_classes", arch.num_classes.to_string()),
        (
            "class_names",
            json(&serde_json::json!(d
                .classes
                .classes
                .iter()
                .map(|c| &c.name)
                .collect::<Vec<_>>())),
        ),
    ];
    if d.classes.classes.iter().any(|c| !c.synset.is_empty()) {
        m.push((
            "class_synsets",
            json(&serde_json::json!(d
                .classes
                .classes
                .iter()
                .map(|c| &c.synset)
                .collect::<Vec<_>>())),
        ));
    }
    m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}
