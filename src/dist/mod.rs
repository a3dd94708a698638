//! Distributed runs: `dpn train` data-parallel and `dpn evaluate` sharded
//! over the processes that torchrun or Slurm's srun start, on c10d (the
//! engine of torch's DistributedDataParallel) through `csrc/dist.cpp`.
//! docs/distributed.md is the user's guide.
//!
//! * [`launch`]: rank, world and rendezvous address from the launcher's
//!   variables;
//! * [`group`]: the process group (TCPStore rendezvous, Gloo or NCCL collectives,
//!   `--dist-timeout`) and [`group::Group::agree`], which stops every rank
//!   when one fails;
//! * [`ddp`]: DDP's gradient averaging and buffer broadcasts for training;
//! * [`shard`]: each rank's share of the training order and of an
//!   evaluation set.

pub mod ddp;
mod deadline;
mod ffi;
pub mod fingerprint;
pub mod group;
pub mod launch;
pub mod rendezvous;
pub mod shard;
mod store;

use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;

pub use ddp::Ddp;
pub use fingerprint::Fingerprint;
pub use group::{Group, Op};
pub use launch::Launch;

/// `r` on this rank, or the error some rank had (see [`Group::agree`]); a
/// single process's `r` as it is.
pub fn agree<T>(group: &Option<Rc<Group>>, r: Result<T>) -> Result<T> {
    match group {
        Some(g) => g.agree(r),
        None => r,
    }
}

/// torch's default collective timeout for Gloo (`default_pg_timeout`).
pub const DEFAULT_TIMEOUT_SECS: u64 = 1800;

/// The collective library under the process group (csrc/dist.cpp).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Gloo for every tensor, CPU or CUDA.
    Gloo,
    /// NCCL for CUDA tensors, Gloo for the CPU ones (the counts and flags
    /// that every rank agrees on): torch's `cpu:gloo,cuda:nccl`.
    Nccl,
}

impl Backend {
    /// torch's choice by device: NCCL for CUDA, Gloo for the CPU.
    pub fn for_device(device: tch::Device) -> Backend {
        match device {
            tch::Device::Cpu => Backend::Gloo,
            _ => Backend::Nccl,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Gloo => "Gloo",
            Backend::Nccl => "NCCL",
        }
    }
}

/// Whether this binary was built with the NCCL backend (build.rs).
pub fn has_nccl() -> bool {
    crate::sys::runtime::with_nccl()
}

/// The group of this run when a launcher started it, else `None`: one that
/// exchanges through the rendezvous store only, no collectives (what
/// `dpn evaluate` needs). Also gives each process its share of the CPU
/// threads (the cores over the processes on this node) unless
/// `OMP_NUM_THREADS` sets them.
pub fn join_from_env(timeout: Duration) -> Result<Option<Rc<Group>>> {
    match Launch::from_env()? {
        Some(launch) => join(&launch, timeout, None).map(Some),
        None => Ok(None),
    }
}

/// Joins the group of `launch` (its collectives over `backend`, if any),
/// with this process's share of the CPU threads.
pub fn join(launch: &Launch, timeout: Duration, backend: Option<Backend>) -> Result<Rc<Group>> {
    if std::env::var_os("OMP_NUM_THREADS").is_none_or(|v| v.is_empty()) {
        let share = (tch::get_num_threads() as usize / launch.local_world).max(1);
        tch::set_num_threads(share as i32);
    }
    Ok(Rc::new(Group::join(launch, timeout, backend)?))
}
