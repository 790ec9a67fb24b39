//! The processing pipeline shared by import and scanning.
//!
//! A producer thread (the file reader, or the capture thread that owns the
//! scanner) hands sides to the `folio-imaging-N` pool through a bounded queue;
//! the calling thread is the store writer and commits sides in the order the
//! producer sent them. A fixed number of tokens limits the sides in flight,
//! and a byte budget of decoded pixels ([`Budget`], `memory_budget_mib`) limits
//! what they may hold together, so memory stays bounded whatever the batch and
//! page sizes: a page larger than the whole budget is processed alone. The
//! producer only ever waits on these.

use super::process::{SideMeta, process_decoded, renderings, unreadable_side};
use crate::batch::flags::{Flag, FlagCode};
use crate::batch::separate::SeparationParams;
use crate::batch::{BatchState, separate};
use crate::config::{Config, ConfigError};
use crate::imaging::decode::{Decoded, decode_checked};
use crate::imaging::encode;
use crate::pixels::Raster;
use crate::store::{Actor, ImageStore, PageRow, Store, StoreError, StoredImage, sha256_hex};
use crossbeam_channel::{Receiver, Sender, bounded};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

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
    /// The side's share of the memory budget, given back once processed.
    ticket: Ticket,
}

type Outcome = (u64, Result<PageRow, StoreError>);

/// The producer's end of the pipeline.
pub struct Feeder {
    tokens: Receiver<()>,
    jobs: Sender<Job>,
    seq: u64,
    cancel: Arc<AtomicBool>,
    budget: Arc<Budget>,
}

/// The pipeline has stopped (a storage fault); the producer should stop too.
#[derive(Debug)]
pub struct Stopped;

impl Feeder {
    /// Hands one side to processing, waiting only while the queue is full or
    /// the memory budget is taken.
    pub fn send(&mut self, meta: SideMeta, payload: Payload) -> Result<(), Stopped> {
        if self.stopped() {
            return Err(Stopped);
        }
        self.tokens.recv().map_err(|_| Stopped)?;
        let ticket = self.budget.acquire(decoded_cost(&payload))?;
        let job = Job {
            seq: self.seq,
            meta,
            payload,
            ticket,
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

/// Runs `producer` on a thread called `name` and processes what it sends;
/// the sides are stored as scanned in `session` (see `Store::open_session`).
pub fn run<T: Send + 'static>(
    store: &mut Store,
    cfg: &Config,
    (name, session): (&str, Option<&str>),
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
    let budget = Budget::new(cfg.memory_budget_bytes());
    let mut feeder = Feeder {
        tokens: tok_rx,
        jobs: job_tx,
        seq: 0,
        cancel: cancel.clone(),
        budget: budget.clone(),
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
    let stored = write_in_order(store, session, res_rx, (&tok_tx, &cancel), &mut on_side);
    if stored.is_err() {
        cancel.store(true, Ordering::SeqCst);
    }
    // A producer waiting for budget that sides dropped unprocessed would
    // have given back must not wait for ever.
    budget.close();
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
    session: Option<&str>,
    results: Receiver<Outcome>,
    (tokens, cancel): (&Sender<()>, &AtomicBool),
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
        while let Some(mut row) = pending.remove(&next) {
            row.session = session.map(str::to_string);
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
        let Job {
            seq,
            meta,
            payload,
            ticket,
        } = job;
        let row = guarded(&meta, payload, &cfg, &images);
        // The pixels are gone: another side may take their place.
        drop(ticket);
        if results.send((seq, row)).is_err() {
            break;
        }
    }
}

/// Decodes and processes one side. A panic (a bug) in either step becomes a
/// flagged side that is committed in order like any other: a worker that died
/// would leave its side uncommitted, and the writer, the producer and the other
/// workers waiting for it forever.
fn guarded(
    meta: &SideMeta,
    payload: Payload,
    cfg: &Config,
    images: &ImageStore,
) -> Result<PageRow, StoreError> {
    let decoded = catch_unwind(AssertUnwindSafe(|| match payload {
        Payload::Raster(r) => Ok(Decoded::whole(r)),
        Payload::Bytes { bytes, dpi } => {
            decode_checked(&bytes, dpi.unwrap_or(DEFAULT_DPI), dpi.is_some())
                .map_err(|e| e.to_string())
        }
        Payload::Failed(why) => Err(why),
    }));
    let decoded = match decoded {
        Ok(Ok(decoded)) => decoded,
        Ok(Err(why)) => return Ok(unreadable_side(meta, why)),
        Err(panic) => return Ok(failed_side(meta, None, &panic_text(&*panic), cfg, images)),
    };
    let processed = catch_unwind(AssertUnwindSafe(|| {
        panic_if_asked(cfg, meta.side);
        process_decoded(meta, &decoded, cfg, images)
    }));
    processed.unwrap_or_else(|panic| {
        Ok(failed_side(
            meta,
            Some(&decoded.raster),
            &panic_text(&*panic),
            cfg,
            images,
        ))
    })
}

/// The test-only hook of [`Config::panic_on_side`]: a deliberate bug.
fn panic_if_asked(cfg: &Config, side: u32) {
    if cfg.panic_on_side == Some(side) {
        panic!("deliberate failure of side {side} (panic_on_side)");
    }
}

/// The message a panic carried (`panic!` with a literal or a formatted string).
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into())
}

/// The row of a side whose processing failed: flagged `processing_failed`
/// with the panic message, with its raw image (no crop, deskew or barcode
/// reading) so that nothing of the sheet is lost; with no image, or if even
/// storing it fails, an unreadable side.
fn failed_side(
    meta: &SideMeta,
    raster: Option<&Raster>,
    why: &str,
    cfg: &Config,
    images: &ImageStore,
) -> PageRow {
    let flag = Flag::new(
        FlagCode::ProcessingFailed,
        format!(
            "processing side {} failed unexpectedly ({why}); its image is kept as scanned: check it, or rescan the sheet",
            meta.side
        ),
    )
    .on_side(meta.side);
    let stored = raster.and_then(|r| {
        catch_unwind(AssertUnwindSafe(|| store_raw(meta, r, cfg, images)))
            .ok()
            .and_then(Result::ok)
    });
    let mut row = stored
        .unwrap_or_else(|| unreadable_side(meta, format!("processing failed unexpectedly: {why}")));
    row.flags.push(flag);
    row
}

/// Stores a side's raster as it came, with its thumbnail and preview.
fn store_raw(
    meta: &SideMeta,
    raster: &Raster,
    cfg: &Config,
    images: &ImageStore,
) -> Result<PageRow, String> {
    let encoded = encode::encode(raster, cfg.jpeg_quality).map_err(|e| e.to_string())?;
    let (thumb, preview) = renderings(raster).map_err(|e| e.to_string())?;
    let put = |b: &[u8]| images.put(b).map_err(|e| e.to_string());
    let mut row = unreadable_side(meta, String::new());
    row.error = None;
    row.image = Some(StoredImage::of(&encoded, put(&encoded.bytes)?));
    row.pixels_sha256 = Some(sha256_hex(&raster.data));
    row.thumb_sha256 = Some(put(&thumb)?);
    row.preview_sha256 = Some(put(&preview)?);
    Ok(row)
}

/// A byte budget of decoded pixels: the producer takes a share before a side
/// goes to the pool, and the side's [`Ticket`] gives it back once processing
/// has let go of the pixels. A side larger than the whole budget is admitted
/// when nothing else is in flight, and nothing else is admitted beside it, so
/// it is processed alone and never waits forever.
pub(crate) struct Budget {
    limit: u64,
    state: Mutex<BudgetState>,
    freed: Condvar,
}

#[derive(Default)]
struct BudgetState {
    used: u64,
    closed: bool,
}

/// A side's share of the [`Budget`], given back on drop.
pub(crate) struct Ticket {
    budget: Arc<Budget>,
    cost: u64,
}

impl Budget {
    pub(crate) fn new(limit: u64) -> Arc<Budget> {
        Arc::new(Budget {
            limit,
            state: Mutex::new(BudgetState::default()),
            freed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, BudgetState> {
        // The state is two numbers, always consistent: a panic elsewhere
        // while it was held cannot have left it half-written.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admits(&self, s: &BudgetState, cost: u64) -> bool {
        s.used == 0 || s.used.saturating_add(cost) <= self.limit
    }

    /// Takes `cost` bytes if they fit now.
    #[cfg(test)]
    fn try_acquire(self: &Arc<Self>, cost: u64) -> Option<Ticket> {
        let mut s = self.lock();
        self.admits(&s, cost).then(|| self.take(&mut s, cost))
    }

    /// Waits until `cost` bytes fit (alone, if they exceed the budget);
    /// `Stopped` once the pipeline has closed the budget.
    pub(crate) fn acquire(self: &Arc<Self>, cost: u64) -> Result<Ticket, Stopped> {
        let mut s = self.lock();
        loop {
            if s.closed {
                return Err(Stopped);
            }
            if self.admits(&s, cost) {
                return Ok(self.take(&mut s, cost));
            }
            s = self.freed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
    }

    fn take(self: &Arc<Self>, s: &mut BudgetState, cost: u64) -> Ticket {
        s.used = s.used.saturating_add(cost);
        Ticket {
            budget: self.clone(),
            cost,
        }
    }

    /// Wakes and refuses every waiter: the pipeline has stopped.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.freed.notify_all();
    }

    /// Bytes taken now.
    #[cfg(test)]
    fn used(&self) -> u64 {
        self.lock().used
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut s = self.budget.lock();
        s.used = s.used.saturating_sub(self.cost);
        drop(s);
        self.budget.freed.notify_all();
    }
}

/// Bytes a side's pixels take once decoded: known for a raster, read from the
/// file's header for an image file (decoding happens on the pool), nothing
/// for a side that failed. A header that cannot be read costs the file's
/// size: decoding will fail on it too.
fn decoded_cost(payload: &Payload) -> u64 {
    match payload {
        Payload::Raster(r) => r.data.len() as u64,
        Payload::Bytes { bytes, .. } => header_cost(bytes).unwrap_or(bytes.len() as u64),
        Payload::Failed(_) => 0,
    }
}

fn header_cost(bytes: &[u8]) -> Option<u64> {
    use image::ImageDecoder;
    let decoder = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_decoder()
        .ok()?;
    let (w, h) = decoder.dimensions();
    Some(w as u64 * h as u64 * decoder.color_type().bytes_per_pixel() as u64)
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
    pub state: BatchState,
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
    let mut facts = store.side_facts(batch_id)?;
    if super::access::targets_required(store, cfg)? {
        let unproven = store.unproven_sides(batch_id)?;
        for f in &mut facts {
            f.unproven_session = unproven.get(&f.side).cloned();
        }
    }
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
    let patches = store.batch_patches(batch_id)?;
    let params = SeparationParams {
        batch_id,
        default_specialty: specialty,
        default_doc_type: cfg.default_document_type.as_deref(),
        hospital_pattern: &pattern,
        fixes: &fixes,
        default_patient: patient.as_ref(),
        patches: patches.as_ref().unwrap_or(&cfg.patches),
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
        state,
        unreadable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn case_7_budget_admits_sides_while_they_fit_and_oversize_ones_alone() {
        let budget = Budget::new(100);
        let a = budget.try_acquire(60).expect("fits");
        let b = budget.try_acquire(40).expect("fits exactly");
        assert!(budget.try_acquire(1).is_none(), "the budget is full");
        drop(a);
        assert_eq!(budget.used(), 40);
        assert!(budget.try_acquire(61).is_none(), "61 + 40 is over 100");
        drop(b);
        // Larger than the whole budget: admitted once nothing else is in flight...
        let big = budget.try_acquire(250).expect("alone");
        // ...and nothing joins it, not even a small side.
        assert!(budget.try_acquire(1).is_none());
        drop(big);
        assert_eq!(budget.used(), 0);
        // A side that holds no pixels (a failed read) fits a full budget.
        let small = budget.try_acquire(100).expect("fits");
        assert!(budget.try_acquire(0).is_some());
        drop(small);
    }

    #[test]
    fn case_7_budget_wakes_a_waiting_producer_when_pixels_are_given_back() {
        let budget = Budget::new(100);
        let held = budget.try_acquire(80).expect("fits");
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let got = budget.acquire(500).map(|t| t.cost);
                let _ = tx.send(got.is_ok());
            })
        };
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "an oversize side waits while another is in flight"
        );
        drop(held);
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));
        let _ = waiter.join();
    }

    #[test]
    fn case_7_closing_the_budget_stops_a_waiting_producer() {
        let budget = Budget::new(10);
        let _held = budget.try_acquire(10).expect("fits");
        let (tx, rx) = crossbeam_channel::bounded(1);
        let waiter = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                let _ = tx.send(budget.acquire(5).is_err());
            })
        };
        budget.close();
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(true));
        let _ = waiter.join();
    }
}
