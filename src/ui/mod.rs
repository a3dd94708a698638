//! What goes to stderr, and whether it is coloured.
//!
//! Colour is used only when asked (`--color always`) or when the stream is a
//! terminal and neither `--color never` nor `NO_COLOR` says otherwise.

pub mod progress;

use std::io::IsTerminal;

/// When to colour: `--color` (and `NO_COLOR` for `Auto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: u8,
    pub stderr_color: bool,
    pub stdout_color: bool,
    /// Progress bars only make sense for a person watching a terminal.
    pub progress: bool,
}

impl Ui {
    pub fn new(quiet: bool, verbose: u8, color: ColorChoice) -> Ui {
        let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let color = |tty: bool| match color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => tty && !no_color_env,
        };
        let stderr_tty = std::io::stderr().is_terminal();
        Ui {
            quiet,
            verbose,
            stderr_color: color(stderr_tty),
            stdout_color: color(std::io::stdout().is_terminal()),
            progress: stderr_tty && !quiet,
        }
    }

    /// This Ui without info, warnings or progress: errors only (the ranks of
    /// a distributed run other than rank 0).
    pub fn silent(self) -> Ui {
        Ui {
            quiet: true,
            progress: false,
            ..self
        }
    }

    pub fn info(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            line(msg.as_ref());
        }
    }

    pub fn debug(&self, msg: impl AsRef<str>) {
        if self.verbose > 0 && !self.quiet {
            line(msg.as_ref());
        }
    }

    pub fn warn(&self, msg: impl AsRef<str>) {
        if !self.quiet {
            line(&format!(
                "{} {}",
                self.paint("dpn: warning:", "33"),
                msg.as_ref()
            ));
        }
    }

    /// Errors are printed even with `--quiet`: a script needs to know why.
    pub fn error(&self, msg: impl AsRef<str>) {
        line(&format!(
            "{} {}",
            self.paint("dpn: error:", "31"),
            msg.as_ref()
        ));
    }

    fn paint(&self, s: &str, sgr: &str) -> String {
        if self.stderr_color {
            format!("\x1b[1;{sgr}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

/// One line on stderr. A stderr that cannot be written (`2>/dev/full`, a
/// closed pipe) loses the message but must not stop the work or panic, as
/// `eprintln!` would.
fn line(text: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}
