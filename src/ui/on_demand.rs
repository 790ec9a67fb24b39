//! The On demand screen (field teams): one patient's record, the identifier
//! typed and checked live, scanned on the chosen scanner, looked over (the
//! pages, the flags), then sent ahead of every other batch. Its state is its
//! own and starts blank for each record: nothing comes from the Scan screen's
//! batch (label, sheets counted, counters). With `[worklist]`, the clinics'
//! appointments from the EHR are listed above the form: an entry chosen
//! fills in its patient's NHS number, shows the name to compare with the
//! folder, and marks the entry done once its record is delivered, verified.

use super::context::{Screen, ScreenCtx};
use super::patient::{identifier_words_ui, patient_choice_ui};
use super::scan_view::{ScanView, StopAction};
use super::worklist::WorklistPanel;
use crate::batch::PatientId;
use crate::batch::approval::{ApprovalFacts, Overrides};
use crate::batch::worklist::{Row, WorkItem};
use crate::store::PatientMismatch;
use crate::workers::station::Command;
use eframe::egui;

#[derive(Default)]
pub struct OnDemandScreen {
    /// What was typed.
    pub patient_text: String,
    pub specialty: String,
    pub doc_type: String,
    /// The record sent (approved for upload first), by batch id.
    pub sent: Option<String>,
    /// Send the record even though flags are open (this record only;
    /// cleared once sent), and why.
    pub send_with_flags: bool,
    pub send_reason: String,
    /// The record's scan.
    pub view: ScanView,
    /// The screen has just been opened: the keyboard goes to the identifier
    /// (to the worklist when there is one).
    pub focus_first: bool,
    /// The clinics' appointments (with `[worklist]`).
    pub worklist: WorklistPanel,
    /// The worklist entry the record is for (None: a walk-in).
    pub entry: Option<WorkItem>,
}

/// What the screen knows of the record scanned, worked out once a frame.
struct Record {
    /// Its batch, once scanned.
    done: Option<String>,
    open_flags: usize,
    facts: Option<ApprovalFacts>,
    /// The record sheet names another patient than the one typed.
    questions: Vec<(PatientMismatch, Option<PatientId>)>,
    sent: bool,
}

impl OnDemandScreen {
    fn record(&self, ctx: &ScreenCtx) -> Record {
        let done = self.view.last_report.as_ref().map(|r| r.batch_id.clone());
        let snapshot = ctx.snapshot;
        let open_flags = done
            .as_ref()
            .and_then(|b| snapshot.batches.iter().find(|r| &r.id == b))
            .map_or(0, |b| b.open_flags);
        let facts = done
            .as_ref()
            .and_then(|b| snapshot.approval.get(b))
            .cloned();
        let questions = snapshot
            .mismatches
            .iter()
            .filter(|(m, _)| Some(&m.batch_id) == done.as_ref())
            .cloned()
            .collect();
        let sent = self.sent.is_some() && self.sent == done;
        Record {
            done,
            open_flags: open_flags as usize,
            facts,
            questions,
            sent,
        }
    }

    fn overrides(&self) -> Overrides {
        Overrides {
            accept_flags: self.send_with_flags,
            accept_count: false,
            reason: Some(self.send_reason.clone()).filter(|r| !r.trim().is_empty()),
        }
    }

    fn form_ui(&mut self, ui: &mut egui::Ui, ctx: &ScreenCtx) {
        egui::Grid::new("on-demand").num_columns(2).show(ui, |ui| {
            let l = ui.label("Patient identifier");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.patient_text)
                        .hint_text("NHS number or hospital number")
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            if std::mem::take(&mut self.focus_first) {
                field.request_focus();
            }
            ui.end_row();
            ui.label("");
            identifier_words_ui(ui, ctx.cfg, &self.patient_text);
            ui.end_row();
            let l = ui.label("Specialty");
            ui.add(egui::TextEdit::singleline(&mut self.specialty).hint_text("e.g. cardiology"))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Document type");
            ui.add(
                egui::TextEdit::singleline(&mut self.doc_type)
                    .hint_text("e.g. clinic letters (default: the station's)"),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
    }

    /// Scans the record of this patient: the screen starts blank for it.
    fn scan(&mut self, ctx: &mut ScreenCtx, patient: PatientId) {
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        ctx.scanner.choose_default(&ctx.snapshot.devices);
        let mut req = ctx.scanner.request();
        req.appointment = self
            .entry
            .as_ref()
            .filter(|e| entry_matches(e, &patient))
            .map(|e| e.appointment_id.clone());
        req.on_demand = Some((patient, opt(&self.specialty), opt(&self.doc_type)));
        ctx.send(Command::Scan(req));
        self.view.clear();
        self.view.begin();
        self.sent = None;
        self.send_with_flags = false;
        self.send_reason.clear();
    }

    /// A worklist entry chosen: its NHS number filled in and, when it has
    /// a valid one and the scanner is free, its record scanned at once;
    /// without one, the operator types the identifier on the folder.
    fn start_from(&mut self, ctx: &mut ScreenCtx, row: Row) {
        self.worklist.selected = Some(row.item.appointment_id.clone());
        let patient = row.item.nhs_number.as_ref().map(|n| PatientId::Nhs {
            number: n.clone(),
            valid: true,
        });
        self.entry = Some(row.item);
        match patient {
            Some(p) => {
                self.patient_text = p.spaced();
                if !self.view.scanning && !ctx.scanning {
                    self.scan(ctx, p);
                }
            }
            None => {
                self.patient_text.clear();
                self.focus_first = true;
            }
        }
    }

    /// Whom the record is for, to compare with the folder.
    fn entry_ui(&mut self, ui: &mut egui::Ui, ctx: &ScreenCtx) {
        let Some(e) = &self.entry else {
            return;
        };
        let now = time::OffsetDateTime::now_utc();
        let local = crate::upload::ehr::local_offset(now);
        let who = if e.name.is_empty() {
            "a patient the EHR gives no name for".to_string()
        } else {
            super::shown(&e.name)
        };
        let typed = crate::workers::review::parse_identifier(ctx.cfg, &self.patient_text).ok();
        let mut clear = false;
        egui::Frame::new()
            .fill(super::style::banner(
                ui.visuals().panel_fill,
                ui.visuals().selection.bg_fill,
            ))
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.strong(format!("For {who}"));
                    ui.label(format!(
                        "at {}, {} (needed by {}).",
                        super::shown(&e.clinic),
                        crate::workers::worklist::when_words(e.start, now, local),
                        crate::workers::worklist::when_words(e.deadline, now, local)
                    ));
                });
                match (&e.nhs_number, &typed) {
                    (Some(n), Some(t)) if entry_matches(e, t) => ui.label(format!(
                        "Check the folder shows this name and NHS number {}.",
                        PatientId::Nhs {
                            number: n.clone(),
                            valid: true
                        }
                        .spaced()
                    )),
                    (Some(_), _) => ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "⚠ The identifier below is not this entry's NHS number: the record will not count for the appointment.",
                    ),
                    (None, _) => ui.colored_label(
                        ui.visuals().warn_fg_color,
                        format!(
                            "⚠ The EHR gives no valid NHS number ({}): type the identifier on the folder below.",
                            super::shown(e.nhs_problem.as_deref().unwrap_or("none given"))
                        ),
                    ),
                };
                clear = ui
                    .button("Not for this appointment (walk-in)")
                    .on_hover_text("Scan without marking any worklist entry")
                    .clicked();
            });
        if clear {
            self.entry = None;
        }
    }

    fn buttons_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, rec: &Record) {
        let patient = crate::workers::review::parse_identifier(ctx.cfg, &self.patient_text).ok();
        let scanning = self.view.scanning;
        let can = patient.is_some() && !scanning && !ctx.scanning;
        let hint = format!(
            "Scan the record on {} (F5)",
            super::shown(&ctx.scanner.device)
        );
        let f5 = ui.ctx().input(|i| i.key_pressed(egui::Key::F5));
        let clicked = ui
            .add_enabled(can, egui::Button::new("Scan record"))
            .on_hover_text(hint)
            .clicked();
        if (clicked || (f5 && can))
            && let Some(p) = patient
        {
            self.scan(ctx, p);
        }
        if self.view.scanning && ui.button("Stop").on_hover_text("Esc").clicked() {
            self.view.stop(ctx.commands);
        }
        let verdict = self.verdict(rec);
        let can_send = rec.done.is_some() && !scanning && !rec.sent && verdict.is_ok();
        if ui
            .add_enabled(can_send, egui::Button::new("Send now"))
            .on_hover_text("Approve the record and upload it before every other batch")
            .clicked()
            && let Some(b) = rec.done.clone()
        {
            ctx.send(Command::ApproveBatch {
                batch: b.clone(),
                overrides: self.overrides(),
            });
            self.sent = Some(b);
            // Used once: the next record starts with none.
            self.send_with_flags = false;
            self.send_reason.clear();
        }
        if rec.open_flags > 0 && !rec.sent && rec.questions.is_empty() {
            ui.checkbox(
                &mut self.send_with_flags,
                format!("Send with its {} open flags", rec.open_flags),
            );
            if self.send_with_flags {
                let l = ui.label("Why it may go as it is");
                ui.add(egui::TextEdit::singleline(&mut self.send_reason).desired_width(220.0))
                    .labelled_by(l.id);
            }
        }
    }

    /// What Send now sends, or why it cannot.
    fn verdict(&self, rec: &Record) -> Result<String, String> {
        if rec.questions.is_empty() {
            super::review::approval_words(rec.facts.as_ref(), &self.overrides())
        } else {
            Err("Cannot be sent yet: say which patient the record belongs to (above), or scan the right folder".into())
        }
    }

    /// Where the record sent is: approving, queued, delivered, or its error.
    fn sent_ui(&self, ui: &mut egui::Ui, ctx: &ScreenCtx) {
        let Some(b) = &self.sent else {
            return;
        };
        let row = ctx.snapshot.outbox.iter().find(|r| &r.batch_id == b);
        ui.label(match row.map(|r| r.state) {
            None => "Approving…".to_string(),
            Some(crate::batch::OutboxState::Done) => "Delivered to the central store.".to_string(),
            Some(crate::batch::OutboxState::Queued) => {
                "Queued first for upload; see Uploads (F6).".to_string()
            }
            Some(other) => format!(
                "Upload {}: {}",
                other.as_str(),
                super::shown_long(
                    row.and_then(|r| r.last_error.as_deref())
                        .unwrap_or_default()
                )
            ),
        });
    }

    /// A scan that stopped early: resumed or closed here, like on the Scan
    /// screen (the batch is also listed there).
    fn fault_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        let Some(f) = self.view.fault.clone() else {
            return;
        };
        let name = f.batch.as_ref().map(|b| ctx.batch_name(b));
        let keyed = ui.ctx().input(|i| {
            if i.key_pressed(egui::Key::F8) {
                Some(StopAction::Resume)
            } else if i.key_pressed(egui::Key::F9) {
                Some(StopAction::Close)
            } else {
                None
            }
        });
        let action = super::scan_view::stop_banner_ui(ui, &f, name.as_deref()).or(keyed);
        let busy = self.view.scanning || ctx.scanning;
        match (action, f.batch) {
            (Some(StopAction::Resume), Some(b)) if !busy => {
                let mut req = ctx.scanner.request();
                req.resume = Some(b);
                ctx.send(Command::Scan(req));
                self.view.begin();
            }
            (Some(StopAction::Close), Some(b)) => {
                ctx.send(Command::CloseBatch(b));
                self.view.fault = None;
            }
            (Some(StopAction::Dismiss), _) => self.view.fault = None,
            _ => {}
        }
    }
}

/// Whether `patient` is the worklist entry's patient (an entry without a
/// valid NHS number takes the identifier the operator reads on the folder).
fn entry_matches(e: &WorkItem, patient: &PatientId) -> bool {
    match (&e.nhs_number, patient) {
        (None, _) => true,
        (Some(n), PatientId::Nhs { number, .. }) => n == number,
        (Some(_), PatientId::Hospital { .. }) => false,
    }
}

impl Screen for OnDemandScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        if self.view.scanning && ui.ctx().input(|i| i.key_pressed(egui::Key::Escape)) {
            self.view.stop(ctx.commands);
        }
        ui.heading("Scan one record for a clinic");
        ui.label("The record goes to the front of the upload queue.");
        if let Some(list) = ctx.snapshot.worklist.clone() {
            if !list.rows.is_empty() && self.entry.is_none() {
                // The keys go to the list first; typing is a click away.
                self.focus_first = false;
            }
            let keys = !self.view.scanning && ui.ctx().memory(|m| m.focused().is_none());
            if let Some(row) = self.worklist.ui(ui, ctx, &list, keys) {
                self.start_from(ctx, row);
            }
            ui.separator();
        }
        self.entry_ui(ui, ctx);
        self.form_ui(ui, ctx);
        let rec = self.record(ctx);
        if !rec.sent {
            for q in &rec.questions {
                patient_choice_ui(ui, ctx, q);
            }
        }
        ui.horizontal(|ui| self.buttons_ui(ui, ctx, &rec));
        if rec.done.is_some() && !rec.sent && !self.view.scanning {
            match &self.verdict(&rec) {
                Ok(words) => ui.label(format!("Send now sends {words}.")),
                Err(why) => ui.colored_label(ui.visuals().warn_fg_color, why),
            };
        }
        self.sent_ui(ui, ctx);
        self.fault_ui(ui, ctx);
        self.view.counters_ui(ui);
        if self.view.progress.is_none() {
            return;
        }
        // The record as scanned, to look over before sending.
        self.view
            .panels_ui(ui, ("on-demand-tree", "on-demand-strip"), ctx.textures);
    }

    fn opened(&mut self) {
        self.focus_first = true;
    }
}
