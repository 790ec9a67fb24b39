//! The station window's workers. The window sends [`Command`]s and renders
//! [`Event`]s; it never touches the database, a socket or a scanner. Threads:
//!
//! - `folio-station` owns the store and runs commands one at a time (a scan
//!   runs here too; Stop reaches it through the scan's own [`CancelToken`]);
//! - `folio-preview` shrinks the scanner's bands for the live view;
//! - `folio-images` decodes thumbnails and previews for textures;
//! - `folio-upload` works off the outbox (watching for new batches) with its
//!   own database connection, until paused.
//!
//! Every event is followed by a call to `wake`, which repaints the window.

use super::review;
use super::scan::{self, BandEvent, ScanOptions, ScanProgress, ScanReport};
use super::upload::{self as uploader, UploadEvent, UploadOptions};
use crate::batch::approval::{ApprovalFacts, Overrides};
use crate::batch::{BatchSource, PatientId};
use crate::capture::ScanSettings;
use crate::config::Config;
use crate::imaging::encode::Encoding;
use crate::store::{
    Actor, BatchRow, BatchTree, DocChoice, ImageStore, OutboxRow, PageDecision, PatientMismatch,
    ReviewItem, Store, StoredImage,
};
use crossbeam_channel::{Receiver, Sender, unbounded};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanRequest {
    pub device: String,
    /// Profile name (its settings), if any.
    pub profile: Option<String>,
    pub label: Option<String>,
    pub resume: Option<String>,
    /// On-demand: the patient typed in, the specialty and document type.
    pub on_demand: Option<(PatientId, Option<String>, Option<String>)>,
    /// Backend options (NAME=VALUE) on top of the profile's.
    pub options: Vec<(String, String)>,
    /// Sheets counted for the batch (from the box's slip).
    pub expected_sheets: Option<u32>,
}

#[derive(Debug, Clone)]
pub enum Command {
    Refresh,
    /// The record and document tree of a batch.
    OpenBatch(String),
    /// Go through every side of a batch in Review (None: back to the flags);
    /// its sides come again after every change.
    BrowseBatch(Option<String>),
    Scan(ScanRequest),
    CloseBatch(String),
    ApproveFlag(i64),
    RestorePage {
        batch: String,
        side: u32,
    },
    /// Turn a page clockwise by 90, 180 or 270 degrees.
    RotatePage {
        batch: String,
        side: u32,
        degrees: u16,
    },
    FixIdentifier {
        batch: String,
        record: String,
        text: String,
    },
    /// Remove a page, mark it for rescan, or move it to another document.
    DecidePage {
        batch: String,
        side: u32,
        decision: PageDecision,
    },
    /// Scan a page again (device, profile and options as for a scan) and put
    /// it in place of the stored one.
    RescanPage {
        batch: String,
        side: u32,
        scanner: ScanRequest,
    },
    /// The sheets counted for a batch (reconciled against those scanned).
    SetExpectedSheets {
        batch: String,
        sheets: u32,
    },
    /// Approve a batch under the one approval rule, with this batch's own
    /// overrides (and their reason).
    ApproveBatch {
        batch: String,
        overrides: Overrides,
    },
    /// Say which patient an on-demand record belongs to when its record
    /// sheet contradicts the patient typed: the typed one, or the paper's
    /// (which then becomes the batch's patient too). Audited.
    ChoosePatient {
        batch: String,
        record: String,
        patient: PatientId,
        paper: bool,
    },
    /// Queue a parked batch again (sent when uploads are on: a pause stays).
    RetryUpload(String),
    PauseUploads,
    ResumeUploads,
    /// Write the Settings screen's form into `config.toml`; answered by
    /// [`Event::SettingsSaved`].
    SaveSettings(super::settings::SettingsForm),
}

/// What the window shows of the station's state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub batches: Vec<BatchRow>,
    /// Shared, so the window can hold it each frame without copying.
    pub review: Arc<Vec<ReviewItem>>,
    /// Documents of the batches in review, by batch id (to move pages into).
    pub documents: HashMap<String, Vec<DocChoice>>,
    /// What the approval rule knows of each batch in review, by batch id, so
    /// the window asks [`crate::batch::approval::decide`] as the CLI does.
    pub approval: HashMap<String, ApprovalFacts>,
    /// On-demand records whose record sheet names another patient than the
    /// one typed, each with the paper's identifier when it is a valid one.
    pub mismatches: Vec<(PatientMismatch, Option<PatientId>)>,
    pub outbox: Vec<OutboxRow>,
    pub devices: Vec<String>,
    pub profiles: Vec<String>,
    pub upload_target: String,
}

#[derive(Debug, Clone)]
pub enum Event {
    Snapshot(Box<Snapshot>),
    /// Every side of the batch being gone through in Review.
    Pages {
        batch: String,
        items: Arc<Vec<ReviewItem>>,
    },
    Tree(Box<BatchTree>),
    /// A scan began; its token stops it (and only it).
    ScanStarted(CancelToken),
    /// A page rescan began; its token stops it.
    RescanStarted(CancelToken),
    /// The answer to [`Command::SaveSettings`]: the file written, or why not.
    SettingsSaved(Result<PathBuf, super::settings::SettingsError>),
    Progress(Box<ScanProgress>),
    /// Rows of the side being scanned, shrunk to the preview's width (grey).
    Band {
        side: u32,
        first_row: u32,
        width: u32,
        /// Rows of the whole side at this scale, when the scanner knows.
        total_rows: Option<u32>,
        rows: Vec<u8>,
    },
    ScanEnded(Result<ScanReport, ScanFailure>),
    Image {
        sha256: String,
        width: usize,
        height: usize,
        rgba: Vec<u8>,
    },
    Upload(UploadEvent),
    UploadBytes(u64),
    UploadsRunning(bool),
    /// Words for the status line.
    Notice(String),
    Error(String),
}

/// Why a scan stopped early, and whether it can be resumed.
#[derive(Debug, Clone)]
pub struct ScanFailure {
    pub message: String,
    pub batch: Option<String>,
}

/// The window's end of the workers.
pub struct Station {
    pub commands: Sender<Command>,
    /// Images to decode: straight to the decoder, so thumbnails arrive while
    /// a scan keeps the station thread busy.
    pub images: Sender<ImageRequest>,
    pub events: Receiver<Event>,
}

/// Stops one scan (or page rescan), after its current sheet; the sides
/// already stored are kept. The worker makes a fresh one for each scan and
/// hands it out in [`Event::ScanStarted`] / [`Event::RescanStarted`]; a token
/// is never reset, so a Stop cannot be lost to the next scan's start. Two
/// tokens are equal when they are the same token.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Asks the scan to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag the scan watches (for [`ScanOptions::cancel`]).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl PartialEq for CancelToken {
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CancelToken {}

/// An image the window wants as a texture.
#[derive(Debug, Clone)]
pub enum ImageRequest {
    /// A thumbnail or screen preview (JPEG), by SHA-256.
    Rendering(String),
    /// A page at full resolution (JPEG or CCITT G4), for a close look.
    Page(StoredImage),
}

impl ImageRequest {
    pub fn sha256(&self) -> &str {
        match self {
            ImageRequest::Rendering(s) => s,
            ImageRequest::Page(i) => &i.sha256,
        }
    }
}

/// Width of the live preview, pixels.
pub const LIVE_WIDTH: u32 = 480;

type Wake = Arc<dyn Fn() + Send + Sync>;

/// Starts the workers on the station data in `data_dir`.
pub fn spawn(
    data_dir: PathBuf,
    cfg: Config,
    actor: Actor,
    wake: Wake,
) -> Result<Station, crate::store::StoreError> {
    let store = Store::open(&data_dir)?;
    let (cmd_tx, cmd_rx) = unbounded::<Command>();
    let (ev_tx, ev_rx) = unbounded::<Event>();
    let emit: Emit = {
        let (tx, wake) = (ev_tx.clone(), wake.clone());
        Arc::new(move |e| {
            let _ = tx.send(e);
            wake();
        })
    };
    let images = spawn_images(store.images().clone(), emit.clone());
    let uploads = spawn_uploads(data_dir.clone(), cfg.clone(), actor.clone(), emit.clone());
    let worker = Worker {
        store,
        cfg,
        actor,
        emit,
        uploads,
        devices: Vec::new(),
        upload_target: String::new(),
        browsing: None,
    };
    std::thread::Builder::new()
        .name("folio-station".into())
        .spawn(move || worker.run(cmd_rx))
        .map_err(|e| crate::store::StoreError::io(&data_dir, e))?;
    let _ = cmd_tx.send(Command::Refresh);
    Ok(Station {
        commands: cmd_tx,
        images,
        events: ev_rx,
    })
}

type Emit = Arc<dyn Fn(Event) + Send + Sync>;

struct Worker {
    store: Store,
    cfg: Config,
    actor: Actor,
    emit: Emit,
    uploads: Sender<bool>,
    devices: Vec<String>,
    /// Where uploads go, in words (worked out once: the configuration does
    /// not change while the station runs).
    upload_target: String,
    /// The batch whose every side Review is going through.
    browsing: Option<String>,
}

impl Worker {
    fn run(mut self, commands: Receiver<Command>) {
        self.devices = scan::list_devices()
            .map(|d| d.into_iter().map(|d| d.name).collect())
            .unwrap_or_else(|_| vec![crate::capture::DEMO_DEVICE.to_string()]);
        self.upload_target = crate::upload::target(&self.cfg.upload, self.store.data_dir())
            .map(|t| t.describe())
            .unwrap_or_else(|e| e.to_string());
        for c in commands {
            if let Err(e) = self.handle(c) {
                (self.emit)(Event::Error(e));
            }
        }
    }

    fn snapshot(&mut self) -> Result<(), String> {
        let batches = self.store.list_batches().map_err(|e| e.to_string())?;
        let mut documents = HashMap::new();
        let mut approval = HashMap::new();
        for b in batches
            .iter()
            .filter(|b| b.state == "closed" || b.state == "in_review")
        {
            let docs = self
                .store
                .document_choices(&b.id)
                .map_err(|e| e.to_string())?;
            documents.insert(b.id.clone(), docs);
            let facts = self
                .store
                .approval_facts(&b.id)
                .map_err(|e| e.to_string())?;
            approval.insert(b.id.clone(), facts);
        }
        let mismatches = self
            .store
            .patient_mismatches()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|m| {
                let paper = review::parse_identifier(&self.cfg, &m.paper).ok();
                (m, paper)
            })
            .collect();
        let s = Snapshot {
            batches,
            documents,
            approval,
            mismatches,
            review: Arc::new(self.store.review_queue().map_err(|e| e.to_string())?),
            outbox: self.store.outbox().map_err(|e| e.to_string())?,
            devices: self.devices.clone(),
            profiles: self.cfg.profiles().keys().cloned().collect(),
            upload_target: self.upload_target.clone(),
        };
        (self.emit)(Event::Snapshot(Box::new(s)));
        if let Some(batch) = &self.browsing {
            let items = self.store.batch_pages(batch).map_err(|e| e.to_string())?;
            (self.emit)(Event::Pages {
                batch: batch.clone(),
                items: Arc::new(items),
            });
        }
        Ok(())
    }

    fn handle(&mut self, c: Command) -> Result<(), String> {
        let s = |e: &dyn std::fmt::Display| e.to_string();
        match c {
            Command::Refresh => {}
            Command::OpenBatch(b) => {
                let tree = self.store.tree(&b).map_err(|e| s(&e))?;
                (self.emit)(Event::Tree(Box::new(tree)));
                return Ok(());
            }
            Command::BrowseBatch(b) => self.browsing = b,
            Command::Scan(req) => self.scan(req)?,
            Command::CloseBatch(b) => {
                let closed =
                    scan::close(&mut self.store, &self.cfg, &self.actor, &b).map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(format!(
                    "batch closed: {} records, {} documents, {} flags",
                    closed.records, closed.documents, closed.flags
                )));
            }
            Command::ApproveFlag(id) => {
                review::approve_flag(&mut self.store, &self.actor, id).map_err(|e| s(&e))?;
            }
            Command::RestorePage { batch, side } => {
                review::restore_page(&mut self.store, &self.cfg, &self.actor, &batch, side)
                    .map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(format!(
                    "side {side} restored to its document"
                )));
            }
            Command::RotatePage {
                batch,
                side,
                degrees,
            } => {
                review::rotate_page(&mut self.store, &self.actor, &batch, side, degrees)
                    .map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(format!(
                    "side {side} turned {degrees} degrees"
                )));
            }
            Command::FixIdentifier {
                batch,
                record,
                text,
            } => {
                let p = review::fix_identifier(
                    &mut self.store,
                    &self.cfg,
                    &self.actor,
                    &batch,
                    &record,
                    &text,
                )
                .map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(format!("record set to {}", p.describe())));
            }
            Command::DecidePage {
                batch,
                side,
                decision,
            } => {
                review::decide_page(
                    &mut self.store,
                    &self.cfg,
                    &self.actor,
                    &batch,
                    side,
                    &decision,
                )
                .map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(match decision {
                    PageDecision::Remove => format!("side {side} removed (Restore puts it back)"),
                    PageDecision::MarkRescan(_) => format!("side {side} marked for rescan"),
                    PageDecision::MoveTo(_) => format!("side {side} moved"),
                }));
            }
            Command::RescanPage {
                batch,
                side,
                scanner,
            } => {
                let (settings, _) = self.settings(&scanner)?;
                let token = CancelToken::new();
                (self.emit)(Event::RescanStarted(token.clone()));
                review::rescan_page(
                    &mut self.store,
                    &self.cfg,
                    &self.actor,
                    (&batch, side),
                    (&scanner.device, &settings),
                    token.flag(),
                )
                .map_err(|e| s(&e))?;
                (self.emit)(Event::Notice(format!(
                    "side {side} rescanned on {} and replaced",
                    scanner.device
                )));
            }
            Command::SetExpectedSheets { batch, sheets } => {
                self.store
                    .set_expected_sheets(&batch, sheets, &self.actor)
                    .map_err(|e| s(&e))?;
            }
            Command::ApproveBatch { batch, overrides } => {
                let done = uploader::approve(&mut self.store, &batch, &self.actor, &overrides)
                    .map_err(|e| s(&e))?;
                let a = &done.approval;
                (self.emit)(Event::Notice(format!(
                    "batch {} approved and queued for upload: {} records, {} documents, {} pages",
                    short(&done.batch_id),
                    a.records,
                    a.documents,
                    a.pages
                )));
                // Queued only: the uploader (watching the outbox while on)
                // picks it up; a pause stays until the person resumes.
            }
            Command::ChoosePatient {
                batch,
                record,
                patient,
                paper,
            } => self.choose_patient(&batch, &record, &patient, paper)?,
            Command::RetryUpload(b) => {
                self.store
                    .approve_batch(&b, &self.actor, "queued again by a supervisor")
                    .map_err(|e| s(&e))?;
            }
            Command::PauseUploads => {
                let _ = self.uploads.send(false);
            }
            Command::ResumeUploads => {
                let _ = self.uploads.send(true);
            }
            Command::SaveSettings(f) => {
                (self.emit)(Event::SettingsSaved(super::settings::save(&f)))
            }
        }
        self.snapshot()
    }

    /// Files an on-demand record under the patient a person chose, when its
    /// record sheet and the patient typed disagree. Choosing the paper's makes
    /// it the batch's patient too, so the typed one stops contradicting it.
    fn choose_patient(
        &mut self,
        batch: &str,
        record: &str,
        patient: &PatientId,
        paper: bool,
    ) -> Result<(), String> {
        let asked = self
            .store
            .patient_mismatches()
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|m| m.batch_id == batch && m.record_id == record)
            .ok_or_else(|| {
                "that record no longer waits for a choice of patient: look again".to_string()
            })?;
        let paper_words = review::parse_identifier(&self.cfg, &asked.paper)
            .map(|p| p.describe())
            .unwrap_or_else(|_| format!("'{}'", crate::batch::printable(&asked.paper, 40)));
        let why = format!(
            "record {record}: the record sheet shows {paper_words}, {} was typed; chosen: {} ({})",
            asked.typed.describe(),
            patient.describe(),
            if paper { "the paper's" } else { "as typed" }
        );
        self.store
            .audit(&self.actor, "record.patient_chosen", batch, &why)
            .map_err(|e| e.to_string())?;
        if paper {
            self.store
                .change_batch_patient(batch, patient, &self.actor, &why)
                .map_err(|e| e.to_string())?;
        }
        let number = match patient {
            PatientId::Nhs { number, .. } | PatientId::Hospital { number } => number,
        };
        review::fix_identifier(
            &mut self.store,
            &self.cfg,
            &self.actor,
            batch,
            record,
            number,
        )
        .map_err(|e| e.to_string())?;
        (self.emit)(Event::Notice(format!(
            "record filed under {}",
            patient.describe()
        )));
        Ok(())
    }

    /// The scan settings of a request (its profile's, and its options), and
    /// the profile's choice of bilevel storage.
    fn settings(&self, req: &ScanRequest) -> Result<(ScanSettings, Option<bool>), String> {
        let profile = req
            .profile
            .as_ref()
            .and_then(|p| self.cfg.profiles().get(p).cloned());
        let mut settings = profile
            .as_ref()
            .map(|p| p.settings())
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        settings.options.extend(req.options.iter().cloned());
        Ok((settings, profile.and_then(|p| p.typed_as_bilevel)))
    }

    fn scan(&mut self, req: ScanRequest) -> Result<(), String> {
        let token = CancelToken::new();
        let (settings, typed_as_bilevel) = self.settings(&req)?;
        let (patient, specialty, doc_type) = match req.on_demand.clone() {
            Some((p, sp, dt)) => (Some(p), sp, dt),
            None => (None, None, None),
        };
        let opts = ScanOptions {
            device: req.device.clone(),
            settings,
            label: req.label.clone(),
            specialty,
            resume: req.resume.clone(),
            source: req.on_demand.as_ref().map(|_| BatchSource::OnDemand),
            keep_open: false,
            expected_sheets: req.expected_sheets,
            typed_as_bilevel,
            cancel: token.flag(),
            patient,
            doc_type,
        };
        let (band_tx, band_rx) = crossbeam_channel::bounded::<BandEvent>(64);
        let preview = spawn_preview(band_rx, self.emit.clone());
        (self.emit)(Event::ScanStarted(token));
        let emit = self.emit.clone();
        let result = scan::scan(
            &mut self.store,
            &self.cfg,
            &self.actor,
            &opts,
            Some(band_tx),
            |p| emit(Event::Progress(Box::new(p))),
        );
        let _ = preview.join();
        let ended = result.map_err(|e| ScanFailure {
            message: e.to_string(),
            batch: match &e {
                scan::ScanError::Interrupted { batch, .. }
                | scan::ScanError::Storage { batch, .. } => Some(batch.clone()),
                _ => None,
            },
        });
        if let Ok(r) = &ended
            && let Ok(tree) = self.store.tree(&r.batch_id)
        {
            (self.emit)(Event::Tree(Box::new(tree)));
        }
        (self.emit)(Event::ScanEnded(ended));
        Ok(())
    }
}

fn short(id: &str) -> &str {
    &id[..8.min(id.len())]
}

/// Shrinks bands to the live preview's width (box average over whole rows and
/// columns), so the window copies a few kilobytes a band, not megabytes.
fn spawn_preview(bands: Receiver<BandEvent>, emit: Emit) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("folio-preview".into())
        .spawn(move || {
            let mut carry: Vec<u8> = Vec::new();
            let mut carry_side = u32::MAX;
            for b in bands {
                let ch = b.channels.max(1) as usize;
                let w = b.width as usize;
                let f = (b.width.div_ceil(LIVE_WIDTH)).max(1) as usize;
                let out_w = w / f;
                if b.side != carry_side {
                    carry.clear();
                    carry_side = b.side;
                }
                // Grey rows of this band, plus any left over from the last.
                for row in b.data.chunks_exact(w * ch) {
                    carry.extend(
                        row.chunks_exact(ch)
                            .map(|p| (p.iter().map(|&v| v as u32).sum::<u32>() / ch as u32) as u8),
                    );
                }
                let full = carry.len() / (w * f);
                if full == 0 || out_w == 0 {
                    continue;
                }
                let first_line = b.first_line as usize + b.data.len() / (w * ch) - carry.len() / w;
                let mut rows = Vec::with_capacity(full * out_w);
                for block in carry.chunks_exact(w * f).take(full) {
                    for x in 0..out_w {
                        let mut sum = 0u32;
                        for r in 0..f {
                            sum += block[r * w + x * f..r * w + x * f + f]
                                .iter()
                                .map(|&v| v as u32)
                                .sum::<u32>();
                        }
                        rows.push((sum / (f * f) as u32) as u8);
                    }
                }
                carry.drain(..full * w * f);
                emit(Event::Band {
                    side: b.side,
                    first_row: (first_line / f) as u32,
                    width: out_w as u32,
                    total_rows: b.total_lines.map(|t| t / f as u32),
                    rows,
                });
            }
        })
        .expect("spawn the preview thread")
}

/// Decodes stored images (thumbnails, previews, whole pages) for textures.
fn spawn_images(images: ImageStore, emit: Emit) -> Sender<ImageRequest> {
    let (tx, rx) = unbounded::<ImageRequest>();
    let _ = std::thread::Builder::new()
        .name("folio-images".into())
        .spawn(move || {
            for req in rx {
                let Ok(bytes) = images.get(req.sha256()) else {
                    continue;
                };
                let decoded = match &req {
                    ImageRequest::Page(i) if i.encoding == Encoding::G4 => {
                        let r = crate::imaging::encode::decode_g4(&bytes, i.width, i.height, i.dpi);
                        image::GrayImage::from_raw(r.width, r.height, r.data)
                            .map(image::DynamicImage::ImageLuma8)
                    }
                    _ => image::load_from_memory(&bytes).ok(),
                };
                if let Some(img) = decoded {
                    let rgba = img.to_rgba8();
                    emit(Event::Image {
                        sha256: req.sha256().to_string(),
                        width: rgba.width() as usize,
                        height: rgba.height() as usize,
                        rgba: rgba.into_raw(),
                    });
                }
            }
        });
    tx
}

/// Runs the uploader (watching for new batches) while uploads are on: `true`
/// on the channel turns them on, `false` pauses after the current record. An
/// error (a target that cannot be set up) pauses them until resumed.
fn spawn_uploads(data_dir: PathBuf, cfg: Config, actor: Actor, emit: Emit) -> Sender<bool> {
    use crossbeam_channel::RecvTimeoutError;
    let (tx, rx) = unbounded::<bool>();
    let _ = std::thread::Builder::new()
        .name("folio-upload".into())
        .spawn(move || {
            let mut on = true;
            loop {
                while !on {
                    match rx.recv() {
                        Ok(v) => on = v,
                        Err(_) => return,
                    }
                }
                emit(Event::UploadsRunning(true));
                let stop = Arc::new(AtomicBool::new(false));
                let mut closing = false;
                std::thread::scope(|sc| {
                    let run = sc.spawn(|| {
                        upload_until_stopped(&data_dir, &cfg, &actor, &emit, stop.clone())
                    });
                    loop {
                        match rx.recv_timeout(std::time::Duration::from_millis(200)) {
                            Ok(true) => {}
                            Ok(false) => on = false,
                            Err(RecvTimeoutError::Disconnected) => (on, closing) = (false, true),
                            Err(RecvTimeoutError::Timeout) if run.is_finished() => break,
                            Err(RecvTimeoutError::Timeout) => {}
                        }
                        if !on {
                            stop.store(true, Ordering::SeqCst);
                            break;
                        }
                    }
                    if let Ok(Err(e)) = run.join() {
                        emit(Event::Error(format!("uploads paused: {e}")));
                        on = false;
                    }
                });
                emit(Event::UploadsRunning(false));
                if closing {
                    return;
                }
            }
        });
    tx
}

fn upload_until_stopped(
    data_dir: &std::path::Path,
    cfg: &Config,
    actor: &Actor,
    emit: &Emit,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut store = Store::open(data_dir).map_err(|e| e.to_string())?;
    let mut target = crate::upload::target(&cfg.upload, data_dir).map_err(|e| e.to_string())?;
    for w in target.warnings() {
        tracing::warn!("{w}");
    }
    let live = emit.clone();
    let opts = UploadOptions {
        batch: None,
        watch: true,
        stop,
        live: Some(Arc::new(move |n| live(Event::UploadBytes(n)))),
    };
    uploader::run(&mut store, cfg, actor, target.as_mut(), &opts, &mut |e| {
        emit(Event::Upload(e))
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}
