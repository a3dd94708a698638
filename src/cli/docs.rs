//! Shell completions and man pages, generated from the clap definitions so
//! that they cannot drift from the real command line.

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

pub const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

/// `(file name, contents)` of the completion script for each shell.
pub fn completions() -> Vec<(String, Vec<u8>)> {
    SHELLS
        .iter()
        .map(|&shell| {
            let mut cmd = Cli::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "dpn", &mut buf);
            (clap_complete::Generator::file_name(&shell, "dpn"), buf)
        })
        .collect()
}

/// `(file name, contents)` of `dpn.1` and one `dpn-<sub>.1` per subcommand.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut cmd = Cli::command();
    // Building propagates the global options into each subcommand's page.
    cmd.build();
    let mut pages = Vec::new();
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
    pages.push(("dpn.1".to_string(), buf));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("dpn-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("dpn {}", sub.get_name()));
        let sub = sub
            .version(env!("CARGO_PKG_VERSION"))
            .disable_version_flag(true);
        let mut buf = Vec::new();
        clap_mangen::Man::new(sub).render(&mut buf)?;
        pages.push((format!("{name}.1"), buf));
    }
    Ok(pages)
}
