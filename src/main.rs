//! The `dpn` binary: parse, run one subcommand, map the outcome to an exit code.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use dpn::cli::Cli;
use dpn::commands::Context;
use dpn::registry::Registry;
use dpn::store::cache::{default_cache_dir, Cache};
use dpn::sys::error::{self, Exit};

fn main() -> ExitCode {
    dpn::sys::allocator::tune();
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return clap_exit(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_exit(e),
    };
    if cli.version {
        println!("{}", dpn::sys::runtime::version_text());
        return ExitCode::SUCCESS;
    }
    let ui = cli.global.ui();
    let Some(command) = cli.command else {
        // arg_required_else_help covers a bare `dpn`; this is `dpn -q` and the like.
        ui.error("no subcommand given; see `dpn --help`");
        return code(Exit::Usage.code());
    };
    let result = Registry::load(cli.global.model_index.as_deref()).and_then(|registry| {
        let cache = Cache::new(
            cli.global
                .cache_dir
                .clone()
                .unwrap_or_else(default_cache_dir),
        );
        command.run(&Context {
            registry,
            cache,
            ui,
        })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            ui.error(format!("{err:#}"));
            code(error::exit_code(&err))
        }
    }
}

/// clap prints help/version itself; its usage errors exit 2 like ours.
fn clap_exit(e: clap::Error) -> ExitCode {
    let _ = e.print();
    code(if e.use_stderr() {
        Exit::Usage.code()
    } else {
        Exit::Success.code()
    })
}

/// `dpn info --all | head -1` must not report an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(1))
}
