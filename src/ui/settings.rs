//! The Settings screen: who is signed in, scanners and profiles, the
//! hospital-number pattern, the upload target, the data folder and the
//! imaging threads and memory budget. Save sends the form to the station,
//! which checks it (numbers against the same ranges as `config.toml`, the
//! whole file by loading it) and writes `config.toml` in the data folder (see
//! [`crate::workers::settings`]); the screen shows the answer. Nothing is read
//! or written on the UI thread.
//!
//! Every setting here takes effect when the station restarts: each field is
//! marked "(after restart)", and after a Save the screen names the fields
//! whose saved value differs from the one the station runs with ("Restart
//! needed: …") until the next Save. The form is laid out as a grid (labels on
//! the left, fields lined up) in a scroll area, each field at least as wide as
//! its text, paths and the URL as wide as the window allows. Folder dialogs
//! are rfd's, run on a thread of their own so the window keeps drawing; a
//! path can always be typed, as a dialog may be unavailable.

use super::context::{Screen, ScreenCtx};
use crate::config::limits;
use crate::workers::settings::{SettingsError, SettingsForm};
use crate::workers::station::Command;
use crossbeam_channel::Receiver;
use eframe::egui;
use std::path::PathBuf;

/// Which field a folder dialog fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Picking {
    UploadFolder,
    DataFolder,
}

/// The mark beside the label of a setting used from the next start.
pub const AFTER_RESTART: &str = "(after restart)";

/// Widest a short field (a name, a pattern, a number) is drawn unless its
/// text needs more; paths and the URL take the width there is.
const SHORT_MAX: f32 = 420.0;
/// Narrowest a field is drawn.
const FIELD_MIN: f32 = 160.0;
/// Room in a field besides its text: the frame's margins and the cursor.
const FIELD_PAD: f32 = 20.0;

/// One field of the form.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Operator,
    Pattern,
    FhirUrl,
    UploadFolder,
    Threads,
    MemoryBudget,
    DataFolder,
}

impl Field {
    /// The form's fields in the order drawn (and named after a Save).
    const ALL: [Field; 7] = [
        Field::Operator,
        Field::Pattern,
        Field::FhirUrl,
        Field::UploadFolder,
        Field::Threads,
        Field::MemoryBudget,
        Field::DataFolder,
    ];

    /// The label, which is also the field's accessible name.
    fn label(self) -> &'static str {
        match self {
            Field::Operator => "Operator signed in",
            Field::Pattern => "Hospital-number pattern",
            Field::FhirUrl => "FHIR server URL",
            Field::UploadFolder => "Upload folder",
            Field::Threads => "Imaging threads",
            Field::MemoryBudget => "Memory budget (MiB)",
            Field::DataFolder => "Data folder",
        }
    }

    fn value(self, f: &SettingsForm) -> &String {
        match self {
            Field::Operator => &f.operator,
            Field::Pattern => &f.pattern,
            Field::FhirUrl => &f.fhir_url,
            Field::UploadFolder => &f.folder,
            Field::Threads => &f.threads,
            Field::MemoryBudget => &f.memory_budget,
            Field::DataFolder => &f.new_data_dir,
        }
    }

    fn value_mut(self, f: &mut SettingsForm) -> &mut String {
        match self {
            Field::Operator => &mut f.operator,
            Field::Pattern => &mut f.pattern,
            Field::FhirUrl => &mut f.fhir_url,
            Field::UploadFolder => &mut f.folder,
            Field::Threads => &mut f.threads,
            Field::MemoryBudget => &mut f.memory_budget,
            Field::DataFolder => &mut f.new_data_dir,
        }
    }

    /// Whether `a` and `b` hold different settings here (spaces around a
    /// value are not kept when saved; a pattern is kept as typed).
    fn differs(self, a: &SettingsForm, b: &SettingsForm) -> bool {
        match self {
            Field::Pattern => a.pattern != b.pattern,
            _ => self.value(a).trim() != self.value(b).trim(),
        }
    }

    /// Paths and the URL: as wide as the window allows.
    fn wide(self) -> bool {
        matches!(
            self,
            Field::FhirUrl | Field::UploadFolder | Field::DataFolder
        )
    }

    /// The folder dialog a Browse button beside the field opens, and the
    /// button's accessible name.
    fn browse(self) -> Option<(Picking, &'static str)> {
        match self {
            Field::UploadFolder => Some((Picking::UploadFolder, "Browse for the upload folder")),
            Field::DataFolder => Some((Picking::DataFolder, "Browse for the data folder")),
            _ => None,
        }
    }

    /// What the field takes, shown under it.
    fn hint(self) -> Option<String> {
        match self {
            Field::FhirUrl => Some("https only (or localhost); empty: none".into()),
            Field::UploadFolder => Some("where batches go as files; empty: none".into()),
            Field::Threads => Some(format!(
                "{} to {}; 0: one per core",
                limits::THREADS.min,
                limits::THREADS.max
            )),
            Field::MemoryBudget => Some(format!(
                "{} to {}; pages larger than this are processed one at a time",
                limits::MEMORY_BUDGET_MIB.min,
                limits::MEMORY_BUDGET_MIB.max
            )),
            Field::DataFolder => Some(
                "batches, images and settings live here; --data-dir or FOLIO_DATA_DIR take precedence"
                    .into(),
            ),
            _ => None,
        }
    }
}

/// The fields whose value in `saved` differs from the one in `running`, by
/// their labels.
fn changed(running: &SettingsForm, saved: &SettingsForm) -> Vec<&'static str> {
    Field::ALL
        .into_iter()
        .filter(|f| f.differs(running, saved))
        .map(Field::label)
        .collect()
}

pub struct SettingsScreen {
    pub form: SettingsForm,
    /// The settings the station runs with (the form as the screen opened).
    running: SettingsForm,
    /// The form with the station, waiting for its answer.
    sent: Option<SettingsForm>,
    /// The answer to the last Save: the file written, or why nothing was
    /// (in words).
    pub saved: Option<Result<String, String>>,
    /// The fields saved with values the station does not run with yet, by
    /// label, since the first successful Save (kept through a failed one).
    pub restart_needed: Option<Vec<&'static str>>,
    /// A Save is with the station.
    pub saving: bool,
    /// Why a folder dialog could not be opened.
    dialog_trouble: Option<String>,
    dialog: Option<(Picking, Receiver<Option<PathBuf>>)>,
}

impl SettingsScreen {
    /// The screen filled in from the settings the station runs with (loaded
    /// before the window opened).
    pub fn new(form: SettingsForm) -> SettingsScreen {
        SettingsScreen {
            running: form.clone(),
            form,
            sent: None,
            saved: None,
            restart_needed: None,
            saving: false,
            dialog_trouble: None,
            dialog: None,
        }
    }

    /// The station's answer to Save.
    pub fn on_saved(&mut self, result: Result<PathBuf, SettingsError>) {
        self.saving = false;
        let sent = self.sent.take().unwrap_or_else(|| self.form.clone());
        self.saved = Some(match result {
            Ok(p) => {
                self.restart_needed = Some(changed(&self.running, &sent));
                Ok(super::shown(&p.to_string_lossy()))
            }
            Err(e) => Err(e.to_string()),
        });
    }

    /// Sends the form to be checked and saved.
    fn save(&mut self, ctx: &mut ScreenCtx) {
        ctx.send(Command::SaveSettings(self.form.clone()));
        self.sent = Some(self.form.clone());
        self.saving = true;
        self.saved = None;
    }

    /// Opens a folder dialog off the UI thread.
    fn pick(&mut self, what: Picking) {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let spawned = std::thread::Builder::new()
            .name("folio-dialog".into())
            .spawn(move || {
                let _ = tx.send(rfd::FileDialog::new().pick_folder());
            });
        match spawned {
            Ok(_) => {
                self.dialog = Some((what, rx));
                self.dialog_trouble = None;
            }
            Err(e) => {
                self.dialog_trouble =
                    Some(format!("cannot open a folder dialog ({e}): type the path"))
            }
        }
    }

    /// Takes the folder a dialog returned, if it has.
    fn poll(&mut self, ctx: &egui::Context) {
        let Some((what, rx)) = &self.dialog else {
            return;
        };
        match rx.try_recv() {
            Ok(Some(dir)) => {
                let dir = dir.display().to_string();
                match what {
                    Picking::UploadFolder => self.form.folder = dir,
                    Picking::DataFolder => self.form.new_data_dir = dir,
                }
                self.dialog = None;
            }
            Ok(None) | Err(crossbeam_channel::TryRecvError::Disconnected) => self.dialog = None,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                ctx.request_repaint_after(std::time::Duration::from_millis(200))
            }
        }
    }

    /// The fields, labels on the left, each marked as used after a restart,
    /// with a folder dialog for each folder.
    fn fields_ui(&mut self, ui: &mut egui::Ui) {
        let idle = self.dialog.is_none();
        let sizes = Sizes::measure(ui);
        let mut pick = None;
        let f = &mut self.form;
        egui::Grid::new("settings")
            .num_columns(2)
            .spacing([sizes.gap, 6.0])
            .min_col_width(sizes.label)
            .show(ui, |ui| {
                for field in Field::ALL {
                    pick = field_row(ui, f, field, &sizes, idle).or(pick);
                }
            });
        if let Some(s3) = &f.s3 {
            ui.add(
                egui::Label::new(format!(
                    "Uploads go to the S3 {s3}, as [upload.s3] in config.toml says; a FHIR server URL typed here takes its place."
                ))
                .wrap(),
            );
        }
        if let Some(what) = pick {
            self.pick(what);
        }
    }
}

/// One row of the form: the label with its mark, the field (and its Browse
/// button) and what it takes; the folder dialog asked for, if any.
fn field_row(
    ui: &mut egui::Ui,
    form: &mut SettingsForm,
    field: Field,
    sizes: &Sizes,
    idle: bool,
) -> Option<Picking> {
    let label = label_ui(ui, field.label());
    let mut pick = None;
    ui.horizontal(|ui| {
        let value = field.value_mut(form);
        let w = sizes.field(ui, field, value);
        ui.add(
            egui::TextEdit::singleline(value)
                .desired_width(w)
                .min_size(egui::vec2(w, 0.0)),
        )
        .labelled_by(label);
        if let Some((what, name)) = field.browse() {
            let b = ui
                .add_enabled(idle, egui::Button::new("Browse…"))
                .on_hover_text(name);
            ui.ctx().accesskit_node_builder(b.id, |n| n.set_label(name));
            if b.clicked() {
                pick = Some(what);
            }
        }
    });
    ui.end_row();
    // What the field takes, under it (a row of its own, so the label stays
    // level with the field).
    if let Some(hint) = field.hint() {
        ui.label("");
        ui.vertical(|ui| {
            ui.add(egui::Label::new(hint).wrap());
            ui.add_space(6.0);
        });
        ui.end_row();
    }
    pick
}

/// Widths the form is laid out with, measured on the frame's fonts.
struct Sizes {
    /// The label column: the widest label with its mark.
    label: f32,
    /// Between the columns.
    gap: f32,
    /// What the field column has, Browse buttons included.
    fields: f32,
    /// A Browse button with the space before it.
    browse: f32,
}

impl Sizes {
    fn measure(ui: &egui::Ui) -> Sizes {
        let space = ui.spacing().item_spacing.x;
        let label = Field::ALL
            .into_iter()
            .map(|f| text_width(ui, f.label()) + space + text_width(ui, AFTER_RESTART))
            .fold(0.0, f32::max)
            .ceil()
            + 2.0;
        let gap = 12.0;
        let browse = text_width(ui, "Browse…") + 2.0 * ui.spacing().button_padding.x + space;
        Sizes {
            label,
            gap,
            fields: (ui.available_width() - label - gap - 2.0).max(FIELD_MIN),
            browse,
        }
    }

    /// How wide `field` is drawn holding `text`: at least as wide as the text
    /// (while the window allows), short fields up to [`SHORT_MAX`], paths
    /// and the URL the whole width.
    fn field(&self, ui: &egui::Ui, field: Field, text: &str) -> f32 {
        let room = match field.browse() {
            Some(_) => self.fields - self.browse,
            None => self.fields,
        }
        .max(FIELD_MIN);
        let needed = text_width(ui, text) + FIELD_PAD;
        let wanted = if field.wide() {
            room
        } else {
            room.min(SHORT_MAX)
        };
        wanted.max(needed).max(FIELD_MIN).min(room)
    }
}

/// The width of `text` in the body font.
fn text_width(ui: &egui::Ui, text: &str) -> f32 {
    let font = egui::TextStyle::Body.resolve(ui.style());
    ui.painter()
        .layout_no_wrap(text.to_owned(), font, egui::Color32::PLACEHOLDER)
        .size()
        .x
}

/// A field's label and its "(after restart)" mark; the label's id names the
/// field.
fn label_ui(ui: &mut egui::Ui, label: &str) -> egui::Id {
    ui.horizontal(|ui| {
        let l = ui.label(label);
        restart_mark(ui);
        l.id
    })
    .inner
}

/// The mark of a setting used from the station's next start.
fn restart_mark(ui: &mut egui::Ui) {
    ui.label(egui::RichText::new(AFTER_RESTART).italics())
        .on_hover_text("Saved now, used from the station's next start");
}

impl Screen for SettingsScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.poll(ui.ctx());
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.label(
                    "Settings are saved to config.toml in the data folder and used from the \
                     station's next start.",
                );
                ui.add_space(6.0);
                self.fields_ui(ui);
                at_rest_ui(ui, ctx);
                if self.dialog.is_some() {
                    ui.label("Choose a folder in the dialog…");
                }
                if let Some(t) = &self.dialog_trouble {
                    ui.colored_label(ui.visuals().error_fg_color, super::shown_long(t));
                }
                ui.add_space(6.0);
                self.save_ui(ui, ctx);
                ui.separator();
                devices_ui(ui, ctx);
            });
    }
}

/// Whether the data folder's disk is encrypted, and whether the station's
/// policy requires it.
fn at_rest_ui(ui: &mut egui::Ui, ctx: &ScreenCtx) {
    let Some(here) = &ctx.snapshot.at_rest else {
        return;
    };
    let sealed = ctx.snapshot.encryption.is_some();
    let refused =
        crate::batch::at_rest::may_store_scans(ctx.cfg.require_encrypted_disk, sealed, here, "")
            .is_err();
    let policy = match (ctx.cfg.require_encrypted_disk, refused) {
        (true, true) => " Scanning is refused here: this station requires an encrypted disk.",
        (true, false) => " This station requires it.",
        (false, _) => "",
    };
    let words = format!("The data folder is {}.{policy}", here.words());
    let label = egui::Label::new(words).wrap();
    if here.encrypted() || sealed {
        ui.add(label);
    } else {
        ui.scope(|ui| {
            ui.visuals_mut().override_text_color = Some(ui.visuals().warn_fg_color);
            ui.add(label);
        });
    }
    if let Some(e) = &ctx.snapshot.encryption {
        ui.add(egui::Label::new(format!("Its data is {e}.")).wrap());
    }
}

impl SettingsScreen {
    /// Save, and what became of the last Save.
    fn save_ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.saving, egui::Button::new("Save settings"))
                .clicked()
            {
                self.save(ctx);
            }
            if self.saving {
                ui.spinner();
            }
        });
        let error = ui.visuals().error_fg_color;
        match &self.saved {
            // The path and the parser's words about the file come from outside.
            Some(Ok(path)) => {
                ui.label(format!("Saved to {path}."));
            }
            Some(Err(why)) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label(egui::RichText::new("Not saved:").strong().color(error));
                    ui.label(egui::RichText::new(super::shown_long(why)).color(error));
                });
            }
            None => {}
        }
        match self.restart_needed.as_deref() {
            Some([]) => {
                ui.label("Nothing to restart for: the saved settings are the ones in use.");
            }
            Some(fields) => {
                ui.label(
                    egui::RichText::new(format!(
                        "Restart needed: {} (restart the station to use them)",
                        fields.join(", ")
                    ))
                    .strong()
                    .color(ui.visuals().warn_fg_color),
                );
            }
            None => {}
        }
    }
}

/// The scanners found and the profiles of `config.toml`.
fn devices_ui(ui: &mut egui::Ui, ctx: &ScreenCtx) {
    ui.horizontal(|ui| {
        ui.strong("Scanners");
        restart_mark(ui);
    });
    for d in &ctx.snapshot.devices {
        ui.monospace(super::shown(d));
    }
    ui.horizontal(|ui| {
        ui.strong("Profiles (config.toml [profiles.NAME])");
        restart_mark(ui);
    });
    for p in &ctx.snapshot.profiles {
        ui.monospace(super::shown(p));
    }
}
