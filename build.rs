//! Links libtorch so that the binary runs without `LD_LIBRARY_PATH`.
//!
//! torch-sys tells dependants where libtorch lives through `DEP_TCH_LIBTORCH_LIB`
//! (its `links = "tch"` key). We put that directory on the rpath and force
//! `libtorch.so` to be a needed library: without `--no-as-needed` the linker
//! drops it (nothing references its symbols directly), and with it goes
//! `libtorch_cuda.so`, so CUDA silently disappears on GPU machines.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!(
            "cargo:warning=DEP_TCH_LIBTORCH_LIB is not set; libtorch will not be on the rpath"
        );
        println!("cargo:rustc-env=DPN_LIBTORCH_VERSION=unknown");
        return;
    };
    println!("cargo:rustc-link-arg=-Wl,-rpath={lib_dir}");
    println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
    println!("cargo:rustc-link-arg=-ltorch");
    println!("cargo:rustc-link-arg=-Wl,--as-needed");
    println!(
        "cargo:rustc-env=DPN_LIBTORCH_VERSION={}",
        libtorch_version(Path::new(&lib_dir))
    );
    build_cuda_memory_shim(Path::new(&lib_dir));
}

/// `csrc/cuda_memory.cpp`: the CUDA allocator's peak statistics for
/// `dpn profile`, through c10's device-generic interface (no CUDA headers).
fn build_cuda_memory_shim(lib_dir: &Path) {
    println!("cargo:rerun-if-changed=csrc/cuda_memory.cpp");
    let include = lib_dir.parent().unwrap_or(lib_dir).join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .file("csrc/cuda_memory.cpp")
        .compile("dpn_cuda_memory");
    println!("cargo:rustc-link-lib=dylib=c10");
}

/// The wheel's `torch/version.py` (one level above `lib/`) names the exact build,
/// e.g. `2.11.0+cu130`; a plain libtorch download has `build-version` instead.
fn libtorch_version(lib_dir: &Path) -> String {
    let root = lib_dir.parent().unwrap_or(lib_dir);
    if let Ok(text) = std::fs::read_to_string(root.join("version.py")) {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("__version__") {
                let v = rest
                    .trim_start_matches([' ', '='])
                    .trim()
                    .trim_matches(['\'', '"']);
                if !v.is_empty() {
                    return v.to_string();
                }
            }
        }
    }
    if let Ok(text) = std::fs::read_to_string(root.join("build-version")) {
        return text.trim().to_string();
    }
    "unknown".to_string()
}
