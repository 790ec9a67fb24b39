//! The Uploads screen: the outbox with state, progress of the batch being
//! sent, the last error in words; retry a parked batch; pause and resume.

use super::context::{Screen, ScreenCtx};
use crate::batch::OutboxState;
use crate::store::OutboxRow;
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
            UploadEvent::Parked { batch_id, why, .. } => {
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
        let mut retry = None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            egui::Grid::new("outbox")
                .striped(true)
                .num_columns(5)
                .show(ui, |ui| {
                    for h in ["batch", "label", "state", "progress", ""] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for r in rows {
                        if self.row_ui(ui, r) {
                            retry = Some(r.batch_id.clone());
                        }
                    }
                });
        });
        if let Some(b) = retry {
            ctx.send(Command::RetryUpload(b));
        }
    }
}

impl UploadScreen {
    /// Where uploads go, whether they run, Pause or Resume, and Refresh.
    fn header_ui(&self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal(|ui| {
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
                ui.label("Uploads: paused");
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

    /// One batch of the queue (and its last words); whether Retry was pressed.
    fn row_ui(&self, ui: &mut egui::Ui, r: &OutboxRow) -> bool {
        let short = &r.batch_id[..8.min(r.batch_id.len())];
        ui.monospace(short);
        ui.label(super::shown(&r.label));
        let sending = self.current.as_ref().filter(|(b, _)| *b == r.batch_id);
        let state = match (r.state, sending) {
            (OutboxState::Queued, Some(_)) => "sending".to_string(),
            (OutboxState::Queued, None) if r.attempts > 0 => {
                format!("waiting to retry (try {})", r.attempts + 1)
            }
            (s, _) => s.as_str().to_string(),
        };
        ui.label(state);
        self.progress_ui(ui, r, sending.map(|(_, total)| *total));
        let retry = crate::batch::rules::may_requeue(r.state)
            && ui.button(format!("Retry {short}")).clicked();
        if !retry {
            ui.label("");
        }
        ui.end_row();
        let words = self
            .words
            .get(&r.batch_id)
            .cloned()
            .or(r.last_error.clone())
            .unwrap_or_default();
        if !words.is_empty() {
            ui.label("");
            ui.label("");
            ui.label(super::shown_long(&words));
            ui.end_row();
        }
        retry
    }

    /// The bar: bytes sent of the batch being sent, or full once delivered.
    fn progress_ui(&self, ui: &mut egui::Ui, r: &OutboxRow, sending: Option<u64>) {
        match sending {
            Some(total) => {
                let f = self.live_bytes as f32 / total.max(1) as f32;
                ui.add(
                    egui::ProgressBar::new(f.min(1.0))
                        .desired_width(200.0)
                        .show_percentage(),
                );
            }
            None if r.state == OutboxState::Done => {
                ui.add(
                    egui::ProgressBar::new(1.0)
                        .desired_width(200.0)
                        .text("delivered"),
                );
            }
            None => {
                ui.add(egui::ProgressBar::new(0.0).desired_width(200.0));
            }
        }
    }
}
