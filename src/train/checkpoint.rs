//! Training checkpoints: written whole or not at all.
//!
//! Layout under the output folder:
//!
//! ```text
//! checkpoints/<name>/model.safetensors      weights, timm's names (any dpn subcommand, timm strict)
//! checkpoints/<name>/config.json            timm's hub config: timm.create_model("local-dir:<dir>")
//! checkpoints/<name>/optimizer.safetensors  SGD momentum buffers (momentum_buffer.<param>)
//! checkpoints/<name>/state.json             epoch, step, RNG state, arguments, classes, history
//! checkpoints/<name>/ema/                    --model-ema: the EMA, model.safetensors + config.json
//! last -> checkpoints/<name>                the newest checkpoint (relative symlink)
//! best -> checkpoints/<name>                the best by --eval-metric (validation top-1)
//! run.json                                  the settings the run started with
//! args.yaml                                 the same, in timm's train.py keys
//! .dpn-train.lock                           held by the process writing the folder
//! ```
//!
//! A checkpoint is written into a temporary folder (`checkpoints/.tmp-*`),
//! every file fsynced, then the folder is renamed to its name, and only then
//! do the `last` / `best` links move, each by renaming a new symlink over the
//! old one (atomic on POSIX). A process killed at any moment therefore
//! leaves `last` pointing at a complete checkpoint, the previous one until
//! the new one is whole. Checkpoints that no link names, and that are not
//! among the `--checkpoint-hist` best (`train::history`), are deleted after
//! the links move; leftovers of a killed run are removed by the next.
//!
//! Before a run folder is resumed or reused, [`recover`] undoes what kills
//! leave behind: temporary folders and links of processes that are gone,
//! checkpoint folders that are not whole, and a `last` that names none. A
//! run killed before its first checkpoint has `run.json` only, and starts
//! again from it.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use super::config::TrainConfig;
use crate::arch::ArchSpec;
use crate::model::{state_dict, Dpn};
use crate::registry::{ModelSpec, Preprocess};
use crate::sys::atomic::sync_dir;
use crate::sys::error;
use crate::weights::hub_config::{timm_config, CONFIG_FILE};
use crate::weights::meta;
use crate::weights::{self, from_tch, StateDict};

/// `format` of state.json.
pub const FORMAT: &str = "dpn-train-checkpoint";
pub const FORMAT_VERSION: u32 = 1;
pub const MODEL_FILE: &str = "model.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";
pub const STATE_FILE: &str = "state.json";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const LAST: &str = "last";
pub const BEST: &str = "best";
pub const RUN_FILE: &str = "run.json";
/// timm's args.yaml of the run (`train::timm_args::to_yaml`).
pub const TIMM_ARGS_FILE: &str = "args.yaml";

/// The most epochs a checkpoint may record: far beyond any run (ImageNet
/// recipes train for hundreds), low enough that a counter past it is
/// recognised as corrupt rather than taken for progress.
pub const MAX_EPOCHS: u64 = 1_000_000;

/// Set to a file path, makes a checkpoint write that has a previous
/// checkpoint to replace stop after its weights file is written, create
/// that file and sleep (tests kill the process there to check that the
/// previous checkpoint survives). Only in builds with the `test-hooks`
/// feature (`make test`); release binaries have no such variable.
#[cfg(feature = "test-hooks")]
pub const TEST_PAUSE_ENV: &str = "DPN_TRAIN_TEST_PAUSE_IN_CHECKPOINT";

/// One row of metrics.csv.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: u64,
    /// The learning rate of the epoch's last update.
    pub lr: f64,
    pub train_loss: f64,
    pub val_loss: Option<f64>,
    pub top1: Option<f64>,
    pub top5: Option<f64>,
    /// Training images per second (forward, backward, update and loading).
    pub images_per_s: f64,
    /// Wall time of the epoch, validation included.
    pub seconds: f64,
    /// Training images that could not be read and were skipped.
    pub skipped: u64,
    /// The EMA's validation (`--model-ema`; none without it).
    #[serde(default)]
    pub ema_val_loss: Option<f64>,
    #[serde(default)]
    pub ema_top1: Option<f64>,
    #[serde(default)]
    pub ema_top5: Option<f64>,
}

/// Running sums of the epoch in progress (so that an interrupted epoch's
/// row comes out as the uninterrupted one's, timings aside).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Partial {
    pub loss_sum: f64,
    pub batches: u64,
    pub images: u64,
    pub train_seconds: f64,
    pub skipped: u64,
}

/// state.json.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainState {
    pub format: String,
    pub format_version: u32,
    pub dpn_version: String,
    pub model: String,
    pub num_classes: usize,
    pub classes: Vec<String>,
    /// Epochs completed.
    pub epoch: u64,
    /// Batches done in epoch `epoch` (0-based), which is in progress when > 0.
    pub step_in_epoch: u64,
    /// Optimizer updates done in all.
    pub update: u64,
    /// The RNG state. Data order and augmentation are pure functions of
    /// (seed, epoch, image index) and the network's initialization of
    /// `torch_seed`, so with epoch and step this is all of it.
    pub seed: u64,
    pub torch_seed: i64,
    /// fp16 loss scale (1 without fp16).
    pub loss_scale: f64,
    pub loss_scale_good_steps: u64,
    pub partial: Partial,
    pub best_top1: Option<f64>,
    pub best_epoch: Option<u64>,
    /// The best value of `--eval-metric` (the EMA's with `--model-ema`);
    /// runs before the flag recorded `best_top1` only.
    #[serde(default)]
    pub best_metric: Option<f64>,
    pub history: Vec<EpochMetrics>,
    pub config: TrainConfig,
    /// Why this checkpoint was written: "epoch", "interrupted".
    pub reason: String,
}

impl TrainState {
    /// A short name for the checkpoint folder.
    pub fn dir_name(&self) -> String {
        if self.step_in_epoch == 0 {
            format!("epoch-{:04}", self.epoch)
        } else {
            format!("epoch-{:04}-step-{:06}", self.epoch, self.step_in_epoch)
        }
    }
}

/// A checkpoint read back.
pub struct Loaded {
    pub dir: PathBuf,
    pub state: TrainState,
    /// Momentum buffers, on the CPU.
    pub optimizer: Vec<(String, Tensor)>,
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}

/// What a checkpoint's weights files say about the model besides its
/// tensors: which registry model it is and how it was validated.
pub struct ModelInfo<'a> {
    pub spec: &'a ModelSpec,
    /// The eval preprocessing of the run's validation.
    pub preprocess: &'a Preprocess,
}

/// The names of a model's `num_classes` outputs: the run's classes, and
/// empty names for outputs no class folder had (`--num-classes` larger
/// than the data's).
pub fn output_names(classes: &[String], num_classes: usize) -> Vec<String> {
    let mut names = classes.to_vec();
    names.resize(num_classes.max(classes.len()), String::new());
    names
}

/// The model's weights as a safetensors state dict with dpn's metadata:
/// model, class names and the eval preprocessing.
pub fn model_state_dict(
    vs: &nn::VarStore,
    net: &Dpn,
    info: &ModelInfo,
    classes: &[String],
) -> Result<StateDict> {
    let mut sd = StateDict::default();
    for (name, t) in state_dict(vs, net) {
        sd.tensors.push((name, from_tch(&t)?));
    }
    let names = output_names(classes, net.num_classes());
    for (k, v) in [
        (meta::FORMAT, "pt".to_string()),
        (meta::MODEL, info.spec.name.clone()),
        (meta::NUM_CLASSES, names.len().to_string()),
        (meta::VERSION, env!("CARGO_PKG_VERSION").to_string()),
        (meta::CLASS_NAMES, serde_json::to_string(&names)?),
    ]
    .into_iter()
    .chain(meta::preprocess_entries(info.preprocess))
    {
        sd.metadata.insert(k.to_string(), v);
    }
    Ok(sd)
}

/// Writes a checkpoint of `state` under `output` and points `last` (and
/// `best` when `is_best`) at it, with the EMA's weights in `ema/` when the
/// run has one; returns its folder.
#[allow(clippy::too_many_arguments)]
pub fn save(
    output: &Path,
    vs: &nn::VarStore,
    net: &Dpn,
    info: &ModelInfo,
    optimizer: &[(String, Tensor)],
    state: &TrainState,
    is_best: bool,
    ema: Option<(&nn::VarStore, &Dpn)>,
) -> Result<PathBuf> {
    let root = output.join(CHECKPOINTS_DIR);
    fs::create_dir_all(&root).with_context(|| format!("cannot create {}", root.display()))?;
    let tmp = root.join(format!(".tmp-{}-{}", std::process::id(), state.dir_name()));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).with_context(|| format!("cannot remove {}", tmp.display()))?;
    }
    fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;

    let sd = model_state_dict(vs, net, info, &state.classes)?;
    weights::write_safetensors(&tmp.join(MODEL_FILE), &sd)?;
    let arch = ArchSpec {
        num_classes: net.num_classes(),
        ..info.spec.arch.clone()
    };
    let names = output_names(&state.classes, net.num_classes());
    let config = timm_config(info.spec, &arch, &names, info.preprocess);
    let config = serde_json::to_string_pretty(&config)?;
    write_synced(&tmp.join(CONFIG_FILE), config.as_bytes())?;
    if let Some((ema_vs, ema_net)) = ema {
        let dir = tmp.join(super::ema::EMA_DIR);
        fs::create_dir(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let sd = model_state_dict(ema_vs, ema_net, info, &state.classes)?;
        weights::write_safetensors(&dir.join(MODEL_FILE), &sd)?;
        write_synced(&dir.join(CONFIG_FILE), config.as_bytes())?;
        sync_dir(&dir);
    }
    #[cfg(feature = "test-hooks")]
    if let Some(marker) = std::env::var_os(TEST_PAUSE_ENV).filter(|_| output.join(LAST).exists()) {
        let _ = fs::write(&marker, b"paused\n");
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
    let mut opt = StateDict::default();
    for (name, t) in optimizer {
        opt.tensors.push((name.clone(), from_tch(t)?));
    }
    opt.metadata.insert("format".into(), "dpn-sgd".into());
    weights::write_safetensors(&tmp.join(OPTIMIZER_FILE), &opt)?;
    write_synced(
        &tmp.join(STATE_FILE),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    sync_dir(&tmp);

    // A unique final name (an interrupted run resumed and interrupted again
    // at the same step would reuse one).
    let base = state.dir_name();
    let mut name = base.clone();
    let mut n = 1;
    while root.join(&name).exists() {
        name = format!("{base}.{n}");
        n += 1;
    }
    let dir = root.join(&name);
    fs::rename(&tmp, &dir).with_context(|| format!("cannot create {}", dir.display()))?;
    sync_dir(&root);

    let target = Path::new(CHECKPOINTS_DIR).join(&name);
    point(output, LAST, &target)?;
    if is_best {
        point(output, BEST, &target)?;
    }
    sync_dir(output);
    let metric = &state.config.eval_metric;
    prune(
        output,
        &super::history::kept(output, state.config.checkpoint_hist, metric),
    );
    Ok(dir)
}

/// Atomically makes `output/link` a symlink to `target` (relative to `output`).
fn point(output: &Path, link: &str, target: &Path) -> Result<()> {
    let tmp = output.join(format!(".{link}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    #[cfg(unix)]
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("cannot create the link {}", tmp.display()))?;
    #[cfg(not(unix))]
    anyhow::bail!("checkpoint links need a Unix file system");
    let dest = output.join(link);
    if dest.is_dir() && !dest.is_symlink() {
        return Err(error::usage(format!(
            "{} is a folder, not the link dpn train keeps there; move it away",
            dest.display()
        )));
    }
    fs::rename(&tmp, &dest).with_context(|| format!("cannot update {}", dest.display()))?;
    Ok(())
}

/// Removes checkpoint folders that neither `last` nor `best` names nor
/// `hist` lists, and temporary folders of processes that are gone.
fn prune(output: &Path, hist: &[PathBuf]) {
    let root = output.join(CHECKPOINTS_DIR);
    let keep: Vec<PathBuf> = [LAST, BEST]
        .iter()
        .map(|l| output.join(l))
        .chain(hist.iter().cloned())
        .filter_map(|p| fs::canonicalize(p).ok())
        .collect();
    let Ok(entries) = fs::read_dir(&root) else {
        return;
    };
    let own_tmp = format!(".tmp-{}-", std::process::id());
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(".tmp-") {
            // Another live process's write in progress is not ours to remove;
            // ours are done by now. Stale ones are removed by clean_stale.
            if name.starts_with(&own_tmp) {
                let _ = fs::remove_dir_all(&path);
            }
            continue;
        }
        let canon = fs::canonicalize(&path).unwrap_or(path.clone());
        if !keep.contains(&canon) && path.join(STATE_FILE).is_file() {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// The PID in a temporary name (`.tmp-<pid>-...`, `.last.tmp-<pid>`).
fn tmp_pid(rest: &str) -> Option<u32> {
    rest.split('-').next()?.parse().ok()
}

/// Whether process `pid` is running (on this machine).
fn alive(pid: u32) -> bool {
    crate::sys::atomic::pid_alive(pid)
}

/// Removes temporary checkpoint folders and link files left by processes
/// that are gone (a live process's write in progress is left alone);
/// returns what was removed.
pub fn clean_stale(output: &Path) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    if let Ok(entries) = fs::read_dir(output.join(CHECKPOINTS_DIR)) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(".tmp-") else {
                continue;
            };
            if !tmp_pid(rest).is_some_and(alive) && fs::remove_dir_all(e.path()).is_ok() {
                removed.push(e.path());
            }
        }
    }
    if let Ok(entries) = fs::read_dir(output) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = [LAST, BEST]
                .iter()
                .find_map(|l| name.strip_prefix(&format!(".{l}.tmp-")));
            if let Some(rest) = rest {
                if !tmp_pid(rest).is_some_and(alive) && fs::remove_file(e.path()).is_ok() {
                    removed.push(e.path());
                }
            }
        }
    }
    removed
}

/// Whether checkpoint folder `dir` is whole: [`save`] writes state.json
/// last and renames the folder into place, so a folder without all three
/// files is a write that never finished. Its contents are not judged here
/// (a checkpoint of another version is not a leftover to delete).
fn complete(dir: &Path) -> bool {
    [MODEL_FILE, OPTIMIZER_FILE, STATE_FILE]
        .iter()
        .all(|f| dir.join(f).is_file())
}

/// How far a whole checkpoint got: (updates, epoch, step), read leniently.
fn progress(dir: &Path) -> (u64, u64, u64) {
    let v: serde_json::Value = fs::read(dir.join(STATE_FILE))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    (n("update"), n("epoch"), n("step_in_epoch"))
}

/// Makes run folder `output` whole again after killed runs (the caller
/// holds its lock): stale temporary folders and links are removed
/// ([`clean_stale`]), checkpoint folders that are not whole are removed,
/// and `last` (and `best`) that name no whole checkpoint are pointed at the
/// newest whole one, or removed when there is none. Returns one line per
/// repair, for the user.
pub fn recover(output: &Path) -> Result<Vec<String>> {
    let mut notes: Vec<String> = clean_stale(output)
        .iter()
        .map(|p| format!("removed {}, left by a process that is gone", p.display()))
        .collect();
    let root = output.join(CHECKPOINTS_DIR);
    let mut whole: Vec<((u64, u64, u64), String)> = Vec::new();
    if let Ok(entries) = fs::read_dir(&root) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.starts_with('.') || !path.is_dir() {
                continue;
            }
            if complete(&path) {
                whole.push((progress(&path), name));
            } else {
                fs::remove_dir_all(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                notes.push(format!(
                    "removed {}: an incomplete checkpoint",
                    path.display()
                ));
            }
        }
    }
    whole.sort();
    let newest = whole
        .last()
        .map(|(_, name)| Path::new(CHECKPOINTS_DIR).join(name));
    for link in [LAST, BEST] {
        let path = output.join(link);
        let exists = path.symlink_metadata().is_ok();
        if complete(&path) || (path.is_dir() && !path.is_symlink()) {
            // Whole, or not a link of ours (which `point` refuses to replace
            // with a clear line).
            continue;
        }
        match (&newest, link) {
            (Some(target), LAST) => {
                point(output, LAST, target)?;
                let was = if exists {
                    "named no complete checkpoint"
                } else {
                    "was missing"
                };
                notes.push(format!(
                    "{} {was}; it now names {}, the newest complete checkpoint",
                    path.display(),
                    output.join(target).display()
                ));
            }
            _ if !exists => {}
            _ => {
                fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
                notes.push(format!(
                    "removed {}: it named no complete checkpoint",
                    path.display()
                ));
            }
        }
    }
    if !notes.is_empty() {
        sync_dir(output);
    }
    Ok(notes)
}

/// Records the settings a new run starts with (`run.json`), so that a run
/// killed before its first checkpoint can start again with `--resume`.
/// Beside it, `args.yaml`: the same settings in timm's train.py keys
/// (`train::timm_args`), for `train.py -c` or `dpn train --config`.
pub fn save_run_config(output: &Path, config: &TrainConfig) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(config)?;
    text.push(b'\n');
    let out_abs = std::path::absolute(output).unwrap_or_else(|_| output.to_path_buf());
    let yaml = super::timm_args::to_yaml(config, &out_abs);
    crate::sys::output_path::write_atomic(&output.join(TIMM_ARGS_FILE), yaml.as_bytes())?;
    crate::sys::output_path::write_atomic(&output.join(RUN_FILE), &text)
}

/// The settings `run.json` records, when the folder has one.
pub fn load_run_config(output: &Path) -> Result<Option<TrainConfig>> {
    let path = output.join(RUN_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| error::bad_input(format!("{}: invalid run settings: {e}", path.display())))
}

/// The checkpoint folder `--resume PATH` names: a checkpoint folder, a file
/// in one, or a training output folder (its `last`).
pub fn resolve(path: &Path) -> Result<PathBuf> {
    if path.is_file() {
        let dir = path.parent().unwrap_or(Path::new("."));
        if dir.join(STATE_FILE).is_file() {
            return Ok(dir.to_path_buf());
        }
        return Err(error::bad_input(format!(
            "--resume {}: no {STATE_FILE} beside it; pass a checkpoint folder or a dpn train output folder",
            path.display()
        )));
    }
    if path.join(STATE_FILE).is_file() {
        return Ok(path.to_path_buf());
    }
    if path.join(LAST).join(STATE_FILE).is_file() {
        return Ok(path.join(LAST));
    }
    if !path.exists() {
        return Err(error::usage(format!(
            "--resume {}: no such file or folder",
            path.display()
        )));
    }
    Err(error::bad_input(format!(
        "--resume {}: not a dpn train checkpoint (no {STATE_FILE}, no {LAST}/{STATE_FILE})",
        path.display()
    )))
}

/// The error for a state.json whose `field` no run could have written
/// (exit code 3, like any other unusable checkpoint).
fn corrupt(path: &Path, field: &str, why: String) -> anyhow::Error {
    error::bad_input(format!(
        "{}: corrupt checkpoint state: {field} {why}; resume from another checkpoint \
         (checkpoints/epoch-*) or start the run again",
        path.display()
    ))
}

/// Checks the progress counters of state.json (`raw`, at `path`) before
/// they steer a run: whole numbers, within [`MAX_EPOCHS`] and the
/// `--epochs` of the run that wrote them, and consistent with each other
/// (every epoch made at least one update). A counter such as `epoch: 1e12`
/// would otherwise read as "already trained", or a `step_in_epoch` past
/// the epoch as an epoch without images.
fn check_progress(raw: &serde_json::Value, path: &Path) -> Result<()> {
    let count = |field: &str| -> Result<Option<u64>> {
        match &raw[field] {
            serde_json::Value::Null => Ok(None),
            v => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| corrupt(path, field, format!("is {v}, not a whole number"))),
        }
    };
    // Missing fields are the typed reader's to report.
    let (Some(epoch), Some(step), Some(update)) =
        (count("epoch")?, count("step_in_epoch")?, count("update")?)
    else {
        return Ok(());
    };
    let epochs = raw["config"]["epochs"].as_u64();
    if epoch > MAX_EPOCHS {
        return Err(corrupt(
            path,
            "epoch",
            format!("is {epoch}, more than any run trains ({MAX_EPOCHS})"),
        ));
    }
    if let Some(n) = epochs.filter(|&n| epoch > n) {
        return Err(corrupt(
            path,
            "epoch",
            format!("is {epoch}, past the {n} epochs of the run that wrote it"),
        ));
    }
    if let Some(n) = epochs.filter(|&n| step > 0 && epoch >= n) {
        return Err(corrupt(
            path,
            "step_in_epoch",
            format!(
                "is {step} in epoch {}, which the run that wrote it never started (it trains {n} epochs)",
                epoch + 1
            ),
        ));
    }
    if epoch.saturating_add(step) > update {
        let field = if step > 0 { "step_in_epoch" } else { "epoch" };
        return Err(corrupt(
            path,
            field,
            format!(
                "is {}, more than the {update} updates the checkpoint records allow (epoch {epoch}, \
                 step {step}; every epoch makes at least one update)",
                if step > 0 { step } else { epoch }
            ),
        ));
    }
    Ok(())
}

/// Checks a resumed `step_in_epoch` against the updates an epoch of this
/// run makes (`upe`, known once the data is scanned; `load` cannot know
/// it): past it, state.json at `path` is corrupt (exit code 3). Equal is a
/// checkpoint saved after an epoch's last update and before its end.
pub fn check_step_in_epoch(step_in_epoch: u64, upe: u64, path: &Path) -> Result<()> {
    if step_in_epoch > upe {
        return Err(corrupt(
            path,
            "step_in_epoch",
            format!("is {step_in_epoch}, past the {upe} updates an epoch of this run makes"),
        ));
    }
    Ok(())
}

/// Reads state.json and the optimizer state of checkpoint folder `dir`.
pub fn load(dir: &Path) -> Result<Loaded> {
    let state_path = dir.join(STATE_FILE);
    let text = fs::read_to_string(&state_path)
        .with_context(|| format!("cannot read {}", state_path.display()))?;
    let invalid = |e: serde_json::Error| {
        error::bad_input(format!(
            "checkpoint {}: invalid {STATE_FILE}: {e}",
            dir.display()
        ))
    };
    let raw: serde_json::Value = serde_json::from_str(&text).map_err(invalid)?;
    // Checked before the fields: another format's need not parse as ours.
    let (format, version) = (&raw["format"], &raw["format_version"]);
    if format.is_string() && (format != FORMAT || version != FORMAT_VERSION) {
        return Err(error::bad_input(format!(
            "checkpoint {}: {STATE_FILE} is format {} v{}, expected {FORMAT} v{FORMAT_VERSION}",
            dir.display(),
            format.as_str().unwrap_or_default(),
            version
        )));
    }
    check_progress(&raw, &state_path)?;
    let state: TrainState = serde_json::from_value(raw).map_err(invalid)?;
    let opt_path = dir.join(OPTIMIZER_FILE);
    let optimizer = Tensor::read_safetensors(&opt_path).map_err(|e| {
        error::bad_input(format!(
            "checkpoint {}: cannot read {OPTIMIZER_FILE}: {e}",
            dir.display()
        ))
    })?;
    Ok(Loaded {
        dir: dir.to_path_buf(),
        state,
        optimizer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(epoch: serde_json::Value, step: u64, update: u64) -> serde_json::Value {
        serde_json::json!({
            "epoch": epoch, "step_in_epoch": step, "update": update, "config": {"epochs": 3}
        })
    }

    fn refused(v: &serde_json::Value) -> String {
        let e = check_progress(v, Path::new("run/last/state.json")).unwrap_err();
        assert_eq!(error::exit_code(&e), error::Exit::BadInput.code());
        e.to_string()
    }

    #[test]
    fn progress_no_run_could_make_is_corrupt() {
        let ok = |v: &serde_json::Value| check_progress(v, Path::new("s.json")).unwrap();
        ok(&state(0.into(), 0, 0));
        ok(&state(1.into(), 4, 9));
        ok(&state(3.into(), 0, 15));
        let e = refused(&state(serde_json::json!(1e12), 0, 5));
        assert!(
            e.starts_with("run/last/state.json: corrupt checkpoint state: epoch is 1000000000000.0, not a whole number"),
            "{e}"
        );
        let e = refused(&state(4.into(), 0, 50));
        assert!(e.contains("epoch is 4, past the 3 epochs"), "{e}");
        let e = refused(&state(3.into(), 2, 50));
        assert!(e.contains("step_in_epoch is 2 in epoch 4"), "{e}");
        let e = refused(&state(1.into(), 1_000_000_000, 9));
        assert!(
            e.contains("step_in_epoch is 1000000000, more than the 9 updates"),
            "{e}"
        );
        let e = refused(&state(2.into(), 0, 1));
        assert!(
            e.contains("corrupt checkpoint state: epoch is 2, more than"),
            "{e}"
        );
        check_step_in_epoch(5, 5, Path::new("s.json")).unwrap();
        let e = check_step_in_epoch(6, 5, Path::new("run/last/state.json")).unwrap_err();
        assert_eq!(error::exit_code(&e), error::Exit::BadInput.code());
        assert!(
            e.to_string().starts_with(
                "run/last/state.json: corrupt checkpoint state: step_in_epoch is 6, past the 5 updates"
            ),
            "{e}"
        );
        let mut big = state(2_000_000.into(), 0, 5);
        big["config"]["epochs"] = 5_000_000.into();
        assert!(refused(&big).contains("more than any run trains"));
    }
}
