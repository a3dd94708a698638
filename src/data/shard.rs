//! The deterministic slice of the inputs that one shard of a job array takes.

use anyhow::Result;

use crate::sys::error;

/// This process's share of a job array: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `I/N` from the command line, else the job launcher's variables
    /// (Slurm arrays, then torchrun-style RANK/WORLD_SIZE), else the whole set.
    pub fn resolve(flag: Option<&str>) -> Result<Shard> {
        if let Some(s) = flag {
            return Shard::parse(s);
        }
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
        };
        if let (Some(id), Some(count)) = (var("SLURM_ARRAY_TASK_ID"), var("SLURM_ARRAY_TASK_COUNT"))
        {
            // Arrays may start at 1 (--array=1-8): count from the minimum.
            let min = var("SLURM_ARRAY_TASK_MIN").unwrap_or(0);
            return Shard::new(
                id.saturating_sub(min),
                count,
                "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT",
            );
        }
        if let (Some(rank), Some(world)) = (var("RANK"), var("WORLD_SIZE")) {
            return Shard::new(rank, world, "RANK/WORLD_SIZE");
        }
        Ok(Shard::WHOLE)
    }

    pub fn parse(s: &str) -> Result<Shard> {
        let bad = || {
            error::usage(format!(
                "invalid --shard `{s}`: expected I/N with 0 <= I < N, e.g. 0/4"
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_inputs() {
        let all: Vec<usize> = (0..10).collect();
        let mut seen = Vec::new();
        for i in 0..4 {
            seen.extend(Shard::parse(&format!("{i}/4")).unwrap().take(all.clone()));
        }
        seen.sort();
        assert_eq!(seen, all);
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("x").is_err());
        assert!(Shard::parse("1/0").is_err());
    }
}
