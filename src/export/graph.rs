//! The network recorded as a graph of ONNX operators.
//!
//! [`Recorder`] implements the network's [`Ops`], so exporting is running
//! [`Dpn::walk_feature_map`] and [`Dpn::walk_head`], the same code that
//! computes, with every call written down as a node instead of computed.
//! Values are named after the node that makes them; a node holding weights
//! is named after them, so `features.conv2_1.c1x1_a.conv` reads
//! `features.conv2_1.c1x1_a.conv.weight`, timm's state-dict key.

use std::collections::HashMap;

use tch::{Kind, Tensor};

use crate::model::{Act, BatchNorm, Conv, Dpn, Ops, BN_EPS};

/// An attribute of a node, in the types dpn uses.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The ONNX operator (default domain).
    pub op: &'static str,
    pub name: String,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub attrs: Vec<(&'static str, Attr)>,
}

/// A constant input: a weight (floating point, cast to the export's dtype
/// when written) or an index list (`Int64`, written as is).
pub struct Initializer {
    pub name: String,
    pub tensor: Tensor,
}

/// Nodes in execution order and the constants they read.
#[derive(Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub initializers: Vec<Initializer>,
}

impl Graph {
    /// The network's forward pass as a graph from the input `input` to the
    /// outputs `logits` and, with `features`, `features` (the pooled
    /// embedding).
    pub fn record(model: &Dpn, input: &str, features: bool) -> Graph {
        let mut r = Recorder::default();
        let fmap = model.walk_feature_map(&mut r, &input.to_string());
        let (pooled, logits) = model.walk_head(&mut r, &fmap);
        let mut g = r.graph;
        g.rename(&logits, "logits");
        if features {
            g.rename(&pooled, "features");
        } else {
            g.remove_unused(&["logits"]);
        }
        g
    }

    /// The initializer called `name`.
    pub fn initializer(&self, name: &str) -> Option<&Tensor> {
        self.initializers
            .iter()
            .find(|i| i.name == name)
            .map(|i| &i.tensor)
    }

    /// Sets (or adds) the initializer `name`.
    pub fn set_initializer(&mut self, name: &str, tensor: Tensor) {
        match self.initializers.iter_mut().find(|i| i.name == name) {
            Some(i) => i.tensor = tensor,
            None => self.initializers.push(Initializer {
                name: name.to_string(),
                tensor,
            }),
        }
    }

    /// Gives the value `from` the name `to`, wherever it is made or read.
    fn rename(&mut self, from: &str, to: &str) {
        for n in &mut self.nodes {
            for v in n.inputs.iter_mut().chain(n.outputs.iter_mut()) {
                if v == from {
                    *v = to.to_string();
                }
            }
        }
    }

    /// How many nodes read each value; `outputs` count as readers too.
    pub fn readers(&self, outputs: &[&str]) -> HashMap<String, usize> {
        let mut n: HashMap<String, usize> = HashMap::new();
        for v in self
            .nodes
            .iter()
            .flat_map(|node| node.inputs.iter().map(String::as_str))
            .chain(outputs.iter().copied())
        {
            *n.entry(v.to_string()).or_default() += 1;
        }
        n
    }

    /// Drops nodes whose outputs nobody reads (repeatedly, so chains go
    /// whole) and initializers no node reads.
    pub fn remove_unused(&mut self, outputs: &[&str]) {
        loop {
            let readers = self.readers(outputs);
            let before = self.nodes.len();
            self.nodes
                .retain(|n| n.outputs.iter().any(|o| readers.contains_key(o)));
            if self.nodes.len() == before {
                break;
            }
        }
        let readers = self.readers(outputs);
        self.initializers.retain(|i| readers.contains_key(&i.name));
    }
}

/// Records [`Ops`] calls as nodes; a value is the name of a graph value.
#[derive(Default)]
struct Recorder {
    graph: Graph,
    /// Nodes made so far per operator, for the names of weightless nodes.
    counts: HashMap<&'static str, usize>,
}

impl Recorder {
    /// A weightless node `op` named `<op>_<k>`, returning its output.
    fn node(
        &mut self,
        op: &'static str,
        inputs: Vec<String>,
        attrs: Vec<(&'static str, Attr)>,
    ) -> String {
        let k = self.counts.entry(op).or_default();
        let name = format!("{op}_{k}");
        *k += 1;
        self.named(op, name, inputs, attrs)
    }

    fn named(
        &mut self,
        op: &'static str,
        name: String,
        inputs: Vec<String>,
        attrs: Vec<(&'static str, Attr)>,
    ) -> String {
        self.graph.nodes.push(Node {
            op,
            name: name.clone(),
            inputs,
            outputs: vec![name.clone()],
            attrs,
        });
        name
    }

    /// A weight (shared with the model: nothing is copied until encoding).
    fn weight(&mut self, name: String, t: &Tensor) -> String {
        self.graph.set_initializer(&name, t.shallow_clone());
        name
    }

    /// A one-element `Int64` constant, shared by every node that reads it.
    fn index(&mut self, v: i64) -> String {
        let name = format!("const_i64_{v}");
        if self.graph.initializer(&name).is_none() {
            self.graph
                .set_initializer(&name, Tensor::from_slice(&[v]).to_kind(Kind::Int64));
        }
        name
    }
}

impl Ops for Recorder {
    type Value = String;

    fn conv(&mut self, conv: &Conv, x: &String) -> String {
        let k = conv.weight.size();
        let mut inputs = vec![
            x.clone(),
            self.weight(format!("{}.weight", conv.name), &conv.weight),
        ];
        if let Some(b) = &conv.bias {
            inputs.push(self.weight(format!("{}.bias", conv.name), b));
        }
        let p = conv.padding;
        let attrs = vec![
            ("dilations", Attr::Ints(vec![1, 1])),
            ("group", Attr::Int(conv.groups)),
            ("kernel_shape", Attr::Ints(k[2..].to_vec())),
            ("pads", Attr::Ints(vec![p, p, p, p])),
            ("strides", Attr::Ints(vec![conv.stride, conv.stride])),
        ];
        self.named("Conv", conv.name.clone(), inputs, attrs)
    }

    fn bn_act(&mut self, bn: &BatchNorm, act: Act, x: &String) -> String {
        let inputs = vec![
            x.clone(),
            self.weight(format!("{}.weight", bn.name), &bn.weight),
            self.weight(format!("{}.bias", bn.name), &bn.bias),
            self.weight(format!("{}.running_mean", bn.name), &bn.running_mean),
            self.weight(format!("{}.running_var", bn.name), &bn.running_var),
        ];
        // ONNX's epsilon is a float attribute: 1e-3 rounds to f32 here,
        // a change of 5e-11 in it (docs/export.md, "Numerics").
        let attrs = vec![("epsilon", Attr::Float(BN_EPS as f32))];
        let y = self.named("BatchNormalization", bn.name.clone(), inputs, attrs);
        let act_name = format!("{}.act", bn.name);
        match act {
            Act::Relu => self.named("Relu", act_name, vec![y], vec![]),
            Act::Elu => self.named("Elu", act_name, vec![y], vec![("alpha", Attr::Float(1.0))]),
            // ONNX 17 has no SiLU operator: x * sigmoid(x), as exporters write it.
            Act::Silu => {
                let s = self.named(
                    "Sigmoid",
                    format!("{}.sigmoid", bn.name),
                    vec![y.clone()],
                    vec![],
                );
                self.named("Mul", act_name, vec![y, s], vec![])
            }
        }
    }

    fn max_pool(&mut self, x: &String) -> String {
        let attrs = vec![
            ("ceil_mode", Attr::Int(0)),
            ("kernel_shape", Attr::Ints(vec![3, 3])),
            ("pads", Attr::Ints(vec![1, 1, 1, 1])),
            ("strides", Attr::Ints(vec![2, 2])),
        ];
        self.node("MaxPool", vec![x.clone()], attrs)
    }

    fn narrow(&mut self, x: &String, start: i64, len: i64) -> String {
        let inputs = vec![
            x.clone(),
            self.index(start),
            self.index(start + len),
            self.index(1),
        ];
        self.node("Slice", inputs, vec![])
    }

    fn cat(&mut self, a: &String, b: &String) -> String {
        self.node(
            "Concat",
            vec![a.clone(), b.clone()],
            vec![("axis", Attr::Int(1))],
        )
    }

    fn add(&mut self, a: String, b: String) -> String {
        self.node("Add", vec![a, b], vec![])
    }

    fn global_pool(&mut self, x: &String) -> String {
        self.node("GlobalAveragePool", vec![x.clone()], vec![])
    }

    fn flatten(&mut self, x: &String) -> String {
        self.node("Flatten", vec![x.clone()], vec![("axis", Attr::Int(1))])
    }

    fn share(&mut self, x: &String) -> String {
        x.clone()
    }
}
