//! Streaming pooled embeddings to a file (`dpn predict --features`).
//!
//! Rows go to a temporary file beside the output as they come, so memory
//! stays flat for any number of images; `finish` writes the real file
//! (safetensors or .npy, whose headers need the final row count) next to it
//! and puts it in place ([`OutputPath`]: renamed over a file, copied into
//! a stream), so a failed run leaves no partial output.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::sys::error;
use crate::sys::output_path::OutputPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Safetensors,
    Npy,
}

pub struct FeatureWriter {
    out: OutputPath,
    kind: Kind,
    rows: BufWriter<tempfile::NamedTempFile>,
    paths: Vec<String>,
    dim: Option<usize>,
}

impl FeatureWriter {
    /// `.safetensors` (a `features` tensor, paths in the metadata) or `.npy`
    /// (paths in `<FILE>.paths.jsonl`, one JSON string per line, same
    /// order: a path may hold a newline). `-` (standard output) is
    /// safetensors, which needs no second file.
    pub fn create(out: OutputPath) -> Result<FeatureWriter> {
        let path = out.given();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let kind = match ext.as_str() {
            _ if out.is_stdout() => Kind::Safetensors,
            "safetensors" => Kind::Safetensors,
            "npy" => Kind::Npy,
            _ => {
                return Err(error::usage(format!(
                    "--features {}: the file name must end in .safetensors or .npy",
                    path.display()
                )))
            }
        };
        let rows = out.staging()?;
        Ok(FeatureWriter {
            out,
            kind,
            rows: BufWriter::new(rows),
            paths: Vec::new(),
            dim: None,
        })
    }

    /// One image's embedding.
    pub fn push(&mut self, path: &Path, row: &[f32]) -> Result<()> {
        match self.dim {
            None => self.dim = Some(row.len()),
            Some(d) if d != row.len() => {
                anyhow::bail!("feature rows of different lengths ({d} and {})", row.len())
            }
            _ => {}
        }
        for v in row {
            self.rows.write_all(&v.to_le_bytes())?;
        }
        self.paths
            .push(crate::output::paths::path_text(path).into_owned());
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Writes the output file atomically; returns its path.
    pub fn finish(self) -> Result<PathBuf> {
        let n = self.paths.len();
        let dim = self.dim.unwrap_or(0);
        let mut rows = self.rows.into_inner().map_err(|e| e.into_error())?;
        rows.as_file_mut().seek(SeekFrom::Start(0))?;
        let mut out = self.out.staging()?;
        {
            let mut w = BufWriter::new(out.as_file_mut());
            match self.kind {
                Kind::Safetensors => {
                    let meta = serde_json::json!({
                        "__metadata__": {"paths": serde_json::to_string(&self.paths)?, "format": "dpn-features"},
                        "features": {"dtype": "F32", "shape": [n, dim], "data_offsets": [0, n * dim * 4]},
                    });
                    let mut header = serde_json::to_vec(&meta)?;
                    header.resize(header.len().next_multiple_of(8), b' ');
                    w.write_all(&(header.len() as u64).to_le_bytes())?;
                    w.write_all(&header)?;
                }
                Kind::Npy => {
                    let dict = format!(
                        "{{'descr': '<f4', 'fortran_order': False, 'shape': ({n}, {dim}), }}"
                    );
                    // Magic, version 1.0, header length; the header is padded
                    // with spaces and ends in a newline at a 64-byte boundary.
                    let total = (10 + dict.len() + 1).next_multiple_of(64);
                    let mut header = dict.into_bytes();
                    header.resize(total - 10 - 1, b' ');
                    header.push(b'\n');
                    w.write_all(b"\x93NUMPY\x01\x00")?;
                    w.write_all(&(header.len() as u16).to_le_bytes())?;
                    w.write_all(&header)?;
                }
            }
            std::io::copy(&mut rows.as_file_mut().take(u64::MAX), &mut w)?;
            w.flush()?;
        }
        if self.kind == Kind::Npy {
            let side = sidecar(self.out.given());
            let mut lines = Vec::new();
            for p in &self.paths {
                serde_json::to_writer(&mut lines, p)?;
                lines.push(b'\n');
            }
            OutputPath::resolve(&side)?
                .write(&lines)
                .with_context(|| format!("cannot write {}", side.display()))?;
        }
        self.out.commit(out)?;
        Ok(self.out.given().to_path_buf())
    }
}

/// `<FILE>.paths.jsonl`, beside an .npy output.
pub fn sidecar(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".paths.jsonl");
    PathBuf::from(s)
}

impl std::fmt::Debug for FeatureWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureWriter")
            .field("path", &self.out.given())
            .field("rows", &self.paths.len())
            .finish()
    }
}
