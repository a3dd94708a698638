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

/// timm's `RepeatAugSampler` rounds the images an epoch takes down to a
/// multiple of this (its `selected_round`).
pub const REPEAT_ROUND: usize = 256;

/// How many items each rank takes an epoch with `--aug-repeats` from `n`
/// images: timm's `RepeatAugSampler.num_selected_samples`,
/// `floor(n // 256 * 256 / world)`. An epoch stays about one pass over the
/// data however many repeats; 0 when `n` is under 256 per rank.
pub fn repeat_selected(n: usize, world: usize) -> usize {
    n / REPEAT_ROUND * REPEAT_ROUND / world.max(1)
}

/// Rank `rank`'s share of an epoch's `order` with repeated augmentation, as
/// timm's `RepeatAugSampler(num_repeats=repeats)` (train.py's
/// `--aug-repeats`) takes it from its shuffled indices: each index
/// `repeats` times in a row (a fractional count takes index `i // repeats`
/// for `i` below `ceil(repeats * n)`), padded to a multiple of `world` from
/// its start, items r, r + world, ... for rank r, the first
/// [`repeat_selected`] of them. The copies of an image thus go to
/// neighbouring ranks, or one after another on one process.
pub fn repeat_share(order: &[usize], repeats: f64, rank: usize, world: usize) -> Vec<usize> {
    let n = order.len();
    let repeated: Vec<usize> = if repeats.fract() == 0.0 {
        order
            .iter()
            .flat_map(|&i| std::iter::repeat_n(i, repeats as usize))
            .collect()
    } else {
        let len = (repeats * n as f64).ceil() as usize;
        (0..len)
            .map(|i| order[py_floordiv(i as f64, repeats) as usize])
            .collect()
    };
    let per_rank = (n as f64 * repeats / world as f64).ceil() as usize;
    let total = per_rank * world;
    let mut padded = repeated;
    let pad: Vec<usize> = padded
        .iter()
        .copied()
        .cycle()
        .take(total - padded.len())
        .collect();
    padded.extend(pad);
    padded
        .into_iter()
        .skip(rank)
        .step_by(world)
        .take(repeat_selected(n, world))
        .collect()
}

/// Python's float `a // b` for `a >= 0, b > 0` (CPython's `float_floor_div`:
/// the exact remainder first, so that `7.0 // 3.5` is 2, not 1 from a
/// rounded quotient).
fn py_floordiv(a: f64, b: f64) -> f64 {
    let m = a % b;
    let div = (a - m) / b;
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
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
    fn repeat_share_is_repeat_aug_samplers_split() {
        // timm: RepeatAugSampler(range(600), num_replicas=2, rank=r,
        // shuffle=False, num_repeats=3) gives rank 0 [0, 0, 1, 2, 2, 3, ...]
        // and 256 items a rank (600 // 256 * 256 / 2).
        let order: Vec<usize> = (0..600).collect();
        let r0 = repeat_share(&order, 3.0, 0, 2);
        let r1 = repeat_share(&order, 3.0, 1, 2);
        assert_eq!(r0.len(), 256);
        assert_eq!(r0[..6], [0, 0, 1, 2, 2, 3]);
        assert_eq!(r1[..6], [0, 1, 1, 2, 3, 3]);
        assert_eq!(repeat_share(&order, 3.0, 0, 1).len(), 512);
        // Under 256 images: nothing.
        assert!(repeat_share(&order[..255], 2.0, 0, 1).is_empty());
        // A fractional count: index i // 1.5.
        let f = repeat_share(&order, 1.5, 0, 1);
        assert_eq!(f[..7], [0, 0, 1, 2, 2, 3, 4]);
    }

    #[test]
    fn eval_share_counts_each_item_once() {
        let mut all: Vec<usize> = (0..3).flat_map(|r| eval_share(10, r, 3)).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }
}
