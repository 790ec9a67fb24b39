//! The Scan screen (bureau scanning): the scanner and the batch's label and
//! sheet count, Start and Stop, faults in the window, batches left open, and
//! the scan itself (live page, thumbnail strip, separation tree, counters).

use super::context::{Screen, ScreenCtx};
use super::scan_view::{ScanView, StopAction};
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
    /// The screen has just been opened: the keyboard goes to its first field.
    pub focus_first: bool,
    /// A scan was started: the keyboard leaves the fields, so the page's
    /// keys (arrows, zoom) work while it runs.
    release_focus: bool,
}

impl ScanScreen {
    /// Starts scanning on the chosen scanner: a new batch, or the rest of an
    /// open one.
    pub fn start(&mut self, ctx: &mut ScreenCtx, resume: Option<String>) {
        ctx.scanner.choose_default(&ctx.snapshot.devices);
        let mut req = ctx.scanner.request();
        req.label = Some(self.label.clone()).filter(|l| !l.trim().is_empty());
        req.expected_sheets = Some(self.expected_sheets).filter(|&n| n > 0);
        let new_batch = resume.is_none();
        req.resume = resume;
        ctx.send(Command::Scan(req));
        self.view.begin();
        self.release_focus = true;
        if new_batch {
            // They belong to the batch just started: the next starts blank.
            self.label.clear();
            self.expected_sheets = 0;
        }
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
        let (f5, esc, f8, f9) = ui.ctx().input(|i| {
            let k = |key| i.key_pressed(key);
            (
                k(egui::Key::F5),
                k(egui::Key::Escape),
                k(egui::Key::F8),
                k(egui::Key::F9),
            )
        });
        let idle = !self.view.scanning && !ctx.scanning && !self.ask_open;
        if f5 && idle {
            self.start_new(ctx);
        }
        if esc && self.view.scanning {
            self.view.stop(ctx.commands);
        }
        if f8
            && idle
            && let Some(b) = self.resumable()
        {
            self.resume(ctx, &b);
        }
        if f9
            && idle
            && let Some(b) = self.closable(ctx)
        {
            self.close(ctx, b);
        }
    }

    /// The batch a stop or a fault left open, to resume.
    fn resumable(&self) -> Option<String> {
        self.view.fault.as_ref().and_then(|f| f.batch.clone())
    }

    /// The batch last scanned, if it may still be closed.
    fn closable(&self, ctx: &ScreenCtx) -> Option<String> {
        self.view
            .batch
            .as_ref()
            .filter(|b| {
                ctx.snapshot
                    .batches
                    .iter()
                    .any(|r| &r.id == *b && crate::batch::rules::may_close(r.state))
            })
            .cloned()
    }

    fn close(&mut self, ctx: &mut ScreenCtx, batch: String) {
        ctx.send(Command::CloseBatch(batch));
        self.view.fault = None;
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
            let field = ui
                .add(
                    egui::TextEdit::singleline(&mut self.label)
                        .hint_text("e.g. Ward 7 box 12")
                        .desired_width(160.0),
                )
                .labelled_by(l.id);
            if std::mem::take(&mut self.focus_first) {
                field.request_focus();
            }
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
                ui.checkbox(&mut s.demo_target, "Test target first")
                    .on_hover_text("The demo stack starts with Folio's session test target");
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
                .on_hover_text("Scan the feeder load as a new batch (F5)")
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
            let resumable = self.resumable();
            if ui
                .add_enabled(!busy && resumable.is_some(), egui::Button::new("Resume"))
                .on_hover_text("Scan the rest of the stack into the batch that stopped (F8)")
                .clicked()
                && let Some(b) = resumable
            {
                self.resume(ctx, &b);
            }
            let open = self.closable(ctx);
            if ui
                .add_enabled(!busy && open.is_some(), egui::Button::new("Close batch"))
                .on_hover_text("End the batch with the sides it has; it goes to Review (F9)")
                .clicked()
                && let Some(b) = open
            {
                self.close(ctx, b);
            }
        });
    }

    /// A scan that ended early: a Stop is said calmly; a fault leads with
    /// what to do at the scanner, in large text, with Resume beside it.
    fn fault_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, f: &ScanFailure) {
        let name = f.batch.as_ref().map(|b| ctx.batch_name(b));
        match super::scan_view::stop_banner_ui(ui, f, name.as_deref()) {
            Some(StopAction::Resume) => {
                if let Some(b) = &f.batch {
                    self.resume(ctx, b);
                }
            }
            Some(StopAction::Close) => {
                if let Some(b) = f.batch.clone() {
                    self.close(ctx, b);
                }
            }
            Some(StopAction::Dismiss) => self.view.fault = None,
            None => {}
        }
    }

    /// Every batch left open, whatever stopped it (and whichever window or
    /// command line started it), with Resume and Close, so none is forgotten.
    fn open_batches_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        let open = open_batches(ctx);
        if open.is_empty() {
            return;
        }
        egui::Frame::new()
            .fill(super::style::banner(ui.visuals().panel_fill, ui.visuals().warn_fg_color))
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
        if std::mem::take(&mut self.release_focus) {
            ui.ctx().memory_mut(|m| {
                if let Some(id) = m.focused() {
                    m.surrender_focus(id);
                }
            });
        }
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
        self.view.batch_line_ui(ui, ctx);
        self.view.counters_ui(ui);
        self.view
            .panels_ui(ui, ("separation", "strip"), ctx.textures);
    }

    fn opened(&mut self) {
        self.focus_first = true;
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

/// A batch in words, by what people tell batches apart by: its label, when
/// and by whom it was started, its id as shown, and what it holds so far.
fn batch_words(ctx: &ScreenCtx, b: &BatchRow) -> String {
    let label = match b.label.trim() {
        "" => "(no label)".to_string(),
        l => format!("\u{201c}{}\u{201d}", crate::batch::printable(l, 60)),
    };
    let why = b
        .last_error
        .as_deref()
        .map(|e| format!(": {}", crate::batch::printable(e, 120)))
        .unwrap_or_default();
    format!(
        "{label}, started {} by {} (batch {}), {} sides kept{why}",
        super::context::when(&b.created),
        crate::batch::printable(&b.operator, 40),
        ctx.batch_name(&b.id),
        b.sides
    )
}
