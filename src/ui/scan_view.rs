//! One scan as a screen shows it, shared by the Scan and On demand screens
//! (each holds its own): the page growing band by band, the thumbnail strip,
//! the separation tree, the counters, and the scan's own Stop.

use super::context::ScreenCommand;
use super::textures::Textures;
use crate::batch::{FlagCode, Layout};
use crate::workers::station::{CancelToken, Event, ScanFailure};
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

/// A band of the side being scanned (see [`Event::Band`]).
struct Band<'a> {
    side: u32,
    first: usize,
    width: usize,
    total: Option<u32>,
    rows: &'a [u8],
}

/// One screen's scan: running or not, its token, what it has shown so far.
pub struct ScanView {
    /// Asked for and not ended yet.
    pub scanning: bool,
    /// Stops this scan; known once the station has started it.
    pub token: Option<CancelToken>,
    /// Stop was pressed before the token came: sent as soon as it does.
    stop_asked: bool,
    pub progress: Option<ScanProgress>,
    pub strip: Vec<StripItem>,
    pub selected: Option<usize>,
    pub fault: Option<ScanFailure>,
    pub last_report: Option<ScanReport>,
    /// The batch being scanned or last scanned.
    pub batch: Option<String>,
    pub zoom: PageZoom,
    live: LiveView,
}

impl Default for ScanView {
    fn default() -> ScanView {
        ScanView {
            scanning: false,
            token: None,
            stop_asked: false,
            progress: None,
            strip: Vec::new(),
            selected: None,
            fault: None,
            last_report: None,
            batch: None,
            zoom: PageZoom::default(),
            live: LiveView::default(),
        }
    }
}

impl ScanView {
    /// Forgets everything shown (the zoom stays as chosen).
    pub fn clear(&mut self) {
        *self = ScanView {
            zoom: self.zoom,
            ..ScanView::default()
        };
    }

    /// A scan was asked for (the station answers with its start).
    pub fn begin(&mut self) {
        self.scanning = true;
        self.stop_asked = false;
    }

    /// Stops this scan after the current sheet: with its token, or as soon
    /// as the token comes.
    pub fn stop(&mut self, commands: &mut Vec<ScreenCommand>) {
        match &self.token {
            Some(t) => commands.push(ScreenCommand::Stop(t.clone())),
            None if self.scanning => self.stop_asked = true,
            None => {}
        }
    }

    /// Applies a scan event; returns a message for the status line. A Stop
    /// pressed before the scan started is pushed to `commands` here.
    pub fn apply(
        &mut self,
        ctx: &egui::Context,
        e: Event,
        commands: &mut Vec<ScreenCommand>,
    ) -> Option<(String, bool)> {
        match e {
            Event::ScanStarted(token) => {
                self.started(token, commands);
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
                let band = Band {
                    side,
                    first: first_row as usize,
                    width: width as usize,
                    total: total_rows,
                    rows: &rows,
                };
                self.band(ctx, &band);
                None
            }
            Event::ScanEnded(ended) => Some(self.ended(ended)),
            _ => None,
        }
    }

    fn started(&mut self, token: CancelToken, commands: &mut Vec<ScreenCommand>) {
        self.scanning = true;
        self.fault = None;
        self.strip.clear();
        self.selected = None;
        self.progress = None;
        if std::mem::take(&mut self.stop_asked) {
            commands.push(ScreenCommand::Stop(token.clone()));
        }
        self.token = Some(token);
    }

    fn ended(&mut self, ended: Result<ScanReport, ScanFailure>) -> (String, bool) {
        self.scanning = false;
        self.token = None;
        self.stop_asked = false;
        match ended {
            Ok(r) => {
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
                (msg, false)
            }
            Err(f) => {
                if f.batch.is_some() {
                    self.batch = f.batch.clone();
                }
                let msg = f.message.clone();
                self.fault = Some(f);
                (msg, true)
            }
        }
    }

    fn band(&mut self, ctx: &egui::Context, b: &Band) {
        let live = &mut self.live;
        let width = b.width;
        if live.side != b.side || live.width != width {
            *live = LiveView {
                side: b.side,
                width,
                texture: live.texture.take(),
                ..LiveView::default()
            };
        }
        let n = b.rows.len() / width.max(1);
        let want = (b.first + n).max(b.total.unwrap_or(0) as usize);
        if live.buf.len() < want * width {
            live.buf.resize(want * width, 255);
        }
        live.buf[b.first * width..(b.first + n) * width].copy_from_slice(&b.rows[..n * width]);
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

    /// The counters: sides, sheets, speed, flags, removed, the feeder.
    pub fn counters_ui(&self, ui: &mut egui::Ui) {
        let sides = self.progress.as_ref().map_or(0, |p| p.sides);
        let spm = self.progress.as_ref().map_or(0.0, |p| p.sides_per_minute);
        let flagged = self.strip.iter().filter(|i| !i.flags.is_empty()).count();
        let removed = self.progress.as_ref().map_or(0, |p| p.layout.removed.len());
        let sheets = self.strip.last().map_or(0, |i| i.sheet + 1);
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
            ui.label(if self.scanning {
                "Feeder: scanning"
            } else if self.fault.is_some() {
                "Feeder: stopped"
            } else {
                "Feeder: idle"
            });
        });
    }

    /// The separation so far, as a tree (nothing when nothing is scanned).
    pub fn tree_ui(&self, ui: &mut egui::Ui) -> bool {
        match &self.progress {
            Some(p) => {
                layout_ui(ui, &p.layout, self.scanning);
                true
            }
            None => false,
        }
    }

    /// The strip, in a bottom panel with this id.
    pub fn strip_panel_ui(&mut self, ui: &mut egui::Ui, id: &str, textures: &mut Textures) {
        egui::Panel::bottom(id.to_string())
            .exact_size(150.0)
            .show(ui, |ui| self.strip_ui(ui, textures));
    }

    /// Moves the selection with the arrow keys (none while typing); whether
    /// it moved.
    fn arrow_keys(&mut self, ui: &egui::Ui) -> bool {
        let typing = ui.ctx().memory(|m| m.focused().is_some());
        let (right, left) = ui.ctx().input(|i| {
            (
                i.key_pressed(egui::Key::ArrowRight),
                i.key_pressed(egui::Key::ArrowLeft),
            )
        });
        let n = self.strip.len();
        if n == 0 || typing || !(right || left) {
            return false;
        }
        let cur = self.selected.unwrap_or(n - 1);
        self.selected = Some(if right {
            (cur + 1).min(n - 1)
        } else {
            cur.saturating_sub(1)
        });
        true
    }

    /// The strip of thumbnails. Only the thumbnails in view are laid out and
    /// asked for, so a batch of thousands of sides costs what a screenful does.
    fn strip_ui(&mut self, ui: &mut egui::Ui, textures: &mut Textures) {
        let moved = self.arrow_keys(ui);
        let n = self.strip.len();
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
                if moved && let Some(sel) = self.selected {
                    ui.scroll_to_rect(slot(sel), None);
                }
                for i in first..last {
                    let item = self.strip[i].clone();
                    ui.scope_builder(egui::UiBuilder::new().max_rect(slot(i)), |ui| {
                        if strip_item_ui(ui, &item, self.selected == Some(i), textures) {
                            self.selected = Some(i);
                        }
                    });
                }
            });
    }

    /// The page: growing live while scanning, else the one chosen in the
    /// strip.
    pub fn page_ui(&mut self, ui: &mut egui::Ui, textures: &mut Textures) {
        self.zoom.ui(ui);
        let selected = self.selected.and_then(|i| self.strip.get(i)).cloned();
        let zoom = self.zoom;
        egui::ScrollArea::both().show(ui, |ui| {
            // The space the page is fitted to: what the panel has left, less
            // a little so a fitted page needs no scroll bar.
            let space = ui.available_size() - egui::vec2(4.0, 4.0);
            if self.scanning && selected.is_none() {
                if let Some(t) = self.live_texture(ui.ctx()) {
                    ui.image((t.id(), zoom.size(t.size_vec2(), space)));
                } else {
                    ui.label("Waiting for the first sheet…");
                }
                return;
            }
            match selected.and_then(|s| s.preview) {
                Some(sha) => match textures.get(&sha) {
                    Some(t) => {
                        ui.image((t.id(), zoom.size(t.size_vec2(), space)));
                    }
                    None => {
                        ui.spinner();
                    }
                },
                None => {
                    ui.label(if self.strip.is_empty() {
                        "Load the feeder and press Start (F5)."
                    } else {
                        "Choose a page in the strip below."
                    });
                }
            }
        });
    }
}

/// Width of one thumbnail in the strip, with its spacing.
const STRIP_ITEM: f32 = 88.0;

/// One thumbnail with its side number and marks; whether it was clicked.
fn strip_item_ui(
    ui: &mut egui::Ui,
    item: &StripItem,
    selected: bool,
    textures: &mut Textures,
) -> bool {
    let size = egui::vec2(80.0, 113.0);
    let tex = item
        .thumb
        .as_ref()
        .and_then(|t| textures.get(t))
        .map(|t| t.id());
    let resp = match tex {
        Some(id) => ui.add(egui::Button::image((id, size)).selected(selected)),
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
    let clicked = resp.on_hover_text(hint).clicked();
    ui.small(format!("side {} {mark}", item.side).trim_end());
    clicked
}

/// How a page is fitted to the space it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The whole page in view (the default: a skew or a missing corner shows
    /// at a glance).
    Page,
    /// The page's width across the space, scrolled up and down.
    Width,
    /// One pixel of the image to one point of the screen (1:1).
    Actual,
}

/// The fit and the zoom on top of it, with their keys: P (whole page),
/// W (width), 1 (1:1), + and - (zoom), none while a text field has the
/// keyboard.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageZoom {
    pub fit: Fit,
    pub zoom: f32,
}

impl Default for PageZoom {
    fn default() -> PageZoom {
        PageZoom {
            fit: Fit::Page,
            zoom: 1.0,
        }
    }
}

impl PageZoom {
    /// The size to draw an image of `image` points in `space`.
    pub fn size(&self, image: egui::Vec2, space: egui::Vec2) -> egui::Vec2 {
        let (w, h) = (image.x.max(1.0), image.y.max(1.0));
        let fit = match self.fit {
            Fit::Page => (space.x / w).min(space.y / h),
            Fit::Width => space.x / w,
            Fit::Actual => 1.0,
        };
        image * (fit.max(0.01) * self.zoom)
    }

    fn choose(&mut self, fit: Fit) {
        self.fit = fit;
        self.zoom = 1.0;
    }

    /// The keys and the controls: three fit buttons and the zoom slider.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        let typing = ui.ctx().memory(|m| m.focused().is_some());
        if !typing {
            let keys = ui.ctx().input(|i| {
                let k = |key| i.key_pressed(key);
                (
                    k(egui::Key::Plus) || k(egui::Key::Equals),
                    k(egui::Key::Minus),
                    [
                        (egui::Key::P, Fit::Page),
                        (egui::Key::W, Fit::Width),
                        (egui::Key::Num1, Fit::Actual),
                    ]
                    .into_iter()
                    .find_map(|(key, fit)| k(key).then_some(fit)),
                )
            });
            match keys {
                (true, _, _) => self.zoom = (self.zoom * 1.25).min(6.0),
                (_, true, _) => self.zoom = (self.zoom / 1.25).max(0.25),
                (_, _, Some(fit)) => self.choose(fit),
                _ => {}
            }
        }
        ui.horizontal(|ui| {
            for (fit, name, hint) in [
                (Fit::Page, "Whole page", "Fit the whole page (P)"),
                (Fit::Width, "Page width", "Fit the page's width (W)"),
                (Fit::Actual, "1:1", "One image pixel to a screen point (1)"),
            ] {
                if ui
                    .selectable_label(self.fit == fit, name)
                    .on_hover_text(hint)
                    .clicked()
                {
                    self.choose(fit);
                }
            }
            let l = ui.label("Zoom");
            ui.add(egui::Slider::new(&mut self.zoom, 0.25..=6.0).logarithmic(true))
                .labelled_by(l.id)
                .on_hover_text("+ / -");
        });
    }
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
                for f in r
                    .flags
                    .iter()
                    .filter(|f| !(scanning && i == last && f.code == FlagCode::EmptyRecord))
                {
                    ui.colored_label(ui.visuals().warn_fg_color, format!("flag: {}", f.code));
                }
            });
    }
}
