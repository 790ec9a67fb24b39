//! The Settings screen: who is signed in, scanners and profiles, the
//! hospital-number pattern, the upload target, the data folder and the
//! imaging threads and memory budget. Numbers are checked against the same
//! ranges as `config.toml` ([`crate::config::limits`]) before anything is
//! written, and a file that would not load is never written. Changes
//! are written to `config.toml` in the data folder (a new data folder is also
//! remembered in the station file) and take effect when the station restarts,
//! which the screen says. Folder dialogs are rfd's, run on a thread of their
//! own so the window keeps drawing; a path can always be typed, as a dialog
//! may be unavailable.

use super::StationApp;
use crate::config::{Config, limits};
use crossbeam_channel::Receiver;
use eframe::egui;
use std::path::{Path, PathBuf};

/// Which field a folder dialog fills.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Picking {
    UploadFolder,
    DataFolder,
}

pub struct SettingsScreen {
    pub operator: String,
    pub pattern: String,
    pub fhir_url: String,
    pub folder: String,
    /// Imaging threads, as typed (0: one per core).
    pub threads: String,
    /// The pipeline's memory budget, MiB, as typed.
    pub memory_budget: String,
    /// The data folder in use.
    pub data_dir: PathBuf,
    /// The data folder from the next start (typed or chosen).
    pub new_data_dir: String,
    pub saved: Option<String>,
    dialog: Option<(Picking, Receiver<Option<PathBuf>>)>,
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
            threads: cfg.threads.to_string(),
            memory_budget: cfg.memory_budget_mib.to_string(),
            data_dir: data_dir.to_path_buf(),
            new_data_dir: data_dir.display().to_string(),
            saved: None,
            dialog: None,
        }
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
                    Picking::UploadFolder => self.folder = dir,
                    Picking::DataFolder => self.new_data_dir = dir,
                }
                self.dialog = None;
            }
            Ok(None) | Err(crossbeam_channel::TryRecvError::Disconnected) => self.dialog = None,
            Err(crossbeam_channel::TryRecvError::Empty) => {
                ctx.request_repaint_after(std::time::Duration::from_millis(200))
            }
        }
    }
}

/// Writes the edited settings into `config.toml` of the (new) data folder,
/// keeping everything else, and remembers a new data folder.
fn save(s: &SettingsScreen) -> Result<PathBuf, String> {
    let data_dir = PathBuf::from(s.new_data_dir.trim());
    if data_dir.as_os_str().is_empty() {
        return Err("the data folder cannot be empty".into());
    }
    let path = s.data_dir.join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc: toml::Table =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    regex::Regex::new(&s.pattern)
        .map_err(|e| format!("the hospital-number pattern is not valid: {e}"))?;
    let threads = limits::THREADS.parse(&s.threads)?;
    doc.insert("threads".into(), toml::Value::Integer(threads as i64));
    let budget = limits::MEMORY_BUDGET_MIB.parse(&s.memory_budget)?;
    doc.insert(
        "memory_budget_mib".into(),
        toml::Value::Integer(budget as i64),
    );
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
    // What would not load (a number out of range typed into the file by
    // hand, say) is refused here rather than at the next start.
    let cfg: Config = toml::from_str(&out).map_err(|e| format!("{}: {e}", path.display()))?;
    cfg.validate(&path.display().to_string())
        .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| format!("cannot use {} as the data folder: {e}", data_dir.display()))?;
    let path = data_dir.join("config.toml");
    std::fs::write(&path, out).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if data_dir != s.data_dir {
        crate::config::choose_data_dir(&data_dir)?;
    }
    Ok(path)
}

fn field(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(380.0))
        .labelled_by(l.id);
}

pub fn settings_ui(app: &mut StationApp, ui: &mut egui::Ui) {
    let s = &mut app.settings;
    s.poll(ui.ctx());
    let idle = s.dialog.is_none();
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
            if ui
                .add_enabled(idle, egui::Button::new("Choose upload folder…"))
                .clicked()
            {
                s.pick(Picking::UploadFolder);
            }
            ui.end_row();
            field(ui, "Imaging threads", &mut s.threads);
            ui.label(format!(
                "{} to {}; 0: one per core",
                limits::THREADS.min,
                limits::THREADS.max
            ));
            ui.end_row();
            field(ui, "Memory budget (MiB)", &mut s.memory_budget);
            ui.label(format!(
                "{} to {}; pages larger than this are processed one at a time",
                limits::MEMORY_BUDGET_MIB.min,
                limits::MEMORY_BUDGET_MIB.max
            ));
            ui.end_row();
            field(ui, "Data folder", &mut s.new_data_dir);
            if ui
                .add_enabled(idle, egui::Button::new("Choose data folder…"))
                .on_hover_text(
                    "Batches, images and settings live here; --data-dir or FOLIO_DATA_DIR take precedence",
                )
                .clicked()
            {
                s.pick(Picking::DataFolder);
            }
            ui.end_row();
        });
    if !idle {
        ui.label("Choose a folder in the dialog…");
    }
    ui.horizontal(|ui| {
        if ui.button("Save settings").clicked() {
            s.saved = Some(match save(s) {
                Ok(p) => format!(
                    "saved to {}; restart the station to use them",
                    super::shown(&p.to_string_lossy())
                ),
                Err(e) => e,
            });
        }
        if let Some(w) = &s.saved {
            // Holds paths and the parser's words about the file.
            ui.label(super::shown_long(w));
        }
    });
    ui.separator();
    ui.strong("Scanners");
    for d in &app.snapshot.devices {
        ui.monospace(super::shown(d));
    }
    ui.strong("Profiles (config.toml [profiles.NAME])");
    for p in &app.snapshot.profiles {
        ui.monospace(super::shown(p));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screen(dir: &Path) -> SettingsScreen {
        let actor = crate::store::Actor {
            station: "s".into(),
            operator: "o".into(),
        };
        SettingsScreen::new(&Config::default(), &actor, dir)
    }

    #[test]
    fn case_6_settings_screen_refuses_numbers_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = screen(dir.path());
        for bad in ["1000000000000", "-1", "257", "many"] {
            s.threads = bad.into();
            let err = save(&s).unwrap_err();
            assert!(err.contains("threads"), "{err}");
            assert!(
                err.contains(&bad.escape_debug().to_string()),
                "names the value: {err}"
            );
            assert!(
                !dir.path().join("config.toml").exists(),
                "nothing written for {bad}"
            );
        }
        s.threads = "4".into();
        save(&s).unwrap();
        let cfg = Config::load(dir.path()).unwrap();
        assert_eq!(cfg.threads, 4);
    }

    #[test]
    fn case_6_settings_screen_will_not_write_a_file_that_would_not_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "jpeg_quality = 0\n").unwrap();
        let err = save(&screen(dir.path())).unwrap_err();
        assert!(err.contains("jpeg_quality = 0"), "{err}");
        assert!(err.contains("1 to 100"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "jpeg_quality = 0\n"
        );
    }
}
