//! Analytic MACs and activation counts, from the plan alone (no model run).
//!
//! Conventions are fvcore's, which timm's benchmark tables use: a convolution
//! costs `out_elements x in_channels / groups x kh x kw` multiply-adds (bias
//! not counted), an eval-mode affine BatchNorm 2 per output element, the
//! global average pool 1 per input element; ReLU, ELU, SiLU, max-pool, add
//! and concatenation cost nothing. Activations are the elements that
//! convolutions output (fvcore's `ActivationCountAnalysis`).

use crate::arch::{limits, BlockKind, Plan};

/// Which part of the network a figure belongs to (`--by-stage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Stem,
    /// conv2 .. conv5 (the value is timm's stage index, 2..=5).
    Conv(usize),
    Head,
}

impl Stage {
    pub fn name(self) -> String {
        match self {
            Stage::Stem => "stem".to_string(),
            Stage::Conv(i) => format!("conv{i}"),
            Stage::Head => "head".to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub conv_macs: u64,
    pub bn_macs: u64,
    pub pool_macs: u64,
    pub activations: u64,
}

impl Counts {
    pub fn total_macs(&self) -> u64 {
        self.conv_macs + self.bn_macs + self.pool_macs
    }

    fn add(&mut self, other: &Counts) {
        self.conv_macs += other.conv_macs;
        self.bn_macs += other.bn_macs;
        self.pool_macs += other.pool_macs;
        self.activations += other.activations;
    }
}

/// Per-stage counts for one image of `height x width`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub stages: Vec<(Stage, Counts)>,
}

impl Profile {
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for (_, c) in &self.stages {
            t.add(c);
        }
        t
    }
}

/// Output side of a convolution or pool (PyTorch's floor rule, dilation 1).
fn out_size(size: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    (size + 2 * pad).saturating_sub(kernel) / stride + 1
}

struct Counter {
    c: Counts,
}

impl Counter {
    fn conv(&mut self, cin: usize, cout: usize, k: usize, groups: usize, out_hw: (usize, usize)) {
        let out = (cout * out_hw.0 * out_hw.1) as u64;
        self.c.conv_macs += out * (cin / groups * k * k) as u64;
        self.c.activations += out;
    }

    fn bn(&mut self, c: usize, hw: (usize, usize)) {
        self.c.bn_macs += 2 * (c * hw.0 * hw.1) as u64;
    }
}

/// The smallest input side the networks accept: five stride-2 steps must
/// leave at least one pixel, and below 32 px the figures stop meaning much.
pub const MIN_IMAGE_SIZE: usize = 32;

/// `--img-size` of every command: a usage error below [`MIN_IMAGE_SIZE`] or
/// above [`limits::MAX_IMAGE_SIZE`] (docs/conventions.md, "Limits on sizes").
pub fn check_image_size(size: usize) -> anyhow::Result<()> {
    if size < MIN_IMAGE_SIZE {
        return Err(crate::sys::error::usage(format!(
            "--img-size {size} is too small: DPNs downsample by 32, so the input must be at least {MIN_IMAGE_SIZE} px"
        )));
    }
    if size > limits::MAX_IMAGE_SIZE {
        return Err(crate::sys::error::usage(format!(
            "--img-size {size} is too large: dpn accepts at most {} px (one image of 4096 px is already 201 MB as f32)",
            limits::MAX_IMAGE_SIZE
        )));
    }
    Ok(())
}

/// What one image of `height x width` can take in a forward pass, in
/// bytes: its input as the f32 batch is made, and every convolution's
/// output (the activation count) at `elem_bytes` each. Inference frees
/// most outputs as it goes, so the peak is lower; the sum leaves room for
/// the BatchNorm, activation and concatenation results that are not
/// counted, and is what `profile` plans a batch by.
pub fn bytes_per_image(plan: &Plan, height: usize, width: usize, elem_bytes: u64) -> u64 {
    let input = (plan.in_chans * height * width) as u64 * 4;
    let acts = profile(plan, height, width).total().activations;
    input.saturating_add(acts.saturating_mul(elem_bytes))
}

pub fn profile(plan: &Plan, height: usize, width: usize) -> Profile {
    let mut stages = Vec::new();
    let mut ctr = Counter {
        c: Counts::default(),
    };

    let p = plan.stem_kernel / 2;
    let mut hw = (
        out_size(height, plan.stem_kernel, 2, p),
        out_size(width, plan.stem_kernel, 2, p),
    );
    ctr.conv(plan.in_chans, plan.stem_out, plan.stem_kernel, 1, hw);
    ctr.bn(plan.stem_out, hw);
    hw = (out_size(hw.0, 3, 2, 1), out_size(hw.1, 3, 2, 1));
    stages.push((Stage::Stem, std::mem::take(&mut ctr.c)));

    for stage in &plan.stages {
        for b in &stage.blocks {
            let in_hw = hw;
            let out_hw = (
                out_size(in_hw.0, 3, b.stride, 1),
                out_size(in_hw.1, 3, b.stride, 1),
            );
            if b.kind != BlockKind::Normal {
                // The projection's 1x1 conv has no padding; at stride 2 its
                // output side is the same as the 3x3's with padding 1.
                ctr.bn(b.in_chs, in_hw);
                ctr.conv(
                    b.in_chs,
                    b.bw + 2 * b.inc,
                    1,
                    1,
                    (
                        out_size(in_hw.0, 1, b.stride, 0),
                        out_size(in_hw.1, 1, b.stride, 0),
                    ),
                );
            }
            ctr.bn(b.in_chs, in_hw);
            ctr.conv(b.in_chs, b.r, 1, 1, in_hw);
            ctr.bn(b.r, in_hw);
            ctr.conv(b.r, b.r, 3, b.groups, out_hw);
            ctr.bn(b.r, out_hw);
            if b.b {
                ctr.conv(b.r, b.bw, 1, 1, out_hw);
                ctr.conv(b.r, b.inc, 1, 1, out_hw);
            } else {
                ctr.conv(b.r, b.bw + b.inc, 1, 1, out_hw);
            }
            hw = out_hw;
        }
        stages.push((Stage::Conv(stage.index), std::mem::take(&mut ctr.c)));
    }

    ctr.bn(plan.num_features, hw);
    ctr.c.pool_macs += (plan.num_features * hw.0 * hw.1) as u64;
    ctr.conv(plan.num_features, plan.num_classes, 1, 1, (1, 1));
    stages.push((Stage::Head, ctr.c));
    Profile { stages }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    /// docs/conventions.md, "Counting conventions": conv, batch_norm, avg pool at 224 px.
    const TABLE: [(&str, u64, u64, u64); 6] = [
        ("dpn48b", 1_665_044_480, 20_484_352, 40_768),
        ("dpn68", 2_326_163_456, 24_435_712, 40_768),
        ("dpn92", 6_501_684_224, 41_570_816, 131_712),
        ("dpn98", 11_671_217_152, 57_476_608, 131_712),
        ("dpn131", 16_013_648_896, 77_647_360, 131_712),
        ("dpn107", 18_298_764_288, 82_156_928, 131_712),
    ];

    #[test]
    fn an_image_costs_its_input_and_activations() {
        let reg = Registry::load(None).unwrap();
        let plan = Plan::new(&reg.get("dpn68").unwrap().arch);
        let acts = profile(&plan, 224, 224).total().activations;
        assert_eq!(
            bytes_per_image(&plan, 224, 224, 4),
            3 * 224 * 224 * 4 + acts * 4
        );
        assert_eq!(
            bytes_per_image(&plan, 224, 224, 2),
            3 * 224 * 224 * 4 + acts * 2
        );
        assert!(bytes_per_image(&plan, 448, 448, 4) > 3 * bytes_per_image(&plan, 224, 224, 4));
    }

    #[test]
    fn macs_match_reference_at_224() {
        let reg = Registry::load(None).unwrap();
        for (name, conv, bn, pool) in TABLE {
            let t = profile(&Plan::new(&reg.get(name).unwrap().arch), 224, 224).total();
            assert_eq!(
                (t.conv_macs, t.bn_macs, t.pool_macs),
                (conv, bn, pool),
                "{name}"
            );
        }
        let t = profile(&Plan::new(&reg.get("dpn68b").unwrap().arch), 224, 224).total();
        assert_eq!(t.total_macs(), 2_350_639_936);
    }
}
