//! Time of one optimizer update and one EMA update on a DPN's parameters,
//! apart from the forward and backward passes that bench/train_speed.sh
//! times with them: shows what `--opt` and `--model-ema` add to an update.
//!
//! usage: optim_bench [--model NAME] [--rounds N] OPT...
//! Prints one JSON line per optimizer: milliseconds per step, per EMA update
//! and per `zero_grad`.

use std::time::Instant;

use clap::Parser;
use dpn::model::Dpn;
use dpn::registry::Registry;
use dpn::train::ema::{Ema, EmaSettings};
use dpn::train::optim::{build, Options};
use tch::{nn, Device, Kind, Tensor};

#[derive(Parser)]
struct Cli {
    #[arg(long, default_value = "dpn48b")]
    model: String,
    #[arg(long, default_value_t = 30)]
    rounds: usize,
    #[arg(long)]
    threads: Option<i32>,
    opts: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    dpn::sys::allocator::tune();
    if let Some(t) = cli.threads {
        tch::set_num_threads(t);
    }
    let reg = Registry::load(None)?;
    let arch = reg.get(&cli.model)?.arch.clone();
    let vs = nn::VarStore::new(Device::Cpu);
    let model = Dpn::new(&vs.root(), &arch);
    tch::manual_seed(0);
    let x = Tensor::randn([8, 3, 32, 32], (Kind::Float, Device::Cpu));
    // Gradients as a training step leaves them (zero_grad drops them).
    let backward = || model.forward_t(&x, true).sum(Kind::Float).backward();
    backward();
    let numel: i64 = vs
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    for name in &cli.opts {
        let o = Options {
            name: name.clone(),
            momentum: 0.9,
            weight_decay: 1e-5,
            eps: None,
            betas: None,
            layer_decay: None,
        };
        let mut opt = build(&o, &vs)?;
        let mut ema = Ema::new(
            &vs,
            &model,
            &arch,
            EmaSettings {
                decay: 0.9998,
                warmup: false,
                force_cpu: false,
            },
        )?;
        backward();
        // The first step allocates the state; not timed.
        tch::no_grad(|| opt.step(1e-4));
        let t = Instant::now();
        for _ in 0..cli.rounds {
            tch::no_grad(|| opt.step(1e-4));
        }
        let step_ms = t.elapsed().as_secs_f64() * 1e3 / cli.rounds as f64;
        let mut zero = std::time::Duration::ZERO;
        for _ in 0..cli.rounds {
            backward();
            let t = Instant::now();
            opt.zero_grad();
            zero += t.elapsed();
        }
        let zero_ms = zero.as_secs_f64() * 1e3 / cli.rounds as f64;
        ema.update(&vs, &model, 1)?;
        let t = Instant::now();
        for i in 0..cli.rounds {
            ema.update(&vs, &model, i as u64 + 2)?;
        }
        let ema_ms = t.elapsed().as_secs_f64() * 1e3 / cli.rounds as f64;
        println!(
            "{{\"opt\":\"{name}\",\"params\":{numel},\"tensors\":{},\"step_ms\":{step_ms:.2},\"ema_ms\":{ema_ms:.2},\"zero_grad_ms\":{zero_ms:.2}}}",
            opt.len()
        );
    }
    Ok(())
}
