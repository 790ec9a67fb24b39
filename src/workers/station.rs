//! The station window's workers. The window sends [`Command`]s through
//! [`Station::send`] and renders [`Event`]s; it never touches the database, a
//! socket or a scanner. Threads, each named and joined by
//! [`Station::shutdown`]:
//!
//! - `folio-store`, the store actor: owns the write connection and answers
//!   review, close, approve and queue commands at any time, a scan or not;
//! - `folio-scanner`: runs scans and page rescans one at a time (their sides
//!   are committed through a connection of its own, side by side, so the store
//!   actor waits at most for one side's transaction), with `folio-capture`,
//!   the imaging pool and `folio-preview` under it for the scan's length;
//! - `folio-reader`: builds what the window shows (batches, review queue,
//!   outbox, a batch's tree) from its own WAL connection, once for a burst of
//!   changes, recomputing per-batch facts only for the batches that changed;
//! - `folio-images`: decodes thumbnails and pages for textures;
//! - `folio-upload`: works off the outbox (watching for new batches) with its
//!   own connection, until paused.
//!
//! Commands go over bounded channels: a full queue is refused at once with
//! [`StationError::Busy`] rather than blocking the window. Events go over a
//! bounded channel too: live-view bands are dropped when it is full (the
//! finished side's thumbnail follows), other events wait, so a window that
//! stops draining holds the workers back instead of growing memory. Every
//! event is followed by a call to `wake`, which repaints the window.

mod actor;
mod images;
mod reader;
mod scanner;
mod text;
mod uploads;
mod worklist;

use super::review::ReviewError;
use super::scan::{ScanError, ScanProgress, ScanReport};
use super::scan_choice::ChoiceError;
use super::upload::{UploadEvent, UploadWorkError};
use crate::batch::PatientId;
use crate::batch::approval::{ApprovalFacts, Overrides};
use crate::batch::roles::{self, Action, Refusal};
use crate::config::Config;
use crate::store::{
    Actor, BatchRow, BatchTree, DocChoice, OutboxRow, PageDecision, PatientMismatch, ReviewItem,
    StoreError, StoredImage,
};
use crossbeam_channel::{Receiver, Sender, TrySendError, bounded};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use thiserror::Error;

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
    /// The worklist entry (the EHR's appointment id) an on-demand scan is
    /// for: its batch is linked to it, and the entry is done once the batch
    /// is delivered, verified.
    pub appointment: Option<String>,
    /// Backend options (NAME=VALUE) on top of the profile's.
    pub options: Vec<(String, String)>,
    /// Sheets counted for the batch (from the box's slip).
    pub expected_sheets: Option<u32>,
}

/// A PIN or passphrase as typed: never printed (its `Debug` hides it).
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone)]
pub enum Command {
    /// Check an operator's PIN; answered by [`Event::SignedIn`]. Every
    /// outcome is audited; five wrong PINs lock the account.
    SignIn {
        id: String,
        secret: Secret,
    },
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
    /// Draw a batch's sample for inspection (refused while one is open or
    /// passed).
    DrawSample(String),
    /// Ask for a batch's searchable text (OCR), read by the `folio-ocr`
    /// threads after capture.
    RequestText(String),
    /// Fetch the on-demand worklist from the EHR now (the `folio-worklist`
    /// thread also fetches every `[worklist] refresh_minutes`).
    RefreshWorklist,
    /// A sampled side's verdict: passed (`failure` None) or failed, why.
    SampleVerdict {
        batch: String,
        side: u32,
        failure: Option<String>,
    },
    /// Queue a parked batch again (sent when uploads are on: a pause stays).
    RetryUpload(String),
    PauseUploads,
    ResumeUploads,
    /// Write the Settings screen's form into `config.toml`; answered by
    /// [`Event::SettingsSaved`].
    SaveSettings(super::settings::SettingsForm),
    /// Record where a batch's paper is (a box or trolley label).
    SetPaperLocation {
        batch: String,
        location: String,
    },
    /// Place a legal hold on a batch or one of its records.
    PlaceHold {
        batch: String,
        record: Option<String>,
        kind: crate::batch::retention::HoldKind,
        reason: String,
    },
    /// Lift a legal hold in force.
    LiftHold {
        id: i64,
        reason: String,
    },
    /// Certify the destruction of batches' paper: the signed-in supervisor
    /// authorises, the witness signs in with their own secret here.
    CertifyDestruction {
        batches: Vec<String>,
        method: String,
        witness: String,
        witness_secret: Secret,
    },
    /// Productivity figures of the batches started on these UTC days (both
    /// included), read by the reader; answered by [`Event::Stats`].
    Stats {
        from: time::Date,
        to: time::Date,
    },
}

impl Command {
    /// What the rule ([`crate::batch::roles`]) calls the command, and the
    /// batch it is about; `None` for reading and signing in.
    pub fn action(&self) -> Option<(Action, Option<&str>)> {
        use Action as A;
        Some(match self {
            Command::SignIn { .. }
            | Command::Refresh
            | Command::OpenBatch(_)
            | Command::BrowseBatch(_)
            | Command::Stats { .. }
            | Command::RefreshWorklist => return None,
            Command::Scan(_) => (A::Scan, None),
            Command::CloseBatch(b) => (A::CloseBatch, Some(b.as_str())),
            Command::ApproveFlag(_) => (A::DecidePage, None),
            Command::RestorePage { batch, .. } => (A::RestorePage, Some(batch.as_str())),
            Command::RotatePage { batch, .. } => (A::DecidePage, Some(batch.as_str())),
            Command::FixIdentifier { batch, .. } => (A::FixIdentifier, Some(batch.as_str())),
            Command::DecidePage {
                batch,
                decision: PageDecision::MarkRescan(_),
                ..
            }
            | Command::RescanPage { batch, .. } => (A::Rescan, Some(batch.as_str())),
            Command::DecidePage { batch, .. } => (A::DecidePage, Some(batch.as_str())),
            Command::SetExpectedSheets { batch, .. } => {
                (A::SetExpectedSheets, Some(batch.as_str()))
            }
            Command::ApproveBatch { batch, overrides } => (
                if overrides.any() {
                    A::OverrideApproval
                } else {
                    A::ApproveBatch
                },
                Some(batch.as_str()),
            ),
            Command::ChoosePatient { batch, .. } => (A::ChoosePatient, Some(batch.as_str())),
            Command::DrawSample(b) | Command::SampleVerdict { batch: b, .. } => {
                (A::InspectSample, Some(b.as_str()))
            }
            Command::RetryUpload(b) => (A::ManageUploads, Some(b.as_str())),
            Command::RequestText(b) => (A::RequestText, Some(b.as_str())),
            Command::PauseUploads | Command::ResumeUploads => (A::ManageUploads, None),
            Command::SaveSettings(_) => (A::ChangeSettings, None),
            Command::SetPaperLocation { .. } => (A::RecordPaperLocation, None),
            Command::PlaceHold { .. } | Command::LiftHold { .. } => (A::LegalHold, None),
            Command::CertifyDestruction { .. } => (A::CertifyDestruction, None),
        })
    }
}

/// How many of the outbox's batches the window shows receipts of.
pub const RECEIPT_BATCHES: usize = 50;

/// What the window shows of the station's state.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub batches: Vec<BatchRow>,
    /// The name each batch is shown by: an id prefix no other batch in the
    /// store shares (see [`crate::batch::short_names`]).
    pub names: HashMap<String, String>,
    /// Shared, so the window can hold it each frame without copying.
    pub review: Arc<Vec<ReviewItem>>,
    /// Documents of the batches in review, by batch id (to move pages into).
    pub documents: HashMap<String, Vec<DocChoice>>,
    /// The latest sample of each batch in review that has one, by batch id.
    pub samples: HashMap<String, crate::store::Sample>,
    /// What the approval rule knows of each batch in review, by batch id, so
    /// the window asks [`crate::batch::approval::decide`] as the CLI does.
    pub approval: HashMap<String, ApprovalFacts>,
    /// On-demand records whose record sheet names another patient than the
    /// one typed, each with the paper's identifier when it is a valid one.
    pub mismatches: Vec<(PatientMismatch, Option<PatientId>)>,
    pub outbox: Vec<OutboxRow>,
    /// The newest read-back of each document of the batches in the outbox
    /// (the newest [`RECEIPT_BATCHES`] of them), by batch id.
    pub receipts: HashMap<String, Vec<crate::store::Receipt>>,
    /// Batches whose paper is held or due for destruction, with what still
    /// stops each going (the Destruction screen).
    pub paper: Vec<crate::workers::destruction::PaperRow>,
    /// Legal holds in force.
    pub holds: Vec<crate::store::LegalHold>,
    /// The destruction register's newest entries, newest first.
    pub certificates: Vec<crate::store::RegisterEntry>,
    /// What the cache takes on disk and what is free there.
    pub disk: Option<crate::store::DiskUsage>,
    /// What protects the data folder at rest (an encrypted disk or not).
    pub at_rest: Option<crate::batch::at_rest::AtRest>,
    /// Folio's own encryption of the data, in words (none: not on).
    pub encryption: Option<String>,
    pub devices: Vec<String>,
    pub profiles: Vec<String>,
    pub upload_target: String,
    /// The on-demand worklist as last fetched, with the station's marks
    /// (None: no `[worklist]`).
    pub worklist: Option<Arc<crate::workers::worklist::Worklist>>,
    /// Whether the station has operator accounts (without any, the window
    /// runs as the demo account).
    pub accounts: bool,
}

#[derive(Debug)]
pub enum Event {
    /// The answer to [`Command::SignIn`]: who signed in (their role in
    /// [`Actor::role`]), or why not, in words.
    SignedIn(Result<Actor, String>),
    Snapshot(Box<Snapshot>),
    /// Every side of the batch being gone through in Review.
    Pages {
        batch: String,
        items: Arc<Vec<ReviewItem>>,
    },
    Tree(Box<BatchTree>),
    /// A scan started; its token stops it.
    ScanStarted(CancelToken),
    /// A page rescan started; its token stops it.
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
    Error(StationError),
    /// The answer to [`Command::Stats`]: every grouping of the figures.
    Stats(Box<crate::batch::stats::Overview>),
}

/// Why a scan stopped early, and whether it can be resumed.
#[derive(Debug, Clone, Default)]
pub struct ScanFailure {
    /// The whole story in one line, as the command line says it (log).
    pub message: String,
    /// What happened, in the window's words (no ids, no commands).
    pub what: String,
    /// The batch left open, to resume or close.
    pub batch: Option<String>,
    /// Stopped on purpose (Stop, Esc, closing the window): not a fault.
    pub stopped: bool,
    /// What to do at the scanner, said first when there is something to do.
    pub what_to_do: Option<String>,
    /// The sides the batch keeps.
    pub kept: Option<u32>,
}

impl ScanFailure {
    /// A scan that could not start (a setting refused, no such scanner).
    pub fn refused(message: String) -> ScanFailure {
        ScanFailure {
            what: message.clone(),
            message,
            ..ScanFailure::default()
        }
    }

    /// What a scan's error means for the window.
    pub fn of(e: &crate::workers::scan::ScanError) -> ScanFailure {
        use crate::capture::CaptureError;
        use crate::workers::scan::ScanError;
        let message = e.to_string();
        match e {
            ScanError::Interrupted { batch, kept, fault } => ScanFailure {
                message,
                what: fault.what(),
                batch: Some(batch.clone()),
                stopped: matches!(fault, CaptureError::Cancelled { .. }),
                what_to_do: fault.what_to_do().map(str::to_string),
                kept: Some(*kept),
            },
            ScanError::Storage { batch, kept, cause } => ScanFailure {
                message,
                what: format!("the sides could not be stored: {cause}"),
                batch: Some(batch.clone()),
                stopped: false,
                what_to_do: Some(
                    "fix what the message below says (often: free disk space), then resume".into(),
                ),
                kept: Some(*kept),
            },
            _ => ScanFailure::refused(message),
        }
    }
}

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

/// Stops one scan: each scan and page rescan gets a fresh token, carried to
/// the window in [`Event::ScanStarted`]. Nobody resets a token, so a Stop can
/// never be lost to a scan starting at the same moment.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Stops the scan after the side being read (sides already stored are
    /// kept).
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag the capture thread watches.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }
}

impl PartialEq for CancelToken {
    /// The same token, not two tokens in the same state.
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CancelToken {}

/// What went wrong with a command, typed until the window puts it in words.
#[derive(Debug, Error)]
pub enum StationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Review(#[from] ReviewError),
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Choice(#[from] ChoiceError),
    #[error(transparent)]
    Upload(#[from] UploadWorkError),
    #[error("uploads paused: {0}")]
    UploadsPaused(UploadWorkError),
    #[error(transparent)]
    Refused(#[from] Refusal),
    #[error(transparent)]
    Access(#[from] crate::workers::access::AccessError),
    #[error(transparent)]
    Operator(#[from] crate::store::OperatorError),
    #[error(transparent)]
    Destruction(#[from] crate::workers::destruction::DestructionError),
    #[error("{0}")]
    Input(String),
    #[error("that record no longer waits for a choice of patient: look again")]
    NoLongerAsked,
    #[error("the station is still busy with earlier {0}: try again in a moment")]
    Busy(&'static str),
    #[error(
        "the station's workers have stopped ({0}): close and reopen Folio; every side stored is kept"
    )]
    Stopped(&'static str),
}

/// Width of the live preview, pixels.
pub const LIVE_WIDTH: u32 = 480;

/// Commands waiting for the store actor, scans waiting for the scanner, and
/// events waiting for the window, at most.
const COMMAND_QUEUE: usize = 64;
const SCAN_QUEUE: usize = 4;
const EVENT_QUEUE: usize = 4096;
/// How long [`Station::shutdown`] waits for the threads to end.
pub const SHUTDOWN_WITHIN: Duration = Duration::from_millis(1800);

type Wake = Arc<dyn Fn() + Send + Sync>;

/// Sends events to the window and wakes it.
#[derive(Clone)]
pub(crate) struct Emitter {
    tx: Sender<Event>,
    wake: Wake,
}

impl Emitter {
    /// Sends an event, waiting while the window's queue is full.
    pub(crate) fn emit(&self, e: Event) {
        if self.tx.send(e).is_ok() {
            (self.wake)();
        }
    }

    /// Sends an event only if there is room (live-view bands).
    pub(crate) fn offer(&self, e: Event) {
        if self.tx.try_send(e).is_ok() {
            (self.wake)();
        }
    }

    pub(crate) fn error(&self, e: impl Into<StationError>) {
        self.emit(Event::Error(e.into()));
    }
}

/// What changed, for the reader to show again.
#[derive(Debug, Clone)]
pub(crate) enum Read {
    /// Everything may have changed (uploads, a flag approved).
    All,
    /// This batch's row, review items or facts changed.
    Batch(String),
    /// The record and document tree of a batch, for the window.
    Tree(String),
    /// Go through every side of a batch in Review (None: back to the flags).
    Browse(Option<String>),
    /// The scanners found.
    Devices(Vec<String>),
    /// Productivity figures for these days.
    Stats { from: time::Date, to: time::Date },
}

/// A command with whoever sent it.
pub(crate) type Job = (Actor, Command);

/// Who is signed in at the window (`None`: locked, or nobody yet), and
/// whether the station has accounts; shared by the window's end and the
/// workers (the store actor signs people in, the reader sees accounts made).
#[derive(Clone, Default)]
pub(crate) struct Session {
    signed_in: Arc<Mutex<Option<Actor>>>,
    accounts: Arc<AtomicBool>,
    /// The sitting: who signed in last, and an id for their sign-in. The
    /// same operator signing in again after a lock goes on with it (the
    /// scanning session and its test target hold); anyone else starts anew.
    sitting: Arc<Mutex<Option<(String, String)>>>,
}

impl Session {
    pub(crate) fn set(&self, who: Option<Actor>) {
        if let (Some(a), Ok(mut sitting)) = (&who, self.sitting.lock())
            && sitting.as_ref().is_none_or(|(op, _)| *op != a.operator)
        {
            *sitting = Some((a.operator.clone(), uuid::Uuid::now_v7().to_string()));
        }
        if let Ok(mut s) = self.signed_in.lock() {
            *s = who;
        }
    }

    /// The id of the current sitting (see [`Session::set`]).
    pub(crate) fn sitting(&self) -> Option<String> {
        self.sitting
            .lock()
            .ok()
            .and_then(|s| s.as_ref().map(|(_, id)| id.clone()))
    }

    fn get(&self) -> Option<Actor> {
        self.signed_in.lock().ok().and_then(|s| s.clone())
    }

    pub(crate) fn set_accounts(&self, on: bool) {
        self.accounts.store(on, Ordering::SeqCst);
    }

    fn accounts(&self) -> bool {
        self.accounts.load(Ordering::SeqCst)
    }
}

/// The window's end of the workers.
pub struct Station {
    store: Option<Sender<Job>>,
    scans: Option<Sender<Job>>,
    reads: Option<Sender<Read>>,
    uploads: Option<Sender<bool>>,
    images: Option<Sender<ImageRequest>>,
    /// Asks the worklist thread to fetch now (None: no `[worklist]`).
    worklist: Option<Sender<()>>,
    pub events: Receiver<Event>,
    /// The token of the scan running, to stop it when the station shuts down.
    running: Arc<Mutex<Option<CancelToken>>>,
    session: Session,
    /// Who reads and signs in (the station itself).
    station_actor: Actor,
    threads: Vec<JoinHandle<()>>,
    /// Stops the OCR threads (after the page each is reading).
    text_stop: Arc<AtomicBool>,
}

/// Starts the workers on the station data in `data_dir`. `actor` is who
/// acts until someone signs in: at a station without accounts, everyone (the
/// demo account); `accounts` says whether the station has them, as far as
/// the caller knows (the reader keeps it up to date), so that until someone
/// signs in nothing but reading is let through.
pub fn spawn(
    data_dir: PathBuf,
    cfg: Config,
    actor: Actor,
    accounts: bool,
    wake: Wake,
) -> Result<Station, StoreError> {
    let (ev_tx, ev_rx) = bounded::<Event>(EVENT_QUEUE);
    let emit = Emitter { tx: ev_tx, wake };
    let spawn_err = |e: std::io::Error| StoreError::io(&data_dir, e);
    let (read_tx, read_rx) = bounded::<Read>(COMMAND_QUEUE);
    let (store_tx, store_rx) = bounded::<Job>(COMMAND_QUEUE);
    let (scan_tx, scan_rx) = bounded::<Job>(SCAN_QUEUE);
    let (upload_tx, upload_rx) = bounded::<bool>(COMMAND_QUEUE);
    let (image_tx, image_rx) = bounded::<ImageRequest>(images::QUEUE);
    let running = Arc::new(Mutex::new(None));
    let session = Session::default();
    session.set_accounts(accounts);
    if !accounts || actor.role.is_some() {
        session.set(Some(actor.clone()));
    }
    let text_stop = Arc::new(AtomicBool::new(false));
    let ctx = actor::Ctx {
        stop: text_stop.clone(),
        data_dir: data_dir.clone(),
        cfg,
        actor: actor.clone(),
        emit: emit.clone(),
        reads: read_tx.clone(),
        session: session.clone(),
    };
    let mut threads = vec![
        reader::spawn(&ctx, read_rx).map_err(spawn_err)?,
        actor::spawn(&ctx, store_rx).map_err(spawn_err)?,
        scanner::spawn(&ctx, scan_rx, running.clone()).map_err(spawn_err)?,
        images::spawn(&ctx, image_rx).map_err(spawn_err)?,
        uploads::spawn(&ctx, upload_rx).map_err(spawn_err)?,
    ];
    for n in 0..ctx.cfg.ocr.workers.clamp(1, 8) {
        threads.push(text::spawn(&ctx, n, text_stop.clone()).map_err(spawn_err)?);
    }
    let worklist_tx = match &ctx.cfg.worklist {
        Some(wl) => {
            let (tx, rx) = bounded::<()>(1);
            threads.push(worklist::spawn(&ctx, wl, rx).map_err(spawn_err)?);
            Some(tx)
        }
        None => None,
    };
    let _ = read_tx.try_send(Read::All);
    Ok(Station {
        store: Some(store_tx),
        scans: Some(scan_tx),
        reads: Some(read_tx),
        uploads: Some(upload_tx),
        images: Some(image_tx),
        worklist: worklist_tx,
        events: ev_rx,
        running,
        session,
        station_actor: actor,
        threads,
        text_stop,
    })
}

impl Station {
    /// Hands a command to the worker that owns it, never blocking the
    /// caller: a full queue is refused with [`StationError::Busy`].
    pub fn send(&self, c: Command) -> Result<(), StationError> {
        fn put<T>(tx: &Option<Sender<T>>, v: T, what: &'static str) -> Result<(), StationError> {
            let tx = tx.as_ref().ok_or(StationError::Stopped(what))?;
            tx.try_send(v).map_err(|e| match e {
                TrySendError::Full(_) => StationError::Busy(what),
                TrySendError::Disconnected(_) => StationError::Stopped(what),
            })
        }
        // The rule first, as far as it can be told here (the role); the
        // workers ask it again with what the store knows (four eyes).
        let actor = match c.action() {
            Some((action, _)) => {
                let who = self.session.get();
                roles::permit(
                    who.as_ref().and_then(|a| a.role),
                    action,
                    self.session.accounts(),
                )?;
                who.unwrap_or_else(|| self.station_actor.clone())
            }
            None => self.station_actor.clone(),
        };
        match c {
            Command::Refresh => put(&self.reads, Read::All, "reads"),
            Command::OpenBatch(b) => put(&self.reads, Read::Tree(b), "reads"),
            Command::BrowseBatch(b) => put(&self.reads, Read::Browse(b), "reads"),
            Command::Stats { from, to } => put(&self.reads, Read::Stats { from, to }, "reads"),
            Command::PauseUploads => put(&self.uploads, false, "upload commands"),
            Command::ResumeUploads => put(&self.uploads, true, "upload commands"),
            Command::RefreshWorklist => match put(&self.worklist, (), "worklist") {
                // A fetch already asked for answers this one too.
                Err(StationError::Busy(_)) => Ok(()),
                Err(StationError::Stopped(_))
                    if self.worklist.is_none() && self.store.is_some() =>
                {
                    Err(StationError::Input(
                        "this station has no worklist: set [worklist] in config.toml".into(),
                    ))
                }
                other => other,
            },
            c @ (Command::Scan(_) | Command::RescanPage { .. }) => {
                put(&self.scans, (actor, c), "scans")
            }
            c => put(&self.store, (actor, c), "commands"),
        }
    }

    /// Locks the window's end: nothing but reading and signing in passes
    /// until someone signs in (a scan running goes on).
    pub fn lock(&self) {
        self.session.set(None);
    }

    /// Who is signed in (`None` while locked).
    pub fn signed_in(&self) -> Option<Actor> {
        self.session.get()
    }

    /// Whether the station has operator accounts (the window runs as the
    /// demo account where it has none).
    pub fn has_accounts(&self) -> bool {
        self.session.accounts()
    }

    /// Asks for an image to be decoded for a texture; false when the decoder
    /// is busy (ask again on a later frame).
    pub fn request_image(&self, req: ImageRequest) -> bool {
        self.images
            .as_ref()
            .is_some_and(|tx| tx.try_send(req).is_ok())
    }

    /// Stops the scan running (after the side being read; every side stored
    /// is kept and the batch can be resumed), closes every queue and waits
    /// for the threads, at most [`SHUTDOWN_WITHIN`]. Returns the names of
    /// threads still busy then (an upload finishing a request), which end
    /// on their own; what they hold is claimed with a lease another process
    /// takes over.
    pub fn shutdown(&mut self) -> Vec<String> {
        if let Some(token) = self.running.lock().ok().and_then(|r| r.clone()) {
            token.cancel();
        }
        self.text_stop.store(true, Ordering::Relaxed);
        (
            self.store,
            self.scans,
            self.reads,
            self.uploads,
            self.images,
            self.worklist,
        ) = (None, None, None, None, None, None);
        let deadline = Instant::now() + SHUTDOWN_WITHIN;
        while Instant::now() < deadline && self.threads.iter().any(|t| !t.is_finished()) {
            // Events still sent by the workers must not hold them back.
            while self.events.try_recv().is_ok() {}
            std::thread::sleep(Duration::from_millis(10));
        }
        let (done, busy): (Vec<_>, Vec<_>) = self.threads.drain(..).partition(|t| t.is_finished());
        for t in done {
            let _ = t.join();
        }
        busy.iter()
            .map(|t| t.thread().name().unwrap_or("folio").to_string())
            .collect()
    }
}

impl Drop for Station {
    fn drop(&mut self) {
        let busy = self.shutdown();
        if !busy.is_empty() {
            tracing::warn!(
                "station closed with threads still ending: {}",
                busy.join(", ")
            );
        }
    }
}
