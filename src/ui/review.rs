//! The Review screen (supervisors): the queue of flagged pages, then the pages
//! taken out, across closed batches; the page large with its neighbours; the
//! decisions (approve, turn, remove, restore, mark for rescan, rescan and
//! replace, move to another document, fix a record's identifier with a live
//! check); then each batch's reconciliation and approval for upload. Every
//! decision is a command to the station worker, which audits it.

use super::StationApp;
use crate::batch::approval::{self, ApprovalFacts, Overrides};
use crate::batch::{FlagCode, RemovedReason};
use crate::store::{BatchRow, PageDecision, ReviewItem, ReviewKind};
use crate::workers::station::{Command, ImageRequest};
use eframe::egui;

#[derive(Default)]
pub struct ReviewScreen {
    pub selected: usize,
    pub identifier: String,
    pub zoom: f32,
    /// What a supervisor accepts for one batch, by batch id: never shared
    /// between batches, and forgotten once the batch is approved.
    pub overrides: std::collections::HashMap<String, BatchOverride>,
    /// Why a page is marked for rescan.
    pub rescan_reason: String,
    /// The document chosen to move the page into.
    pub move_to: Option<String>,
    /// The page being rescanned (batch, side), until the worker answers.
    pub rescanning: Option<(String, u32)>,
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
        if matches!(code, FlagCode::InvalidNhsNumber | FlagCode::InvalidPatientId | FlagCode::NoRecordSheet))
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
                FlagCode::UnreadableImage | FlagCode::UnreadableControlSheet
            ),
            ReviewKind::Page => item.record_id.is_some(),
            ReviewKind::Removed { .. } => false,
        }
}

fn removed_words(reason: RemovedReason) -> &'static str {
    match reason {
        RemovedReason::Blank => "removed as blank",
        RemovedReason::ControlSheet => "control sheet",
        RemovedReason::RemovedBySupervisor => "removed by a supervisor",
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

pub fn review_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    if app.review.zoom == 0.0 {
        app.review.zoom = 1.0;
    }
    let items = match app.review.browse {
        Some(_) => app.review.pages.clone(),
        None => app.snapshot.review.clone(),
    };
    let n = items.len();
    if n > 0 {
        app.review.selected = app.review.selected.min(n - 1);
    }
    let keys = Keys::read(ui.ctx());
    let before = app.review.selected;
    if n > 0 && keys.next {
        app.review.selected = (app.review.selected + 1).min(n - 1);
    }
    if keys.previous {
        app.review.selected = app.review.selected.saturating_sub(1);
    }
    egui::Panel::bottom("batches")
        .default_size(240.0)
        .resizable(true)
        .show(ui, |ui| batches_ui(app, ui));
    egui::Panel::left("queue")
        .default_size(360.0)
        .min_size(320.0)
        .resizable(true)
        .show(ui, |ui| {
            let moved = app.review.selected != before;
            queue_ui(app, ui, &items, moved)
        });
    if app.review.selected != before {
        app.review.identifier.clear();
        app.review.move_to = None;
    }
    egui::CentralPanel::default().show(ui, |ui| {
        let Some(item) = items.get(app.review.selected).cloned() else {
            ui.label(match app.review.browse {
                Some(_) => "Loading the batch's sides…",
                None => "Flagged pages of closed batches appear here.",
            });
            return;
        };
        item_ui(app, ui, &item, &keys);
    });
}

/// The queue: flags, then the pages taken out. Only the rows in view are laid
/// out, however long the queue.
fn queue_ui(app: &mut StationApp, ui: &mut egui::Ui, items: &[ReviewItem], follow: bool) {
    let flags = items
        .iter()
        .filter(|i| matches!(i.kind, ReviewKind::Flag { .. }))
        .count();
    if let Some(b) = app.review.browse.clone() {
        ui.horizontal(|ui| {
            ui.strong(format!("All {} sides of batch {}", items.len(), short(&b)));
            if ui
                .button("Back to flags")
                .on_hover_text("The queue of flagged pages of every batch")
                .clicked()
            {
                browse(app, None);
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
    let heading = (app.review.browse.is_none() && flags < items.len()).then_some(flags);
    let rows = items.len() + usize::from(heading.is_some());
    let height = ui.spacing().interact_size.y;
    let mut area = egui::ScrollArea::vertical();
    if follow {
        // Keep the item chosen with the keyboard in view.
        let row =
            app.review.selected + usize::from(heading.is_some_and(|h| app.review.selected >= h));
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
                .selectable_label(app.review.selected == i, title(&items[i]))
                .clicked()
            {
                app.review.selected = i;
            }
        }
    });
}

/// A button with its shortcut in the tooltip, also pressed by the key.
fn action(ui: &mut egui::Ui, label: &str, hint: &str, key: bool) -> bool {
    ui.button(label).on_hover_text(hint).clicked() || key
}

fn item_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem, keys: &Keys) {
    ui.heading(title(item));
    if let Some(p) = &item.patient {
        ui.label(format!("Record: {}", super::shown(p)));
    }
    if let ReviewKind::Flag { detail, .. } = &item.kind {
        ui.label(super::shown_long(detail));
    }
    let batch = item.batch_id.clone();
    ui.horizontal_wrapped(|ui| match &item.kind {
        ReviewKind::Removed { reason } if *reason == RemovedReason::ControlSheet => {
            ui.label("Control sheets are left out of the output.");
        }
        ReviewKind::Flag { .. } | ReviewKind::Page => {
            if let ReviewKind::Flag { id, .. } = &item.kind
                && action(ui, "Approve page", "Accept it as it is (A)", keys.approve)
            {
                app.send(Command::ApproveFlag(*id));
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
                    app.send(Command::RotatePage {
                        batch: batch.clone(),
                        side: item.side.unwrap_or_default(),
                        degrees,
                    });
                }
            }
            let hint = "Take it out of its document; it stays listed and can be restored (Delete)";
            if action(ui, "Remove page", hint, keys.remove) {
                app.send(Command::DecidePage {
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
                app.send(Command::RestorePage {
                    batch: batch.clone(),
                    side: item.side.unwrap_or_default(),
                });
            }
        }
    });
    if item.side.is_some() && !matches!(item.kind, ReviewKind::Removed { .. }) {
        rescan_ui(app, ui, item, keys);
    }
    if in_a_document(item) {
        move_ui(app, ui, item);
    }
    if identifier_flag(item) {
        identifier_ui(app, ui, item);
    }
    // An on-demand record whose sheet names another patient than the one
    // typed: the same question as on the On demand screen.
    let question = app
        .snapshot
        .mismatches
        .iter()
        .find(|(m, _)| matches!(&item.kind, ReviewKind::Flag { id, .. } if *id == m.flag_id))
        .cloned();
    if let Some(q) = question {
        super::scan::patient_choice_ui(app, ui, &q);
    }
    ui.separator();
    neighbours_ui(app, ui, item);
    super::scan::zoom_ui(ui, &mut app.review.zoom);
    egui::ScrollArea::both().show(ui, |ui| page_ui(app, ui, item));
}

/// The page large: the screen preview, or the page at full resolution once
/// the zoom goes past what the preview holds (loaded then, not before).
fn page_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem) {
    let Some(sha) = &item.preview_sha256 else {
        ui.label(match item.side {
            Some(_) => "(no image: the side could not be read; rescan it)",
            None => "(a flag about the whole record: no single page)",
        });
        return;
    };
    let Some(preview) = app.textures.get(sha, &app.station).cloned() else {
        ui.spinner();
        return;
    };
    let size = preview.size_vec2();
    let shown = size * (ui.available_width() / size.x).min(1.0) * app.review.zoom;
    let full = match &item.image {
        Some(img) if shown.x > size.x * 1.1 => app
            .textures
            .request(ImageRequest::Page(img.clone()), &app.station)
            .cloned(),
        _ => None,
    };
    ui.image((full.as_ref().unwrap_or(&preview).id(), shown));
}

/// Mark for rescan (someone fetches the folder later), or rescan now on the
/// scanner chosen on the Scan screen and put the new side in place.
fn rescan_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem, keys: &Keys) {
    let side = item.side.unwrap_or_default();
    ui.horizontal_wrapped(|ui| {
        if in_a_document(item) {
            mark_ui(app, ui, item, keys);
        }
        let busy = app.review.rescanning.is_some() || app.scan.scanning;
        let hint = format!(
            "Put the sheet on {} and scan it again in place of this side (S)",
            super::shown(&app.scan.device)
        );
        let clicked = ui
            .add_enabled(!busy, egui::Button::new("Rescan and replace"))
            .on_hover_text(hint)
            .clicked();
        if (clicked || keys.rescan) && !busy {
            app.send(Command::RescanPage {
                batch: item.batch_id.clone(),
                side,
                scanner: app.scan.request(None, None),
            });
            app.review.rescanning = Some((item.batch_id.clone(), side));
        }
        if let Some((_, s)) = &app.review.rescanning {
            ui.spinner();
            ui.label(format!(
                "rescanning side {s} on {}…",
                super::shown(&app.scan.device)
            ));
        }
    });
}

fn mark_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem, keys: &Keys) {
    let l = ui.label("Rescan reason");
    ui.add(
        egui::TextEdit::singleline(&mut app.review.rescan_reason)
            .hint_text("e.g. streaked, folded corner")
            .desired_width(180.0),
    )
    .labelled_by(l.id);
    let hint = "Flag it until the sheet is scanned again (M)";
    if action(ui, "Mark for rescan", hint, keys.mark) {
        let why = match app.review.rescan_reason.trim() {
            "" => "poor image".to_string(),
            w => w.to_string(),
        };
        app.send(Command::DecidePage {
            batch: item.batch_id.clone(),
            side: item.side.unwrap_or_default(),
            decision: PageDecision::MarkRescan(why),
        });
        app.review.rescan_reason.clear();
    }
}

fn move_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem) {
    let docs = app
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
        let chosen = app
            .review
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
                    ui.selectable_value(&mut app.review.move_to, Some(d.id.clone()), &d.words);
                }
            })
            .response
            .labelled_by(l.id);
        let target = app.review.move_to.clone();
        if ui
            .add_enabled(target.is_some(), egui::Button::new("Move page"))
            .on_hover_text("Put the page in that document, in feed order")
            .clicked()
            && let Some(doc) = target
        {
            app.send(Command::DecidePage {
                batch: item.batch_id.clone(),
                side: item.side.unwrap_or_default(),
                decision: PageDecision::MoveTo(doc),
            });
            app.review.move_to = None;
        }
    });
}

fn identifier_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem) {
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

/// The sides around the page, small, for context (is it the back of the last
/// one? the start of a letter?).
fn neighbours_ui(app: &mut StationApp, ui: &mut egui::Ui, item: &ReviewItem) {
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
                match app.textures.get(&sha, &app.station) {
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

fn batches_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    ui.strong("Batches awaiting approval");
    let batches: Vec<_> = app
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
                    batch_row_ui(app, ui, b);
                    ui.end_row();
                }
            });
            if batches.is_empty() {
                ui.label("No closed batches.");
            }
        });
}

/// Goes through every side of a batch (or back to the flags).
fn browse(app: &mut StationApp, batch: Option<String>) {
    app.send(Command::BrowseBatch(batch.clone()));
    app.review.browse = batch;
    app.review.pages = Default::default();
    app.review.selected = 0;
}

fn batch_row_ui(app: &mut StationApp, ui: &mut egui::Ui, b: &BatchRow) {
    if ui
        .button(format!("Pages {}", app.batch_name(&b.id)))
        .on_hover_text("Go through every side of this batch, flagged or not")
        .clicked()
    {
        browse(app, Some(b.id.clone()));
    }
    ui.monospace(app.batch_name(&b.id));
    ui.label(super::shown(&b.label));
    ui.label(format!("{} ({} sides)", b.sheets_scanned(), b.sides));
    ui.horizontal(|ui| {
        let count = app
            .review
            .expected
            .entry(b.id.clone())
            .or_insert(b.expected_sheets.unwrap_or(0));
        ui.add(egui::DragValue::new(count).range(0..=crate::config::limits::EXPECTED_SHEETS.max))
            .on_hover_text("Sheets counted for this batch (from the box's transmittal slip)");
        let count = *count;
        if count > 0
            && Some(count) != b.expected_sheets
            && ui
                .button(format!("Set count {}", app.batch_name(&b.id)))
                .clicked()
        {
            app.send(Command::SetExpectedSheets {
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
    ui.horizontal_wrapped(|ui| approve_ui(app, ui, b));
}

/// Approve for one batch: enabled only when the one approval rule allows it
/// with this batch's own overrides, saying what will be sent; the overrides
/// offered are only those the batch needs, each with a reason.
fn approve_ui(app: &mut StationApp, ui: &mut egui::Ui, b: &BatchRow) {
    // Words wrap here rather than widen the grid past the panel.
    ui.set_max_width(560.0);
    let facts = app.snapshot.approval.get(&b.id).cloned();
    let id = app.batch_name(&b.id);
    let mut ov = app.review.overrides.get(&b.id).cloned().unwrap_or_default();
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
        app.send(Command::ApproveBatch {
            batch: b.id.clone(),
            overrides,
        });
        // Used once: the next batch (or this one again) starts with none.
        app.review.overrides.remove(&b.id);
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
        ui.add(egui::Label::new(egui::RichText::new(why).color(ui.visuals().warn_fg_color)).wrap());
    }
    app.review.overrides.insert(b.id.clone(), ov);
}
