//! A parallel, bounded, in-order batch loader.
//!
//! A background thread cuts the items into batches and, for each, decodes
//! and transforms the images on its own rayon pool (`workers` threads), then
//! sends the batch through a bounded channel: at most `prefetch` finished
//! batches wait for the consumer, so memory stays bounded however many images
//! there are, and the consumer (running the model) overlaps with the
//! preparation of the next batches. Batches come out in input order, and the
//! images inside a batch keep their input order. An image that cannot be read
//! is left out of its batch and reported in the batch's `failures`; the rest
//! go on. A batch whose buffer cannot be allocated ends the loading with an
//! out-of-memory error (exit 8), never an abort. Dropping the loader stops
//! the thread after the batch it is on.

use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Result;
use rayon::prelude::*;
use tch::Tensor;

use super::decode::decode_file;
use super::transform::ImageTransform;
use crate::sys::error;
use crate::sys::oom::try_zeroed;

/// One input: an image file and, for training or evaluation, its class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub path: PathBuf,
    pub label: Option<i64>,
}

impl Item {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Item {
            path: path.into(),
            label: None,
        }
    }

    pub fn labeled(path: impl Into<PathBuf>, label: i64) -> Self {
        Item {
            path: path.into(),
            label: Some(label),
        }
    }
}

/// An image that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Position of the item in the loader's input.
    pub index: usize,
    pub path: PathBuf,
    /// One line, naming the file (an `error::bad_input` message for bad images).
    pub error: String,
}

/// Consecutive items, transformed.
#[derive(Debug)]
pub struct Batch {
    /// 0, 1, 2, ... in the order batches come out.
    pub number: usize,
    /// `[n, 3, height, width]` f32, `n` = the items that loaded (may be 0).
    pub images: Tensor,
    /// For each image in `images`: its position in the input, path and label.
    pub indices: Vec<usize>,
    pub paths: Vec<PathBuf>,
    pub labels: Vec<Option<i64>>,
    /// The items of this batch that failed, in input order.
    pub failures: Vec<Failure>,
}

impl Batch {
    /// Number of images in the batch.
    pub fn len(&self) -> usize {
        self.indices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }

    /// The labels as a `[n]` int64 tensor; `None` when some image has no label.
    pub fn label_tensor(&self) -> Option<Tensor> {
        let l: Option<Vec<i64>> = self.labels.iter().copied().collect();
        l.map(|l| Tensor::from_slice(&l))
    }
}

/// Most decoding threads per core: decoding is CPU-bound, so more threads
/// than this only cost memory (each has its own stack and buffers) and
/// start-up time (docs/conventions.md, "Limits on sizes").
pub const MAX_WORKERS_PER_CORE: usize = 4;

/// The most decoding threads a loader starts on this machine:
/// [`MAX_WORKERS_PER_CORE`] times its cores. More are asked for in vain.
pub fn max_workers() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    MAX_WORKERS_PER_CORE * cores
}

/// How the loader runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderOptions {
    pub batch_size: usize,
    /// Decoding threads (0: as many as the machine has cores; at most
    /// [`max_workers`]).
    pub workers: usize,
    /// Finished batches that may wait for the consumer (at least 1).
    pub prefetch: usize,
}

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            batch_size: 32,
            workers: 0,
            prefetch: 2,
        }
    }
}

/// A batch as the loading thread hands it over: the pixels still in a Vec.
///
/// The tensor is made on the consumer's thread ([`BatchLoader::next`]), not
/// here: creating it zero-fills through ATen's OpenMP `parallel_for`, and an
/// OpenMP team started from a second thread makes libgomp count more busy
/// threads than cores. It then stops spinning between parallel regions, and
/// every region of the model's forward and backward pays for waking sleeping
/// threads: dpn68 training on 2 cores ran 17 % slower that way.
struct Pending {
    batch: Batch,
    pixels: Vec<f32>,
    shape: [i64; 4],
}

/// An iterator over [`Batch`]es; see the module documentation.
pub struct BatchLoader {
    rx: Option<Receiver<Result<Pending>>>,
    batch_size: usize,
    thread: Option<JoinHandle<()>>,
    batches: usize,
}

/// Refuses a batch whose pixel buffers (the one being filled, the queued
/// ones and the tensor made from one) cannot fit in the memory available,
/// before any work is done; an allocation that fails later is still an
/// out-of-memory error (`sys::oom::try_zeroed`), after the batches before it.
fn check_memory(
    items: &[Item],
    batch_size: usize,
    transform: &dyn ImageTransform,
    prefetch: usize,
) -> Result<()> {
    let (h, w) = transform.output_size();
    let images = batch_size.min(items.len()) as u64;
    let per_batch = images
        .saturating_mul(3 * h as u64 * w as u64)
        .saturating_mul(std::mem::size_of::<f32>() as u64);
    let needed = per_batch.saturating_mul(prefetch.max(1) as u64 + 2);
    match crate::sys::memory::available_bytes() {
        Some(available) if needed > available => Err(crate::sys::error::out_of_memory(format!(
            "a batch of {images} images at {h}x{w} needs {:.1} GB for its pixels alone, more than \
             the {:.1} GB of memory available; try a smaller --batch-size",
            needed as f64 / 1e9,
            available as f64 / 1e9
        ))),
        _ => Ok(()),
    }
}

impl BatchLoader {
    /// Starts loading `items` with `transform`. Fails only if the thread pool
    /// cannot be created.
    pub fn new(
        items: Vec<Item>,
        transform: Arc<dyn ImageTransform>,
        options: LoaderOptions,
    ) -> Result<Self> {
        let batch_size = options.batch_size.max(1);
        let batches = items.len().div_ceil(batch_size);
        check_memory(&items, batch_size, transform.as_ref(), options.prefetch)?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.workers.min(max_workers()))
            .thread_name(|i| format!("dpn-data-{i}"))
            .build()?;
        let (tx, rx) = sync_channel::<Result<Pending>>(options.prefetch.max(1));
        let thread = std::thread::Builder::new()
            .name("dpn-data-loader".into())
            .spawn(move || {
                let (h, w) = transform.output_size();
                let per_image = 3 * h * w;
                for (number, chunk) in items.chunks(batch_size).enumerate() {
                    let first = number * batch_size;
                    // Each image is transformed straight into its slot of the
                    // batch; slots of images that failed are closed up after.
                    let mut data = match try_zeroed::<f32>(
                        chunk.len() * per_image,
                        &format!("images at batch size {batch_size} ({w}x{h} px)"),
                    ) {
                        Ok(d) => d,
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    let results: Vec<Result<(), String>> = pool.install(|| {
                        data.par_chunks_mut(per_image)
                            .zip(chunk.par_iter())
                            .enumerate()
                            .map(|(i, (out, item))| {
                                let img = decode_file(&item.path).map_err(|e| format!("{e:#}"))?;
                                transform.apply_into(&img, first + i, out);
                                Ok(())
                            })
                            .collect()
                    });
                    let ok = results.iter().filter(|r| r.is_ok()).count();
                    let mut batch = Batch {
                        number,
                        images: Tensor::new(),
                        indices: Vec::with_capacity(ok),
                        paths: Vec::with_capacity(ok),
                        labels: Vec::with_capacity(ok),
                        failures: Vec::new(),
                    };
                    for (i, (item, r)) in chunk.iter().zip(results).enumerate() {
                        match r {
                            Ok(()) => {
                                let slot = batch.indices.len();
                                if slot != i {
                                    data.copy_within(
                                        i * per_image..(i + 1) * per_image,
                                        slot * per_image,
                                    );
                                }
                                batch.indices.push(first + i);
                                batch.paths.push(item.path.clone());
                                batch.labels.push(item.label);
                            }
                            Err(error) => batch.failures.push(Failure {
                                index: first + i,
                                path: item.path.clone(),
                                error,
                            }),
                        }
                    }
                    data.truncate(ok * per_image);
                    let pending = Pending {
                        batch,
                        pixels: data,
                        shape: [ok as i64, 3, h as i64, w as i64],
                    };
                    if tx.send(Ok(pending)).is_err() {
                        return; // the consumer is gone
                    }
                }
            })?;
        Ok(BatchLoader {
            rx: Some(rx),
            batch_size,
            thread: Some(thread),
            batches,
        })
    }

    /// How many batches the loader yields in all.
    pub fn num_batches(&self) -> usize {
        self.batches
    }
}

impl Iterator for BatchLoader {
    /// A batch, or the out-of-memory error (exit 8) that ends the loading.
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        let batch_size = self.batch_size;
        let batch = self.rx.as_ref()?.recv().ok().map(|r| {
            let p = r?;
            let images = Tensor::f_from_slice(&p.pixels)
                .and_then(|t| t.f_view(p.shape))
                .map_err(|e| {
                    let e = anyhow::Error::from(e);
                    if !error::is_out_of_memory(&e) {
                        return e;
                    }
                    error::out_of_memory(format!(
                        "out of memory on cpu: could not allocate {:.1} MiB for images at batch \
                         size {} ({}x{} px)",
                        (p.pixels.len() * 4) as f64 / (1 << 20) as f64,
                        batch_size,
                        p.shape[3],
                        p.shape[2]
                    ))
                })?;
            Ok(Batch { images, ..p.batch })
        });
        if batch.is_none() {
            self.rx = None;
            if let Some(t) = self.thread.take() {
                if let Err(panic) = t.join() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
        batch
    }
}

impl Drop for BatchLoader {
    fn drop(&mut self) {
        // Closing the channel makes the thread's next send fail.
        self.rx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
