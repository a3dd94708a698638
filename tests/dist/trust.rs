//! Distributed runs that cannot be fooled (docs/distributed.md, "Trust"):
//! ranks that disagree on what they compute, a process that is not a rank
//! of the run (tests/py/dist_fake_peer.py), a forged tally, a silent peer,
//! a store that listens beyond MASTER_ADDR, and launcher variables that
//! cannot be right. Every process here binds to 127.0.0.1 only.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::common::{digits, python};
use super::{
    clean, code, error_line, free_port, init_weights, rank_cmd, stderr, tempdir, train_args, wait,
};

/// `dpn evaluate` of the digits' validation set with `init_weights()`.
fn eval_args(extra: &[&str]) -> Vec<String> {
    let mut a: Vec<String> = [
        "evaluate",
        "-m",
        "dpn48b",
        "--data",
        &digits().join("val").display().to_string(),
        "-b",
        "4",
        "--dist-timeout",
        "30",
        "--weights",
        &init_weights().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.extend(extra.iter().map(|s| s.to_string()));
    a
}

/// Two ranks on one port, each with its own arguments and environment.
fn two_ranks(args: [&[String]; 2], env: [&[(&str, &str)]; 2]) -> [Output; 2] {
    let port = free_port();
    let kids: Vec<Child> = (0..2)
        .map(|r| {
            let mut c = rank_cmd(r, 2, port, args[r]);
            for (k, v) in env[r] {
                c.env(k, v);
            }
            c.spawn().unwrap()
        })
        .collect();
    let mut outs = kids.into_iter().map(wait);
    [outs.next().unwrap(), outs.next().unwrap()]
}

/// Both ranks exit 9 with one error line that holds every `needle`.
fn both_refuse(outs: &[Output; 2], needles: &[&str]) {
    for (r, o) in outs.iter().enumerate() {
        let err = stderr(o);
        assert_eq!(code(o), 9, "rank {r}: {err}");
        let line = error_line(&err);
        assert!(line.contains(&format!("rank {r} of 2")), "{line}");
        for n in needles {
            assert!(line.contains(n), "rank {r}: {n:?} not in {line}");
        }
        assert!(
            String::from_utf8_lossy(&o.stdout).trim().is_empty(),
            "rank {r} printed a result"
        );
    }
}

/// A copy of `init_weights()` with its last byte changed (a tensor value,
/// so the file still loads): other weights under another name.
fn stale_weights(dir: &Path) -> PathBuf {
    let mut bytes = std::fs::read(init_weights()).unwrap();
    *bytes.last_mut().unwrap() ^= 0x40;
    let p = dir.join("stale.safetensors");
    std::fs::write(&p, bytes).unwrap();
    p
}

/// The digits' validation set, copied, less one image.
fn fewer_images(dir: &Path) -> PathBuf {
    let copy = dir.join("val");
    for class in std::fs::read_dir(digits().join("val")).unwrap() {
        let class = class.unwrap().path();
        let to = copy.join(class.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&class).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    let first = std::fs::read_dir(copy.join("0"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(first).unwrap();
    copy
}

#[test]
fn evaluate_ranks_that_disagree_stop_with_exit_9_naming_what_differs() {
    let tmp = tempdir("dist-trust-eval-");
    let same = eval_args(&[]);
    let stale = stale_weights(tmp.path());
    let fewer = fewer_images(tmp.path());
    let mut other_weights = same.clone();
    let w = other_weights.iter().position(|a| a == "--weights").unwrap();
    other_weights[w + 1] = stale.display().to_string();
    let mut other_data = same.clone();
    let d = other_data.iter().position(|a| a == "--data").unwrap();
    other_data[d + 1] = fewer.display().to_string();
    let mut other_batch = same.clone();
    let b = other_batch.iter().position(|a| a == "-b").unwrap();
    other_batch[b + 1] = "2".into();
    let cases: Vec<(Vec<String>, &[&str])> = vec![
        (
            eval_args(&["--img-size", "40"]),
            &["--img-size", "224", "40"],
        ),
        (other_weights, &["--weights", "SHA-256"]),
        (other_data, &["--data", "20 items", "19 items"]),
        (eval_args(&["--limit", "10"]), &["--limit"]),
        (other_batch, &["--batch-size", "4", "2"]),
    ];
    for (rank1, needles) in cases {
        let outs = two_ranks([&same, &rank1], [&[], &[]]);
        both_refuse(&outs, needles);
    }
}

#[test]
fn train_ranks_that_disagree_stop_before_the_run_folder_is_made() {
    let tmp = tempdir("dist-trust-train-");
    let out = tmp.path().join("run");
    let same = train_args(&out, init_weights(), 1);
    let with = |flag: &str, value: &str| {
        let mut a = same.clone();
        let i = a.iter().position(|x| x == flag).unwrap();
        a[i + 1] = value.into();
        a
    };
    for (rank1, needle) in [
        (with("--batch-size", "4"), "--batch-size"),
        (with("--lr", "0.05"), "--lr"),
        (with("-m", "dpn68"), "--model"),
    ] {
        let outs = two_ranks([&same, &rank1], [&[], &[]]);
        both_refuse(&outs, &[needle]);
        assert!(!out.exists(), "a refused run made {}", out.display());
    }
    // Other starting weights are found once the data is read.
    let stale = stale_weights(tmp.path());
    let rank1 = with("--weights", &stale.display().to_string());
    let outs = two_ranks([&same, &rank1], [&[], &[]]);
    both_refuse(&outs, &["--weights", "SHA-256"]);
    assert!(!out.join("last").exists());
}

/// The fake peer's output and rank 0's, started together.
fn against_fake(mode: &str, rank0: &[String], env: &[(&str, &str)]) -> (Output, Output) {
    let port = free_port();
    let mut c = rank_cmd(0, 2, port, rank0);
    for (k, v) in env {
        c.env(k, v);
    }
    let dpn = c.spawn().unwrap();
    let fake = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/dist_fake_peer.py"))
        .args([
            mode,
            "127.0.0.1",
            &port.to_string(),
            env!("CARGO_PKG_VERSION"),
        ])
        .env_remove("RUST_BACKTRACE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let dpn = wait(dpn);
    let fake = wait(fake);
    (dpn, fake)
}

#[test]
fn a_forged_tally_is_refused_not_reported() {
    // The peer passes the rendezvous and copies rank 0's settings, then
    // reports 1,150 images of its 10.
    let (dpn, fake) = against_fake("forge-tally", &eval_args(&[]), &[]);
    let err = stderr(&dpn);
    assert_eq!(code(&dpn), 9, "{err}\nfake: {}", stderr(&fake));
    let line = error_line(&err);
    assert!(
        line.contains("rank 1's counts do not fit its share"),
        "{line}"
    );
    assert!(
        line.contains("1150 images scored") && line.contains("share of 10"),
        "{line}"
    );
    assert!(String::from_utf8_lossy(&dpn.stdout).trim().is_empty());
}

#[test]
fn a_foreign_process_on_the_store_port_is_exit_9_not_an_abort() {
    // torch's own Gloo peer, all-reducing a buffer of another size: it never
    // becomes a rank, and nothing aborts in C++.
    let (dpn, _) = against_fake("torch-allreduce", &with_timeout(eval_args(&[]), "5"), &[]);
    let err = stderr(&dpn);
    assert_eq!(code(&dpn), 9, "{err}");
    assert!(error_line(&err).contains("rank 1 did not come"), "{err}");
    assert!(
        !err.contains("terminate called") && !err.contains("EnforceNotMet"),
        "{err}"
    );
}

fn with_timeout(mut args: Vec<String>, secs: &str) -> Vec<String> {
    let t = args.iter().position(|a| a == "--dist-timeout").unwrap();
    args[t + 1] = secs.into();
    args
}

#[test]
fn a_shared_secret_keeps_out_whoever_does_not_hold_it() {
    let args = eval_args(&[]);
    let secret: &[(&str, &str)] = &[("DPN_DIST_SECRET", "correct horse")];
    // The same secret: the run goes on.
    let outs = two_ranks([&args, &args], [secret, secret]);
    for o in &outs {
        assert_eq!(code(o), 0, "{}", stderr(o));
    }
    // Another secret, or none on one side: both ranks stop.
    let other: &[(&str, &str)] = &[("DPN_DIST_SECRET", "battery staple")];
    both_refuse(
        &two_ranks([&args, &args], [secret, other]),
        &["DPN_DIST_SECRET"],
    );
    both_refuse(
        &two_ranks([&args, &args], [secret, &[]]),
        &["DPN_DIST_SECRET"],
    );
    // A process that speaks dpn's rendezvous without the secret.
    let (dpn, fake) = against_fake("wrong-secret", &args, secret);
    assert_eq!(code(&dpn), 9, "{}", stderr(&dpn));
    assert!(error_line(&stderr(&dpn)).contains("did not prove DPN_DIST_SECRET"));
    // It learnt nothing of the run: no session was handed out.
    let welcome: serde_json::Value =
        serde_json::from_slice(&fake.stdout).unwrap_or_else(|_| panic!("{}", stderr(&fake)));
    assert_eq!(welcome["session"], "", "{welcome}");
}

#[test]
fn a_silent_peer_on_the_port_is_bounded_by_the_timeout() {
    // Accepts the connection and never answers: a SIGSTOPped rank 0 looks
    // the same from rank 1.
    let port = free_port();
    let mut listener = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/dist_fake_peer.py"))
        .args(["silent", "127.0.0.1", &port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(listener.stdout.as_mut().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "listening");
    let t0 = Instant::now();
    let o = wait(
        rank_cmd(1, 2, port, &with_timeout(eval_args(&[]), "3"))
            .spawn()
            .unwrap(),
    );
    let took = t0.elapsed();
    let _ = listener.kill();
    let _ = listener.wait();
    let err = stderr(&o);
    assert_eq!(code(&o), 9, "{err}");
    assert!(error_line(&err).contains("within 3 s"), "{err}");
    // A bound, not a speed: the 3 s, the 2 s of grace and a start-up.
    assert!(
        took < Duration::from_secs(20),
        "waited {took:?} with --dist-timeout 3"
    );
}

/// The local addresses listening on `port` (from /proc/net/tcp and tcp6).
fn listeners(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is HEXIP:HEXPORT; state 0A is LISTEN.
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let Some((ip, p)) = local.split_once(':') else {
                continue;
            };
            if *state == "0A" && u16::from_str_radix(p, 16) == Ok(port) {
                found.push(ip.to_string());
            }
        }
    }
    found
}

#[test]
fn the_store_listens_on_master_addr_only() {
    let port = free_port();
    let mut rank0 = rank_cmd(0, 2, port, &with_timeout(eval_args(&[]), "20"))
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let mut seen = Vec::new();
    while seen.is_empty() && t0.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(50));
        seen = listeners(port);
    }
    let _ = rank0.kill();
    let _ = rank0.wait();
    // 127.0.0.1 in /proc's little-endian hex; never the wildcard address.
    assert_eq!(seen, vec!["0100007F".to_string()]);
}

#[test]
fn a_second_process_with_the_same_rank_is_refused() {
    let port = free_port();
    let args = eval_args(&[]);
    let a = rank_cmd(1, 2, port, &args).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let b = rank_cmd(1, 2, port, &args).spawn().unwrap();
    let r0 = rank_cmd(0, 2, port, &args).spawn().unwrap();
    let outs: Vec<Output> = [r0, a, b].into_iter().map(wait).collect();
    // One of the two rank 1s joined; the other was told why it cannot.
    let codes: Vec<i32> = outs.iter().map(code).collect();
    assert_eq!(codes[0], 0, "{}", stderr(&outs[0]));
    let refused: Vec<&Output> = outs[1..].iter().filter(|o| code(o) != 0).collect();
    assert_eq!(refused.len(), 1, "{codes:?}");
    assert_eq!(code(refused[0]), 9);
    assert!(
        error_line(&stderr(refused[0])).contains("another process already joined as rank 1"),
        "{}",
        stderr(refused[0])
    );
}

#[test]
fn launcher_variables_that_cannot_be_right_are_refused_at_once() {
    let args = eval_args(&[]);
    for (vars, needle) in [
        (vec![("WORLD_SIZE", "10000000")], "more than dpn joins"),
        (vec![("WORLD_SIZE", "99999999999")], "more than dpn joins"),
        (vec![("LOCAL_WORLD_SIZE", "3")], "in the whole world"),
    ] {
        let mut c = rank_cmd(0, 2, free_port(), &args);
        for (k, v) in &vars {
            c.env(k, v);
        }
        let o = wait(c.spawn().unwrap());
        assert_eq!(code(&o), 2, "{vars:?}: {}", stderr(&o));
        assert!(error_line(&stderr(&o)).contains(needle), "{}", stderr(&o));
    }
    let o = wait(
        rank_cmd(0, 2, free_port(), &args)
            .env_remove("MASTER_ADDR")
            .spawn()
            .unwrap(),
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(error_line(&stderr(&o)).contains("MASTER_ADDR is not set"));
    // Slurm without MASTER_PORT and a job id that is not a number.
    let mut c = Command::new(env!("CARGO_BIN_EXE_dpn"));
    let o = clean(&mut c)
        .args(&args)
        .envs([
            ("SLURM_STEP_ID", "0"),
            ("SLURM_PROCID", "0"),
            ("SLURM_STEP_NUM_TASKS", "2"),
            ("SLURM_STEP_NODELIST", "localhost"),
            ("SLURM_JOB_ID", "abc"),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        error_line(&stderr(&o)).contains("SLURM_JOB_ID"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn shard_auto_under_a_launcher_writes_one_results_file_per_rank() {
    let tmp = tempdir("dist-trust-shard-");
    let one = tmp.path().join("results.json");
    let per_rank = tmp.path().join("results-{rank}.json");
    for rank in 0..2 {
        let mut a = eval_args(&["--shard", "auto", "--results-file"]);
        a.push(one.display().to_string());
        let o = wait(rank_cmd(rank, 2, free_port(), &a).spawn().unwrap());
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(error_line(&stderr(&o)).contains("{rank}"), "{}", stderr(&o));
        let mut a = eval_args(&["--shard", "auto", "--results-file"]);
        a.push(per_rank.display().to_string());
        let o = wait(rank_cmd(rank, 2, free_port(), &a).spawn().unwrap());
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
    assert!(!one.exists());
    let images: Vec<u64> = (0..2)
        .map(|r| {
            let p = tmp.path().join(format!("results-{r}.json"));
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v["counts"]["images"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(images, vec![10, 10]);
}
