//! The shape of a DPN, worked out from its [`ArchSpec`] without building it.
//!
//! One plan serves the tch model (which layers, how many channels) and,
//! analytically, every per-layer cost the toolkit reports ([`cost`]). The
//! state-dict keys are not here: the network definition in `model` names
//! them, and `model::parameter_shapes` walks it.

pub mod cost;
pub mod limits;
pub mod spec;

pub use spec::{Activation, ArchSpec};

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
}

/// One entry of an architecture's state dict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamShape {
    pub name: String,
    pub shape: Vec<i64>,
    /// A learnable parameter (true) or a BatchNorm buffer (false).
    pub trainable: bool,
}
