//! The model registry: every subcommand's one source of model facts.
//!
//! The data is `model-index.yaml` (embedded at compile time) in the
//! Papers-with-Code model-index layout, plus the `DPN` and `Normalizations`
//! keys that hold what the code needs and the seed lacks. A user file given
//! with `--model-index` / `DPN_MODEL_INDEX` adds models or replaces them by
//! name. Parsing goes through `raw` (serde shapes of the file) into
//! [`ModelSpec`] (typed, validated).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::arch::{Activation, ArchSpec, Plan};
use crate::sys::error;

/// The registry file shipped in the binary.
pub const EMBEDDED_INDEX: &str = include_str!("../../model-index.yaml");
const EMBEDDED_NAME: &str = "<embedded model-index.yaml>";

/// Where a model's entry came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Embedded,
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Embedded => f.write_str("embedded"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// Resampling filter for the eval resize, named as timm names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    Bicubic,
    Bilinear,
    Nearest,
    Lanczos,
    Box,
    Hamming,
}

impl fmt::Display for Interpolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok();
        f.write_str(s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preprocess {
    /// Name of the normalization preset, when the entry named one.
    pub normalization: Option<String>,
    pub mean: [f64; 3],
    pub std: [f64; 3],
    pub crop_pct: f64,
    pub interpolation: Interpolation,
    pub image_size: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightsSpec {
    pub url: String,
    pub file_name: String,
    /// Hex prefix of the file's SHA-256, from its name (torch.hub convention).
    pub sha256_prefix: Option<String>,
}

/// The seed's metadata figures, as published.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Metadata {
    pub flops: Option<u64>,
    pub parameters: Option<u64>,
    pub file_size: Option<u64>,
    pub lr: Option<f64>,
    pub batch_size: Option<u64>,
    pub layers: Option<u64>,
    pub training_resources: Option<String>,
    pub training_techniques: Vec<String>,
    pub training_data: Vec<String>,
    pub architecture: Vec<String>,
    pub tasks: Vec<String>,
    pub id: Option<String>,
    /// Crop pct as published in Metadata (the eval transform may override it).
    pub crop_pct: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultSpec {
    pub task: Option<String>,
    pub dataset: Option<String>,
    pub top1: Option<f64>,
    pub top5: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpec {
    pub name: String,
    pub collection: Option<String>,
    pub arch: ArchSpec,
    pub preprocess: Preprocess,
    pub weights: Option<WeightsSpec>,
    pub hub_id: Option<String>,
    pub metadata: Metadata,
    pub results: Vec<ResultSpec>,
    pub code: Option<String>,
    pub paper: Option<Paper>,
    pub source: Source,
}

impl ModelSpec {
    /// The ImageNet result, the one the seed reports.
    pub fn imagenet_result(&self) -> Option<&ResultSpec> {
        self.results
            .iter()
            .find(|r| r.dataset.as_deref() == Some("ImageNet"))
            .or_else(|| self.results.first())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paper {
    #[serde(rename = "Title")]
    pub title: Option<String>,
    #[serde(rename = "URL")]
    pub url: Option<String>,
}

/// All known models, in file order (embedded first, then user additions).
#[derive(Debug, Clone)]
pub struct Registry {
    models: Vec<ModelSpec>,
}

impl Registry {
    /// The embedded index, extended by `user_index` when given.
    pub fn load(user_index: Option<&Path>) -> Result<Registry> {
        let embedded = raw::parse(EMBEDDED_INDEX, EMBEDDED_NAME)?;
        let mut normalizations = embedded.normalizations.clone();
        let mut entries: Vec<(raw::Model, Source, String)> = embedded
            .models
            .into_iter()
            .map(|m| (m, Source::Embedded, EMBEDDED_NAME.to_string()))
            .collect();
        let mut papers: BTreeMap<String, Paper> = collection_papers(&embedded.collections);
        if let Some(path) = user_index {
            let text = std::fs::read_to_string(path).map_err(|e| {
                error::usage(format!("cannot read model index {}: {e}", path.display()))
            })?;
            let display = path.display().to_string();
            let user = raw::parse(&text, &display)?;
            normalizations.extend(user.normalizations);
            papers.extend(collection_papers(&user.collections));
            for m in user.models {
                let source = Source::File(path.to_path_buf());
                match entries.iter_mut().find(|(e, _, _)| e.name == m.name) {
                    Some(slot) => *slot = (m, source, display.clone()),
                    None => entries.push((m, source, display.clone())),
                }
            }
        }
        let models = entries
            .into_iter()
            .map(|(m, source, file)| {
                let name = m.name.clone();
                m.into_spec(&normalizations, &papers, source).map_err(|e| {
                    error::bad_input(format!("model index {file}: model `{name}`: {e}"))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Registry { models })
    }

    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// A model by name; an unknown name is a usage error listing the known
    /// names and the closest one.
    pub fn get(&self, name: &str) -> Result<&ModelSpec> {
        if let Some(m) = self.models.iter().find(|m| m.name == name) {
            return Ok(m);
        }
        let names = self.names();
        let closest = names
            .iter()
            .map(|n| (strsim::damerau_levenshtein(&name.to_lowercase(), n), *n))
            .min()
            .filter(|(d, n)| *d <= n.len().max(3) / 2)
            .map(|(_, n)| format!("did you mean `{n}`? "))
            .unwrap_or_default();
        Err(error::usage(format!(
            "unknown model `{name}`; {closest}known models: {}",
            names.join(", ")
        )))
    }
}

fn collection_papers(collections: &[raw::Collection]) -> BTreeMap<String, Paper> {
    collections
        .iter()
        .filter_map(|c| Some((c.name.clone(), c.paper.clone()?)))
        .collect()
}

/// Serde shapes of the file. Kept separate from the typed specs so that the
/// file's spelling (spaces in keys, percentages as strings) stays here.
mod raw {
    use std::collections::BTreeMap;

    use anyhow::{anyhow, bail, Result};
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Index {
        #[serde(rename = "Collections", default)]
        pub collections: Vec<Collection>,
        #[serde(rename = "Normalizations", default)]
        pub normalizations: BTreeMap<String, Normalization>,
        #[serde(rename = "Models", default)]
        pub models: Vec<Model>,
    }

    #[derive(Debug, Deserialize)]
    pub struct Collection {
        #[serde(rename = "Name")]
        pub name: String,
        #[serde(rename = "Paper")]
        pub paper: Option<Paper>,
    }

    #[derive(Debug, Clone, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Normalization {
        #[serde(rename = "Mean")]
        pub mean: [f64; 3],
        #[serde(rename = "Std")]
        pub std: [f64; 3],
    }

    /// A number that the seed sometimes writes as a string ('0.875', '224', '80.16%').
    #[derive(Debug, Clone, Deserialize)]
    #[serde(untagged)]
    pub enum Num {
        Int(u64),
        Float(f64),
        Text(String),
    }

    impl Num {
        pub fn as_f64(&self, what: &str) -> Result<f64> {
            match self {
                Num::Int(i) => Ok(*i as f64),
                Num::Float(f) => Ok(*f),
                Num::Text(s) => s
                    .trim()
                    .trim_end_matches('%')
                    .trim()
                    .parse()
                    .map_err(|_| anyhow!("{what}: `{s}` is not a number")),
            }
        }

        pub fn as_u64(&self, what: &str) -> Result<u64> {
            let f = self.as_f64(what)?;
            if f < 0.0 || f.fract() != 0.0 || f > u64::MAX as f64 {
                bail!("{what}: `{f}` is not a whole non-negative number");
            }
            Ok(f as u64)
        }
    }

    #[derive(Debug, Deserialize)]
    pub struct Model {
        #[serde(rename = "Name")]
        pub name: String,
        #[serde(rename = "In Collection")]
        pub in_collection: Option<String>,
        #[serde(rename = "Metadata", default)]
        pub metadata: RawMetadata,
        #[serde(rename = "Code")]
        pub code: Option<String>,
        #[serde(rename = "Weights")]
        pub weights: Option<String>,
        #[serde(rename = "Results", default)]
        pub results: Vec<RawResult>,
        #[serde(rename = "DPN")]
        pub dpn: Option<Dpn>,
    }

    #[derive(Debug, Default, Deserialize)]
    pub struct RawMetadata {
        #[serde(rename = "FLOPs")]
        pub flops: Option<Num>,
        #[serde(rename = "Parameters")]
        pub parameters: Option<Num>,
        #[serde(rename = "File Size")]
        pub file_size: Option<Num>,
        #[serde(rename = "Architecture", default)]
        pub architecture: Vec<String>,
        #[serde(rename = "Tasks", default)]
        pub tasks: Vec<String>,
        #[serde(rename = "Training Techniques", default)]
        pub training_techniques: Vec<String>,
        #[serde(rename = "Training Data", default)]
        pub training_data: Vec<String>,
        #[serde(rename = "Training Resources")]
        pub training_resources: Option<String>,
        #[serde(rename = "ID")]
        pub id: Option<String>,
        #[serde(rename = "LR")]
        pub lr: Option<Num>,
        #[serde(rename = "Layers")]
        pub layers: Option<Num>,
        #[serde(rename = "Crop Pct")]
        pub crop_pct: Option<Num>,
        #[serde(rename = "Batch Size")]
        pub batch_size: Option<Num>,
        #[serde(rename = "Image Size")]
        pub image_size: Option<Num>,
        #[serde(rename = "Interpolation")]
        pub interpolation: Option<Interpolation>,
    }

    #[derive(Debug, Deserialize)]
    pub struct RawResult {
        #[serde(rename = "Task")]
        pub task: Option<String>,
        #[serde(rename = "Dataset")]
        pub dataset: Option<String>,
        #[serde(rename = "Metrics", default)]
        pub metrics: BTreeMap<String, Num>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Dpn {
        #[serde(rename = "Architecture")]
        pub architecture: Arch,
        /// A preset name from `Normalizations`, or explicit Mean/Std.
        #[serde(rename = "Normalization")]
        pub normalization: NormRef,
        #[serde(rename = "Crop Pct")]
        pub crop_pct: Option<Num>,
        #[serde(rename = "Image Size")]
        pub image_size: Option<Num>,
        #[serde(rename = "Interpolation")]
        pub interpolation: Option<Interpolation>,
        #[serde(rename = "Hub Id")]
        pub hub_id: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(untagged)]
    pub enum NormRef {
        Named(String),
        Explicit(Normalization),
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct Arch {
        #[serde(rename = "Small")]
        pub small: bool,
        #[serde(rename = "Init Features")]
        pub init_features: usize,
        #[serde(rename = "K R")]
        pub k_r: usize,
        #[serde(rename = "Groups")]
        pub groups: usize,
        #[serde(rename = "B")]
        pub b: bool,
        #[serde(rename = "K Sec")]
        pub k_sec: [usize; 4],
        #[serde(rename = "Inc Sec")]
        pub inc_sec: [usize; 4],
        #[serde(rename = "Activation")]
        pub activation: Activation,
        #[serde(rename = "Num Classes", default = "default_num_classes")]
        pub num_classes: usize,
        #[serde(rename = "In Chans", default = "default_in_chans")]
        pub in_chans: usize,
    }

    fn default_num_classes() -> usize {
        1000
    }

    fn default_in_chans() -> usize {
        3
    }

    pub fn parse(text: &str, file: &str) -> Result<Index> {
        serde_yaml::from_str(text)
            .map_err(|e| crate::sys::error::bad_input(format!("model index {file}: {e}")))
    }

    impl Model {
        pub fn into_spec(
            self,
            normalizations: &BTreeMap<String, Normalization>,
            papers: &BTreeMap<String, Paper>,
            source: Source,
        ) -> Result<ModelSpec> {
            if self.name.trim().is_empty() {
                bail!("`Name` is empty");
            }
            let dpn = self.dpn.ok_or_else(|| {
                anyhow!("missing required field `DPN` (architecture and normalization)")
            })?;
            let arch = dpn.architecture.validate()?;
            let md = &self.metadata;
            let (normalization, norm) = match dpn.normalization {
                NormRef::Named(n) => {
                    let found = normalizations.get(&n).ok_or_else(|| {
                        let known: Vec<&str> = normalizations.keys().map(|k| k.as_str()).collect();
                        anyhow!(
                            "DPN.Normalization `{n}` is not defined; known: {}",
                            known.join(", ")
                        )
                    })?;
                    (Some(n), found.clone())
                }
                NormRef::Explicit(n) => (None, n),
            };
            if norm.std.iter().any(|s| !(*s > 0.0 && s.is_finite())) {
                bail!("DPN.Normalization: every Std must be a positive number");
            }
            let crop_pct = dpn
                .crop_pct
                .as_ref()
                .or(md.crop_pct.as_ref())
                .ok_or_else(|| anyhow!("missing required field `Crop Pct` (in Metadata or DPN)"))?
                .as_f64("Crop Pct")?;
            if !(crop_pct > 0.0 && crop_pct <= 1.0) {
                bail!("Crop Pct must be in (0, 1], got {crop_pct}");
            }
            let image_size = dpn
                .image_size
                .as_ref()
                .or(md.image_size.as_ref())
                .ok_or_else(|| anyhow!("missing required field `Image Size` (in Metadata or DPN)"))?
                .as_u64("Image Size")? as usize;
            let max = crate::arch::limits::MAX_IMAGE_SIZE;
            if !(crate::arch::cost::MIN_IMAGE_SIZE..=max).contains(&image_size) {
                bail!("Image Size must be between 32 and {max}, got {image_size}");
            }
            let interpolation = dpn.interpolation.or(md.interpolation).ok_or_else(|| {
                anyhow!("missing required field `Interpolation` (in Metadata or DPN)")
            })?;
            let opt_u64 =
                |n: &Option<Num>, what: &str| n.as_ref().map(|n| n.as_u64(what)).transpose();
            let opt_f64 =
                |n: &Option<Num>, what: &str| n.as_ref().map(|n| n.as_f64(what)).transpose();
            let metadata = Metadata {
                flops: opt_u64(&md.flops, "FLOPs")?,
                parameters: opt_u64(&md.parameters, "Parameters")?,
                file_size: opt_u64(&md.file_size, "File Size")?,
                lr: opt_f64(&md.lr, "LR")?,
                batch_size: opt_u64(&md.batch_size, "Batch Size")?,
                layers: opt_u64(&md.layers, "Layers")?,
                training_resources: md.training_resources.clone(),
                training_techniques: md.training_techniques.clone(),
                training_data: md.training_data.clone(),
                architecture: md.architecture.clone(),
                tasks: md.tasks.clone(),
                id: md.id.clone(),
                crop_pct: opt_f64(&md.crop_pct, "Crop Pct")?,
            };
            let results = self
                .results
                .iter()
                .map(|r| {
                    let metric = |k: &str| r.metrics.get(k).map(|n| n.as_f64(k)).transpose();
                    Ok(ResultSpec {
                        task: r.task.clone(),
                        dataset: r.dataset.clone(),
                        top1: metric("Top 1 Accuracy")?,
                        top5: metric("Top 5 Accuracy")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let weights = self.weights.map(|url| weights_spec(&url)).transpose()?;
            let paper = self
                .in_collection
                .as_ref()
                .and_then(|c| papers.get(c).cloned());
            Ok(ModelSpec {
                name: self.name,
                collection: self.in_collection,
                arch,
                preprocess: Preprocess {
                    normalization,
                    mean: norm.mean,
                    std: norm.std,
                    crop_pct,
                    interpolation,
                    image_size,
                },
                weights,
                hub_id: dpn.hub_id,
                metadata,
                results,
                code: self.code,
                paper,
                source,
            })
        }
    }

    impl Arch {
        fn validate(self) -> Result<ArchSpec> {
            let positive = |v: usize, what: &str| {
                if v == 0 {
                    bail!("DPN.Architecture.{what} must be positive");
                }
                Ok(())
            };
            positive(self.init_features, "Init Features")?;
            positive(self.k_r, "K R")?;
            positive(self.groups, "Groups")?;
            positive(self.num_classes, "Num Classes")?;
            positive(self.in_chans, "In Chans")?;
            for (i, &k) in self.k_sec.iter().enumerate() {
                positive(k, &format!("K Sec[{i}]"))?;
            }
            for (i, &inc) in self.inc_sec.iter().enumerate() {
                positive(inc, &format!("Inc Sec[{i}]"))?;
            }
            let spec = ArchSpec {
                small: self.small,
                init_features: self.init_features,
                k_r: self.k_r,
                groups: self.groups,
                b: self.b,
                k_sec: self.k_sec,
                inc_sec: self.inc_sec,
                activation: self.activation,
                num_classes: self.num_classes,
                in_chans: self.in_chans,
            };
            // Before the plan: a plan of a million blocks is itself the
            // allocation the limits are there to prevent.
            crate::arch::limits::check(&spec).map_err(|e| anyhow!("DPN.Architecture: {e}"))?;
            for stage in Plan::new(&spec).stages {
                if stage.r == 0 || stage.r % spec.groups != 0 {
                    bail!(
                        "DPN.Architecture: stage conv{} has {} bottleneck channels (K R x width / base), \
                         which Groups ({}) must divide",
                        stage.index,
                        stage.r,
                        spec.groups
                    );
                }
            }
            Ok(spec)
        }
    }

    /// The digest prefix is the hex after the file name's last `-`
    /// (torch.hub's `check_hash` convention).
    fn weights_spec(url: &str) -> Result<WeightsSpec> {
        let file_name = url
            .rsplit('/')
            .next()
            .filter(|f| !f.is_empty())
            .ok_or_else(|| anyhow!("Weights URL `{url}` does not end in a file name"))?
            .to_string();
        let stem = file_name.split('.').next().unwrap_or(&file_name);
        let sha256_prefix = stem
            .rsplit_once('-')
            .map(|(_, h)| h)
            .filter(|h| h.len() >= 6 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(|h| h.to_ascii_lowercase());
        Ok(WeightsSpec {
            url: url.to_string(),
            file_name,
            sha256_prefix,
        })
    }
}
