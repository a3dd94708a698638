//! Facts about the libtorch the binary runs on.

/// The libtorch the binary was built against (read by build.rs from the wheel).
pub const LIBTORCH_VERSION: &str = env!("DPN_LIBTORCH_VERSION");

/// Whether csrc/dist_nccl.cpp was built with NCCL (build.rs found CUDA's
/// and NCCL's headers and a libtorch with CUDA).
pub fn with_nccl() -> bool {
    env!("DPN_WITH_NCCL") == "yes"
}

/// `dpn --version`'s text. Asking libtorch about CUDA initialises the driver,
/// so only this path pays for it.
pub fn version_text() -> String {
    let cuda = if tch::Cuda::is_available() {
        let n = tch::Cuda::device_count();
        let cudnn = if tch::Cuda::cudnn_is_available() {
            ", cuDNN available"
        } else {
            ""
        };
        format!(
            "available ({n} device{}{cudnn})",
            if n == 1 { "" } else { "s" }
        )
    } else {
        "not available".to_string()
    };
    let backends = if with_nccl() {
        "Gloo, NCCL"
    } else {
        "Gloo (built without NCCL)"
    };
    format!(
        "dpn {}\nlibtorch {LIBTORCH_VERSION}\nCUDA: {cuda}\ndistributed: {backends}",
        env!("CARGO_PKG_VERSION")
    )
}
