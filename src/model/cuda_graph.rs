//! A forward pass recorded once as a CUDA graph and replayed
//! (`dpn profile --cuda-graph`), through `csrc/cuda_graph.cpp`: one launch
//! per batch instead of one per kernel, which is what small batches on a
//! fast GPU wait for (docs/conventions.md, "CUDA graphs").
//!
//! A graph replays fixed memory: the input is copied into the tensor the
//! capture read, and the output is the tensor the capture wrote, so one
//! graph serves one batch shape, dtype and layout.

use std::os::raw::{c_char, c_int, c_void};

use anyhow::Result;
use tch::{Device, Tensor};

use super::infer::{self, Forward, RunOptions};
use crate::sys::c_error::{message, ERR_LEN};
use crate::sys::error;

extern "C" {
    fn dpn_graph_new(device: c_int, err: *mut c_char, errlen: usize) -> *mut c_void;
    fn dpn_graph_begin(g: *mut c_void, err: *mut c_char, errlen: usize) -> c_int;
    fn dpn_graph_end(g: *mut c_void, err: *mut c_char, errlen: usize) -> c_int;
    fn dpn_graph_replay(g: *mut c_void, err: *mut c_char, errlen: usize) -> c_int;
    fn dpn_graph_free(g: *mut c_void);
}

/// Warm-up passes before the capture: cuDNN chooses its algorithms and the
/// caching allocator its blocks outside the graph, as torch.cuda.graph's
/// documentation asks.
const WARMUP: usize = 3;

pub struct Captured {
    raw: *mut c_void,
    input: Tensor,
    output: Tensor,
}

fn check(what: &str, f: impl FnOnce(*mut c_char, usize) -> c_int) -> Result<()> {
    let mut err = [0 as c_char; ERR_LEN];
    if f(err.as_mut_ptr(), err.len()) != 0 {
        return Err(anyhow::anyhow!(
            "CUDA graph {what} failed: {}",
            message(&err)
        ));
    }
    Ok(())
}

impl Captured {
    /// Records `model`'s logits ([`infer::infer`]) for inputs shaped like
    /// `xs`, already prepared for `opts` (a CUDA device).
    pub fn capture(model: &dyn Forward, xs: &Tensor, opts: &RunOptions) -> Result<Captured> {
        let Device::Cuda(index) = opts.device else {
            return Err(error::usage("--cuda-graph needs a CUDA device"));
        };
        let input = infer::prepare_input(xs, opts).copy();
        for _ in 0..WARMUP {
            let _ = infer::infer(model, &input, opts);
        }
        tch::Cuda::synchronize(index as i64);
        let mut err = [0 as c_char; ERR_LEN];
        // SAFETY: an error buffer of the stated length.
        let raw = unsafe { dpn_graph_new(index as c_int, err.as_mut_ptr(), err.len()) };
        if raw.is_null() {
            return Err(anyhow::anyhow!(
                "CUDA graph set-up failed: {}",
                message(&err)
            ));
        }
        let mut graph = Captured {
            raw,
            input,
            output: Tensor::new(),
        };
        // SAFETY: `raw` is live; the shim catches every C++ exception.
        check("capture", |e, l| unsafe { dpn_graph_begin(raw, e, l) })?;
        // A failure inside the capture must still end it, or the stream
        // stays in capture mode for whatever runs next.
        let recorded = crate::sys::panic::catch(|| infer::infer(model, &graph.input, opts));
        // SAFETY: as above.
        let ended = check("capture", |e, l| unsafe { dpn_graph_end(raw, e, l) });
        graph.output = recorded?;
        ended?;
        Ok(graph)
    }

    /// The logits for `xs` (the captured shape, prepared for the run):
    /// copied into the captured input, replayed. The tensor returned is the
    /// graph's own output, overwritten by the next replay.
    pub fn run(&self, xs: &Tensor) -> Result<Tensor> {
        if xs.size() != self.input.size() {
            return Err(error::usage(format!(
                "a CUDA graph replays the batch shape it captured ({:?}), not {:?}",
                self.input.size(),
                xs.size()
            )));
        }
        let mut input = self.input.shallow_clone();
        input.copy_(xs);
        // SAFETY: `raw` is live; the shim catches every C++ exception.
        check("replay", |e, l| unsafe { dpn_graph_replay(self.raw, e, l) })?;
        Ok(self.output.shallow_clone())
    }
}

impl Drop for Captured {
    fn drop(&mut self) {
        // SAFETY: `raw` came from dpn_graph_new and is freed once.
        unsafe { dpn_graph_free(self.raw) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::infer::Precision;
    use crate::model::Dpn;
    use tch::{nn, Kind};

    /// On a GPU: replaying the graph for new inputs gives what the eager
    /// network gives for them. Without one: the shim was built with CUDA's
    /// headers (its stub would say "built without") and reaches CUDA, which
    /// refuses.
    #[test]
    fn a_replay_equals_the_eager_pass() {
        if !tch::Cuda::is_available() {
            let mut err = [0 as c_char; ERR_LEN];
            // SAFETY: an error buffer of the stated length.
            let raw = unsafe { dpn_graph_new(0, err.as_mut_ptr(), err.len()) };
            assert!(raw.is_null(), "a graph without a GPU");
            let m = message(&err);
            eprintln!("without a GPU: {m}");
            assert!(m != "unknown error" && !m.contains("built without"), "{m}");
            return;
        }
        let reg = crate::registry::Registry::load(None).unwrap();
        let arch = reg.get("dpn48b").unwrap().arch.clone();
        let mut vs = nn::VarStore::new(Device::Cpu);
        let model = Dpn::new(&vs.root(), &arch);
        let opts = RunOptions::new(Device::Cuda(0), Precision::F32, true).unwrap();
        infer::prepare_model_for_inference(&mut vs, &opts);
        let xs = |seed| {
            tch::manual_seed(seed);
            infer::prepare_input(
                &Tensor::randn([2, 3, 64, 64], (Kind::Float, Device::Cpu)),
                &opts,
            )
        };
        let graph = Captured::capture(&model, &xs(1), &opts).unwrap();
        for seed in [2, 3] {
            let replayed = graph.run(&xs(seed)).unwrap().to_device(Device::Cpu);
            let eager = infer::infer(&model, &xs(seed), &opts).to_device(Device::Cpu);
            let d = (replayed - eager).abs().max().double_value(&[]);
            assert!(d < 1e-5, "replay differs from eager by {d:e}");
        }
        assert!(graph.run(&xs(4).narrow(0, 0, 1)).is_err());
    }
}
