//! The Review screen (supervisors): the queue of flagged pages and removed
//! blanks across closed batches, the page large, and the decisions: approve,
//! restore, fix a record's identifier (checked as it is typed); then the
//! batch's reconciliation and approval for upload.

use super::StationApp;
use crate::store::{ReviewItem, ReviewKind};
use crate::workers::station::Command;
use eframe::egui;

#[derive(Default)]
pub struct ReviewScreen {
    pub selected: usize,
    pub identifier: String,
    pub zoom: f32,
    /// Send batches whose flags were accepted as they are.
    pub accept_flags: bool,
}

/// Record-level flags a new identifier can settle.
fn identifier_flag(item: &ReviewItem) -> bool {
    matches!(&item.kind, ReviewKind::Flag { code, .. }
        if ["invalid_nhs_number", "invalid_patient_id", "no_record_sheet"].contains(&code.as_str()))
        && item.record_id.is_some()
        && item.side.is_none()
}

fn title(item: &ReviewItem) -> String {
    let side = item
        .side
        .map(|s| format!("side {s}"))
        .unwrap_or_else(|| "record".into());
    match &item.kind {
        ReviewKind::Flag { code, .. } => format!("{code} · {side} · {}", item.batch_label_or_id()),
        ReviewKind::RemovedBlank => {
            format!("removed as blank · {side} · {}", item.batch_label_or_id())
        }
    }
}

trait LabelOrId {
    fn batch_label_or_id(&self) -> String;
}

impl LabelOrId for ReviewItem {
    fn batch_label_or_id(&self) -> String {
        if self.batch_label.is_empty() {
            format!("batch {}", &self.batch_id[..8.min(self.batch_id.len())])
        } else {
            self.batch_label.clone()
        }
    }
}

pub fn review_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    if app.review.zoom == 0.0 {
        app.review.zoom = 1.0;
    }
    let items = app.snapshot.review.clone();
    let n = items.len();
    if n > 0 {
        app.review.selected = app.review.selected.min(n - 1);
    }
    let keys = ui.ctx().input(|i| {
        (
            i.key_pressed(egui::Key::ArrowDown) || i.key_pressed(egui::Key::ArrowRight),
            i.key_pressed(egui::Key::ArrowUp) || i.key_pressed(egui::Key::ArrowLeft),
            i.key_pressed(egui::Key::A),
            i.key_pressed(egui::Key::R),
        )
    });
    // Letters are shortcuts only while no text field has the keyboard.
    let typing = ui.ctx().memory(|m| m.focused().is_some());
    if n > 0 && !typing {
        if keys.0 {
            app.review.selected = (app.review.selected + 1).min(n - 1);
        }
        if keys.1 {
            app.review.selected = app.review.selected.saturating_sub(1);
        }
    }
    egui::Panel::bottom("batches")
        .default_size(170.0)
        .resizable(true)
        .show(ui, |ui| batches_ui(app, ui));
    egui::Panel::left("queue")
        .default_size(360.0)
        .min_size(320.0)
        .resizable(true)
        .show(ui, |ui| {
            ui.strong(format!("To review: {n}"));
            egui::ScrollArea::vertical().show(ui, |ui| {
                for (i, item) in items.iter().enumerate() {
                    if ui
                        .selectable_label(app.review.selected == i, title(item))
                        .clicked()
                    {
                        app.review.selected = i;
                        app.review.identifier.clear();
                    }
                }
                if n == 0 {
                    ui.label("Nothing to review.");
                }
            });
        });
    egui::CentralPanel::default().show(ui, |ui| {
        let Some(item) = items.get(app.review.selected).cloned() else {
            ui.label("Flagged pages of closed batches appear here.");
            return;
        };
        item_ui(app, ui, &item, !typing && keys.2, !typing && keys.3);
    });
}

fn item_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem, key_a: bool, key_r: bool) {
    ui.heading(title(item));
    if let Some(p) = &item.patient {
        ui.label(format!("Record: {p}"));
    }
    if let ReviewKind::Flag { detail, .. } = &item.kind {
        ui.label(detail);
    }
    ui.horizontal(|ui| match &item.kind {
        ReviewKind::Flag { id, .. } => {
            if ui
                .button("Approve page")
                .on_hover_text("Accept it as it is (A)")
                .clicked()
                || key_a
            {
                app.send(Command::ApproveFlag(*id));
            }
            if let Some(side) = item.side {
                for (label, degrees) in [("Turn right", 90), ("Turn over", 180), ("Turn left", 270)]
                {
                    if ui
                        .button(label)
                        .on_hover_text(format!("Turn the page {degrees} degrees clockwise"))
                        .clicked()
                    {
                        app.send(Command::RotatePage {
                            batch: item.batch_id.clone(),
                            side,
                            degrees,
                        });
                    }
                }
            }
        }
        ReviewKind::RemovedBlank => {
            if (ui
                .button("Restore page")
                .on_hover_text("Put it back in its document (R)")
                .clicked()
                || key_r)
                && let Some(side) = item.side
            {
                app.send(Command::RestorePage {
                    batch: item.batch_id.clone(),
                    side,
                });
            }
        }
    });
    if identifier_flag(item) {
        ui.separator();
        let l = ui.label("Correct identifier");
        ui.add(egui::TextEdit::singleline(&mut app.review.identifier).desired_width(200.0))
            .labelled_by(l.id);
        let (words, ok) = super::scan::identifier_check(app, &app.review.identifier);
        let color = if ok {
            ui.visuals().text_color()
        } else {
            ui.visuals().warn_fg_color
        };
        ui.colored_label(color, words);
        if ui
            .add_enabled(ok, egui::Button::new("Set identifier"))
            .clicked()
            && let Some(record) = &item.record_id
        {
            app.send(Command::FixIdentifier {
                batch: item.batch_id.clone(),
                record: record.clone(),
                text: app.review.identifier.clone(),
            });
            app.review.identifier.clear();
        }
    }
    ui.separator();
    ui.horizontal(|ui| {
        let l = ui.label("Zoom");
        ui.add(egui::Slider::new(&mut app.review.zoom, 0.25..=6.0).logarithmic(true))
            .labelled_by(l.id);
    });
    egui::ScrollArea::both().show(ui, |ui| match &item.preview_sha256 {
        Some(sha) => match app.textures.get(sha, &app.station) {
            Some(t) => {
                let size = t.size_vec2();
                let scale = (ui.available_width() / size.x).min(1.0) * app.review.zoom;
                ui.image((t.id(), size * scale));
            }
            None => {
                ui.spinner();
            }
        },
        None => {
            ui.label("(a record-level flag: no single page)");
        }
    });
}

fn batches_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        ui.strong("Batches awaiting approval");
        ui.checkbox(
            &mut app.review.accept_flags,
            "Accept open flags as they are",
        );
    });
    let batches: Vec<_> = app
        .snapshot
        .batches
        .iter()
        .filter(|b| b.state == "closed" || b.state == "in_review")
        .cloned()
        .collect();
    egui::ScrollArea::vertical()
        .id_salt("batches")
        .show(ui, |ui| {
            egui::Grid::new("batch-grid").striped(true).show(ui, |ui| {
                for h in [
                    "batch",
                    "label",
                    "sides",
                    "expected sheets",
                    "records",
                    "open flags",
                    "",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for b in &batches {
                    ui.monospace(&b.id[..8.min(b.id.len())]);
                    ui.label(&b.label);
                    ui.label(b.sides.to_string());
                    ui.label(
                        b.expected_sheets
                            .map(|e| e.to_string())
                            .unwrap_or_else(|| "—".into()),
                    );
                    ui.label(b.records.to_string());
                    ui.label(b.open_flags.to_string());
                    let can = b.open_flags == 0 || app.review.accept_flags;
                    if ui
                        .add_enabled(
                            can,
                            egui::Button::new(format!(
                                "Approve batch {}",
                                &b.id[..8.min(b.id.len())]
                            )),
                        )
                        .on_hover_text("Queue it for upload")
                        .clicked()
                    {
                        app.send(Command::ApproveBatch {
                            batch: b.id.clone(),
                            accept_flags: app.review.accept_flags,
                        });
                    }
                    ui.end_row();
                }
            });
            if batches.is_empty() {
                ui.label("No closed batches.");
            }
        });
}
