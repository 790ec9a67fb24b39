//! The Review screen (supervisors): the queue of flagged sides (a side's
//! flags are one item, settled by one decision), then the pages taken out,
//! across closed batches; the page large with its neighbours; the decisions
//! (approve, turn, remove, restore, mark for rescan, rescan and replace, move
//! to another document or to a new record for the patient on its label, fix a
//! record's identifier with a live check); then each batch's reconciliation
//! and approval for upload. Every decision is a command to the station
//! worker, which audits it and says what it did on the status line. Every
//! action has a key (see [`super::KEYS`]); the queue and the batches fold
//! away (Q, B) so the page stays large in a small window. Runs on the UI
//! thread.

mod batches;
mod decide;
mod sample;

use super::context::{Screen, ScreenCommand, ScreenCtx};
use super::patient::patient_choice_ui;
use super::scan_view::PageZoom;
use crate::batch::approval::{self, ApprovalFacts, Overrides};
use crate::batch::{FlagCode, MoveTarget};
use crate::store::{ReviewItem, ReviewKind};
use crate::workers::station::{CancelToken, ImageRequest};
use eframe::egui;

/// Below this width the queue starts folded away; below this height, the
/// batches (Q and B show them).
const ROOMY: egui::Vec2 = egui::vec2(1000.0, 650.0);

#[derive(Default)]
pub struct ReviewScreen {
    pub selected: usize,
    pub identifier: String,
    pub zoom: PageZoom,
    /// What a supervisor accepts for one batch, by batch id: never shared
    /// between batches, and forgotten once the batch is approved.
    pub overrides: std::collections::HashMap<String, BatchOverride>,
    /// Why a page is marked for rescan.
    pub rescan_reason: String,
    /// Where to move the page: a document, or a new record.
    pub move_to: Option<MoveTarget>,
    /// The page being rescanned (batch, side), until the worker answers.
    pub rescanning: Option<(String, u32)>,
    /// Stops the rescan running (Esc), once the station has started it.
    pub rescan_token: Option<CancelToken>,
    /// Sheet counts being typed, by batch id.
    pub expected: std::collections::HashMap<String, u32>,
    /// The batch being gone through side by side (instead of the flags), and
    /// its sides as the worker last sent them.
    pub browse: Option<String>,
    pub pages: std::sync::Arc<Vec<ReviewItem>>,
    /// The queue and the batches are shown (None: not yet decided; the
    /// window's size decides at the first frame, Q and B after that).
    pub queue_open: Option<bool>,
    pub batches_open: Option<bool>,
    /// The batch whose sample is being checked (its sides only are walked).
    pub sampling: Option<String>,
    /// Why the sampled side shown fails, as typed.
    pub sample_reason: String,
    /// A sample check was just started: its first side without a verdict
    /// is shown once its sides arrive.
    sample_started: bool,
}

/// Overrides being set for one batch, as ticked and typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOverride {
    pub accept_flags: bool,
    pub accept_count: bool,
    /// Why it may go as it is (required with any override; audited).
    pub reason: String,
}

impl BatchOverride {
    /// As the approval rule takes them.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            accept_flags: self.accept_flags,
            accept_count: self.accept_count,
            reason: Some(self.reason.clone()).filter(|r| !r.trim().is_empty()),
        }
    }
}

/// What Approve will do for a batch under the one rule, in words for its
/// button: what is sent and what is overridden, or why it cannot go.
pub fn approval_words(facts: Option<&ApprovalFacts>, ov: &Overrides) -> Result<String, String> {
    let Some(facts) = facts else {
        return Err("waiting for the batch's figures".into());
    };
    let a = approval::decide(facts, ov).map_err(|why| format!("Cannot be sent: {why}"))?;
    let mut words = format!(
        "{} records, {} documents, {} pages",
        a.records, a.documents, a.pages
    );
    if !a.overridden.is_empty() {
        words.push_str(&format!("; overriding: {}", a.overridden.join(", ")));
    }
    Ok(words)
}

/// Record-level flags a new identifier can settle.
fn identifier_flag(item: &ReviewItem) -> bool {
    matches!(&item.kind, ReviewKind::Flag { code, .. }
        if matches!(code, FlagCode::InvalidNhsNumber
            | FlagCode::InvalidPatientId
            | FlagCode::NoRecordSheet))
        && item.record_id.is_some()
        && item.side.is_none()
}

/// Whether the item is a page in a document (which can be turned, removed
/// or moved), rather than a side that is in none: one that could not be
/// read, or a damaged control sheet. Any side can be rescanned.
fn in_a_document(item: &ReviewItem) -> bool {
    item.side.is_some()
        && match &item.kind {
            ReviewKind::Flag { .. } => !item.flags().iter().any(|(_, code)| {
                matches!(
                    code,
                    FlagCode::UnreadableImage | FlagCode::UnreadableControlSheet
                )
            }),
            ReviewKind::Page => item.record_id.is_some(),
            ReviewKind::Removed { .. } => false,
        }
}

fn removed_words(reason: crate::batch::RemovedReason) -> &'static str {
    match reason {
        crate::batch::RemovedReason::Blank => "removed as blank",
        crate::batch::RemovedReason::ControlSheet => "control sheet",
        crate::batch::RemovedReason::PatchSheet => "patch sheet",
        crate::batch::RemovedReason::RemovedBySupervisor => "removed by a supervisor",
    }
}

/// What the item is about, in plain words: a flag's title, or all of a
/// side's ("Flags: Another patient's label on this page; Page scanned
/// crooked").
fn what(item: &ReviewItem) -> String {
    match &item.kind {
        ReviewKind::Flag { .. } => {
            let titles: Vec<&str> = item.flags().iter().map(|(_, c)| c.title()).collect();
            match titles.as_slice() {
                [one] => one.to_string(),
                many => format!("Flags: {}", many.join("; ")),
            }
        }
        ReviewKind::Removed { reason } => removed_words(*reason).into(),
        ReviewKind::Page if item.record_id.is_none() => "could not be read".into(),
        ReviewKind::Page => "page".into(),
    }
}

/// The flags' codes (for support and the manifest), shown small.
fn codes(item: &ReviewItem) -> Option<String> {
    let codes: Vec<&str> = item.flags().iter().map(|(_, c)| c.as_str()).collect();
    (!codes.is_empty()).then(|| codes.join(", "))
}

fn title(item: &ReviewItem) -> String {
    let side = item
        .side
        .map(|s| format!("side {s}"))
        .unwrap_or_else(|| "record".into());
    format!("{} · {side} · {}", what(item), batch_name(item))
}

fn batch_name(item: &ReviewItem) -> String {
    if item.batch_label.is_empty() {
        format!("batch {}", short(&item.batch_id))
    } else {
        super::shown(&item.batch_label)
    }
}

fn short(id: &str) -> &str {
    &id[..8.min(id.len())]
}

/// Keys of the Review screen, read once a frame (none while typing).
#[derive(Default)]
struct Keys {
    next: bool,
    previous: bool,
    approve: bool,
    restore: bool,
    turn: Option<u16>,
    remove: bool,
    mark: bool,
    rescan: bool,
    approve_batch: bool,
    queue: bool,
    batches: bool,
    back: bool,
    /// Sampling: the side shown passes (Y) or fails (N).
    pass: bool,
    fail: bool,
}

impl Keys {
    fn read(ctx: &egui::Context) -> Keys {
        if ctx.memory(|m| m.focused().is_some()) {
            return Keys::default();
        }
        ctx.input(|i| {
            let plain = !i.modifiers.command && !i.modifiers.alt;
            let k = |key| plain && i.key_pressed(key);
            Keys {
                next: k(egui::Key::ArrowDown) || k(egui::Key::ArrowRight),
                previous: k(egui::Key::ArrowUp) || k(egui::Key::ArrowLeft),
                approve: k(egui::Key::A),
                restore: k(egui::Key::R),
                turn: [(egui::Key::T, 90), (egui::Key::U, 180), (egui::Key::L, 270)]
                    .into_iter()
                    .find_map(|(key, d)| k(key).then_some(d)),
                remove: k(egui::Key::Delete) || k(egui::Key::X),
                mark: k(egui::Key::M),
                rescan: k(egui::Key::S),
                approve_batch: i.modifiers.command && i.key_pressed(egui::Key::Enter),
                queue: k(egui::Key::Q),
                batches: k(egui::Key::B),
                back: k(egui::Key::Escape),
                pass: k(egui::Key::Y),
                fail: k(egui::Key::N),
            }
        })
    }
}

impl Screen for ReviewScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.screen_ui(ui, ctx);
    }
}

impl ReviewScreen {
    /// A new snapshot: a rescan asked for has been answered.
    pub fn on_snapshot(&mut self) {
        self.rescanning = None;
        self.rescan_token = None;
    }

    /// The station refused a command (a rescan among them).
    pub fn on_error(&mut self) {
        self.on_snapshot();
    }

    /// Every side of a batch, as the worker sent them.
    pub fn on_pages(&mut self, batch: &str, items: std::sync::Arc<Vec<ReviewItem>>) {
        if self.browse.as_deref() == Some(batch) {
            self.pages = items;
        }
    }

    /// The rescan asked for has started: its token stops it.
    pub fn on_rescan_started(&mut self, token: CancelToken) {
        self.rescan_token = Some(token);
    }

    /// Esc: stops a rescan, else leaves the batch being gone through.
    fn escape(&mut self, ui: &egui::Ui, ctx: &mut ScreenCtx, keys: &Keys) {
        if let Some(t) = &self.rescan_token {
            if ui.ctx().input(|i| i.key_pressed(egui::Key::Escape)) {
                ctx.commands.push(ScreenCommand::Stop(t.clone()));
            }
        } else if keys.back && self.browse.is_some() {
            self.sampling = None;
            self.browse_batch(ctx, None);
        }
    }

    /// Which panels are shown: decided by the window's size at first, then
    /// by Q and B (or their buttons).
    fn panels(&mut self, ui: &egui::Ui, keys: &Keys) -> (bool, bool) {
        let room = ui.available_size();
        let queue = self.queue_open.get_or_insert(room.x >= ROOMY.x);
        *queue ^= keys.queue;
        let batches = self.batches_open.get_or_insert(room.y >= ROOMY.y);
        *batches ^= keys.batches;
        (*queue, *batches)
    }

    fn screen_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        let keys = Keys::read(ui.ctx());
        self.escape(ui, ctx, &keys);
        let items = match (&self.sampling, &self.browse) {
            (Some(_), _) => std::sync::Arc::new(self.sample_items(ctx)),
            (None, Some(_)) => self.pages.clone(),
            (None, None) => ctx.snapshot.review.clone(),
        };
        let n = items.len();
        if n > 0 {
            self.selected = self.selected.min(n - 1);
        }
        let before = self.selected;
        if n > 0 && keys.next {
            self.selected = (self.selected + 1).min(n - 1);
        }
        if keys.previous {
            self.selected = self.selected.saturating_sub(1);
        }
        let (queue_open, batches_open) = self.panels(ui, &keys);
        let current = items.get(self.selected).map(|i| i.batch_id.clone());
        let current = self.browse.clone().or(current);
        if batches_open {
            egui::Panel::bottom("batches")
                .default_size(240.0)
                .max_size(ui.available_height() * 0.6)
                .resizable(true)
                .show(ui, |ui| self.batches_ui(ui, ctx, current.as_deref(), &keys));
        } else {
            egui::Panel::bottom("batch-bar").show(ui, |ui| {
                self.batch_bar_ui(ui, ctx, current.as_deref(), &keys)
            });
        }
        if queue_open {
            egui::Panel::left("queue")
                .default_size(360.0)
                .min_size(280.0)
                .max_size(ui.available_width() * 0.45)
                .resizable(true)
                .show(ui, |ui| {
                    let moved = self.selected != before;
                    self.queue_ui(ui, ctx, &items, moved)
                });
        }
        if self.selected != before {
            self.identifier.clear();
            self.move_to = None;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.top_bar_ui(ui, items.len());
            let Some(item) = items.get(self.selected).cloned() else {
                ui.label(match (&self.sampling, &self.browse) {
                    (Some(_), _) => "Drawing the sample…",
                    (None, Some(_)) => "Loading the batch's sides…",
                    (None, None) => "Flagged pages of closed batches appear here.",
                });
                return;
            };
            self.item_ui(ui, ctx, &item, &keys);
        });
    }

    /// The panels' switches, where the item is in the queue, and the zoom.
    fn top_bar_ui(&mut self, ui: &mut egui::Ui, n: usize) {
        ui.horizontal_wrapped(|ui| {
            for (open, name, hint) in [
                (
                    &mut self.queue_open,
                    "Queue (Q)",
                    "Show or hide the list of flagged pages (Q)",
                ),
                (
                    &mut self.batches_open,
                    "Batches (B)",
                    "Show or hide every batch awaiting approval (B)",
                ),
            ] {
                let shown = open.unwrap_or(true);
                if ui
                    .selectable_label(shown, name)
                    .on_hover_text(hint)
                    .clicked()
                {
                    *open = Some(!shown);
                }
            }
            if n > 0 {
                ui.label(format!("{} of {n}", self.selected + 1))
                    .on_hover_text("Down / Up: next / previous");
            }
            ui.separator();
            self.zoom.ui(ui);
        });
    }

    /// The queue: flags, then the pages taken out. Only the rows in view are laid
    /// out, however long the queue.
    fn queue_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        items: &[ReviewItem],
        follow: bool,
    ) {
        let flags = items
            .iter()
            .filter(|i| matches!(i.kind, ReviewKind::Flag { .. }))
            .count();
        if let Some(b) = self.browse.clone() {
            ui.horizontal_wrapped(|ui| {
                let what = match self.sampling {
                    Some(_) => "Sample",
                    None => "All",
                };
                ui.strong(format!(
                    "{what}: {} sides of batch {}",
                    items.len(),
                    short(&b)
                ));
                if ui
                    .button("Back to flags")
                    .on_hover_text("The queue of flagged pages of every batch (Esc)")
                    .clicked()
                {
                    self.browse_batch(ctx, None);
                }
            });
        } else {
            ui.strong(format!("To review: {flags}"));
        }
        if items.is_empty() {
            ui.label("Nothing to review.");
            return;
        }
        // One row more than items: the heading of the pages taken out.
        let heading = (self.browse.is_none() && flags < items.len()).then_some(flags);
        let rows = items.len() + usize::from(heading.is_some());
        let height = ui.spacing().interact_size.y;
        let mut area = egui::ScrollArea::vertical();
        if follow {
            // Keep the item chosen with the keyboard in view.
            let row = self.selected + usize::from(heading.is_some_and(|h| self.selected >= h));
            let pitch = height + ui.spacing().item_spacing.y;
            area = area.vertical_scroll_offset((row as f32 * pitch - 3.0 * pitch).max(0.0));
        }
        area.show_rows(ui, height, rows, |ui, range| {
            for row in range {
                if Some(row) == heading {
                    ui.strong(format!("Pages taken out: {}", items.len() - flags))
                        .on_hover_text(
                            "Listed so nothing is dropped silently; Restore (R) puts one back",
                        );
                    continue;
                }
                let i = if heading.is_some_and(|h| row > h) {
                    row - 1
                } else {
                    row
                };
                ui.horizontal(|ui| {
                    if ui
                        .selectable_label(self.selected == i, title(&items[i]))
                        .clicked()
                    {
                        self.selected = i;
                    }
                    if let Some(codes) = codes(&items[i]) {
                        ui.small(codes);
                    }
                });
            }
        });
    }

    /// The item: what it is (plain words, the codes small), the decisions,
    /// then the page as large as the room allows, its neighbours beside it.
    fn item_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem, keys: &Keys) {
        self.verdict_ui(ui, ctx, item, keys);
        ui.horizontal_wrapped(|ui| {
            ui.heading(title(item));
            if let Some(codes) = codes(item) {
                ui.small(codes);
            }
        });
        if let Some(p) = &item.patient {
            ui.label(format!("Record: {}", super::shown(p)));
        }
        for k in std::iter::once(&item.kind).chain(&item.more_flags) {
            if let ReviewKind::Flag { code, detail, .. } = k {
                let words = super::shown_long(detail);
                match item.more_flags.is_empty() {
                    true => ui.label(words),
                    false => ui.label(format!("{}: {words}", code.title())),
                };
            }
        }
        ui.horizontal_wrapped(|ui| self.decisions_ui(ui, ctx, item, keys));
        if item.side.is_some() && !matches!(item.kind, ReviewKind::Removed { .. }) {
            self.rescan_ui(ui, ctx, item, keys);
        }
        if in_a_document(item) {
            self.move_ui(ui, ctx, item);
        }
        if identifier_flag(item) {
            self.identifier_ui(ui, ctx, item);
        }
        // An on-demand record whose sheet names another patient than the one
        // typed: the same question as on the On demand screen.
        let question = ctx
            .snapshot
            .mismatches
            .iter()
            .find(|(m, _)| matches!(&item.kind, ReviewKind::Flag { id, .. } if *id == m.flag_id))
            .cloned();
        if let Some(q) = question {
            patient_choice_ui(ui, ctx, &q);
        }
        ui.separator();
        ui.horizontal_top(|ui| {
            self.neighbours_ui(ui, ctx, item);
            egui::ScrollArea::both().show(ui, |ui| self.page_ui(ui, ctx, item));
        });
    }

    /// The page large: the screen preview, or the page at full resolution once
    /// the zoom goes past what the preview holds (loaded then, not before).
    fn page_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        let Some(sha) = &item.preview_sha256 else {
            ui.label(match item.side {
                Some(_) => "(no image: the side could not be read; rescan it)",
                None => "(a flag about the whole record: no single page)",
            });
            return;
        };
        let Some(preview) = ctx.textures.get(sha).cloned() else {
            ui.spinner();
            return;
        };
        let size = preview.size_vec2();
        let shown = self
            .zoom
            .size(size, ui.available_size() - egui::vec2(4.0, 4.0));
        let full = match &item.image {
            Some(img) if shown.x > size.x * 1.1 => ctx
                .textures
                .request(ImageRequest::Page(img.clone()))
                .cloned(),
            _ => None,
        };
        let texture = full.as_ref().unwrap_or(&preview).id();
        let alt = match item.side {
            Some(s) => format!("Page: side {s}"),
            None => "Page".into(),
        };
        ui.add(egui::Image::new((texture, shown)).alt_text(alt));
    }

    /// The sides around the page, small, in a column beside it for context
    /// (is it the back of the last one? the start of a letter?).
    fn neighbours_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        let Some(side) = item.side else {
            return;
        };
        let mut around = item.neighbours.clone();
        if let Some(t) = &item.thumb_sha256 {
            around.push((side, t.clone()));
            around.sort();
        }
        if around.is_empty() {
            return;
        }
        // Five fit the page's height, between 40 and 90 points each.
        let tall = (ui.available_height() / 5.0 - 24.0).clamp(40.0, 90.0);
        ui.vertical(|ui| {
            for (s, sha) in around {
                match ctx.textures.get(&sha) {
                    Some(t) => {
                        let size = t.size_vec2() * (tall / t.size_vec2().y.max(1.0));
                        let resp = ui.add(egui::Image::new((t.id(), size)));
                        if s == side {
                            ui.painter().rect_stroke(
                                resp.rect.expand(2.0),
                                2.0,
                                egui::Stroke::new(2.0, ui.visuals().selection.bg_fill),
                                egui::StrokeKind::Outside,
                            );
                        }
                    }
                    None => {
                        ui.spinner();
                    }
                }
                ui.small(if s == side {
                    format!("side {s} (this)")
                } else {
                    format!("side {s}")
                });
            }
        });
    }
}
