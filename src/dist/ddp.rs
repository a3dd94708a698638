//! Data-parallel training as torch's `DistributedDataParallel` does it, with
//! DDP's own engine (c10d's Reducer, through csrc/dist.cpp): at the start the
//! model's parameters and buffers are copied from rank 0; before each
//! training forward the buffers (BatchNorm's running statistics) are copied
//! from rank 0 again (DDP's `broadcast_buffers=True`); during each backward
//! pass the gradients are averaged over the ranks in buckets (the first of
//! 1 MiB, then 25 MiB, DDP's defaults), each all-reduced as soon as its
//! gradients are ready, overlapping communication with the rest of the
//! backward pass.

use std::ffi::CString;
use std::os::raw::{c_char, c_void};
use std::rc::Rc;

use anyhow::Result;
use tch::{nn, Tensor};

use super::ffi;
use super::group::Group;

/// DDP's `bucket_cap_mb` (25) and `dist._DEFAULT_FIRST_BUCKET_BYTES` (1 MiB).
const BUCKET_BYTES: i64 = 25 * 1024 * 1024;
const FIRST_BUCKET_BYTES: i64 = 1024 * 1024;

pub struct Ddp {
    group: Rc<Group>,
    reducer: *mut c_void,
    buffers: Vec<Tensor>,
    buffer_names: Vec<String>,
    sync_bn: bool,
}

impl Ddp {
    /// Wraps the variables of `vs`, in `keys` order (the model's state-dict
    /// order, the same on every rank): trainable ones are DDP's parameters,
    /// the others its buffers. Copies rank 0's values to every rank.
    /// With `sync_bn`, training BatchNorms normalize over every rank's batch
    /// (see [`Ddp::batch_norm_sync`]).
    pub fn new(group: Rc<Group>, vs: &nn::VarStore, keys: &[String], sync_bn: bool) -> Result<Ddp> {
        let mut vars = vs.variables();
        let mut params = Vec::new();
        let mut names = Vec::new();
        let mut buffers = Vec::new();
        let mut buffer_names = Vec::new();
        // Parameters frozen by --layer-decay-no-opt-scale: like torch's DDP,
        // copied from rank 0 once, then neither averaged nor re-sent.
        let mut frozen = Vec::new();
        for k in keys {
            if let Some(t) = vars.remove(k) {
                if t.requires_grad() {
                    names.push(CString::new(k.as_str()).expect("variable names hold no NUL"));
                    params.push(t);
                } else if crate::model::Dpn::is_buffer(k) {
                    buffers.push(t);
                    buffer_names.push(k.clone());
                } else {
                    frozen.push(t);
                }
            }
        }
        let states: Vec<&Tensor> = params.iter().chain(&buffers).chain(&frozen).collect();
        tch::no_grad(|| group.broadcast(&states, 0))?;
        let hs = ffi::handles(&params.iter().collect::<Vec<_>>());
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        let mut err = [0 as c_char; ffi::ERR_LEN];
        // SAFETY: live handles and names for the call; the Reducer keeps its
        // own references to the parameters.
        let reducer = unsafe {
            ffi::dpn_ddp_new(
                group.raw(),
                hs.as_ptr(),
                name_ptrs.as_ptr(),
                hs.len(),
                BUCKET_BYTES,
                FIRST_BUCKET_BYTES,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if reducer.is_null() {
            return Err(group.failed("setting up gradient averaging", &err));
        }
        Ok(Ddp {
            group,
            reducer,
            buffers,
            buffer_names,
            sync_bn,
        })
    }

    /// Before a training forward: rank 0's buffers to every rank, and (after
    /// the first update) DDP's one-time re-bucketing in the order gradients
    /// became ready.
    pub fn before_forward(&self) -> Result<()> {
        // SAFETY: a live reducer and an error buffer of the stated length.
        self.group
            .call("re-bucketing the gradients", |err, len| unsafe {
                ffi::dpn_ddp_rebuild_buckets(self.reducer, err, len)
            })?;
        let bufs: Vec<&Tensor> = self.buffers.iter().collect();
        tch::no_grad(|| self.group.broadcast(&bufs, 0))
    }

    /// After a training forward: arms the hooks that average the gradients
    /// during the next backward pass.
    pub fn after_forward(&self, outputs: &[&Tensor]) -> Result<()> {
        let hs = ffi::handles(outputs);
        // SAFETY: as in before_forward, with live output handles.
        self.group
            .call("preparing gradient averaging", |err, len| unsafe {
                ffi::dpn_ddp_prepare(self.reducer, hs.as_ptr(), hs.len(), err, len)
            })
    }

    /// The model's buffers (BatchNorm statistics), in state-dict order.
    pub fn buffers(&self) -> &[Tensor] {
        &self.buffers
    }

    /// The state-dict names of [`Ddp::buffers`].
    pub fn buffer_names(&self) -> &[String] {
        &self.buffer_names
    }

    pub fn group(&self) -> &Group {
        &self.group
    }

    /// The synchronizer a training forward runs under (`model::sync_bn`):
    /// the group with `--sync-bn`, else none (per-process statistics).
    pub fn batch_norm_sync(&self) -> Option<Rc<dyn crate::model::sync_bn::BatchNormSync>> {
        if self.sync_bn {
            Some(self.group.clone() as Rc<dyn crate::model::sync_bn::BatchNormSync>)
        } else {
            None
        }
    }
}

impl Drop for Ddp {
    fn drop(&mut self) {
        // SAFETY: made by dpn_ddp_new, freed once.
        unsafe { ffi::dpn_ddp_free(self.reducer) }
    }
}
