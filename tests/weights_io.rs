//! Weights I/O: PyTorch zip/legacy readers, safetensors round trips, and
//! hostile or broken files. Fixtures are written by real torch through
//! tests/py/weights_make_fixtures.py (interpreter: $DPN_TEST_PYTHON, else
//! <crate>/.venv/bin/python) into a temporary directory, once per run.

mod common;
use common::python;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use dpn::sys::error::exit_code;
use dpn::weights::*;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/weights_make_fixtures.py")
}

fn run_python(args: &[&str]) -> String {
    let py = python();
    let out = Command::new(&py)
        .arg(script())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} (set DPN_TEST_PYTHON): {e}", py.display()));
    assert!(
        out.status.success(),
        "{} {:?} failed:\n{}",
        py.display(),
        args,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The fixture directory (generated once per test process).
fn fixtures() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = common::shared_tempdir("dpn-weights-io-");
        run_python(&["make", dir.path().to_str().unwrap()]);
        dir
    })
    .path()
}

type Expected = Vec<(String, String, Vec<usize>, Vec<u8>)>;

fn expected(file: &str) -> Expected {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v[file]
        .as_array()
        .unwrap_or_else(|| panic!("no expectations for {file}"))
        .iter()
        .map(|e| {
            let name = e[0].as_str().unwrap().to_string();
            let dtype = e[1].as_str().unwrap().to_string();
            let shape = e[2]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d.as_u64().unwrap() as usize)
                .collect();
            let hex = e[3].as_str().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (name, dtype, shape, bytes)
        })
        .collect()
}

fn check(sd: &StateDict, want: &Expected, rename: impl Fn(&str) -> String) {
    let names: Vec<String> = sd.tensors.iter().map(|(k, _)| k.clone()).collect();
    let want_names: Vec<String> = want.iter().map(|w| rename(&w.0)).collect();
    assert_eq!(names, want_names, "tensor names/order");
    for (name, dtype, shape, bytes) in want {
        let t = sd.get(&rename(name)).unwrap();
        assert_eq!(t.dtype.name(), dtype, "{name} dtype");
        assert_eq!(&t.shape, shape, "{name} shape");
        assert_eq!(&t.data, bytes, "{name} bytes");
    }
}

#[test]
fn zip_state_dict_every_dtype_and_view() {
    let p = fixtures().join("zip.pth");
    assert_eq!(detect_format(&p).unwrap(), Format::PthZip);
    let sd = read_pth(&p).unwrap();
    check(&sd, &expected("zip.pth"), str::to_string);
    // spot checks independent of the Python-side description
    let t = sd.get("transposed").unwrap();
    assert_eq!(t.shape, vec![4, 3, 2]);
    let f: Vec<f32> = t
        .data
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(&f[..4], &[0.0, 12.0, 4.0, 16.0]);
    assert_eq!(sd.get("scalar").unwrap().shape, Vec::<usize>::new());
    assert_eq!(sd.get("empty").unwrap().data.len(), 0);
}

#[test]
fn legacy_state_dict_matches() {
    let p = fixtures().join("legacy.pth");
    assert_eq!(detect_format(&p).unwrap(), Format::PthLegacy);
    let sd = read_pth(&p).unwrap();
    check(&sd, &expected("legacy.pth"), str::to_string);
    // Both formats decode to the same tensors.
    assert_eq!(sd, read_pth(fixtures().join("zip.pth")).unwrap());
}

#[test]
fn nested_checkpoints_pick_state_dict_and_normalize() {
    for file in ["checkpoint.pth", "checkpoint_legacy.pth"] {
        let p = fixtures().join(file);
        let raw = read_pth(&p).unwrap();
        check(&raw, &expected(file), str::to_string);
        let sd = read_any(&p).unwrap();
        check(&sd, &expected(file), normalize_key);
        assert!(
            sd.get("classifier.weight").is_some(),
            "{:?}",
            sd.names().collect::<Vec<_>>()
        );
        assert!(sd.get("conv.weight").is_some());
    }
    assert_eq!(
        normalize_key("module.module.last_linear.bias"),
        "classifier.bias"
    );
    assert_eq!(
        normalize_key("features.last_linear.x"),
        "features.last_linear.x"
    );
}

#[test]
fn checked_in_tiny_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/weights");
    for f in ["tiny_zip.pth", "tiny_legacy.pth"] {
        let sd = read_any(&dir.join(f)).unwrap();
        assert_eq!(sd.names().collect::<Vec<_>>(), ["w", "wt", "b", "h"], "{f}");
        let w = sd.get("wt").unwrap();
        assert_eq!((w.dtype, w.shape.clone()), (DType::F32, vec![3, 2]));
        let vals: Vec<f32> = w
            .data
            .chunks(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(vals, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        assert_eq!(
            sd.get("b").unwrap().data,
            [1i64.to_le_bytes(), (-2i64).to_le_bytes()].concat()
        );
        // the in-memory entry point agrees
        assert_eq!(
            read_pth_bytes(&std::fs::read(dir.join(f)).unwrap()).unwrap(),
            sd
        );
    }
}

#[test]
fn safetensors_round_trip_is_bit_identical_and_python_reads_it() {
    let out = tempfile::tempdir().unwrap();
    let mut sd = read_pth(fixtures().join("zip.pth")).unwrap();
    sd.metadata.insert("format".into(), "pt".into());
    sd.metadata.insert("source".into(), "zip.pth".into());
    let st = out.path().join("model.safetensors");
    write_safetensors(&st, &sd).unwrap();
    assert_eq!(detect_format(&st).unwrap(), Format::Safetensors);
    let back = read_safetensors(&st).unwrap();
    assert_eq!(back.metadata, sd.metadata);
    assert_eq!(back.len(), sd.len());
    for (name, t) in &sd.tensors {
        assert_eq!(back.get(name), Some(t), "{name}");
    }
    assert_eq!(read_any(&st).unwrap().len(), sd.len());
    // writing again over an existing file works and leaves no temporaries
    write_safetensors(&st, &back).unwrap();
    let leftovers: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["model.safetensors"]);
    let exp = fixtures().join("expected.json");
    let ok = run_python(&[
        "verify",
        st.to_str().unwrap(),
        exp.to_str().unwrap(),
        "zip.pth",
    ]);
    assert_eq!(ok.trim(), "OK");
}

#[test]
fn write_failure_leaves_no_file() {
    let out = tempfile::tempdir().unwrap();
    let bad = StateDict {
        tensors: vec![(
            "x".into(),
            RawTensor {
                dtype: DType::F32,
                shape: vec![3],
                data: vec![0; 4],
            },
        )],
        metadata: Default::default(),
    };
    let p = out.path().join("bad.safetensors");
    assert!(write_safetensors(&p, &bad).is_err());
    // a directory that does not exist
    let good = StateDict {
        tensors: vec![(
            "x".into(),
            RawTensor {
                dtype: DType::F32,
                shape: vec![1],
                data: vec![0; 4],
            },
        )],
        metadata: Default::default(),
    };
    assert!(write_safetensors(&out.path().join("nope/x.safetensors"), &good).is_err());
    // target is a directory: rename fails, the temporary is removed
    std::fs::create_dir(out.path().join("dir.safetensors")).unwrap();
    assert!(write_safetensors(&out.path().join("dir.safetensors"), &good).is_err());
    let names: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["dir.safetensors"]);
}

#[test]
fn cast_converts_floats_only() {
    let sd = read_pth(fixtures().join("zip.pth")).unwrap();
    let h = sd.cast(DType::F16);
    for (name, t) in &h.tensors {
        let orig = sd.get(name).unwrap();
        if orig.dtype.is_float() {
            assert_eq!(t.dtype, DType::F16, "{name}");
        } else {
            assert_eq!(t, orig, "{name}");
        }
        assert_eq!(t.shape, orig.shape);
    }
    // f16 -> f32 -> f16 is lossless; bf16 -> f32 -> bf16 too
    let f16 = sd.get("f16").unwrap();
    assert_eq!(&f16.cast(DType::F32).cast(DType::F16), f16);
    let bf = sd.get("bf16").unwrap();
    assert_eq!(&bf.cast(DType::F32).cast(DType::BF16), bf);
    let one = RawTensor {
        dtype: DType::F32,
        shape: vec![2],
        data: [1.0f32, -2.5].map(f32::to_le_bytes).concat(),
    };
    assert_eq!(one.cast(DType::BF16).data, [0x80, 0x3f, 0x20, 0xc0]);
    assert_eq!(one.cast(DType::F16).data, [0x00, 0x3c, 0x00, 0xc1]);
}

#[test]
fn tch_bridge_round_trip() {
    let sd = read_pth(fixtures().join("zip.pth")).unwrap();
    for (name, t) in &sd.tensors {
        let tt = to_tch(t).unwrap();
        assert_eq!(
            tt.size().iter().map(|&d| d as usize).collect::<Vec<_>>(),
            t.shape,
            "{name}"
        );
        assert_eq!(&from_tch(&tt).unwrap(), t, "{name}");
    }
    // non-contiguous tch tensors come back contiguous
    let t = to_tch(sd.get("f32").unwrap()).unwrap().tr();
    let back = from_tch(&t).unwrap();
    assert_eq!(back.shape, vec![3, 2]);
}

// ------------------------------------------------------------------ bad files

/// Writes `bytes` as `name` in a fresh temp dir and reads it with read_any.
fn read_bytes_as_file(name: &str, bytes: &[u8]) -> (anyhow::Result<StateDict>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (read_any(&p), dir)
}

fn expect_bad(name: &str, bytes: &[u8], needle: &str) {
    let (r, _dir) = read_bytes_as_file(name, bytes);
    let err = r.expect_err(name);
    let msg = format!("{err:#}");
    assert!(msg.contains(name), "message does not name the file: {msg}");
    assert!(
        msg.contains(needle),
        "{name}: expected {needle:?} in: {msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    assert_eq!(exit_code(&err), 3, "{msg}");
    // the in-memory reader agrees (no panic either)
    let _ = read_pth_bytes(bytes);
}

#[test]
fn missing_file_is_an_io_error() {
    let err = read_any(Path::new("/nonexistent/model.pth")).unwrap_err();
    let msg = format!("{err:#}");
    assert!(msg.contains("/nonexistent/model.pth"), "{msg}");
    assert_eq!(exit_code(&err), 1);
}

#[test]
fn empty_and_wrong_magic() {
    expect_bad("empty.pth", b"", "empty");
    expect_bad(
        "text.pth",
        b"hello, this is not a model\n",
        "not a PyTorch or safetensors file",
    );
    expect_bad(
        "png.pth",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR",
        "not a PyTorch or safetensors file",
    );
    // a pickle, but not torch's legacy magic number
    expect_bad("plain.pkl", b"\x80\x02}q\x00.", "magic");
}

#[test]
fn truncated_files() {
    for file in ["zip.pth", "legacy.pth", "checkpoint.pth"] {
        let bytes = std::fs::read(fixtures().join(file)).unwrap();
        for cut in [
            bytes.len() / 3,
            bytes.len() / 2,
            bytes.len() - 9,
            bytes.len() - 1,
        ] {
            let name = format!("cut{cut}_{file}");
            let (r, _d) = read_bytes_as_file(&name, &bytes[..cut]);
            let msg = format!("{:#}", r.expect_err(&name));
            assert!(msg.contains(&name), "{msg}");
        }
    }
    let bytes = std::fs::read(fixtures().join("legacy.pth")).unwrap();
    expect_bad("short_legacy.pth", &bytes[..bytes.len() - 3], "truncated");
}

#[test]
fn zip_with_data_entry_removed() {
    use std::io::{Cursor, Read, Write};
    let bytes = std::fs::read(fixtures().join("zip.pth")).unwrap();
    let mut src = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        if f.name() == "zip/data/3" {
            continue;
        }
        let name = f.name().to_string();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.start_file(name, opts).unwrap();
        out.write_all(&buf).unwrap();
    }
    let bytes = out.finish().unwrap().into_inner();
    expect_bad("nodata.pth", &bytes, "zip/data/3");

    // and with data.pkl removed
    let mut src = zip::ZipArchive::new(Cursor::new(&bytes)).unwrap();
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..src.len() {
        let mut f = src.by_index(i).unwrap();
        if f.name().ends_with("data.pkl") {
            continue;
        }
        let name = f.name().to_string();
        let mut buf = Vec::new();
        f.read_to_end(&mut buf).unwrap();
        out.start_file(name, opts).unwrap();
        out.write_all(&buf).unwrap();
    }
    expect_bad("nopkl.pth", &out.finish().unwrap().into_inner(), "data.pkl");
}

#[test]
fn refuses_code_execution() {
    for file in ["evil_zip.pth", "evil_legacy.pth"] {
        let p = fixtures().join(file);
        let err = read_any(&p).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains(file), "{msg}");
        assert!(msg.contains("refusing to load"), "{msg}");
        assert!(msg.contains("'posix.system'"), "{msg}");
        assert!(msg.contains("never executes code"), "{msg}");
        assert_eq!(exit_code(&err), 3);
    }
    // hand-made protocol-0 pickle inside a legacy stream
    let mut f = legacy_prefix();
    f.extend_from_slice(b"cos\nsystem\n(S'echo hi'\ntR.");
    expect_bad("evil_handmade.pth", &f, "'os.system'");
    let mut f = legacy_prefix();
    f.extend_from_slice(b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93X\x01\x00\x00\x001\x85R.");
    expect_bad("evil_eval.pth", &f, "'builtins.eval'");
}

// --- a tiny pickle writer for crafted legacy files

fn legacy_prefix() -> Vec<u8> {
    let mut f = Vec::new();
    // magic number (LONG1), protocol version 1001, sys_info
    f.extend_from_slice(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.");
    f.extend_from_slice(b"\x80\x02M\xe9\x03.");
    f.extend_from_slice(b"\x80\x02}X\x0d\x00\x00\x00little_endian\x88s.");
    f
}

fn p_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn p_int(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(b"\x8a\x08");
    out.extend_from_slice(&v.to_le_bytes());
}

fn p_ints(out: &mut Vec<u8>, vs: &[i64]) {
    out.push(b'(');
    for &v in vs {
        p_int(out, v);
    }
    out.push(b't');
}

/// A legacy file holding {'w': FloatStorage('0', numel)[offset; size; stride]}
/// whose storage section declares `stored` elements and carries `data`.
fn crafted_legacy(
    numel: i64,
    offset: i64,
    size: &[i64],
    stride: &[i64],
    stored: u64,
    data: &[u8],
) -> Vec<u8> {
    let mut f = legacy_prefix();
    f.extend_from_slice(b"\x80\x02}(");
    p_str(&mut f, "w");
    f.extend_from_slice(b"ctorch._utils\n_rebuild_tensor_v2\n(");
    f.push(b'(');
    p_str(&mut f, "storage");
    f.extend_from_slice(b"ctorch\nFloatStorage\n");
    p_str(&mut f, "0");
    p_str(&mut f, "cpu");
    p_int(&mut f, numel);
    f.extend_from_slice(b"tQ");
    p_int(&mut f, offset);
    p_ints(&mut f, size);
    p_ints(&mut f, stride);
    f.extend_from_slice(b"\x89ccollections\nOrderedDict\n)RtRu.");
    f.extend_from_slice(b"\x80\x02]X\x01\x00\x00\x000a.");
    f.extend_from_slice(&stored.to_le_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn crafted_legacy_reads() {
    let data: Vec<u8> = [1.0f32, 2.0, 3.0, 4.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let f = crafted_legacy(4, 1, &[3], &[1], 4, &data);
    let sd = read_pth_bytes(&f).unwrap();
    assert_eq!(sd.get("w").unwrap().data, data[4..]);
    // 2x2 transposed
    let sd = read_pth_bytes(&crafted_legacy(4, 0, &[2, 2], &[1, 2], 4, &data)).unwrap();
    let v: Vec<f32> = sd
        .get("w")
        .unwrap()
        .data
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(v, [1.0, 3.0, 2.0, 4.0]);
}

#[test]
fn huge_or_out_of_bounds_declarations() {
    let data = vec![0u8; 16];
    // storage section declares 2^60 elements
    expect_bad(
        "huge_count.pth",
        &crafted_legacy(4, 0, &[4], &[1], 1 << 60, &data),
        "truncated",
    );
    // view reaching outside its storage
    expect_bad(
        "oob.pth",
        &crafted_legacy(4, 1, &[4], &[1], 4, &data),
        "reaches element 4",
    );
    expect_bad(
        "oob_stride.pth",
        &crafted_legacy(4, 0, &[2, 2], &[3, 1], 4, &data),
        "reaches element 4",
    );
    // absurd shapes
    expect_bad(
        "overflow.pth",
        &crafted_legacy(4, 0, &[1 << 62, 1 << 62], &[0, 0], 4, &data),
        "too large",
    );
    expect_bad(
        "negative.pth",
        &crafted_legacy(4, 0, &[-1], &[1], 4, &data),
        "non-negative",
    );
    // a tiny file claiming a gigantic zero-stride (expanded) tensor
    expect_bad(
        "expand.pth",
        &crafted_legacy(4, 0, &[1 << 40], &[0], 4, &data),
        "more memory",
    );
    // declared string length beyond the input
    let mut f = legacy_prefix();
    f.extend_from_slice(b"\x80\x02X\xff\xff\xff\x7f");
    expect_bad("longstr.pth", &f, "length");
    let mut f = legacy_prefix();
    f.extend_from_slice(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xff");
    expect_bad("longstr8.pth", &f, "length");
    // deep nesting does not overflow the stack
    let mut f = legacy_prefix();
    f.extend_from_slice(b"\x80\x02");
    f.extend(std::iter::repeat_n(b']', 200_000));
    f.extend(std::iter::repeat_n(b'a', 199_999));
    f.push(b'.');
    expect_bad("deep.pth", &f, "not a state dict");
}

#[test]
fn safetensors_bad_files() {
    // header length larger than the file
    let mut f = (1u64 << 40).to_le_bytes().to_vec();
    f.extend_from_slice(b"{}");
    expect_bad("huge_header.safetensors", &f, "safetensors");
    let mut f = 30u64.to_le_bytes().to_vec();
    f.extend_from_slice(b"{\"a\":");
    expect_bad("cut.safetensors", &f, "safetensors");
    let good = StateDict {
        tensors: vec![(
            "x".into(),
            RawTensor {
                dtype: DType::I32,
                shape: vec![2],
                data: vec![1, 0, 0, 0, 2, 0, 0, 0],
            },
        )],
        metadata: Default::default(),
    };
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.safetensors");
    write_safetensors(&p, &good).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    expect_bad(
        "short.safetensors",
        &bytes[..bytes.len() - 1],
        "safetensors",
    );
    assert_eq!(read_safetensors_bytes(&bytes).unwrap(), good);
}
