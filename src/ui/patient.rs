//! Patient identifiers on screen, shared by On demand and Review: the live
//! check of a typed identifier, and the question asked when an on-demand
//! record's sheet names another patient than the one typed.

use super::context::ScreenCtx;
use crate::batch::PatientId;
use crate::config::Config;
use crate::store::PatientMismatch;
use crate::workers::station::Command;
use eframe::egui;

/// Live check of a typed identifier, in words, and whether it can be used.
pub fn identifier_check(cfg: &Config, text: &str) -> (String, bool) {
    if text.trim().is_empty() {
        return ("type an NHS number or a hospital number".into(), false);
    }
    match crate::workers::review::parse_identifier(cfg, text) {
        Ok(p) => (format!("valid: {}", p.describe()), true),
        Err(e) => (e.to_string(), false),
    }
}

/// [`identifier_check`]'s words, in the warning colour when refused.
pub fn identifier_words_ui(ui: &mut egui::Ui, cfg: &Config, text: &str) -> bool {
    let (words, ok) = identifier_check(cfg, text);
    let color = if ok {
        ui.visuals().text_color()
    } else {
        ui.visuals().warn_fg_color
    };
    ui.colored_label(color, words);
    ok
}

/// Asks which patient an on-demand record belongs to when its record sheet
/// shows another identifier than the one typed, in words, with one button
/// for each (the choice is audited by the station).
pub fn patient_choice_ui(
    ui: &mut egui::Ui,
    ctx: &mut ScreenCtx,
    q: &(PatientMismatch, Option<PatientId>),
) {
    let (m, paper) = q;
    let warn = ui.visuals().warn_fg_color;
    let paper_words = match paper {
        Some(p) => p.describe(),
        None => format!(
            "\u{201c}{}\u{201d} (not a valid identifier)",
            crate::batch::printable(&m.paper, 40)
        ),
    };
    egui::Frame::new()
        .fill(super::style::banner(ui.visuals().panel_fill, warn))
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.colored_label(warn, "Which patient is this record?");
            ui.label(format!(
                "The record sheet in the folder shows {paper_words}, but {} was typed.",
                m.typed.describe()
            ));
            ui.label(
                "Check the folder: sent under the wrong patient, these pages would join \
                 another person's record.",
            );
            ui.horizontal_wrapped(|ui| {
                let choose = |patient: &PatientId, paper: bool| Command::ChoosePatient {
                    batch: m.batch_id.clone(),
                    record: m.record_id.clone(),
                    patient: patient.clone(),
                    paper,
                };
                if ui
                    .button(format!("It is {} (as typed)", m.typed.describe()))
                    .clicked()
                {
                    ctx.send(choose(&m.typed, false));
                }
                if let Some(p) = paper
                    && ui
                        .button(format!("It is {} (the record sheet's)", p.describe()))
                        .clicked()
                {
                    ctx.send(choose(p, true));
                }
                ui.label("or scan the right folder again.");
            });
        });
}
