//! A recorded [`Graph`] as an ONNX `ModelProto`.

use anyhow::Result;
use tch::{Kind, Tensor};

use super::graph::{Attr, Graph};
use super::proto::{
    attribute_proto::AttributeType, tensor_proto::DataType, tensor_shape_proto::dimension,
    tensor_shape_proto::Dimension, type_proto, AttributeProto, GraphProto, ModelProto, NodeProto,
    OperatorSetIdProto, StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto,
    ValueInfoProto,
};
use crate::weights::health;

/// One dimension of a graph input or output: fixed, or named and free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    Fixed(i64),
    Named(&'static str),
}

/// What the model declares beyond its nodes.
pub struct Header<'a> {
    pub name: &'a str,
    pub opset: i64,
    pub ir_version: i64,
    /// The element type of the input, the outputs and every weight.
    pub kind: Kind,
    pub inputs: Vec<(&'a str, Vec<Dim>)>,
    pub outputs: Vec<(&'a str, Vec<Dim>)>,
    pub doc: String,
    pub metadata: Vec<(String, String)>,
}

/// The ONNX element type of `kind` (the kinds an export writes).
pub fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Float => DataType::Float,
        Kind::Half => DataType::Float16,
        Kind::BFloat16 => DataType::Bfloat16,
        Kind::Int64 => DataType::Int64,
        other => unreachable!("no export writes {other:?}"),
    }
}

/// The model, and the initializers that hold NaN or infinite values as
/// written (after the cast to `h.kind`: 1e6 is infinite in f16), with how
/// many.
pub fn encode(g: &Graph, h: &Header) -> Result<(ModelProto, Vec<(String, u64)>)> {
    let mut non_finite = Vec::new();
    let mut initializer = Vec::with_capacity(g.initializers.len());
    for i in &g.initializers {
        let (proto, cast) = tensor(&i.name, &i.tensor, h.kind);
        non_finite.extend(health::check([(i.name.as_str(), &cast)])?.non_finite);
        initializer.push(proto);
    }
    let graph = GraphProto {
        name: Some(h.name.to_string()),
        node: g.nodes.iter().map(node).collect(),
        initializer,
        input: h
            .inputs
            .iter()
            .map(|(n, d)| value_info(n, d, h.kind))
            .collect(),
        output: h
            .outputs
            .iter()
            .map(|(n, d)| value_info(n, d, h.kind))
            .collect(),
        ..Default::default()
    };
    let model = ModelProto {
        ir_version: Some(h.ir_version),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(h.opset),
        }],
        producer_name: Some("dpn".into()),
        producer_version: Some(env!("CARGO_PKG_VERSION").into()),
        model_version: Some(1),
        doc_string: Some(h.doc.clone()),
        graph: Some(graph),
        metadata_props: h
            .metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: Some(k.clone()),
                value: Some(v.clone()),
            })
            .collect(),
        ..Default::default()
    };
    Ok((model, non_finite))
}

fn node(n: &super::graph::Node) -> NodeProto {
    NodeProto {
        input: n.inputs.clone(),
        output: n.outputs.clone(),
        name: Some(n.name.clone()),
        op_type: Some(n.op.to_string()),
        domain: Some(String::new()),
        attribute: n.attrs.iter().map(|(k, v)| attribute(k, v)).collect(),
        ..Default::default()
    }
}

fn attribute(name: &str, v: &Attr) -> AttributeProto {
    let mut a = AttributeProto {
        name: Some(name.to_string()),
        ..Default::default()
    };
    match v {
        Attr::Int(i) => {
            a.r#type = Some(AttributeType::Int as i32);
            a.i = Some(*i);
        }
        Attr::Ints(v) => {
            a.r#type = Some(AttributeType::Ints as i32);
            a.ints = v.clone();
        }
        Attr::Float(f) => {
            a.r#type = Some(AttributeType::Float as i32);
            a.f = Some(*f);
        }
    }
    a
}

/// A weight cast once to `kind` (integer constants keep their type), as
/// little-endian `raw_data`, which ONNX specifies; with the cast tensor.
fn tensor(name: &str, t: &Tensor, kind: Kind) -> (TensorProto, Tensor) {
    let kind = if t.kind() == Kind::Int64 {
        Kind::Int64
    } else {
        kind
    };
    let t = t
        .detach()
        .to_device(tch::Device::Cpu)
        .to_kind(kind)
        .contiguous();
    let numel = t.numel();
    let mut raw = vec![0u8; numel * kind.elt_size_in_bytes()];
    t.copy_data_u8(&mut raw, numel);
    let proto = TensorProto {
        dims: t.size(),
        data_type: Some(data_type(kind) as i32),
        name: Some(name.to_string()),
        raw_data: Some(raw),
        ..Default::default()
    };
    (proto, t)
}

fn value_info(name: &str, dims: &[Dim], kind: Kind) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => dimension::Value::DimValue(*n),
                Dim::Named(s) => dimension::Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    ValueInfoProto {
        name: Some(name.to_string()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(data_type(kind) as i32),
                shape: Some(TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}
