//! Training-mode BatchNorm over more than this process's batch (`dpn train
//! --sync-bn`): while [`scoped`] runs, every BatchNorm of a [`crate::model::Dpn`]
//! in train mode normalizes through the [`BatchNormSync`] it installs (the
//! process group's, `dist::Group`), instead of over its own batch.
//!
//! A thread-local rather than a field of every BatchNorm: the forward pass's
//! signature stays that of inference, and a model is not tied to a group.

use std::cell::RefCell;
use std::rc::Rc;

use tch::Tensor;

/// BatchNorm's training forward with statistics over several processes.
/// A failure to reach the other processes panics with an `anyhow::Error`
/// payload (the forward pass has no error path), which `sys::panic::catch`
/// turns back into that error.
pub trait BatchNormSync {
    #[allow(clippy::too_many_arguments)]
    fn batch_norm(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        running_mean: &Tensor,
        running_var: &Tensor,
        momentum: f64,
        eps: f64,
    ) -> Tensor;
}

thread_local! {
    static SYNC: RefCell<Option<Rc<dyn BatchNormSync>>> = const { RefCell::new(None) };
}

/// Runs `f` with `sync` as the BatchNorm synchronizer of this thread.
pub fn scoped<R>(sync: Option<Rc<dyn BatchNormSync>>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Rc<dyn BatchNormSync>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let old = self.0.take();
            SYNC.with(|s| *s.borrow_mut() = old);
        }
    }
    let old = SYNC.with(|s| s.replace(sync));
    let _restore = Restore(old);
    f()
}

/// The synchronizer [`scoped`] installed, if any.
pub(super) fn current() -> Option<Rc<dyn BatchNormSync>> {
    SYNC.with(|s| s.borrow().clone())
}
