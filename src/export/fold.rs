//! `--fold-bn`: each BatchNormalization that reads nothing but a
//! convolution's output folded into that convolution.
//!
//! The same algebra as the inference network's ([`fold_conv_bn`],
//! docs/conventions.md "Folding"): per output channel, the weight times
//! `gamma / sqrt(var + eps)` and a bias of `beta - mean * scale`, computed in
//! f64 from the f32 weights and cast once when written. In a DPN that is the
//! stem's BatchNorm and, in every block, those in front of `c3x3_b` and
//! `c1x1_c`; the BatchNorms on a block's concatenated input stay nodes.

use super::graph::Graph;
use crate::model::fold::fold_conv_bn;
use crate::model::BN_EPS;

/// Folds what can be folded; returns how many BatchNorms went.
/// `outputs` are the graph's outputs (values read from outside).
pub fn fold_batch_norms(g: &mut Graph, outputs: &[&str]) -> usize {
    let readers = g.readers(outputs);
    let mut folded = 0;
    let mut i = 0;
    while i < g.nodes.len() {
        let bn = &g.nodes[i];
        let conv_at = (bn.op == "BatchNormalization")
            .then(|| {
                g.nodes[..i]
                    .iter()
                    .rposition(|n| n.op == "Conv" && n.outputs[0] == bn.inputs[0])
            })
            .flatten()
            .filter(|_| readers.get(&bn.inputs[0]) == Some(&1));
        let Some(c) = conv_at else {
            i += 1;
            continue;
        };
        let bn = g.nodes.remove(i);
        let conv = &g.nodes[c];
        let get = |k: usize, of: &[String]| {
            g.initializer(&of[k])
                .unwrap_or_else(|| panic!("{} is recorded with the graph", of[k]))
        };
        let (w, b) = fold_conv_bn(
            get(1, &conv.inputs),
            conv.inputs.get(2).and_then(|n| g.initializer(n)),
            get(1, &bn.inputs),
            get(2, &bn.inputs),
            get(3, &bn.inputs),
            get(4, &bn.inputs),
            BN_EPS,
        );
        let (w_name, b_name) = (conv.inputs[1].clone(), format!("{}.bias", conv.name));
        g.set_initializer(&w_name, w);
        g.set_initializer(&b_name, b);
        let conv = &mut g.nodes[c];
        conv.inputs.truncate(2);
        conv.inputs.push(b_name);
        // The convolution now makes the value the BatchNorm made.
        conv.outputs[0] = bn.outputs[0].clone();
        folded += 1;
    }
    g.remove_unused(outputs);
    folded
}
