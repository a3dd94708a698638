//! The shape of a DPN, worked out from its [`ArchSpec`] without building it.
//!
//! One plan serves the tch model (which layers, how many channels), parameter
//! counting and, analytically, every per-layer figure the toolkit reports.

use crate::registry::ArchSpec;

/// How a block starts: with a projection of its input (first block of a
/// stage) or straight from the incoming (resid, dense) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// First block of stage 2: 1x1 projection, stride 1 (`c1x1_w_s1`).
    Proj,
    /// First block of stages 3-5: 1x1 projection, stride 2 (`c1x1_w_s2`).
    Down,
    Normal,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockPlan {
    /// timm's module name, e.g. `conv3_1`.
    pub name: String,
    pub kind: BlockKind,
    /// Channels entering the block (resid + dense, concatenated).
    pub in_chs: usize,
    /// Bottleneck width of the grouped 3x3.
    pub r: usize,
    /// Width of the residual path.
    pub bw: usize,
    /// Channels each block adds to the dense path.
    pub inc: usize,
    pub groups: usize,
    pub stride: usize,
    pub b: bool,
}

impl BlockPlan {
    pub fn out_chs(&self) -> usize {
        match self.kind {
            BlockKind::Proj | BlockKind::Down => self.bw + 3 * self.inc,
            BlockKind::Normal => self.in_chs + self.inc,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StagePlan {
    /// 2..=5, as in timm's `conv{index}_*` names.
    pub index: usize,
    pub bw: usize,
    pub r: usize,
    pub blocks: Vec<BlockPlan>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub in_chans: usize,
    pub stem_out: usize,
    pub stem_kernel: usize,
    pub stages: Vec<StagePlan>,
    /// Channels entering `conv5_bn_ac` and the classifier.
    pub num_features: usize,
    pub num_classes: usize,
}

impl Plan {
    pub fn new(spec: &ArchSpec) -> Plan {
        let bw_factor = if spec.small { 1 } else { 4 };
        let mut in_chs = spec.init_features;
        let mut stages = Vec::with_capacity(4);
        for s in 0..4 {
            let bw = [64, 128, 256, 512][s] * bw_factor;
            let inc = spec.inc_sec[s];
            let r = spec.k_r * bw / (64 * bw_factor);
            let index = s + 2;
            let mut blocks = Vec::with_capacity(spec.k_sec[s]);
            for i in 0..spec.k_sec[s] {
                let kind = match (i, s) {
                    (0, 0) => BlockKind::Proj,
                    (0, _) => BlockKind::Down,
                    _ => BlockKind::Normal,
                };
                let block = BlockPlan {
                    name: format!("conv{index}_{}", i + 1),
                    kind,
                    in_chs,
                    r,
                    bw,
                    inc,
                    groups: spec.groups,
                    stride: if kind == BlockKind::Down { 2 } else { 1 },
                    b: spec.b,
                };
                in_chs = block.out_chs();
                blocks.push(block);
            }
            stages.push(StagePlan {
                index,
                bw,
                r,
                blocks,
            });
        }
        Plan {
            in_chans: spec.in_chans,
            stem_out: spec.init_features,
            stem_kernel: if spec.small { 3 } else { 7 },
            stages,
            num_features: in_chs,
            num_classes: spec.num_classes,
        }
    }

    pub fn blocks(&self) -> impl Iterator<Item = &BlockPlan> {
        self.stages.iter().flat_map(|s| s.blocks.iter())
    }

    /// Learnable parameters, counted as PyTorch's `numel` over `parameters()`:
    /// conv weights, BatchNorm weight and bias, classifier weight and bias.
    pub fn parameter_count(&self) -> u64 {
        self.numel(true)
    }

    /// BatchNorm buffers (running mean and variance, plus the scalar
    /// `num_batches_tracked`), counted as PyTorch's `numel` over `buffers()`.
    pub fn buffer_count(&self) -> u64 {
        self.numel(false)
    }

    fn numel(&self, trainable: bool) -> u64 {
        self.parameter_shapes()
            .iter()
            .filter(|p| p.trainable == trainable)
            .map(|p| p.shape.iter().product::<i64>() as u64)
            .sum()
    }
}

/// One entry of an architecture's state dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamShape {
    pub name: String,
    pub shape: Vec<i64>,
    /// A learnable parameter (true) or a BatchNorm buffer (false).
    pub trainable: bool,
}

const NBT: &str = "num_batches_tracked";

impl Plan {
    /// Every key of timm's state dict, in timm's order, with its shape (no
    /// tensors are allocated).
    pub fn parameter_shapes(&self) -> Vec<ParamShape> {
        let plan = self;
        let mut out = Vec::new();
        let mut push = |name: String, shape: Vec<usize>, trainable: bool| {
            out.push(ParamShape {
                name,
                shape: shape.into_iter().map(|d| d as i64).collect(),
                trainable,
            })
        };
        let bn = |push: &mut dyn FnMut(String, Vec<usize>, bool), prefix: &str, c: usize| {
            push(format!("{prefix}.bn.weight"), vec![c], true);
            push(format!("{prefix}.bn.bias"), vec![c], true);
            push(format!("{prefix}.bn.running_mean"), vec![c], false);
            push(format!("{prefix}.bn.running_var"), vec![c], false);
            push(format!("{prefix}.bn.{NBT}"), vec![], false);
        };
        let k = plan.stem_kernel;
        push(
            "features.conv1_1.conv.weight".into(),
            vec![plan.stem_out, plan.in_chans, k, k],
            true,
        );
        bn(&mut push, "features.conv1_1", plan.stem_out);
        for b in plan.blocks() {
            let p = format!("features.{}", b.name);
            let bn_conv = |push: &mut dyn FnMut(String, Vec<usize>, bool),
                           sub: &str,
                           cin: usize,
                           shape: Vec<usize>| {
                bn(push, &format!("{p}.{sub}"), cin);
                push(format!("{p}.{sub}.conv.weight"), shape, true);
            };
            match b.kind {
                BlockKind::Proj => bn_conv(
                    &mut push,
                    "c1x1_w_s1",
                    b.in_chs,
                    vec![b.bw + 2 * b.inc, b.in_chs, 1, 1],
                ),
                BlockKind::Down => bn_conv(
                    &mut push,
                    "c1x1_w_s2",
                    b.in_chs,
                    vec![b.bw + 2 * b.inc, b.in_chs, 1, 1],
                ),
                BlockKind::Normal => {}
            }
            bn_conv(&mut push, "c1x1_a", b.in_chs, vec![b.r, b.in_chs, 1, 1]);
            bn_conv(&mut push, "c3x3_b", b.r, vec![b.r, b.r / b.groups, 3, 3]);
            if b.b {
                bn(&mut push, &format!("{p}.c1x1_c"), b.r);
                push(format!("{p}.c1x1_c1.weight"), vec![b.bw, b.r, 1, 1], true);
                push(format!("{p}.c1x1_c2.weight"), vec![b.inc, b.r, 1, 1], true);
            } else {
                bn_conv(&mut push, "c1x1_c", b.r, vec![b.bw + b.inc, b.r, 1, 1]);
            }
        }
        bn(&mut push, "features.conv5_bn_ac", plan.num_features);
        push(
            "classifier.weight".into(),
            vec![plan.num_classes, plan.num_features, 1, 1],
            true,
        );
        push("classifier.bias".into(), vec![plan.num_classes], true);
        out
    }
}
