//! The deterministic slice of the inputs that one shard of a job array takes.
//!
//! Sharding happens only when asked: `--shard I/N`, or `--shard auto`, which
//! reads the job array's variables. Without the flag a command takes the
//! whole input, whatever a Slurm array job's `SLURM_ARRAY_*` say. Under a
//! launcher (torchrun's `RANK`/`WORLD_SIZE`, an `srun` step) `evaluate`
//! without `--shard` splits the images among the ranks itself and reports one
//! result, and `predict` asks for `--shard auto` (docs/distributed.md).

use anyhow::Result;

use crate::sys::error;

/// The variables `--shard auto` reads, in the order it tries them.
pub const AUTO_VARIABLES: [&str; 7] = [
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_MAX",
    "SLURM_ARRAY_TASK_STEP",
    "RANK",
    "WORLD_SIZE",
];

/// This process's share of a job array: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// A shard that was asked for, and what chose it (`--shard`,
/// `SLURM_ARRAY_TASK_ID`, `RANK/WORLD_SIZE`), for the line on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sharding {
    pub shard: Shard,
    pub from: &'static str,
}

impl Sharding {
    /// `shard 1/4 (from SLURM_ARRAY_TASK_ID): 10 of 40 images`
    pub fn describe(&self, taken: usize, total: usize, noun: &str) -> String {
        format!(
            "shard {}/{} (from {}): {taken} of {total} {noun}",
            self.shard.index, self.shard.count, self.from
        )
    }
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// The shard `--shard` asks for: none without the flag, `I/N`, or `auto`
    /// (the Slurm array's variables, else RANK/WORLD_SIZE).
    pub fn resolve(flag: Option<&str>) -> Result<Option<Sharding>> {
        Shard::resolve_with(flag, |k| std::env::var(k).ok())
    }

    /// [`Shard::resolve`] with the environment given as a lookup function.
    pub fn resolve_with(
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Sharding>> {
        match flag {
            None => Ok(None),
            Some(s) if s.trim().eq_ignore_ascii_case("auto") => from_env(&env).map(Some),
            Some(s) => Ok(Some(Sharding {
                shard: Shard::parse(s)?,
                from: "--shard",
            })),
        }
    }

    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            error::usage(format!(
                "invalid --shard `{s}`: expected I/N with 0 <= I < N (e.g. 0/4), or auto"
            ))
        };
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (i, n) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(i, n, "--shard")
    }

    fn new(index: usize, count: usize, from: &str) -> Result<Shard> {
        if count == 0 || index >= count {
            return Err(error::usage(format!(
                "shard {index}/{count} from {from} is out of range: need 0 <= I < N"
            )));
        }
        Ok(Shard { index, count })
    }

    /// How many of `total` sorted inputs [`Shard::take`] gives this shard.
    pub fn share(&self, total: u64) -> u64 {
        let (i, n) = (self.index as u64, self.count as u64);
        total / n + u64::from(i < total % n)
    }

    /// Round-robin over the sorted inputs: shards differ in size by at most
    /// one item, and the union of all shards is the whole set, each item once.
    pub fn take<T>(&self, items: Vec<T>) -> Vec<T> {
        if self.count == 1 {
            return items;
        }
        items
            .into_iter()
            .enumerate()
            .filter(|(i, _)| i % self.count == self.index)
            .map(|(_, t)| t)
            .collect()
    }
}

/// `--shard auto`: a Slurm array (shard (ID - MIN) / STEP of COUNT), else
/// RANK of WORLD_SIZE, else an error naming the variables it looked for.
fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Sharding> {
    let get = |k: &str| -> Result<Option<usize>> {
        match env(k) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => v.trim().parse().map(Some).map_err(|_| {
                error::usage(format!(
                    "--shard auto: {k}={v:?} is not a non-negative integer; pass --shard I/N"
                ))
            }),
        }
    };
    if let Some(id) = get("SLURM_ARRAY_TASK_ID")? {
        let count = get("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
            error::usage(
                "--shard auto: SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not; \
                 pass --shard I/N",
            )
        })?;
        let min = get("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let step = get("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1);
        let max = get("SLURM_ARRAY_TASK_MAX")?;
        let irregular = || {
            error::usage(format!(
                "--shard auto: Slurm array task {id} (SLURM_ARRAY_TASK_MIN={min}, \
                 SLURM_ARRAY_TASK_MAX={}, SLURM_ARRAY_TASK_STEP={step}, \
                 SLURM_ARRAY_TASK_COUNT={count}) is not one of COUNT tasks MIN, MIN+STEP, ...; \
                 --shard auto handles --array=MIN-MAX[:STEP], pass --shard I/N for other arrays",
                max.map_or("unset".to_string(), |m| m.to_string())
            ))
        };
        if step == 0 || id < min || (id - min) % step != 0 {
            return Err(irregular());
        }
        if let Some(max) = max {
            if max < min || (max - min) / step + 1 != count {
                return Err(irregular());
            }
        }
        let shard = Shard::new((id - min) / step, count, "SLURM_ARRAY_TASK_ID")?;
        return Ok(Sharding {
            shard,
            from: "SLURM_ARRAY_TASK_ID",
        });
    }
    match (get("RANK")?, get("WORLD_SIZE")?) {
        (Some(rank), Some(world)) => Ok(Sharding {
            shard: Shard::new(rank, world, "RANK/WORLD_SIZE")?,
            from: "RANK/WORLD_SIZE",
        }),
        (Some(_), None) | (None, Some(_)) => Err(error::usage(
            "--shard auto: RANK and WORLD_SIZE must both be set; pass --shard I/N",
        )),
        (None, None) => Err(error::usage(format!(
            "--shard auto found no job array: none of {} is set; run it in a Slurm array job \
             or under a launcher that sets RANK and WORLD_SIZE, or pass --shard I/N",
            AUTO_VARIABLES.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auto(vars: &[(&str, &str)]) -> Result<Option<Sharding>> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Shard::resolve_with(Some("auto"), move |k| {
            vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        })
    }

    fn shard(r: Result<Option<Sharding>>) -> (usize, usize, &'static str) {
        let s = r.unwrap().unwrap();
        (s.shard.index, s.shard.count, s.from)
    }

    #[test]
    fn shards_partition_the_inputs() {
        let all: Vec<usize> = (0..10).collect();
        let mut seen = Vec::new();
        for i in 0..4 {
            let s = Shard::parse(&format!("{i}/4")).unwrap();
            let part = s.take(all.clone());
            assert_eq!(part.len() as u64, s.share(10));
            seen.extend(part);
        }
        seen.sort();
        assert_eq!(seen, all);
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("x").is_err());
        assert!(Shard::parse("1/0").is_err());
    }

    #[test]
    fn no_flag_means_the_whole_input_whatever_the_environment() {
        let r = Shard::resolve_with(None, |k| match k {
            "SLURM_ARRAY_TASK_ID" => Some("1".into()),
            "SLURM_ARRAY_TASK_COUNT" | "WORLD_SIZE" => Some("4".into()),
            "RANK" => Some("2".into()),
            _ => None,
        });
        assert_eq!(r.unwrap(), None);
    }

    #[test]
    fn auto_reads_slurm_arrays_with_min_and_step() {
        let slurm = |id: &str, min: &str, max: &str, step: &str, count: &str| {
            auto(&[
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_STEP", step),
                ("SLURM_ARRAY_TASK_COUNT", count),
                ("RANK", "0"),
                ("WORLD_SIZE", "2"),
            ])
        };
        // --array=0-3
        assert_eq!(
            shard(slurm("1", "0", "3", "1", "4")),
            (1, 4, "SLURM_ARRAY_TASK_ID")
        );
        // --array=1-8: counted from the minimum
        assert_eq!(shard(slurm("8", "1", "8", "1", "8")).0, 7);
        // --array=0-8:4 gives tasks 0, 4 and 8
        for (id, index) in [("0", 0), ("4", 1), ("8", 2)] {
            assert_eq!(
                shard(slurm(id, "0", "8", "4", "3")),
                (index, 3, "SLURM_ARRAY_TASK_ID")
            );
        }
        // --array=1-9:4 (tasks 1, 5, 9)
        assert_eq!(shard(slurm("5", "1", "9", "4", "3")).0, 1);
        // --array=1,3,7: not evenly stepped
        let e = slurm("3", "1", "7", "1", "3").unwrap_err().to_string();
        assert!(e.contains("--shard I/N"), "{e}");
        assert!(slurm("2", "0", "8", "4", "3").is_err());
        assert!(slurm("x", "0", "8", "4", "3").is_err());
    }

    #[test]
    fn auto_falls_back_to_rank_and_world_size() {
        assert_eq!(
            shard(auto(&[("RANK", "3"), ("WORLD_SIZE", "4")])),
            (3, 4, "RANK/WORLD_SIZE")
        );
        assert!(auto(&[("RANK", "4"), ("WORLD_SIZE", "4")]).is_err());
        assert!(auto(&[("RANK", "1")]).is_err());
        let e = auto(&[]).unwrap_err();
        assert_eq!(error::exit_code(&e), 2);
        for v in AUTO_VARIABLES {
            assert!(e.to_string().contains(v), "{e}");
        }
    }
}
