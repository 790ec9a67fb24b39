//! The Review screen (supervisors): the queue of flagged pages, then the pages
//! taken out, across closed batches; the page large with its neighbours; the
//! decisions (approve, turn, remove, restore, mark for rescan, rescan and
//! replace, move to another document, fix a record's identifier with a live
//! check); then each batch's reconciliation and approval for upload. Every
//! decision is a command to the station worker, which audits it.

use super::context::{Screen, ScreenCommand, ScreenCtx};
use super::patient::{identifier_words_ui, patient_choice_ui};
use super::scan_view::PageZoom;
use crate::batch::approval::{self, ApprovalFacts, Overrides};
use crate::store::{BatchRow, PageDecision, ReviewItem, ReviewKind};
use crate::workers::station::{CancelToken, Command, ImageRequest};
use eframe::egui;

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
    /// The document chosen to move the page into.
    pub move_to: Option<String>,
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
        if matches!(code, crate::batch::FlagCode::InvalidNhsNumber
            | crate::batch::FlagCode::InvalidPatientId
            | crate::batch::FlagCode::NoRecordSheet))
        && item.record_id.is_some()
        && item.side.is_none()
}

/// Whether the flag is about a page in a document (which can be turned,
/// removed or moved), rather than a side that is in none: one that could not
/// be read, or a damaged control sheet. Any side can be rescanned.
fn in_a_document(item: &ReviewItem) -> bool {
    item.side.is_some()
        && match &item.kind {
            ReviewKind::Flag { code, .. } => !matches!(
                code,
                crate::batch::FlagCode::UnreadableImage
                    | crate::batch::FlagCode::UnreadableControlSheet
            ),
            ReviewKind::Page => item.record_id.is_some(),
            ReviewKind::Removed { .. } => false,
        }
}

fn removed_words(reason: crate::batch::RemovedReason) -> &'static str {
    match reason {
        crate::batch::RemovedReason::Blank => "removed as blank",
        crate::batch::RemovedReason::ControlSheet => "control sheet",
        crate::batch::RemovedReason::RemovedBySupervisor => "removed by a supervisor",
    }
}

fn title(item: &ReviewItem) -> String {
    let side = item
        .side
        .map(|s| format!("side {s}"))
        .unwrap_or_else(|| "record".into());
    let what = match &item.kind {
        ReviewKind::Flag { code, .. } => code.as_str(),
        ReviewKind::Removed { reason } => removed_words(*reason),
        ReviewKind::Page if item.record_id.is_none() => "could not be read",
        ReviewKind::Page => "page",
    };
    format!("{what} · {side} · {}", batch_name(item))
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
}

impl Keys {
    fn read(ctx: &egui::Context) -> Keys {
        if ctx.memory(|m| m.focused().is_some()) {
            return Keys::default();
        }
        ctx.input(|i| {
            let k = |key| i.key_pressed(key);
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
            }
        })
    }
}

/// Approve, turn, remove or restore the page (by button or key).
fn decisions_ui(ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem, keys: &Keys) {
    let batch = item.batch_id.clone();
    match &item.kind {
        ReviewKind::Removed { reason } if *reason == crate::batch::RemovedReason::ControlSheet => {
            ui.label("Control sheets are left out of the output.");
        }
        ReviewKind::Flag { .. } | ReviewKind::Page => {
            if let ReviewKind::Flag { id, .. } = &item.kind
                && action(ui, "Approve page", "Accept it as it is (A)", keys.approve)
            {
                ctx.send(Command::ApproveFlag(*id));
            }
            if !in_a_document(item) {
                return;
            }
            for (label, degrees, key) in [
                ("Turn right", 90, "T"),
                ("Turn over", 180, "U"),
                ("Turn left", 270, "L"),
            ] {
                let hint = format!("Turn the page {degrees} degrees clockwise ({key})");
                if action(ui, label, &hint, keys.turn == Some(degrees)) {
                    ctx.send(Command::RotatePage {
                        batch: batch.clone(),
                        side: item.side.unwrap_or_default(),
                        degrees,
                    });
                }
            }
            let hint = "Take it out of its document; it stays listed and can be restored (Delete)";
            if action(ui, "Remove page", hint, keys.remove) {
                ctx.send(Command::DecidePage {
                    batch: batch.clone(),
                    side: item.side.unwrap_or_default(),
                    decision: PageDecision::Remove,
                });
            }
        }
        ReviewKind::Removed { .. } => {
            if action(
                ui,
                "Restore page",
                "Put it back in its document (R)",
                keys.restore,
            ) {
                ctx.send(Command::RestorePage {
                    batch: batch.clone(),
                    side: item.side.unwrap_or_default(),
                });
            }
        }
    }
}

/// A button with its shortcut in the tooltip, also pressed by the key.
fn action(ui: &mut egui::Ui, label: &str, hint: &str, key: bool) -> bool {
    ui.button(label).on_hover_text(hint).clicked() || key
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

    fn screen_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        if let Some(t) = &self.rescan_token
            && ui.ctx().input(|i| i.key_pressed(egui::Key::Escape))
        {
            ctx.commands.push(ScreenCommand::Stop(t.clone()));
        }
        let items = match self.browse {
            Some(_) => self.pages.clone(),
            None => ctx.snapshot.review.clone(),
        };
        let n = items.len();
        if n > 0 {
            self.selected = self.selected.min(n - 1);
        }
        let keys = Keys::read(ui.ctx());
        let before = self.selected;
        if n > 0 && keys.next {
            self.selected = (self.selected + 1).min(n - 1);
        }
        if keys.previous {
            self.selected = self.selected.saturating_sub(1);
        }
        egui::Panel::bottom("batches")
            .default_size(240.0)
            .resizable(true)
            .show(ui, |ui| self.batches_ui(ui, ctx));
        egui::Panel::left("queue")
            .default_size(360.0)
            .min_size(320.0)
            .resizable(true)
            .show(ui, |ui| {
                let moved = self.selected != before;
                self.queue_ui(ui, ctx, &items, moved)
            });
        if self.selected != before {
            self.identifier.clear();
            self.move_to = None;
        }
        egui::CentralPanel::default().show(ui, |ui| {
            let Some(item) = items.get(self.selected).cloned() else {
                ui.label(match self.browse {
                    Some(_) => "Loading the batch's sides…",
                    None => "Flagged pages of closed batches appear here.",
                });
                return;
            };
            self.item_ui(ui, ctx, &item, &keys);
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
            ui.horizontal(|ui| {
                ui.strong(format!("All {} sides of batch {}", items.len(), short(&b)));
                if ui
                    .button("Back to flags")
                    .on_hover_text("The queue of flagged pages of every batch")
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
                if ui
                    .selectable_label(self.selected == i, title(&items[i]))
                    .clicked()
                {
                    self.selected = i;
                }
            }
        });
    }

    fn item_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem, keys: &Keys) {
        ui.heading(title(item));
        if let Some(p) = &item.patient {
            ui.label(format!("Record: {}", super::shown(p)));
        }
        if let ReviewKind::Flag { detail, .. } = &item.kind {
            ui.label(super::shown_long(detail));
        }
        ui.horizontal_wrapped(|ui| decisions_ui(ui, ctx, item, keys));
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
        self.neighbours_ui(ui, ctx, item);
        self.zoom.ui(ui);
        egui::ScrollArea::both().show(ui, |ui| self.page_ui(ui, ctx, item));
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
        ui.image((full.as_ref().unwrap_or(&preview).id(), shown));
    }

    /// Mark for rescan (someone fetches the folder later), or rescan now on the
    /// scanner chosen on the Scan screen and put the new side in place.
    fn rescan_ui(
        &mut self,
        ui: &mut egui::Ui,
        ctx: &mut ScreenCtx,
        item: &ReviewItem,
        keys: &Keys,
    ) {
        let side = item.side.unwrap_or_default();
        ui.horizontal_wrapped(|ui| {
            if in_a_document(item) {
                self.mark_ui(ui, ctx, item, keys);
            }
            let busy = self.rescanning.is_some() || ctx.scanning;
            let hint = format!(
                "Put the sheet on {} and scan it again in place of this side (S)",
                super::shown(&ctx.scanner.device)
            );
            let clicked = ui
                .add_enabled(!busy, egui::Button::new("Rescan and replace"))
                .on_hover_text(hint)
                .clicked();
            if (clicked || keys.rescan) && !busy {
                ctx.send(Command::RescanPage {
                    batch: item.batch_id.clone(),
                    side,
                    scanner: ctx.scanner.request(),
                });
                self.rescanning = Some((item.batch_id.clone(), side));
            }
            if let Some((_, s)) = &self.rescanning {
                ui.spinner();
                ui.label(format!(
                    "rescanning side {s} on {}…",
                    super::shown(&ctx.scanner.device)
                ));
            }
        });
    }

    fn mark_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem, keys: &Keys) {
        let l = ui.label("Rescan reason");
        ui.add(
            egui::TextEdit::singleline(&mut self.rescan_reason)
                .hint_text("e.g. streaked, folded corner")
                .desired_width(180.0),
        )
        .labelled_by(l.id);
        let hint = "Flag it until the sheet is scanned again (M)";
        if action(ui, "Mark for rescan", hint, keys.mark) {
            let why = match self.rescan_reason.trim() {
                "" => "poor image".to_string(),
                w => w.to_string(),
            };
            ctx.send(Command::DecidePage {
                batch: item.batch_id.clone(),
                side: item.side.unwrap_or_default(),
                decision: PageDecision::MarkRescan(why),
            });
            self.rescan_reason.clear();
        }
    }

    fn move_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        let docs = ctx
            .snapshot
            .documents
            .get(&item.batch_id)
            .cloned()
            .unwrap_or_default();
        if docs.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            let l = ui.label("Move to");
            let chosen = self
                .move_to
                .as_ref()
                .and_then(|id| docs.iter().find(|d| &d.id == id))
                .map(|d| d.words.clone())
                .unwrap_or_else(|| "choose a document".into());
            egui::ComboBox::from_id_salt("move-to")
                .selected_text(chosen)
                .width(320.0)
                .show_ui(ui, |ui| {
                    for d in &docs {
                        ui.selectable_value(&mut self.move_to, Some(d.id.clone()), &d.words);
                    }
                })
                .response
                .labelled_by(l.id);
            let target = self.move_to.clone();
            if ui
                .add_enabled(target.is_some(), egui::Button::new("Move page"))
                .on_hover_text("Put the page in that document, in feed order")
                .clicked()
                && let Some(doc) = target
            {
                ctx.send(Command::DecidePage {
                    batch: item.batch_id.clone(),
                    side: item.side.unwrap_or_default(),
                    decision: PageDecision::MoveTo(doc),
                });
                self.move_to = None;
            }
        });
    }

    fn identifier_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        ui.separator();
        let l = ui.label("Correct identifier");
        ui.add(egui::TextEdit::singleline(&mut self.identifier).desired_width(200.0))
            .labelled_by(l.id);
        let ok = identifier_words_ui(ui, ctx.cfg, &self.identifier);
        if ui
            .add_enabled(ok, egui::Button::new("Set identifier"))
            .clicked()
            && let Some(record) = &item.record_id
        {
            ctx.send(Command::FixIdentifier {
                batch: item.batch_id.clone(),
                record: record.clone(),
                text: self.identifier.clone(),
            });
            self.identifier.clear();
        }
    }

    /// The sides around the page, small, for context (is it the back of the last
    /// one? the start of a letter?).
    fn neighbours_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, item: &ReviewItem) {
        let Some(side) = item.side else {
            return;
        };
        let mut around = item.neighbours.clone();
        if let Some(t) = &item.thumb_sha256 {
            around.push((side, t.clone()));
            around.sort();
        }
        ui.horizontal(|ui| {
            for (s, sha) in around {
                ui.vertical(|ui| {
                    match ctx.textures.get(&sha) {
                        Some(t) => {
                            let size = t.size_vec2() * (90.0 / t.size_vec2().y.max(1.0));
                            let img = egui::Image::new((t.id(), size));
                            let resp = ui.add(img);
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
                });
            }
        });
    }

    fn batches_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.strong("Batches awaiting approval");
        let batches: Vec<_> = ctx
            .snapshot
            .batches
            .iter()
            .filter(|b| crate::batch::rules::may_approve(b.state))
            .cloned()
            .collect();
        egui::ScrollArea::vertical()
            .id_salt("batches")
            .show(ui, |ui| {
                egui::Grid::new("batch-grid").striped(true).show(ui, |ui| {
                    for h in [
                        "",
                        "batch",
                        "label",
                        "sheets scanned",
                        "sheets counted",
                        "",
                        "records",
                        "open flags",
                        "approval",
                    ] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for b in &batches {
                        self.batch_row_ui(ui, ctx, b);
                        ui.end_row();
                    }
                });
                if batches.is_empty() {
                    ui.label("No closed batches.");
                }
            });
    }

    /// Goes through every side of a batch (or back to the flags).
    fn browse_batch(&mut self, ctx: &mut ScreenCtx, batch: Option<String>) {
        ctx.send(Command::BrowseBatch(batch.clone()));
        self.browse = batch;
        self.pages = Default::default();
        self.selected = 0;
    }

    fn batch_row_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow) {
        if ui
            .button(format!("Pages {}", ctx.batch_name(&b.id)))
            .on_hover_text("Go through every side of this batch, flagged or not")
            .clicked()
        {
            self.browse_batch(ctx, Some(b.id.clone()));
        }
        ui.monospace(ctx.batch_name(&b.id));
        ui.label(super::shown(&b.label));
        ui.label(format!("{} ({} sides)", b.sheets_scanned(), b.sides));
        ui.horizontal(|ui| {
            let count = self
                .expected
                .entry(b.id.clone())
                .or_insert(b.expected_sheets.unwrap_or(0));
            ui.add(
                egui::DragValue::new(count).range(0..=crate::config::limits::EXPECTED_SHEETS.max),
            )
            .on_hover_text("Sheets counted for this batch (from the box's transmittal slip)");
            let count = *count;
            if count > 0
                && Some(count) != b.expected_sheets
                && ui
                    .button(format!("Set count {}", ctx.batch_name(&b.id)))
                    .clicked()
            {
                ctx.send(Command::SetExpectedSheets {
                    batch: b.id.clone(),
                    sheets: count,
                });
            }
        });
        let (words, agrees) = b.reconciliation();
        if agrees {
            ui.label(words);
        } else {
            ui.colored_label(ui.visuals().warn_fg_color, words);
        }
        ui.label(b.records.to_string());
        ui.label(b.open_flags.to_string());
        ui.horizontal_wrapped(|ui| self.approve_ui(ui, ctx, b));
    }

    /// Approve for one batch: enabled only when the one approval rule allows it
    /// with this batch's own overrides, saying what will be sent; the overrides
    /// offered are only those the batch needs, each with a reason.
    fn approve_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx, b: &BatchRow) {
        // Words wrap here rather than widen the grid past the panel.
        ui.set_max_width(560.0);
        let facts = ctx.snapshot.approval.get(&b.id).cloned();
        let id = ctx.batch_name(&b.id);
        let mut ov = self.overrides.get(&b.id).cloned().unwrap_or_default();
        // Only the overrides this batch needs are offered; flags a person must
        // see one by one are never offered en bloc.
        let (offer_flags, offer_count) = facts.as_ref().map_or((0, false), |f| {
            let flags = match f.must_be_seen().is_empty() {
                true => f.open_flag_count(),
                false => 0,
            };
            (flags, !f.count.agrees())
        });
        // A tick whose cause has gone (flags settled one by one, a count
        // corrected) is dropped, not kept hidden.
        ov.accept_flags &= offer_flags > 0;
        ov.accept_count &= offer_count;
        let overrides = ov.overrides();
        let verdict = approval_words(facts.as_ref(), &overrides);
        let label = match &verdict {
            Ok(words) => format!("Approve batch {id}: send {words}"),
            Err(_) => format!("Approve batch {id}"),
        };
        if ui
            .add_enabled(verdict.is_ok(), egui::Button::new(label))
            .on_hover_text("Queue it for upload")
            .clicked()
        {
            ctx.send(Command::ApproveBatch {
                batch: b.id.clone(),
                overrides,
            });
            // Used once: the next batch (or this one again) starts with none.
            self.overrides.remove(&b.id);
            return;
        }
        if offer_flags > 0 {
            ui.checkbox(
                &mut ov.accept_flags,
                format!("Accept {offer_flags} open flags of {id}"),
            );
        }
        if offer_count {
            ui.checkbox(
                &mut ov.accept_count,
                format!("Accept the count difference of {id}"),
            );
        }
        if ov.accept_flags || ov.accept_count {
            let l = ui.label(format!("Why {id} may go as it is"));
            ui.add(egui::TextEdit::singleline(&mut ov.reason).desired_width(200.0))
                .labelled_by(l.id);
        }
        if let Err(why) = verdict {
            ui.add(
                egui::Label::new(egui::RichText::new(why).color(ui.visuals().warn_fg_color)).wrap(),
            );
        }
        self.overrides.insert(b.id.clone(), ov);
    }
}
