//! The command line: clap commands that call the workers (the same functions
//! the station window's threads call: scans resolved by
//! [`workers::scan_choice`], approvals through the one approval rule) and
//! print results. Listings read through the store's read methods, as the
//! window's reader does. No SQL, image code or file formats here beyond
//! printing. Runs on the main thread; a scan or import starts its own.

mod barcodes;
mod keys;
mod ocr;
mod operators;
mod output;
mod paper;
mod sample;
mod sheets;
mod stats;
mod target;
mod upload;
mod worklist;

use crate::batch::roles::Action;
use crate::capture::ColorMode;
use crate::config::{self, Config};
use crate::store::{Actor, Store};
use crate::workers::{self, ImportError, ImportOptions, ScanError};
use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Exit codes scripts can rely on.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    /// The batch was stored, but some sides could not be read (see the messages).
    pub const SIDES_UNREADABLE: u8 = 3;
    /// The work stopped part-way; what was done is kept and can be resumed.
    pub const INTERRUPTED: u8 = 4;
    /// Some batches could not be delivered and wait for a person (`folio upload --list`).
    pub const UPLOAD_PARKED: u8 = 5;
    /// Not allowed: nobody signed in, a wrong PIN, a role that may not, or
    /// the four-eyes rule. Nothing was changed.
    pub const REFUSED: u8 = 6;
}

#[derive(Parser, Debug)]
#[command(
    name = "folio",
    version,
    about = "Folio: the scanning station for paper health records"
)]
pub struct Cli {
    /// Station data folder (default: $FOLIO_DATA_DIR, else the one chosen in Settings, else ~/.local/share/folio).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Who acts. At a station with operator accounts: the account id to
    /// sign in as, with the PIN in $FOLIO_PIN or typed when asked (default:
    /// $FOLIO_OPERATOR, the config's `operator`). At a station without
    /// accounts: the name recorded (default: $FOLIO_OPERATOR, config, $USER).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import scanned image files (PNG, JPEG, TIFF, PNM) in order as one batch.
    Import(ImportArgs),
    /// List batches.
    Batches {
        #[arg(long)]
        json: bool,
    },
    /// Show a batch's records, documents, pages and flags; or a delivered or
    /// exported manifest.json (folio.manifest/1 or /2: give the file or its
    /// folder) with each document's provenance.
    Show {
        /// Batch id or prefix, or a manifest.json (or the folder holding it).
        batch: String,
        #[arg(long)]
        json: bool,
    },
    /// Write one PDF per document and manifest.json for a batch.
    Export {
        batch: String,
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Read image files as the pipeline reads a side and print every barcode
    /// and patch code found: symbology, text, position and the decoder that
    /// read it (zbar or zxing-cpp). `--json` prints one object per page
    /// (documented in src/cli/barcodes.rs and the README). Exit 1 if a page
    /// could not be read.
    Barcodes {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Read the text (OCR) of batches that asked for it, for searchable PDFs:
    /// one page at a time at idle priority. With BATCH, ask for that batch's
    /// text first (on demand).
    Ocr(ocr::OcrArgs),
    /// Print control sheets (record, document, batch), or the session test
    /// target (--target), to a PDF.
    ///
    /// Values must be printable ASCII (what Code 128 holds): accented letters,
    /// other scripts, control characters, empty values, ':' in a document type
    /// and values too long for a readable barcode (46 characters with the
    /// FOLIO:REC:, FOLIO:DOC: or FOLIO:BATCH: prefix) are refused before
    /// anything is written.
    Sheets(SheetsArgs),
    /// Generate a realistic synthetic stack of scanned pages (and its truth.json).
    Generate(GenerateArgs),
    /// Check the database's integrity and the audit chain.
    Check,
    /// Show the audit trail (who did what, when), of one batch or all.
    ///
    /// One line per event, its fields separated by tabs: sequence number,
    /// time, station, operator (with the role they signed in with, if any),
    /// action, subject, detail. Text in the fields is shown with control
    /// characters, tabs, line breaks and direction marks escaped (`\u{1b}`, `\n`), so no field can start a line or a
    /// field of its own; `--json` gives every field exactly as stored.
    Audit {
        /// Batch id or prefix.
        batch: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List scanning sessions (a sign-in, a scanner, a profile) with their
    /// test target's result: the newest first, or those of one batch.
    Sessions {
        /// Batch id or prefix.
        batch: Option<String>,
        /// At most this many (newest first).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Show what the central store gave back when each document of a batch
    /// was read again after upload (the verified receipt): the newest check
    /// of each document, or every check with `--all`.
    ///
    /// One line per document, its fields separated by tabs: verified or
    /// NOT VERIFIED, document id, bytes and SHA-256 sent, bytes and SHA-256
    /// read back, the store's location, version and ETag, when it was
    /// checked, and why it is not verified.
    Receipts(upload::ReceiptsArgs),
    /// List scanners (SANE devices and the demo feeder) with their options.
    Devices {
        #[arg(long)]
        json: bool,
    },
    /// List scan profiles (from config.toml, or the built-in ones).
    Profiles {
        #[arg(long)]
        json: bool,
    },
    /// Scan a whole feeder load into a batch.
    Scan(ScanArgs),
    /// Measure the whole pipeline on generated raw pages.
    Bench(BenchArgs),
    /// Separate and close a batch that was left open.
    Close {
        batch: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a closed batch for upload: builds its PDFs and queues it.
    Approve(ApproveArgs),
    /// Deliver approved batches to the central store (the configured FHIR
    /// server or folder; the flags override it).
    Upload(UploadArgs),
    /// The station's operator accounts: init, add, disable, enable,
    /// set-role, hash-pin, list.
    Operators(operators::OperatorsArgs),
    /// A batch's sampling QA: show its sample, draw one, give verdicts
    /// (a supervisor who did not scan the batch).
    Sample(sample::SampleArgs),
    /// Record where a batch's paper is (a box or trolley label).
    Paper(paper::PaperArgs),
    /// Legal holds: place one on a batch or a record, lift it, list them.
    Hold(paper::HoldArgs),
    /// The paper's destruction: what is due, certify it (two people), the register.
    Destruction(paper::DestructionArgs),
    /// Free the cache: `--destroyed` purges the page images of batches whose
    /// paper was destroyed (rows, hashes and receipts stay).
    Purge(paper::PurgeArgs),
    /// The station at a glance: batches by state, uploads waiting, legal
    /// holds, and what the cache takes on disk.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// The on-demand worklist: the EHR's upcoming appointments for the
    /// clinics in `[worklist]`, in deadline order, each patient marked when
    /// scanned here or held by the central store. One line per appointment,
    /// its fields separated by tabs: deadline, urgency, start, clinic, NHS
    /// number (or why there is none), name, what is known. Fetched anew
    /// unless `--offline`; a failed fetch is said and the last list printed.
    Worklist(worklist::WorklistArgs),
    /// Turns Folio's own encryption of this station's data on, in place
    /// (an admin; their passphrase holds the first copy of the key).
    Encrypt(keys::EncryptArgs),
    /// Gives the encrypted station a new key; old copies stop opening it.
    Rekey(keys::EncryptArgs),
    /// Recovery keys, passphrases and the keyring of an encrypted station.
    Keys(keys::KeysArgs),
    /// The session test target (`folio sheets --target` prints it): check a scan of it.
    Target(target::TargetArgs),
    /// Productivity figures for a range of UTC days, per operator, station
    /// or day: sheets and sides per hour of scanning, flags per 1,000 sides
    /// by code, rescans, time from first scan to verified upload, and the
    /// run rate against `[stats] target_sheets_per_day`.
    Stats(stats::StatsArgs),
}

#[derive(Args, Debug)]
struct ImportArgs {
    /// Files, or folders whose files are taken in name order.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    #[arg(long)]
    label: Option<String>,
    /// Files alternate front and back of each sheet.
    #[arg(long)]
    duplex: bool,
    /// Scan resolution (overrides what the files say; default: the files', else 300).
    #[arg(long, value_parser = config::cli_values::dpi)]
    dpi: Option<u32>,
    /// Specialty of records whose sheet names none.
    #[arg(long)]
    specialty: Option<String>,
    /// Finish an interrupted import of this batch (give the same files).
    #[arg(long, value_name = "BATCH")]
    resume: Option<String>,
    /// Sheets counted for the batch (from the box's slip); review
    /// reconciles it with the sheets scanned.
    #[arg(long, value_name = "N", value_parser = config::cli_values::expected_sheets)]
    expected_sheets: Option<u32>,
    /// Store clean typed grey pages as bilevel (CCITT G4, far smaller).
    #[arg(long)]
    typed_as_bilevel: bool,
    /// Read the batch's text (OCR) for searchable PDFs, whatever the
    /// profile and `[ocr] enabled` say; the station (or `folio ocr`) reads
    /// it after capture.
    #[arg(long)]
    ocr: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct SheetsArgs {
    /// Patient id (NHS number or hospital number), optionally with :SPECIALTY.
    #[arg(long, value_name = "ID[:SPECIALTY]")]
    record: Option<String>,
    /// Document type; repeat for several document sheets.
    #[arg(long = "doc", value_name = "TYPE")]
    docs: Vec<String>,
    /// Batch label sheet.
    #[arg(long, value_name = "LABEL")]
    batch: Option<String>,
    /// Folio's session test target instead (scan it first in each session;
    /// `folio target check` measures the scan).
    #[arg(long, conflicts_with_all = ["record", "docs", "batch"])]
    target: bool,
    /// Kodak patch sheets instead (1, 2, 3, 4, 6 or T; repeat for several):
    /// what each does is the config's `[patches]` (by default 2 starts a
    /// document, 3 a record, the rest only separate).
    #[arg(long = "patch", value_name = "CODE", value_parser = parse_patch,
          conflicts_with_all = ["record", "docs", "batch", "target"])]
    patches: Vec<crate::batch::protocol::Patch>,
    #[arg(long, value_name = "FILE.pdf")]
    out: PathBuf,
}

fn parse_patch(s: &str) -> Result<crate::batch::protocol::Patch, String> {
    crate::batch::protocol::Patch::parse(s)
        .ok_or_else(|| "a patch code is 1, 2, 3, 4, 6 or T".to_string())
}

#[derive(Args, Debug)]
struct GenerateArgs {
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[arg(long, default_value_t = 3, value_parser = config::cli_values::records)]
    records: usize,
    #[arg(long, default_value_t = 200, value_parser = config::cli_values::synth_dpi)]
    dpi: u32,
    /// One side per sheet (default: duplex, front and back).
    #[arg(long)]
    simplex: bool,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Sensor noise (grey levels, standard deviation).
    #[arg(long, default_value_t = 6.0, value_parser = config::cli_values::noise)]
    noise: f32,
    /// Largest skew, degrees.
    #[arg(long, default_value_t = 3.0, value_parser = config::cli_values::skew)]
    skew: f32,
    /// File format: pgm, png, jpeg, tiff (one multi-page file) or mixed.
    #[arg(long, default_value = "pgm")]
    format: String,
    /// Start the stack with Folio's session test target, as the first sheet
    /// of a scanning session.
    #[arg(long)]
    target: bool,
}

#[derive(Args, Debug)]
struct ScanArgs {
    /// Scanner name from `folio devices` (default: the profile's, the
    /// configured one, the first SANE scanner, else folio:demo).
    #[arg(long)]
    device: Option<String>,
    /// Named settings from `folio profiles`; the flags below override them.
    #[arg(long)]
    profile: Option<String>,
    /// feeder, flatbed or duplex.
    #[arg(long)]
    source: Option<String>,
    /// gray, color or bw.
    #[arg(long)]
    mode: Option<String>,
    #[arg(long, value_parser = config::cli_values::dpi)]
    dpi: Option<u32>,
    /// a4, a3, a5, letter, legal or WIDTHxHEIGHT (mm).
    #[arg(long, value_parser = config::cli_values::page_size)]
    page_size: Option<String>,
    /// A backend option, NAME=VALUE (repeatable).
    #[arg(long = "option", value_name = "NAME=VALUE")]
    options: Vec<String>,
    #[arg(long)]
    label: Option<String>,
    #[arg(long)]
    specialty: Option<String>,
    /// Set a backend option once N sides are scanned, N:NAME=VALUE (to
    /// rehearse faults with SANE's test backend).
    #[arg(long = "option-after", value_name = "N:NAME=VALUE")]
    options_after: Vec<String>,
    /// Continue this batch (after clearing a fault, or to add a load).
    #[arg(long, value_name = "BATCH")]
    resume: Option<String>,
    /// Sheets counted for the batch (from the box's slip); review
    /// reconciles it with the sheets scanned.
    #[arg(long, value_name = "N", value_parser = config::cli_values::expected_sheets)]
    expected_sheets: Option<u32>,
    /// Leave the batch open when the feeder empties (more loads or flatbed
    /// pages follow with --resume; `folio close` ends it).
    #[arg(long)]
    keep_open: bool,
    /// Store clean typed grey pages as bilevel (CCITT G4, far smaller).
    #[arg(long)]
    typed_as_bilevel: bool,
    /// Read the batch's text (OCR) for searchable PDFs, whatever the
    /// profile and `[ocr] enabled` say; the station (or `folio ocr`) reads
    /// it after capture.
    #[arg(long)]
    ocr: bool,
    /// A record wanted for a clinic: its batch uploads before all others.
    #[arg(long)]
    on_demand: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct BenchArgs {
    #[arg(long, default_value_t = 200, value_parser = config::cli_values::bench_pages)]
    pages: usize,
    #[arg(long, default_value_t = 300, value_parser = config::cli_values::synth_dpi)]
    dpi: u32,
    /// gray, color or bw.
    #[arg(long, default_value = "gray")]
    mode: String,
    /// Grey pages of 17300x17300 pixels, as PNG files decoded on the
    /// pool, to measure peak memory under the memory budget (try --pages 6).
    #[arg(long)]
    oversize: bool,
    /// Read the batch's text (OCR) beside capture, as the station does
    /// (`[ocr] workers` threads at idle priority), and say how far it got.
    #[arg(long, conflicts_with = "oversize")]
    ocr: bool,
    /// With Folio's own encryption on (SQLCipher and sealed files), to
    /// compare with a run without.
    #[arg(long)]
    encrypted: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ApproveArgs {
    /// The batch: its whole id, or at least its first 6 characters.
    batch: String,
    /// Send it although flags are still open (needs --reason; audited).
    /// Flags that may mean a lost page (too_dark, damaged_image,
    /// unreadable_image, processing_failed, conflicting_control_sheet) must
    /// each be decided in Review: no override covers them.
    #[arg(long)]
    accept_flags: bool,
    /// Send it although the sheets counted differ from those scanned
    /// (needs --reason; audited).
    #[arg(long)]
    accept_count_mismatch: bool,
    /// Why the batch may go as it is (required with an override).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Args, Debug)]
struct UploadArgs {
    /// Only this batch (re-queues it if it was parked).
    #[arg(long)]
    batch: Option<String>,
    /// Keep running and deliver batches as they are approved.
    #[arg(long)]
    watch: bool,
    /// FHIR base URL to deliver to.
    #[arg(long, value_name = "URL", conflicts_with = "folder")]
    fhir: Option<String>,
    /// Folder to deliver to.
    #[arg(long, value_name = "DIR")]
    folder: Option<PathBuf>,
    /// List the upload queue and stop.
    #[arg(long)]
    list: bool,
    #[arg(long)]
    json: bool,
}

/// Parses arguments, runs the command and maps errors to messages and exit codes.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            // tss-esapi logs every TPM refusal as an error; Folio says it once.
            tracing_subscriber::EnvFilter::from_env("FOLIO_LOG").add_directive(
                "tss_esapi=off".parse().unwrap_or_else(|_| {
                    tracing_subscriber::filter::Directive::from(tracing::Level::ERROR)
                }),
            ),
        )
        .with_writer(std::io::stderr)
        .try_init();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Errors carry file names, batch ids as typed and the central
            // store's messages: shown escaped, on one line.
            eprintln!("error: {}", output::shown_long(&format!("{e:#}")));
            let code = match (
                e.downcast_ref::<ImportError>(),
                e.downcast_ref::<ScanError>(),
            ) {
                (Some(ImportError::Interrupted { .. }), _) => exit::INTERRUPTED,
                (_, Some(scan_error)) => scan_error.exit_code(),
                _ if e.downcast_ref::<workers::access::AccessError>().is_some()
                    || e.downcast_ref::<crate::store::OperatorError>().is_some()
                    || matches!(
                        e.downcast_ref::<crate::store::ListError>(),
                        Some(crate::store::ListError::Operator(_))
                    ) =>
                {
                    exit::REFUSED
                }
                _ => exit::ERROR,
            };
            ExitCode::from(code)
        }
    }
}

struct Ctx {
    store: Store,
    cfg: Config,
    actor: Actor,
}

/// Opens the station for a command that changes nothing (or for the
/// station's own uploader): the actor is not signed in. The first admin from
/// `[accounts] first_admin` is made here when the station has no account.
fn open(cli: &Cli) -> Result<Ctx> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let cfg = Config::load(&dir)?;
    keys::unlock(cli, &dir, &cfg)?;
    let mut store = Store::open(&dir)
        .with_context(|| format!("cannot open the station data in {}", dir.display()))?;
    if let Some(first) = &cfg.accounts.first_admin
        && let Some(made) = store
            .init_from_config(&cfg.station, first)
            .context("[accounts] first_admin in config.toml")?
    {
        eprintln!(
            "first admin {} made from config.toml",
            output::shown(&made.id)
        );
    }
    let actor = unaccounted(cli, &cfg);
    Ok(Ctx { store, cfg, actor })
}

/// Who acts before anyone signs in: `--operator`, the config's, else $USER.
fn unaccounted(cli: &Cli, cfg: &Config) -> Actor {
    let operator = cli
        .operator
        .clone()
        .or_else(|| cfg.operator.clone())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    Actor::unaccounted(&cfg.station, &operator)
}

/// Opens the station for someone who may do `action` (on `batch`, an id or
/// prefix): at a station with accounts, the operator `--operator` names,
/// signed in with the PIN from `FOLIO_PIN` or typed on the terminal. The
/// rule is the window's ([`workers::access::permit`]).
fn open_as(cli: &Cli, action: Action, batch: Option<&str>) -> Result<Ctx> {
    let mut ctx = open(cli)?;
    if ctx.store.has_operators()? {
        ctx.actor = operators::sign_in(cli, &mut ctx.store, &ctx.cfg)?.actor;
    }
    workers::access::permit(&ctx.store, &ctx.cfg, &ctx.actor, action, batch)?;
    Ok(ctx)
}

/// No command: the station window. An encrypted station that is locked
/// opens on its sign-in screen, which unlocks it.
fn window(cli: &Cli) -> Result<u8> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    if crate::store::keys::is_locked(&dir) {
        let cfg = Config::load(&dir)?;
        let actor = unaccounted(cli, &cfg);
        crate::ui::run_window(dir, cfg, actor)?;
        return Ok(exit::OK);
    }
    let ctx = open(cli)?;
    let dir = ctx.store.data_dir().to_path_buf();
    drop(ctx.store);
    crate::ui::run_window(dir, ctx.cfg, ctx.actor)?;
    Ok(exit::OK)
}

fn dispatch(cli: Cli) -> Result<u8> {
    let Some(command) = &cli.command else {
        return window(&cli);
    };
    match command {
        Command::Import(a) => import(&cli, a),
        Command::Batches { json } => {
            let ctx = open(&cli)?;
            output::batches(&ctx.store.list_batches()?, *json)?;
            Ok(exit::OK)
        }
        Command::Show { batch, json } => show(&cli, batch, *json),
        Command::Export { batch, to, json } => {
            let mut ctx = open_as(&cli, Action::Export, Some(batch))?;
            let (manifest, path) = workers::export_batch(&mut ctx.store, batch, to, &ctx.actor)?;
            output::exported(&manifest, &path, *json)?;
            Ok(exit::OK)
        }
        Command::Sheets(a) => print_sheets(&cli, a),
        Command::Barcodes { files, json } => read_barcodes(&cli, files, *json),
        Command::Ocr(a) => ocr::run(&cli, a),
        Command::Generate(a) => generate(a),
        Command::Devices { json } => {
            output::devices(&workers::scan::list_devices()?, *json)?;
            Ok(exit::OK)
        }
        Command::Profiles { json } => {
            let dir = config::data_dir(cli.data_dir.as_deref())?;
            output::profiles(&Config::load(&dir)?.profiles(), *json)?;
            Ok(exit::OK)
        }
        Command::Scan(a) => scan(&cli, a),
        Command::Bench(a) => bench(&cli, a),
        Command::Approve(a) => {
            let overrides = crate::batch::approval::Overrides {
                accept_flags: a.accept_flags,
                accept_count: a.accept_count_mismatch,
                reason: a.reason.clone(),
            };
            let action = match overrides.any() {
                true => Action::OverrideApproval,
                false => Action::ApproveBatch,
            };
            let mut ctx = open_as(&cli, action, Some(&a.batch))?;
            upload::approve(&mut ctx, &a.batch, &overrides)
        }
        Command::Upload(a) => upload_cmd(&cli, a),
        Command::Operators(a) => operators::run(&cli, a),
        Command::Encrypt(a) => keys::encrypt(&cli, a, false),
        Command::Rekey(a) => keys::encrypt(&cli, a, true),
        Command::Keys(a) => keys::run(&cli, a),
        Command::Sample(a) => sample::run(&cli, a),
        Command::Paper(a) => paper::paper(&cli, a),
        Command::Hold(a) => paper::hold(&cli, a),
        Command::Destruction(a) => paper::destruction(&cli, a),
        Command::Purge(a) => paper::purge(&cli, a),
        Command::Status { json } => paper::status(&cli, *json),
        Command::Worklist(a) => worklist::run(&cli, a),
        Command::Target(a) => target::run(a),
        Command::Stats(a) => stats::run(&cli, a),
        Command::Close { batch, json } => close(&cli, batch, *json),
        Command::Audit { batch, json } => {
            let ctx = open(&cli)?;
            let id = match batch {
                Some(b) => Some(ctx.store.find_batch(b)?.id),
                None => None,
            };
            output::audit(&ctx.store.audit_events(id.as_deref())?, *json)?;
            Ok(exit::OK)
        }
        Command::Sessions { batch, limit, json } => sessions(&cli, batch.as_deref(), *limit, *json),
        Command::Receipts(a) => upload::receipts_cmd(&cli, a),
        Command::Check => {
            let ctx = open(&cli)?;
            let events = ctx.store.check()?;
            let anchored = upload::central_anchor(&ctx)?;
            println!("database ok; audit chain intact ({events} events){anchored}");
            Ok(exit::OK)
        }
    }
}

fn import(cli: &Cli, a: &ImportArgs) -> Result<u8> {
    let mut ctx = open_as(cli, Action::Scan, None)?;
    ctx.cfg.bilevel.enabled |= a.typed_as_bilevel;
    let opts = ImportOptions {
        paths: a.paths.clone(),
        label: a.label.clone(),
        duplex: a.duplex,
        dpi: a.dpi,
        specialty: a.specialty.clone(),
        resume: a.resume.clone(),
        expected_sheets: a.expected_sheets,
        ocr: (a.ocr || ctx.cfg.ocr.enabled).then(|| ctx.cfg.ocr.language.clone()),
    };
    let bar = output::progress_bar(a.json);
    let report = workers::import(&mut ctx.store, &ctx.cfg, &ctx.actor, &opts, |n| {
        bar.set_position(n as u64)
    });
    bar.finish_and_clear();
    let report = report?;
    output::import_report(&report, a.json)?;
    Ok(if report.closed.unreadable.is_empty() {
        exit::OK
    } else {
        exit::SIDES_UNREADABLE
    })
}

fn read_barcodes(cli: &Cli, files: &[PathBuf], json: bool) -> Result<u8> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let cfg = Config::load(&dir)?;
    Ok(if barcodes::run(&cfg, files, json)? {
        exit::OK
    } else {
        exit::ERROR
    })
}

fn print_sheets(cli: &Cli, a: &SheetsArgs) -> Result<u8> {
    if a.target {
        sheets::print_target(&a.out)?;
        let out = output::shown_path(&a.out);
        println!("Folio's session test target written to {out}: print it at actual size (100%)");
        return Ok(exit::OK);
    }
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let cfg = Config::load(&dir)?;
    if !a.patches.is_empty() {
        let n = sheets::print_patches(&cfg, &a.patches, &a.out)?;
        println!(
            "{n} patch sheet(s) written to {}: print at actual size (100%), bars at the leading edge",
            output::shown_path(&a.out)
        );
        return Ok(exit::OK);
    }
    let n = sheets::print(
        &cfg,
        a.record.as_deref(),
        &a.docs,
        a.batch.as_deref(),
        &a.out,
    )?;
    println!(
        "{n} control sheet(s) written to {}",
        output::shown_path(&a.out)
    );
    Ok(exit::OK)
}

/// `folio show`: a batch from the cache, or a manifest.json of either version.
fn show(cli: &Cli, batch: &str, json: bool) -> Result<u8> {
    if output::manifest_path(batch).is_some() {
        output::manifest(&output::read_manifest(batch)?, json)?;
    } else {
        let ctx = open(cli)?;
        let tree = ctx.store.tree(batch)?;
        output::tree(&tree, json)?;
        let purged = ctx.store.purged_pages(&tree.batch.id)?;
        if purged > 0 && !json {
            println!(
                "  {purged} page images purged from this station after the paper was destroyed (rows, hashes and receipts kept)"
            );
        }
    }
    Ok(exit::OK)
}

/// `folio sessions`: a batch's scanning sessions, or the newest `limit`.
fn sessions(cli: &Cli, batch: Option<&str>, limit: u32, json: bool) -> Result<u8> {
    let ctx = open(cli)?;
    let rows = match batch {
        Some(b) => ctx.store.batch_sessions(&ctx.store.find_batch(b)?.id)?,
        None => ctx.store.sessions(limit)?,
    };
    output::sessions(&rows, json)?;
    Ok(exit::OK)
}

fn generate(a: &GenerateArgs) -> Result<u8> {
    let spec = crate::synth::StackSpec {
        seed: a.seed,
        records: a.records,
        dpi: a.dpi,
        duplex: !a.simplex,
        noise_sigma: a.noise,
        max_skew_deg: a.skew,
        drift: 20.0,
        target_first: a.target,
    };
    let n = output::generate(&spec, &a.out, &a.format)?;
    println!(
        "{n} sides written to {}/pages (ground truth in truth.json)",
        output::shown_path(&a.out)
    );
    Ok(exit::OK)
}

fn scan(cli: &Cli, a: &ScanArgs) -> Result<u8> {
    let mut ctx = open_as(cli, Action::Scan, None)?;
    let opts = scan_options(&ctx.cfg, a)?;
    let cancel = opts.cancel.clone();
    // Ctrl-C stops the scan cleanly: completed sides are kept.
    let _ = ctrlc::set_handler(move || cancel.store(true, std::sync::atomic::Ordering::SeqCst));
    let bar = output::progress_bar(a.json);
    let report = workers::scan(&mut ctx.store, &ctx.cfg, &ctx.actor, &opts, None, |p| {
        bar.set_position(p.sides as u64);
        bar.set_message(format!(
            "{:.0} sides/min, {} flags so far",
            p.sides_per_minute, p.flags
        ));
    });
    bar.finish_and_clear();
    let report = report?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        if let Some(s) = &report.session {
            output::session_target(s);
        }
        match &report.closed {
            Some(c) => output::closed(c, report.stored_now),
            None => eprintln!(
                "{} sides scanned; batch left open (`folio scan --resume` adds more, `folio close` ends it)",
                report.stored_now
            ),
        }
        println!("{}", report.batch_id);
    }
    Ok(match &report.closed {
        Some(c) if !c.unreadable.is_empty() => exit::SIDES_UNREADABLE,
        _ => exit::OK,
    })
}

fn bench(cli: &Cli, a: &BenchArgs) -> Result<u8> {
    let (pages, dpi) = (a.pages, a.dpi);
    let mode = ColorMode::parse(&a.mode)
        .with_context(|| format!("--mode {}: use gray, color or bw", a.mode))?;
    let dir = tempfile::Builder::new().prefix("folio-bench-").tempdir()?;
    let data = config::data_dir(cli.data_dir.as_deref())?;
    let cfg = Config::load(&data)?;
    if !a.json && a.oversize {
        eprintln!("generating an oversize page, then processing {pages} sides...");
    } else if !a.json {
        eprintln!("generating raw {dpi} dpi {mode:?} pages, then processing {pages} sides...");
    }
    if a.encrypted {
        // A throw-away key for the throw-away store, held in this process.
        let who = workers::encrypt::Holder {
            operator: "bench",
            secret: "a throw-away bench passphrase",
            recovery: None,
            tpm: None,
        };
        workers::encrypt::encrypt(dir.path(), &who, &|_, _| {})?;
    }
    let report = if a.oversize {
        workers::bench::bench_oversize(&cfg, dir.path(), pages, dpi)?
    } else {
        workers::bench::bench(&cfg, dir.path(), pages, dpi, mode, a.ocr)?
    };
    output::bench(&report, a.json)?;
    Ok(exit::OK)
}

fn upload_cmd(cli: &Cli, a: &UploadArgs) -> Result<u8> {
    // Working off the queue is the station's own job (often unattended);
    // queueing a stopped batch again is a supervisor's.
    let mut ctx = match &a.batch {
        Some(b) if !a.list => open_as(cli, Action::ManageUploads, Some(b))?,
        _ => open(cli)?,
    };
    if a.list {
        return upload::list(&ctx, a.json);
    }
    if let Some(url) = &a.fhir {
        ctx.cfg.upload.send_to_fhir(url);
    }
    if let Some(dir) = &a.folder {
        ctx.cfg.upload.send_to_folder(dir);
    }
    upload::upload(&mut ctx, a.batch.clone(), a.watch, a.json)
}

fn close(cli: &Cli, batch: &str, json: bool) -> Result<u8> {
    let mut ctx = open_as(cli, Action::CloseBatch, Some(batch))?;
    let closed = workers::scan::close(&mut ctx.store, &ctx.cfg, &ctx.actor, batch)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&closed)?);
    } else {
        output::closed(&closed, 0);
    }
    Ok(exit::OK)
}

/// Scan options from the flags, through the resolver the window uses too.
fn scan_options(cfg: &Config, a: &ScanArgs) -> Result<workers::ScanOptions> {
    let choice = workers::scan_choice::ScanChoice {
        device: a.device.clone(),
        profile: a.profile.clone(),
        source: a.source.clone(),
        mode: a.mode.clone(),
        dpi: a.dpi,
        page_size: a.page_size.clone(),
        options: a.options.clone(),
        options_after: a.options_after.clone(),
        typed_as_bilevel: a.typed_as_bilevel,
        ocr: a.ocr,
    };
    let resolved = workers::scan_choice::resolve(cfg, &choice)?;
    Ok(workers::ScanOptions {
        device: resolved.device,
        settings: resolved.settings,
        label: a.label.clone(),
        specialty: a.specialty.clone(),
        resume: a.resume.clone(),
        source: a.on_demand.then_some(crate::batch::BatchSource::OnDemand),
        patient: None,
        doc_type: None,
        keep_open: a.keep_open,
        expected_sheets: a.expected_sheets,
        typed_as_bilevel: resolved.typed_as_bilevel,
        cancel: Default::default(),
        // Each command is a sign-in, and so a scanning session, of its own.
        sign_in: None,
        profile: a.profile.clone(),
        ocr: resolved.ocr,
        patches: resolved.patches,
    })
}
