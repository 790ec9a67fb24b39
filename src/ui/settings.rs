//! The Settings screen: who is signed in, scanners and profiles, the
//! hospital-number pattern, the upload target, the data folder and the
//! imaging threads and memory budget. Save sends the form to the station,
//! which checks it (numbers against the same ranges as `config.toml`, the
//! whole file by loading it) and writes `config.toml` in the data folder (see
//! [`crate::workers::settings`]); the screen shows the answer. Nothing is read
//! or written on the UI thread. Changes take effect when the station
//! restarts, which the screen says. Folder dialogs are rfd's, run on a thread
//! of their own so the window keeps drawing; a path can always be typed, as a
//! dialog may be unavailable.

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

pub struct SettingsScreen {
    pub form: SettingsForm,
    /// The answer to the last Save (or a dialog's trouble), in words.
    pub saved: Option<String>,
    /// A Save is with the station.
    pub saving: bool,
    dialog: Option<(Picking, Receiver<Option<PathBuf>>)>,
}

impl SettingsScreen {
    /// The screen filled in from the settings the station runs with (loaded
    /// before the window opened).
    pub fn new(form: SettingsForm) -> SettingsScreen {
        SettingsScreen {
            form,
            saved: None,
            saving: false,
            dialog: None,
        }
    }

    /// The station's answer to Save.
    pub fn on_saved(&mut self, result: Result<PathBuf, SettingsError>) {
        self.saving = false;
        self.saved = Some(match result {
            Ok(p) => format!(
                "saved to {}; restart the station to use them",
                super::shown(&p.to_string_lossy())
            ),
            Err(e) => e.to_string(),
        });
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
            Ok(_) => self.dialog = Some((what, rx)),
            Err(e) => {
                self.saved = Some(format!("cannot open a folder dialog ({e}): type the path"))
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

    /// The fields, with a folder dialog for each folder.
    fn fields_ui(&mut self, ui: &mut egui::Ui) {
        let idle = self.dialog.is_none();
        let mut pick = None;
        let f = &mut self.form;
        egui::Grid::new("settings")
            .num_columns(3)
            .spacing([12.0, 8.0])
            .show(ui, |ui| {
                field(ui, "Operator signed in", &mut f.operator);
                ui.label("");
                ui.end_row();
                field(ui, "Hospital-number pattern", &mut f.pattern);
                ui.label("");
                ui.end_row();
                field(ui, "FHIR server URL", &mut f.fhir_url);
                ui.label("https only (or localhost)");
                ui.end_row();
                field(ui, "Upload folder", &mut f.folder);
                if ui
                    .add_enabled(idle, egui::Button::new("Choose upload folder…"))
                    .clicked()
                {
                    pick = Some(Picking::UploadFolder);
                }
                ui.end_row();
                field(ui, "Imaging threads", &mut f.threads);
                ui.label(format!(
                    "{} to {}; 0: one per core",
                    limits::THREADS.min,
                    limits::THREADS.max
                ));
                ui.end_row();
                field(ui, "Memory budget (MiB)", &mut f.memory_budget);
                ui.label(format!(
                    "{} to {}; pages larger than this are processed one at a time",
                    limits::MEMORY_BUDGET_MIB.min,
                    limits::MEMORY_BUDGET_MIB.max
                ));
                ui.end_row();
                field(ui, "Data folder", &mut f.new_data_dir);
                if ui
                    .add_enabled(idle, egui::Button::new("Choose data folder…"))
                    .on_hover_text(
                        "Batches, images and settings live here; --data-dir or FOLIO_DATA_DIR take precedence",
                    )
                    .clicked()
                {
                    pick = Some(Picking::DataFolder);
                }
                ui.end_row();
            });
        if let Some(what) = pick {
            self.pick(what);
        }
    }
}

fn field(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(380.0))
        .labelled_by(l.id);
}

impl Screen for SettingsScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.poll(ui.ctx());
        self.fields_ui(ui);
        if self.dialog.is_some() {
            ui.label("Choose a folder in the dialog…");
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(!self.saving, egui::Button::new("Save settings"))
                .clicked()
            {
                ctx.send(Command::SaveSettings(self.form.clone()));
                self.saving = true;
                self.saved = None;
            }
            if self.saving {
                ui.spinner();
            }
            if let Some(w) = &self.saved {
                // Holds paths and the parser's words about the file.
                ui.label(super::shown_long(w));
            }
        });
        ui.separator();
        ui.strong("Scanners");
        for d in &ctx.snapshot.devices {
            ui.monospace(super::shown(d));
        }
        ui.strong("Profiles (config.toml [profiles.NAME])");
        for p in &ctx.snapshot.profiles {
            ui.monospace(super::shown(p));
        }
    }
}
