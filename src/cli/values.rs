//! How the domain's enums are spelled on the command line.
//!
//! The types live where their meaning does (`ui`, `output`, `registry`,
//! `train`) as plain Rust; only this file teaches clap their names, so that
//! no module below `cli` and `commands` depends on clap. The names and help
//! texts are what `--help`, the completions and the man pages show.

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::output::Format;
use crate::registry::Interpolation;
use crate::train::sched::SchedKind;
use crate::ui::ColorChoice;

impl ValueEnum for ColorChoice {
    fn value_variants<'a>() -> &'a [Self] {
        &[ColorChoice::Auto, ColorChoice::Always, ColorChoice::Never]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            ColorChoice::Auto => "auto",
            ColorChoice::Always => "always",
            ColorChoice::Never => "never",
        }))
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Format::Table,
            Format::Csv,
            Format::Json,
            Format::Yaml,
            Format::Markdown,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let (name, help) = match self {
            Format::Table => ("table", "Aligned columns with human units, for people"),
            Format::Csv => ("csv", "Comma-separated, exact values, one header row"),
            Format::Json => ("json", "A JSON array of objects with exact values"),
            Format::Yaml => ("yaml", "A YAML list of mappings with exact values"),
            Format::Markdown => (
                "markdown",
                "A GitHub-flavoured Markdown table with human units",
            ),
        };
        Some(PossibleValue::new(name).help(help))
    }
}

impl ValueEnum for Interpolation {
    fn value_variants<'a>() -> &'a [Self] {
        &[
            Interpolation::Bicubic,
            Interpolation::Bilinear,
            Interpolation::Nearest,
            Interpolation::Lanczos,
            Interpolation::Box,
            Interpolation::Hamming,
        ]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        // Display is timm's name for each filter, the one the registry uses.
        Some(PossibleValue::new(self.to_string()))
    }
}

impl ValueEnum for SchedKind {
    fn value_variants<'a>() -> &'a [Self] {
        &SchedKind::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        let v = PossibleValue::new(self.to_string());
        // dpn's earlier spelling of constant.
        Some(match self {
            SchedKind::Constant => v.alias("const"),
            _ => v,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The command line's spelling of each value is the one the rest of dpn
    /// prints (and the registry and checkpoints store).
    #[test]
    fn names_round_trip() {
        for v in Interpolation::value_variants() {
            assert_eq!(Interpolation::from_str(&v.to_string(), false).unwrap(), *v);
        }
        for v in SchedKind::value_variants() {
            assert_eq!(SchedKind::from_str(&v.to_string(), false).unwrap(), *v);
        }
        assert_eq!(
            Format::from_str("markdown", false).unwrap(),
            Format::Markdown
        );
        assert_eq!(
            ColorChoice::from_str("never", false).unwrap(),
            ColorChoice::Never
        );
    }
}
