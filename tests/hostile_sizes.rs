//! Hostile sizes (docs/conventions.md, "Limits on sizes"): every size a user
//! or a file chooses is checked against a stated limit before anything is
//! allocated from it, and inputs that would be read or inflated without end
//! are refused unread. Each case is one line and a documented exit code;
//! where memory is the point, the child's peak RSS (from `wait4`) stays
//! under a stated ceiling.

// wait4, mkfifo and the libc crate's target (see Cargo.toml).
#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Peak RSS allowed to a dpn process refusing a hostile input: libtorch alone
/// makes a started dpn about 0.5 GB resident; the inputs below would take
/// 1 GB or more on top of that if they were read.
const RSS_CEILING_KB: i64 = 1_000_000;

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    /// Peak resident memory of the child, in kB (`ru_maxrss`).
    max_rss_kb: i64,
}

/// `dpn` with the test environment: no launcher variables, no backtraces.
fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1")
        .env("DPN_CACHE_DIR", tmp().join("hostile-sizes-cache"))
        .env_remove("RUST_BACKTRACE")
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("RANK");
    c
}

/// Runs `dpn ARGS` and reaps it with `wait4`, which reports that child's own
/// peak RSS (other tests' children do not count).
// Clippy cannot see that `wait4` reaps the child.
#[allow(clippy::zombie_processes)]
fn run(args: &[&str]) -> Outcome {
    let mut child = dpn()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).unwrap();
        s
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let stdout = reader.join().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; the pid is our unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert!(libc::WIFEXITED(status), "dpn {args:?} was killed: {stderr}");
    Outcome {
        code: libc::WEXITSTATUS(status),
        stdout,
        stderr,
        max_rss_kb: usage.ru_maxrss,
    }
}

/// The run ended with `code` and exactly one error line holding every needle,
/// without a panic or backtrace.
fn one_error(o: &Outcome, code: i32, needles: &[&str]) {
    let e = &o.stderr;
    assert!(!e.contains("panicked") && !e.contains("backtrace"), "{e}");
    let errors: Vec<&str> = e.lines().filter(|l| l.starts_with("dpn: error:")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    for n in needles {
        assert!(errors[0].contains(n), "`{n}` missing from: {}", errors[0]);
    }
    assert_eq!(o.code, code, "{e}");
}

fn under_ceiling(o: &Outcome, what: &str) {
    assert!(
        o.max_rss_kb < RSS_CEILING_KB,
        "{what}: peak RSS {} kB, ceiling {RSS_CEILING_KB} kB",
        o.max_rss_kb
    );
}

fn tmp() -> &'static Path {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
}

fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("hostile-sizes-")
        .tempdir_in(tmp())
        .unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Untrained dpn48b weights (10 classes) and a folder of two small images in
/// two classes, made once.
struct Fixture {
    _dir: tempfile::TempDir,
    weights: PathBuf,
    data: PathBuf,
    image: PathBuf,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = tempdir();
        let registry = dpn::registry::Registry::load(None).unwrap();
        let mut arch = registry.get("dpn48b").unwrap().arch.clone();
        arch.num_classes = 10;
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let model = dpn::model::Dpn::new(&vs.root(), &arch);
        let tensors = dpn::model::state_dict(&vs, &model)
            .iter()
            .map(|(k, t)| (k.clone(), dpn::weights::from_tch(t).unwrap()))
            .collect();
        let weights = dir.path().join("dpn48b.safetensors");
        let sd = dpn::weights::StateDict {
            tensors,
            metadata: Default::default(),
        };
        dpn::weights::write_safetensors(&weights, &sd).unwrap();
        let data = dir.path().join("data");
        for (class, shade) in [("a", 30u8), ("b", 200u8)] {
            std::fs::create_dir_all(data.join(class)).unwrap();
            image::RgbImage::from_pixel(40, 40, image::Rgb([shade, 90, 10]))
                .save(data.join(class).join("0.png"))
                .unwrap();
        }
        let image = data.join("a/0.png");
        Fixture {
            _dir: dir,
            weights,
            data,
            image,
        }
    })
}

/// `predict` on the fixture's weights at 32 px (quick), with `extra` before the paths.
fn predict(extra: &[&str], paths: &[&str]) -> Outcome {
    let f = fixture();
    let mut args = vec![
        "predict",
        "-m",
        "dpn48b",
        "--weights",
        s(&f.weights),
        "--device",
        "cpu",
        "--img-size",
        "32",
        "--format",
        "csv",
        "-k",
        "1",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(paths);
    run(&args)
}

#[test]
fn image_size_beyond_the_limit_is_a_usage_error() {
    let f = fixture();
    let o = run(&[
        "predict",
        "-m",
        "dpn48b",
        "--weights",
        s(&f.weights),
        "--device",
        "cpu",
        "--img-size",
        "100000",
        s(&f.image),
    ]);
    one_error(&o, 2, &["--img-size 100000", "at most 4096"]);
    under_ceiling(&o, "predict --img-size 100000");
    // Refused before the weights are looked for.
    let o = run(&[
        "evaluate",
        "-m",
        "dpn48b",
        "--weights",
        "missing.safetensors",
        "--img-size",
        "100000",
        "--data",
        s(&f.data),
    ]);
    one_error(&o, 2, &["--img-size 100000", "at most 4096"]);
    let o = run(&["profile", "dpn48b", "--img-size", "4097", "--iters", "0"]);
    one_error(&o, 2, &["--img-size 4097", "at most 4096"]);
    let out = tempdir();
    let run_dir = out.path().join("run");
    let o = run(&[
        "train",
        "-m",
        "dpn48b",
        "--data",
        s(&f.data),
        "--img-size",
        "40000",
        "--output",
        s(&run_dir),
    ]);
    one_error(&o, 2, &["--img-size 40000", "at most 4096"]);
    assert!(!run_dir.exists());
    // The limit itself is accepted.
    let o = run(&["profile", "dpn48b", "--img-size", "4096", "--iters", "0"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
}

#[test]
fn class_counts_beyond_the_limit_are_refused_before_any_work() {
    let f = fixture();
    let out = tempdir();
    let run_dir = out.path().join("run");
    let o = run(&[
        "train",
        "-m",
        "dpn48b",
        "--data",
        s(&f.data),
        "--num-classes",
        "100000000000",
        "--output",
        s(&run_dir),
    ]);
    one_error(&o, 2, &["--num-classes 100000000000", "100000"]);
    assert!(
        !o.stderr.contains("writing to"),
        "refused before the run starts: {}",
        o.stderr
    );
    assert!(!run_dir.exists());
}

/// A model index holding dpn48b's architecture with one field replaced.
fn index_with(field: &str, value: &str) -> String {
    let mut arch = vec![
        ("Small", "true"),
        ("Init Features", "10"),
        ("K R", "128"),
        ("Groups", "32"),
        ("B", "true"),
        ("K Sec", "[3, 4, 6, 3]"),
        ("Inc Sec", "[16, 32, 32, 64]"),
        ("Activation", "silu"),
        ("Num Classes", "1000"),
        ("In Chans", "3"),
    ];
    for (k, v) in arch.iter_mut() {
        if *k == field {
            *v = value;
        }
    }
    let arch: Vec<String> = arch.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    format!(
        "Models:\n- Name: dpn-hostile\n  Metadata:\n    Crop Pct: '0.875'\n    Image Size: '224'\n    \
         Interpolation: bicubic\n  DPN:\n    Architecture: {{{}}}\n    Normalization: imagenet\n",
        arch.join(", ")
    )
}

#[test]
fn model_index_sizes_beyond_the_limits_are_bad_input() {
    let dir = tempdir();
    let file = dir.path().join("hostile.yaml");
    // The unchanged entry is accepted, so each refusal below is its field's.
    std::fs::write(&file, index_with("", "")).unwrap();
    let o = run(&["--model-index", s(&file), "info", "dpn-hostile"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for (field, value, needle) in [
        ("Num Classes", "100000000000", "Num Classes is 100000000000"),
        ("Init Features", "1000000000", "Init Features is 1000000000"),
        ("K R", "100000", "K R is 100000"),
        ("Groups", "65536", "Groups is 65536"),
        ("K Sec", "[1000000, 1, 1, 1]", "K Sec[0] is 1000000"),
        (
            "Inc Sec",
            "[16, 32, 32, 10000000]",
            "Inc Sec[3] is 10000000",
        ),
        ("In Chans", "1000000", "In Chans is 1000000"),
        // Each field within its limit, the network they make beyond the
        // parameter ceiling.
        (
            "K Sec",
            "[256, 256, 256, 256]",
            "parameters; dpn accepts at most 1000000000",
        ),
    ] {
        std::fs::write(&file, index_with(field, value)).unwrap();
        let o = run(&["--model-index", s(&file), "info", "dpn-hostile"]);
        one_error(&o, 3, &["hostile.yaml", "dpn-hostile", needle]);
        under_ceiling(&o, field);
    }
}

#[test]
fn labels_file_labels_beyond_the_model_are_bad_input() {
    let f = fixture();
    let dir = tempdir();
    let list = dir.path().join("labels.csv");
    for huge in ["10", "300000000", "18446744073709551615"] {
        std::fs::write(&list, format!("a/0.png,1\nb/0.png,{huge}\n")).unwrap();
        let o = run(&[
            "evaluate",
            "-m",
            "dpn48b",
            "--weights",
            s(&f.weights),
            "--device",
            "cpu",
            "--img-size",
            "32",
            "--data",
            s(&f.data),
            "--labels-file",
            s(&list),
        ]);
        one_error(
            &o,
            3,
            &["labels.csv line 2", &format!("label {huge}"), "10 outputs"],
        );
        under_ceiling(&o, huge);
    }
}

#[test]
fn workers_are_capped_at_four_per_core() {
    let f = fixture();
    let cores = std::thread::available_parallelism().unwrap().get();
    let cap = 4 * cores;
    let o = predict(&["--workers", "10000"], &[s(&f.image)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr.contains(&format!(
            "--workers 10000: using {cap}, the most dpn starts"
        )),
        "{}",
        o.stderr
    );
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);
    under_ceiling(&o, "--workers 10000");
    // At the cap there is nothing to say.
    let o = predict(&["--workers", &cap.to_string()], &[s(&f.image)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("--workers"), "{}", o.stderr);
}

#[test]
fn batch_buffers_are_sized_to_the_inputs() {
    let f = fixture();
    // 10^8 images of 32x32 would be 1.2 TB of pixels; one image is 12 kB.
    let o = predict(&["--batch-size", "100000000"], &[s(&f.image)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout.lines().count(), 2, "{}", o.stdout);
    under_ceiling(&o, "--batch-size 100000000");
}

/// One warning naming `path` and holding `needle`, the good image still
/// predicted, exit 7 (some inputs failed).
fn refused_unread(o: &Outcome, path: &str, needle: &str) {
    assert_eq!(o.code, 7, "{}", o.stderr);
    let warnings: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| l.starts_with("dpn: warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", o.stderr);
    assert!(
        warnings[0].contains(path) && warnings[0].contains(needle),
        "{}",
        warnings[0]
    );
    assert!(
        o.stderr.contains("1 of 2 images could not be read"),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    let image = s(&fixture().image);
    let good = o.stdout.lines().filter(|l| l.starts_with(image)).count();
    assert_eq!(good, 1, "the other image is predicted: {}", o.stdout);
}

#[test]
fn devices_and_fifos_are_not_read_as_images() {
    let f = fixture();
    let o = predict(&[], &["/dev/zero", s(&f.image)]);
    refused_unread(&o, "/dev/zero", "not a regular file");
    under_ceiling(&o, "predict /dev/zero");

    let dir = tempdir();
    let fifo = dir.path().join("pipe.png");
    let c = std::ffi::CString::new(s(&fifo)).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Nobody writes to the FIFO: reading it would wait for ever.
    let o = predict(&[], &[s(&fifo), s(&f.image)]);
    refused_unread(&o, "pipe.png", "not a regular file");
}

#[test]
fn image_files_beyond_the_size_limit_are_refused_unread() {
    let f = fixture();
    let dir = tempdir();
    // A PNG signature, then a sparse hole: 300 MiB that take no disk.
    let big = dir.path().join("big.png");
    let mut file = std::fs::File::create(&big).unwrap();
    file.write_all(b"\x89PNG\r\n\x1a\n").unwrap();
    file.set_len(300 << 20).unwrap();
    drop(file);
    let o = predict(&[], &[s(&big), s(&f.image)]);
    refused_unread(&o, "big.png", "at most 268435456 bytes");
    under_ceiling(&o, "a 300 MiB image file");
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header claims `w x h` RGB pixels, followed by an empty image
/// stream.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(b"IHDR", &ihdr);
    // zlib: one empty stored block, Adler-32 of nothing.
    chunk(
        b"IDAT",
        &[0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 1],
    );
    chunk(b"IEND", &[]);
    png
}

#[test]
fn png_pixel_counts_are_checked_from_the_header() {
    let f = fixture();
    let dir = tempdir();
    // 200 M pixels: over the limit (2 x 89,478,485), though its 600 MB of
    // RGB would pass the decoder's own allocation limit.
    let bomb = dir.path().join("bomb.png");
    std::fs::write(&bomb, png_claiming(20_000, 10_000)).unwrap();
    let o = predict(&[], &[s(&bomb), s(&f.image)]);
    refused_unread(&o, "bomb.png", "20000x10000 is more than 178956970 pixels");
    under_ceiling(&o, "a PNG claiming 200 M pixels");
}

/// A pickle (protocol 2) of `{"w": tensor}`, the tensor a float32 vector of
/// `numel` elements over storage `"0"` of as many, as torch.save writes it.
fn pickle_of_one_tensor(numel: i32) -> Vec<u8> {
    let mut p = b"\x80\x02}".to_vec();
    let text = |p: &mut Vec<u8>, s: &str| {
        p.push(b'X');
        p.extend_from_slice(&(s.len() as u32).to_le_bytes());
        p.extend_from_slice(s.as_bytes());
    };
    let int = |p: &mut Vec<u8>, v: i32| {
        p.push(b'J');
        p.extend_from_slice(&v.to_le_bytes());
    };
    text(&mut p, "w");
    p.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    p.push(b'(');
    text(&mut p, "storage");
    p.extend_from_slice(b"ctorch\nFloatStorage\n");
    text(&mut p, "0");
    text(&mut p, "cpu");
    int(&mut p, numel);
    p.extend_from_slice(b"tQ"); // the persistent id
    int(&mut p, 0); // storage offset
    int(&mut p, numel);
    p.push(0x85); // size
    int(&mut p, 1);
    p.push(0x85); // stride
    p.push(0x89); // requires_grad
    p.extend_from_slice(b"ccollections\nOrderedDict\n)R"); // backward hooks
    p.extend_from_slice(b"tRs.");
    p
}

/// A `.pth` zip whose pickle and entry agree on a storage of `numel` floats,
/// the entry deflated: a few hundred kB that inflate to `4 * numel` bytes.
fn deflated_pth(path: &Path, numel: i32) {
    use zip::write::SimpleFileOptions;
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("bomb/data.pkl", stored).unwrap();
    zip.write_all(&pickle_of_one_tensor(numel)).unwrap();
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1))
        .large_file(true);
    zip.start_file("bomb/data/0", deflated).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..(4 * numel as usize) >> 20 {
        zip.write_all(&zeros).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn pth_entries_inflating_beyond_their_file_are_refused_before_inflating() {
    let dir = tempdir();
    let ok = dir.path().join("ok.pth");
    // 4 MiB inflated: within the budget, read as usual (shapes then fit no
    // model, which is another error).
    deflated_pth(&ok, 1 << 20);
    let sd = dpn::weights::read_pth(&ok).unwrap();
    assert_eq!(sd.tensors[0].1.shape, [1 << 20]);

    // 1 GiB inflated from about 1 MB.
    let bomb = dir.path().join("bomb.pth");
    deflated_pth(&bomb, 1 << 28);
    let size = std::fs::metadata(&bomb).unwrap().len();
    assert!(size < 8 << 20, "{size}");
    let out = dir.path().join("out.safetensors");
    let o = run(&["convert", s(&bomb), s(&out)]);
    one_error(
        &o,
        3,
        &[
            "bomb.pth",
            "bomb/data/0",
            "would inflate to 1073741824 bytes",
        ],
    );
    under_ceiling(&o, "a 1 GiB deflated storage");
    assert!(!out.exists());
}
