//! One scan as a screen shows it, shared by the Scan and On demand screens
//! (each holds its own): the page growing band by band, the thumbnail strip,
//! the separation tree, the counters, and the scan's own Stop.

use super::context::ScreenCommand;
use super::textures::Textures;
use crate::batch::{FlagCode, Layout, RemovedReason};
use crate::imaging::target::TargetCheck;
use crate::workers::station::{CancelToken, Event, ScanFailure, Snapshot};
use crate::workers::{ScanReport, scan::ScanProgress};
use eframe::egui;
use std::collections::HashMap;

/// A side in the thumbnail strip.
#[derive(Debug, Clone)]
pub struct StripItem {
    pub side: u32,
    pub sheet: u32,
    pub thumb: Option<String>,
    pub preview: Option<String>,
    pub blank: bool,
    pub flags: Vec<FlagCode>,
    /// The session test target, passed or not.
    pub target: Option<bool>,
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
#[derive(Default)]
pub struct ScanView {
    /// Asked for and not ended yet.
    pub scanning: bool,
    /// Stops this scan; known once the station has started it.
    pub token: Option<CancelToken>,
    /// Stop was pressed before the token came: sent as soon as it does.
    stop_asked: bool,
    pub progress: Option<ScanProgress>,
    pub strip: Vec<StripItem>,
    /// The flags the separation has put on each side so far (a label of
    /// another patient, a duplicate record sheet...), beside the page checks
    /// each strip item carries from its capture.
    pub side_flags: HashMap<u32, Vec<FlagCode>>,
    pub selected: Option<usize>,
    pub fault: Option<ScanFailure>,
    pub last_report: Option<ScanReport>,
    /// The batch being scanned or last scanned.
    pub batch: Option<String>,
    pub zoom: PageZoom,
    /// The records tree beside the page: shown or not as chosen, else
    /// shown when the window is wide enough for it and the page.
    pub show_tree: Option<bool>,
    live: LiveView,
    /// The session test target last measured here (kept from scan to scan:
    /// it holds for the session).
    pub target: Option<TargetCheck>,
}

impl ScanView {
    /// Forgets everything shown (the zoom and the tree stay as chosen).
    pub fn clear(&mut self) {
        *self = ScanView {
            zoom: self.zoom,
            show_tree: self.show_tree,
            target: self.target.take(),
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

    /// Applies a scan event; returns a message for the status line (batches
    /// named as `snapshot` names them). A Stop pressed before the scan
    /// started is pushed to `commands` here.
    pub fn apply(
        &mut self,
        ctx: &egui::Context,
        e: Event,
        commands: &mut Vec<ScreenCommand>,
        snapshot: &Snapshot,
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
                    target: p.target.as_ref().map(|t| t.passed),
                });
                self.side_flags = side_flags(&p.layout);
                if p.target.is_some() {
                    self.target = p.target.clone();
                }
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
            Event::ScanEnded(ended) => Some(self.ended(ended, snapshot)),
            _ => None,
        }
    }

    fn started(&mut self, token: CancelToken, commands: &mut Vec<ScreenCommand>) {
        self.scanning = true;
        self.fault = None;
        self.strip.clear();
        self.side_flags.clear();
        self.selected = None;
        self.progress = None;
        if std::mem::take(&mut self.stop_asked) {
            commands.push(ScreenCommand::Stop(token.clone()));
        }
        self.token = Some(token);
    }

    fn ended(
        &mut self,
        ended: Result<ScanReport, ScanFailure>,
        snapshot: &Snapshot,
    ) -> (String, bool) {
        self.scanning = false;
        self.token = None;
        self.stop_asked = false;
        match ended {
            Ok(r) => {
                self.batch = Some(r.batch_id.clone());
                let name = super::batch_name(snapshot, &r.batch_id);
                let msg = match &r.closed {
                    Some(c) => format!(
                        "batch {name} done: {} sides, {} records, {} documents, {} removed, {} flags",
                        c.sides, c.records, c.documents, c.removed, c.flags
                    ),
                    None => format!("{} sides scanned; batch {name} left open", r.stored_now),
                };
                // The session's best target so far (a pass anywhere in it).
                if let Some(t) = r.session.as_ref().and_then(|s| s.target.clone()) {
                    self.target = Some(t);
                }
                self.last_report = Some(r);
                (msg, false)
            }
            Err(f) => {
                if f.batch.is_some() {
                    self.batch = f.batch.clone();
                }
                let msg = match (&f.batch, f.stopped) {
                    (Some(b), true) => format!(
                        "Scan stopped; batch {} is kept open: Resume (F8) or Close batch (F9)",
                        super::batch_name(snapshot, b)
                    ),
                    (Some(b), false) => format!(
                        "The scan of batch {} stopped: {}",
                        super::batch_name(snapshot, b),
                        f.what
                    ),
                    (None, _) => f.what.clone(),
                };
                let error = !f.stopped;
                self.fault = Some(f);
                (msg, error)
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

    /// The batch's figures, all from the latest progress (one source, the
    /// whole batch, a resume's earlier sides included).
    pub fn counts(&self) -> Counts {
        let Some(p) = &self.progress else {
            return Counts::default();
        };
        let removed = p
            .layout
            .removed
            .iter()
            .filter(|r| {
                !matches!(
                    r.reason,
                    RemovedReason::ControlSheet | RemovedReason::PatchSheet
                )
            })
            .count();
        Counts {
            sides: p.batch_sides,
            sheets: p.sheet + 1,
            sides_per_minute: p.sides_per_minute,
            flags: shown_flags(&p.layout, self.scanning).count(),
            removed,
        }
    }

    /// The counters, large enough to read from the feeder (about 1.5 m): each
    /// its own label; flags also in words and with a sign, not colour alone.
    pub fn counters_ui(&self, ui: &mut egui::Ui) {
        let c = self.counts();
        let big = |text: String| egui::RichText::new(text).size(COUNTER_TEXT).strong();
        ui.horizontal_wrapped(|ui| {
            ui.label(big(format!("Sides: {}", c.sides)));
            ui.separator();
            ui.label(big(format!("Sheets: {}", c.sheets)));
            ui.separator();
            if c.flags > 0 {
                ui.label(
                    big(format!("\u{26a0} Flagged: {}", c.flags)).color(ui.visuals().warn_fg_color),
                )
                .on_hover_text("Flags are decided on the Review screen once the batch is closed");
            } else {
                ui.label(big("Flagged: 0".into()));
            }
            ui.separator();
            ui.label(big(format!("Removed: {}", c.removed)))
                .on_hover_text(
                    "Blank sides left out (listed in Review); control sheets not counted",
                );
            ui.separator();
            ui.label(
                egui::RichText::new(format!("Sides/min: {:.0}", c.sides_per_minute))
                    .size(COUNTER_TEXT * 0.75),
            );
            ui.separator();
            ui.label(egui::RichText::new(self.feeder_words()).size(COUNTER_TEXT * 0.75));
        });
        self.target_ui(ui);
    }

    /// The session test target's verdict and figures, once one was scanned.
    fn target_ui(&self, ui: &mut egui::Ui) {
        let Some(t) = &self.target else {
            return;
        };
        let (words, colour) = if t.passed {
            ("\u{2714} Test target passed", ui.visuals().text_color())
        } else {
            ("\u{26a0} Test target FAILED", ui.visuals().warn_fg_color)
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(egui::RichText::new(words).strong().color(colour));
            ui.label(super::shown(&t.summary));
        });
        for f in &t.failures {
            ui.label(egui::RichText::new(format!("\u{2022} {}", super::shown(f))).color(colour));
        }
    }

    fn feeder_words(&self) -> &'static str {
        match &self.fault {
            _ if self.scanning => "Feeder: scanning",
            Some(f) if f.stopped => "Feeder: stopped by you",
            Some(_) => "Feeder: needs you",
            None => "Feeder: idle",
        }
    }

    /// Which batch is being scanned (or was last), by what people tell
    /// batches apart by: its label and its id as shown.
    pub fn batch_line_ui(&self, ui: &mut egui::Ui, ctx: &super::ScreenCtx) {
        let label = self
            .progress
            .as_ref()
            .and_then(|p| p.layout.batch_label.clone())
            .filter(|l| !l.trim().is_empty());
        let id = self.batch.clone().or_else(|| {
            self.last_report
                .as_ref()
                .map(|r| r.batch_id.clone())
                .or_else(|| self.progress.as_ref().map(|p| p.batch_id.clone()))
        });
        let mut words = match (&label, self.scanning) {
            (Some(l), true) => format!("Scanning \u{201c}{}\u{201d}", super::shown(l)),
            (None, true) => "Scanning (no label)".to_string(),
            (Some(l), false) => format!("Last batch \u{201c}{}\u{201d}", super::shown(l)),
            (None, false) if id.is_some() => "Last batch".to_string(),
            (None, false) => return,
        };
        if let Some(id) = id.filter(|i| !i.is_empty()) {
            words.push_str(&format!(" \u{b7} {}", ctx.batch_name(&id)));
        }
        ui.label(egui::RichText::new(words).size(COUNTER_TEXT * 0.75));
    }

    /// The records tree (folding away), the strip and the page, with these
    /// panel ids.
    pub fn panels_ui(
        &mut self,
        ui: &mut egui::Ui,
        (tree_id, strip_id): (&str, &str),
        textures: &mut Textures,
    ) {
        let wide = ui.available_width() >= 1000.0;
        let mut show = self.show_tree.unwrap_or(wide);
        let before = show;
        egui::Panel::left(tree_id.to_string())
            .default_size(260.0)
            .min_size(200.0)
            .resizable(true)
            .show_collapsible(ui, &mut show, |ui| {
                ui.strong("Records and documents");
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if !self.tree_ui(ui) {
                        ui.label("Nothing scanned yet.");
                    }
                });
            });
        if show != before {
            // Dragged shut (or open) by its edge.
            self.show_tree = Some(show);
        }
        self.strip_panel_ui(ui, strip_id, textures);
        egui::CentralPanel::default().show(ui, |ui| {
            ui.horizontal(|ui| {
                if ui
                    .toggle_value(&mut show, "Records tree")
                    .on_hover_text("Show or hide the records and documents beside the page (F10)")
                    .changed()
                {
                    self.show_tree = Some(show);
                }
                self.zoom.ui(ui);
            });
            if ui.ctx().input(|i| i.key_pressed(egui::Key::F10)) {
                self.show_tree = Some(!show);
            }
            self.page_ui(ui, textures)
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
                    let mut item = self.strip[i].clone();
                    for f in self.side_flags.get(&item.side).into_iter().flatten() {
                        if !item.flags.contains(f) {
                            item.flags.push(*f);
                        }
                    }
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

/// What a stop banner's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopAction {
    Resume,
    Close,
    Dismiss,
}

/// A scan that ended early. A Stop is calm: the sides kept and the two ways
/// on. A fault leads with what to do at the scanner, in large text, then
/// what happened, with Resume beside it.
pub fn stop_banner_ui(
    ui: &mut egui::Ui,
    f: &ScanFailure,
    batch: Option<&str>,
) -> Option<StopAction> {
    let mut action = None;
    let kept = match (f.kept, batch) {
        (Some(n), Some(b)) => format!("{n} sides are kept in batch {b}."),
        (None, Some(b)) => format!("The sides scanned are kept in batch {b}."),
        _ => String::new(),
    };
    let (fill, stroke) = if f.stopped {
        (
            super::style::banner(ui.visuals().panel_fill, ui.visuals().text_color()),
            ui.visuals().widgets.noninteractive.bg_stroke,
        )
    } else {
        let e = ui.visuals().error_fg_color;
        (
            super::style::banner(ui.visuals().panel_fill, e),
            egui::Stroke::new(2.0, e),
        )
    };
    egui::Frame::new()
        .fill(fill)
        .stroke(stroke)
        .inner_margin(10.0)
        .show(ui, |ui| {
            if f.stopped {
                ui.label(egui::RichText::new("Scan stopped").size(COUNTER_TEXT * 0.75).strong());
                ui.label(format!(
                    "{kept} Put the rest of the stack on the feeder and press Resume (F8), or Close batch (F9) if it is complete."
                ));
            } else {
                if let Some(todo) = &f.what_to_do {
                    ui.label(
                        egui::RichText::new(capitalised(todo))
                            .size(COUNTER_TEXT * 0.85)
                            .strong(),
                    );
                }
                ui.colored_label(ui.visuals().error_fg_color, "The scan stopped");
                ui.label(super::shown_long(&capitalised(&f.what)));
                if !kept.is_empty() {
                    ui.label(kept);
                }
            }
            if f.batch.is_some() {
                ui.horizontal(|ui| {
                    let resume = egui::RichText::new("Resume scanning").size(COUNTER_TEXT * 0.75);
                    if ui.button(resume).on_hover_text("F8").clicked() {
                        action = Some(StopAction::Resume);
                    }
                    if ui.button("Close the batch").on_hover_text("F9").clicked() {
                        action = Some(StopAction::Close);
                    }
                    if ui.button("Dismiss").clicked() {
                        action = Some(StopAction::Dismiss);
                    }
                });
            }
        });
    action
}

fn capitalised(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
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
    let flagged = !item.flags.is_empty();
    if flagged {
        // The mark is a frame and words, not the colour alone.
        ui.painter().rect_stroke(
            resp.rect.expand(1.0),
            2.0,
            egui::Stroke::new(3.0, ui.visuals().warn_fg_color),
            egui::StrokeKind::Outside,
        );
    }
    let titles: Vec<&str> = item.flags.iter().map(|f| f.title()).collect();
    let hint = if titles.is_empty() {
        format!("side {}", item.side)
    } else {
        format!("side {}: {}", item.side, titles.join("; "))
    };
    let clicked = resp.on_hover_text(hint).clicked();
    let caption = if let Some(passed) = item.target {
        let verdict = if passed { "passed" } else { "FAILED" };
        format!("side {}\ntest target {verdict}", item.side)
    } else if item.blank {
        format!("side {}\nremoved (blank)", item.side)
    } else if flagged {
        format!("side {}\n\u{26a0} flagged", item.side)
    } else {
        format!("side {}", item.side)
    };
    if flagged {
        ui.label(
            egui::RichText::new(caption)
                .small()
                .strong()
                .color(ui.visuals().warn_fg_color),
        );
    } else {
        ui.small(caption);
    }
    clicked
}

/// Text size of the Scan screen's counters (points): read from the feeder.
pub const COUNTER_TEXT: f32 = 28.0;

/// A batch's figures as the Scan and On demand screens show them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub sides: u32,
    pub sheets: u32,
    pub sides_per_minute: f64,
    pub flags: usize,
    pub removed: usize,
}

/// Every flag of a layout with the side it is about (None: the record as a
/// whole); while scanning, the record being fed is not called empty.
fn shown_flags(
    layout: &Layout,
    scanning: bool,
) -> impl Iterator<Item = (Option<u32>, FlagCode)> + '_ {
    let last = layout.records.len().saturating_sub(1);
    layout
        .records
        .iter()
        .enumerate()
        .flat_map(move |(i, r)| record_flags(r, scanning && i == last))
}

/// The flags on each side of a layout.
fn side_flags(layout: &Layout) -> HashMap<u32, Vec<FlagCode>> {
    let mut map: HashMap<u32, Vec<FlagCode>> = HashMap::new();
    for (side, code) in shown_flags(layout, false) {
        if let Some(side) = side {
            let codes = map.entry(side).or_default();
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    map
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
    let warn = ui.visuals().warn_fg_color;
    for (i, r) in layout.records.iter().enumerate().skip(skip) {
        let who = r
            .patient
            .as_ref()
            .map(|p| super::shown(&p.describe()))
            .unwrap_or_else(|| "no patient yet".into());
        let flags: Vec<(Option<u32>, FlagCode)> = record_flags(r, scanning && i == last).collect();
        let mut title = egui::RichText::new(format!("Record {}: {who}", i + 1));
        if !flags.is_empty() {
            let n = flags.len();
            let s = if n == 1 { "" } else { "s" };
            title = egui::RichText::new(format!("\u{26a0} Record {}: {who} ({n} flag{s})", i + 1))
                .color(warn);
        }
        egui::CollapsingHeader::new(title)
            .id_salt(&r.id)
            // The last few records and flagged ones open; earlier ones
            // folded, so a long batch stays a short list.
            .default_open(i + 3 >= layout.records.len() || !flags.is_empty())
            .show(ui, |ui| {
                for d in &r.documents {
                    ui.label(format!(
                        "{} ({} pages)",
                        super::shown(d.doc_type.as_deref().unwrap_or("document")),
                        d.pages.len()
                    ));
                }
                for (side, code) in &flags {
                    let on = side.map(|s| format!(" (side {s})")).unwrap_or_default();
                    ui.colored_label(warn, format!("\u{26a0} {}{on}", code.title()))
                        .on_hover_text(code.as_str());
                }
            });
    }
}

/// A record's flags with their sides; the record being fed is not called
/// empty.
fn record_flags(
    r: &crate::batch::RecordLayout,
    feeding: bool,
) -> impl Iterator<Item = (Option<u32>, FlagCode)> + '_ {
    let record = r
        .flags
        .iter()
        .filter(move |f| !(feeding && f.code == FlagCode::EmptyRecord))
        .map(|f| (f.side, f.code));
    let pages = r
        .documents
        .iter()
        .flat_map(|d| &d.pages)
        .flat_map(|p| p.flags.iter().map(move |f| (Some(p.side), f.code)));
    record.chain(pages)
}
