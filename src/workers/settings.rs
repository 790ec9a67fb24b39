//! Saving the Settings screen's form into `config.toml` (runs on the
//! `folio-station` thread, never on the UI thread): the file in the data
//! folder in use is read, the edited keys are set (everything else is kept),
//! the result is checked by loading it as the station would at its next start,
//! and only a file that would load is written, whole or not at all
//! ([`crate::durable::write_atomic`]). A new data folder is remembered in the
//! station file. Numbers are checked against the same ranges as `config.toml`
//! ([`crate::config::limits`]).

use crate::config::{Config, limits};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The Settings screen's fields as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsForm {
    pub operator: String,
    pub pattern: String,
    pub fhir_url: String,
    /// The upload folder (empty: none).
    pub folder: String,
    /// The S3 bucket `[upload.s3]` delivers to, in words (set in the file
    /// only: it needs credentials the form does not take).
    pub s3: Option<String>,
    /// Imaging threads, as typed (0: one per core).
    pub threads: String,
    /// The pipeline's memory budget, MiB, as typed.
    pub memory_budget: String,
    /// The data folder in use (whose `config.toml` is read).
    pub data_dir: PathBuf,
    /// The data folder from the next start (typed or chosen).
    pub new_data_dir: String,
}

impl SettingsForm {
    /// The form as the station runs now.
    pub fn new(cfg: &Config, actor: &crate::store::Actor, data_dir: &Path) -> SettingsForm {
        SettingsForm {
            operator: actor.operator.clone(),
            pattern: cfg.hospital_number_pattern.clone(),
            fhir_url: cfg.upload.fhir_url.clone().unwrap_or_default(),
            folder: cfg
                .upload
                .folder
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            s3: cfg.upload.s3.as_ref().map(|s| {
                format!(
                    "bucket {} at {}",
                    crate::batch::printable(&s.bucket, 80),
                    crate::upload::fhir::redact_url(&s.endpoint)
                )
            }),
            threads: cfg.threads.to_string(),
            memory_budget: cfg.memory_budget_mib.to_string(),
            data_dir: data_dir.to_path_buf(),
            new_data_dir: data_dir.display().to_string(),
        }
    }
}

/// Why the settings were not saved (nothing was written then).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    #[error("the data folder cannot be empty")]
    NoDataFolder,
    /// The file in use does not parse, or the edited file would not load.
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
    #[error("the hospital-number pattern is not valid: {0}")]
    Pattern(String),
    /// A number out of its range, in the words of [`limits`].
    #[error("{0}")]
    OutOfRange(String),
    #[error("cannot use {} as the data folder: {message}", path.display())]
    DataFolder { path: PathBuf, message: String },
    #[error("cannot write {}: {message}", path.display())]
    Write { path: PathBuf, message: String },
    /// The new data folder could not be remembered in the station file.
    #[error("{0}")]
    Remember(String),
}

/// Writes the edited settings into `config.toml` of the (new) data folder,
/// keeping everything else, and remembers a new data folder; returns the
/// file written.
pub fn save(form: &SettingsForm) -> Result<PathBuf, SettingsError> {
    let data_dir = PathBuf::from(form.new_data_dir.trim());
    if data_dir.as_os_str().is_empty() {
        return Err(SettingsError::NoDataFolder);
    }
    let out = edited(form)?;
    std::fs::create_dir_all(&data_dir).map_err(|e| SettingsError::DataFolder {
        path: data_dir.clone(),
        message: e.to_string(),
    })?;
    let path =
        crate::durable::write_atomic(&data_dir, "config.toml", |f| f.write_all(out.as_bytes()))
            .map_err(|e| SettingsError::Write {
                path: data_dir.join("config.toml"),
                message: e.source.to_string(),
            })?;
    if data_dir != form.data_dir {
        crate::config::choose_data_dir(&data_dir).map_err(SettingsError::Remember)?;
    }
    Ok(path)
}

/// The text of the edited `config.toml`, once it is known to load.
fn edited(form: &SettingsForm) -> Result<String, SettingsError> {
    let path = form.data_dir.join("config.toml");
    let invalid = |message: String| SettingsError::Invalid {
        path: path.clone(),
        message,
    };
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut doc: toml::Table = toml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    regex::Regex::new(&form.pattern).map_err(|e| SettingsError::Pattern(regex_words(&e)))?;
    let threads = limits::THREADS
        .parse(&form.threads)
        .map_err(SettingsError::OutOfRange)?;
    doc.insert("threads".into(), toml::Value::Integer(threads as i64));
    let budget = limits::MEMORY_BUDGET_MIB
        .parse(&form.memory_budget)
        .map_err(SettingsError::OutOfRange)?;
    doc.insert(
        "memory_budget_mib".into(),
        toml::Value::Integer(budget as i64),
    );
    doc.insert(
        "operator".into(),
        toml::Value::String(form.operator.trim().into()),
    );
    doc.insert(
        "hospital_number_pattern".into(),
        toml::Value::String(form.pattern.clone()),
    );
    let upload = doc
        .entry("upload")
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let Some(t) = upload.as_table_mut() {
        for (key, value) in [("fhir_url", &form.fhir_url), ("folder", &form.folder)] {
            if value.trim().is_empty() {
                t.remove(key);
            } else {
                t.insert(key.into(), toml::Value::String(value.trim().into()));
            }
        }
    }
    let out = toml::to_string_pretty(&doc).map_err(|e| invalid(e.to_string()))?;
    // What would not load (a number out of range typed into the file by
    // hand, say) is refused here rather than at the next start.
    let cfg: Config = toml::from_str(&out).map_err(|e| invalid(e.to_string()))?;
    cfg.validate(&path.display().to_string())
        .map_err(|e| SettingsError::OutOfRange(e.to_string()))?;
    Ok(out)
}

/// What is wrong with a pattern, in one line: the regex crate's own words
/// come after a drawing of the pattern ("regex parse error: … error:
/// unclosed character class").
fn regex_words(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error: "))
            .unwrap_or(text)
            .to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(dir: &Path) -> SettingsForm {
        let actor = crate::store::Actor {
            station: "s".into(),
            operator: "o".into(),
            role: None,
        };
        SettingsForm::new(&Config::default(), &actor, dir)
    }

    #[test]
    fn case_6_settings_screen_refuses_numbers_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = form(dir.path());
        for bad in ["1000000000000", "-1", "257", "many"] {
            s.threads = bad.into();
            let err = save(&s).unwrap_err().to_string();
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
        let err = save(&form(dir.path())).unwrap_err().to_string();
        assert!(err.contains("jpeg_quality = 0"), "{err}");
        assert!(err.contains("1 to 100"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "jpeg_quality = 0\n"
        );
    }

    #[test]
    fn a_saved_file_is_whole_and_keeps_other_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "jpeg_quality = 70\n").unwrap();
        let mut s = form(dir.path());
        s.operator = " a.jones ".into();
        assert_eq!(save(&s).unwrap(), path);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("jpeg_quality = 70"), "{text}");
        assert!(text.contains("operator = \"a.jones\""), "{text}");
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with(crate::durable::TMP_PREFIX))
            .collect();
        assert!(left.is_empty(), "{left:?}");
        s.new_data_dir = "  ".into();
        assert_eq!(save(&s), Err(SettingsError::NoDataFolder));
    }

    #[test]
    fn a_bad_pattern_is_refused_in_one_line_of_words() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = form(dir.path());
        s.pattern = "^[A-".into();
        let err = save(&s).unwrap_err().to_string();
        assert_eq!(
            err,
            "the hospital-number pattern is not valid: unclosed character class"
        );
        assert!(!dir.path().join("config.toml").exists());
    }
}
