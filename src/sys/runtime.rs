//! Facts about the libtorch the binary runs on.

/// The libtorch the binary was built against (read by build.rs from the wheel).
pub const LIBTORCH_VERSION: &str = env!("DPN_LIBTORCH_VERSION");

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
    format!(
        "dpn {}\nlibtorch {LIBTORCH_VERSION}\nCUDA: {cuda}",
        env!("CARGO_PKG_VERSION")
    )
}
