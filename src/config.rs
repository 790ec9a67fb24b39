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
    #[error("{origin}: {problems}; correct the value and try again")]
    OutOfRange { origin: String, problems: String },
}

/// The inclusive range a numeric setting must lie in, with the setting's name
/// as the user writes it. Every entry point (command-line options, `config.toml`,
/// `FOLIO_*` variables, the Settings screen) checks against these, so a value
/// is refused where it enters, before any batch is started.
#[derive(Debug, Clone, Copy)]
pub struct Limit<T> {
    pub name: &'static str,
    pub min: T,
    pub max: T,
}

impl<T: PartialOrd + Copy + std::fmt::Display> Limit<T> {
    /// Why `value` is refused, naming the setting, the value and the range.
    pub fn problem(&self, value: T) -> Option<String> {
        self.problem_as(self.name, value)
    }

    /// [`Limit::problem`] for a setting of this kind with another name (a
    /// profile's `dpi`, say).
    pub fn problem_as(&self, name: &str, value: T) -> Option<String> {
        // Written so that NaN is refused too.
        let inside = value >= self.min && value <= self.max;
        (!inside).then(|| {
            format!(
                "{name} = {value} is out of range (it must be from {} to {})",
                self.min, self.max
            )
        })
    }

    /// The value, or why it is refused (for clap's value parsers).
    pub fn check(&self, value: T) -> Result<T, String> {
        self.problem(value).map_or(Ok(value), Err)
    }

    /// Parses text and checks the range.
    pub fn parse(&self, text: &str) -> Result<T, String>
    where
        T: std::str::FromStr,
    {
        let value = text.trim().parse::<T>().map_err(|_| {
            format!(
                "{} = '{}' is not a number from {} to {}",
                self.name,
                text.escape_debug(),
                self.min,
                self.max
            )
        })?;
        self.check(value)
    }
}

/// The ranges of every numeric setting, defined once here.
pub mod limits {
    use super::Limit;

    /// Scan and import resolution: below 50 dpi text and barcodes are lost
    /// and every page looks blank; beyond 2400 no document scanner goes.
    pub const DPI: Limit<u32> = Limit {
        name: "dpi",
        min: 50,
        max: 2400,
    };
    /// Resolution of generated (synthetic and benchmark) pages.
    pub const SYNTH_DPI: Limit<u32> = Limit {
        name: "dpi",
        min: 50,
        max: 600,
    };
    pub const EXPECTED_SHEETS: Limit<u32> = Limit {
        name: "expected-sheets",
        min: 1,
        max: 100_000,
    };
    pub const BENCH_PAGES: Limit<usize> = Limit {
        name: "pages",
        min: 1,
        max: 100_000,
    };
    pub const SYNTH_RECORDS: Limit<usize> = Limit {
        name: "records",
        min: 1,
        max: 10_000,
    };
    pub const SYNTH_NOISE: Limit<f32> = Limit {
        name: "noise",
        min: 0.0,
        max: 64.0,
    };
    pub const SYNTH_SKEW: Limit<f32> = Limit {
        name: "skew",
        min: 0.0,
        max: 45.0,
    };
    /// 0 means one per core; more threads than this only costs memory.
    pub const THREADS: Limit<usize> = Limit {
        name: "threads",
        min: 0,
        max: 256,
    };
    /// Mebibytes of decoded pixels in processing at once.
    pub const MEMORY_BUDGET_MIB: Limit<u64> = Limit {
        name: "memory_budget_mib",
        min: 16,
        max: 65_536,
    };
    pub const PROCESS_DELAY_MS: Limit<u64> = Limit {
        name: "process_delay_ms",
        min: 0,
        max: 60_000,
    };
    pub const JPEG_QUALITY: Limit<u8> = Limit {
        name: "jpeg_quality",
        min: 1,
        max: 100,
    };
    /// Grey-level differences and thresholds.
    pub const fn grey(name: &'static str) -> Limit<u8> {
        Limit {
            name,
            min: 1,
            max: 254,
        }
    }
    /// Shares of a page, 0 to 1.
    pub const fn share(name: &'static str) -> Limit<f32> {
        Limit {
            name,
            min: 0.0,
            max: 1.0,
        }
    }
    pub const MIN_BLOB_MM2: Limit<f32> = Limit {
        name: "blank.min_blob_mm2",
        min: 0.01,
        max: 100.0,
    };
    pub const MAX_BLOBS: Limit<usize> = Limit {
        name: "blank.max_blobs",
        min: 0,
        max: 10_000,
    };
    pub const DESKEW_MIN_DEG: Limit<f32> = Limit {
        name: "quality.deskew_min_deg",
        min: 0.0,
        max: 10.0,
    };
    pub const MAX_CORRECTABLE_DEG: Limit<f32> = Limit {
        name: "quality.max_correctable_deg",
        min: 0.0,
        max: 45.0,
    };
    pub const EXPECTED_LENGTH_MM: Limit<f32> = Limit {
        name: "quality.expected_length_mm",
        min: 50.0,
        max: 2000.0,
    };
    pub const DOUBLE_FEED_FACTOR: Limit<f32> = Limit {
        name: "quality.double_feed_factor",
        min: 1.0,
        max: 3.0,
    };
    pub const CUT_SHORT_FACTOR: Limit<f32> = Limit {
        name: "quality.cut_short_factor",
        min: 0.1,
        max: 1.0,
    };
    pub const SHEET_BARCODE_MM: Limit<f32> = Limit {
        name: "quality.sheet_barcode_min_mm",
        min: 1.0,
        max: 500.0,
    };
    pub const TIMEOUT_SECS: Limit<u64> = Limit {
        name: "upload.timeout_secs",
        min: 1,
        max: 3600,
    };
    pub const RETRY_BASE_MS: Limit<u64> = Limit {
        name: "upload.retry_base_ms",
        min: 10,
        max: 3_600_000,
    };
    pub const RETRY_MAX_MS: Limit<u64> = Limit {
        name: "upload.retry_max_ms",
        min: 10,
        max: 86_400_000,
    };
    pub const MAX_ATTEMPTS: Limit<u32> = Limit {
        name: "upload.max_attempts",
        min: 1,
        max: 1000,
    };
    /// Minutes without a key or the mouse before the window locks (0: never).
    pub const IDLE_LOCK_MINUTES: Limit<u32> = Limit {
        name: "accounts.idle_lock_minutes",
        min: 0,
        max: 480,
    };
    pub const SAMPLE_PERCENT: Limit<f32> = Limit {
        name: "sampling.percent",
        min: 0.1,
        max: 100.0,
    };
    pub const SAMPLE_MIN_PAGES: Limit<u32> = Limit {
        name: "sampling.min_pages",
        min: 1,
        max: 1000,
    };
    /// Sheets one station is meant to scan in a day (`[stats]`).
    pub const TARGET_SHEETS_PER_DAY: Limit<u32> = Limit {
        name: "stats.target_sheets_per_day",
        min: 1,
        max: 1_000_000,
    };
    /// SANE's brightness and contrast, percent either way.
    pub const fn percent(name: &'static str) -> Limit<f64> {
        Limit {
            name,
            min: -100.0,
            max: 100.0,
        }
    }
    /// Page width or height, millimetres.
    pub const PAGE_MM: Limit<f64> = Limit {
        name: "page_size",
        min: 10.0,
        max: 2000.0,
    };
}

/// Clap value parsers of the numeric command-line options.
pub mod cli_values {
    use super::limits;

    pub fn dpi(s: &str) -> Result<u32, String> {
        limits::DPI.parse(s)
    }
    pub fn synth_dpi(s: &str) -> Result<u32, String> {
        limits::SYNTH_DPI.parse(s)
    }
    pub fn expected_sheets(s: &str) -> Result<u32, String> {
        limits::EXPECTED_SHEETS.parse(s)
    }
    pub fn bench_pages(s: &str) -> Result<usize, String> {
        limits::BENCH_PAGES.parse(s)
    }
    pub fn records(s: &str) -> Result<usize, String> {
        limits::SYNTH_RECORDS.parse(s)
    }
    pub fn noise(s: &str) -> Result<f32, String> {
        limits::SYNTH_NOISE.parse(s)
    }
    pub fn skew(s: &str) -> Result<f32, String> {
        limits::SYNTH_SKEW.parse(s)
    }
    /// A page size by name or WIDTHxHEIGHT in millimetres, each side in range.
    pub fn page_size(s: &str) -> Result<String, String> {
        let (w, h) = super::page_size_mm(s).ok_or_else(|| {
            format!(
                "unknown page size '{}': use a4, a3, a5, letter, legal or WIDTHxHEIGHT (mm)",
                s.escape_debug()
            )
        })?;
        super::page_size_problem("page-size", w, h).map_or(Ok(s.to_string()), Err)
    }
}

/// Default of [`Config::memory_budget_mib`]: three A4 colour pages at 600
/// dpi, or thirty grey ones at 300 dpi, are processed together; a 17300x17300
/// grey page (285 MiB) is processed alone.
pub const DEFAULT_MEMORY_BUDGET_MIB: u64 = 256;

/// A compiled pattern and the text it was compiled from (opaque: filled by
/// [`Config::hospital_pattern`]).
#[derive(Debug, Default)]
pub struct CompiledPattern(std::sync::Mutex<Option<(String, regex::Regex)>>);

impl Clone for CompiledPattern {
    fn clone(&self) -> Self {
        let held = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        CompiledPattern(std::sync::Mutex::new(held))
    }
}

/// How identifiers typed by people (Review, On demand) are read
/// (`[identifiers]` in `config.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdentifierParams {
    /// `case_insensitive = true` accepts a hospital number typed in lower
    /// case ("rx648221") when its upper case matches the site's pattern, and
    /// keeps it in upper case ("RX648221"). Off by default (`false`): the
    /// pattern is matched exactly as written.
    pub case_insensitive: bool,
}

/// Operator accounts (`[accounts]` in `config.toml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountsConfig {
    /// The four-eyes rule: whoever approves a batch (or inspects its sample)
    /// did not scan any of it. On by default; a one-person station may turn
    /// it off.
    pub four_eyes: bool,
    /// Minutes without a key press or mouse movement before the window locks
    /// (a running scan goes on); 0 never locks. Ctrl+L locks at once.
    pub idle_lock_minutes: u32,
    /// The station's first admin, made when the station starts with no
    /// accounts: `first_admin = { id = "a.admin", name = "A. Admin",
    /// secret_hash = "$argon2id$..." }` (the hash from `folio operators
    /// hash-pin`, so no PIN is ever written in the file).
    pub first_admin: Option<FirstAdmin>,
    /// Public keys (`ed25519:BASE64`, from `folio operators keygen`) whose
    /// signed operator lists `folio operators import` takes.
    pub import_keys: Vec<String>,
}

impl Default for AccountsConfig {
    fn default() -> Self {
        AccountsConfig {
            four_eyes: true,
            idle_lock_minutes: 10,
            first_admin: None,
            import_keys: Vec::new(),
        }
    }
}

/// `[accounts] first_admin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstAdmin {
    pub id: String,
    pub name: String,
    /// An Argon2id hash in PHC form (`$argon2id$v=19$...`).
    pub secret_hash: String,
}

/// Sampling QA before approval (`[sampling]`): a supervisor inspects a
/// random sample of each batch's sides besides everything flagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingConfig {
    /// Share of a batch's sides in its sample, percent.
    pub percent: f32,
    /// The least sides in a sample (all of them for a smaller batch).
    pub min_pages: u32,
    /// Approval needs a passed sample at a station with accounts (on by
    /// default; a station without accounts never asks for one).
    pub required: bool,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        SamplingConfig {
            percent: 5.0,
            min_pages: 5,
            required: true,
        }
    }
}

/// The session test target (`[session_target]`): the first sheet of each
/// scanning session (a sign-in, a scanner, a profile) is Folio's test target
/// (`folio sheets --target`), measured as it is scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionTargetConfig {
    /// Sides from a session without a passing target are flagged
    /// `no_session_target` at a station with accounts (on by default; a
    /// station without accounts never asks).
    pub required: bool,
    /// Such a batch may not be approved at all, flag decided or not: it is
    /// scanned again after a passing target (off by default).
    pub block_approval: bool,
}

impl Default for SessionTargetConfig {
    fn default() -> Self {
        SessionTargetConfig {
            required: true,
            block_approval: false,
        }
    }
}

/// Default of [`StatsParams::target_sheets_per_day`]: a production duplex
/// scanner's day of prepared stacks.
pub const DEFAULT_TARGET_SHEETS_PER_DAY: u32 = 2000;

/// The productivity figures (`[stats]` in `config.toml`), as `folio stats`
/// and the Statistics screen show them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsParams {
    /// `target_sheets_per_day = 2000`: the sheets one station is planned to
    /// scan in a day (1 to 1,000,000), the plan the run rate (sheets per
    /// station per day worked) is measured against.
    pub target_sheets_per_day: u32,
}

impl Default for StatsParams {
    fn default() -> Self {
        StatsParams {
            target_sheets_per_day: DEFAULT_TARGET_SHEETS_PER_DAY,
        }
    }
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
    /// `hospital_number_pattern` compiled, kept until the pattern changes
    /// (the window checks typed identifiers every frame).
    #[serde(skip)]
    pub compiled_pattern: CompiledPattern,
    /// How typed patient identifiers are read (`[identifiers]`).
    pub identifiers: IdentifierParams,
    /// Operator accounts: four-eyes rule, idle lock, first admin.
    pub accounts: AccountsConfig,
    /// Sampling QA before approval.
    pub sampling: SamplingConfig,
    /// The session test target.
    pub session_target: SessionTargetConfig,
    /// How long paper is held after upload (`[retention]`).
    pub retention: crate::batch::retention::RetentionConfig,
    /// Searchable text (`[ocr]`): off unless asked for.
    pub ocr: OcrConfig,
    /// What each Kodak patch code does (`[patches]`, e.g. `"2" =
    /// "new_document"`, `"3" = "new_record"`, `"T" = "separator"`).
    pub patches: crate::batch::protocol::PatchMeanings,
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
    /// Refuse to store scans unless the data folder is on an encrypted disk
    /// (dm-crypt/LUKS, eCryptfs); see `folio status`.
    pub require_encrypted_disk: bool,
    /// IT's recovery public key (`folio keys recovery-pair` makes the pair):
    /// `folio encrypt` and `folio rekey` seal a copy of the station's key to
    /// it, for a forgotten passphrase or a replaced laptop.
    pub recovery_public_key: Option<String>,
    /// The on-demand worklist's EHR (`[worklist]`): unset, no worklist.
    pub worklist: Option<crate::upload::ehr::WorklistConfig>,
    /// Image-processing threads (0: one per core).
    pub threads: usize,
    /// Decoded pixels that sides being processed may hold together,
    /// mebibytes; a page larger than this is processed alone. Processing
    /// needs a few times a page's pixels, so the default keeps a station
    /// importing 17300x17300 pages under 1 GiB resident.
    pub memory_budget_mib: u64,
    /// The scanner used when none is named (default: the first SANE device,
    /// else the demo feeder).
    pub default_device: Option<String>,
    /// Named scan settings (`[profiles.NAME]`).
    pub profiles: BTreeMap<String, ScanProfile>,
    /// The productivity figures' plan (`[stats]`).
    pub stats: StatsParams,
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
            compiled_pattern: CompiledPattern::default(),
            identifiers: IdentifierParams::default(),
            accounts: AccountsConfig::default(),
            sampling: SamplingConfig::default(),
            session_target: SessionTargetConfig::default(),
            retention: Default::default(),
            ocr: OcrConfig::default(),
            patches: Default::default(),
            default_document_type: None,
            jpeg_quality: 75,
            blank: BlankParams::default(),
            quality: QualityParams::default(),
            bilevel: BilevelParams::default(),
            upload: UploadConfig::default(),
            worklist: None,
            require_encrypted_disk: false,
            recovery_public_key: None,
            threads: 0,
            memory_budget_mib: DEFAULT_MEMORY_BUDGET_MIB,
            process_delay_ms: 0,
            panic_on_side: None,
            default_device: None,
            profiles: BTreeMap::new(),
            stats: StatsParams::default(),
        }
    }
}

/// Checks the numbers of a scan (a profile's, overridden by the command line
/// or the window) before its batch is started.
pub fn check_scan(
    settings: &ScanSettings,
    expected_sheets: Option<u32>,
) -> Result<(), ConfigError> {
    let percent = limits::percent("");
    refuse(
        "scan",
        [
            settings.dpi.and_then(|v| limits::DPI.problem(v)),
            settings
                .brightness
                .and_then(|v| percent.problem_as("brightness", v)),
            settings
                .contrast
                .and_then(|v| percent.problem_as("contrast", v)),
            settings
                .page_size_mm
                .and_then(|(w, h)| page_size_problem("page_size", w, h)),
            expected_sheets.and_then(|n| limits::EXPECTED_SHEETS.problem(n)),
        ],
    )
}

/// Checks the numbers of an import before its batch is started.
pub fn check_import(dpi: Option<u32>, expected_sheets: Option<u32>) -> Result<(), ConfigError> {
    refuse(
        "import",
        [
            dpi.and_then(|v| limits::DPI.problem(v)),
            expected_sheets.and_then(|n| limits::EXPECTED_SHEETS.problem(n)),
        ],
    )
}

fn refuse(
    origin: &str,
    problems: impl IntoIterator<Item = Option<String>>,
) -> Result<(), ConfigError> {
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(ConfigError::OutOfRange {
        origin: origin.to_string(),
        problems: problems.join("; "),
    })
}

/// A numeric `FOLIO_*` variable, checked against its range.
fn env_number<T>(var: &str, text: &str, limit: &Limit<T>) -> Result<T, ConfigError>
where
    T: PartialOrd + Copy + std::fmt::Display + std::str::FromStr,
{
    limit
        .parse(text)
        .map_err(|problem| ConfigError::OutOfRange {
            origin: format!("environment variable {var}"),
            problems: problem,
        })
}

pub(crate) fn hostname() -> String {
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
        if let Some(v) = env("FOLIO_THREADS") {
            cfg.threads = env_number("FOLIO_THREADS", &v, &limits::THREADS)?;
        }
        if let Some(v) = env("FOLIO_MEMORY_BUDGET_MIB") {
            cfg.memory_budget_mib =
                env_number("FOLIO_MEMORY_BUDGET_MIB", &v, &limits::MEMORY_BUDGET_MIB)?;
        }
        cfg.hospital_pattern()?;
        cfg.validate(&path.display().to_string())?;
        Ok(cfg)
    }

    /// Checks every numeric setting against its range ([`limits`]); `origin`
    /// says where the values came from, for the message.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        refuse(origin, self.range_problems())
    }

    /// Every numeric setting out of its range, in words.
    fn range_problems(&self) -> Vec<Option<String>> {
        use limits::*;
        let (b, q, l, u) = (&self.blank, &self.quality, &self.bilevel, &self.upload);
        let mut out: Vec<Option<String>> = vec![
            THREADS.problem(self.threads),
            MEMORY_BUDGET_MIB.problem(self.memory_budget_mib),
            PROCESS_DELAY_MS.problem(self.process_delay_ms),
            JPEG_QUALITY.problem(self.jpeg_quality),
            grey("blank.ink_delta").problem(b.ink_delta),
            MIN_BLOB_MM2.problem(b.min_blob_mm2),
            MAX_BLOBS.problem(b.max_blobs),
            share("blank.max_ink_fraction").problem(b.max_ink_fraction),
            grey("quality.too_dark_paper").problem(q.too_dark_paper),
            grey("quality.too_light_ink").problem(q.too_light_ink),
            grey("quality.low_contrast").problem(q.low_contrast),
            DESKEW_MIN_DEG.problem(q.deskew_min_deg),
            MAX_CORRECTABLE_DEG.problem(q.max_correctable_deg),
            q.expected_length_mm
                .and_then(|v| EXPECTED_LENGTH_MM.problem(v)),
            DOUBLE_FEED_FACTOR.problem(q.double_feed_factor),
            CUT_SHORT_FACTOR.problem(q.cut_short_factor),
            SHEET_BARCODE_MM.problem(q.sheet_barcode_min_mm.0),
            SHEET_BARCODE_MM.problem(q.sheet_barcode_min_mm.1),
            share("quality.sheet_barcode_share").problem(q.sheet_barcode_share),
            share("bilevel.max_midtone_share").problem(l.max_midtone_share),
            grey("bilevel.ink_delta").problem(l.ink_delta),
            TIMEOUT_SECS.problem(u.timeout_secs),
            RETRY_BASE_MS.problem(u.retry_base_ms),
            RETRY_MAX_MS.problem(u.retry_max_ms),
            MAX_ATTEMPTS.problem(u.max_attempts),
            IDLE_LOCK_MINUTES.problem(self.accounts.idle_lock_minutes),
            SAMPLE_PERCENT.problem(self.sampling.percent),
            SAMPLE_MIN_PAGES.problem(self.sampling.min_pages),
            TARGET_SHEETS_PER_DAY.problem(self.stats.target_sheets_per_day),
            self.ocr.problem(),
        ];
        if u.retry_max_ms < u.retry_base_ms {
            out.push(Some(format!(
                "upload.retry_max_ms = {} is below upload.retry_base_ms = {} (it must be at least that)",
                u.retry_max_ms, u.retry_base_ms
            )));
        }
        for (name, p) in &self.profiles {
            out.extend(p.range_problems(name));
        }
        out.extend(u.mhd.problems().into_iter().map(Some));
        out.extend(u.s3.iter().flat_map(|s| s.problems()).map(Some));
        out.extend(self.worklist.iter().flat_map(|w| w.problems()).map(Some));
        if let Some(k) = &self.recovery_public_key
            && let Err(e) = k.parse::<crate::store::keys::RecoveryPublicKey>()
        {
            out.push(Some(format!("recovery_public_key: {e}")));
        }
        out
    }

    /// The compiled hospital-number pattern (compiled once per pattern).
    pub fn hospital_pattern(&self) -> Result<regex::Regex, ConfigError> {
        let mut cache = self
            .compiled_pattern
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((source, re)) = cache.as_ref()
            && *source == self.hospital_number_pattern
        {
            return Ok(re.clone());
        }
        let re =
            regex::Regex::new(&self.hospital_number_pattern).map_err(|e| ConfigError::Pattern {
                pattern: self.hospital_number_pattern.clone(),
                message: e.to_string(),
            })?;
        *cache = Some((self.hospital_number_pattern.clone(), re.clone()));
        Ok(re)
    }

    /// The memory budget of the processing pipeline, bytes.
    pub fn memory_budget_bytes(&self) -> u64 {
        self.memory_budget_mib.saturating_mul(1 << 20)
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

/// Searchable text (OCR, `[ocr]`): which batches get it, and in what
/// language. A profile's `ocr = true` or `--ocr` asks for it per batch; the
/// Review screen (or `folio ocr BATCH`) asks for it on demand.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrConfig {
    /// Read the text of every batch scanned at this station.
    pub enabled: bool,
    /// A batch that asked for text is sent only once its pages are read
    /// (pages OCR gives up on do not hold it).
    pub upload_waits: bool,
    /// Tesseract's language(s): "eng", or several joined by '+' ("eng+fra").
    pub language: String,
    /// Tesseract's language data folder (unset: the one packaged with it).
    pub tessdata: Option<String>,
    /// Pages the station reads at once, one a thread (at idle priority).
    pub workers: usize,
}

impl Default for OcrConfig {
    fn default() -> Self {
        OcrConfig {
            enabled: false,
            upload_waits: true,
            language: String::from("eng"),
            tessdata: None,
            workers: 1,
        }
    }
}

impl OcrConfig {
    /// Why the settings cannot be used, if they cannot.
    pub fn problem(&self) -> Option<String> {
        let lang_ok = !self.language.is_empty()
            && self.language.len() <= 64
            && self
                .language
                .split('+')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !lang_ok {
            return Some(format!(
                "[ocr] language = {:?} is not a Tesseract language: write its code, as \"eng\" or \"eng+fra\"",
                crate::batch::printable(&self.language, 64)
            ));
        }
        (!(1..=8).contains(&self.workers)).then(|| {
            format!(
                "[ocr] workers = {} is out of range (it must be from 1 to 8)",
                self.workers
            )
        })
    }
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
    /// Read the batch's text (OCR; unset: the station's `[ocr] enabled`).
    pub ocr: Option<bool>,
    /// What each patch code does in batches scanned with this profile
    /// (`[profiles.NAME.patches]`; unset: the station's `[patches]`).
    pub patches: Option<crate::batch::protocol::PatchMeanings>,
    /// Backend options by name.
    pub options: BTreeMap<String, String>,
}

impl ScanProfile {
    /// The profile's numeric settings out of range, in words.
    fn range_problems(&self, name: &str) -> Vec<Option<String>> {
        let at = |field: &str| format!("profiles.{}.{field}", name.escape_debug());
        let percent = limits::percent("");
        vec![
            self.dpi.and_then(|v| limits::DPI.problem_as(&at("dpi"), v)),
            self.brightness
                .and_then(|v| percent.problem_as(&at("brightness"), v)),
            self.contrast
                .and_then(|v| percent.problem_as(&at("contrast"), v)),
            self.page_size
                .as_deref()
                .and_then(page_size_mm)
                .and_then(|(w, h)| page_size_problem(&at("page_size"), w, h)),
        ]
    }

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

/// Why a page size is refused (either side out of [`limits::PAGE_MM`]).
pub fn page_size_problem(name: &str, width: f64, height: f64) -> Option<String> {
    limits::PAGE_MM
        .problem(width)
        .or_else(|| limits::PAGE_MM.problem(height))
        .map(|_| {
            format!(
                "{name} = {width}x{height} mm is out of range (each side must be from {} to {} mm)",
                limits::PAGE_MM.min,
                limits::PAGE_MM.max
            )
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ocr_settings_out_of_reach_are_refused_in_words() {
        let ok = OcrConfig::default();
        assert_eq!(ok.problem(), None);
        let two = OcrConfig {
            language: "eng+fra".into(),
            ..OcrConfig::default()
        };
        assert_eq!(two.problem(), None);
        for bad in ["", "eng+", "../../etc/x", "eng\u{1b}[2J", "e n g"] {
            let c = OcrConfig {
                language: bad.into(),
                ..OcrConfig::default()
            };
            let why = c.problem().expect(bad);
            assert!(why.contains("[ocr] language"), "{why}");
            assert!(!why.contains('\u{1b}'), "printed raw: {why:?}");
        }
        let many = OcrConfig {
            workers: 9,
            ..OcrConfig::default()
        };
        assert!(many.problem().unwrap().contains("from 1 to 8"));
        let text = "[ocr]\nenabled = true\nlanguags = \"eng\"\n";
        assert!(
            toml::from_str::<Config>(text).is_err(),
            "a misspelt key is refused"
        );
    }

    #[test]
    fn the_hospital_pattern_follows_changes_to_it() {
        let mut cfg = Config::default();
        assert!(cfg.hospital_pattern().unwrap().is_match("AB12345"));
        let copy = cfg.clone();
        cfg.hospital_number_pattern = "^H[0-9]{3}$".into();
        let changed = cfg.hospital_pattern().unwrap();
        assert!(changed.is_match("H123") && !changed.is_match("AB12345"));
        assert!(copy.hospital_pattern().unwrap().is_match("AB12345"));
        let read: Config = toml::from_str("[identifiers]\ncase_insensitive = true\n").unwrap();
        assert!(read.identifiers.case_insensitive);
        assert!(!Config::default().identifiers.case_insensitive);
        cfg.hospital_number_pattern = "(".into();
        assert!(matches!(
            cfg.hospital_pattern(),
            Err(ConfigError::Pattern { .. })
        ));
    }

    #[test]
    fn the_daily_target_is_read_from_stats_and_checked() {
        assert_eq!(Config::default().stats.target_sheets_per_day, 2000);
        let read: Config = toml::from_str("[stats]\ntarget_sheets_per_day = 1500\n").unwrap();
        assert_eq!(read.stats.target_sheets_per_day, 1500);
        assert!(read.validate("config.toml").is_ok());
        let zero: Config = toml::from_str("[stats]\ntarget_sheets_per_day = 0\n").unwrap();
        let e = zero.validate("config.toml").unwrap_err().to_string();
        assert!(
            e.contains(
                "stats.target_sheets_per_day = 0 is out of range (it must be from 1 to 1000000)"
            ),
            "{e}"
        );
    }
}
