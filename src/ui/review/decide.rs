//! The decisions on the item shown (UI thread): approve (all of a side's
//! flags at once), turn, remove, restore, mark for rescan, rescan now, move
//! to another document or to a new record for the label's patient, and fix a
//! record's identifier. Each is a button and a key; the station says what it
//! did on the status line.

use super::{ReviewScreen, in_a_document};
use crate::batch::{FlagCode, MoveTarget, PatientId, RemovedReason};
use crate::store::{PageDecision, ReviewItem, ReviewKind};
use crate::ui::context::ScreenCtx;
use crate::ui::patient::identifier_words_ui;
use crate::workers::station::Command;
use eframe::egui;

/// What a rescan mark records when no reason was typed.
pub const NO_REASON: &str = "no reason given";

/// A button with its shortcut in the tooltip, also pressed by the key.
fn action(ui: &mut egui::Ui, label: &str, hint: &str, key: bool) -> bool {
    ui.button(label).on_hover_text(hint).clicked() || key
}

/// The patients of the labels on a side flagged as another patient's page:
/// each can have a record of its own (valid identifiers only).
fn label_patients(ctx: &ScreenCtx, item: &ReviewItem) -> Vec<PatientId> {
    let misfiled = item
        .flags()
        .iter()
        .any(|(_, c)| *c == FlagCode::MisfiledIdentifier);
    let Ok(pattern) = ctx.cfg.hospital_pattern() else {
        return Vec::new();
    };
    match misfiled {
        true => item
            .labels(&pattern)
            .into_iter()
            .filter(|p| !matches!(p, PatientId::Nhs { valid: false, .. }))
            .collect(),
        false => Vec::new(),
    }
}

fn new_record_words(p: &PatientId) -> String {
    format!("a new record for {}", crate::ui::shown(&p.describe()))
}

impl ReviewScreen {
    /// Approve, turn, remove or restore the page (by button or key).
    pub(super) fn decisions_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
        keys: &super::Keys,
    ) {
        let batch = item.batch_id.clone();
        let side = item.side.unwrap_or_default();
        match &item.kind {
            ReviewKind::Removed { reason } if *reason == RemovedReason::ControlSheet => {
                ui.label("Control sheets are left out of the output.");
            }
            ReviewKind::Removed { reason } if *reason == RemovedReason::PatchSheet => {
                ui.label("Patch sheets are left out of the output.");
            }
            ReviewKind::Flag { .. } | ReviewKind::Page => {
                let flags = item.flags();
                let hint = match flags.len() {
                    1 => "Accept it as it is (A)".to_string(),
                    n => format!("Accept it as it is: all {n} of its flags (A)"),
                };
                if !flags.is_empty() && action(ui, "Approve page", &hint, keys.approve) {
                    for (id, _) in flags {
                        ctx.send(Command::ApproveFlag(id));
                    }
                }
                if !in_a_document(item) {
                    return;
                }
                for (label, degrees, key) in [
                    ("Turn right", 90, "T"),
                    ("Turn over", 180, "U"),
                    ("Turn left", 270, "L"),
                ] {
                    let hint = format!("Turn the page {degrees} degrees clockwise ({key})");
                    if action(ui, label, &hint, keys.turn == Some(degrees)) {
                        let batch = batch.clone();
                        ctx.send(Command::RotatePage {
                            batch,
                            side,
                            degrees,
                        });
                    }
                }
                let hint = "Take it out of its document; it stays listed and can be restored (Delete or X)";
                if action(ui, "Remove page", hint, keys.remove) {
                    ctx.send(Command::DecidePage {
                        batch,
                        side,
                        decision: PageDecision::Remove,
                    });
                }
            }
            ReviewKind::Removed { .. } => {
                let hint = "Put it back in its document (R)";
                if action(ui, "Restore page", hint, keys.restore) {
                    ctx.send(Command::RestorePage { batch, side });
                }
            }
        }
    }

    /// Mark for rescan (someone fetches the folder later), or rescan now on the
    /// scanner chosen on the Scan screen and put the new side in place.
    pub(super) fn rescan_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
        keys: &super::Keys,
    ) {
        let side = item.side.unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            if in_a_document(item) {
                self.mark_ui(ui, ctx, item, keys);
            }
            let busy = self.rescanning.is_some() || ctx.scanning;
            let hint = format!(
                "Put the sheet on {} and scan it again in place of this side (S)",
                crate::ui::shown(&ctx.scanner.device)
            );
            let clicked = ui
                .add_enabled(!busy, egui::Button::new("Rescan and replace"))
                .on_hover_text(hint)
                .clicked();
            if (clicked || keys.rescan) && !busy {
                ctx.send(Command::RescanPage {
                    batch: item.batch_id.clone(),
                    side,
                    scanner: ctx.scanner.request(),
                });
                self.rescanning = Some((item.batch_id.clone(), side));
            }
            if let Some((_, s)) = &self.rescanning {
                ui.spinner();
                ui.label(format!(
                    "rescanning side {s} on {}…",
                    crate::ui::shown(&ctx.scanner.device)
                ));
            }
        });
    }

    /// Marks the page for rescan, with the reason typed; none typed is
    /// recorded as such, never as a reason nobody gave.
    fn mark_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
        keys: &super::Keys,
    ) {
        let l = ui.label("Rescan reason");
        ui.add(
            egui::TextEdit::singleline(&mut self.rescan_reason)
                .hint_text("e.g. streaked, folded corner")
                .desired_width(180.0),
        )
        .labelled_by(l.id);
        let hint = "Flag it until the sheet is scanned again (M); the reason is optional";
        if action(ui, "Mark for rescan", hint, keys.mark) {
            let why = match self.rescan_reason.trim() {
                "" => NO_REASON.to_string(),
                w => w.to_string(),
            };
            ctx.send(Command::DecidePage {
                batch: item.batch_id.clone(),
                side: item.side.unwrap_or_default(),
                decision: PageDecision::MarkRescan(why),
            });
            self.rescan_reason.clear();
        }
    }

    /// Moves the page: to another document of the batch, or (a page with
    /// another patient's label) to a new record for that patient.
    pub(super) fn move_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        let docs = ctx
            .snapshot
            .documents
            .get(&item.batch_id)
            .cloned()
            .unwrap_or_default();
        let patients = label_patients(ctx, item);
        if docs.is_empty() && patients.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Move to");
            let chosen = match &self.move_to {
                Some(MoveTarget::Document(id)) => {
                    docs.iter().find(|d| &d.id == id).map(|d| d.words.clone())
                }
                Some(MoveTarget::NewRecord(p)) => Some(new_record_words(p)),
                None => None,
            };
            egui::ComboBox::from_id_salt("move-to")
                .selected_text(chosen.unwrap_or_else(|| "choose a document".into()))
                .width(320.0)
                .show_ui(ui, |ui| {
                    for d in &docs {
                        let to = Some(MoveTarget::Document(d.id.clone()));
                        ui.selectable_value(&mut self.move_to, to, &d.words);
                    }
                    for p in &patients {
                        let to = Some(MoveTarget::NewRecord(p.clone()));
                        ui.selectable_value(&mut self.move_to, to, new_record_words(p));
                    }
                })
                .response
                .labelled_by(l.id);
            let target = self.move_to.clone();
            let hint = "Put the page in that document, in feed order, or in a record of its own";
            if ui
                .add_enabled(target.is_some(), egui::Button::new("Move page"))
                .on_hover_text(hint)
                .clicked()
                && let Some(to) = target
            {
                ctx.send(Command::DecidePage {
                    batch: item.batch_id.clone(),
                    side: item.side.unwrap_or_default(),
                    decision: PageDecision::MoveTo(to),
                });
                self.move_to = None;
            }
        });
    }

    pub(super) fn identifier_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
    ) {
        ui.separator();
        let l = ui.label("Correct identifier");
        ui.add(egui::TextEdit::singleline(&mut self.identifier).desired_width(200.0))
            .labelled_by(l.id);
        let ok = identifier_words_ui(ui, ctx.cfg, &self.identifier);
        if ui
            .add_enabled(ok, egui::Button::new("Set identifier"))
            .clicked()
            && let Some(record) = &item.record_id
        {
            ctx.send(Command::FixIdentifier {
                batch: item.batch_id.clone(),
                record: record.clone(),
                text: self.identifier.clone(),
            });
            self.identifier.clear();
        }
    }
}
