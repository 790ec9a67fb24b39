//! The processing pipeline shared by import and scanning.
//!
//! A producer thread (the file reader, or the capture thread that owns the
//! scanner) hands sides to the `folio-imaging-N` pool through a bounded queue;
//! the calling thread is the store writer and commits sides in the order the
//! producer sent them. A fixed number of tokens limits the sides in flight, so
//! memory stays bounded whatever the batch size, and the producer only ever
//! waits on that queue.

use super::process::{SideMeta, process_decoded, unreadable_side};
use crate::batch::separate::SeparationParams;
use crate::batch::{BatchState, separate};
use crate::config::{Config, ConfigError};
use crate::imaging::Raster;
use crate::imaging::decode::{Decoded, decode_checked};
use crate::store::{Actor, ImageStore, PageRow, Store, StoreError};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Resolution assumed when neither the file nor `--dpi` says.
pub const DEFAULT_DPI: u32 = 300;

/// A side as the producer hands it over.
pub enum Payload {
    /// An image file's bytes, decoded on the pool; `dpi` overrides the file's.
    Bytes {
        bytes: Vec<u8>,
        dpi: Option<u32>,
    },
    Raster(Raster),
    /// The side exists but could not be read; it is stored flagged.
    Failed(String),
}

struct Job {
    seq: u64,
    meta: SideMeta,
    payload: Payload,
}

type Outcome = (u64, Result<PageRow, StoreError>);

/// The producer's end of the pipeline.
pub struct Feeder {
    tokens: Receiver<()>,
    jobs: Sender<Job>,
    seq: u64,
    cancel: Arc<AtomicBool>,
}

/// The pipeline has stopped (a storage fault); the producer should stop too.
#[derive(Debug)]
pub struct Stopped;

impl Feeder {
    /// Hands one side to processing, waiting only while the queue is full.
    pub fn send(&mut self, meta: SideMeta, payload: Payload) -> Result<(), Stopped> {
        if self.stopped() {
            return Err(Stopped);
        }
        self.tokens.recv().map_err(|_| Stopped)?;
        let job = Job {
            seq: self.seq,
            meta,
            payload,
        };
        self.seq += 1;
        self.jobs.send(job).map_err(|_| Stopped)
    }

    /// True once the writer has stopped.
    pub fn stopped(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    /// Stops the pipeline early (the producer found it cannot go on).
    pub fn stop(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// What a run did: sides committed (or the storage fault that stopped it) and the
/// producer's own result (`None` if its thread died).
pub struct RunResult<T> {
    pub stored: Result<u32, StoreError>,
    pub producer: Option<T>,
}

/// Runs `producer` on a thread called `name` and processes what it sends.
pub fn run<T: Send + 'static>(
    store: &mut Store,
    cfg: &Config,
    name: &str,
    producer: impl FnOnce(&mut Feeder) -> T + Send + 'static,
    mut on_side: impl FnMut(&PageRow, u32),
) -> RunResult<T> {
    let cancel = Arc::new(AtomicBool::new(false));
    let threads = cfg.thread_count();
    let in_flight = threads * 3 + 2;
    let (tok_tx, tok_rx) = bounded::<()>(in_flight);
    for _ in 0..in_flight {
        let _ = tok_tx.send(());
    }
    let (job_tx, job_rx) = bounded::<Job>(threads);
    let (res_tx, res_rx) = bounded::<Outcome>(in_flight);
    let mut feeder = Feeder {
        tokens: tok_rx,
        jobs: job_tx,
        seq: 0,
        cancel: cancel.clone(),
    };
    let producer = spawn(name.to_string(), move || producer(&mut feeder));
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
    let stored = write_in_order(store, res_rx, &tok_tx, &cancel, &mut on_side);
    if stored.is_err() {
        cancel.store(true, Ordering::SeqCst);
    }
    drop(tok_tx);
    let crashed = pool
        .into_iter()
        .fold(false, |crashed, h| h.join().is_err() | crashed);
    let stored = match stored {
        // A processing thread died (a bug): the sides it held were never stored,
        // so the batch must stay open to be resumed, not be closed short.
        Ok(_) if crashed => Err(StoreError::Damaged(
            "image processing stopped unexpectedly; the sides stored so far are kept".into(),
        )),
        other => other,
    };
    RunResult {
        stored,
        producer: producer.join().ok(),
    }
}

fn spawn<T: Send + 'static>(
    name: String,
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    match std::thread::Builder::new().name(name).spawn(f) {
        Ok(h) => h,
        // Without threads nothing can run: the machine is out of resources.
        Err(e) => panic!("cannot start a thread: {e}"),
    }
}

/// Commits results in the order the producer sent them; returns how many.
fn write_in_order(
    store: &mut Store,
    results: Receiver<Outcome>,
    tokens: &Sender<()>,
    cancel: &AtomicBool,
    on_side: &mut impl FnMut(&PageRow, u32),
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
            on_side(&row, stored);
            let _ = tokens.send(());
        }
    }
    Ok(stored)
}

fn worker(
    jobs: Receiver<Job>,
    results: Sender<Outcome>,
    cfg: Config,
    images: ImageStore,
    cancel: Arc<AtomicBool>,
) {
    for job in jobs.iter() {
        if cancel.load(Ordering::SeqCst) {
            break;
        }
        if cfg.process_delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(cfg.process_delay_ms));
        }
        let meta = &job.meta;
        let decoded = match job.payload {
            Payload::Raster(r) => Ok(Decoded::whole(r)),
            Payload::Bytes { bytes, dpi } => {
                decode_checked(&bytes, dpi.unwrap_or(DEFAULT_DPI), dpi.is_some())
                    .map_err(|e| e.to_string())
            }
            Payload::Failed(why) => Err(why),
        };
        let row = match decoded {
            Ok(decoded) => process_decoded(meta, &decoded, &cfg, &images),
            Err(why) => Ok(unreadable_side(meta, why)),
        };
        if results.send((job.seq, row)).is_err() {
            break;
        }
    }
}

/// A side that could not be read.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Unreadable {
    pub side: u32,
    pub origin: String,
    pub message: String,
}

/// A batch after separation: its counts and state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Closed {
    pub sides: u32,
    pub records: u32,
    pub documents: u32,
    pub removed: u32,
    pub flags: u32,
    pub state: String,
    /// Every side of the batch that could not be read (earlier runs included).
    pub unreadable: Vec<Unreadable>,
}

/// Separates a batch whose sides are all stored, saves the records and moves it
/// to `closed` (or `in_review` when anything is flagged).
pub fn close_batch<E: From<StoreError> + From<ConfigError>>(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch_id: &str,
    specialty: Option<&str>,
) -> Result<Closed, E> {
    let facts = store.side_facts(batch_id)?;
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
    let fixes = store.identifier_fixes(batch_id)?;
    let patient = store.batch_patient(batch_id)?;
    let params = SeparationParams {
        batch_id,
        default_specialty: specialty,
        default_doc_type: cfg.default_document_type.as_deref(),
        hospital_pattern: &pattern,
        fixes: &fixes,
        default_patient: patient.as_ref(),
    };
    let layout = separate(&facts, &params);
    let flags = layout.flag_count();
    let state = BatchState::after_scanning(flags);
    store.save_layout(batch_id, &layout, state, actor)?;
    Ok(Closed {
        sides: facts.len() as u32,
        records: layout.records.len() as u32,
        documents: layout
            .records
            .iter()
            .map(|r| r.documents.len() as u32)
            .sum(),
        removed: layout.removed.len() as u32,
        flags: flags as u32,
        state: state.as_str().to_string(),
        unreadable,
    })
}
