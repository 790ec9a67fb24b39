//! `folio scan`: a whole feeder load into a batch, through the same processing
//! and cache as imported files.
//!
//! The capture thread (`folio-capture`) opens the scanner, reads one side after
//! another and hands each finished side to the pipeline; it waits only on the
//! pipeline's bounded queue. Bands of lines go to an optional sink for a live
//! preview, never blocking capture. A fault keeps every completed side, records
//! what happened on the batch, and leaves it resumable.

use super::pipeline::{self, Closed, Feeder, Payload};
use super::process::SideMeta;
use crate::batch::BatchSource;
use crate::batch::separate::{SeparationParams, Separator, SideFacts};
use crate::capture::demo::DemoFeeder;
use crate::capture::folder::{self, FolderSource};
use crate::capture::sane::Sane;
use crate::capture::{
    Band, CaptureError, DEMO_DEVICE, DeviceInfo, PageSource, ScanSettings, SourceKind,
};
use crate::config::{Config, ConfigError};
use crate::imaging::target::TargetCheck;
use crate::store::{Actor, NewBatch, NewSession, PageRow, SessionRow, Store, StoreError};
use crossbeam_channel::Sender;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Capture(CaptureError),
    #[error(
        "batch {batch} stopped: {fault}. The {kept} sides scanned so far are kept; resume with `folio scan --resume {batch}`"
    )]
    Interrupted {
        batch: String,
        kept: u32,
        fault: CaptureError,
    },
    #[error(
        "batch {batch} stopped: {cause}. The {kept} sides stored so far are kept; resume with `folio scan --resume {batch}`"
    )]
    Storage {
        batch: String,
        kept: u32,
        cause: StoreError,
    },
}

impl ScanError {
    /// The exit code of `folio scan`.
    pub fn exit_code(&self) -> u8 {
        match self {
            ScanError::Capture(f) | ScanError::Interrupted { fault: f, .. } => f.exit_code(),
            ScanError::Storage { .. } => 4,
            _ => 1,
        }
    }
}

/// What to scan.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    pub device: String,
    pub settings: ScanSettings,
    pub label: Option<String>,
    pub specialty: Option<String>,
    pub resume: Option<String>,
    pub source: Option<BatchSource>,
    /// Leave the batch open after the feeder empties, to add more loads (or
    /// flatbed pages) with `--resume`; `folio close` separates it.
    pub keep_open: bool,
    /// Sheets counted for the batch, to reconcile in review.
    pub expected_sheets: Option<u32>,
    /// Store clean typed grey pages as bilevel (the profile's choice; unset:
    /// the station's).
    pub typed_as_bilevel: Option<bool>,
    /// The patient of an on-demand scan: pages before any record sheet are
    /// theirs (the identifier was typed in, not printed on a sheet).
    pub patient: Option<crate::batch::PatientId>,
    /// Type of pages before any document sheet (default: the station's).
    pub doc_type: Option<String>,
    /// Set from another thread (Ctrl-C, the Stop button) to stop the scan.
    pub cancel: Arc<AtomicBool>,
    /// The sign-in this scan belongs to (the window's); unset, this scan is
    /// a sign-in of its own (one CLI command).
    pub sign_in: Option<String>,
    /// The scan profile's name (unset: `default`, the station's settings).
    pub profile: Option<String>,
    /// Ask for the batch's text (OCR) in this language.
    pub ocr: Option<String>,
    /// What each patch code does in a new batch (its profile's; unset: the
    /// station's `[patches]`).
    pub patches: Option<crate::batch::protocol::PatchMeanings>,
}

/// Lines of a side for a live preview.
#[derive(Debug, Clone)]
pub struct BandEvent {
    pub side: u32,
    pub first_line: u32,
    pub width: u32,
    pub channels: u32,
    pub total_lines: Option<u32>,
    pub data: Vec<u8>,
}

/// Progress after each stored side.
#[derive(Debug, Clone)]
pub struct ScanProgress {
    /// The batch being scanned.
    pub batch_id: String,
    /// Sides stored by this run of the scan.
    pub sides: u32,
    /// Sides the batch holds now (with those scanned before a resume).
    pub batch_sides: u32,
    pub sides_per_minute: f64,
    pub flags: usize,
    /// The side just stored, and what the window shows of it.
    pub side: u32,
    pub sheet: u32,
    pub thumb_sha256: Option<String>,
    pub preview_sha256: Option<String>,
    pub blank: bool,
    pub page_flags: Vec<crate::batch::FlagCode>,
    /// The batch separated as far as it has been scanned.
    pub layout: crate::batch::Layout,
    /// The session test target's result, when the side just stored is it.
    pub target: Option<TargetCheck>,
}

/// The outcome of a scan that reached the end of the feeder load.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanReport {
    pub batch_id: String,
    pub device: String,
    pub stored_now: u32,
    /// The scanning session, with its test target's result.
    pub session: Option<Box<SessionRow>>,
    /// None when the batch was left open.
    #[serde(flatten)]
    pub closed: Option<Closed>,
}

/// Describes every device: SANE's (on a capture thread, as libsane wants) and
/// the demo feeder.
pub fn list_devices() -> Result<Vec<DeviceInfo>, CaptureError> {
    let sane = std::thread::Builder::new()
        .name("folio-capture".into())
        .spawn(|| Sane::init().and_then(|s| s.describe_all()))
        .map_err(|e| CaptureError::Other(e.to_string()))?
        .join()
        .map_err(|_| {
            CaptureError::Other("the SANE library crashed while listing devices".into())
        })??;
    Ok(sane.into_iter().chain([demo_info()]).collect())
}

fn demo_info() -> DeviceInfo {
    DeviceInfo {
        name: DEMO_DEVICE.into(),
        vendor: "Folio".into(),
        model: "demo feeder (synthetic case notes)".into(),
        kind: "virtual sheet-fed scanner".into(),
        sources: vec![
            ("Feeder".into(), Some(SourceKind::Feeder)),
            ("Duplex".into(), Some(SourceKind::Duplex)),
        ],
        modes: vec!["Gray".into()],
        resolutions: vec!["100..600 step 1".into()],
        max_area_mm: Some((210.0, 297.0)),
        options: Vec::new(),
    }
}

/// The device to use when none is named: the configured one, else the first SANE
/// scanner that offers `source` (any, if none is asked for), else the demo
/// feeder. Without a source it only lists names: opening every device to read
/// its options can take seconds with network scanners.
pub fn default_device(cfg: &Config, source: Option<SourceKind>) -> String {
    if let Some(d) = &cfg.default_device {
        return d.clone();
    }
    let pick = move || -> Option<String> {
        let sane = Sane::init().ok()?;
        match source {
            None => sane
                .devices()
                .ok()?
                .into_iter()
                .next()
                .map(|(name, ..)| name),
            Some(want) => sane
                .describe_all()
                .ok()?
                .into_iter()
                .find(|d| d.sources.iter().any(|(_, k)| *k == Some(want)))
                .map(|d| d.name),
        }
    };
    std::thread::Builder::new()
        .name("folio-capture".into())
        .spawn(pick)
        .ok()
        .and_then(|h| h.join().ok().flatten())
        .unwrap_or_else(|| DEMO_DEVICE.into())
}

/// Scans a feeder load into a new batch, or continues one.
pub fn scan(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    opts: &ScanOptions,
    bands: Option<Sender<BandEvent>>,
    mut on_progress: impl FnMut(ScanProgress),
) -> Result<ScanReport, ScanError> {
    crate::config::check_scan(&opts.settings, opts.expected_sheets)?;
    store.check_at_rest(cfg.require_encrypted_disk)?;
    let duplex_wanted = match opts.settings.source {
        Some(s) => s == SourceKind::Duplex,
        None => opts.device == DEMO_DEVICE,
    };
    let (batch_id, duplex, specialty) = start_or_resume(store, actor, opts, duplex_wanted)?;
    let session = open_session(store, actor, opts)?;
    let facts = store.side_facts(&batch_id)?;
    let first_side = facts.len() as u32;
    let capture = Capture {
        device: opts.device.clone(),
        settings: opts.settings.clone(),
        batch_id: batch_id.clone(),
        duplex,
        first_side,
        bands,
        cancel: opts.cancel.clone(),
    };
    let pattern = cfg.hospital_pattern()?;
    let cfg = &scan_config(cfg, opts);
    let fixes = std::collections::HashMap::new();
    let patient = store.batch_patient(&batch_id)?;
    let patches = store.batch_patches(&batch_id)?;
    let mut separator = Separator::new(SeparationParams {
        batch_id: &batch_id,
        default_specialty: None,
        default_doc_type: cfg.default_document_type.as_deref(),
        hospital_pattern: &pattern,
        fixes: &fixes,
        default_patient: patient.as_ref(),
        patches: patches.as_ref().unwrap_or(&cfg.patches),
    });
    for f in &facts {
        separator.push(f);
    }
    let started = Instant::now();
    let earlier = first_side;
    let run = pipeline::run(
        store,
        cfg,
        ("folio-capture", Some(&session)),
        move |f| capture.run(f),
        |row, n| {
            separator.push(&facts_of(row));
            on_progress(progress_of(row, (n, earlier), started, separator.layout()));
        },
    );
    let stored_now = outcome(store, actor, opts, (&batch_id, first_side), run)?;
    let session = store.session(&session)?.map(Box::new);
    if opts.keep_open {
        store.audit(
            actor,
            "batch.load",
            &batch_id,
            &format!("{stored_now} sides scanned; batch left open"),
        )?;
        return Ok(ScanReport {
            batch_id,
            device: opts.device.clone(),
            stored_now,
            session,
            closed: None,
        });
    }
    Ok(ScanReport {
        device: opts.device.clone(),
        stored_now,
        session,
        closed: Some(pipeline::close_batch::<ScanError>(
            store,
            cfg,
            actor,
            &batch_id,
            specialty.as_deref(),
        )?),
        batch_id,
    })
}

/// The scanning session this scan belongs to: its sign-in (this command,
/// when none is given), the device and the profile.
fn open_session(
    store: &mut Store,
    actor: &Actor,
    opts: &ScanOptions,
) -> Result<String, StoreError> {
    let sitting = (opts.sign_in.as_deref(), opts.profile.as_deref());
    session_of(store, actor, (&opts.device, &opts.settings), sitting)
}

/// The session of a scan (or a page's rescan) on `device` with `settings`,
/// for the sign-in and profile of `sitting` (no sign-in: this call is one).
pub fn session_of(
    store: &mut Store,
    actor: &Actor,
    (device, settings): (&str, &ScanSettings),
    (sign_in, profile): (Option<&str>, Option<&str>),
) -> Result<String, StoreError> {
    let (vendor, model) = device_identity(device);
    let own = uuid::Uuid::now_v7().to_string();
    store.open_session(
        &NewSession {
            sign_in: sign_in.unwrap_or(&own),
            device,
            vendor: &vendor,
            model: &model,
            profile: profile.unwrap_or("default"),
            settings: serde_json::json!({
                "dpi": settings.dpi,
                "mode": settings.mode,
                "source": settings.source,
                "page_size_mm": settings.page_size_mm,
            }),
        },
        actor,
    )
}

/// The vendor and model of `device`, as SANE lists it (once per process:
/// listing can take seconds with network scanners); empty when unknown.
pub fn device_identity(device: &str) -> (String, String) {
    if device == DEMO_DEVICE {
        let d = demo_info();
        return (d.vendor, d.model);
    }
    if device.starts_with(folder::PREFIX) {
        return ("Folio".into(), "drop folder".into());
    }
    if let Some(known) = crate::capture::sane::listed_identity(device) {
        return known;
    }
    let listed = std::thread::Builder::new()
        .name("folio-capture".into())
        .spawn(|| Sane::init().and_then(|s| s.devices()).is_ok())
        .ok()
        .and_then(|h| h.join().ok());
    listed
        .and_then(|_| crate::capture::sane::listed_identity(device))
        .unwrap_or_default()
}

/// The station's configuration as this scan uses it: pages checked against
/// the length asked for, the profile's bilevel choice, the on-demand type.
fn scan_config(cfg: &Config, opts: &ScanOptions) -> Config {
    let mut cfg = cfg.clone();
    if let Some((_, h)) = opts.settings.page_size_mm {
        cfg.quality.expected_length_mm = Some(h as f32);
    }
    if let Some(b) = opts.typed_as_bilevel {
        cfg.bilevel.enabled = b;
    }
    if opts.doc_type.is_some() {
        cfg.default_document_type = opts.doc_type.clone();
    }
    cfg
}

/// `counts`: the sides stored by this run, and those the batch held before.
fn progress_of(
    row: &PageRow,
    (n, earlier): (u32, u32),
    started: Instant,
    layout: crate::batch::Layout,
) -> ScanProgress {
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    ScanProgress {
        batch_id: row.batch_id.clone(),
        sides: n,
        batch_sides: earlier + n,
        sides_per_minute: if minutes > 0.0 {
            n as f64 / minutes
        } else {
            0.0
        },
        flags: layout.flag_count(),
        side: row.side,
        sheet: row.sheet,
        thumb_sha256: row.thumb_sha256.clone(),
        preview_sha256: row.preview_sha256.clone(),
        blank: row.blank,
        page_flags: row.flags.iter().map(|f| f.code).collect(),
        layout,
        target: row.target.clone(),
    }
}

/// The sides stored by a scan's run, or why it stopped: a storage failure or
/// a capture fault is recorded on the batch (left resumable), and a setting
/// the device refused before any side discards the empty batch.
fn outcome(
    store: &mut Store,
    actor: &Actor,
    opts: &ScanOptions,
    (batch_id, first_side): (&str, u32),
    run: pipeline::RunResult<Result<(), CaptureError>>,
) -> Result<u32, ScanError> {
    let kept = |store: &Store| {
        store
            .committed_sides(batch_id)
            .map(|c| c.len() as u32)
            .unwrap_or(first_side)
    };
    let stored_now = match run.stored {
        Ok(n) => n,
        Err(cause) => {
            let _ = store.set_batch_error(batch_id, &cause.to_string(), actor);
            return Err(ScanError::Storage {
                kept: kept(store),
                batch: batch_id.to_string(),
                cause,
            });
        }
    };
    let fault = match run.producer {
        Some(Ok(())) => return Ok(stored_now),
        Some(Err(fault)) => fault,
        None => CaptureError::Other("the capture thread crashed".into()),
    };
    let nothing_scanned = opts.resume.is_none() && kept(store) == 0;
    if nothing_scanned
        && matches!(
            fault,
            CaptureError::Unsupported(_) | CaptureError::NoSuchDevice(_)
        )
    {
        // A setting the device cannot honour: no batch was really started.
        store.discard_empty_batch(batch_id, &fault.to_string(), actor)?;
        return Err(ScanError::Capture(fault));
    }
    let message = format!("{}: {fault}", fault.code());
    store.set_batch_error(batch_id, &message, actor)?;
    Err(ScanError::Interrupted {
        kept: kept(store),
        batch: batch_id.to_string(),
        fault,
    })
}

/// Separates and closes a batch left open (`--keep-open`, or an interrupted
/// scan the operator decides to finish as it is).
pub fn close(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    batch: &str,
) -> Result<Closed, ScanError> {
    let b = store.open_batch(batch)?;
    pipeline::close_batch::<ScanError>(store, cfg, actor, &b.id, b.specialty.as_deref())
}

fn facts_of(row: &PageRow) -> SideFacts {
    SideFacts {
        side: row.side,
        sheet: row.sheet,
        face: Some(row.face),
        barcodes: row.barcodes.clone(),
        blank: row.blank,
        unreadable: row.error.clone(),
        flags: row.flags.clone(),
        target: row.target.as_ref().is_some_and(|t| t.report.is_some()),
        patch: row.patch,
        ..Default::default()
    }
}

fn start_or_resume(
    store: &mut Store,
    actor: &Actor,
    opts: &ScanOptions,
    duplex: bool,
) -> Result<(String, bool, Option<String>), ScanError> {
    if let Some(id) = &opts.resume {
        let b = store.open_batch(id)?;
        // A duplex sheet whose back was never read is scanned again whole: the
        // operator puts the last sheet back on the feeder.
        if b.duplex && b.sides % 2 == 1 {
            store.delete_page(
                &b.id,
                b.sides - 1,
                "front of a sheet whose back was not scanned; the sheet is rescanned",
                actor,
            )?;
        }
        store.audit(
            actor,
            "batch.resume",
            &b.id,
            &format!("scan resumed on {}", opts.device),
        )?;
        return Ok((b.id, b.duplex, b.specialty));
    }
    let id = uuid::Uuid::now_v7().to_string();
    store.create_batch(
        &NewBatch {
            id: id.clone(),
            label: opts.label.clone().unwrap_or_default(),
            source: opts.source.unwrap_or(BatchSource::SiteLibrary),
            specialty: opts.specialty.clone(),
            duplex,
            dpi: opts.settings.dpi,
            expected_sheets: opts.expected_sheets,
        },
        actor,
    )?;
    if let Some(language) = &opts.ocr {
        store.request_text(&id, language, actor, "asked for when the batch began")?;
    }
    if let Some(p) = &opts.patient {
        store.set_batch_patient(&id, p)?;
    }
    if let Some(m) = &opts.patches {
        store.set_batch_patches(&id, m)?;
    }
    Ok((id, duplex, opts.specialty.clone()))
}

/// Opens `device` (a SANE scanner, the demo feeder or a drop folder) and
/// runs `f` on it; `first_side` is where a resumed demo or folder picks up.
fn with_source<T>(
    device: &str,
    settings: &ScanSettings,
    duplex: bool,
    first_side: u32,
    f: impl FnOnce(&mut dyn PageSource) -> Result<T, CaptureError>,
) -> Result<T, CaptureError> {
    if device == DEMO_DEVICE {
        let mut settings = settings.clone();
        if settings.source.is_none() {
            settings.source = Some(if duplex {
                SourceKind::Duplex
            } else {
                SourceKind::Feeder
            });
        }
        return f(&mut DemoFeeder::new(&settings, first_side as usize)?);
    }
    if let Some(dir) = device.strip_prefix(folder::PREFIX) {
        let mut source = FolderSource::open(
            std::path::Path::new(dir),
            settings.dpi,
            duplex,
            first_side as usize,
        )?;
        return f(&mut source);
    }
    let sane = Sane::init()?;
    let mut scanner = sane.open(device)?;
    scanner.apply(settings)?;
    f(&mut scanner)
}

/// Captures a single side (a page rescanned to replace a stored one) on a
/// capture thread, as libsane wants. The demo feeder and a drop folder give
/// the side at position `side` of their stack.
pub fn capture_one(
    device: &str,
    settings: &ScanSettings,
    duplex: bool,
    side: u32,
    cancel: Arc<AtomicBool>,
) -> Result<crate::pixels::Raster, CaptureError> {
    let (device, settings) = (device.to_string(), settings.clone());
    std::thread::Builder::new()
        .name("folio-capture".into())
        .spawn(move || {
            with_source(&device, &settings, duplex, side, |source| {
                source.set_cancel(cancel);
                source
                    .next_side(&mut |_| {})?
                    .ok_or(CaptureError::FeederEmpty)
            })
        })
        .map_err(|e| CaptureError::Other(e.to_string()))?
        .join()
        .unwrap_or_else(|_| Err(CaptureError::Other("the capture thread crashed".into())))
}

/// The capture thread's work.
struct Capture {
    device: String,
    settings: ScanSettings,
    batch_id: String,
    duplex: bool,
    first_side: u32,
    bands: Option<Sender<BandEvent>>,
    cancel: Arc<AtomicBool>,
}

impl Capture {
    fn run(self, feeder: &mut Feeder) -> Result<(), CaptureError> {
        with_source(
            &self.device,
            &self.settings,
            self.duplex,
            self.first_side,
            |source| self.feed(source, feeder),
        )
    }

    /// Reads sides until the feeder is empty, a fault, or the pipeline stops.
    fn feed(&self, source: &mut dyn PageSource, feeder: &mut Feeder) -> Result<(), CaptureError> {
        source.set_cancel(self.cancel.clone());
        let mut side = self.first_side;
        let mut scanned = 0u32;
        loop {
            for (_, name, value) in self
                .settings
                .options_after
                .iter()
                .filter(|(n, _, _)| *n == scanned)
            {
                source.set_option(name, value)?;
            }
            let sink = &self.bands;
            let mut on_band = |b: Band<'_>| {
                if let Some(tx) = sink {
                    let _ = tx.try_send(BandEvent {
                        side,
                        first_line: b.first_line,
                        width: b.width,
                        channels: b.channels,
                        total_lines: b.total_lines,
                        data: b.data.to_vec(),
                    });
                }
            };
            let payload = match source.next_side(&mut on_band) {
                Ok(Some(raster)) => Payload::Raster(raster),
                Ok(None) => return Ok(()),
                Err(CaptureError::BadSide(why)) => Payload::Failed(why),
                Err(fault) => return Err(fault),
            };
            let origin = format!("{}#{}", self.device, side);
            let mut meta = SideMeta::at(&self.batch_id, side, self.duplex, origin);
            meta.probe_target = scanned == 0;
            if feeder.send(meta, payload).is_err() {
                return Ok(());
            }
            side += 1;
            scanned += 1;
        }
    }
}
