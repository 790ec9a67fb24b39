//! Sampling QA in Review (UI thread): a batch's sample drawn and walked side
//! by side, one key per verdict (Y: passes, N: fails with the reason typed).
//! The draw, the verdicts and what a failed sample sends back are the
//! station's (see [`crate::batch::sample`]); this only asks and shows.

use super::ReviewScreen;
use crate::batch::roles::Action;
use crate::batch::sample::SampleState;
use crate::store::{BatchRow, ReviewItem, Sample};
use crate::ui::context::ScreenCtx;
use crate::workers::station::Command;
use eframe::egui;

impl ReviewScreen {
    /// The sample's state for a batch, and its button: draw the sample (or
    /// go on with it) and walk it.
    pub(super) fn sample_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow) {
        let batch = b.id.as_str();
        let Some(facts) = ctx.snapshot.approval.get(batch) else {
            return;
        };
        let state = facts.sample.clone();
        if state == SampleState::NotRequired {
            return;
        }
        let name = ctx.batch_name(batch);
        let words = state.words();
        match &state {
            SampleState::Passed { .. } => {
                ui.label(format!("\u{2714} {words}"));
                return;
            }
            SampleState::Failed { .. } => {
                ui.colored_label(ui.visuals().warn_fg_color, format!("\u{26a0} {words}"));
            }
            _ => {
                ui.label(words);
            }
        }
        let label = match &state {
            SampleState::Open { .. } => format!("Check sample {name}"),
            _ => format!("Draw and check sample {name}"),
        };
        let hint = "A random sample of the pages it would send, checked one by one \
                    (Y: passes, N: fails); the sample is kept with the batch";
        let allowed = super::batches::may(ctx, Action::InspectSample, b);
        let button = ui.add_enabled(allowed.is_ok(), egui::Button::new(label));
        let button = match &allowed {
            Ok(()) => button.on_hover_text(hint),
            Err(why) => button.on_disabled_hover_text(why.to_string()),
        };
        if button.clicked() {
            if state.may_draw() {
                ctx.send(Command::DrawSample(batch.to_string()));
            }
            self.start_sample(ctx, batch.to_string());
        }
    }

    /// Walks a batch's sample (drawn already, or being drawn).
    pub fn start_sample(&mut self, ctx: &mut ScreenCtx, batch: String) {
        self.sampling = Some(batch.clone());
        self.sample_started = true;
        self.browse_batch(ctx, Some(batch));
    }

    /// The sides of the sample being walked, in order, from the batch's
    /// sides (empty until both have arrived). Once they are there, the walk
    /// starts at the first side without a verdict (a check taken up again
    /// goes on where it stopped).
    pub(super) fn sample_items(&mut self, ctx: &ScreenCtx) -> Vec<ReviewItem> {
        let Some(sample) = self
            .sampling
            .as_ref()
            .and_then(|b| ctx.snapshot.samples.get(b))
        else {
            return Vec::new();
        };
        let items: Vec<ReviewItem> = sample
            .sides
            .iter()
            .filter_map(|s| self.pages.iter().find(|i| i.side == Some(*s)).cloned())
            .collect();
        if !items.is_empty() && std::mem::take(&mut self.sample_started) {
            let next = sample.next_side();
            self.selected = items
                .iter()
                .position(|i| i.side.is_some() && i.side == next)
                .unwrap_or(0);
        }
        items
    }

    /// Above the page being sampled: where the sample stands, and the
    /// verdict (Y / N, or the buttons), with the failure's reason.
    pub(super) fn verdict_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
        keys: &super::Keys,
    ) {
        let (Some(batch), Some(side)) = (self.sampling.clone(), item.side) else {
            return;
        };
        let Some(sample) = ctx.snapshot.samples.get(&batch).cloned() else {
            return;
        };
        let done = verdict_of(&sample, side);
        ui.horizontal_wrapped(|ui| {
            ui.strong(format!(
                "Sample {} of batch {}: {}",
                sample.draw,
                ctx.batch_name(&batch),
                sample.state().words()
            ));
            if ui
                .button("End sample check")
                .on_hover_text("Back to the flags (Esc); the verdicts given are kept")
                .clicked()
            {
                self.sampling = None;
                self.browse_batch(ctx, None);
            }
        });
        if let Some(words) = done {
            ui.label(format!("Side {side}: {words}"));
            return;
        }
        if !matches!(sample.state(), SampleState::Open { .. }) {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let pass = ui
                .button(format!("Passes (Y): side {side}"))
                .on_hover_text("The image is complete, legible and straight enough to keep")
                .clicked();
            let l = ui.label("What is wrong");
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.sample_reason)
                        .hint_text("e.g. text cut off at the foot")
                        .desired_width(220.0),
                )
                .labelled_by(l.id);
            let reason = self.sample_reason.trim().to_string();
            // N with nothing typed asks for the reason; Enter in it fails the side.
            if keys.fail && reason.is_empty() {
                field.request_focus();
            }
            let entered = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let fail = ui
                .add_enabled(
                    !reason.is_empty(),
                    egui::Button::new(format!("Fails (N): side {side}")),
                )
                .on_disabled_hover_text("Say what is wrong first")
                .clicked();
            let failure = match (pass || keys.pass, fail || keys.fail || entered) {
                (true, _) => Some(None),
                (false, true) if !reason.is_empty() => Some(Some(reason)),
                _ => None,
            };
            if let Some(failure) = failure {
                ctx.send(Command::SampleVerdict {
                    batch: batch.clone(),
                    side,
                    failure,
                });
                self.sample_reason.clear();
                // On to the next side of the sample.
                self.selected += 1;
            }
        });
    }
}

/// A side's verdict in words, once given.
fn verdict_of(sample: &Sample, side: u32) -> Option<String> {
    sample
        .verdicts
        .iter()
        .find(|v| v.side == side)
        .map(|v| match v.passed {
            true => format!("passed (checked by {})", crate::ui::shown(&v.operator)),
            false => format!(
                "failed: {} (checked by {})",
                crate::ui::shown(&v.reason),
                crate::ui::shown(&v.operator)
            ),
        })
}
