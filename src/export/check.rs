//! The read-back check `dpn export` runs on the file it wrote, before it
//! reports success: the bytes are exactly those encoded, they decode as an
//! ONNX model, the graph is well formed, and its weights have the network's
//! shapes.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use prost::Message;

use super::proto::{tensor_proto::DataType, ModelProto, TensorProto};
use crate::arch::ParamShape;
use crate::sys::error;

/// Checks `bytes` (as read back from disk) against `expected`, the encoded
/// model that was written. `params` are the network's state-dict keys and
/// shapes; with `all_params`, every weight (but `num_batches_tracked`) must
/// be in the graph (an export without folding keeps them all).
pub fn check(bytes: &[u8], expected: &[u8], params: &[ParamShape], all_params: bool) -> Result<()> {
    let fail = |why: String| error::verification(format!("the written ONNX file {why}"));
    // Equal bytes decode to the message they were encoded from.
    if bytes != expected {
        return Err(fail(
            "does not read back as the model that was built".into(),
        ));
    }
    let model = ModelProto::decode(bytes)
        .map_err(|e| fail(format!("does not decode as an ONNX model ({e})")))?;
    well_formed(&model).map_err(|why| fail(format!("is malformed: {why}")))?;
    let graph = model.graph.as_ref().expect("checked by well_formed");
    let shapes: HashMap<&str, &[i64]> = params
        .iter()
        .map(|p| (p.name.as_str(), p.shape.as_slice()))
        .collect();
    let mut seen = HashSet::new();
    for t in &graph.initializer {
        let name = t.name();
        if let Some(shape) = shapes.get(name) {
            if t.dims != *shape {
                return Err(fail(format!(
                    "has {name} of shape {:?}; the network's is {shape:?}",
                    t.dims
                )));
            }
            seen.insert(name);
        }
    }
    if all_params {
        if let Some(missing) = params
            .iter()
            .find(|p| !crate::model::is_nbt(&p.name) && !seen.contains(p.name.as_str()))
        {
            return Err(fail(format!("lacks the weight {}", missing.name)));
        }
    }
    Ok(())
}

/// Every value read is defined before (a graph input, an initializer or an
/// earlier node's output), defined once, every output is made, and every
/// initializer holds as many bytes as its shape and type need.
fn well_formed(model: &ModelProto) -> std::result::Result<(), String> {
    let graph = model.graph.as_ref().ok_or("no graph")?;
    if model.opset_import.is_empty() {
        return Err("no operator set is imported".into());
    }
    let mut defined: HashSet<&str> = HashSet::new();
    for v in &graph.input {
        define(&mut defined, v.name())?;
    }
    for t in &graph.initializer {
        check_data(t)?;
        define(&mut defined, t.name())?;
    }
    for n in &graph.node {
        if let Some(i) = n.input.iter().find(|i| !defined.contains(i.as_str())) {
            return Err(format!(
                "node {} reads {i}, which nothing defines before it",
                n.name()
            ));
        }
        for o in &n.output {
            define(&mut defined, o)?;
        }
    }
    if let Some(o) = graph.output.iter().find(|o| !defined.contains(o.name())) {
        return Err(format!("the output {} is not computed", o.name()));
    }
    Ok(())
}

fn define<'a>(defined: &mut HashSet<&'a str>, name: &'a str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("a value has an empty name".into());
    }
    if !defined.insert(name) {
        return Err(format!("{name} is defined twice"));
    }
    Ok(())
}

fn check_data(t: &TensorProto) -> std::result::Result<(), String> {
    let size = match DataType::try_from(t.data_type()) {
        Ok(DataType::Float) => 4,
        Ok(DataType::Float16 | DataType::Bfloat16) => 2,
        Ok(DataType::Int64) => 8,
        _ => {
            return Err(format!(
                "{} has the element type {}",
                t.name(),
                t.data_type()
            ))
        }
    };
    let numel: i64 = t.dims.iter().product();
    if t.raw_data().len() as i64 != numel * size {
        return Err(format!(
            "{} holds {} bytes for {numel} elements",
            t.name(),
            t.raw_data().len()
        ));
    }
    Ok(())
}
