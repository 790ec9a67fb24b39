//! `folio import`: scanned image files, in order, into one batch.
//!
//! Threads: `folio-reader` walks the files in feed order (decoding multi-page
//! TIFFs itself, since their pages must be read in sequence) and hands sides to
//! the `folio-imaging-N` pool through a bounded queue; the calling thread is the
//! store writer and commits sides in feed order. A fixed number of tokens limits
//! the sides in flight, so memory stays bounded whatever the batch size.

use super::process::{SideMeta, process_side, unreadable_side};
use crate::batch::separate::{SeparationParams, sheet_and_face};
use crate::batch::{BatchSource, BatchState, separate};
use crate::config::{Config, ConfigError};
use crate::imaging::decode::{FileFormat, TiffPages, decode_single, sniff};
use crate::imaging::{ImagingError, Raster};
use crate::store::{Actor, ImageStore, NewBatch, PageRow, Store, StoreError};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no image files found in {0}")]
    NoFiles(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("batch {batch} is already {state}; only a batch still scanning can be resumed")]
    NotResumable { batch: String, state: String },
    #[error(
        "side {side} of batch {batch} came from {stored}, but the files given now put {given} there: give the same files in the same order to resume"
    )]
    ResumeMismatch {
        batch: String,
        side: u32,
        stored: String,
        given: String,
    },
    #[error(
        "import of batch {batch} stopped: {cause}. The {kept} sides stored so far are kept; run `folio import --resume {batch} ...` with the same files to finish it"
    )]
    Interrupted {
        batch: String,
        kept: u32,
        cause: StoreError,
    },
}

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub paths: Vec<PathBuf>,
    pub label: Option<String>,
    pub duplex: bool,
    /// Resolution to assume (overrides what files say).
    pub dpi: Option<u32>,
    pub specialty: Option<String>,
    /// Continue this batch instead of starting one.
    pub resume: Option<String>,
}

/// A side that could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreadable {
    pub side: u32,
    pub origin: String,
    pub message: String,
}

/// The outcome of an import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub batch_id: String,
    pub sides: u32,
    pub stored_now: u32,
    pub already_stored: u32,
    pub unreadable: Vec<Unreadable>,
    pub records: u32,
    pub documents: u32,
    pub removed: u32,
    pub flags: u32,
    pub state: String,
}

/// Lists the input files in feed order: files as given, directories in name order.
pub fn list_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| ImportError::Input {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>())
                .map_err(|source| ImportError::Input {
                    path: p.clone(),
                    source,
                })?;
            files.retain(|f| f.is_file() && !is_hidden(f));
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ImportError::NoFiles(names.join(", ")));
    }
    Ok(out)
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

enum Payload {
    Bytes(Vec<u8>),
    Raster(Raster),
    Failed(String),
}

struct Job {
    seq: u64,
    meta: SideMeta,
    dpi: Option<u32>,
    payload: Payload,
}

/// Resolution assumed when neither the file nor `--dpi` says.
pub const DEFAULT_DPI: u32 = 300;

/// Imports files into a new batch, or resumes one.
pub fn import(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    opts: &ImportOptions,
    mut on_side: impl FnMut(u32),
) -> Result<ImportReport, ImportError> {
    let files = list_inputs(&opts.paths)?;
    let (batch_id, duplex, specialty) = start_or_resume(store, actor, opts)?;
    let committed = store.committed_sides(&batch_id)?;
    let already = committed.len() as u32;
    let cancel = Arc::new(AtomicBool::new(false));
    let threads = cfg.thread_count();
    let in_flight = threads * 3 + 2;
    let (tok_tx, tok_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = tok_tx.send(());
    }
    let (job_tx, job_rx) = bounded::<Job>(threads);
    let (res_tx, res_rx) = bounded::<(u64, Result<PageRow, StoreError>)>(in_flight);
    let (err_tx, err_rx) = bounded::<ImportError>(1);
    let reader = {
        let ctx = ReaderCtx {
            files,
            committed,
            batch_id: batch_id.clone(),
            duplex,
            dpi: opts.dpi,
            tokens: tok_rx,
            jobs: job_tx,
            cancel: cancel.clone(),
            errors: err_tx,
        };
        spawn("folio-reader".into(), move || ctx.run())
    };
    let mut pool = Vec::new();
    for i in 0..threads {
        let (jobs, results, cfg, images, cancel) = (
            job_rx.clone(),
            res_tx.clone(),
            cfg.clone(),
            store.images().clone(),
            cancel.clone(),
        );
        pool.push(spawn(format!("folio-imaging-{i}"), move || {
            worker(jobs, results, cfg, images, cancel)
        }));
    }
    drop((job_rx, res_tx));
    let written = write_in_order(store, res_rx, &tok_tx, &cancel, &mut on_side);
    cancel.store(written.is_err(), Ordering::SeqCst);
    drop(tok_tx);
    for h in pool.into_iter().chain([reader]) {
        let _ = h.join();
    }
    let stored_now = match written {
        Ok(v) => v,
        Err(cause) => {
            let kept = store
                .committed_sides(&batch_id)
                .map(|c| c.len() as u32)
                .unwrap_or(already);
            let _ = store.set_batch_error(&batch_id, &cause.to_string(), actor);
            return Err(ImportError::Interrupted {
                batch: batch_id,
                kept,
                cause,
            });
        }
    };
    if let Ok(e) = err_rx.try_recv() {
        return Err(e);
    }
    finish(
        store,
        cfg,
        actor,
        &batch_id,
        specialty.as_deref(),
        already,
        stored_now,
    )
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> std::thread::JoinHandle<()> {
    match std::thread::Builder::new().name(name).spawn(f) {
        Ok(h) => h,
        // Without threads nothing can run; this is a machine out of resources.
        Err(e) => panic!("cannot start a thread: {e}"),
    }
}

fn start_or_resume(
    store: &mut Store,
    actor: &Actor,
    opts: &ImportOptions,
) -> Result<(String, bool, Option<String>), ImportError> {
    if let Some(id) = &opts.resume {
        let b = store.find_batch(id)?;
        if b.state != BatchState::Scanning.as_str() {
            return Err(ImportError::NotResumable {
                batch: b.id,
                state: b.state,
            });
        }
        store.audit(actor, "batch.resume", &b.id, "import resumed")?;
        return Ok((b.id, b.duplex, b.specialty));
    }
    let id = uuid::Uuid::now_v7().to_string();
    store.create_batch(
        &NewBatch {
            id: id.clone(),
            label: opts.label.clone().unwrap_or_default(),
            source: BatchSource::Import,
            specialty: opts.specialty.clone(),
            duplex: opts.duplex,
            dpi: opts.dpi,
            expected_sheets: None,
        },
        actor,
    )?;
    Ok((id, opts.duplex, opts.specialty.clone()))
}

/// Commits results in feed order (the order the reader sent them); returns
/// how many sides it stored.
fn write_in_order(
    store: &mut Store,
    results: Receiver<(u64, Result<PageRow, StoreError>)>,
    tokens: &Sender<()>,
    cancel: &AtomicBool,
    on_side: &mut impl FnMut(u32),
) -> Result<u32, StoreError> {
    let mut pending: BTreeMap<u64, PageRow> = BTreeMap::new();
    let (mut next, mut stored) = (0u64, 0u32);
    for (seq, result) in results.iter() {
        match result {
            Ok(row) => pending.insert(seq, row),
            Err(e) => {
                cancel.store(true, Ordering::SeqCst);
                return Err(e);
            }
        };
        while let Some(row) = pending.remove(&next) {
            store.insert_page(&row)?;
            next += 1;
            stored += 1;
            on_side(stored);
            let _ = tokens.send(());
        }
    }
    Ok(stored)
}

fn worker(
    jobs: Receiver<Job>,
    results: Sender<(u64, Result<PageRow, StoreError>)>,
    cfg: Config,
    images: ImageStore,
    cancel: Arc<AtomicBool>,
) {
    for job in jobs.iter() {
        if cancel.load(Ordering::SeqCst) {
            break;
        }
        let meta = &job.meta;
        let decoded = match job.payload {
            Payload::Raster(r) => Ok(r),
            Payload::Bytes(b) => {
                decode_single(&b, job.dpi.unwrap_or(DEFAULT_DPI), job.dpi.is_some())
                    .map_err(|e| e.to_string())
            }
            Payload::Failed(why) => Err(why),
        };
        let row = match decoded {
            Ok(raster) => process_side(meta, &raster, &cfg, &images),
            Err(why) => Ok(unreadable_side(meta, why)),
        };
        if results.send((job.seq, row)).is_err() {
            break;
        }
    }
}

struct ReaderCtx {
    files: Vec<PathBuf>,
    committed: HashMap<u32, String>,
    batch_id: String,
    duplex: bool,
    dpi: Option<u32>,
    tokens: Receiver<()>,
    jobs: Sender<Job>,
    cancel: Arc<AtomicBool>,
    errors: Sender<ImportError>,
}

impl ReaderCtx {
    fn run(self) {
        let mut side = 0u32;
        let mut seq = 0u64;
        for file in &self.files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let flow = match open_input(file) {
                Ok((FileFormat::Tiff, f)) => self.tiff(f, &name, &mut side, &mut seq),
                Ok((_, mut f)) => {
                    let origin = name.clone();
                    self.one(&origin, &mut side, &mut seq, || {
                        let mut bytes = Vec::new();
                        match f.read_to_end(&mut bytes) {
                            Ok(_) => Payload::Bytes(bytes),
                            Err(e) => Payload::Failed(format!("cannot read the file: {e}")),
                        }
                    })
                }
                Err(why) => self.one(&name, &mut side, &mut seq, || Payload::Failed(why)),
            };
            if flow.is_err() {
                return;
            }
        }
    }

    fn tiff(&self, f: std::fs::File, name: &str, side: &mut u32, seq: &mut u64) -> Result<(), ()> {
        let mut pages = match TiffPages::new(
            std::io::BufReader::new(f),
            self.dpi.unwrap_or(DEFAULT_DPI),
            self.dpi.is_some(),
        ) {
            Ok(p) => p,
            Err(e) => return self.one(name, side, seq, || Payload::Failed(e.to_string())),
        };
        let mut page_no = 1;
        loop {
            let origin = format!("{name}#{page_no}");
            if self.committed.contains_key(side) {
                self.check_origin(*side, &origin)?;
                match pages.skip() {
                    Ok(true) => *side += 1,
                    Ok(false) => return Ok(()),
                    Err(e) => {
                        return self.one(&origin, side, seq, || Payload::Failed(e.to_string()));
                    }
                }
            } else {
                match pages.next_page() {
                    None => return Ok(()),
                    Some(r) => {
                        let payload = match r {
                            Ok(raster) => Payload::Raster(raster),
                            Err(e) => Payload::Failed(e.to_string()),
                        };
                        self.one(&origin, side, seq, || payload)?;
                    }
                }
            }
            page_no += 1;
        }
    }

    /// Sends one side (or skips it when already stored); Err stops the reader.
    fn one(
        &self,
        origin: &str,
        side: &mut u32,
        seq: &mut u64,
        payload: impl FnOnce() -> Payload,
    ) -> Result<(), ()> {
        if self.cancel.load(Ordering::SeqCst) {
            return Err(());
        }
        let this = *side;
        *side += 1;
        if self.committed.contains_key(&this) {
            return self.check_origin(this, origin);
        }
        self.tokens.recv().map_err(|_| ())?;
        let (sheet, face) = sheet_and_face(this, self.duplex);
        let job = Job {
            seq: *seq,
            meta: SideMeta {
                batch_id: self.batch_id.clone(),
                side: this,
                sheet,
                face,
                origin: origin.to_string(),
            },
            dpi: self.dpi,
            payload: payload(),
        };
        *seq += 1;
        self.jobs.send(job).map_err(|_| ())
    }

    fn check_origin(&self, side: u32, origin: &str) -> Result<(), ()> {
        match self.committed.get(&side) {
            Some(stored) if stored != origin => {
                self.cancel.store(true, Ordering::SeqCst);
                let _ = self.errors.try_send(ImportError::ResumeMismatch {
                    batch: self.batch_id.clone(),
                    side,
                    stored: stored.clone(),
                    given: origin.to_string(),
                });
                Err(())
            }
            _ => Ok(()),
        }
    }
}

/// Opens an input and recognises its format from its first bytes.
fn open_input(path: &Path) -> Result<(FileFormat, std::fs::File), String> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let mut head = [0u8; 16];
    let n = read_head(&mut f, &mut head).map_err(|e| format!("cannot read the file: {e}"))?;
    let format = sniff(&head[..n]).map_err(|e: ImagingError| e.to_string())?;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok((format, f))
}

fn read_head(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Separates the complete batch and closes it.
fn finish(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch_id: &str,
    specialty: Option<&str>,
    already: u32,
    stored_now: u32,
) -> Result<ImportReport, ImportError> {
    let facts = store.side_facts(batch_id)?;
    // From the cache, so a resumed import still reports the sides an earlier run
    // could not read.
    let origins = store.committed_sides(batch_id)?;
    let unreadable = facts
        .iter()
        .filter_map(|f| {
            Some(Unreadable {
                side: f.side,
                origin: origins.get(&f.side).cloned().unwrap_or_default(),
                message: f.unreadable.clone()?,
            })
        })
        .collect();
    let pattern = cfg.hospital_pattern()?;
    let layout = separate(
        &facts,
        &SeparationParams {
            batch_id,
            default_specialty: specialty,
            default_doc_type: cfg.default_document_type.as_deref(),
            hospital_pattern: &pattern,
        },
    );
    let flags = layout.flag_count();
    let state = BatchState::after_scanning(flags);
    store.save_layout(batch_id, &layout, state, actor)?;
    Ok(ImportReport {
        batch_id: batch_id.to_string(),
        sides: facts.len() as u32,
        stored_now,
        already_stored: already,
        unreadable,
        records: layout.records.len() as u32,
        documents: layout
            .records
            .iter()
            .map(|r| r.documents.len() as u32)
            .sum(),
        removed: layout.removed.len() as u32,
        flags: flags as u32,
        state: state.as_str().to_string(),
    })
}
