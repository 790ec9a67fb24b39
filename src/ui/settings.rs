//! The Settings screen: who is signed in, scanners and profiles, the
//! hospital-number pattern, the upload target and the data folder. Changes
//! are written to `config.toml` (the file dialogs are rfd's; a path can
//! always be typed, as a dialog may be unavailable) and take effect when the
//! station restarts, which the screen says.

use super::StationApp;
use eframe::egui;
use std::path::{Path, PathBuf};

pub struct SettingsScreen {
    pub operator: String,
    pub pattern: String,
    pub fhir_url: String,
    pub folder: String,
    pub data_dir: PathBuf,
    pub saved: Option<String>,
}

impl SettingsScreen {
    pub fn new(
        cfg: &crate::config::Config,
        actor: &crate::store::Actor,
        data_dir: &Path,
    ) -> SettingsScreen {
        SettingsScreen {
            operator: actor.operator.clone(),
            pattern: cfg.hospital_number_pattern.clone(),
            fhir_url: cfg.upload.fhir_url.clone().unwrap_or_default(),
            folder: cfg
                .upload
                .folder
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            data_dir: data_dir.to_path_buf(),
            saved: None,
        }
    }
}

/// Writes the edited settings into `config.toml`, keeping everything else.
fn save(s: &SettingsScreen) -> Result<PathBuf, String> {
    let path = s.data_dir.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    regex::Regex::new(&s.pattern)
        .map_err(|e| format!("the hospital-number pattern is not valid: {e}"))?;
    doc.insert(
        "operator".into(),
        toml::Value::String(s.operator.trim().into()),
    );
    doc.insert(
        "hospital_number_pattern".into(),
        toml::Value::String(s.pattern.clone()),
    );
    let upload = doc
        .entry("upload")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = upload.as_table_mut() {
        for (key, value) in [("fhir_url", &s.fhir_url), ("folder", &s.folder)] {
            if value.trim().is_empty() {
                t.remove(key);
            } else {
                t.insert(key.into(), toml::Value::String(value.trim().into()));
            }
        }
    }
    let out = toml::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&s.data_dir).map_err(|e| e.to_string())?;
    std::fs::write(&path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

fn field(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(380.0))
        .labelled_by(l.id);
}

pub fn settings_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    let s = &mut app.settings;
    egui::Grid::new("settings")
        .num_columns(3)
        .spacing([12.0, 8.0])
        .show(ui, |ui| {
            field(ui, "Operator signed in", &mut s.operator);
            ui.label("");
            ui.end_row();
            field(ui, "Hospital-number pattern", &mut s.pattern);
            ui.label("");
            ui.end_row();
            field(ui, "FHIR server URL", &mut s.fhir_url);
            ui.label("https only (or localhost)");
            ui.end_row();
            field(ui, "Upload folder", &mut s.folder);
            if ui.button("Choose folder…").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                s.folder = dir.display().to_string();
            }
            ui.end_row();
            ui.label("Data folder");
            ui.monospace(s.data_dir.display().to_string());
            ui.label("(--data-dir or FOLIO_DATA_DIR)");
            ui.end_row();
        });
    ui.horizontal(|ui| {
        if ui.button("Save settings").clicked() {
            s.saved = Some(match save(s) {
                Ok(p) => format!("saved to {}; restart the station to use them", p.display()),
                Err(e) => e,
            });
        }
        if let Some(w) = &s.saved {
            ui.label(w);
        }
    });
    ui.separator();
    ui.strong("Scanners");
    for d in &app.snapshot.devices {
        ui.monospace(d);
    }
    ui.strong("Profiles (config.toml [profiles.NAME])");
    for p in &app.snapshot.profiles {
        ui.monospace(p);
    }
}
