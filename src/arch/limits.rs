//! The largest networks and inputs dpn accepts (docs/conventions.md,
//! "Limits on sizes").
//!
//! Every size a user or a file chooses is checked against these before
//! anything is allocated from it: a typo such as `--num-classes 100000000000`
//! or a model index that says `K Sec: [1000000, 1, 1, 1]` is one line and an
//! exit code, not a capacity-overflow panic or a machine swapping for
//! minutes before the kernel kills dpn. The ceilings sit far above every real
//! DPN (dpn107: 87 M parameters, 4 stages of at most 28 blocks) and below what
//! would not fit in memory anyway.

use crate::arch::{ArchSpec, BlockKind, Plan};

/// Largest input side: 4096 px is 18 times ImageNet's 224 px in area, and
/// one 4096x4096 RGB image is already 201 MB as f32 before the network's own
/// activations (which grow with the area).
pub const MAX_IMAGE_SIZE: usize = 4096;

/// Most classifier outputs: ImageNet-21k has 21,841 classes; 100,000 on
/// dpn107's 2,688 features is a 1 GB classifier.
pub const MAX_NUM_CLASSES: usize = 100_000;

/// Most input channels (`In Chans`).
pub const MAX_IN_CHANS: usize = 256;

/// Most channels of any width field (`Init Features`, `K R`, `Groups`,
/// each `Inc Sec`); the released models use at most 200.
pub const MAX_WIDTH: usize = 4096;

/// Most blocks in one stage (each `K Sec`); dpn131 has 28.
pub const MAX_BLOCKS: usize = 256;

/// Most learnable parameters of a network: 4 GB of f32 weights, 11 times
/// dpn107.
pub const MAX_PARAMETERS: u64 = 1_000_000_000;

/// Checks every field of `spec` against its limit, then the parameter count
/// the fields imply. The error names the field (as the model index spells it)
/// and the limit.
pub fn check(spec: &ArchSpec) -> Result<(), String> {
    let within = |v: usize, max: usize, what: &str| {
        if v > max {
            return Err(format!("{what} is {v}; dpn accepts at most {max}"));
        }
        Ok(())
    };
    within(spec.init_features, MAX_WIDTH, "Init Features")?;
    within(spec.k_r, MAX_WIDTH, "K R")?;
    within(spec.groups, MAX_WIDTH, "Groups")?;
    within(spec.num_classes, MAX_NUM_CLASSES, "Num Classes")?;
    within(spec.in_chans, MAX_IN_CHANS, "In Chans")?;
    for (i, &k) in spec.k_sec.iter().enumerate() {
        within(k, MAX_BLOCKS, &format!("K Sec[{i}]"))?;
    }
    for (i, &inc) in spec.inc_sec.iter().enumerate() {
        within(inc, MAX_WIDTH, &format!("Inc Sec[{i}]"))?;
    }
    // Within the limits above no product overflows a u64: channels stay below
    // 2^22 and a layer's weights below 2^45.
    let params = parameter_count(&Plan::new(spec));
    if params > MAX_PARAMETERS {
        return Err(format!(
            "these settings make a network of {params} parameters; dpn accepts at most {MAX_PARAMETERS}"
        ));
    }
    Ok(())
}

/// Learnable parameters of a plan, from its channel counts alone (the same
/// figure as `model::parameter_count`, which walks the network definition;
/// a unit test there keeps the two equal). Only [`check`] uses it, before a
/// network is built.
pub fn parameter_count(plan: &Plan) -> u64 {
    let n = |v: usize| v as u64;
    let bn = |c: usize| 2 * n(c);
    let k = n(plan.stem_kernel);
    let mut total = n(plan.in_chans) * n(plan.stem_out) * k * k + bn(plan.stem_out);
    for b in plan.blocks() {
        if b.kind != BlockKind::Normal {
            total += bn(b.in_chs) + n(b.in_chs) * n(b.bw + 2 * b.inc);
        }
        total += bn(b.in_chs) + n(b.in_chs) * n(b.r);
        total += bn(b.r) + n(b.r) * n(b.r.checked_div(b.groups).unwrap_or(0)) * 9;
        // c1x1_c: one convolution to bw + inc, or (b-variants) two to bw and
        // inc; the same weights either way.
        total += bn(b.r) + n(b.r) * n(b.bw + b.inc);
    }
    total + bn(plan.num_features) + n(plan.num_features + 1) * n(plan.num_classes)
}
