//! The validation pass at the end of an epoch, scored as `dpn evaluate`
//! scores.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Result;

use crate::data::{BatchLoader, ImageTransform, Item, LoaderOptions};
use crate::dist::{shard, Group};
use crate::metrics::tally::Expected;
use crate::metrics::{score, Tally};
use crate::model::infer::{self, RunOptions};
use crate::model::Dpn;

/// Validation results: mean loss (plain cross-entropy), top-1 and top-k
/// accuracy in percent (k = min(5, classes), as timm's validate), the
/// images that could not be read. Scored by [`crate::metrics`], as
/// `dpn evaluate` scores; all three figures are NaN when any image gave NaN
/// or infinite logits.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub loss: f64,
    pub top1: f64,
    pub top5: f64,
    pub images: u64,
    pub failures: Vec<(PathBuf, String)>,
}

/// Evaluates `model` on `items`; `None` when `stop` was set meanwhile.
/// With a `group`, each rank evaluates its share (`dist::shard::eval_share`)
/// and the figures are those of the whole set, on every rank; `images`
/// counts the whole set's, `failures` this rank's.
pub fn validate(
    model: &Dpn,
    items: &[Item],
    transform: Arc<dyn ImageTransform>,
    opts: &RunOptions,
    loader_opts: LoaderOptions,
    stop: &AtomicBool,
    group: Option<&Group>,
) -> Result<Option<Validation>> {
    let share: Vec<Item> = match group {
        Some(g) => shard::eval_share(items.len(), g.rank(), g.world())
            .map(|i| items[i].clone())
            .collect(),
        None => items.to_vec(),
    };
    let loader = BatchLoader::new(share, transform, loader_opts)?;
    let mut tally = Tally::new(model.num_classes());
    let mut failures = Vec::new();
    // Test hook: a run in f64 validates in f64.
    #[cfg(feature = "test-hooks")]
    let f64_hook = test_f64();
    for batch in loader {
        let batch = batch?;
        // A distributed pass runs to its end: the ranks meet once, after it,
        // and the training loop checks for a signal at its next step.
        if group.is_none() && stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        failures.extend(
            batch
                .failures
                .iter()
                .map(|f| (f.path.clone(), f.error.clone())),
        );
        if batch.is_empty() {
            continue;
        }
        let ys = batch
            .label_tensor()
            .ok_or_else(|| anyhow::anyhow!("validation image without a label"))?;
        #[cfg(feature = "test-hooks")]
        let logits = if f64_hook {
            use crate::model::infer::Forward;
            let xs = batch.images.to_kind(tch::Kind::Double);
            tch::no_grad(|| model.logits(&xs).to_kind(tch::Kind::Float))
        } else {
            infer::infer(model, &batch.images, opts)
        };
        #[cfg(not(feature = "test-hooks"))]
        let logits = infer::infer(model, &batch.images, opts);
        score(&logits, &ys, &mut tally)?;
    }
    let tally = match group {
        Some(g) => tally.all_ranks(
            g,
            &Expected::shares(
                &items.iter().map(|i| i.label).collect::<Vec<_>>(),
                g.world(),
                model.num_classes(),
            ),
        )?,
        None => tally,
    };
    // Figures of the finite outputs alone would flatter a broken model.
    let broken = tally.non_finite > 0;
    let nan_if = |bad: bool, v: f64| if bad { f64::NAN } else { v };
    Ok(Some(Validation {
        loss: nan_if(broken || tally.images == 0, tally.mean_loss()),
        top1: nan_if(broken, tally.top1()),
        top5: nan_if(broken, tally.top5()),
        images: tally.images,
        failures,
    }))
}

/// Test hook: with `DPN_TEST_TRAIN_F64=1` the model and its batches are f64,
/// so that a comparison with a reference over many updates is not swamped
/// by f32 rounding, which training on small batches amplifies step by step
/// (see tests/dist.rs).
#[cfg(feature = "test-hooks")]
pub(super) fn test_f64() -> bool {
    std::env::var_os("DPN_TEST_TRAIN_F64").is_some_and(|v| v == "1")
}
