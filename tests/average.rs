//! `dpn average` on given files against avg_checkpoints.py's arithmetic
//! (tests/py/average_reference.py), the result in dpn and timm, and its
//! errors.

use std::path::Path;
use std::process::{Command, Output};

use dpn::weights::{read_safetensors, to_tch};

mod common;
use common::python;

fn dpn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    c.env("NO_COLOR", "1");
    c
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn py(code: &str, args: &[&Path]) {
    let o = Command::new(python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Three dpn48b state dicts (10 classes) with random weights, BatchNorm
/// statistics and num_batches_tracked.
const MAKE: &str = r#"
import sys, torch, timm
from safetensors.torch import save_file
for i, path in enumerate(sys.argv[1:]):
    torch.manual_seed(i)
    m = timm.create_model("dpn48b", num_classes=10)
    sd = m.state_dict()
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            v.fill_(10 * i + 3)
        elif k.endswith("running_var"):
            v.uniform_(0.5, 2.0)
        elif k.endswith("running_mean"):
            v.normal_()
    save_file({k: v.contiguous() for k, v in sd.items()}, path)
"#;

#[test]
fn average_equals_avg_checkpoints_and_loads() {
    let tmp = tempfile::Builder::new()
        .prefix("average-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    let files: Vec<_> = (0..3)
        .map(|i| tmp.path().join(format!("w{i}.safetensors")))
        .collect();
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    py(MAKE, &refs);

    let out = tmp.path().join("avg.safetensors");
    let o = dpn()
        .arg("average")
        .args(&files)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let want = tmp.path().join("want.safetensors");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/average_reference.py");
    let mut args = vec![want.as_path()];
    args.extend(refs.iter().copied());
    let o = Command::new(python())
        .arg(&script)
        .args(&args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let (g, w) = (
        read_safetensors(&out).unwrap(),
        read_safetensors(&want).unwrap(),
    );
    assert_eq!(g.tensors.len(), w.tensors.len());
    let mut nbt = 0;
    for (k, tg) in &g.tensors {
        let (tg, tw) = (to_tch(tg).unwrap(), to_tch(w.get(k).unwrap()).unwrap());
        if k.ends_with("num_batches_tracked") {
            // (3 + 13 + 23) / 3 = 13, an integer as dpn keeps it.
            assert_eq!(tg.kind(), tch::Kind::Int64, "{k}");
            assert_eq!(tg.int64_value(&[]), 13, "{k}");
            nbt += 1;
        }
        assert!(tg.equal(&tw.to_kind(tg.kind())), "{k} differs");
    }
    assert!(nbt > 0);

    // timm loads it strictly; dpn evaluates with it.
    py(
        "import sys, timm\nfrom safetensors.torch import load_file\n\
         m = timm.create_model('dpn48b', num_classes=10)\n\
         m.load_state_dict(load_file(sys.argv[1]), strict=True)",
        &[&out],
    );
    let img = common::digits().join("val/0/0000.png");
    let o = dpn()
        .args(["predict", "-m", "dpn48b", "--weights"])
        .arg(&out)
        .arg(&img)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // Errors: one line, documented codes.
    let o = dpn()
        .arg("average")
        .arg(tmp.path().join("missing.safetensors"))
        .arg("-o")
        .arg(tmp.path().join("x.safetensors"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(stderr(&o).trim().lines().count(), 1, "{}", stderr(&o));
    let other = tmp.path().join("other.safetensors");
    py(
        "import sys, torch\nfrom safetensors.torch import save_file\n\
         save_file({'classifier.bias': torch.zeros(10)}, sys.argv[1])",
        &[&other],
    );
    let o = dpn()
        .arg("average")
        .arg(&files[0])
        .arg(&other)
        .arg("-o")
        .arg(tmp.path().join("y.safetensors"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("of one model"), "{}", stderr(&o));
    assert!(!tmp.path().join("y.safetensors").exists());
    let o = dpn()
        .arg("average")
        .arg(tmp.path())
        .arg("-o")
        .arg(tmp.path().join("z.safetensors"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
}
