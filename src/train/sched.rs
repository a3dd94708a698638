//! Learning-rate schedules, as timm's schedulers compute them and timm's
//! train.py steps them.
//!
//! timm's `create_scheduler_v2` (timm/scheduler/scheduler_factory.py) counts
//! time `t` in epochs, or, with train.py's `--sched-on-updates`
//! (`step_on_epochs=False`), in optimizer updates, every epoch count
//! multiplied by the updates per epoch. train.py sets the learning rate
//! once before training (the scheduler's constructor: `--warmup-lr` with a
//! warmup, else `--lr`), then calls `step_update(num_updates)` after each
//! update and `step(epoch + 1, eval_metric)` after each epoch; the
//! scheduler answers only the call of its unit (timm/scheduler/scheduler.py
//! `_get_values`). So update `u` of epoch `e` runs at [`Schedule::value`]
//! of `t = e` per epoch, or `t = u` per update: the constructor's value at
//! `t = 0`, else `_get_lr(t)` times `1 + noise(t)` inside the noise range.
//! Plateau (`PlateauLRScheduler`, per epoch only) depends on the
//! validation metrics of the epochs before: [`Schedule::lr_with`] replays
//! them, so a resumed run continues as an uninterrupted one.
//! `tests/train_sched.rs` checks every value against timm's schedulers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::config::TrainConfig;
use crate::sys::error;

/// Which schedule (train.py's `--sched`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedKind {
    #[default]
    Cosine,
    Step,
    MultiStep,
    Plateau,
    Poly,
    Tanh,
    /// `--lr` throughout (after the warmup): `StepLRScheduler` with decay
    /// rate 1, as timm has no constant schedule of its own.
    Constant,
}

impl SchedKind {
    pub const ALL: [SchedKind; 7] = [
        SchedKind::Cosine,
        SchedKind::Step,
        SchedKind::MultiStep,
        SchedKind::Plateau,
        SchedKind::Poly,
        SchedKind::Tanh,
        SchedKind::Constant,
    ];

    /// Whether timm's scheduler has `get_cycle_length` (its run length is
    /// the cycles' plus the cooldown: `create_scheduler_v2`).
    fn has_cycles(self) -> bool {
        matches!(self, SchedKind::Cosine | SchedKind::Poly | SchedKind::Tanh)
    }
}

impl fmt::Display for SchedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchedKind::Cosine => "cosine",
            SchedKind::Step => "step",
            SchedKind::MultiStep => "multistep",
            SchedKind::Plateau => "plateau",
            SchedKind::Poly => "poly",
            SchedKind::Tanh => "tanh",
            SchedKind::Constant => "constant",
        })
    }
}

impl FromStr for SchedKind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<SchedKind> {
        let s2 = s.trim().to_ascii_lowercase();
        if s2 == "const" {
            return Ok(SchedKind::Constant);
        }
        SchedKind::ALL
            .into_iter()
            .find(|k| k.to_string() == s2)
            .ok_or_else(|| {
                error::usage(format!(
                    "invalid --sched `{s}`: expected cosine, step, multistep, plateau, poly, \
                     tanh or constant"
                ))
            })
    }
}

/// timm's learning-rate noise (`Scheduler._add_noise`): inside the range,
/// `lr * (1 + n)` with `n` a normal draw from a generator seeded
/// `seed + t`, redrawn until `|n| < pct`.
#[derive(Debug, Clone, PartialEq)]
pub struct Noise {
    /// `[lo, hi)` in `t`, or from `lo` on when `hi` is none.
    pub lo: f64,
    pub hi: Option<f64>,
    pub pct: f64,
    pub seed: u64,
}

impl Noise {
    fn applies(&self, t: u64) -> bool {
        let t = t as f64;
        match self.hi {
            Some(hi) => self.lo <= t && t < hi,
            None => t >= self.lo,
        }
    }
}

/// A learning-rate schedule: timm's scheduler as `create_scheduler_v2`
/// builds it from a run's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub kind: SchedKind,
    /// The base learning rate (`--lr`).
    pub lr: f64,
    /// Whether `t` counts updates (`--sched-on-updates`) or epochs.
    pub on_updates: bool,
    /// Updates per epoch.
    pub upe: u64,
    /// `t_initial`: the run's `--epochs` in units of `t`.
    pub t_initial: u64,
    pub warmup_t: u64,
    pub warmup_lr: f64,
    pub warmup_prefix: bool,
    pub min_lr: f64,
    /// Step: `t` between decays (a float: timm's 2.4-epoch decay).
    pub decay_t: f64,
    /// Multistep: the milestones in units of `t`.
    pub milestones: Vec<u64>,
    /// The decay factor (step, multistep, plateau); poly's power.
    pub decay_rate: f64,
    pub cycle_mul: f64,
    pub cycle_decay: f64,
    pub cycle_limit: u64,
    pub k_decay: f64,
    /// Plateau: epochs without improvement before a decay.
    pub patience: u64,
    /// Plateau: whether the metric improves downwards (`--eval-metric
    /// loss`: train.py's `decreasing_metric`, torch's `mode='min'`).
    pub decreasing: bool,
    pub noise: Option<Noise>,
    /// The epochs the run trains: timm's `num_epochs` from
    /// `create_scheduler_v2` (the cycles and the cooldown).
    pub num_epochs: u64,
}

/// tanh's bounds (`TanhLRScheduler` defaults; train.py passes none).
const TANH_LB: f64 = -7.0;
const TANH_UB: f64 = 3.0;
/// `PlateauLRScheduler`'s threshold (rel mode) and torch's
/// `ReduceLROnPlateau` eps.
const PLATEAU_THRESHOLD: f64 = 1e-4;
const PLATEAU_EPS: f64 = 1e-8;

impl Schedule {
    /// `create_scheduler_v2(**scheduler_kwargs(cfg), updates_per_epoch=upe)`.
    pub fn new(cfg: &TrainConfig, upe: u64) -> Schedule {
        let upe = upe.max(1);
        let on_updates = cfg.sched_on_updates && cfg.sched != SchedKind::Plateau;
        let m = if on_updates { upe } else { 1 };
        let t_initial = cfg.epochs * m;
        let warmup_t = cfg.warmup_epochs * m;
        let cooldown_t = cfg.cooldown_epochs * m;
        let noise = cfg.lr_noise.as_ref().filter(|n| !n.is_empty()).map(|n| {
            // `noise_range = [n * t_initial for n in noise]`, one value a
            // start only.
            let r: Vec<f64> = n.iter().map(|x| x * t_initial as f64).collect();
            Noise {
                lo: r[0],
                hi: r.get(1).copied(),
                pct: cfg.lr_noise_pct,
                seed: cfg.seed,
            }
        });
        let (decay_rate, kind) = match cfg.sched {
            SchedKind::Constant => (1.0, SchedKind::Constant),
            k => (cfg.decay_rate, k),
        };
        let mut s = Schedule {
            kind,
            lr: cfg.lr,
            on_updates,
            upe,
            t_initial,
            warmup_t,
            warmup_lr: cfg.warmup_lr,
            // Plateau drops the prefix (`warmup_args.pop('warmup_prefix')`).
            warmup_prefix: cfg.warmup_prefix && kind != SchedKind::Plateau,
            min_lr: cfg.min_lr,
            decay_t: cfg.decay_epochs * m as f64,
            milestones: cfg.decay_milestones.iter().map(|d| d * m).collect(),
            decay_rate,
            cycle_mul: cfg.lr_cycle_mul,
            cycle_decay: cfg.lr_cycle_decay,
            cycle_limit: cfg.lr_cycle_limit,
            k_decay: cfg.lr_k_decay,
            patience: cfg.patience_epochs,
            decreasing: cfg.eval_metric == "loss",
            noise,
            num_epochs: cfg.epochs,
        };
        s.num_epochs = if kind.has_cycles() {
            let t = s.cycle_length() + cooldown_t;
            if on_updates {
                t / upe
            } else {
                t
            }
        } else if cfg.warmup_prefix {
            cfg.epochs + cfg.warmup_epochs
        } else {
            cfg.epochs
        };
        s
    }

    /// `get_cycle_length()` of the cosine, tanh and poly schedulers.
    fn cycle_length(&self) -> u64 {
        let cycles = self.cycle_limit.max(1);
        let t = if self.cycle_mul == 1.0 {
            self.t_initial * cycles
        } else {
            let ti = self.t_initial as f64;
            let v = -ti * (self.cycle_mul.powf(cycles as f64) - 1.0) / (1.0 - self.cycle_mul);
            v.floor().max(0.0) as u64
        };
        if self.warmup_prefix {
            t + self.warmup_t
        } else {
            t
        }
    }

    /// The learning rate before any step: the constructor's (`--warmup-lr`
    /// with a warmup, else `--lr`).
    pub fn initial(&self) -> f64 {
        if self.warmup_t > 0 {
            self.warmup_lr
        } else {
            self.lr
        }
    }

    fn warmup_step(&self) -> f64 {
        let target = match self.kind {
            // `TanhLRScheduler` warms up towards its value at `warmup_t`
            // unless the warmup is a prefix.
            SchedKind::Tanh if !self.warmup_prefix => self.decayed(self.warmup_t),
            _ => self.lr,
        };
        (target - self.warmup_lr) / self.warmup_t as f64
    }

    /// timm's `_get_lr(t)` (no noise); plateau's warmup only.
    pub fn get_lr(&self, t: u64) -> f64 {
        if t < self.warmup_t {
            return self.warmup_lr + t as f64 * self.warmup_step();
        }
        let t = if self.warmup_prefix {
            t - self.warmup_t
        } else {
            t
        };
        self.decayed(t)
    }

    /// `_get_lr` past the warmup, `t` after the prefix.
    fn decayed(&self, t: u64) -> f64 {
        match self.kind {
            SchedKind::Step | SchedKind::Constant => {
                self.lr * self.decay_rate.powf(py_floordiv(t as f64, self.decay_t))
            }
            SchedKind::MultiStep => {
                // `bisect.bisect_right(decay_t, t + 1)`: the milestones <= t + 1.
                let n = self.milestones.partition_point(|&m| m <= t + 1);
                self.lr * self.decay_rate.powf(n as f64)
            }
            SchedKind::Plateau => self.lr,
            SchedKind::Cosine | SchedKind::Poly | SchedKind::Tanh => self.cyclic(t),
        }
    }

    /// Cosine, poly and tanh: the cycle `t` falls in and the position in it.
    fn cyclic(&self, t: u64) -> f64 {
        let ti0 = self.t_initial as f64;
        let (i, t_i, t_curr) = if self.cycle_mul != 1.0 {
            let mul = self.cycle_mul;
            let x = 1.0 - t as f64 / ti0 * (1.0 - mul);
            if x <= 0.0 {
                // Past every cycle a shrinking schedule has (timm's
                // math.log raises there).
                return self.min_lr;
            }
            let i = (x.ln() / mul.ln()).floor();
            let t_i = mul.powf(i) * ti0;
            let t_curr = t as f64 - (1.0 - mul.powf(i)) / (1.0 - mul) * ti0;
            (i, t_i, t_curr)
        } else {
            let i = t / self.t_initial.max(1);
            let t_curr = t - self.t_initial * i;
            (i as f64, ti0, t_curr as f64)
        };
        if i >= self.cycle_limit as f64 {
            return self.min_lr;
        }
        let lr_max = self.lr * self.cycle_decay.powf(i);
        let k = self.k_decay;
        match self.kind {
            SchedKind::Cosine => {
                let x = std::f64::consts::PI * t_curr.powf(k) / t_i.powf(k);
                self.min_lr + 0.5 * (lr_max - self.min_lr) * (1.0 + x.cos())
            }
            SchedKind::Poly => {
                let base = 1.0 - t_curr.powf(k) / t_i.powf(k);
                self.min_lr + (lr_max - self.min_lr) * base.powf(self.decay_rate)
            }
            _ => {
                let tr = t_curr / t_i;
                let x = TANH_LB * (1.0 - tr) + TANH_UB * tr;
                self.min_lr + 0.5 * (lr_max - self.min_lr) * (1.0 - x.tanh())
            }
        }
    }

    /// `lr + lr * noise(t)` inside the noise range, else `lr`.
    fn noised(&self, lr: f64, t: u64) -> f64 {
        match &self.noise {
            Some(n) if n.applies(t) => lr + lr * timm_noise(n.seed.wrapping_add(t), n.pct),
            _ => lr,
        }
    }

    /// The learning rate at `t` (epochs, or updates with `on_updates`):
    /// the constructor's at 0 (train.py calls no `step(0)`), else what
    /// `step(t)` / `step_update(t)` sets. Not for plateau (see
    /// [`Schedule::lr_with`]).
    pub fn value(&self, t: u64) -> f64 {
        if t == 0 {
            self.initial()
        } else {
            self.noised(self.get_lr(t), t)
        }
    }

    /// `t` of update `u` (0-based, counted over the whole run).
    pub fn t_of(&self, u: u64) -> u64 {
        if self.on_updates {
            u
        } else {
            u / self.upe
        }
    }

    /// The learning rate of update `u` in a run whose finished epochs had
    /// these validation metrics (only plateau reads them).
    pub fn lr_with(&self, u: u64, metrics: &[Option<f64>]) -> f64 {
        if self.kind == SchedKind::Plateau {
            self.plateau(u / self.upe, metrics)
        } else {
            self.value(self.t_of(u))
        }
    }

    /// The learning rate of update `u` (plateau: as if no epoch had a metric).
    pub fn lr(&self, u: u64) -> f64 {
        self.lr_with(u, &[])
    }

    /// `PlateauLRScheduler.step(e, metric)` for e = 1..=epoch, metric the
    /// validation metric of epoch `e - 1` (train.py's
    /// `lr_scheduler.step(epoch + 1, latest_metric)`), over torch's
    /// `ReduceLROnPlateau(mode='max' or 'min', threshold=1e-4, cooldown=0)`
    /// in its relative threshold mode.
    fn plateau(&self, epoch: u64, metrics: &[Option<f64>]) -> f64 {
        let mut lr = self.initial();
        let mut restore: Option<f64> = None;
        let mut best = if self.decreasing {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
        let mut bad = 0u64;
        let step = if self.warmup_t > 0 {
            (self.lr - self.warmup_lr) / self.warmup_t as f64
        } else {
            1.0
        };
        for e in 1..=epoch {
            if e <= self.warmup_t {
                lr = self.warmup_lr + e as f64 * step;
                continue;
            }
            if let Some(r) = restore.take() {
                lr = r;
            }
            if let Some(m) = metrics.get(e as usize - 1).copied().flatten() {
                let improved = if self.decreasing {
                    m < best * (1.0 - PLATEAU_THRESHOLD)
                } else {
                    m > best * (1.0 + PLATEAU_THRESHOLD)
                };
                if improved {
                    best = m;
                    bad = 0;
                } else {
                    bad += 1;
                }
                if bad > self.patience {
                    let new = (lr * self.decay_rate).max(self.min_lr);
                    if lr - new > PLATEAU_EPS {
                        lr = new;
                    }
                    bad = 0;
                }
            }
            if let Some(n) = self.noise.as_ref().filter(|n| n.applies(e)) {
                restore = Some(lr);
                lr += lr * timm_noise(n.seed.wrapping_add(e), n.pct);
            }
        }
        lr
    }
}

/// Python's float `a // b` (CPython's `_float_div_mod`), which timm's step
/// schedule takes of an integer `t` and a float `decay_t`.
pub fn py_floordiv(vx: f64, wx: f64) -> f64 {
    let mut m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && ((wx < 0.0) != (m < 0.0)) {
        m += wx;
        div -= 1.0;
    }
    let _ = m;
    if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        (0.0f64).copysign(vx / wx)
    }
}

/// timm's `Scheduler._calculate_noise` (normal noise): `torch.randn(1,
/// generator=g).item()` from `g.manual_seed(seed)` until `|n| < pct`.
///
/// tch has no `torch.Generator`, and the global generator is the run's, so
/// this is torch's CPU path itself: `mt19937` seeded with the seed's low 32
/// bits (at::mt19937), `random64()` of two draws, 53-bit uniform doubles,
/// `at::normal_distribution<double>` (Box-Muller, caching the sine half for
/// the next call), the float32 tensor's cast. `tests/train_sched.rs` checks
/// it draw for draw against libtorch's generator and timm.
pub fn timm_noise(seed: u64, pct: f64) -> f64 {
    let mut mt = Mt19937::new(seed as u32);
    let mut cached: Option<f64> = None;
    loop {
        let v = match cached.take() {
            Some(v) => v,
            None => {
                let u1 = mt.uniform53();
                let u2 = mt.uniform53();
                let r = (-2.0 * (-u2).ln_1p()).sqrt();
                let theta = 2.0 * std::f64::consts::PI * u1;
                cached = Some(r * theta.sin());
                r * theta.cos()
            }
        };
        let n = v as f32 as f64;
        if n.abs() < pct {
            return n;
        }
    }
}

/// The 32-bit Mersenne Twister as at::mt19937 seeds and runs it.
struct Mt19937 {
    state: [u32; 624],
    index: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Mt19937 {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let p = state[i - 1];
            state[i] = 1_812_433_253u32
                .wrapping_mul(p ^ (p >> 30))
                .wrapping_add(i as u32);
        }
        Mt19937 { state, index: 624 }
    }

    fn next_u32(&mut self) -> u32 {
        if self.index >= 624 {
            for i in 0..624 {
                let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
                let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
                self.state[i] = self.state[(i + 397) % 624] ^ (y >> 1) ^ mag;
            }
            self.index = 0;
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// `uniform_real_distribution<double>(0, 1)`: the low 53 bits of
    /// `random64()` (the first draw high) times 2^-53.
    fn uniform53(&mut self) -> f64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        let x = (hi << 32) | lo;
        (x & ((1u64 << 53) - 1)) as f64 * (2f64).powi(-53)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: SchedKind) -> TrainConfig {
        TrainConfig {
            sched: kind,
            lr: 0.1,
            epochs: 10,
            warmup_epochs: 1,
            warmup_lr: 1e-5,
            decay_epochs: 3.0,
            decay_rate: 0.1,
            sched_on_updates: true,
            lr_cycle_mul: 1.0,
            lr_cycle_decay: 0.5,
            lr_cycle_limit: 1,
            lr_k_decay: 1.0,
            lr_noise_pct: 0.67,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn warmup_is_linear_from_warmup_lr() {
        let s = Schedule::new(&cfg(SchedKind::Cosine), 10);
        assert_eq!(s.lr(0), 1e-5);
        assert!((s.lr(5) - (1e-5 + 5.0 * (0.1 - 1e-5) / 10.0)).abs() < 1e-15);
    }

    #[test]
    fn cosine_reaches_min_at_total() {
        let s = Schedule::new(&cfg(SchedKind::Cosine), 10);
        assert!((s.lr(50) - 0.05).abs() < 1e-12);
        assert_eq!(s.lr(100), 0.0);
        assert_eq!(s.lr(1000), 0.0);
        assert_eq!(s.num_epochs, 10);
    }

    #[test]
    fn step_and_constant() {
        let s = Schedule::new(&cfg(SchedKind::Step), 10);
        assert_eq!(s.lr(29), 0.1);
        assert!((s.lr(30) - 0.01).abs() < 1e-15);
        assert!((s.lr(65) - 0.001).abs() < 1e-15);
        let c = Schedule::new(&cfg(SchedKind::Constant), 10);
        assert_eq!(c.lr(10), 0.1);
        assert_eq!(c.lr(10_000), 0.1);
    }

    #[test]
    fn per_epoch_holds_within_an_epoch() {
        let mut c = cfg(SchedKind::Step);
        c.sched_on_updates = false;
        c.decay_epochs = 0.5;
        c.warmup_epochs = 0;
        let s = Schedule::new(&c, 4);
        assert_eq!(s.lr(3), 0.1);
        assert!((s.lr(4) - 0.1 * 0.1f64.powi(2)).abs() < 1e-15);
        assert_eq!(s.lr(4), s.lr(7));
    }

    #[test]
    fn python_floordiv() {
        assert_eq!(py_floordiv(7.0, 2.4), 2.0);
        assert_eq!(py_floordiv(4.8, 2.4), 2.0);
        assert_eq!(py_floordiv(0.0, 2.4), 0.0);
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
    }

    #[test]
    fn sched_names_round_trip() {
        for k in SchedKind::ALL {
            assert_eq!(k.to_string().parse::<SchedKind>().unwrap(), k);
        }
        assert_eq!("const".parse::<SchedKind>().unwrap(), SchedKind::Constant);
    }
}
