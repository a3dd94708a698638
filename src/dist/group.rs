//! A process group: the ranks of one run, met through c10d's TCPStore and
//! talking through Gloo, or NCCL for CUDA tensors (csrc/dist.cpp). Every
//! failure is one line naming this rank and what happened, with exit code 9
//! (`error::distributed`).

use std::cell::Cell;
use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::time::Duration;

use anyhow::Result;
use tch::{Kind, Tensor};

use super::ffi;
use super::fingerprint::Fingerprint;
use super::launch::Launch;
use super::rendezvous;
use super::store::Store;
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
    /// The process group (csrc/dist.cpp); null for a group that exchanges
    /// only through the store (`dpn evaluate`).
    raw: *mut c_void,
    store: Store,
    /// The key prefix of this run's session (see [`rendezvous`]).
    session: String,
    /// Exchanges made so far: each has its own keys.
    exchanges: Cell<u64>,
    rank: usize,
    world: usize,
    timeout: Duration,
    launch: Launch,
    backend: Backend,
}

impl Group {
    /// Meets the other ranks; fails (exit 9) when they are not all there
    /// within `timeout`, or one of them is not a rank of this run. With
    /// `backend` `None` the group exchanges only through the store (no
    /// collectives: what `dpn evaluate` needs).
    pub fn join(launch: &Launch, timeout: Duration, backend: Option<Backend>) -> Result<Group> {
        let secret = rendezvous::secret_from_env()?;
        let listener = if launch.is_leader() && !launch.agent_store {
            Some(bind_store(launch)?)
        } else {
            None
        };
        let store = Store::connect(launch, listener, timeout)?;
        let session = rendezvous::meet(
            &store,
            &rendezvous::Me {
                rank: launch.rank,
                world: launch.world,
                secret: secret.as_deref(),
            },
        )?;
        let raw = match backend {
            Some(b) => make_process_group(launch, &store, &session, timeout, b)?,
            None => std::ptr::null_mut(),
        };
        Ok(Group {
            raw,
            store,
            session,
            exchanges: Cell::new(0),
            rank: launch.rank,
            world: launch.world,
            timeout,
            launch: launch.clone(),
            backend: backend.unwrap_or(Backend::Gloo),
        })
    }

    /// Every rank's `mine`, in rank order, on rank 0; `None` on the others.
    /// Through the store, so the values may differ in length and a rank
    /// that sends something else cannot abort the others.
    pub fn gather(&self, what: &str, mine: &[u8]) -> Result<Option<Vec<Vec<u8>>>> {
        let n = self.exchanges.get();
        self.exchanges.set(n + 1);
        let key = |r: usize| format!("{}x/{n}/{r}", self.session);
        // Rank 0's too, so that every value of an exchange is in the store
        // (what a rank sent can be read back when a run is debugged).
        self.store.set(&key(self.rank), mine)?;
        if !self.is_leader() {
            return Ok(None);
        }
        let mut all = vec![mine.to_vec()];
        for r in 1..self.world {
            all.push(self.store.get(&key(r), &format!("{what} of rank {r}"))?);
        }
        Ok(Some(all))
    }

    /// Rank 0's `verdict` on the last [`Group::gather`], on every rank: an
    /// `Err(reason)` there is this rank's exit 9 with that reason.
    pub fn decide(&self, verdict: Option<std::result::Result<(), String>>) -> Result<()> {
        self.decide_with(verdict.map(|v| v.map(|()| Vec::new())))
            .map(|_| ())
    }

    /// As [`Group::decide`], with a result that rank 0 hands to every rank
    /// (a sum it computed, say).
    pub fn decide_with(
        &self,
        verdict: Option<std::result::Result<Vec<u8>, String>>,
    ) -> Result<Vec<u8>> {
        let n = self.exchanges.get();
        self.exchanges.set(n + 1);
        let key = format!("{}x/{n}/verdict", self.session);
        let verdict = match verdict {
            Some(v) if self.is_leader() => {
                let mut wire = Vec::new();
                match &v {
                    Ok(payload) => {
                        wire.push(b'+');
                        wire.extend_from_slice(payload);
                    }
                    Err(why) => {
                        wire.push(b'-');
                        wire.extend_from_slice(why.as_bytes());
                    }
                }
                self.store.set(&key, &wire)?;
                v
            }
            _ => {
                let raw = self.store.get(&key, "rank 0's verdict")?;
                match raw.split_first() {
                    Some((b'+', payload)) => Ok(payload.to_vec()),
                    Some((b'-', why)) => Err(String::from_utf8_lossy(why).into_owned()),
                    _ => Err("rank 0 sent a verdict dpn cannot read".to_string()),
                }
            }
        };
        verdict.map_err(|why| {
            // A rank that failed on its own gives the others its exit code.
            let (exit, why) = why
                .strip_prefix(STOPPING)
                .and_then(|rest| rest.split_once(':'))
                .and_then(|(code, why)| Some((exit_of(code.parse().ok()?), why.to_string())))
                .unwrap_or((error::Exit::Distributed, why));
            error::Coded {
                exit,
                message: format!("rank {} of {}: {why}", self.rank, self.world),
            }
            .into()
        })
    }

    /// Stops every rank (exit 9, one line naming the setting and the ranks'
    /// values) unless every rank's fingerprint equals rank 0's. `own` is
    /// this rank's fingerprint, or the error it met while computing it: the
    /// other ranks then stop too, saying so (as [`Group::agree`], through
    /// the store), and the caller reports its own error.
    pub fn agree_on(&self, own: std::result::Result<&Fingerprint, &anyhow::Error>) -> Result<()> {
        let mine = match own {
            Ok(f) => {
                let mut v = vec![b'+'];
                v.extend(serde_json::to_vec(f)?);
                v
            }
            Err(e) => format!("-{}", error::exit_code(e)).into_bytes(),
        };
        let gathered = self.gather("the settings", &mine)?;
        let verdict = gathered.map(|all| compare_fingerprints(&all));
        self.decide(verdict)
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

    /// The process group, for csrc/dist.cpp's collectives.
    pub(super) fn raw(&self) -> *mut c_void {
        assert!(
            !self.raw.is_null(),
            "a collective on a group joined without a backend"
        );
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

/// Marks a verdict that passes on another rank's exit code: `<mark>CODE:why`.
const STOPPING: &str = "\u{1}exit=";

/// Rank 0's verdict on the gathered fingerprints (each `+JSON`, or `-CODE`
/// from a rank that failed before it had one).
fn compare_fingerprints(all: &[Vec<u8>]) -> std::result::Result<(), String> {
    let mut prints = Vec::with_capacity(all.len());
    for (r, raw) in all.iter().enumerate() {
        match raw.split_first() {
            Some((b'-', code)) => {
                return Err(format!(
                    "{STOPPING}{}:stopping because rank {r} failed (exit code {}); its own \
                     message says why",
                    String::from_utf8_lossy(code),
                    String::from_utf8_lossy(code)
                ))
            }
            Some((b'+', json)) => match serde_json::from_slice::<Fingerprint>(json) {
                Ok(f) => prints.push(f),
                Err(_) => {
                    return Err(format!(
                        "the process that joined as rank {r} sent no valid settings"
                    ))
                }
            },
            _ => {
                return Err(format!(
                    "the process that joined as rank {r} sent no valid settings"
                ))
            }
        }
    }
    let ours = &prints[0];
    let diffs: Vec<(usize, String, String, String)> = prints
        .iter()
        .enumerate()
        .skip(1)
        .filter_map(|(r, theirs)| ours.first_difference(theirs).map(|(n, a, b)| (r, n, a, b)))
        .collect();
    let Some((_, name, mine, _)) = diffs.first().cloned() else {
        return Ok(());
    };
    let same_name: Vec<&(usize, String, String, String)> =
        diffs.iter().filter(|d| d.1 == name).collect();
    let shown: Vec<String> = same_name
        .iter()
        .take(3)
        .map(|(r, _, _, v)| format!("rank {r} has {v}"))
        .collect();
    let more = same_name.len().saturating_sub(3);
    Err(format!(
        "the ranks disagree on {name}: rank 0 has {mine}, {}{}; every rank must run the same \
         command on the same files (a stale copy on one node?)",
        shown.join(", "),
        if more > 0 {
            format!(", and {more} more ranks differ")
        } else {
            String::new()
        }
    ))
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

/// How long rank 0, on its way out, waits for the other ranks to have read
/// its last word (see [`Group::farewell`]).
pub(super) const FAREWELL: Duration = Duration::from_secs(10);

impl Group {
    /// Rank 0 serves the store: leaving at once would cut off a rank still
    /// reading rank 0's last verdict (it would report a lost connection
    /// instead of the verdict). Each rank counts itself out; rank 0 waits
    /// for them all, for at most [`FAREWELL`] (a rank that died is not
    /// waited for longer).
    fn farewell(&self) {
        let key = format!("{}farewell", self.session);
        if self.is_leader() {
            self.store
                .wait_count(&key, (self.world - 1) as i64, FAREWELL);
        } else {
            let _ = self.store.add(&key, 1);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.farewell();
        if !self.raw.is_null() {
            // SAFETY: made by dpn_dist_new, freed once.
            unsafe { ffi::dpn_dist_free(self.raw) }
        }
    }
}

/// Rank 0's listening socket for the store, bound to the address that
/// `MASTER_ADDR` names on this host rather than to every interface (c10d's
/// TCPStore alone binds the wildcard address).
fn bind_store(launch: &Launch) -> Result<std::net::TcpListener> {
    use std::net::ToSocketAddrs;
    let who = format!("rank {} of {}", launch.rank, launch.world);
    let addrs: Vec<std::net::SocketAddr> = (launch.master_addr.as_str(), launch.master_port)
        .to_socket_addrs()
        .map_err(|e| {
            error::usage(format!(
                "{who}: MASTER_ADDR={} does not resolve on this host: {e}",
                launch.master_addr
            ))
        })?
        .collect();
    let Some(first) = addrs.first() else {
        return Err(error::usage(format!(
            "{who}: MASTER_ADDR={} resolves to no address on this host",
            launch.master_addr
        )));
    };
    if first.ip().is_loopback() && launch.world > launch.local_world {
        return Err(error::usage(format!(
            "{who}: MASTER_ADDR={} is {}, a loopback address, but {} of the {} ranks run on \
             other nodes and cannot reach it; set MASTER_ADDR to an address of this host that \
             they reach",
            launch.master_addr,
            first.ip(),
            launch.world - launch.local_world,
            launch.world
        )));
    }
    let mut last = None;
    for a in &addrs {
        match std::net::TcpListener::bind(a) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some((a, e)),
        }
    }
    let (a, e) = last.expect("at least one address was tried");
    let hint = match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another process listens there (an earlier run still going?); choose another MASTER_PORT"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "it is not an address of this host; rank 0 must run on the host MASTER_ADDR names"
        }
        _ => "check MASTER_ADDR and MASTER_PORT",
    };
    Err(error::distributed(format!(
        "{who}: cannot serve the rendezvous store on {a} (MASTER_ADDR={}, MASTER_PORT={}): {e}; {hint}",
        launch.master_addr, launch.master_port
    )))
}

/// The process group over `store`, its keys under `session`.
fn make_process_group(
    launch: &Launch,
    store: &Store,
    session: &str,
    timeout: Duration,
    backend: Backend,
) -> Result<*mut c_void> {
    let prefix = CString::new(session).expect("the session is hex");
    let mut err = [0 as c_char; ffi::ERR_LEN];
    let _guard = super::deadline::arm(
        timeout + super::deadline::GRACE,
        format!(
            "rank {} of {}: the other ranks did not connect within {} s (--dist-timeout)",
            launch.rank,
            launch.world,
            timeout.as_secs()
        ),
    );
    // SAFETY: a live store handle, a C string and an error buffer of the
    // stated length.
    let raw = unsafe {
        ffi::dpn_dist_new(
            store.raw(),
            prefix.as_ptr(),
            launch.rank as c_int,
            launch.world as c_int,
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
            "rank {} of {}: could not connect the process group within {} s (--dist-timeout): {message}",
            launch.rank,
            launch.world,
            timeout.as_secs()
        )));
    }
    Ok(raw)
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
        let g = Group::join(&alone(), Duration::from_secs(20), Some(Backend::Gloo)).unwrap();
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
        let joined = Group::join(&alone(), Duration::from_secs(20), Some(Backend::Nccl));
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
