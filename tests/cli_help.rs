//! `--help` reads in groups: `dpn train --help` lists its options under the
//! headings of a recipe (data, model, optimizer, schedule, augmentation,
//! regularization, EMA, checkpoints, distributed, output), and every
//! subcommand ends with the global options under a heading of their own,
//! instead of interleaving them with its own.

use std::process::Command;

use clap::CommandFactory;
use dpn::cli::Cli;

/// The headings of `dpn train --help`, in order. "Options" holds only
/// `--config` (the whole recipe as timm's args.yaml) and `--help`.
const TRAIN_HEADINGS: &[&str] = &[
    "Options",
    "Data",
    "Model",
    "Optimizer",
    "Schedule",
    "Augmentation",
    "Regularization",
    "EMA",
    "Checkpoints",
    "Distributed",
    "Output",
    "Global options",
];

const GLOBAL: &str = "Global options";

/// `dpn <args>`'s stdout, which must succeed.
fn dpn(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_dpn"))
        .env("NO_COLOR", "1")
        .env_remove("DPN_MODEL_INDEX")
        .env_remove("DPN_CACHE_DIR")
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpn {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// `dpn [sub] flag`'s help without its closing text (`after_help`, which
/// may hold lines such as `Examples:`).
fn help(sub: &str, flag: &str) -> String {
    let args: Vec<&str> = [sub, flag].into_iter().filter(|a| !a.is_empty()).collect();
    let text = dpn(&args);
    let mut cmd = Cli::command();
    cmd.build();
    let c = if sub.is_empty() {
        &cmd
    } else {
        cmd.find_subcommand(sub).unwrap()
    };
    for after in [c.get_after_long_help(), c.get_after_help()]
        .into_iter()
        .flatten()
    {
        let after = after.to_string();
        let first = after.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        let start: String = first.trim().chars().take(30).collect();
        if let Some(i) = text.find(&start).filter(|_| !start.is_empty()) {
            return text[..i].to_string();
        }
    }
    text
}

/// The help text's sections: each heading (a line `Name:` at the margin
/// after "Usage") with the long (or else short) flags listed under it.
fn sections(help: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut started = false;
    for line in help.lines() {
        if line.starts_with("Usage:") {
            started = true;
            continue;
        }
        if !started {
            continue;
        }
        if let Some(h) = line.strip_suffix(':').filter(|h| {
            !h.starts_with(' ') && h.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
        }) {
            out.push((h.to_string(), Vec::new()));
            continue;
        }
        // An option's line: `  -b, --batch-size <N>` or `      --lr <LR>`.
        let t = line.trim_start();
        let indent = line.len() - t.len();
        if (2..=6).contains(&indent) && t.starts_with('-') {
            // The flags lead the line (`-c, --config <FILE>  text`): the long one, else the short.
            let names: Vec<&str> = t
                .split_whitespace()
                .take_while(|w| w.starts_with('-'))
                .map(|w| w.trim_end_matches(',').trim_end_matches("..."))
                .collect();
            let flag = names
                .iter()
                .find(|w| w.starts_with("--"))
                .unwrap_or(&names[0])
                .to_string();
            match out.last_mut() {
                Some((_, flags)) => flags.push(flag),
                None => panic!("{flag} is listed before any heading:\n{help}"),
            }
        }
    }
    out
}

fn headings(s: &[(String, Vec<String>)]) -> Vec<&str> {
    s.iter().map(|(h, _)| h.as_str()).collect()
}

/// Every visible long flag of `dpn <sub>`, from clap's own model of it.
fn long_flags(sub: &str) -> Vec<String> {
    let mut cmd = Cli::command();
    cmd.build();
    let sub = cmd.find_subcommand(sub).unwrap();
    sub.get_arguments()
        .filter(|a| !a.is_hide_set() && !a.is_positional())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect()
}

#[test]
fn train_help_groups_its_options_under_a_recipes_headings_in_order() {
    for flag in ["-h", "--help"] {
        let help = help("train", flag);
        let s = sections(&help);
        assert_eq!(headings(&s), TRAIN_HEADINGS, "dpn train {flag}:\n{help}");
        // "Options" is the recipe file and help only; every other option is in a group.
        assert_eq!(
            s[0].1,
            ["--config", "--help"],
            "dpn train {flag}: ungrouped options"
        );
        let listed: Vec<&String> = s.iter().flat_map(|(_, f)| f).collect();
        for long in long_flags("train") {
            assert_eq!(
                listed.iter().filter(|f| ***f == long).count(),
                1,
                "{long} is not listed once in dpn train {flag}:\n{help}"
            );
        }
    }
}

/// A few options in the group a reader would look for them in.
#[test]
fn train_options_sit_in_their_groups() {
    let s = sections(&help("train", "--help"));
    let group = |h: &str| &s.iter().find(|(n, _)| n == h).unwrap().1;
    for (heading, flag) in [
        ("Data", "--data"),
        ("Data", "--batch-size"),
        ("Model", "--model"),
        ("Optimizer", "--opt"),
        ("Optimizer", "--weight-decay"),
        ("Schedule", "--epochs"),
        ("Schedule", "--sched"),
        ("Schedule", "--warmup-lr"),
        ("Augmentation", "--aa"),
        ("Augmentation", "--mixup"),
        ("Regularization", "--label-smoothing"),
        ("Regularization", "--clip-grad"),
        ("EMA", "--model-ema"),
        ("Checkpoints", "--checkpoint-hist"),
        ("Checkpoints", "--resume"),
        ("Distributed", "--sync-bn"),
        ("Output", "--output"),
        (GLOBAL, "--quiet"),
        (GLOBAL, "--cache-dir"),
    ] {
        assert!(
            group(heading).iter().any(|f| f == flag),
            "{flag} is not under {heading}: {:?}",
            group(heading)
        );
    }
}

/// Every subcommand, and dpn itself, lists the global options last under
/// their own heading, and nowhere else.
#[test]
fn every_command_ends_with_the_global_options() {
    let mut cmd = Cli::command();
    cmd.build();
    let globals: Vec<String> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    assert!(globals.len() >= 5, "{globals:?}");
    let mut subs: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .filter(|n| n != "help")
        .collect();
    subs.push(String::new());
    for sub in subs {
        let s = sections(&help(&sub, "--help"));
        let (last, flags) = s.last().unwrap();
        assert_eq!(last, GLOBAL, "dpn {sub} --help: {:?}", headings(&s));
        assert_eq!(*flags, globals, "dpn {sub} --help");
        for (h, f) in &s[..s.len() - 1] {
            assert!(
                !f.iter().any(|f| globals.contains(f)),
                "dpn {sub} --help: a global option under {h}"
            );
        }
    }
}

/// `dpn augment` shares the augmentation flags with `dpn train`: they read
/// under the same heading, followed by the global options.
#[test]
fn augment_help_shares_the_augmentation_heading() {
    let s = sections(&help("augment", "--help"));
    let h = headings(&s);
    assert!(h.contains(&"Augmentation"), "{h:?}");
    assert_eq!(h.last(), Some(&GLOBAL), "{h:?}");
    let train = sections(&help("train", "--help"));
    let of = |s: &[(String, Vec<String>)]| {
        s.iter()
            .find(|(n, _)| n == "Augmentation")
            .unwrap()
            .1
            .clone()
    };
    let (aug, train_aug) = (of(&s), of(&train));
    for flag in ["--aa", "--scale", "--reprob", "--mixup", "--cutmix"] {
        assert!(aug.contains(&flag.to_string()), "augment: {aug:?}");
        assert!(
            train_aug.contains(&flag.to_string()),
            "train: {train_aug:?}"
        );
    }
}
