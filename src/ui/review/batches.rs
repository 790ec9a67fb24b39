//! The batches awaiting approval (UI thread): each with its sheets counted
//! (Enter saves the count), its reconciliation, and Approve under the one
//! approval rule with this batch's own overrides. Folded away, one line
//! stays: Approve for the batch of the item shown (also Ctrl+Enter).

use super::{BatchOverride, ReviewScreen, approval_words};
use crate::batch::roles::{self, Action, Refusal};
use crate::store::BatchRow;
use crate::ui::context::ScreenCtx;
use crate::workers::station::Command;
use eframe::egui;

/// Whether the person signed in may do `action` on batch `b`, as far as the
/// window can tell (the station asks the rule again with everyone who
/// scanned the batch).
pub(super) fn may(ctx: &ScreenCtx, action: Action, b: &BatchRow) -> Result<(), Refusal> {
    let a = ctx.actor;
    roles::permit(a.role, action, ctx.snapshot.accounts)?;
    match a.role {
        Some(role) if roles::needs_other_eyes(action) => roles::may_approve(
            &a.operator,
            role,
            &[b.operator.as_str()],
            ctx.cfg.accounts.four_eyes,
        ),
        _ => Ok(()),
    }
}

/// The batches a supervisor may approve, as the snapshot lists them.
fn awaiting(ctx: &ScreenCtx) -> Vec<BatchRow> {
    ctx.snapshot
        .batches
        .iter()
        .filter(|b| crate::batch::rules::may_approve(b.state))
        .cloned()
        .collect()
}

/// A batch's searchable text: how far it has got, or "Read text" to ask for
/// it (OCR runs after capture, page by page, at idle priority).
fn text_ui(ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow) {
    let Some(facts) = ctx.snapshot.approval.get(&b.id) else {
        return;
    };
    let text = facts.text;
    if text.wanted {
        let words = text.describe();
        if text.failed > 0 {
            ui.colored_label(ui.visuals().warn_fg_color, words);
        } else {
            ui.label(words);
        }
        return;
    }
    let name = ctx.batch_name(&b.id);
    let allowed = may(ctx, Action::RequestText, b)
        .map_err(|r| r.to_string())
        .and_then(|()| crate::batch::text::may_request_text(b.state));
    let button = ui.add_enabled(
        allowed.is_ok(),
        egui::Button::new(format!("Read text {name}")),
    );
    let button = match &allowed {
        Ok(()) => button.on_hover_text(
            "Read the pages' text (OCR) so the PDFs can be searched; it runs in the background \
             and the upload waits for it",
        ),
        Err(why) => button.on_disabled_hover_text(why.as_str()),
    };
    if button.clicked() {
        ctx.send(Command::RequestText(b.id.clone()));
    }
}

impl ReviewScreen {
    /// Goes through every side of a batch (or back to the flags).
    pub(super) fn browse_batch(&mut self, ctx: &mut ScreenCtx, batch: Option<String>) {
        if batch.is_none() {
            // Back to the flags ends a sample check too.
            self.sampling = None;
        }
        ctx.send(Command::BrowseBatch(batch.clone()));
        self.browse = batch;
        self.pages = Default::default();
        self.selected = 0;
    }

    /// Every batch awaiting approval, one block each (wrapped to the width).
    pub(super) fn batches_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        current: Option<&str>,
        keys: &super::Keys,
    ) {
        ui.strong("Batches awaiting approval");
        let batches = awaiting(ctx);
        egui::ScrollArea::vertical()
            .id_salt("batches")
            .show(ui, |ui| {
                for b in &batches {
                    ui.separator();
                    let key = keys.approve_batch && current == Some(b.id.as_str());
                    self.batch_row_ui(ui, ctx, b, key);
                }
                if batches.is_empty() {
                    ui.label("No closed batches.");
                }
            });
    }

    /// The batches folded away: Approve for the batch of the item shown.
    pub(super) fn batch_bar_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        current: Option<&str>,
        keys: &super::Keys,
    ) {
        let batches = awaiting(ctx);
        let this = batches.iter().find(|b| Some(b.id.as_str()) == current);
        ui.horizontal_wrapped(|ui| match this {
            Some(b) => {
                let (words, agrees) = b.reconciliation();
                ui.label(format!("{}:", crate::ui::shown(&b.label)));
                if agrees {
                    ui.label(words);
                } else {
                    ui.colored_label(ui.visuals().warn_fg_color, words);
                }
                self.sample_ui(ui, ctx, b);
                text_ui(ui, ctx, b);
                self.approve_ui(ui, ctx, b, keys.approve_batch);
            }
            None => {
                ui.label(format!(
                    "Batches awaiting approval: {} (B shows them)",
                    batches.len()
                ));
            }
        });
    }

    fn batch_row_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow, key: bool) {
        let name = ctx.batch_name(&b.id);
        ui.horizontal_wrapped(|ui| {
            if ui
                .button(format!("Pages {name}"))
                .on_hover_text(
                    "Go through every side of this batch, flagged or not (Esc comes back)",
                )
                .clicked()
            {
                self.browse_batch(ctx, Some(b.id.clone()));
            }
            ui.monospace(&name);
            ui.label(crate::ui::shown(&b.label));
            ui.label(format!(
                "scanned: {} sheets ({} sides)",
                b.sheets_scanned(),
                b.sides
            ));
            self.count_ui(ui, ctx, b);
            let (words, agrees) = b.reconciliation();
            if agrees {
                ui.label(words);
            } else {
                ui.colored_label(ui.visuals().warn_fg_color, words);
            }
            ui.label(format!("{} records", b.records));
            ui.label(format!("{} open flags", b.open_flags));
            text_ui(ui, ctx, b);
        });
        ui.horizontal_wrapped(|ui| self.sample_ui(ui, ctx, b));
        ui.horizontal_wrapped(|ui| self.approve_ui(ui, ctx, b, key));
    }

    /// The sheets counted for a batch (from the box's transmittal slip):
    /// Enter or "Set count" saves it.
    fn count_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow) {
        let name = ctx.batch_name(&b.id);
        ui.label("counted:");
        let count = self
            .expected
            .entry(b.id.clone())
            .or_insert(b.expected_sheets.unwrap_or(0));
        let resp = ui
            .add(egui::DragValue::new(count).range(0..=crate::config::limits::EXPECTED_SHEETS.max))
            .on_hover_text(
                "Sheets counted for this batch (from the box's transmittal slip); Enter saves it",
            );
        let label = format!("Sheets counted for {name}");
        ui.ctx()
            .accesskit_node_builder(resp.id, |node| node.set_label(label));
        let count = *count;
        let entered = resp.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        if count == 0 || Some(count) == b.expected_sheets {
            return;
        }
        if ui.button(format!("Set count {name}")).clicked() || entered {
            ctx.send(Command::SetExpectedSheets {
                batch: b.id.clone(),
                sheets: count,
            });
        }
    }

    /// Approve for one batch: enabled only when the one approval rule allows it
    /// with this batch's own overrides, saying what will be sent; the overrides
    /// offered are only those the batch needs, each with a reason. `key`:
    /// Ctrl+Enter was pressed for this batch.
    fn approve_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow, key: bool) {
        let facts = ctx.snapshot.approval.get(&b.id).cloned();
        let id = ctx.batch_name(&b.id);
        let mut ov = self.overrides.get(&b.id).cloned().unwrap_or_default();
        // Only the overrides this batch needs are offered; flags a person must
        // see one by one are never offered en bloc.
        let (offer_flags, offer_count) = facts.as_ref().map_or((0, false), |f| {
            let flags = match f.must_be_seen().is_empty() {
                true => f.open_flag_count(),
                false => 0,
            };
            (flags, !f.count.agrees())
        });
        // A tick whose cause has gone (flags settled one by one, a count
        // corrected) is dropped, not kept hidden.
        ov.accept_flags &= offer_flags > 0;
        ov.accept_count &= offer_count;
        let overrides = ov.overrides();
        let verdict = match may(ctx, Action::ApproveBatch, b) {
            Err(why) => Err(format!("Not yours to approve: {why}")),
            Ok(()) => approval_words(facts.as_ref(), &overrides),
        };
        let label = match &verdict {
            Ok(words) => format!("Approve batch {id}: send {words}"),
            Err(_) => format!("Approve batch {id}"),
        };
        let clicked = ui
            .add_enabled(verdict.is_ok(), egui::Button::new(label))
            .on_hover_text("Queue it for upload (Ctrl+Enter: the batch of the page shown)")
            .clicked();
        if (clicked || key) && verdict.is_ok() {
            ctx.send(Command::ApproveBatch {
                batch: b.id.clone(),
                overrides,
            });
            // Used once: the next batch (or this one again) starts with none.
            self.overrides.remove(&b.id);
            return;
        }
        self.overrides_ui(ui, &id, (offer_flags, offer_count), &mut ov);
        if let Err(why) = verdict {
            ui.add(
                egui::Label::new(egui::RichText::new(why).color(ui.visuals().warn_fg_color)).wrap(),
            );
        }
        self.overrides.insert(b.id.clone(), ov);
    }

    /// The overrides a batch needs, ticked one by one, with their reason.
    fn overrides_ui(
        &mut self,
        ui: &mut egui::Ui,
        id: &str,
        (offer_flags, offer_count): (u32, bool),
        ov: &mut BatchOverride,
    ) {
        if offer_flags > 0 {
            ui.checkbox(
                &mut ov.accept_flags,
                format!("Accept {offer_flags} open flags of {id}"),
            );
        }
        if offer_count {
            ui.checkbox(
                &mut ov.accept_count,
                format!("Accept the count difference of {id}"),
            );
        }
        if ov.accept_flags || ov.accept_count {
            let l = ui.label(format!("Why {id} may go as it is"));
            ui.add(egui::TextEdit::singleline(&mut ov.reason).desired_width(200.0))
                .labelled_by(l.id);
        }
    }
}
