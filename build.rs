//! Links libtorch so that the binary runs without `LD_LIBRARY_PATH`.
//!
//! torch-sys tells dependants where libtorch lives through `DEP_TCH_LIBTORCH_LIB`
//! (its `links = "tch"` key). We put that directory on the rpath and force
//! `libtorch.so` to be a needed library: without `--no-as-needed` the linker
//! drops it (nothing references its symbols directly), and with it goes
//! `libtorch_cuda.so`, so CUDA silently disappears on GPU machines.
//!
//! It also builds `csrc/dist.cpp` (c10d, for distributed runs) and `csrc/jpeg.c` against the system's libjpeg-turbo (see
//! `src/data/jpeg.rs` for why), linked statically when its `libjpeg.a` is
//! installed so that the binary carries the exact decoder it was tested with.

use std::path::{Path, PathBuf};

fn main() {
    build_onnx_schema();
    build_jpeg_shim();
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let Ok(lib_dir) = std::env::var("DEP_TCH_LIBTORCH_LIB") else {
        println!(
            "cargo:warning=DEP_TCH_LIBTORCH_LIB is not set; libtorch will not be on the rpath"
        );
        println!("cargo:rustc-env=DPN_LIBTORCH_VERSION=unknown");
        println!("cargo:rustc-env=DPN_WITH_NCCL=no");
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
    build_libtorch_shims(Path::new(&lib_dir));
    build_dist_shim(Path::new(&lib_dir));
}

/// `proto/onnx.proto` (the ONNX schema, copied from the `onnx` Python
/// package; see proto/README.md) compiled into prost messages for
/// `dpn export`. protox parses it in Rust, so no `protoc` is needed.
fn build_onnx_schema() {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let files = protox::compile(["proto/onnx.proto"], ["proto"])
        .unwrap_or_else(|e| panic!("proto/onnx.proto does not compile: {e}"));
    prost_build::Config::new()
        .compile_fds(files)
        .unwrap_or_else(|e| panic!("generating the ONNX messages failed: {e}"));
}

/// `csrc/dist.cpp`: the binding to c10d (TCPStore, Gloo, DDP's Reducer) for
/// distributed runs. The wheel ships c10d's headers but not gloo's, which
/// they include: those are vendored in `csrc/vendor` (see its README).
fn build_dist_shim(lib_dir: &Path) {
    println!("cargo:rerun-if-changed=csrc/dist.cpp");
    println!("cargo:rerun-if-changed=csrc/guarded.h");
    println!("cargo:rerun-if-changed=csrc/vendor");
    let include = lib_dir.parent().unwrap_or(lib_dir).join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .opt_level(2)
        .include(&include)
        .include(include.join("torch/csrc/api/include"))
        .include("csrc/vendor")
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .define("USE_C10D_GLOO", None)
        .define("USE_DISTRIBUTED", None)
        .file("csrc/dist.cpp")
        .compile("dpn_dist");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    build_cuda_shims(lib_dir, &include);
}

/// Where CUDA's and NCCL's headers are, for the shims that need them
/// (`ProcessGroupNCCL.hpp` and `CUDAGraph.h` include CUDA's runtime headers,
/// `nccl.h` too), which the torch wheel does not ship: the PyPI packages
/// beside it (`nvidia/cu13/include` from nvidia-cuda-runtime, -crt and -cccl;
/// `nvidia/nccl/include` from nvidia-nccl), else `CUDA_HOME`. `None` also
/// for a libtorch without CUDA (no `libtorch_cuda.so`).
struct CudaHeaders {
    cuda: PathBuf,
    nccl: Option<PathBuf>,
}

fn cuda_headers(lib_dir: &Path) -> Option<CudaHeaders> {
    println!("cargo:rerun-if-env-changed=CUDA_HOME");
    let site = lib_dir.parent().and_then(Path::parent);
    let cuda_dirs: Vec<PathBuf> = site
        .map(|s| s.join("nvidia"))
        .into_iter()
        .flat_map(|n| [n.join("cu13/include"), n.join("cuda_runtime/include")])
        .chain(std::env::var_os("CUDA_HOME").map(|h| PathBuf::from(h).join("include")))
        .collect();
    if !lib_dir.join("libtorch_cuda.so").is_file() {
        return None;
    }
    let cuda = cuda_dirs.iter().find(|d| {
        d.join("cuda_runtime.h").is_file()
            && d.join("crt/host_config.h").is_file()
            && d.join("nv/target").is_file()
    });
    let Some(cuda) = cuda else {
        println!(
            "cargo:warning=CUDA headers not found (looked in {}): dpn is built without NCCL \
             and CUDA graphs; run scripts/setup.sh, which installs them",
            cuda_dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return None;
    };
    let nccl = site
        .map(|s| s.join("nvidia/nccl/include"))
        .into_iter()
        .chain(std::iter::once(cuda.clone()))
        .find(|d| d.join("nccl.h").is_file());
    if nccl.is_none() {
        println!("cargo:warning=nccl.h not found: dpn is built without NCCL");
    }
    Some(CudaHeaders {
        cuda: cuda.clone(),
        nccl,
    })
}

/// `csrc/dist_nccl.cpp` (the NCCL backend for distributed runs) and
/// `csrc/cuda_graph.cpp` (CUDA graphs for `dpn profile --cuda-graph`). Each
/// is compiled as a stub that reports what is missing when its headers are
/// not there, and `dpn --version` says whether NCCL is in.
fn build_cuda_shims(lib_dir: &Path, include: &Path) {
    println!("cargo:rerun-if-changed=csrc/dist_nccl.cpp");
    println!("cargo:rerun-if-changed=csrc/cuda_graph.cpp");
    let headers = cuda_headers(lib_dir);
    let shim = |file: &str| {
        let mut build = cc::Build::new();
        build
            .cpp(true)
            .pic(true)
            .warnings(false)
            .opt_level(1)
            .include(include)
            .include(include.join("torch/csrc/api/include"))
            .flag("-std=c++17")
            .define("_GLIBCXX_USE_CXX11_ABI", "1")
            .file(file);
        build
    };

    let mut nccl = shim("csrc/dist_nccl.cpp");
    nccl.define("USE_DISTRIBUTED", None);
    let with_nccl = match &headers {
        Some(CudaHeaders {
            cuda,
            nccl: Some(dir),
        }) => {
            nccl.include(cuda)
                .include(dir)
                .define("USE_C10D_NCCL", None)
                .define("USE_CUDA", None)
                .define("DPN_WITH_NCCL", None);
            true
        }
        _ => false,
    };
    nccl.compile("dpn_dist_nccl");

    let mut graph = shim("csrc/cuda_graph.cpp");
    if let Some(h) = &headers {
        graph
            .include(&h.cuda)
            .define("USE_CUDA", None)
            .define("DPN_WITH_CUDA_HEADERS", None);
    }
    graph.compile("dpn_cuda_graph");

    if headers.is_some() {
        println!("cargo:rustc-link-lib=dylib=torch_cuda");
        println!("cargo:rustc-link-lib=dylib=c10_cuda");
    }
    println!(
        "cargo:rustc-env=DPN_WITH_NCCL={}",
        if with_nccl { "yes" } else { "no" }
    );
}

/// The shims that need only libtorch's own headers, built as one library:
/// `csrc/cuda_memory.cpp` (the CUDA allocator's peak statistics for `dpn
/// profile`, through c10's device-generic interface, so no CUDA headers) and
/// `csrc/cpu_caps.cpp` (libtorch's own answer to whether its CPU
/// convolutions have bf16 kernels here, through the operator registry) and
/// `csrc/grad.cpp` (dropping a gradient, which tch cannot).
fn build_libtorch_shims(lib_dir: &Path) {
    let files = [
        "csrc/cuda_memory.cpp",
        "csrc/cpu_caps.cpp",
        "csrc/grad.cpp",
        "csrc/guarded.h",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let include = lib_dir.parent().unwrap_or(lib_dir).join("include");
    cc::Build::new()
        .cpp(true)
        .pic(true)
        .warnings(false)
        .include(&include)
        .flag("-std=c++17")
        .define("_GLIBCXX_USE_CXX11_ABI", "1")
        .files(&files[..3])
        .compile("dpn_libtorch_shims");
    println!("cargo:rustc-link-lib=dylib=torch_cpu");
    println!("cargo:rustc-link-lib=dylib=c10");
}

/// `csrc/jpeg.c` and libjpeg-turbo: found with pkg-config (`libjpeg.pc`, as
/// Debian's `libjpeg62-turbo-dev` and Ubuntu's `libjpeg-turbo8-dev` install
/// it), else in the compiler's default paths.
fn build_jpeg_shim() {
    println!("cargo:rerun-if-changed=csrc/jpeg.c");
    let found = pkg_config::Config::new()
        .cargo_metadata(false)
        .env_metadata(true)
        .probe("libjpeg")
        .ok();
    let (includes, lib_dirs) = match &found {
        Some(lib) => (lib.include_paths.clone(), lib.link_paths.clone()),
        None => (Vec::new(), Vec::new()),
    };
    let mut build = cc::Build::new();
    build
        .pic(true)
        .opt_level(2)
        .warnings(true)
        .file("csrc/jpeg.c");
    for dir in &includes {
        build.include(dir);
    }
    if let Err(e) = build.try_compile("dpn_jpeg") {
        panic!(
            "cannot compile csrc/jpeg.c: {e}\n\
             dpn decodes JPEG with libjpeg-turbo (2.1 or newer): install its development \
             package (Debian: libjpeg62-turbo-dev, Ubuntu: libjpeg-turbo8-dev, \
             Fedora: libjpeg-turbo-devel)"
        );
    }
    // The static library where there is one (pkg-config's directory, else
    // the usual ones), else the shared one.
    let multiarch = format!(
        "/usr/lib/{}-linux-gnu",
        std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default()
    );
    let usual = [
        multiarch.as_str(),
        "/usr/lib64",
        "/usr/lib",
        "/usr/local/lib",
    ];
    let static_dir = lib_dirs
        .iter()
        .cloned()
        .chain(usual.iter().map(PathBuf::from))
        .find(|d| d.join("libjpeg.a").is_file());
    if let Some(dir) = static_dir {
        println!("cargo:rustc-link-search=native={}", dir.display());
        println!("cargo:rustc-link-lib=static=jpeg");
    } else {
        for dir in &lib_dirs {
            println!("cargo:rustc-link-search=native={}", dir.display());
        }
        println!("cargo:rustc-link-lib=dylib=jpeg");
    }
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
