//! The Destruction screen (issue 18): the paper's life after upload for a
//! records manager. What the cache takes on disk; batches due for
//! destruction grouped by where their paper is, each with anything that
//! still stops it; certifying a destruction (the signed-in supervisor
//! authorises, a second person signs in here as witness); batches whose
//! paper is held, with where it is; legal holds in force (placed and lifted
//! with a reason); and the destruction register's newest certificates. The
//! rules are [`crate::batch::retention`]'s, the same `folio destruction`
//! asks. Runs on the UI thread.

use super::context::{Screen, ScreenCtx, when};
use super::{shown, shown_long};
use crate::batch::bytes_words;
use crate::batch::retention::HoldKind;
use crate::batch::roles::{Action, permit};
use crate::workers::destruction::PaperRow;
use crate::workers::station::{Command, Secret};
use eframe::egui;
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[derive(Default)]
pub struct DestructionScreen {
    /// Batches ticked for the certificate.
    pub chosen: BTreeSet<String>,
    pub method: String,
    pub witness: String,
    pub witness_pin: String,
    /// Paper locations being typed, by batch.
    pub locations: HashMap<String, String>,
    /// The hold being placed: batch, kind, reason.
    pub hold_batch: String,
    pub hold_kind: Option<HoldKind>,
    pub hold_reason: String,
    /// Reasons being typed to lift holds, by hold id.
    pub lift_reasons: HashMap<i64, String>,
}

impl Screen for DestructionScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        if let Some(d) = &ctx.snapshot.disk {
            ui.label(format!(
                "Cache: page images {} ({} files), database {}, other {}; {} free on this disk",
                bytes_words(d.images_bytes),
                d.files,
                bytes_words(d.database_bytes),
                bytes_words(d.other_bytes),
                bytes_words(d.free_bytes)
            ));
            ui.separator();
        }
        // Both ways: the certificates' table is wider than a field laptop.
        egui::ScrollArea::both()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                self.due_ui(ui, ctx);
                ui.add_space(8.0);
                self.held_ui(ui, ctx);
                ui.add_space(8.0);
                self.holds_ui(ui, ctx);
                ui.add_space(8.0);
                certificates_ui(ui, ctx);
            });
    }
}

impl DestructionScreen {
    /// Batches due, by paper location, and the certificate form.
    fn due_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.heading("Due for destruction");
        let due: Vec<&PaperRow> = ctx.snapshot.paper.iter().filter(|r| r.due).collect();
        self.chosen.retain(|b| due.iter().any(|r| r.batch_id == *b));
        if due.is_empty() {
            ui.label("No paper is due: batches become due once every document is verified in the store and their hold date has passed.");
            return;
        }
        let mut by_place: BTreeMap<String, Vec<&PaperRow>> = BTreeMap::new();
        for r in due {
            let place = r
                .paper_location
                .clone()
                .unwrap_or_else(|| "(location not recorded)".into());
            by_place.entry(place).or_default().push(r);
        }
        for (place, rows) in by_place {
            ui.label(egui::RichText::new(shown(&place)).strong());
            for r in rows {
                self.due_row(ui, ctx, r);
            }
        }
        ui.add_space(4.0);
        self.certify_ui(ui, ctx);
    }

    fn due_row(&mut self, ui: &mut egui::Ui, ctx: &ScreenCtx, r: &PaperRow) {
        ui.horizontal_wrapped(|ui| {
            let name = ctx.batch_name(&r.batch_id);
            let may = r.refusals.is_empty();
            let mut on = self.chosen.contains(&r.batch_id);
            let label = format!("{} {}", shown(&r.label), name);
            if ui
                .add_enabled(may, egui::Checkbox::new(&mut on, label))
                .changed()
            {
                match on {
                    true => self.chosen.insert(r.batch_id.clone()),
                    false => self.chosen.remove(&r.batch_id),
                };
            }
            ui.label(format!("{} records, {} documents", r.records, r.documents));
            if let Some(h) = &r.hold_until {
                ui.label(format!("held until {}", when(h)));
            }
            if !may {
                let why: Vec<String> = r.refusals.iter().map(ToString::to_string).collect();
                ui.colored_label(ui.visuals().error_fg_color, shown_long(&why.join("; ")));
            }
        });
    }

    /// Method, witness and the button, with why it cannot be pressed yet.
    fn certify_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        egui::Grid::new("certify").num_columns(2).show(ui, |ui| {
            let l = ui.label("Method");
            ui.add(
                egui::TextEdit::singleline(&mut self.method)
                    .hint_text("cross-cut shredding, contractor …")
                    .desired_width(360.0),
            )
            .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Witness (account)");
            ui.add(egui::TextEdit::singleline(&mut self.witness).desired_width(160.0))
                .labelled_by(l.id);
            ui.end_row();
            let l = ui.label("Witness's PIN");
            ui.add(
                egui::TextEdit::singleline(&mut self.witness_pin)
                    .password(true)
                    .desired_width(160.0),
            )
            .labelled_by(l.id);
            ui.end_row();
        });
        let allowed = permit(
            ctx.actor.role,
            Action::CertifyDestruction,
            ctx.snapshot.accounts,
        );
        let missing = if let Err(e) = &allowed {
            Some(e.to_string())
        } else if self.chosen.is_empty() {
            Some("tick the batches whose paper is destroyed".into())
        } else if self.method.trim().is_empty() {
            Some("say how the paper is destroyed".into())
        } else if self.witness.trim().is_empty() || self.witness_pin.is_empty() {
            Some("a second person signs in as witness".into())
        } else {
            None
        };
        ui.horizontal_wrapped(|ui| {
            let text = format!("Certify destruction of {} batch(es)", self.chosen.len());
            if ui
                .add_enabled(missing.is_none(), egui::Button::new(text))
                .clicked()
            {
                ctx.send(Command::CertifyDestruction {
                    batches: self.chosen.iter().cloned().collect(),
                    method: self.method.clone(),
                    witness: self.witness.trim().to_string(),
                    witness_secret: Secret::new(std::mem::take(&mut self.witness_pin)),
                });
                self.chosen.clear();
            }
            if let Some(why) = missing {
                ui.label(egui::RichText::new(shown(&why)).italics());
            }
        });
    }

    /// Batches whose paper is held, with where it is (typed or scanned from
    /// the box's barcode into the field) and until when.
    fn held_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.heading("Paper held");
        let held: Vec<&PaperRow> = ctx.snapshot.paper.iter().filter(|r| !r.due).collect();
        if held.is_empty() {
            ui.label("No paper is held.");
            return;
        }
        egui::Grid::new("held").striped(true).show(ui, |ui| {
            for h in ["Batch", "Held until", "Legal holds", "Paper is at", ""] {
                ui.strong(h);
            }
            ui.end_row();
            for r in held {
                ui.label(format!(
                    "{} {}",
                    shown(&r.label),
                    ctx.batch_name(&r.batch_id)
                ));
                ui.label(r.hold_until.as_deref().map(when).unwrap_or_default());
                ui.label(r.legal_holds.to_string());
                let text = self
                    .locations
                    .entry(r.batch_id.clone())
                    .or_insert_with(|| r.paper_location.clone().unwrap_or_default());
                ui.add(
                    egui::TextEdit::singleline(text)
                        .hint_text("box or trolley label")
                        .desired_width(180.0),
                );
                let changed =
                    Some(text.trim()) != r.paper_location.as_deref() && !text.trim().is_empty();
                if ui
                    .add_enabled(changed, egui::Button::new("Record location"))
                    .clicked()
                {
                    ctx.send(Command::SetPaperLocation {
                        batch: r.batch_id.clone(),
                        location: text.trim().to_string(),
                    });
                }
                ui.end_row();
            }
        });
    }

    /// Legal holds in force, each with Lift and its reason; a form to place one.
    fn holds_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.heading("Legal holds");
        for h in &ctx.snapshot.holds {
            ui.horizontal_wrapped(|ui| {
                let on = h
                    .record_id
                    .as_deref()
                    .map(|r| format!("record {}", shown(r)))
                    .unwrap_or_else(|| "whole batch".into());
                ui.label(format!(
                    "{} · batch {} ({on}) · {} · {} · placed {} by {}",
                    h.id,
                    ctx.batch_name(&h.batch_id),
                    shown(&h.kind),
                    shown_long(&h.reason),
                    when(&h.placed_at),
                    shown(&h.placed_by)
                ));
                let reason = self.lift_reasons.entry(h.id).or_default();
                ui.add(
                    egui::TextEdit::singleline(reason)
                        .hint_text("why it is lifted")
                        .desired_width(200.0),
                );
                if ui
                    .add_enabled(!reason.trim().is_empty(), egui::Button::new("Lift"))
                    .clicked()
                {
                    ctx.send(Command::LiftHold {
                        id: h.id,
                        reason: std::mem::take(reason),
                    });
                }
            });
        }
        if ctx.snapshot.holds.is_empty() {
            ui.label("No legal hold is in force.");
        }
        self.place_hold_ui(ui, ctx);
    }

    /// The form that places a legal hold on a batch.
    fn place_hold_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal_wrapped(|ui| {
            ui.label("Place a hold on batch");
            ui.add(
                egui::TextEdit::singleline(&mut self.hold_batch)
                    .hint_text("batch name")
                    .desired_width(120.0),
            );
            egui::ComboBox::from_id_salt("hold-kind")
                .selected_text(
                    self.hold_kind
                        .map(|k| k.as_str().replace('_', " "))
                        .unwrap_or_else(|| "why".into()),
                )
                .show_ui(ui, |ui| {
                    for k in HoldKind::ALL {
                        ui.selectable_value(
                            &mut self.hold_kind,
                            Some(k),
                            k.as_str().replace('_', " "),
                        );
                    }
                });
            ui.add(
                egui::TextEdit::singleline(&mut self.hold_reason)
                    .hint_text("reason (a claim's reference, an instruction)")
                    .desired_width(260.0),
            );
            let ready = !self.hold_batch.trim().is_empty()
                && self.hold_kind.is_some()
                && !self.hold_reason.trim().is_empty();
            if ui
                .add_enabled(ready, egui::Button::new("Place hold"))
                .clicked()
                && let Some(kind) = self.hold_kind
            {
                let batch = ctx
                    .snapshot
                    .batches
                    .iter()
                    .find(|b| b.id.starts_with(self.hold_batch.trim()))
                    .map(|b| b.id.clone())
                    .unwrap_or_else(|| self.hold_batch.trim().to_string());
                ctx.send(Command::PlaceHold {
                    batch,
                    record: None,
                    kind,
                    reason: std::mem::take(&mut self.hold_reason),
                });
            }
        });
    }
}

/// The register's newest certificates.
fn certificates_ui(ui: &mut egui::Ui, ctx: &ScreenCtx) {
    ui.heading("Certificates");
    if ctx.snapshot.certificates.is_empty() {
        ui.label("No destruction has been certified at this station.");
        return;
    }
    egui::Grid::new("certificates")
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "#",
                "Certified",
                "Certificate",
                "Batches",
                "Authorised by",
                "Witness",
                "Method",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for e in &ctx.snapshot.certificates {
                ui.label(e.seq.to_string());
                ui.label(when(&e.at));
                ui.label(egui::RichText::new(shown(&e.certificate_id)).monospace())
                    .on_hover_text(format!(
                        "PDF SHA-256 {}\nJSON SHA-256 {}",
                        e.pdf_sha256, e.json_sha256
                    ));
                ui.label(e.batches.len().to_string());
                ui.label(shown(&e.authorised_by));
                ui.label(shown(&e.witness));
                ui.label(shown_long(&e.method));
                ui.end_row();
            }
        });
}
