//! The Scan screen (bureau scanning): the scanner and the batch's label and
//! sheet count, Start and Stop, faults in the window, batches left open, and
//! the scan itself (live page, thumbnail strip, separation tree, counters).

use super::context::{Screen, ScreenCtx};
use super::scan_view::ScanView;
use crate::store::BatchRow;
use crate::workers::station::{Command, ScanFailure};
use eframe::egui;

#[derive(Default)]
pub struct ScanScreen {
    pub label: String,
    /// Sheets counted for the batch (0: not counted).
    pub expected_sheets: u32,
    pub view: ScanView,
    /// A new scan was asked for while batches are still open: which to
    /// continue is being asked.
    pub ask_open: bool,
}

impl ScanScreen {
    /// Starts scanning on the chosen scanner: a new batch, or the rest of an
    /// open one.
    pub fn start(&mut self, ctx: &mut ScreenCtx, resume: Option<String>) {
        ctx.scanner.choose_default(&ctx.snapshot.devices);
        let mut req = ctx.scanner.request();
        req.label = Some(self.label.clone()).filter(|l| !l.trim().is_empty());
        req.expected_sheets = Some(self.expected_sheets).filter(|&n| n > 0);
        req.resume = resume;
        ctx.send(Command::Scan(req));
        self.view.begin();
    }

    /// Starts a new batch, unless batches are still open (interrupted): then
    /// asks first whether to continue one of them.
    fn start_new(&mut self, ctx: &mut ScreenCtx) {
        if open_batches(ctx).is_empty() {
            self.start(ctx, None);
        } else {
            self.ask_open = true;
        }
    }

    /// Continues an open batch where it stopped.
    fn resume(&mut self, ctx: &mut ScreenCtx, batch: &str) {
        self.view.batch = Some(batch.to_string());
        self.view.fault = None;
        self.start(ctx, Some(batch.to_string()));
    }

    fn keys(&mut self, ui: &egui::Ui, ctx: &mut ScreenCtx) {
        let (f5, esc) = ui.ctx().input(|i| {
            (
                i.key_pressed(egui::Key::F5),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if f5 && !self.view.scanning && !ctx.scanning && !self.ask_open {
            self.start_new(ctx);
        }
        if esc && self.view.scanning {
            self.view.stop(ctx.commands);
        }
    }

    /// The scanner, the profile, the batch's label and count.
    fn settings_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal_wrapped(|ui| {
            let s = &mut *ctx.scanner;
            let l = ui.label("Scanner");
            egui::ComboBox::from_id_salt("device")
                .selected_text(super::shown(&s.device))
                .show_ui(ui, |ui| {
                    for d in &ctx.snapshot.devices {
                        ui.selectable_value(&mut s.device, d.clone(), super::shown(d));
                    }
                })
                .response
                .labelled_by(l.id);
            let l = ui.label("Profile");
            egui::ComboBox::from_id_salt("profile")
                .selected_text(
                    s.profile
                        .as_deref()
                        .map_or_else(|| "scanner defaults".into(), super::shown),
                )
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut s.profile, None, "scanner defaults");
                    for p in &ctx.snapshot.profiles {
                        ui.selectable_value(&mut s.profile, Some(p.clone()), super::shown(p));
                    }
                })
                .response
                .labelled_by(l.id);
            let l = ui.label("Batch label");
            ui.add(egui::TextEdit::singleline(&mut self.label).desired_width(140.0))
                .labelled_by(l.id);
            let l = ui.label("Sheets counted");
            ui.add(egui::DragValue::new(&mut self.expected_sheets).range(0..=crate::config::limits::EXPECTED_SHEETS.max))
                .labelled_by(l.id)
                .on_hover_text("From the box's slip, if counted (0: not counted); Review compares it with the sheets scanned");
            if s.device == crate::capture::DEMO_DEVICE {
                let l = ui.label("Demo records");
                ui.add(egui::DragValue::new(&mut s.demo_records).range(1..=400))
                    .labelled_by(l.id);
                let l = ui.label("Demo sides/min");
                ui.add(egui::DragValue::new(&mut s.demo_speed).range(0..=2000))
                    .labelled_by(l.id);
            }
        });
    }

    /// Start, Stop, Resume and Close batch.
    fn buttons_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal(|ui| {
            let scanning = self.view.scanning;
            let busy = scanning || ctx.scanning;
            if ui
                .add_enabled(!busy, egui::Button::new("Start"))
                .on_hover_text("Scan the feeder load (F5)")
                .clicked()
            {
                self.start_new(ctx);
            }
            if ui
                .add_enabled(scanning, egui::Button::new("Stop"))
                .on_hover_text("Stop after the current sheet (Esc)")
                .clicked()
            {
                self.view.stop(ctx.commands);
            }
            let resumable = self.view.fault.as_ref().and_then(|f| f.batch.clone());
            if ui
                .add_enabled(!busy && resumable.is_some(), egui::Button::new("Resume"))
                .clicked()
            {
                self.start(ctx, resumable);
            }
            let open = self
                .view
                .batch
                .as_ref()
                .filter(|b| {
                    ctx.snapshot
                        .batches
                        .iter()
                        .any(|r| &r.id == *b && crate::batch::rules::may_close(r.state))
                })
                .cloned();
            if ui
                .add_enabled(!busy && open.is_some(), egui::Button::new("Close batch"))
                .clicked()
                && let Some(b) = open
            {
                ctx.send(Command::CloseBatch(b));
                self.view.fault = None;
            }
        });
    }

    fn fault_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, f: &ScanFailure) {
        egui::Frame::new()
            .fill(ui.visuals().error_fg_color.gamma_multiply(0.15))
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.colored_label(ui.visuals().error_fg_color, "The scan stopped");
                ui.label(super::shown_long(&f.message));
                if let Some(b) = &f.batch {
                    ui.horizontal(|ui| {
                        if ui.button("Resume scanning").clicked() {
                            self.start(ctx, Some(b.clone()));
                        }
                        if ui.button("Dismiss").clicked() {
                            self.view.fault = None;
                        }
                    });
                }
            });
    }

    /// Every batch left open, whatever stopped it (and whichever window or
    /// command line started it), with Resume and Close, so none is forgotten.
    fn open_batches_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        let open = open_batches(ctx);
        if open.is_empty() {
            return;
        }
        egui::Frame::new()
            .fill(ui.visuals().warn_fg_color.gamma_multiply(0.12))
            .inner_margin(8.0)
            .show(ui, |ui| {
                ui.strong(format!(
                    "Batches left open: {} (interrupted; resume the stack where it stopped, or close the batch as it is)",
                    open.len()
                ));
                for b in &open {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(batch_words(ctx, b));
                        let name = ctx.batch_name(&b.id);
                        if ui
                            .button(format!("Resume {name}"))
                            .on_hover_text("Put the rest of the stack in the feeder and scan on")
                            .clicked()
                        {
                            self.resume(ctx, &b.id);
                        }
                        if ui
                            .button(format!("Close {name}"))
                            .on_hover_text("End the batch with the sides it has; it goes to Review")
                            .clicked()
                        {
                            ctx.send(Command::CloseBatch(b.id.clone()));
                        }
                    });
                }
            });
    }

    /// Asked when a new scan is started while batches are still open:
    /// continue one of them, or start a new batch anyway.
    fn ask_open_ui(&mut self, ui: &egui::Ui, ctx: &mut ScreenCtx) {
        let open = open_batches(ctx);
        if open.is_empty() {
            self.ask_open = false;
            self.start(ctx, None);
            return;
        }
        egui::Modal::new(egui::Id::unique("ask-open")).show(ui.ctx(), |ui| {
            ui.heading("A batch is still open");
            ui.label(
                "Is the stack in the feeder the rest of an open batch? Continue it, \
                 or start a new batch (the open one stays listed on the Scan screen).",
            );
            for b in &open {
                ui.horizontal_wrapped(|ui| {
                    ui.label(batch_words(ctx, b));
                    if ui
                        .button(format!("Continue {}", ctx.batch_name(&b.id)))
                        .clicked()
                    {
                        self.ask_open = false;
                        self.resume(ctx, &b.id);
                    }
                });
            }
            ui.horizontal(|ui| {
                if ui.button("Start a new batch").clicked() {
                    self.ask_open = false;
                    self.start(ctx, None);
                }
                if ui.button("Cancel").clicked() {
                    self.ask_open = false;
                }
            });
        });
    }
}

impl Screen for ScanScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.keys(ui, ctx);
        self.settings_ui(ui, ctx);
        self.buttons_ui(ui, ctx);
        if let Some(f) = self.view.fault.clone() {
            self.fault_ui(ui, ctx, &f);
        }
        if !self.view.scanning {
            self.open_batches_ui(ui, ctx);
        }
        if self.ask_open {
            self.ask_open_ui(ui, ctx);
        }
        self.view.counters_ui(ui);
        egui::Panel::left("separation")
            .default_size(260.0)
            .min_size(220.0)
            .resizable(true)
            .show(ui, |ui| {
                ui.strong("Records and documents");
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if !self.view.tree_ui(ui) {
                        ui.label("Nothing scanned yet.");
                    }
                });
            });
        self.view.strip_panel_ui(ui, "strip", ctx.textures);
        egui::CentralPanel::default().show(ui, |ui| self.view.page_ui(ui, ctx.textures));
    }
}

/// Batches left `scanning` (a stop, a fault, a crash, a closed window).
fn open_batches(ctx: &ScreenCtx) -> Vec<BatchRow> {
    ctx.snapshot
        .batches
        .iter()
        .filter(|b| crate::batch::rules::may_resume(b.state))
        .cloned()
        .collect()
}

/// A batch in words: its id, label and what it holds so far.
fn batch_words(ctx: &ScreenCtx, b: &BatchRow) -> String {
    let label = match b.label.trim() {
        "" => String::new(),
        l => format!(" \u{201c}{}\u{201d}", crate::batch::printable(l, 60)),
    };
    let why = b
        .last_error
        .as_deref()
        .map(|e| format!(": {}", crate::batch::printable(e, 120)))
        .unwrap_or_default();
    format!(
        "batch {}{label}, started {}, {} sides kept{why}",
        ctx.batch_name(&b.id),
        b.created,
        b.sides
    )
}
