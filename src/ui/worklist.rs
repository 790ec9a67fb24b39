//! The On demand screen's worklist: the clinics' upcoming appointments from
//! the EHR, in deadline order, overdue and due-today entries standing out
//! (in words and colour), each patient's NHS number and name as the EHR
//! gives them, and what the station and the central store know. Arrows move
//! the selection and Enter scans for it, while no text field has the keys.

use super::context::ScreenCtx;
use crate::batch::worklist::{Row, Urgency};
use crate::workers::station::Command;
use crate::workers::worklist::{Worklist, mark_words, when_words};
use eframe::egui;
use time::{OffsetDateTime, UtcOffset};

#[derive(Default)]
pub struct WorklistPanel {
    /// The entry selected, by appointment id (kept across refreshes).
    pub selected: Option<String>,
    /// The selection moved by key: bring it into view.
    scroll: bool,
}

impl WorklistPanel {
    /// Draws the list; returns the entry to scan for (Enter, a double
    /// click, or the button), if any. `keys` says whether the arrows and
    /// Enter are the list's (no text field has them).
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        list: &Worklist,
        keys: bool,
    ) -> Option<Row> {
        if !header_ui(ui, ctx, list) {
            return None;
        }
        let (now, local) = {
            let now = OffsetDateTime::now_utc();
            (now, crate::upload::ehr::local_offset(now))
        };
        let rows = &list.rows;
        let mut start = if keys { self.keys_ui(ui, rows) } else { None };
        let at = self.position(rows);
        // A field laptop's narrow window keeps the due time, the patient
        // and the status in columns; the clinic and the appointment's time
        // show on hover and, once chosen, above the form.
        let narrow = ui.available_width() < 1100.0;
        let heads: &[&str] = if narrow {
            &["Due by", "NHS number", "Name", "Status"]
        } else {
            &[
                "Due by",
                "Appointment",
                "Clinic",
                "NHS number",
                "Name",
                "Status",
            ]
        };
        egui::ScrollArea::both()
            .id_salt("worklist")
            .max_height((ui.available_height() * 0.45).max(120.0))
            .show(ui, |ui| {
                let fill = ui.visuals().selection.bg_fill;
                egui::Grid::new("worklist-grid")
                    .striped(true)
                    .with_row_color(move |row, _| (row == at + 1).then_some(fill))
                    .num_columns(heads.len())
                    .spacing([14.0, 4.0])
                    .show(ui, |ui| {
                        for h in heads {
                            ui.strong(*h);
                        }
                        ui.end_row();
                        for (n, r) in rows.iter().enumerate() {
                            if self.row_ui(ui, r, (n == at, narrow), (now, local)) {
                                start = Some(r.clone());
                            }
                        }
                    });
            });
        let chosen = &rows[at];
        let can = !ctx.scanning;
        let words = format!(
            "Scan for {} (Enter)",
            super::shown(if chosen.item.name.is_empty() {
                "the selected entry"
            } else {
                &chosen.item.name
            })
        );
        if ui
            .add_enabled(can, egui::Button::new(words))
            .on_hover_text("Fills in the patient's NHS number and scans the record")
            .clicked()
        {
            start = Some(chosen.clone());
        }
        start.filter(|_| can)
    }

    /// The arrows move the selection; Enter returns the entry to scan for.
    fn keys_ui(&mut self, ui: &egui::Ui, rows: &[Row]) -> Option<Row> {
        let at = self.position(rows);
        let (down, up, enter) = ui.ctx().input(|i| {
            (
                i.key_pressed(egui::Key::ArrowDown),
                i.key_pressed(egui::Key::ArrowUp),
                i.key_pressed(egui::Key::Enter),
            )
        });
        let to = if down {
            (at + 1).min(rows.len() - 1)
        } else if up {
            at.saturating_sub(1)
        } else {
            at
        };
        self.scroll |= to != at;
        self.selected = Some(rows[to].item.appointment_id.clone());
        enter.then(|| rows[to].clone())
    }

    /// The selected entry's place (the first not done when none is).
    fn position(&self, rows: &[Row]) -> usize {
        self.selected
            .as_ref()
            .and_then(|id| rows.iter().position(|r| &r.item.appointment_id == id))
            .or_else(|| rows.iter().position(|r| !r.done))
            .unwrap_or(0)
    }

    /// One entry; true when it was double-clicked (scan for it).
    fn row_ui(
        &mut self,
        ui: &mut egui::Ui,
        r: &Row,
        (selected, narrow): (bool, bool),
        (now, local): (OffsetDateTime, UtcOffset),
    ) -> bool {
        let v = ui.visuals().clone();
        let (tag, color) = match (r.done, r.urgency) {
            (true, _) => ("✔ done", v.text_color()),
            (false, Urgency::Overdue) => ("⚠ OVERDUE", v.error_fg_color),
            (false, Urgency::DueToday) => ("due today", v.warn_fg_color),
            (false, Urgency::Later) => ("", v.text_color()),
        };
        let due = when_words(r.item.deadline, now, local);
        let plain = |t: String| egui::RichText::new(t);
        let warn = |t: String| egui::RichText::new(format!("⚠ {t}")).color(v.warn_fg_color);
        let nhs = match (&r.item.nhs_number, &r.item.nhs_problem) {
            (Some(n), _) => plain(
                crate::batch::PatientId::Nhs {
                    number: n.clone(),
                    valid: true,
                }
                .spaced(),
            ),
            (None, _) => warn("no valid NHS number".into()),
        };
        let mut cells = vec![
            egui::RichText::new(format!("{due} {tag}").trim().to_string()).color(color),
            plain(when_words(r.item.start, now, local)),
            plain(super::shown(&r.item.clinic)),
            nhs,
            plain(super::shown(&r.item.name)),
            plain(mark_words(r, now, local)),
        ];
        if narrow {
            cells.drain(1..3);
        }
        let hover = format!(
            "{}, {}{}",
            super::shown(&r.item.clinic),
            when_words(r.item.start, now, local),
            r.item
                .nhs_problem
                .as_deref()
                .map(|p| format!("; {}", super::shown(p)))
                .unwrap_or_default()
        );
        // The row's colour shows the selection (the grid paints it); any
        // of its cells takes a click.
        let mut resp: Option<egui::Response> = None;
        for c in cells {
            let c = if selected {
                c.color(v.selection.stroke.color)
            } else {
                c
            };
            let cell = ui
                .add(
                    egui::Label::new(c)
                        .sense(egui::Sense::click())
                        .selectable(false),
                )
                .on_hover_text(&hover);
            resp = Some(match resp {
                Some(r) => r.union(cell),
                None => cell,
            });
        }
        ui.end_row();
        let Some(resp) = resp else {
            return false;
        };
        if resp.clicked() {
            self.selected = Some(r.item.appointment_id.clone());
        }
        if selected && std::mem::take(&mut self.scroll) {
            resp.scroll_to_me(None);
        }
        resp.double_clicked()
    }
}

/// The list's title, Refresh, and where the list stands (its age, the last
/// failure, the store's note); false when it has no entries to show.
fn header_ui(ui: &mut egui::Ui, ctx: &mut ScreenCtx, list: &Worklist) -> bool {
    ui.horizontal(|ui| {
        ui.strong("Clinic worklist");
        if ui
            .button("Refresh list")
            .on_hover_text("Fetch the appointments from the EHR now")
            .clicked()
        {
            ctx.send(Command::RefreshWorklist);
        }
    });
    let status = list.status_words();
    if list.error.is_some() {
        ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {status}"));
    } else {
        ui.label(status);
    }
    if let Some(note) = &list.store_note {
        ui.small(super::shown(note));
    }
    for w in &list.warnings {
        ui.colored_label(ui.visuals().warn_fg_color, format!("⚠ {}", super::shown(w)));
    }
    if list.rows.is_empty() {
        if list.fetched_at.is_some() {
            ui.label("No appointments to scan for in the coming days.");
        }
        return false;
    }
    true
}
