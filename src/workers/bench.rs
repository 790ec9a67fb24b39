//! `folio bench`: the whole pipeline (processing, encoding, hashing, durable
//! storage) on raw pages as a scanner delivers them, with a per-stage breakdown
//! and the production scanner speeds this machine keeps up with. With
//! `--oversize`, the pages are 17300x17300-pixel PNG files decoded on the
//! pool, as `folio import` reads them, and the figure that matters is the peak
//! memory the memory budget holds them to.

use super::ocr::{OcrOptions, OcrWorkError};
use super::pipeline::{self, Payload};
use super::process::{STAGE_NANOS, STAGES, SideMeta};
use crate::batch::BatchSource;
use crate::capture::ColorMode;
use crate::config::Config;
use crate::imaging::draw::TextPainter;
use crate::pixels::{PixelKind, Raster};
use crate::store::{Actor, NewBatch, Store, StoreError};
use crate::synth::{self, StackSpec};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot make the oversize test page: {0}")]
    Page(String),
    #[error(transparent)]
    Ocr(#[from] OcrWorkError),
}

/// Width and height of `--oversize` pages, pixels: six such pages pushed a
/// two-core station past 2 GB before sides were admitted by a memory budget.
pub const OVERSIZE_SIDE: u32 = 17_300;

/// Sheet-fed production scanners (duplex sheets a minute) a bureau runs.
const SCANNERS: [(&str, f64); 5] = [
    ("departmental, 60 sheets/min duplex", 60.0),
    ("production, 100 sheets/min duplex", 100.0),
    ("production, 140 sheets/min duplex", 140.0),
    ("high-volume, 200 sheets/min duplex", 200.0),
    ("fastest production, 210 sheets/min duplex", 210.0),
];

#[derive(Debug, Clone, Serialize)]
pub struct StageTime {
    pub stage: String,
    /// CPU milliseconds a side (summed over threads).
    pub ms_per_side: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub pages: usize,
    pub dpi: u32,
    pub mode: String,
    /// What a page is: "A4", or the pixel size of oversize pages.
    pub page: String,
    pub threads: usize,
    pub memory_budget_mib: u64,
    pub seconds: f64,
    pub sides_per_second: f64,
    pub sides_per_minute: f64,
    pub stages: Vec<StageTime>,
    pub mean_stored_kib: f64,
    /// Peak resident memory while the pages were processed (page generation
    /// before that is not counted).
    pub peak_rss_mib: f64,
    pub keeps_up_with: Vec<String>,
    pub too_slow_for: Vec<String>,
    /// With `--ocr`: what the OCR threads did while capture ran.
    pub ocr: Option<OcrBench>,
}

/// OCR running beside capture (`folio bench --ocr`): the batch asks for
/// text, and `[ocr] workers` threads read its pages at idle priority as they
/// are stored; they stop when capture ends (what is left is estimated).
#[derive(Debug, Clone, Serialize)]
pub struct OcrBench {
    pub workers: usize,
    /// Pages read while capture ran.
    pub pages_read: u32,
    /// Mean wall-clock seconds a page took on its worker.
    pub seconds_per_page: f64,
    /// Pages still to read when capture ended.
    pub backlog: u32,
    /// Seconds the backlog takes once capture stops, at that rate.
    pub catch_up_seconds: f64,
}

/// Distinct raw pages to cycle through (a scanner's typical mix).
fn sample_pages(dpi: u32, mode: ColorMode) -> Vec<Raster> {
    let spec = StackSpec {
        seed: 42,
        records: 2,
        dpi,
        duplex: true,
        ..StackSpec::default()
    };
    let (sides, _) = synth::plan(&spec);
    let mut painter = TextPainter::new();
    sides
        .iter()
        .take(16)
        .enumerate()
        .map(|(i, k)| {
            let gray = synth::render(k, &spec, synth::side_seed(&spec, i as u32), &mut painter);
            match mode {
                ColorMode::Gray => gray,
                ColorMode::Bw => crate::imaging::encode::threshold(&gray, 160),
                ColorMode::Color => Raster {
                    data: gray
                        .data
                        .iter()
                        .flat_map(|&v| [v, v.saturating_sub(6), v.saturating_sub(18)])
                        .collect(),
                    kind: PixelKind::Color,
                    ..gray
                },
            }
        })
        .collect()
}

/// Starts the peak-resident-memory count afresh (Linux: writing 5 to
/// clear_refs resets VmHWM), so that making the test pages is not counted.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// Runs the benchmark with a throw-away store under `data_dir`.
pub fn bench(
    cfg: &Config,
    data_dir: &std::path::Path,
    pages: usize,
    dpi: u32,
    mode: ColorMode,
    ocr: bool,
) -> Result<BenchReport, BenchError> {
    let samples = sample_pages(dpi, mode);
    let feed = move |side: u32| {
        let mut raster = samples[side as usize % samples.len()].clone();
        // Every side differs, as real ones do (the cache would store
        // identical images once).
        raster.data[..8].copy_from_slice(&(side as u64).to_le_bytes());
        Payload::Raster(raster)
    };
    let what = Run {
        pages,
        dpi,
        mode: format!("{mode:?}").to_lowercase(),
        page: "A4".into(),
        ocr,
    };
    measure(cfg, data_dir, what, feed)
}

/// Runs the benchmark on oversize grey pages ([`OVERSIZE_SIDE`] pixels a
/// side), handed over as PNG files are by `folio import`.
pub fn bench_oversize(
    cfg: &Config,
    data_dir: &std::path::Path,
    pages: usize,
    dpi: u32,
) -> Result<BenchReport, BenchError> {
    let png = oversize_png(OVERSIZE_SIDE, dpi)?;
    let feed = move |_| Payload::Bytes {
        bytes: png.clone(),
        dpi: Some(dpi),
    };
    let what = Run {
        pages,
        dpi,
        mode: "gray".into(),
        page: format!("{OVERSIZE_SIDE}x{OVERSIZE_SIDE} px PNG"),
        ocr: false,
    };
    measure(cfg, data_dir, what, feed)
}

/// A grey page `side` pixels square with rows of dark bars (lines of text, as
/// far as the checks are concerned), as PNG.
fn oversize_png(side: u32, dpi: u32) -> Result<Vec<u8>, BenchError> {
    let mut page = Raster::filled(side, side, dpi, 240);
    let w = side as usize;
    let mut rng = fastrand::Rng::with_seed(7);
    for top in (w / 20..w - w / 20).step_by(w / 60 + 1) {
        let mut x = w / 15;
        while x < w - w / 15 {
            let word = rng.usize(w / 100..w / 25);
            for row in page.data.chunks_exact_mut(w).skip(top).take(w / 150 + 1) {
                row[x..(x + word).min(w)].fill(30);
            }
            x += word + w / 120;
        }
    }
    let img = image::GrayImage::from_raw(side, side, page.data)
        .ok_or_else(|| BenchError::Page("the page buffer has the wrong size".into()))?;
    let mut png = std::io::Cursor::new(Vec::new());
    img.write_to(&mut png, image::ImageFormat::Png)
        .map_err(|e| BenchError::Page(e.to_string()))?;
    Ok(png.into_inner())
}

/// What is measured.
struct Run {
    pages: usize,
    dpi: u32,
    mode: String,
    page: String,
    /// Read the batch's text beside capture.
    ocr: bool,
}

/// Feeds `what.pages` sides made by `feed` through the pipeline and reports.
fn measure(
    cfg: &Config,
    data_dir: &std::path::Path,
    what: Run,
    feed: impl Fn(u32) -> Payload + Send + 'static,
) -> Result<BenchReport, BenchError> {
    let mut store = Store::open(data_dir)?;
    let actor = Actor {
        station: "bench".into(),
        operator: "bench".into(),
        role: None,
    };
    let batch_id = uuid::Uuid::now_v7().to_string();
    let new = NewBatch {
        id: batch_id.clone(),
        label: "bench".into(),
        source: BatchSource::Import,
        specialty: None,
        duplex: true,
        dpi: Some(what.dpi),
        expected_sheets: None,
    };
    store.create_batch(&new, &actor)?;
    let text = what
        .ocr
        .then(|| OcrThreads::start(cfg, data_dir, &mut store, &batch_id, &actor))
        .transpose()?;
    let before: Vec<u64> = STAGE_NANOS
        .iter()
        .map(|a| a.load(Ordering::Relaxed))
        .collect();
    reset_peak_rss();
    let start = Instant::now();
    let id = batch_id.clone();
    let mut bytes = 0u64;
    let pages = what.pages;
    let run = pipeline::run(
        &mut store,
        cfg,
        ("folio-bench-feed", None),
        move |feeder| {
            for side in 0..pages as u32 {
                let meta = SideMeta::at(&id, side, true, format!("bench#{side}"));
                if feeder.send(meta, feed(side)).is_err() {
                    return;
                }
            }
        },
        |row, _| bytes += row.image.as_ref().map(|i| i.bytes).unwrap_or(0),
    );
    run.stored?;
    let seconds = start.elapsed().as_secs_f64();
    let ocr = match text {
        Some(t) => Some(t.stop(&store)?),
        None => None,
    };
    let per_second = pages as f64 / seconds;
    let stages = STAGES
        .iter()
        .zip(STAGE_NANOS.iter().zip(before))
        .map(|(name, (now, then))| StageTime {
            stage: name.to_string(),
            ms_per_side: (now.load(Ordering::Relaxed) - then) as f64 / 1e6 / pages as f64,
        })
        .collect();
    let (ok, slow): (Vec<_>, Vec<_>) = SCANNERS
        .iter()
        .partition(|(_, sheets)| sheets * 2.0 <= per_second * 60.0);
    Ok(BenchReport {
        pages,
        dpi: what.dpi,
        mode: what.mode,
        page: what.page,
        threads: cfg.thread_count(),
        memory_budget_mib: cfg.memory_budget_mib,
        seconds,
        sides_per_second: per_second,
        sides_per_minute: per_second * 60.0,
        stages,
        mean_stored_kib: bytes as f64 / pages as f64 / 1024.0,
        peak_rss_mib: peak_rss_mib(),
        keeps_up_with: ok.iter().map(|(n, _)| n.to_string()).collect(),
        too_slow_for: slow.iter().map(|(n, _)| n.to_string()).collect(),
        ocr,
    })
}

/// The OCR threads of `folio bench --ocr`, as the station runs them.
struct OcrThreads {
    stop: Arc<AtomicBool>,
    read: Arc<Mutex<(u32, f64)>>,
    threads: Vec<std::thread::JoinHandle<Result<u32, OcrWorkError>>>,
}

impl OcrThreads {
    /// Asks for `batch`'s text and starts the threads.
    fn start(
        cfg: &Config,
        data_dir: &std::path::Path,
        store: &mut Store,
        batch: &str,
        actor: &Actor,
    ) -> Result<OcrThreads, BenchError> {
        store.request_text(batch, &cfg.ocr.language, actor, "bench")?;
        // Loaded here, so a missing Tesseract is said before capture starts.
        crate::imaging::ocr::Engine::open(&cfg.ocr.language, cfg.ocr.tessdata.as_deref())
            .map_err(OcrWorkError::from)?;
        let stop = Arc::new(AtomicBool::new(false));
        let read = Arc::new(Mutex::new((0u32, 0f64)));
        let mut threads = Vec::new();
        for n in 0..cfg.ocr.workers.clamp(1, 8) {
            let mut store = Store::open(data_dir)?;
            let (cfg, read) = (cfg.clone(), read.clone());
            let opts = OcrOptions {
                watch: true,
                stop: stop.clone(),
            };
            let t = std::thread::Builder::new()
                .name(format!("folio-ocr-{n}"))
                .spawn(move || {
                    super::ocr::run(&mut store, &cfg, &opts, &mut |p| {
                        if let Ok(mut r) = read.lock() {
                            r.0 += 1;
                            r.1 += p.took.as_secs_f64();
                        }
                    })
                })
                .map_err(|e| StoreError::io(data_dir, e))?;
            threads.push(t);
        }
        Ok(OcrThreads {
            stop,
            read,
            threads,
        })
    }

    /// Stops the threads after their pages and says what they did.
    fn stop(self, store: &Store) -> Result<OcrBench, BenchError> {
        self.stop.store(true, Ordering::Relaxed);
        let workers = self.threads.len();
        for t in self.threads {
            if let Ok(Err(e)) = t.join() {
                return Err(e.into());
            }
        }
        let (pages_read, secs) = self.read.lock().map(|r| *r).unwrap_or_default();
        let seconds_per_page = if pages_read > 0 {
            secs / pages_read as f64
        } else {
            0.0
        };
        let backlog = store.text_backlog()?;
        Ok(OcrBench {
            workers,
            pages_read,
            seconds_per_page,
            backlog,
            catch_up_seconds: backlog as f64 * seconds_per_page / workers.max(1) as f64,
        })
    }
}
