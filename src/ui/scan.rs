//! The Scan screen (live page, thumbnail strip, separation tree, counters,
//! faults in the window) and the On demand screen (a typed patient identifier,
//! one record scanned and sent first).

use super::StationApp;
use crate::batch::approval::Overrides;
use crate::batch::{FlagCode, Layout, PatientId};
use crate::store::{BatchRow, PatientMismatch};
use crate::workers::station::{Command, Event, ScanFailure, ScanRequest};
use crate::workers::{ScanReport, scan::ScanProgress};
use eframe::egui;

/// A side in the thumbnail strip.
#[derive(Debug, Clone)]
pub struct StripItem {
    pub side: u32,
    pub sheet: u32,
    pub thumb: Option<String>,
    pub preview: Option<String>,
    pub blank: bool,
    pub flags: Vec<FlagCode>,
}

/// The page growing band by band as the scanner delivers it.
#[derive(Default)]
struct LiveView {
    side: u32,
    width: usize,
    rows: usize,
    buf: Vec<u8>,
    texture: Option<egui::TextureHandle>,
    dirty: bool,
}

#[derive(Default)]
pub struct ScanScreen {
    pub device: String,
    pub profile: Option<String>,
    pub label: String,
    /// The demo feeder's stack size and speed (sides a minute; 0 = flat out).
    pub demo_records: u32,
    pub demo_speed: u32,
    /// Sheets counted for the batch (0: not counted).
    pub expected_sheets: u32,
    /// Extra backend options (NAME=VALUE), e.g. to rehearse a fault.
    pub extra_options: Vec<(String, String)>,
    pub scanning: bool,
    pub progress: Option<ScanProgress>,
    pub strip: Vec<StripItem>,
    pub selected: Option<usize>,
    pub fault: Option<ScanFailure>,
    pub last_report: Option<ScanReport>,
    /// The batch being scanned or last scanned.
    pub batch: Option<String>,
    pub zoom: f32,
    live: LiveView,
    /// On demand: what was typed, and the batch it made.
    pub patient_text: String,
    pub specialty: String,
    pub doc_type: String,
    pub on_demand_batch: Option<String>,
    /// Send the on-demand record even though flags are open (this record
    /// only; cleared once sent), and why.
    pub send_with_flags: bool,
    pub send_reason: String,
    /// A new scan was asked for while batches are still open: which to
    /// continue is being asked.
    pub ask_open: bool,
    /// The running scan's own token (Stop cancels it), and a Stop asked
    /// before the scan had started (applied when its token arrives).
    pub token: Option<crate::workers::station::CancelToken>,
    pub stop_asked: bool,
}

impl ScanScreen {
    /// Applies a scan event; returns a message for the status line.
    pub fn apply(&mut self, ctx: &egui::Context, e: Event) -> Option<(String, bool)> {
        match e {
            Event::ScanStarted(token) => {
                if std::mem::take(&mut self.stop_asked) {
                    token.cancel();
                }
                self.token = Some(token);
                self.scanning = true;
                self.fault = None;
                self.strip.clear();
                self.selected = None;
                self.progress = None;
                None
            }
            Event::Progress(p) => {
                self.strip.push(StripItem {
                    side: p.side,
                    sheet: p.sheet,
                    thumb: p.thumb_sha256.clone(),
                    preview: p.preview_sha256.clone(),
                    blank: p.blank,
                    flags: p.page_flags.clone(),
                });
                self.progress = Some(*p);
                None
            }
            Event::Band {
                side,
                first_row,
                width,
                total_rows,
                rows,
            } => {
                self.band(
                    ctx,
                    side,
                    first_row as usize,
                    width as usize,
                    total_rows,
                    &rows,
                );
                None
            }
            Event::ScanEnded(Ok(r)) => {
                (self.scanning, self.token) = (false, None);
                self.batch = Some(r.batch_id.clone());
                let msg = match &r.closed {
                    Some(c) => format!(
                        "batch {} done: {} sides, {} records, {} documents, {} removed, {} flags",
                        &r.batch_id[..8.min(r.batch_id.len())],
                        c.sides,
                        c.records,
                        c.documents,
                        c.removed,
                        c.flags
                    ),
                    None => format!("{} sides scanned; batch left open", r.stored_now),
                };
                self.last_report = Some(r);
                Some((msg, false))
            }
            Event::ScanEnded(Err(f)) => {
                (self.scanning, self.token) = (false, None);
                if f.batch.is_some() {
                    self.batch = f.batch.clone();
                }
                let msg = f.message.clone();
                self.fault = Some(f);
                Some((msg, true))
            }
            _ => None,
        }
    }

    fn band(
        &mut self,
        ctx: &egui::Context,
        side: u32,
        first: usize,
        width: usize,
        total: Option<u32>,
        rows: &[u8],
    ) {
        let live = &mut self.live;
        if live.side != side || live.width != width {
            *live = LiveView {
                side,
                width,
                texture: live.texture.take(),
                ..LiveView::default()
            };
        }
        let n = rows.len() / width.max(1);
        let want = (first + n).max(total.unwrap_or(0) as usize);
        if live.buf.len() < want * width {
            live.buf.resize(want * width, 255);
        }
        live.buf[first * width..(first + n) * width].copy_from_slice(&rows[..n * width]);
        live.rows = live.rows.max(want);
        live.dirty = true;
        ctx.request_repaint();
    }

    fn live_texture(&mut self, ctx: &egui::Context) -> Option<&egui::TextureHandle> {
        let live = &mut self.live;
        if live.dirty && live.width > 0 && live.rows > 0 {
            let img = egui::ColorImage::from_gray(
                [live.width, live.rows],
                &live.buf[..live.width * live.rows],
            );
            match &mut live.texture {
                Some(t) => t.set(img, egui::TextureOptions::LINEAR),
                None => {
                    live.texture =
                        Some(ctx.load_texture("live-page", img, egui::TextureOptions::LINEAR))
                }
            }
            live.dirty = false;
        }
        live.texture.as_ref()
    }

    pub(super) fn request(
        &self,
        on_demand: Option<(crate::batch::PatientId, Option<String>, Option<String>)>,
        resume: Option<String>,
    ) -> ScanRequest {
        let mut options = self.extra_options.clone();
        if self.device == crate::capture::DEMO_DEVICE {
            options.push(("records".into(), self.demo_records.max(1).to_string()));
            options.push(("speed".into(), self.demo_speed.to_string()));
        }
        ScanRequest {
            device: self.device.clone(),
            profile: self.profile.clone(),
            label: Some(self.label.clone()).filter(|l| !l.trim().is_empty()),
            resume,
            on_demand,
            options,
            expected_sheets: Some(self.expected_sheets).filter(|&n| n > 0),
        }
    }
}

pub(super) fn start(app: &mut StationApp, resume: Option<String>) {
    if app.scan.device.is_empty() {
        app.scan.device = app
            .snapshot
            .devices
            .first()
            .cloned()
            .unwrap_or_else(|| crate::capture::DEMO_DEVICE.into());
    }
    let req = app.scan.request(None, resume);
    app.scan.stop_asked = false;
    app.send(Command::Scan(req));
    app.scan.scanning = true;
}

/// Starts a new batch, unless batches are still open (interrupted): then
/// asks first whether to continue one of them.
fn start_new(app: &mut StationApp) {
    if open_batches(app).is_empty() {
        start(app, None);
    } else {
        app.scan.ask_open = true;
    }
}

/// Batches left `scanning` (a stop, a fault, a crash, a closed window).
fn open_batches(app: &StationApp) -> Vec<BatchRow> {
    app.snapshot
        .batches
        .iter()
        .filter(|b| crate::batch::rules::may_resume(b.state))
        .cloned()
        .collect()
}

/// Continues an open batch where it stopped.
fn resume(app: &mut StationApp, batch: &str) {
    app.scan.batch = Some(batch.to_string());
    app.scan.fault = None;
    start(app, Some(batch.to_string()));
}

pub(super) fn stop(app: &mut StationApp) {
    match &app.scan.token {
        Some(t) => t.cancel(),
        None => app.scan.stop_asked = true,
    }
}

pub fn scan_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    if app.scan.zoom == 0.0 {
        app.scan.zoom = 1.0;
        app.scan.demo_records = app.scan.demo_records.max(5);
        if app.scan.demo_speed == 0 && app.scan.extra_options.is_empty() {
            app.scan.demo_speed = 120;
        }
    }
    let (f5, esc) = ui.ctx().input(|i| {
        (
            i.key_pressed(egui::Key::F5),
            i.key_pressed(egui::Key::Escape),
        )
    });
    if f5 && !app.scan.scanning && !app.scan.ask_open {
        start_new(app);
    }
    if esc && app.scan.scanning {
        stop(app);
    }
    controls_ui(app, ui);
    if let Some(f) = app.scan.fault.clone() {
        fault_ui(app, ui, &f);
    }
    if !app.scan.scanning {
        open_batches_ui(app, ui);
    }
    if app.scan.ask_open {
        ask_open_ui(app, ui.ctx());
    }
    counters_ui(app, ui);
    egui::Panel::left("separation")
        .default_size(260.0)
        .min_size(220.0)
        .resizable(true)
        .show(ui, |ui| {
            ui.strong("Records and documents");
            egui::ScrollArea::vertical().show(ui, |ui| match &app.scan.progress {
                Some(p) => layout_ui(ui, &p.layout, app.scan.scanning),
                None => {
                    ui.label("Nothing scanned yet.");
                }
            });
        });
    egui::Panel::bottom("strip")
        .exact_size(150.0)
        .show(ui, |ui| strip_ui(app, ui));
    egui::CentralPanel::default().show(ui, |ui| page_ui(app, ui));
}

fn controls_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    ui.horizontal_wrapped(|ui| {
        let devices = app.snapshot.devices.clone();
        let l = ui.label("Scanner");
        egui::ComboBox::from_id_salt("device")
            .selected_text(super::shown(&app.scan.device))
            .show_ui(ui, |ui| {
                for d in &devices {
                    ui.selectable_value(&mut app.scan.device, d.clone(), super::shown(d));
                }
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("Profile");
        let profiles = app.snapshot.profiles.clone();
        egui::ComboBox::from_id_salt("profile")
            .selected_text(
                app.scan
                    .profile
                    .as_deref()
                    .map_or_else(|| "scanner defaults".into(), super::shown),
            )
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.scan.profile, None, "scanner defaults");
                for p in &profiles {
                    ui.selectable_value(&mut app.scan.profile, Some(p.clone()), super::shown(p));
                }
            })
            .response
            .labelled_by(l.id);
        let l = ui.label("Batch label");
        ui.add(egui::TextEdit::singleline(&mut app.scan.label).desired_width(140.0))
            .labelled_by(l.id);
        let l = ui.label("Sheets counted");
        ui.add(egui::DragValue::new(&mut app.scan.expected_sheets).range(0..=crate::config::limits::EXPECTED_SHEETS.max))
            .labelled_by(l.id)
            .on_hover_text("From the box's slip, if counted (0: not counted); Review compares it with the sheets scanned");
        if app.scan.device == crate::capture::DEMO_DEVICE {
            let l = ui.label("Demo records");
            ui.add(egui::DragValue::new(&mut app.scan.demo_records).range(1..=400))
                .labelled_by(l.id);
            let l = ui.label("Demo sides/min");
            ui.add(egui::DragValue::new(&mut app.scan.demo_speed).range(0..=2000))
                .labelled_by(l.id);
        }
    });
    ui.horizontal(|ui| {
        let scanning = app.scan.scanning;
        if ui
            .add_enabled(!scanning, egui::Button::new("Start"))
            .on_hover_text("Scan the feeder load (F5)")
            .clicked()
        {
            start_new(app);
        }
        if ui
            .add_enabled(scanning, egui::Button::new("Stop"))
            .on_hover_text("Stop after the current sheet (Esc)")
            .clicked()
        {
            stop(app);
        }
        let resumable = app.scan.fault.as_ref().and_then(|f| f.batch.clone());
        if ui
            .add_enabled(
                !scanning && resumable.is_some(),
                egui::Button::new("Resume"),
            )
            .clicked()
        {
            start(app, resumable);
        }
        let open = app
            .scan
            .batch
            .as_ref()
            .filter(|b| {
                app.snapshot
                    .batches
                    .iter()
                    .any(|r| &r.id == *b && crate::batch::rules::may_close(r.state))
            })
            .cloned();
        if ui
            .add_enabled(
                !scanning && open.is_some(),
                egui::Button::new("Close batch"),
            )
            .clicked()
            && let Some(b) = open
        {
            app.send(Command::CloseBatch(b));
            app.scan.fault = None;
        }
    });
}

fn fault_ui(app: &mut StationApp, ui: &mut egui::Ui, f: &ScanFailure) {
    egui::Frame::new()
        .fill(ui.visuals().error_fg_color.gamma_multiply(0.15))
        .inner_margin(8.0)
        .show(ui, |ui| {
            ui.colored_label(ui.visuals().error_fg_color, "The scan stopped");
            ui.label(super::shown_long(&f.message));
            if let Some(b) = &f.batch {
                ui.horizontal(|ui| {
                    if ui.button("Resume scanning").clicked() {
                        start(app, Some(b.clone()));
                    }
                    if ui.button("Dismiss").clicked() {
                        app.scan.fault = None;
                    }
                });
            }
        });
}

/// A batch in words: its id, label and what it holds so far.
fn batch_words(app: &StationApp, b: &BatchRow) -> String {
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
        app.batch_name(&b.id),
        b.created,
        b.sides
    )
}

/// Every batch left open, whatever stopped it (and whichever window or
/// command line started it), with Resume and Close, so none is forgotten.
fn open_batches_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    let open = open_batches(app);
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
                    ui.label(batch_words(app, b));
                    if ui
                        .button(format!("Resume {}", app.batch_name(&b.id)))
                        .on_hover_text("Put the rest of the stack in the feeder and scan on")
                        .clicked()
                    {
                        resume(app, &b.id);
                    }
                    if ui
                        .button(format!("Close {}", app.batch_name(&b.id)))
                        .on_hover_text("End the batch with the sides it has; it goes to Review")
                        .clicked()
                    {
                        app.send(Command::CloseBatch(b.id.clone()));
                    }
                });
            }
        });
}

/// Asked when a new scan is started while batches are still open: continue
/// one of them, or start a new batch anyway.
fn ask_open_ui(app: &mut StationApp, ctx: &egui::Context) {
    let open = open_batches(app);
    if open.is_empty() {
        app.scan.ask_open = false;
        start(app, None);
        return;
    }
    egui::Modal::new(egui::Id::unique("ask-open")).show(ctx, |ui| {
        ui.heading("A batch is still open");
        ui.label(
            "Is the stack in the feeder the rest of an open batch? Continue it, \
             or start a new batch (the open one stays listed on the Scan screen).",
        );
        for b in &open {
            ui.horizontal_wrapped(|ui| {
                ui.label(batch_words(app, b));
                if ui
                    .button(format!("Continue {}", app.batch_name(&b.id)))
                    .clicked()
                {
                    app.scan.ask_open = false;
                    resume(app, &b.id);
                }
            });
        }
        ui.horizontal(|ui| {
            if ui.button("Start a new batch").clicked() {
                app.scan.ask_open = false;
                start(app, None);
            }
            if ui.button("Cancel").clicked() {
                app.scan.ask_open = false;
            }
        });
    });
}

fn counters_ui(app: &StationApp, ui: &mut egui::Ui) {
    let s = &app.scan;
    let sides = s.progress.as_ref().map_or(0, |p| p.sides);
    let spm = s.progress.as_ref().map_or(0.0, |p| p.sides_per_minute);
    let flagged = s.strip.iter().filter(|i| !i.flags.is_empty()).count();
    let removed = s.progress.as_ref().map_or(0, |p| p.layout.removed.len());
    let sheets = s.strip.last().map_or(0, |i| i.sheet + 1);
    ui.horizontal(|ui| {
        ui.label(format!("Sides: {sides}"));
        ui.separator();
        ui.label(format!("Sheets: {sheets}"));
        ui.separator();
        ui.label(format!("Sides/min: {spm:.0}"));
        ui.separator();
        ui.label(format!("Flagged: {flagged}"));
        ui.separator();
        ui.label(format!("Removed: {removed}"));
        ui.separator();
        ui.label(if s.scanning {
            "Feeder: scanning"
        } else if s.fault.is_some() {
            "Feeder: stopped"
        } else {
            "Feeder: idle"
        });
    });
}

/// The records and documents of a layout, as a tree; while scanning, the
/// record being fed is not called empty.
pub fn layout_ui(ui: &mut egui::Ui, layout: &Layout, scanning: bool) {
    // The newest records are what an operator watches; a box of hundreds
    // would cost a frame to lay out whole (Review > Pages has them all).
    const SHOWN: usize = 40;
    let last = layout.records.len().saturating_sub(1);
    let skip = layout.records.len().saturating_sub(SHOWN);
    if skip > 0 {
        ui.label(format!("… {skip} earlier records"));
    }
    for (i, r) in layout.records.iter().enumerate().skip(skip) {
        let who = r
            .patient
            .as_ref()
            .map(|p| super::shown(&p.describe()))
            .unwrap_or_else(|| "no patient yet".into());
        egui::CollapsingHeader::new(format!("Record {}: {who}", i + 1))
            .id_salt(&r.id)
            // The last few records open; earlier ones folded, so a long
            // batch stays a short list.
            .default_open(i + 3 >= layout.records.len())
            .show(ui, |ui| {
                for d in &r.documents {
                    ui.label(format!(
                        "{} ({} pages)",
                        super::shown(d.doc_type.as_deref().unwrap_or("document")),
                        d.pages.len()
                    ));
                }
                for f in r.flags.iter().filter(|f| {
                    !(scanning && i == last && f.code == crate::batch::FlagCode::EmptyRecord)
                }) {
                    ui.colored_label(ui.visuals().warn_fg_color, format!("flag: {}", f.code));
                }
            });
    }
}

/// Width of one thumbnail in the strip, with its spacing.
const STRIP_ITEM: f32 = 88.0;

/// The strip of thumbnails. Only the thumbnails in view are laid out and
/// asked for, so a batch of thousands of sides costs what a screenful does.
fn strip_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    let typing = ui.ctx().memory(|m| m.focused().is_some());
    let (right, left) = ui.ctx().input(|i| {
        (
            i.key_pressed(egui::Key::ArrowRight),
            i.key_pressed(egui::Key::ArrowLeft),
        )
    });
    let n = app.scan.strip.len();
    let mut moved = false;
    if n > 0 && !typing && (right || left) {
        let cur = app.scan.selected.unwrap_or(n - 1);
        app.scan.selected = Some(if right {
            (cur + 1).min(n - 1)
        } else {
            cur.saturating_sub(1)
        });
        moved = true;
    }
    egui::ScrollArea::horizontal()
        .stick_to_right(true)
        .show_viewport(ui, |ui, viewport| {
            let origin = ui.max_rect().min;
            ui.set_width(n as f32 * STRIP_ITEM);
            ui.set_height(ui.available_height());
            let first = (viewport.min.x / STRIP_ITEM).floor().max(0.0) as usize;
            let last = ((viewport.max.x / STRIP_ITEM).ceil() as usize + 1).min(n);
            let slot = |i: usize| {
                egui::Rect::from_min_size(
                    origin + egui::vec2(i as f32 * STRIP_ITEM, 0.0),
                    egui::vec2(STRIP_ITEM, 135.0),
                )
            };
            if moved && let Some(sel) = app.scan.selected {
                ui.scroll_to_rect(slot(sel), None);
            }
            for i in first..last {
                let item = app.scan.strip[i].clone();
                ui.scope_builder(egui::UiBuilder::new().max_rect(slot(i)), |ui| {
                    strip_item_ui(app, ui, i, &item)
                });
            }
        });
}

fn strip_item_ui(app: &mut StationApp, ui: &mut egui::Ui, i: usize, item: &StripItem) {
    let size = egui::vec2(80.0, 113.0);
    let tex = item
        .thumb
        .as_ref()
        .and_then(|t| app.textures.get(t, &app.station))
        .map(|t| t.id());
    let resp = match tex {
        Some(id) => ui.add(egui::Button::image((id, size)).selected(app.scan.selected == Some(i))),
        None => ui.add_sized(size, egui::Button::new("…")),
    };
    let mark = if item.blank {
        "removed"
    } else if !item.flags.is_empty() {
        "flagged"
    } else {
        ""
    };
    let flags: Vec<&str> = item.flags.iter().map(|f| f.as_str()).collect();
    let hint = if flags.is_empty() {
        format!("side {}", item.side)
    } else {
        format!("side {}: {}", item.side, flags.join(", "))
    };
    if resp.on_hover_text(hint).clicked() {
        app.scan.selected = Some(i);
    }
    ui.small(format!("side {} {mark}", item.side).trim_end());
}

/// The zoom slider, and the + and - keys while no text field has the keyboard.
pub fn zoom_ui(ui: &mut egui::Ui, zoom: &mut f32) {
    let typing = ui.ctx().memory(|m| m.focused().is_some());
    let (zoom_in, zoom_out) = ui.ctx().input(|i| {
        (
            i.key_pressed(egui::Key::Plus) || i.key_pressed(egui::Key::Equals),
            i.key_pressed(egui::Key::Minus),
        )
    });
    if zoom_in && !typing {
        *zoom = (*zoom * 1.25).min(6.0);
    }
    if zoom_out && !typing {
        *zoom = (*zoom / 1.25).max(0.25);
    }
    ui.horizontal(|ui| {
        let l = ui.label("Zoom");
        ui.add(egui::Slider::new(zoom, 0.25..=6.0).logarithmic(true))
            .labelled_by(l.id)
            .on_hover_text("+ / -");
    });
}

fn page_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    zoom_ui(ui, &mut app.scan.zoom);
    let selected = app
        .scan
        .selected
        .and_then(|i| app.scan.strip.get(i))
        .cloned();
    egui::ScrollArea::both().show(ui, |ui| {
        if app.scan.scanning && selected.is_none() {
            let zoom = app.scan.zoom;
            if let Some(t) = app.scan.live_texture(ui.ctx()) {
                let size = t.size_vec2();
                let scale = (ui.available_width() / size.x).min(1.6) * zoom;
                ui.image((t.id(), size * scale));
            } else {
                ui.label("Waiting for the first sheet…");
            }
            return;
        }
        match selected.and_then(|s| s.preview) {
            Some(sha) => match app.textures.get(&sha, &app.station) {
                Some(t) => {
                    let size = t.size_vec2();
                    let scale = (ui.available_width() / size.x).min(1.0) * app.scan.zoom;
                    ui.image((t.id(), size * scale));
                }
                None => {
                    ui.spinner();
                }
            },
            None => {
                ui.label(if app.scan.strip.is_empty() {
                    "Load the feeder and press Start (F5)."
                } else {
                    "Choose a page in the strip below."
                });
            }
        }
    });
}

/// Live check of a typed identifier, in words, and whether it can be used.
pub fn identifier_check(app: &StationApp, text: &str) -> (String, bool) {
    if text.trim().is_empty() {
        return ("type an NHS number or a hospital number".into(), false);
    }
    match crate::workers::review::parse_identifier(&app.cfg, text) {
        Ok(p) => (format!("valid: {}", p.describe()), true),
        Err(e) => (e.to_string(), false),
    }
}

/// On demand (field teams): one patient's record, typed identifier checked
/// live, scanned, looked over (the pages, the flags), then sent ahead of every
/// other batch.
pub fn on_demand_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    if app.scan.scanning && ui.ctx().input(|i| i.key_pressed(egui::Key::Escape)) {
        stop(app);
    }
    ui.heading("Scan one record for a clinic");
    ui.label("The record goes to the front of the upload queue.");
    egui::Grid::new("on-demand").num_columns(2).show(ui, |ui| {
        let l = ui.label("Patient identifier");
        ui.add(
            egui::TextEdit::singleline(&mut app.scan.patient_text)
                .hint_text("NHS number or hospital number")
                .desired_width(200.0),
        )
        .labelled_by(l.id);
        ui.end_row();
        ui.label("");
        let (words, ok) = identifier_check(app, &app.scan.patient_text);
        let color = if ok {
            ui.visuals().text_color()
        } else {
            ui.visuals().warn_fg_color
        };
        ui.colored_label(color, words);
        ui.end_row();
        let l = ui.label("Specialty");
        ui.add(egui::TextEdit::singleline(&mut app.scan.specialty).hint_text("e.g. cardiology"))
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("Document type");
        ui.add(
            egui::TextEdit::singleline(&mut app.scan.doc_type)
                .hint_text("e.g. clinic letters (default: the station's)"),
        )
        .labelled_by(l.id);
        ui.end_row();
    });
    let patient = crate::workers::review::parse_identifier(&app.cfg, &app.scan.patient_text).ok();
    let done = app.scan.last_report.as_ref().map(|r| r.batch_id.clone());
    let open_flags = done
        .as_ref()
        .and_then(|b| app.snapshot.batches.iter().find(|r| &r.id == b))
        .map_or(0, |b| b.open_flags);
    let facts = done
        .as_ref()
        .and_then(|b| app.snapshot.approval.get(b))
        .cloned();
    // The record sheet names another patient than the one typed: nothing
    // is sent until a person says which patient it is.
    let questions: Vec<_> = app
        .snapshot
        .mismatches
        .iter()
        .filter(|(m, _)| Some(&m.batch_id) == done.as_ref())
        .cloned()
        .collect();
    let sent = app.scan.on_demand_batch.is_some() && app.scan.on_demand_batch == done;
    if !sent {
        for q in &questions {
            patient_choice_ui(app, ui, q);
        }
    }
    let overrides = Overrides {
        accept_flags: app.scan.send_with_flags,
        accept_count: false,
        reason: Some(app.scan.send_reason.clone()).filter(|r| !r.trim().is_empty()),
    };
    let verdict = if questions.is_empty() {
        super::review::approval_words(facts.as_ref(), &overrides)
    } else {
        Err("Cannot be sent yet: say which patient the record belongs to (above), or scan the right folder".into())
    };
    ui.horizontal(|ui| {
        let can = patient.is_some() && !app.scan.scanning;
        if ui
            .add_enabled(can, egui::Button::new("Scan record"))
            .on_hover_text(format!(
                "Scan the record on {}",
                super::shown(&app.scan.device)
            ))
            .clicked()
            && let Some(p) = patient.clone()
        {
            let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
            let req = app.scan.request(
                Some((p, opt(&app.scan.specialty), opt(&app.scan.doc_type))),
                None,
            );
            app.scan.stop_asked = false;
            app.send(Command::Scan(req));
            app.scan.scanning = true;
            app.scan.on_demand_batch = None;
            app.scan.send_with_flags = false;
            app.scan.send_reason.clear();
            app.scan.strip.clear();
            app.scan.selected = None;
        }
        if app.scan.scanning && ui.button("Stop").on_hover_text("Esc").clicked() {
            stop(app);
        }
        let can_send = done.is_some() && !app.scan.scanning && !sent && verdict.is_ok();
        if ui
            .add_enabled(can_send, egui::Button::new("Send now"))
            .on_hover_text("Approve the record and upload it before every other batch")
            .clicked()
            && let Some(b) = done.clone()
        {
            app.send(Command::ApproveBatch {
                batch: b.clone(),
                overrides: overrides.clone(),
            });
            app.scan.on_demand_batch = Some(b);
            // Used once: the next record starts with none.
            app.scan.send_with_flags = false;
            app.scan.send_reason.clear();
        }
        if open_flags > 0 && !sent && questions.is_empty() {
            ui.checkbox(
                &mut app.scan.send_with_flags,
                format!("Send with its {open_flags} open flags"),
            );
            if app.scan.send_with_flags {
                let l = ui.label("Why it may go as it is");
                ui.add(egui::TextEdit::singleline(&mut app.scan.send_reason).desired_width(220.0))
                    .labelled_by(l.id);
            }
        }
    });
    if done.is_some() && !sent && !app.scan.scanning {
        match &verdict {
            Ok(words) => ui.label(format!("Send now sends {words}.")),
            Err(why) => ui.colored_label(ui.visuals().warn_fg_color, why),
        };
    }
    if let Some(b) = &app.scan.on_demand_batch {
        let row = app.snapshot.outbox.iter().find(|r| &r.batch_id == b);
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
    counters_ui(app, ui);
    if app.scan.progress.is_none() {
        return;
    }
    // The record as scanned, to look over before sending.
    egui::Panel::left("on-demand-tree")
        .default_size(260.0)
        .resizable(true)
        .show(ui, |ui| {
            if let Some(p) = &app.scan.progress {
                layout_ui(ui, &p.layout, app.scan.scanning);
            }
        });
    egui::Panel::bottom("on-demand-strip")
        .exact_size(150.0)
        .show(ui, |ui| strip_ui(app, ui));
    egui::CentralPanel::default().show(ui, |ui| page_ui(app, ui));
}

/// Asks which patient an on-demand record belongs to when its record sheet
/// shows another identifier than the one typed, in words, with one button
/// for each (the choice is audited by the station).
pub(super) fn patient_choice_ui(
    app: &mut StationApp,
    ui: &mut egui::Ui,
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
        .fill(warn.gamma_multiply(0.15))
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
                    app.send(choose(&m.typed, false));
                }
                if let Some(p) = paper
                    && ui
                        .button(format!("It is {} (the record sheet's)", p.describe()))
                        .clicked()
                {
                    app.send(choose(p, true));
                }
                ui.label("or scan the right folder again.");
            });
        });
}
