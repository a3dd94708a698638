//! A process group: the ranks of one run, met through c10d's TCPStore and
//! talking through Gloo, or NCCL for CUDA tensors (csrc/dist.cpp). Every
//! failure is one line naming this rank and what happened, with exit code 9
//! (`error::distributed`).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::time::Duration;

use anyhow::Result;
use tch::{Kind, Tensor};

use super::ffi;
use super::launch::Launch;
use super::Backend;
use crate::sys::error;

/// How [`Group::all_reduce`] combines the ranks' values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Sum = 0,
    Max = 1,
}

/// torch's `broadcast_coalesced` bucket for module states (DDP's
/// `broadcast_bucket_size`, 250 MiB).
const BROADCAST_BUCKET: i64 = 250 * 1024 * 1024;

pub struct Group {
    raw: *mut c_void,
    rank: usize,
    world: usize,
    timeout: Duration,
    launch: Launch,
    backend: Backend,
}

impl Group {
    /// Meets the other ranks; fails (exit 9) when they are not all there
    /// within `timeout`.
    pub fn join(launch: &Launch, timeout: Duration, backend: Backend) -> Result<Group> {
        let host = CString::new(launch.master_addr.clone())
            .map_err(|_| error::usage("MASTER_ADDR holds a NUL byte"))?;
        let prefix = CString::new(launch.prefix.clone())
            .map_err(|_| error::usage("the store prefix holds a NUL byte"))?;
        let mut err = [0 as c_char; ffi::ERR_LEN];
        let server = launch.is_leader() && !launch.agent_store;
        // SAFETY: valid C strings and an error buffer of the stated length.
        let raw = unsafe {
            ffi::dpn_dist_new(
                host.as_ptr(),
                c_int::from(launch.master_port),
                launch.rank as c_int,
                launch.world as c_int,
                c_int::from(server),
                prefix.as_ptr(),
                timeout.as_millis().min(i64::MAX as u128) as i64,
                match backend {
                    Backend::Gloo => 0,
                    Backend::Nccl => 1,
                },
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if raw.is_null() {
            let message = ffi::message(&err);
            if let Some(nccl) = message.strip_prefix("NCCL backend: ") {
                return Err(error::distributed(format!(
                    "rank {} of {}: the NCCL backend could not start: {nccl}; NCCL needs a \
                     CUDA device per process (check --device and CUDA_VISIBLE_DEVICES), or \
                     pass --dist-backend gloo",
                    launch.rank, launch.world
                )));
            }
            return Err(error::distributed(format!(
                "rank {} of {}: could not meet the other ranks at {}:{} within {} s (--dist-timeout): {}; \
                 check that every rank was started and that MASTER_ADDR and MASTER_PORT reach rank 0's host",
                launch.rank,
                launch.world,
                launch.master_addr,
                launch.master_port,
                timeout.as_secs(),
                message
            )));
        }
        Ok(Group {
            raw,
            rank: launch.rank,
            world: launch.world,
            timeout,
            launch: launch.clone(),
            backend,
        })
    }

    /// The backend this group talks through.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// This rank's device for `--device SPEC` ([`Launch::device`]).
    pub fn device(&self, spec: &str) -> Result<tch::Device> {
        self.launch.device(spec)
    }

    pub fn rank(&self) -> usize {
        self.rank
    }

    pub fn world(&self) -> usize {
        self.world
    }

    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }

    pub(super) fn raw(&self) -> *mut c_void {
        self.raw
    }

    /// The error of a failed collective `what`.
    pub(super) fn failed(&self, what: &str, err: &[c_char]) -> anyhow::Error {
        self.failure(what, &ffi::message(err))
    }

    /// Runs a csrc/dist.cpp call that returns non-zero on failure, with an
    /// error buffer; a failure is [`Group::failure`] of `what`.
    pub(super) fn call(
        &self,
        what: &str,
        f: impl FnOnce(*mut c_char, usize) -> c_int,
    ) -> Result<()> {
        let mut err = [0 as c_char; ffi::ERR_LEN];
        if f(err.as_mut_ptr(), err.len()) != 0 {
            return Err(self.failed(what, &err));
        }
        Ok(())
    }

    /// The error (exit 9) of communication `what` that failed with `message`.
    pub fn failure(&self, what: &str, message: &str) -> anyhow::Error {
        let first = message.lines().next().unwrap_or(message).trim();
        error::distributed(format!(
            "rank {} of {}: {what} failed: {first}; another rank died, was stopped or did not \
             answer within {} s (--dist-timeout)",
            self.rank,
            self.world,
            self.timeout.as_secs()
        ))
    }

    /// Combines `tensors` (CPU) across ranks in place.
    pub fn all_reduce(&self, tensors: &[&Tensor], op: Op) -> Result<()> {
        let hs = ffi::handles(tensors);
        // SAFETY: live tensor handles and an error buffer of the stated length.
        self.call("an all-reduce", |err, len| unsafe {
            ffi::dpn_dist_allreduce(self.raw, hs.as_ptr(), hs.len(), op as c_int, err, len)
        })
    }

    /// Copies rank `root`'s `tensors` to every rank, in place.
    pub fn broadcast(&self, tensors: &[&Tensor], root: usize) -> Result<()> {
        if tensors.is_empty() {
            return Ok(());
        }
        let hs = ffi::handles(tensors);
        // SAFETY: as in all_reduce.
        self.call("a broadcast", |err, len| unsafe {
            ffi::dpn_dist_broadcast(
                self.raw,
                hs.as_ptr(),
                hs.len(),
                root as c_int,
                BROADCAST_BUCKET,
                err,
                len,
            )
        })
    }

    /// The element-wise sum of `values` over the ranks, in f64.
    pub fn sum(&self, values: &[f64]) -> Result<Vec<f64>> {
        let t = Tensor::from_slice(values).to_kind(Kind::Double);
        self.all_reduce(&[&t], Op::Sum)?;
        Ok(Vec::<f64>::try_from(&t)?)
    }

    /// Every rank's `bytes`, in rank order (an all-gather made of one
    /// all-reduce: each rank fills its own slice of a zeroed buffer).
    pub fn all_gather_bytes(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut lens = vec![0.0; self.world];
        lens[self.rank] = bytes.len() as f64;
        let lens: Vec<usize> = self.sum(&lens)?.into_iter().map(|l| l as usize).collect();
        let start: usize = lens[..self.rank].iter().sum();
        let mut all = vec![0u8; lens.iter().sum()];
        all[start..start + bytes.len()].copy_from_slice(bytes);
        let t = Tensor::from_slice(&all);
        self.all_reduce(&[&t], Op::Sum)?;
        let all = Vec::<u8>::try_from(&t)?;
        let mut out = Vec::with_capacity(self.world);
        let mut at = 0;
        for l in lens {
            out.push(all[at..at + l].to_vec());
            at += l;
        }
        Ok(out)
    }

    /// True on every rank when `flag` is true on any.
    pub fn any(&self, flag: bool) -> Result<bool> {
        let t = Tensor::from_slice(&[i64::from(flag)]);
        self.all_reduce(&[&t], Op::Max)?;
        Ok(t.int64_value(&[0]) != 0)
    }

    /// Every rank learns whether all of them got here without error: this
    /// rank's own error is returned as it is; when only another rank failed,
    /// the error says so, with that rank's exit code (its own line says why).
    /// Called where a rank may fail alone (reading data, a checkpoint), so
    /// that the others stop instead of waiting for it until the timeout.
    pub fn agree<T>(&self, own: Result<T>) -> Result<T> {
        let code = match &own {
            Ok(_) => 0,
            Err(e) => i64::from(error::exit_code(e)),
        };
        let t = Tensor::from_slice(&[code]);
        // A rank that fails here cannot tell the others anything more.
        if let Err(e) = self.all_reduce(&[&t], Op::Max) {
            return own.and(Err(e));
        }
        let worst = t.int64_value(&[0]);
        match own {
            Err(e) => Err(e),
            Ok(_) if worst != 0 => Err(error::Coded {
                exit: exit_of(worst),
                message: format!(
                    "rank {} of {}: stopping because another rank failed (exit code {worst}); \
                     its own message says why",
                    self.rank, self.world
                ),
            }
            .into()),
            Ok(v) => Ok(v),
        }
    }
}

fn exit_of(code: i64) -> error::Exit {
    use error::Exit::*;
    [
        Failure,
        Usage,
        BadInput,
        Verification,
        Network,
        NotCached,
        Partial,
        OutOfMemory,
        Distributed,
        Internal,
        Interrupted,
    ]
    .into_iter()
    .find(|e| i64::from(e.code()) == code)
    .unwrap_or(Failure)
}

/// `--sync-bn`: BatchNorm over every rank's batch (SyncBatchNorm's
/// semantics, csrc/dist.cpp), for `model::sync_bn`.
impl crate::model::sync_bn::BatchNormSync for Group {
    fn batch_norm(
        &self,
        xs: &Tensor,
        weight: &Tensor,
        bias: &Tensor,
        running_mean: &Tensor,
        running_var: &Tensor,
        momentum: f64,
        eps: f64,
    ) -> Tensor {
        let mut err = [0 as c_char; ffi::ERR_LEN];
        // SAFETY: live tensor handles and an error buffer of the stated
        // length; a non-null result is a fresh at::Tensor* that tch owns.
        let out = unsafe {
            ffi::dpn_sync_batch_norm(
                self.raw,
                xs.as_ptr(),
                weight.as_ptr(),
                bias.as_ptr(),
                running_mean.as_ptr(),
                running_var.as_ptr(),
                momentum,
                eps,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if out.is_null() {
            std::panic::panic_any(self.failed("a synchronized BatchNorm", &err));
        }
        // SAFETY: see above.
        unsafe { Tensor::from_ptr(out) }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: made by dpn_dist_new, freed once.
        unsafe { ffi::dpn_dist_free(self.raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alone() -> Launch {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        Launch {
            rank: 0,
            world: 1,
            local_rank: 0,
            local_world: 1,
            master_addr: "127.0.0.1".into(),
            master_port: port,
            agent_store: false,
            prefix: String::new(),
            launcher: "torchrun",
        }
    }

    #[test]
    fn gloo_group_of_one_sums_to_itself() {
        let g = Group::join(&alone(), Duration::from_secs(20), Backend::Gloo).unwrap();
        assert_eq!(g.backend(), Backend::Gloo);
        assert_eq!(g.sum(&[1.5, -2.0]).unwrap(), vec![1.5, -2.0]);
    }

    /// The NCCL backend is linked in (csrc/dist_nccl.cpp built with NCCL)
    /// and reached through the group: on a machine with a GPU it starts, and
    /// without one torch's ProcessGroupNCCL itself refuses, with one line
    /// that says what to do. A stub build fails this test either way.
    #[test]
    fn nccl_backend_is_built_and_reached() {
        assert!(crate::dist::has_nccl(), "built without NCCL");
        let joined = Group::join(&alone(), Duration::from_secs(20), Backend::Nccl);
        if tch::Cuda::is_available() {
            let g = joined.unwrap();
            assert_eq!(g.backend(), Backend::Nccl);
            // CPU tensors still go through Gloo under the NCCL group.
            assert_eq!(g.sum(&[3.0]).unwrap(), vec![3.0]);
        } else {
            let e = format!("{:#}", joined.err().expect("NCCL without a GPU"));
            assert!(e.contains("the NCCL backend could not start"), "{e}");
            assert!(e.contains("no GPUs found"), "{e}");
            assert!(e.contains("--dist-backend gloo"), "{e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }
}
