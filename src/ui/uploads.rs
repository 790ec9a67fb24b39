//! The Uploads screen: the outbox, each batch shown by what people tell
//! batches apart by (its label, its unique name, when and by whom it was
//! made) with its state in words, progress of the batch being sent and the
//! last error in words; retry a parked batch; pause and resume (paused
//! uploads are said in the warning colour).

use super::context::{Screen, ScreenCtx, batch_name, when};
use crate::batch::OutboxState;
use crate::store::{BatchRow, OutboxRow, Receipt};
use crate::workers::UploadEvent;
use crate::workers::station::Command;
use eframe::egui;
use std::collections::HashMap;

#[derive(Default)]
pub struct UploadScreen {
    pub running: bool,
    /// PDF bytes of the current batch sent so far.
    pub live_bytes: u64,
    /// The batch being sent and its size in bytes.
    pub current: Option<(String, u64)>,
    /// Last words about each batch (retrying, parked, done).
    pub words: HashMap<String, String>,
}

impl UploadScreen {
    /// Applies an uploader event.
    pub fn apply(&mut self, e: UploadEvent) {
        match e {
            UploadEvent::Started {
                batch_id, bytes, ..
            } => {
                self.live_bytes = 0;
                self.current = Some((batch_id, bytes));
            }
            UploadEvent::Progress { progress, .. } => self.live_bytes = progress.bytes_sent,
            UploadEvent::Retrying {
                batch_id,
                attempt,
                wait,
                why,
            } => {
                self.words.insert(
                    batch_id,
                    format!(
                        "try {attempt} failed: {why}; next in {:.0} s",
                        wait.as_secs_f64()
                    ),
                );
            }
            UploadEvent::Parked { batch_id, why, .. }
            | UploadEvent::WaitingForText { batch_id, why } => {
                self.words.insert(batch_id, why);
            }
            UploadEvent::HeldElsewhere {
                batch_id, owner, ..
            } => {
                self.words.insert(
                    batch_id,
                    format!("being sent by {}", crate::batch::printable(&owner, 120)),
                );
            }
            UploadEvent::Done {
                batch_id,
                documents,
                bytes,
                seconds,
                target,
            } => {
                self.current = None;
                self.words.insert(
                    batch_id,
                    format!(
                        "{documents} documents, {:.1} MB to {target} in {seconds:.1} s",
                        bytes as f64 / 1e6
                    ),
                );
            }
        }
    }
}

impl Screen for UploadScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.header_ui(ui, ctx);
        ui.separator();
        let rows = &ctx.snapshot.outbox;
        if rows.is_empty() {
            ui.label("The upload queue is empty: approve a batch in Review to send it.");
            return;
        }
        let made: HashMap<&str, &BatchRow> = ctx
            .snapshot
            .batches
            .iter()
            .map(|b| (b.id.as_str(), b))
            .collect();
        let mut retry = None;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                for r in rows {
                    let row = Row {
                        name: batch_name(ctx.snapshot, &r.batch_id),
                        batch: made.get(r.batch_id.as_str()).copied(),
                        outbox: r,
                        receipts: ctx
                            .snapshot
                            .receipts
                            .get(&r.batch_id)
                            .map(Vec::as_slice)
                            .unwrap_or_default(),
                    };
                    if self.row_ui(ui, &row) {
                        retry = Some(r.batch_id.clone());
                    }
                    ui.add_space(4.0);
                }
            });
        if let Some(b) = retry {
            ctx.send(Command::RetryUpload(b));
        }
    }
}

/// A batch of the queue with what people tell it apart by.
struct Row<'a> {
    outbox: &'a OutboxRow,
    /// The id prefix no other batch shares.
    name: String,
    /// The batch as listed (who made it and when), if the snapshot has it.
    batch: Option<&'a BatchRow>,
    /// The newest read-back of each of its documents.
    receipts: &'a [Receipt],
}

/// Widest a progress bar is drawn.
const BAR_WIDTH: f32 = 160.0;

impl UploadScreen {
    /// Where uploads go, whether they run, Pause or Resume, and Refresh.
    fn header_ui(&self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!(
                "Delivering to {}",
                super::shown(&ctx.snapshot.upload_target)
            ));
            ui.separator();
            if self.running {
                ui.label("Uploads: on");
                if ui.button("Pause uploads").clicked() {
                    ctx.send(Command::PauseUploads);
                }
            } else {
                ui.label(
                    egui::RichText::new("Uploads: paused")
                        .strong()
                        .color(ui.visuals().warn_fg_color),
                );
                ui.label("(approved batches wait in the queue until someone resumes)");
                if ui.button("Resume uploads").clicked() {
                    ctx.send(Command::ResumeUploads);
                }
            }
            if ui.button("Refresh").clicked() {
                ctx.send(Command::Refresh);
            }
        });
    }

    /// One batch of the queue: its label, name, when and by whom it was
    /// made; its state, progress and last words; whether Retry was pressed.
    fn row_ui(&self, ui: &mut egui::Ui, row: &Row) -> bool {
        let r = row.outbox;
        let sending = self
            .current
            .as_ref()
            .filter(|(b, _)| *b == r.batch_id)
            .map(|(_, total)| *total);
        let mut retry = false;
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_width(ui.available_width());
            identity_ui(ui, row);
            ui.horizontal_wrapped(|ui| {
                ui.label(
                    egui::RichText::new(state_words(r, sending.is_some(), self.running)).strong(),
                );
                self.progress_ui(ui, r, sending);
                if let Some(done) = r
                    .done_at
                    .as_deref()
                    .filter(|_| r.state == OutboxState::Done)
                {
                    ui.label(format!("sent {}", when(done)));
                }
                retry = crate::batch::rules::may_requeue(r.state)
                    && ui.button(format!("Retry {}", row.name)).clicked();
            });
            receipts_ui(ui, row.receipts);
            let words = self.words.get(&r.batch_id).or(r.last_error.as_ref());
            if let Some(w) = words.filter(|w| !w.is_empty()) {
                let stopped = crate::batch::rules::may_requeue(r.state);
                let text = egui::RichText::new(super::shown_long(w));
                ui.label(if stopped {
                    text.color(ui.visuals().error_fg_color)
                } else {
                    text
                });
            }
        });
        retry
    }

    /// The bar: bytes sent of the batch being sent, or full once delivered.
    fn progress_ui(&self, ui: &mut egui::Ui, r: &OutboxRow, sending: Option<u64>) {
        match sending {
            Some(total) => {
                let f = self.live_bytes as f32 / total.max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(f.min(1.0))
                        .desired_width(BAR_WIDTH)
                        .show_percentage(),
                );
            }
            None if r.state == OutboxState::Done => {
                ui.add(
                    egui::ProgressBar::new(1.0)
                        .desired_width(BAR_WIDTH)
                        .text("delivered"),
                );
            }
            None if r.state == OutboxState::Queued => {
                ui.add(egui::ProgressBar::new(0.0).desired_width(BAR_WIDTH));
            }
            None => {}
        }
    }
}

/// What tells a batch apart: its label, its unique name, when and by whom
/// it was made.
fn identity_ui(ui: &mut egui::Ui, row: &Row) {
    let r = row.outbox;
    ui.horizontal_wrapped(|ui| {
        let label = if r.label.trim().is_empty() {
            egui::RichText::new("(no label)").italics()
        } else {
            egui::RichText::new(super::shown(&r.label)).strong()
        };
        ui.label(label.size(16.0));
        ui.label(egui::RichText::new(&row.name).monospace())
            .on_hover_text("The batch's name: folio show and folio approve take it");
        match row.batch {
            Some(b) => {
                ui.label(format!("made {}", when(&b.created)));
                ui.label(format!("by {}", super::shown(&b.operator)));
            }
            None => {
                ui.label(format!("queued {}", when(&r.queued_at)));
            }
        }
    });
}

/// What the store gave back when the batch's documents were read again: a
/// line of counts (the failures in the error colour), and each document's
/// receipt under it, folded.
fn receipts_ui(ui: &mut egui::Ui, receipts: &[Receipt]) {
    if receipts.is_empty() {
        return;
    }
    let failed = receipts.iter().filter(|r| !r.verified).count();
    let checked = receipts
        .iter()
        .map(|r| r.checked_at.as_str())
        .max()
        .unwrap_or_default();
    let line = if failed == 0 {
        egui::RichText::new(format!(
            "Verified in the store: {} of {} documents read back as sent ({})",
            receipts.len(),
            receipts.len(),
            when(checked)
        ))
    } else {
        egui::RichText::new(format!(
            "NOT verified: {failed} of {} documents did not read back as sent ({}); they are flagged and sent again",
            receipts.len(),
            when(checked)
        ))
        .color(ui.visuals().error_fg_color)
    };
    egui::CollapsingHeader::new(line)
        .id_salt(("receipts", receipts[0].batch_id.as_str()))
        .show(ui, |ui| {
            egui::Grid::new(("receipt-grid", receipts[0].batch_id.as_str()))
                .striped(true)
                .show(ui, |ui| {
                    for h in [
                        "",
                        "Document",
                        "Sent",
                        "Read back",
                        "In the store",
                        "Checked",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for r in receipts {
                        receipt_row(ui, r);
                        ui.end_row();
                    }
                });
        });
}

/// One document's receipt as a grid row.
fn receipt_row(ui: &mut egui::Ui, r: &Receipt) {
    let short = |h: &str| h.get(..12).unwrap_or(h).to_string();
    if r.verified {
        ui.label("verified");
    } else {
        ui.label(egui::RichText::new("NOT VERIFIED").color(ui.visuals().error_fg_color))
            .on_hover_text(super::shown_long(&r.detail));
    }
    ui.label(egui::RichText::new(short(&r.document_id)).monospace())
        .on_hover_text(super::shown(&r.document_id));
    ui.label(format!(
        "{} bytes, {}…",
        r.sent_bytes,
        short(&r.sent_sha256)
    ))
    .on_hover_text(format!("SHA-256 {}", r.sent_sha256));
    match (&r.read_bytes, &r.read_sha256) {
        (Some(b), Some(h)) => ui
            .label(format!("{b} bytes, {}…", super::shown(&short(h))))
            .on_hover_text(format!("SHA-256 {}", super::shown(h))),
        _ => ui.label(egui::RichText::new("nothing").italics()),
    };
    let mut place = super::shown(&r.location);
    for (what, v) in [("version", &r.version), ("ETag", &r.etag)] {
        if let Some(v) = v {
            place.push_str(&format!(", {what} {}", super::shown(v)));
        }
    }
    ui.label(place);
    ui.label(when(&r.checked_at));
}

/// A batch's upload state in words.
fn state_words(r: &OutboxRow, sending: bool, running: bool) -> String {
    match r.state {
        OutboxState::Queued if sending => "sending".into(),
        OutboxState::Queued if !running && r.attempts > 0 => {
            format!("waiting: uploads are paused (try {} next)", r.attempts + 1)
        }
        OutboxState::Queued if !running => "waiting: uploads are paused".into(),
        OutboxState::Queued if r.attempts > 0 => {
            format!("waiting to retry (try {})", r.attempts + 1)
        }
        OutboxState::Queued => "waiting to be sent".into(),
        OutboxState::Parked => "stopped: press Retry once the cause is fixed".into(),
        OutboxState::Conflict => {
            "stopped: the central store holds other content under its ids; a supervisor decides"
                .into()
        }
        OutboxState::Done => "done".into(),
    }
}
