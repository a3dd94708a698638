//! Rendering results on stdout in the format a caller asked for.
//!
//! A command builds a [`Table`] of cells that each carry an exact value (what
//! CSV, JSON and YAML print, under stable keys) and a human rendering (what the
//! aligned table and Markdown show). Commands never format output themselves.

pub mod features;
pub mod paths;

use std::io::Write;

use anyhow::Result;
use serde_json::{Map, Value};

/// How a command's result is printed on stdout (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns with human units, for people.
    Table,
    /// Comma-separated, exact values, one header row.
    Csv,
    /// A JSON array of objects with exact values.
    Json,
    /// A YAML list of mappings with exact values.
    Yaml,
    /// A GitHub-flavoured Markdown table with human units.
    Markdown,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub value: Value,
    pub human: String,
}

impl Cell {
    pub fn new(value: impl Into<Value>, human: impl Into<String>) -> Cell {
        Cell {
            value: value.into(),
            human: human.into(),
        }
    }

    /// A value shown to people as it is.
    pub fn plain(value: impl Into<Value>) -> Cell {
        let value = value.into();
        let human = match &value {
            Value::Null => "-".to_string(),
            Value::String(s) => s.clone(),
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            other => other.to_string(),
        };
        Cell { value, human }
    }

    pub fn missing() -> Cell {
        Cell::plain(Value::Null)
    }

    /// An optional value with a human rendering.
    pub fn opt<T: Into<Value> + Copy>(v: Option<T>, human: impl Fn(T) -> String) -> Cell {
        match v {
            Some(x) => Cell::new(x, human(x)),
            None => Cell::missing(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Column {
    /// Stable machine name: CSV header and JSON/YAML key.
    pub key: &'static str,
    /// Header for people.
    pub header: &'static str,
    pub right_align: bool,
}

impl Column {
    pub const fn new(key: &'static str, header: &'static str, right_align: bool) -> Column {
        Column {
            key,
            header,
            right_align,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(columns: Vec<Column>) -> Table {
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Writes the table to stdout in `format` and flushes it: a command's result.
    pub fn print(&self, format: Format) -> Result<()> {
        let mut out = std::io::stdout().lock();
        self.write(format, &mut out)?;
        out.flush()?;
        Ok(())
    }

    pub fn write(&self, format: Format, out: &mut dyn Write) -> Result<()> {
        match format {
            Format::Table => self.write_aligned(out),
            Format::Markdown => self.write_markdown(out),
            Format::Csv => self.write_csv(out),
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &self.to_values())?;
                writeln!(out)?;
                Ok(())
            }
            Format::Yaml => {
                serde_yaml::to_writer(&mut *out, &self.to_values())?;
                Ok(())
            }
        }
    }

    fn to_values(&self) -> Vec<Value> {
        self.rows
            .iter()
            .map(|row| {
                let obj: Map<String, Value> = self
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, cell)| (c.key.to_string(), cell.value.clone()))
                    .collect();
                Value::Object(obj)
            })
            .collect()
    }

    fn widths(&self) -> Vec<usize> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                self.rows
                    .iter()
                    .map(|r| r[i].human.chars().count())
                    .chain(std::iter::once(c.header.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect()
    }

    fn write_aligned(&self, out: &mut dyn Write) -> Result<()> {
        let widths = self.widths();
        let line = |cells: Vec<&str>| {
            let parts: Vec<String> = cells
                .iter()
                .zip(&self.columns)
                .zip(&widths)
                .map(|((s, c), w)| {
                    if c.right_align {
                        format!("{s:>w$}")
                    } else {
                        format!("{s:<w$}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        writeln!(
            out,
            "{}",
            line(self.columns.iter().map(|c| c.header).collect())
        )?;
        for row in &self.rows {
            writeln!(
                out,
                "{}",
                line(row.iter().map(|c| c.human.as_str()).collect())
            )?;
        }
        Ok(())
    }

    fn write_markdown(&self, out: &mut dyn Write) -> Result<()> {
        let esc = |s: &str| s.replace('|', "\\|");
        let headers: Vec<String> = self.columns.iter().map(|c| esc(c.header)).collect();
        writeln!(out, "| {} |", headers.join(" | "))?;
        let rule: Vec<&str> = self
            .columns
            .iter()
            .map(|c| if c.right_align { "---:" } else { "---" })
            .collect();
        writeln!(out, "|{}|", rule.join("|"))?;
        for row in &self.rows {
            let cells: Vec<String> = row.iter().map(|c| esc(&c.human)).collect();
            writeln!(out, "| {} |", cells.join(" | "))?;
        }
        Ok(())
    }

    fn write_csv(&self, out: &mut dyn Write) -> Result<()> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record(self.columns.iter().map(|c| c.key))?;
        for row in &self.rows {
            w.write_record(row.iter().map(|c| csv_field(&c.value)))?;
        }
        w.flush()?;
        Ok(())
    }
}

/// Exact CSV text of a value: numbers as serde_json prints them (shortest
/// round-trip form), nulls empty, lists joined with `;`.
pub fn csv_field(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(csv_field).collect::<Vec<_>>().join(";"),
        other => other.to_string(),
    }
}

/// `12,611,602`
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// `86.92M`, `23.52G`: decimal SI, as papers quote parameters and FLOPs.
pub fn si(n: u64) -> String {
    let f = n as f64;
    match n {
        0..=999 => n.to_string(),
        1_000..=999_999 => format!("{:.2}K", f / 1e3),
        1_000_000..=999_999_999 => format!("{:.2}M", f / 1e6),
        _ => format!("{:.2}G", f / 1e9),
    }
}

/// `332.5 MiB`: binary units, as file sizes on disk are shown by most tools.
pub fn bytes(n: u64) -> String {
    let f = n as f64;
    const K: f64 = 1024.0;
    if f < K {
        format!("{n} B")
    } else if f < K * K {
        format!("{:.1} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.2} GiB", f / (K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(thousands(12_611_602), "12,611,602");
        assert_eq!(thousands(999), "999");
        assert_eq!(si(86_920_000), "86.92M");
        assert_eq!(si(23_524_280_296), "23.52G");
        assert_eq!(bytes(348_612_331), "332.5 MiB");
    }

    #[test]
    fn csv_keeps_exact_values() {
        let mut t = Table::new(vec![
            Column {
                key: "a",
                header: "A",
                right_align: false,
            },
            Column {
                key: "b",
                header: "B",
                right_align: true,
            },
        ]);
        t.push(vec![Cell::plain("x,y"), Cell::new(0.1 + 0.2, "0.3")]);
        t.push(vec![Cell::missing(), Cell::new(12_611_602u64, "12.61M")]);
        let mut out = Vec::new();
        t.write(Format::Csv, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a,b\n\"x,y\",0.30000000000000004\n,12611602\n"
        );
    }

    #[test]
    fn aligned_table_pads_columns() {
        let mut t = Table::new(vec![
            Column {
                key: "a",
                header: "Name",
                right_align: false,
            },
            Column {
                key: "b",
                header: "N",
                right_align: true,
            },
        ]);
        t.push(vec![Cell::plain("dpn68"), Cell::new(1, "1")]);
        t.push(vec![Cell::plain("x"), Cell::new(100, "100")]);
        let mut out = Vec::new();
        t.write(Format::Table, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "Name     N\ndpn68    1\nx      100\n"
        );
    }
}
