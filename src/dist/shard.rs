//! Which items each rank takes.

/// Rank `rank`'s share of an epoch's `order`, as torch's
/// `DistributedSampler(shuffle=False, drop_last=False)` splits an already
/// shuffled list (timm's train.py): the list is padded to a multiple of
/// `world` by repeating its start, then rank r takes items r, r + world, ...
/// Every rank gets the same number of items, so every rank makes the same
/// number of updates.
pub fn train_share(order: &[usize], rank: usize, world: usize) -> Vec<usize> {
    if order.is_empty() {
        return Vec::new();
    }
    let per_rank = order.len().div_ceil(world);
    (0..per_rank)
        .map(|i| order[(rank + i * world) % order.len()])
        .collect()
}

/// Rank `rank`'s share for evaluation: items r, r + world, ... of `n`,
/// without padding, so that counts reduced over the ranks count every item
/// exactly once (torch's sampler would count padded duplicates).
pub fn eval_share(n: usize, rank: usize, world: usize) -> impl Iterator<Item = usize> {
    (rank..n).step_by(world.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn train_share_is_distributed_samplers_split() {
        // torch: DistributedSampler(range(10), num_replicas=4, shuffle=False)
        // gives ranks [0,4,8], [1,5,9], [2,6,0], [3,7,1].
        let order: Vec<usize> = (0..10).collect();
        assert_eq!(train_share(&order, 0, 4), vec![0, 4, 8]);
        assert_eq!(train_share(&order, 1, 4), vec![1, 5, 9]);
        assert_eq!(train_share(&order, 2, 4), vec![2, 6, 0]);
        assert_eq!(train_share(&order, 3, 4), vec![3, 7, 1]);
        let shuffled = vec![7, 3, 9, 1];
        assert_eq!(train_share(&shuffled, 1, 2), vec![3, 1]);
        // Padding longer than the list wraps again.
        assert_eq!(train_share(&[5, 6], 3, 5), vec![6]);
    }

    #[test]
    fn eval_share_counts_each_item_once() {
        let mut all: Vec<usize> = (0..3).flat_map(|r| eval_share(10, r, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
