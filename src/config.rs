//! Station configuration: built-in defaults, then `config.toml` in the data
//! directory, then `FOLIO_*` environment variables, then command-line flags.

use crate::capture::{ColorMode, ScanSettings, SourceKind};
use crate::imaging::analyze::{BlankParams, QualityParams};
use crate::imaging::bilevel::BilevelParams;
use crate::upload::UploadConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("the hospital-number pattern '{pattern}' is not a valid regular expression: {message}")]
    Pattern { pattern: String, message: String },
    #[error("no data directory: set FOLIO_DATA_DIR or pass --data-dir")]
    NoDataDir,
}

/// Everything configurable about a station.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// This station's id, recorded on every batch and audit event.
    pub station: String,
    /// The site the station belongs to.
    pub site: String,
    /// The operator when none signs in or is given.
    pub operator: Option<String>,
    /// Hospital numbers of this site (a regular expression, anchored).
    pub hospital_number_pattern: String,
    /// Type of the pages before a record's first document sheet (none if unset).
    pub default_document_type: Option<String>,
    /// JPEG quality of grey and colour pages.
    pub jpeg_quality: u8,
    /// Blank-page detection thresholds.
    pub blank: BlankParams,
    /// Image-quality thresholds (dark, light, contrast, skew).
    pub quality: QualityParams,
    /// Storing clean typed grey pages as bilevel (off unless a profile or
    /// `[bilevel] enabled = true` asks).
    pub bilevel: BilevelParams,
    /// The central store (`[upload]`): a FHIR server or a folder.
    pub upload: UploadConfig,
    /// Image-processing threads (0: one per core).
    pub threads: usize,
    /// The scanner used when none is named (default: the first SANE device,
    /// else the demo feeder).
    pub default_device: Option<String>,
    /// Named scan settings (`[profiles.NAME]`).
    pub profiles: BTreeMap<String, ScanProfile>,
    /// Extra milliseconds per side, to rehearse a slow workstation (tests of
    /// backpressure); 0 in production.
    pub process_delay_ms: u64,
    /// Test-only hook: processing this side panics, as a bug would. Never read
    /// from `config.toml` or the environment (`serde(skip)`), so only a test
    /// that builds its `Config` in code can set it.
    #[doc(hidden)]
    #[serde(skip)]
    pub panic_on_side: Option<u32>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            station: hostname(),
            site: String::from("default"),
            operator: None,
            hospital_number_pattern: String::from(r"^[A-Z]{1,3}[0-9]{5,8}$"),
            default_document_type: None,
            jpeg_quality: 75,
            blank: BlankParams::default(),
            quality: QualityParams::default(),
            bilevel: BilevelParams::default(),
            upload: UploadConfig::default(),
            threads: 0,
            process_delay_ms: 0,
            panic_on_side: None,
            default_device: None,
            profiles: BTreeMap::new(),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "station".into())
}

impl Config {
    /// Loads `data_dir/config.toml` (if present) and applies the environment.
    pub fn load(data_dir: &Path) -> Result<Config, ConfigError> {
        let path = data_dir.join("config.toml");
        let mut cfg = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Invalid {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Config::default(),
            Err(source) => return Err(ConfigError::Read { path, source }),
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(v) = env("FOLIO_STATION") {
            cfg.station = v;
        }
        if let Some(v) = env("FOLIO_OPERATOR") {
            cfg.operator = Some(v);
        }
        if let Some(v) = env("FOLIO_FHIR_URL") {
            cfg.upload.fhir_url = Some(v);
        }
        if let Some(v) = env("FOLIO_HOSPITAL_NUMBER_PATTERN") {
            cfg.hospital_number_pattern = v;
        }
        cfg.hospital_pattern()?;
        Ok(cfg)
    }

    /// The compiled hospital-number pattern.
    pub fn hospital_pattern(&self) -> Result<regex::Regex, ConfigError> {
        regex::Regex::new(&self.hospital_number_pattern).map_err(|e| ConfigError::Pattern {
            pattern: self.hospital_number_pattern.clone(),
            message: e.to_string(),
        })
    }

    /// Threads for image processing.
    pub fn thread_count(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        }
    }
}

/// The data directory: `--data-dir`, else `FOLIO_DATA_DIR`, else the one
/// chosen in Settings (kept in [`station_file`]), else the platform's data
/// folder (`~/.local/share/folio` on Linux).
pub fn data_dir(flag: Option<&Path>) -> Result<PathBuf, ConfigError> {
    if let Some(p) = flag {
        return Ok(p.to_path_buf());
    }
    if let Some(p) = std::env::var_os("FOLIO_DATA_DIR").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    if let Some(p) = chosen_data_dir() {
        return Ok(p);
    }
    directories::ProjectDirs::from("", "", "folio")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(ConfigError::NoDataDir)
}

/// Where the station remembers the data folder chosen in Settings: outside
/// any data folder, as `config.toml` lives in one (`~/.config/folio/station.toml`
/// on Linux).
pub fn station_file() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "folio").map(|d| d.config_dir().join("station.toml"))
}

fn chosen_data_dir() -> Option<PathBuf> {
    let text = std::fs::read_to_string(station_file()?).ok()?;
    let table: toml::Table = toml::from_str(&text).ok()?;
    Some(PathBuf::from(table.get("data_dir")?.as_str()?))
}

/// Remembers `dir` as the station's data folder from the next start on.
pub fn choose_data_dir(dir: &Path) -> Result<PathBuf, String> {
    let file = station_file().ok_or("this system has no configuration folder")?;
    let mut table = toml::Table::new();
    table.insert(
        "data_dir".into(),
        toml::Value::String(dir.display().to_string()),
    );
    let text = toml::to_string_pretty(&table).map_err(|e| e.to_string())?;
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&file, text).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(file)
}

/// A named set of scan settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanProfile {
    pub device: Option<String>,
    /// feeder, flatbed or duplex.
    pub source: Option<SourceKind>,
    /// gray, color or bw.
    pub mode: Option<ColorMode>,
    pub dpi: Option<u32>,
    /// a4, a3, a5, letter, legal, or WIDTHxHEIGHT in millimetres.
    pub page_size: Option<String>,
    pub brightness: Option<f64>,
    pub contrast: Option<f64>,
    /// Store clean typed grey pages as bilevel (CCITT G4).
    pub typed_as_bilevel: Option<bool>,
    /// Backend options by name.
    pub options: BTreeMap<String, String>,
}

impl ScanProfile {
    /// The scan settings this profile asks for.
    pub fn settings(&self) -> Result<ScanSettings, ConfigError> {
        let page_size_mm = match &self.page_size {
            Some(name) => Some(page_size_mm(name).ok_or_else(|| ConfigError::Invalid {
                path: PathBuf::from("config.toml"),
                message: format!(
                    "unknown page size '{name}': use a4, a3, a5, letter, legal or WIDTHxHEIGHT (mm)"
                ),
            })?),
            None => None,
        };
        Ok(ScanSettings {
            source: self.source,
            mode: self.mode,
            dpi: self.dpi,
            page_size_mm,
            brightness: self.brightness,
            contrast: self.contrast,
            options: self
                .options
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            options_after: Vec::new(),
        })
    }
}

/// Millimetres of a named paper size, or of "WIDTHxHEIGHT".
pub fn page_size_mm(name: &str) -> Option<(f64, f64)> {
    match name.to_ascii_lowercase().as_str() {
        "a3" => Some((297.0, 420.0)),
        "a4" => Some((210.0, 297.0)),
        "a5" => Some((148.0, 210.0)),
        "letter" => Some((215.9, 279.4)),
        "legal" => Some((215.9, 355.6)),
        other => {
            let (w, h) = other.split_once('x')?;
            Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
        }
    }
}

impl Config {
    /// The configured profiles, or the built-in ones when none are configured.
    pub fn profiles(&self) -> BTreeMap<String, ScanProfile> {
        if !self.profiles.is_empty() {
            return self.profiles.clone();
        }
        let p = |device: Option<&str>, source, mode, dpi| ScanProfile {
            device: device.map(str::to_string),
            source: Some(source),
            mode: Some(mode),
            dpi: Some(dpi),
            page_size: Some("a4".into()),
            ..ScanProfile::default()
        };
        BTreeMap::from([
            (
                "demo".to_string(),
                p(
                    Some(crate::capture::DEMO_DEVICE),
                    SourceKind::Duplex,
                    ColorMode::Gray,
                    200,
                ),
            ),
            (
                "duplex-gray-300".to_string(),
                p(None, SourceKind::Duplex, ColorMode::Gray, 300),
            ),
            (
                "feeder-gray-300".to_string(),
                p(None, SourceKind::Feeder, ColorMode::Gray, 300),
            ),
            (
                "flatbed-color-300".to_string(),
                p(None, SourceKind::Flatbed, ColorMode::Color, 300),
            ),
        ])
    }
}
