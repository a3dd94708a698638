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

use std::path::Path;

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

/// The ONNX operator set of f32 and f16 graphs: the oldest one that has
/// every operator the graph uses in its current form, which onnxruntime and
/// TensorRT 8.6 and later take (docs/export.md).
pub const OPSET: i64 = 17;
/// The IR version that goes with [`OPSET`] (ONNX 1.12).
pub const IR_VERSION: i64 = 8;
/// bf16 graphs need opset 22, where `Conv`, `MaxPool`,
/// `GlobalAveragePool` and `Elu` first take bfloat16.
pub const OPSET_BF16: i64 = 22;
/// The IR version that goes with [`OPSET_BF16`] (ONNX 1.16).
pub const IR_VERSION_BF16: i64 = 10;

/// The operator set and IR version a graph in `precision` is written for.
pub fn opset(precision: Precision) -> (i64, i64) {
    match precision {
        Precision::Bf16 => (OPSET_BF16, IR_VERSION_BF16),
        Precision::F32 | Precision::F16 => (OPSET, IR_VERSION),
    }
}
/// The graph's input: normalized pixels, `[N, 3, H, W]`.
pub const INPUT: &str = "pixel_values";
pub const LOGITS: &str = "logits";
pub const FEATURES: &str = "features";
/// The name of a dynamic batch dimension.
pub const BATCH: &str = "batch";
/// The largest fixed `--batch-size`: a graph's input at 224 px is then
/// 39 GB in f32, past any accelerator's memory; larger sizes are typos
/// (docs/conventions.md, "Limits on sizes").
pub const MAX_BATCH: i64 = 65_536;
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

/// An exported model, encoded (the message itself is not kept: for dpn107
/// in f32 it would hold another 330 MiB).
pub struct Exported {
    pub bytes: Vec<u8>,
    /// Nodes in the graph.
    pub nodes: usize,
    /// BatchNorms folded into convolutions.
    pub folded: usize,
    /// Initializers holding NaN or infinite values as written, with how
    /// many ([`Exported::verdict`]).
    pub non_finite: Vec<(String, u64)>,
}

impl Exported {
    /// With `reject`, an error (exit code 3) if the written weights hold NaN
    /// or infinite values; otherwise the warning to show, if any. Values
    /// finite in the source may not be after the cast to f16 (largest
    /// 65504) or after `--fold-bn` multiplies them, so this is checked on
    /// what is written, apart from the source weights' own check.
    pub fn verdict(&self, weights: &Path, o: &Options, reject: bool) -> Result<Option<String>> {
        if self.non_finite.is_empty() {
            return Ok(None);
        }
        let found = crate::weights::health::Health {
            non_finite: self.non_finite.clone(),
            negative_var: Vec::new(),
        }
        .summary();
        let what = format!(
            "the {}{} export of {} has {found}",
            o.precision.name(),
            if o.fold_bn { " --fold-bn" } else { "" },
            weights.display(),
        );
        let why = match o.precision {
            Precision::F16 => "weights beyond f16's range (65504) become infinite",
            Precision::Bf16 | Precision::F32 => "weights beyond the type's range become infinite",
        };
        if reject {
            let mut fixes = Vec::new();
            if o.precision != Precision::F32 {
                fixes.push("in f32");
            }
            if o.fold_bn {
                fixes.push("without --fold-bn");
            }
            let fix = if fixes.is_empty() {
                "use weights within range".to_string()
            } else {
                format!("export {}", fixes.join(" or "))
            };
            return Err(error::bad_input(format!(
                "{what}; refused (--reject-non-finite): {why}; {fix}"
            )));
        }
        Ok(Some(format!(
            "{what}: {why}, so its outputs may be NaN or infinite (--reject-non-finite refuses such exports)"
        )))
    }
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
    let mut out = vec![(
        LOGITS,
        vec![batch.clone(), Dim::Fixed(arch.num_classes as i64)],
    )];
    if o.features {
        out.push((
            FEATURES,
            vec![batch.clone(), Dim::Fixed(model.num_features() as i64)],
        ));
    }
    let (opset, ir_version) = opset(o.precision);
    let header = Header {
        name: d.model,
        opset,
        ir_version,
        kind: o.precision.kind(),
        inputs: vec![(
            INPUT,
            vec![
                batch,
                Dim::Fixed(arch.in_chans as i64),
                Dim::Fixed(size),
                Dim::Fixed(size),
            ],
        )],
        outputs: out,
        doc: doc(d),
        metadata: metadata(d, arch),
    };
    let (proto, non_finite) = encode::encode(&g, &header)?;
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
        folded,
        non_finite,
    })
}

/// Reads `written` (the file's bytes as they are on disk) back and checks
/// it against what was exported ([`check::check`]).
pub fn verify(written: &[u8], e: &Exported, arch: &ArchSpec, o: &Options) -> Result<()> {
    let params = crate::model::parameter_shapes(arch);
    check::check(written, &e.bytes, &params, !o.fold_bn)
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
            json(&serde_json::json!([
                arch.in_chans,
                p.image_size,
                p.image_size
            ])),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arch::{Activation, ArchSpec};
    use crate::registry::{Interpolation, Preprocess};

    fn tiny(b: bool, activation: Activation) -> ArchSpec {
        ArchSpec {
            small: true,
            init_features: 8,
            k_r: 16,
            groups: 4,
            b,
            k_sec: [1, 2, 1, 1],
            inc_sec: [4, 4, 8, 8],
            activation,
            num_classes: 5,
            in_chans: 3,
        }
    }

    fn export_tiny(arch: &ArchSpec, o: &Options) -> (Exported, Dpn, tch::nn::VarStore) {
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let model = Dpn::new(&vs.root(), arch);
        let pre = Preprocess {
            normalization: None,
            mean: [0.5; 3],
            std: [0.25; 3],
            crop_pct: 0.875,
            interpolation: Interpolation::Bicubic,
            image_size: 32,
        };
        let classes = Classes::default_for(arch.num_classes);
        let d = Description {
            model: "tiny",
            preprocess: &pre,
            classes: &classes,
        };
        let e = tch::no_grad(|| export(&model, arch, &d, o)).unwrap();
        (e, model, vs)
    }

    fn decoded(e: &Exported) -> ModelProto {
        ModelProto::decode(e.bytes.as_slice()).unwrap()
    }

    const F32: Options = Options {
        batch: None,
        precision: Precision::F32,
        fold_bn: false,
        features: false,
    };

    /// Every weight of the network is an initializer under its state-dict
    /// key with its shape, and the file checks.
    #[test]
    fn the_graph_holds_every_weight_under_its_key() {
        for (b, act) in [(false, Activation::Relu), (true, Activation::Silu)] {
            let arch = tiny(b, act);
            let (e, _, _) = export_tiny(&arch, &F32);
            verify(&e.bytes, &e, &arch, &F32).unwrap();
            let m = decoded(&e);
            let g = m.graph.as_ref().unwrap();
            let names: Vec<&str> = g.initializer.iter().map(|t| t.name()).collect();
            for p in crate::model::parameter_shapes(&arch) {
                if !crate::model::is_nbt(&p.name) {
                    assert!(names.contains(&p.name.as_str()), "{}", p.name);
                }
            }
            assert_eq!(g.input[0].name(), INPUT);
            assert_eq!(g.output.len(), 1);
            assert_eq!(g.output[0].name(), LOGITS);
            let silu = g.node.iter().filter(|n| n.op_type() == "Sigmoid").count();
            // SiLU only where timm uses the architecture's activation: the
            // stem and conv5_bn_ac.
            assert_eq!(silu, if act == Activation::Silu { 2 } else { 0 });
        }
    }

    /// --fold-bn folds the stem's BatchNorm and two per block, no other.
    #[test]
    fn folding_takes_the_batch_norms_after_convolutions() {
        let arch = tiny(false, Activation::Relu);
        let o = Options {
            fold_bn: true,
            features: true,
            ..F32
        };
        let (e, _, _) = export_tiny(&arch, &o);
        let blocks: usize = arch.k_sec.iter().sum::<usize>();
        assert_eq!(e.folded, 1 + 2 * blocks);
        verify(&e.bytes, &e, &arch, &o).unwrap();
        let m = decoded(&e);
        let g = m.graph.as_ref().unwrap();
        let bn = g
            .node
            .iter()
            .filter(|n| n.op_type() == "BatchNormalization")
            .count();
        // Left: each block's c1x1_a, the projections (one per stage), conv5_bn_ac.
        assert_eq!(bn, blocks + 4 + 1);
        assert_eq!(g.output[1].name(), FEATURES);
    }

    /// The read-back check fails on a changed byte or a truncated file.
    #[test]
    fn a_damaged_file_fails_the_check() {
        let arch = tiny(false, Activation::Relu);
        let (e, _, _) = export_tiny(&arch, &F32);
        let mut flipped = e.bytes.clone();
        let at = flipped.len() / 2;
        flipped[at] ^= 0x10;
        for bad in [&flipped[..], &e.bytes[..e.bytes.len() - 100]] {
            let err = verify(bad, &e, &arch, &F32).unwrap_err();
            assert_eq!(error::exit_code(&err), 4, "{err:#}");
        }
    }

    /// f16 and bf16 graphs: every weight in the element type, the opset
    /// that has it, and the values those of the f32 weights rounded once.
    #[test]
    fn reduced_precision_casts_every_weight_once() {
        let arch = tiny(true, Activation::Relu);
        for (p, ty, opset) in [
            (
                Precision::F16,
                proto::tensor_proto::DataType::Float16,
                OPSET,
            ),
            (
                Precision::Bf16,
                proto::tensor_proto::DataType::Bfloat16,
                OPSET_BF16,
            ),
        ] {
            let o = Options {
                precision: p,
                batch: Some(2),
                ..F32
            };
            let (e, _, vs) = export_tiny(&arch, &o);
            verify(&e.bytes, &e, &arch, &o).unwrap();
            let m = decoded(&e);
            assert_eq!(m.opset_import[0].version(), opset);
            let g = m.graph.as_ref().unwrap();
            let w = g
                .initializer
                .iter()
                .find(|t| t.name() == "classifier.weight")
                .unwrap();
            assert_eq!(w.data_type(), ty as i32);
            let want = vs.variables()["classifier.weight"].to_kind(p.kind());
            let mut raw = vec![0u8; w.raw_data().len()];
            want.copy_data_u8(&mut raw, want.numel());
            assert_eq!(w.raw_data(), &raw[..]);
            let dims = |v: &proto::ValueInfoProto| match &v.r#type.as_ref().unwrap().value {
                Some(proto::type_proto::Value::TensorType(t)) => {
                    (t.elem_type(), t.shape.as_ref().unwrap().dim.len())
                }
                _ => panic!("not a tensor"),
            };
            assert_eq!(dims(&g.input[0]), (ty as i32, 4));
        }
    }
}
