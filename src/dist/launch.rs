//! Where this process sits in a distributed run, read from what its launcher
//! sets: torchrun's variables, or Slurm's for a task started by `srun`.
//!
//! The rules (docs/distributed.md, "Launchers"):
//! - torchrun (and anything else that sets `RANK` and `WORLD_SIZE`): `RANK`,
//!   `WORLD_SIZE`, `LOCAL_RANK`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`,
//!   `MASTER_PORT`. torchrun's agent already serves the store
//!   (`TORCHELASTIC_USE_AGENT_STORE=True`): the ranks connect to it, under the
//!   prefix of the agent's restart count, as torch's own `env://` does.
//! - Slurm, only inside a job step (`SLURM_STEP_ID` set, i.e. under `srun`):
//!   `SLURM_PROCID`, `SLURM_STEP_NUM_TASKS`, `SLURM_LOCALID`, the tasks on
//!   this node from `SLURM_STEP_TASKS_PER_NODE`. The store lives on the first
//!   node of `SLURM_STEP_NODELIST` (or `MASTER_ADDR`), at `MASTER_PORT` or
//!   else 10000 + the last four digits of the job id, as the common sbatch
//!   scripts choose it. A batch script's own shell is not a step: a `dpn`
//!   started there directly runs alone, whatever `SLURM_NTASKS` says.

use anyhow::Result;
use tch::Device;

use crate::model::infer;
use crate::sys::error;

/// The GPU index of local rank `local_rank` of `local_world` processes on a
/// node showing `count` GPUs: its own, or the only one each process sees.
fn local_gpu(local_rank: usize, local_world: usize, count: usize) -> Option<usize> {
    match count {
        0 => None,
        1 => Some(0),
        _ if local_rank < count && local_world <= count => Some(local_rank),
        _ => None,
    }
}

/// The variables a launcher sets, as read; `get` abstracts the environment
/// for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub rank: usize,
    pub world: usize,
    pub local_rank: usize,
    pub local_world: usize,
    pub master_addr: String,
    pub master_port: u16,
    /// The store is served by the launcher (torchrun's agent), not rank 0.
    pub agent_store: bool,
    /// The key prefix in the store (torchrun's restart count).
    pub prefix: String,
    /// Which launcher: "torchrun" or "srun", for messages.
    pub launcher: &'static str,
}

impl Launch {
    /// From the process environment; `None` when no launcher started this
    /// process, or it started a world of one (which then runs exactly as a
    /// plain `dpn` does).
    pub fn from_env() -> Result<Option<Launch>> {
        Launch::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
        Ok(Launch::from_vars_any(get)?.filter(|l| l.world > 1))
    }

    /// As [`Launch::from_env`], but a world of one too: for a run that asks
    /// for a process group explicitly (`--dist-backend`), so that one GPU
    /// can check a launch script and the backend before a multi-node job.
    pub fn from_env_any() -> Result<Option<Launch>> {
        Launch::from_vars_any(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_vars_any(get: impl Fn(&str) -> Option<String>) -> Result<Option<Launch>> {
        if get("RANK").is_some() || get("WORLD_SIZE").is_some() {
            torchrun(&get).map(Some)
        } else if get("SLURM_STEP_ID").is_some() && get("SLURM_PROCID").is_some() {
            slurm(&get).map(Some)
        } else {
            Ok(None)
        }
    }

    /// This rank's device for `--device SPEC`, as torchrun users expect of
    /// `cuda:LOCAL_RANK` (docs/distributed.md, "Devices"): `auto` and `cuda`
    /// mean the GPU of this local rank, or the only one when the launcher
    /// shows each process one (`srun --gpus-per-task 1` sets
    /// `CUDA_VISIBLE_DEVICES` per task); `cpu` and `cuda:N` are taken as given.
    pub fn device(&self, spec: &str) -> Result<Device> {
        let asked = infer::parse_device(spec)?;
        let generic = matches!(
            spec.trim().to_ascii_lowercase().as_str(),
            "auto" | "cuda" | "gpu"
        );
        if asked == Device::Cpu || !generic {
            return Ok(asked);
        }
        let count = tch::Cuda::device_count().max(0) as usize;
        local_gpu(self.local_rank, self.local_world, count)
            .map(Device::Cuda)
            .ok_or_else(|| {
                error::usage(format!(
                    "rank {} is local rank {} of {} processes on this node, which shows {count} \
                 CUDA devices: start at most one process per GPU (torchrun \
                 --nproc-per-node {count}), or name a device with --device cuda:N or cpu",
                    self.rank, self.local_rank, self.local_world
                ))
            })
    }

    /// Rank, world and launcher when the environment says this process is
    /// one of several, read leniently (no rendezvous address needed): for
    /// commands that only refuse or warn under a launcher.
    pub fn detect() -> Option<(usize, usize, &'static str)> {
        let get = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        let (rank, world, launcher) = if std::env::var_os("WORLD_SIZE").is_some() {
            (get("RANK").unwrap_or(0), get("WORLD_SIZE")?, "torchrun")
        } else if std::env::var_os("SLURM_STEP_ID").is_some() {
            let world = get("SLURM_STEP_NUM_TASKS").or_else(|| get("SLURM_NTASKS"))?;
            (get("SLURM_PROCID").unwrap_or(0), world, "srun")
        } else {
            return None;
        };
        Some((rank, world, launcher)).filter(|&(_, w, _)| w > 1)
    }

    pub fn is_leader(&self) -> bool {
        self.rank == 0
    }
}

fn number<T: std::str::FromStr>(name: &str, value: Option<String>) -> Result<T> {
    let v = value.ok_or_else(|| {
        error::usage(format!(
            "{name} is not set: a launcher that sets RANK or WORLD_SIZE must set RANK, \
             WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun does)"
        ))
    })?;
    v.trim().parse().map_err(|_| {
        error::usage(format!(
            "{name}={v:?} is not a valid number (set by the launcher)"
        ))
    })
}

/// The largest world dpn joins. Gloo connects every rank to every other
/// (a world of W holds W - 1 connections and their buffers in each
/// process), so a world far past this is a typo, not a cluster: checked
/// before anything is allocated for it.
pub const MAX_WORLD: usize = 65_536;

fn check(l: Launch) -> Result<Launch> {
    if l.world > MAX_WORLD {
        return Err(error::usage(format!(
            "a world of {} processes (set by {}) is more than dpn joins ({MAX_WORLD}); check \
             WORLD_SIZE / SLURM_STEP_NUM_TASKS",
            l.world, l.launcher
        )));
    }
    if l.local_world > l.world {
        return Err(error::usage(format!(
            "{} processes on this node but {} in the whole world (set by {}); check \
             LOCAL_WORLD_SIZE / SLURM_STEP_TASKS_PER_NODE",
            l.local_world, l.world, l.launcher
        )));
    }
    if l.world == 0 || l.rank >= l.world {
        return Err(error::usage(format!(
            "rank {} is outside a world of {} (set by {})",
            l.rank, l.world, l.launcher
        )));
    }
    if l.local_world == 0 || l.local_rank >= l.local_world {
        return Err(error::usage(format!(
            "local rank {} is outside the {} processes on this node (set by {})",
            l.local_rank, l.local_world, l.launcher
        )));
    }
    if l.master_addr.is_empty() {
        return Err(error::usage(format!(
            "no rendezvous address: set MASTER_ADDR (under {})",
            l.launcher
        )));
    }
    Ok(l)
}

fn torchrun(get: &impl Fn(&str) -> Option<String>) -> Result<Launch> {
    let rank: usize = number("RANK", get("RANK"))?;
    let world: usize = number("WORLD_SIZE", get("WORLD_SIZE"))?;
    let local_rank = match get("LOCAL_RANK") {
        Some(v) => number("LOCAL_RANK", Some(v))?,
        None => rank,
    };
    let local_world = match get("LOCAL_WORLD_SIZE") {
        Some(v) => number("LOCAL_WORLD_SIZE", Some(v))?,
        None => world,
    };
    let agent_store = get("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v == "True");
    let prefix = if agent_store {
        // torch.distributed.rendezvous's env:// with an agent store.
        format!(
            "/worker/attempt_{}/",
            get("TORCHELASTIC_RESTART_COUNT").unwrap_or_else(|| "0".into())
        )
    } else {
        String::new()
    };
    if world > 1 {
        // Only a real world needs the address; WORLD_SIZE=1 alone is fine.
        // No default for either: a guessed address would meet whatever
        // listens there (torch's env:// refuses too).
        number::<u16>("MASTER_PORT", get("MASTER_PORT"))?;
        if get("MASTER_ADDR").is_none() {
            return Err(error::usage(
                "MASTER_ADDR is not set: a launcher that sets RANK or WORLD_SIZE must set RANK, \
                 WORLD_SIZE, MASTER_ADDR and MASTER_PORT (as torchrun does)",
            ));
        }
    }
    check(Launch {
        rank,
        world,
        local_rank,
        local_world,
        master_addr: get("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into()),
        master_port: get("MASTER_PORT")
            .and_then(|p| p.parse().ok())
            .unwrap_or(29500),
        agent_store,
        prefix,
        launcher: "torchrun",
    })
}

fn slurm(get: &impl Fn(&str) -> Option<String>) -> Result<Launch> {
    let rank: usize = number("SLURM_PROCID", get("SLURM_PROCID"))?;
    let world: usize = number(
        "SLURM_STEP_NUM_TASKS",
        get("SLURM_STEP_NUM_TASKS").or_else(|| get("SLURM_NTASKS")),
    )?;
    let local_rank: usize = number(
        "SLURM_LOCALID",
        get("SLURM_LOCALID").or_else(|| Some("0".into())),
    )?;
    let local_world = get("SLURM_STEP_TASKS_PER_NODE")
        .or_else(|| get("SLURM_TASKS_PER_NODE"))
        .and_then(|v| first_count(&v))
        .unwrap_or(1)
        .max(local_rank + 1);
    let master_addr = match get("MASTER_ADDR") {
        Some(a) => a,
        None => get("SLURM_STEP_NODELIST")
            .or_else(|| get("SLURM_JOB_NODELIST"))
            .or_else(|| get("SLURM_NODELIST"))
            .map(|l| first_host(&l))
            .unwrap_or_default(),
    };
    let master_port = match get("MASTER_PORT") {
        Some(p) => number("MASTER_PORT", Some(p))?,
        None => port_of_job(get("SLURM_JOB_ID").as_deref())?,
    };
    check(Launch {
        rank,
        world,
        local_rank,
        local_world,
        master_addr,
        master_port,
        agent_store: false,
        prefix: String::new(),
        launcher: "srun",
    })
}

/// 10000 + the last four digits of the job id. No job id, or one that is
/// not a number, is refused rather than guessed: ranks that guess
/// differently, or another job that guessed alike, would meet the wrong
/// peers.
fn port_of_job(job: Option<&str>) -> Result<u16> {
    let job = job.map(str::trim).unwrap_or_default();
    if job.is_empty() || !job.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error::usage(format!(
            "under srun without MASTER_PORT, the port is 10000 + the last four digits of \
             SLURM_JOB_ID, which is {}; export MASTER_PORT in the job script",
            if job.is_empty() {
                "not set".to_string()
            } else {
                format!("{job:?}, not a number")
            }
        )));
    }
    let tail = &job[job.len().saturating_sub(4)..];
    Ok(10000 + tail.parse::<u16>().expect("at most four digits"))
}

/// The tasks on the first node of a Slurm tasks-per-node list: "8(x2),4" -> 8.
fn first_count(v: &str) -> Option<usize> {
    let digits: String = v.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

/// The first host of a Slurm host list: "gpu[007-010,12],cpu1" -> "gpu007".
fn first_host(list: &str) -> String {
    let mut depth = 0;
    let mut end = list.len();
    for (i, c) in list.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let first = &list[..end];
    match first.split_once('[') {
        None => first.to_string(),
        Some((prefix, rest)) => {
            let range = rest.trim_end_matches(']');
            let lo = range.split([',', '-']).next().unwrap_or("");
            format!("{prefix}{lo}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn launch(vars: &[(&str, &str)]) -> Result<Option<Launch>> {
        let m: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Launch::from_vars(|k| m.get(k).cloned())
    }

    #[test]
    fn no_launcher_or_a_world_of_one_is_a_plain_run() {
        assert_eq!(launch(&[]).unwrap(), None);
        assert_eq!(launch(&[("RANK", "0"), ("WORLD_SIZE", "1")]).unwrap(), None);
        // An sbatch script's shell is not a job step.
        assert_eq!(
            launch(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "8")]).unwrap(),
            None
        );
    }

    #[test]
    fn torchrun_variables() {
        let l = launch(&[
            ("RANK", "3"),
            ("WORLD_SIZE", "4"),
            ("LOCAL_RANK", "1"),
            ("LOCAL_WORLD_SIZE", "2"),
            ("MASTER_ADDR", "node1"),
            ("MASTER_PORT", "29400"),
            ("TORCHELASTIC_USE_AGENT_STORE", "True"),
            ("TORCHELASTIC_RESTART_COUNT", "2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((l.rank, l.world, l.local_rank, l.local_world), (3, 4, 1, 2));
        assert_eq!((l.master_addr.as_str(), l.master_port), ("node1", 29400));
        assert!(l.agent_store);
        assert_eq!(l.prefix, "/worker/attempt_2/");
    }

    #[test]
    fn bad_torchrun_variables_are_usage_errors() {
        let addr = ("MASTER_ADDR", "127.0.0.1");
        for vars in [
            vec![("RANK", "0"), ("WORLD_SIZE", "2"), addr],
            vec![
                ("RANK", "x"),
                ("WORLD_SIZE", "2"),
                ("MASTER_PORT", "1"),
                addr,
            ],
            vec![
                ("RANK", "2"),
                ("WORLD_SIZE", "2"),
                ("MASTER_PORT", "1"),
                addr,
            ],
            // No MASTER_ADDR: not guessed.
            vec![("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "1")],
            // Absurd worlds are refused before anything is allocated.
            vec![
                ("RANK", "0"),
                ("WORLD_SIZE", "10000000"),
                ("MASTER_PORT", "1"),
                addr,
            ],
            vec![
                ("RANK", "0"),
                ("WORLD_SIZE", "99999999999"),
                ("MASTER_PORT", "1"),
                addr,
            ],
            vec![
                ("RANK", "0"),
                ("WORLD_SIZE", "99999999999999999999999"),
                ("MASTER_PORT", "1"),
                addr,
            ],
            // More processes on the node than in the world.
            vec![
                ("RANK", "0"),
                ("WORLD_SIZE", "2"),
                ("LOCAL_WORLD_SIZE", "4"),
                ("MASTER_PORT", "1"),
                addr,
            ],
        ] {
            let e = launch(&vars).unwrap_err();
            assert_eq!(error::exit_code(&e), error::Exit::Usage.code(), "{e}");
        }
    }

    #[test]
    fn slurm_step_variables() {
        let l = launch(&[
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "9"),
            ("SLURM_STEP_NUM_TASKS", "16"),
            ("SLURM_LOCALID", "1"),
            ("SLURM_STEP_TASKS_PER_NODE", "8(x2)"),
            ("SLURM_STEP_NODELIST", "gpu[007-008]"),
            ("SLURM_JOB_ID", "4512345"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            (l.rank, l.world, l.local_rank, l.local_world),
            (9, 16, 1, 8)
        );
        assert_eq!((l.master_addr.as_str(), l.master_port), ("gpu007", 12345));
        assert!(!l.agent_store);
    }

    #[test]
    fn host_lists() {
        assert_eq!(first_host("node1"), "node1");
        assert_eq!(first_host("node1,node2"), "node1");
        assert_eq!(first_host("gpu[007-010,12],cpu1"), "gpu007");
        assert_eq!(first_host("a[3,5]"), "a3");
        assert_eq!(port_of_job(Some("77")).unwrap(), 10077);
        assert_eq!(port_of_job(Some("4512345")).unwrap(), 12345);
        for bad in [None, Some(""), Some("abc"), Some("12a4")] {
            let e = port_of_job(bad).unwrap_err();
            assert_eq!(error::exit_code(&e), error::Exit::Usage.code(), "{e}");
            assert!(e.to_string().contains("MASTER_PORT"), "{e}");
        }
    }

    #[test]
    fn gpus_of_local_ranks() {
        // One GPU per process: its own.
        assert_eq!(local_gpu(3, 8, 8), Some(3));
        // srun --gpus-per-task 1: each process sees one, as cuda:0.
        assert_eq!(local_gpu(5, 8, 1), Some(0));
        // More processes than GPUs, or none: refused.
        assert_eq!(local_gpu(1, 4, 2), None);
        assert_eq!(local_gpu(0, 4, 2), None);
        assert_eq!(local_gpu(0, 1, 0), None);
    }

    #[test]
    fn a_world_of_one_is_a_launch_only_when_asked_for() {
        let vars = [("RANK", "0"), ("WORLD_SIZE", "1"), ("MASTER_PORT", "29511")];
        assert_eq!(launch(&vars).unwrap(), None);
        let m: std::collections::HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let one = Launch::from_vars_any(|k| m.get(k).cloned())
            .unwrap()
            .unwrap();
        assert_eq!((one.rank, one.world, one.master_port), (0, 1, 29511));
    }
}
