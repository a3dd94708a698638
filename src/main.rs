//! The `dpn` binary: parse, run one subcommand, map the outcome to an exit code.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};
use dpn::cli::config::ConfigError;
use dpn::cli::Cli;
use dpn::commands::Context;
use dpn::registry::Registry;
use dpn::store::cache::{default_cache_dir, Cache};
use dpn::sys::error::{self, Exit};
use dpn::sys::panic;

fn main() -> ExitCode {
    dpn::sys::allocator::tune();
    dpn::sys::panic::install_hook();
    #[cfg(feature = "test-hooks")]
    dpn::sys::fail::alloc();
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let first = match Cli::command().try_get_matches_from(argv.clone()) {
        Ok(m) => m,
        Err(e) => return clap_exit(e),
    };
    // `dpn train --config FILE`: the file's options join the command line.
    let (matches, notes) = match dpn::cli::config::apply(first.clone(), argv) {
        Ok(m) => m,
        Err(ConfigError::Clap(e)) => return clap_exit(e),
        Err(ConfigError::File(err)) => {
            if let Ok(cli) = Cli::from_arg_matches(&first) {
                cli.global.ui().error(err.to_string());
            }
            return code(error::exit_code(&err));
        }
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => return clap_exit(e),
    };
    if cli.version {
        // `dpn --version | head -1` closes the pipe early: standard output's
        // documented quiet exit, not println!'s panic.
        use std::io::Write;
        let text = dpn::sys::runtime::version_text();
        return match writeln!(std::io::stdout(), "{text}") {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                eprintln!("dpn: error: cannot write to standard output: {e}");
                code(Exit::Failure.code())
            }
            _ => ExitCode::SUCCESS,
        };
    }
    let ui = cli.global.ui();
    for n in notes {
        ui.warn(n);
    }
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
        let ctx = Context {
            registry,
            cache,
            ui,
        };
        // The last line of defence: a panic (libtorch's, or a bug) becomes
        // one line and its own exit code, never a backtrace.
        panic::catch(|| command.run(&ctx)).and_then(|r| r)
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if error::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // One line: each cause's first line (a libtorch error carries
            // its C++ backtrace in the lines after it).
            let mut line = err
                .chain()
                .map(|e| {
                    e.to_string()
                        .lines()
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_string()
                })
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(": ");
            if error::is_out_of_memory(&err) && !line.contains("try ") {
                // Sites that know the batch say more; this is the fallback.
                line.push_str("; out of memory: try a smaller --batch-size or --img-size");
            }
            ui.error(line);
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

fn code(c: i32) -> ExitCode {
    ExitCode::from(u8::try_from(c).unwrap_or(1))
}
