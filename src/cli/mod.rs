//! The command line: global options and the list of subcommands.
//!
//! A subcommand is one file under `commands/` holding its `Args` and its
//! `run`; adding one is that file plus one variant here.

pub mod config;
pub mod docs;
mod values;

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::commands;
use crate::ui::{ColorChoice, Ui};

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure (I/O, libtorch, network)
  2  usage error (bad option or value, unknown model, a train output folder in use)
  3  invalid input (malformed model index, corrupt or wrong weights, weights with
     NaN/Inf under --reject-non-finite, bad image, a class folder the model does not
     know, results files that do not merge, evaluate with NaN/Inf outputs, a
     download that is not the model's weights)
  4  verification failed (a weights file's SHA-256 does not match the prefix in its name)
  5  download failed (HTTP error such as 404 or 403, timeout, unreachable server,
     a body over its stated size or 2 GiB, under 1 KiB/s for 30 s)
  6  weights not cached (run `dpn fetch MODEL`, or pass --weights FILE)
  7  some inputs failed (unreadable images, NaN/Inf outputs); the rest were processed
  8  out of memory (CPU or CUDA), after predict/evaluate/profile retried at smaller batches
  9  a distributed run failed: the ranks did not meet, or a peer died or stopped answering,
     within --dist-timeout; the ranks disagree on a setting, the weights or the data; a peer
     is not a rank of the run (duplicate rank, wrong DPN_DIST_SECRET, impossible counts);
     or another rank failed (its own line says why)
  70  internal error: a bug in dpn (the line asks for a report; RUST_BACKTRACE=1 shows where)
  130  interrupted by SIGINT/SIGTERM after saving (dpn train: resume with --resume)

Environment:
  DPN_MODEL_INDEX  a model-index YAML file whose models add to or replace the built-in ones
  DPN_CACHE_DIR    where weights are cached (default: $XDG_CACHE_HOME/dpn or ~/.cache/dpn)
  DPN_MIRROR       base URL or directory that `dpn fetch` takes weight files from
  DPN_OFFLINE      when 1, `dpn fetch` never touches the network
  DPN_MALLOC_TUNING  off: keep glibc malloc's defaults (dpn otherwise keeps freed
                   tensor memory mapped for reuse; GLIBC_TUNABLES/MALLOC_* also win)
  NO_COLOR         when set and not empty, no colour (same as --color never)
  SLURM_ARRAY_TASK_ID, _COUNT, _MIN, _MAX, _STEP, then RANK and WORLD_SIZE
                   the shard that --shard auto takes (predict, evaluate); without
                   --shard a job array's variables are ignored
  RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT (torchrun),
  SLURM_STEP_ID, SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID (srun)
                   a distributed train or evaluate over the launched processes;
                   predict then needs --shard auto (docs/distributed.md)
  DPN_DIST_SECRET  a secret every rank of a distributed run must prove to join it (set
                   the same value for every rank; docs/distributed.md, Trust)
  GLOO_SOCKET_IFNAME  network interfaces of a distributed run (as in torch)
  TORCH_CPP_LOG_LEVEL  show c10d's own log lines (dpn hides them)";

#[derive(Debug, Parser)]
#[command(
    name = "dpn",
    version,
    about = "Dual Path Network (DPN) image classifiers on libtorch",
    long_about = "Dual Path Network (DPN) image classifiers on libtorch.\n\n\
        Results go to stdout in the format asked for; progress, logs and errors go to stderr.",
    after_help = EXIT_CODES_HELP,
    disable_version_flag = true,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    /// Print the version, the libtorch it runs on and whether CUDA is usable
    #[arg(short = 'V', long, action = ArgAction::SetTrue)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The heading global options have in every command's help: after the
/// command's own options, so that each subcommand's reads first.
const GLOBAL: &str = "Global options";

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print nothing on stderr but errors
    #[arg(short, long, global = true, help_heading = GLOBAL, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print more on stderr (repeat for more)
    #[arg(short, long, global = true, help_heading = GLOBAL, action = ArgAction::Count)]
    pub verbose: u8,

    /// When to colour stderr and tables
    #[arg(long, global = true, help_heading = GLOBAL, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// Model-index YAML file whose models add to or replace the built-in ones
    #[arg(long, global = true, help_heading = GLOBAL, env = "DPN_MODEL_INDEX", value_name = "FILE")]
    pub model_index: Option<PathBuf>,

    /// Directory for cached weights
    #[arg(long, global = true, help_heading = GLOBAL, env = "DPN_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
}

impl GlobalArgs {
    /// The stderr settings these options ask for.
    pub fn ui(&self) -> Ui {
        Ui::new(self.quiet, self.verbose, self.color)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the registry's models: architecture, published figures, preprocessing, cache state
    Info(commands::info::InfoArgs),
    /// Convert weights (.pth of any era, safetensors) to timm-named safetensors, validated
    Convert(commands::convert::ConvertArgs),
    /// Classify images: top-k classes per image, streamed; optional embeddings
    Predict(commands::predict::PredictArgs),
    /// Top-1/top-5 and loss on a labelled image set, beside the published figures
    #[command(visible_alias = "eval")]
    Evaluate(commands::evaluate::EvaluateArgs),
    /// Parameters, MACs, file size, peak memory and speed of models, beside the published figures
    Profile(commands::profile::ProfileArgs),
    /// Download, verify and convert pretrained weights into the cache; list, verify or clean it
    Fetch(commands::fetch::FetchArgs),
    /// Train or fine-tune a DPN on an image folder (timm's recipe), with exact resume
    // Boxed: its flags outweigh every other subcommand's several times.
    Train(Box<commands::train::TrainArgs>),
    /// Average checkpoints' weights (timm's avg_checkpoints.py): a run's best, or given files
    Average(commands::average::AverageArgs),
    /// Write a model as an ONNX graph (onnxruntime, TensorRT), checked after writing
    Export(commands::export::ExportArgs),
    /// Show the training augmentation: the images `dpn train` would feed, and every random step
    Augment(commands::augment::AugmentArgs),
    /// Write a self-contained HTML page of training runs: curves, best epoch, settings side by side
    Report(commands::report::ReportArgs),
}

impl Command {
    /// Runs the subcommand.
    pub fn run(self, ctx: &commands::Context) -> anyhow::Result<()> {
        match self {
            Command::Info(args) => commands::info::run(args, ctx),
            Command::Convert(args) => commands::convert::run(args, ctx),
            Command::Profile(args) => commands::profile::run(args, ctx),
            Command::Predict(args) => commands::predict::run(args, ctx),
            Command::Evaluate(args) => commands::evaluate::run(args, ctx),
            Command::Fetch(args) => commands::fetch::run(args, ctx),
            Command::Train(args) => commands::train::run(*args, ctx),
            Command::Average(args) => commands::average::run(args, ctx),
            Command::Export(args) => commands::export::run(args, ctx),
            Command::Augment(args) => commands::augment::run(args, ctx),
            Command::Report(args) => commands::report::run(args, ctx),
        }
    }
}
