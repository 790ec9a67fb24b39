//! The scanner thread (`folio-scanner`): lists the scanners once, then runs
//! scans and page rescans one at a time, each with a fresh [`CancelToken`]
//! sent to the window. A scan's sides are committed through this thread's own
//! connection, one short transaction per side, so the store actor goes on
//! answering the window meanwhile. `folio-preview` shrinks the scanner's bands
//! for the live view for the length of a scan.

use super::StationError;
use super::actor::Ctx;
use super::{
    CancelToken, Command, Emitter, Event, Job, LIVE_WIDTH, Read, ScanFailure, ScanRequest,
};
use crate::batch::BatchSource;
use crate::store::Store;
use crate::workers::review;
use crate::workers::scan::{self, BandEvent, ScanOptions};
use crate::workers::scan_choice::{self, Resolved, ScanChoice};
use crossbeam_channel::Receiver;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

pub(super) fn spawn(
    ctx: &Ctx,
    jobs: Receiver<Job>,
    running: Arc<Mutex<Option<CancelToken>>>,
) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("folio-scanner".into())
        .spawn(move || {
            let devices = scan::list_devices()
                .map(|d| d.into_iter().map(|d| d.name).collect())
                .unwrap_or_else(|_| vec![crate::capture::DEMO_DEVICE.to_string()]);
            ctx.changed(Read::Devices(devices));
            let Some(mut store) = ctx.open_store() else {
                return;
            };
            for (actor, job) in jobs {
                let ctx = ctx.acting(actor);
                if let Err(e) = ctx.permit(&store, &job) {
                    let refused = ScanFailure::refused(e.to_string());
                    ctx.emit.emit(match job {
                        Command::Scan(_) => Event::ScanEnded(Err(refused)),
                        _ => Event::Error(e),
                    });
                    continue;
                }
                let token = CancelToken::new();
                if let Ok(mut r) = running.lock() {
                    *r = Some(token.clone());
                }
                let changed = match job {
                    Command::Scan(req) => run_scan(&mut store, &ctx, &req, &token),
                    Command::RescanPage {
                        batch,
                        side,
                        scanner,
                    } => rescan(&mut store, &ctx, (&batch, side), &scanner, &token),
                    _ => Read::All,
                };
                if let Ok(mut r) = running.lock() {
                    *r = None;
                }
                ctx.changed(changed);
            }
        })
}

/// Links the batch of a scan started from a worklist entry to the entry's
/// appointment (even a scan that stopped early: its batch is resumed).
fn link_appointment(
    store: &mut Store,
    ctx: &Ctx,
    req: &ScanRequest,
    ended: &Result<crate::workers::scan::ScanReport, ScanFailure>,
) {
    let batch = match ended {
        Ok(r) => Some(r.batch_id.as_str()),
        Err(f) => f.batch.as_deref(),
    };
    let nhs = match &req.on_demand {
        Some((crate::batch::PatientId::Nhs { number, .. }, _, _)) => Some(number.as_str()),
        _ => None,
    };
    if let (Some(appointment), Some(batch)) = (&req.appointment, batch)
        && let Err(e) = store.link_worklist_scan(appointment, batch, nhs, &ctx.actor)
    {
        ctx.emit.error(e);
    }
}

/// The device and settings a request asks for, through the resolver
/// `folio scan` uses.
fn resolve(ctx: &Ctx, req: &ScanRequest) -> Result<Resolved, StationError> {
    let choice = ScanChoice {
        device: Some(req.device.clone()),
        profile: req.profile.clone(),
        options: req
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        ..ScanChoice::default()
    };
    Ok(scan_choice::resolve(&ctx.cfg, &choice)?)
}

fn run_scan(store: &mut Store, ctx: &Ctx, req: &ScanRequest, token: &CancelToken) -> Read {
    let resolved = match resolve(ctx, req) {
        Ok(r) => r,
        Err(e) => {
            ctx.emit
                .emit(Event::ScanEnded(Err(ScanFailure::refused(e.to_string()))));
            return Read::All;
        }
    };
    let (patient, specialty, doc_type) = match req.on_demand.clone() {
        Some((p, sp, dt)) => (Some(p), sp, dt),
        None => (None, None, None),
    };
    let opts = ScanOptions {
        device: resolved.device,
        settings: resolved.settings,
        label: req.label.clone(),
        specialty,
        resume: req.resume.clone(),
        source: req.on_demand.as_ref().map(|_| BatchSource::OnDemand),
        keep_open: false,
        expected_sheets: req.expected_sheets,
        typed_as_bilevel: resolved.typed_as_bilevel,
        cancel: token.flag(),
        patient,
        doc_type,
        sign_in: ctx.session.sitting(),
        profile: req.profile.clone(),
        ocr: resolved.ocr,
        patches: resolved.patches,
    };
    let (band_tx, band_rx) = crossbeam_channel::bounded::<BandEvent>(64);
    let preview = spawn_preview(band_rx, ctx.emit.clone());
    ctx.emit.emit(Event::ScanStarted(token.clone()));
    let emit = ctx.emit.clone();
    let result = scan::scan(store, &ctx.cfg, &ctx.actor, &opts, Some(band_tx), |p| {
        emit.emit(Event::Progress(Box::new(p)))
    });
    if let Ok(p) = preview {
        let _ = p.join();
    }
    let ended = result.map_err(|e| ScanFailure::of(&e));
    link_appointment(store, ctx, req, &ended);
    let changed = match &ended {
        Ok(r) => Read::Batch(r.batch_id.clone()),
        Err(_) => Read::All,
    };
    if let Ok(r) = &ended
        && let Ok(tree) = store.tree(&r.batch_id)
    {
        ctx.emit.emit(Event::Tree(Box::new(tree)));
    }
    ctx.emit.emit(Event::ScanEnded(ended));
    changed
}

/// Scans one page again and puts it in place of the stored one.
fn rescan(
    store: &mut Store,
    ctx: &Ctx,
    (batch, side): (&str, u32),
    req: &ScanRequest,
    token: &CancelToken,
) -> Read {
    let done = resolve(ctx, req).and_then(|r| {
        ctx.emit.emit(Event::RescanStarted(token.clone()));
        review::rescan_page(
            store,
            &ctx.cfg,
            &ctx.actor,
            (batch, side),
            (&r.device, &r.settings),
            (
                (ctx.session.sitting().as_deref(), req.profile.as_deref()),
                token.flag(),
            ),
        )?;
        Ok(r.device)
    });
    match done {
        Ok(device) => ctx.notice(format!(
            "side {side} rescanned on {} and replaced",
            crate::batch::printable(&device, 80)
        )),
        Err(e) => ctx.emit.error(e),
    }
    Read::Batch(batch.to_string())
}

/// Shrinks bands to the live preview's width (box average over whole rows and
/// columns), so the window copies a few kilobytes a band, not megabytes.
fn spawn_preview(bands: Receiver<BandEvent>, emit: Emitter) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("folio-preview".into())
        .spawn(move || {
            let mut shrink = Shrink::default();
            for b in bands {
                if let Some(e) = shrink.band(&b) {
                    emit.offer(e);
                }
            }
        })
}

/// Grey rows of the side being scanned not yet shrunk (fewer than a block).
#[derive(Default)]
struct Shrink {
    carry: Vec<u8>,
    side: Option<u32>,
}

impl Shrink {
    fn band(&mut self, b: &BandEvent) -> Option<Event> {
        let ch = b.channels.max(1) as usize;
        let w = b.width as usize;
        let f = (b.width.div_ceil(LIVE_WIDTH)).max(1) as usize;
        let out_w = w / f;
        if self.side != Some(b.side) {
            self.carry.clear();
            self.side = Some(b.side);
        }
        // Grey rows of this band, plus any left over from the last.
        for row in b.data.chunks_exact(w * ch) {
            self.carry.extend(
                row.chunks_exact(ch)
                    .map(|p| (p.iter().map(|&v| v as u32).sum::<u32>() / ch as u32) as u8),
            );
        }
        let full = self.carry.len() / (w * f);
        if full == 0 || out_w == 0 {
            return None;
        }
        let first_line = b.first_line as usize + b.data.len() / (w * ch) - self.carry.len() / w;
        let mut rows = Vec::with_capacity(full * out_w);
        for block in self.carry.chunks_exact(w * f).take(full) {
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
        self.carry.drain(..full * w * f);
        Some(Event::Band {
            side: b.side,
            first_row: (first_line / f) as u32,
            width: out_w as u32,
            total_rows: b.total_lines.map(|t| t / f as u32),
            rows,
        })
    }
}
