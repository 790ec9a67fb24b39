//! The command line: clap commands that call the workers and print results. No
//! SQL, image code or file formats here beyond printing.

mod output;
mod sheets;
mod upload;

use crate::capture::{ColorMode, SourceKind};
use crate::config::{self, Config};
use crate::store::{Actor, Store};
use crate::workers::{self, ImportError, ImportOptions, ScanError};
use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
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
    /// Operator to record on batches and audit events (default: config, $FOLIO_OPERATOR, $USER).
    #[arg(long, global = true)]
    operator: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import scanned image files (PNG, JPEG, TIFF, PNM) in order as one batch.
    Import {
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
        #[arg(long)]
        json: bool,
    },
    /// List batches.
    Batches {
        #[arg(long)]
        json: bool,
    },
    /// Show a batch's records, documents, pages and flags.
    Show {
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
    /// Print control sheets (record, document, batch) to a PDF.
    ///
    /// Values must be printable ASCII (what Code 128 holds): accented letters,
    /// other scripts, control characters, empty values, ':' in a document type
    /// and values too long for a readable barcode (46 characters with the
    /// FOLIO:REC:, FOLIO:DOC: or FOLIO:BATCH: prefix) are refused before
    /// anything is written.
    Sheets {
        /// Patient id (NHS number or hospital number), optionally with :SPECIALTY.
        #[arg(long, value_name = "ID[:SPECIALTY]")]
        record: Option<String>,
        /// Document type; repeat for several document sheets.
        #[arg(long = "doc", value_name = "TYPE")]
        docs: Vec<String>,
        /// Batch label sheet.
        #[arg(long, value_name = "LABEL")]
        batch: Option<String>,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
    },
    /// Generate a realistic synthetic stack of scanned pages (and its truth.json).
    Generate {
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
    },
    /// Check the database's integrity and the audit chain.
    Check,
    /// Show the audit trail (who did what, when), of one batch or all.
    ///
    /// One line per event, its fields separated by tabs: sequence number,
    /// time, station, operator, action, subject, detail. Text in the fields
    /// is shown with control characters, tabs, line breaks and direction
    /// marks escaped (`\u{1b}`, `\n`), so no field can start a line or a
    /// field of its own; `--json` gives every field exactly as stored.
    Audit {
        /// Batch id or prefix.
        batch: Option<String>,
        #[arg(long)]
        json: bool,
    },
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
    Scan {
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
        /// A record wanted for a clinic: its batch uploads before all others.
        #[arg(long)]
        on_demand: bool,
        #[arg(long)]
        json: bool,
    },
    /// Measure the whole pipeline on generated raw pages.
    Bench {
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
        #[arg(long)]
        json: bool,
    },
    /// Separate and close a batch that was left open.
    Close {
        batch: String,
        #[arg(long)]
        json: bool,
    },
    /// Approve a closed batch for upload: builds its PDFs and queues it.
    Approve {
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
    },
    /// Deliver approved batches to the central store (the configured FHIR
    /// server or folder; the flags override it).
    Upload {
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
    },
}

/// Parses arguments, runs the command and maps errors to messages and exit codes.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("FOLIO_LOG"))
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

fn open(cli: &Cli) -> Result<Ctx> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let cfg = Config::load(&dir)?;
    let store = Store::open(&dir)
        .with_context(|| format!("cannot open the station data in {}", dir.display()))?;
    let operator = cli
        .operator
        .clone()
        .or_else(|| cfg.operator.clone())
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let actor = Actor {
        station: cfg.station.clone(),
        operator,
    };
    Ok(Ctx { store, cfg, actor })
}

fn dispatch(cli: Cli) -> Result<u8> {
    let Some(command) = &cli.command else {
        // No command: the station window.
        let ctx = open(&cli)?;
        let dir = ctx.store.data_dir().to_path_buf();
        drop(ctx.store);
        crate::ui::run_window(dir, ctx.cfg, ctx.actor)?;
        return Ok(exit::OK);
    };
    match command {
        Command::Import {
            paths,
            label,
            duplex,
            dpi,
            specialty,
            resume,
            expected_sheets,
            typed_as_bilevel,
            json,
        } => {
            let mut ctx = open(&cli)?;
            ctx.cfg.bilevel.enabled |= *typed_as_bilevel;
            let opts = ImportOptions {
                paths: paths.clone(),
                label: label.clone(),
                duplex: *duplex,
                dpi: *dpi,
                specialty: specialty.clone(),
                resume: resume.clone(),
                expected_sheets: *expected_sheets,
            };
            let bar = output::progress_bar(*json);
            let report = workers::import(&mut ctx.store, &ctx.cfg, &ctx.actor, &opts, |n| {
                bar.set_position(n as u64)
            });
            bar.finish_and_clear();
            let report = report?;
            output::import_report(&report, *json)?;
            Ok(if report.closed.unreadable.is_empty() {
                exit::OK
            } else {
                exit::SIDES_UNREADABLE
            })
        }
        Command::Batches { json } => {
            let ctx = open(&cli)?;
            output::batches(&ctx.store.list_batches()?, *json)?;
            Ok(exit::OK)
        }
        Command::Show { batch, json } => {
            let ctx = open(&cli)?;
            output::tree(&ctx.store.tree(batch)?, *json)?;
            Ok(exit::OK)
        }
        Command::Export { batch, to, json } => {
            let mut ctx = open(&cli)?;
            let (manifest, path) = workers::export_batch(&mut ctx.store, batch, to, &ctx.actor)?;
            output::exported(&manifest, &path, *json)?;
            Ok(exit::OK)
        }
        Command::Sheets {
            record,
            docs,
            batch,
            out,
        } => {
            let dir = config::data_dir(cli.data_dir.as_deref())?;
            let cfg = Config::load(&dir)?;
            let n = sheets::print(&cfg, record.as_deref(), docs, batch.as_deref(), out)?;
            println!(
                "{n} control sheet(s) written to {}",
                output::shown_path(out)
            );
            Ok(exit::OK)
        }
        Command::Generate {
            out,
            records,
            dpi,
            simplex,
            seed,
            noise,
            skew,
            format,
        } => {
            let spec = crate::synth::StackSpec {
                seed: *seed,
                records: *records,
                dpi: *dpi,
                duplex: !simplex,
                noise_sigma: *noise,
                max_skew_deg: *skew,
                drift: 20.0,
            };
            let n = output::generate(&spec, out, format)?;
            println!(
                "{n} sides written to {}/pages (ground truth in truth.json)",
                output::shown_path(out)
            );
            Ok(exit::OK)
        }
        Command::Devices { json } => {
            output::devices(&workers::scan::list_devices()?, *json)?;
            Ok(exit::OK)
        }
        Command::Profiles { json } => {
            let dir = config::data_dir(cli.data_dir.as_deref())?;
            output::profiles(&Config::load(&dir)?.profiles(), *json)?;
            Ok(exit::OK)
        }
        Command::Scan { json, .. } => {
            let mut ctx = open(&cli)?;
            let opts = scan_options(&ctx.cfg, command)?;
            let cancel = opts.cancel.clone();
            // Ctrl-C stops the scan cleanly: completed sides are kept.
            let _ =
                ctrlc::set_handler(move || cancel.store(true, std::sync::atomic::Ordering::SeqCst));
            let bar = output::progress_bar(*json);
            let report = workers::scan(&mut ctx.store, &ctx.cfg, &ctx.actor, &opts, None, |p| {
                bar.set_position(p.sides as u64);
                bar.set_message(format!(
                    "{:.0} sides/min, {} flags so far",
                    p.sides_per_minute, p.flags
                ));
            });
            bar.finish_and_clear();
            let report = report?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
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
        Command::Bench {
            pages,
            dpi,
            mode,
            oversize,
            json,
        } => {
            let mode = ColorMode::parse(mode)
                .with_context(|| format!("--mode {mode}: use gray, color or bw"))?;
            let dir = tempfile::Builder::new().prefix("folio-bench-").tempdir()?;
            let data = config::data_dir(cli.data_dir.as_deref())?;
            let cfg = Config::load(&data)?;
            if !*json && *oversize {
                eprintln!("generating an oversize page, then processing {pages} sides...");
            } else if !*json {
                eprintln!(
                    "generating raw {dpi} dpi {mode:?} pages, then processing {pages} sides..."
                );
            }
            let report = if *oversize {
                workers::bench::bench_oversize(&cfg, dir.path(), *pages, *dpi)?
            } else {
                workers::bench::bench(&cfg, dir.path(), *pages, *dpi, mode)?
            };
            output::bench(&report, *json)?;
            Ok(exit::OK)
        }
        Command::Approve {
            batch,
            accept_flags,
            accept_count_mismatch,
            reason,
        } => {
            let mut ctx = open(&cli)?;
            let overrides = crate::batch::approval::Overrides {
                accept_flags: *accept_flags,
                accept_count: *accept_count_mismatch,
                reason: reason.clone(),
            };
            upload::approve(&mut ctx, batch, &overrides)
        }
        Command::Upload {
            batch,
            watch,
            fhir,
            folder,
            list,
            json,
        } => {
            let mut ctx = open(&cli)?;
            if *list {
                return upload::list(&ctx, *json);
            }
            if let Some(url) = fhir {
                (ctx.cfg.upload.fhir_url, ctx.cfg.upload.folder) = (Some(url.clone()), None);
            }
            if let Some(dir) = folder {
                (ctx.cfg.upload.fhir_url, ctx.cfg.upload.folder) = (None, Some(dir.clone()));
            }
            upload::upload(&mut ctx, batch.clone(), *watch, *json)
        }
        Command::Close { batch, json } => {
            let mut ctx = open(&cli)?;
            let closed = workers::scan::close(&mut ctx.store, &ctx.cfg, &ctx.actor, batch)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&closed)?);
            } else {
                output::closed(&closed, 0);
            }
            Ok(exit::OK)
        }
        Command::Audit { batch, json } => {
            let ctx = open(&cli)?;
            let id = match batch {
                Some(b) => Some(ctx.store.find_batch(b)?.id),
                None => None,
            };
            let events = ctx.store.audit_events(id.as_deref())?;
            output::audit(&events, *json)?;
            Ok(exit::OK)
        }
        Command::Check => {
            let ctx = open(&cli)?;
            let events = ctx.store.check()?;
            println!("database ok; audit chain intact ({events} events)");
            Ok(exit::OK)
        }
    }
}

/// Scan options from a profile and the flags that override it.
fn scan_options(cfg: &Config, command: &Command) -> Result<workers::ScanOptions> {
    let Command::Scan {
        device,
        profile,
        source,
        mode,
        dpi,
        page_size,
        options,
        options_after,
        label,
        specialty,
        resume,
        keep_open,
        typed_as_bilevel,
        on_demand,
        expected_sheets,
        ..
    } = command
    else {
        anyhow::bail!("not a scan command");
    };
    let profiles = cfg.profiles();
    let prof = match profile {
        Some(name) => Some(profiles.get(name).cloned().with_context(|| {
            let names: Vec<&String> = profiles.keys().collect();
            format!("no profile '{name}' (profiles: {names:?}); see `folio profiles`")
        })?),
        None => None,
    };
    let mut settings = prof
        .as_ref()
        .map(|p| p.settings())
        .transpose()?
        .unwrap_or_default();
    if let Some(s) = source {
        settings.source = Some(
            SourceKind::parse(s)
                .with_context(|| format!("--source {s}: use feeder, flatbed or duplex"))?,
        );
    }
    if let Some(m) = mode {
        settings.mode = Some(
            ColorMode::parse(m).with_context(|| format!("--mode {m}: use gray, color or bw"))?,
        );
    }
    if dpi.is_some() {
        settings.dpi = *dpi;
    }
    if let Some(p) = page_size {
        settings.page_size_mm =
            Some(config::page_size_mm(p).with_context(|| format!("unknown page size '{p}'"))?);
    }
    for o in options {
        let (k, v) = o
            .split_once('=')
            .with_context(|| format!("--option {o}: write NAME=VALUE"))?;
        settings
            .options
            .push((k.trim().to_string(), v.trim().to_string()));
    }
    for o in options_after {
        let parsed = o
            .split_once(':')
            .and_then(|(n, kv)| Some((n.trim().parse::<u32>().ok()?, kv.split_once('=')?)));
        let (n, (k, v)) =
            parsed.with_context(|| format!("--option-after {o}: write N:NAME=VALUE"))?;
        settings
            .options_after
            .push((n, k.trim().to_string(), v.trim().to_string()));
    }
    let device = device
        .clone()
        .or_else(|| prof.as_ref().and_then(|p| p.device.clone()))
        .unwrap_or_else(|| workers::scan::default_device(cfg, settings.source));
    Ok(workers::ScanOptions {
        device,
        settings,
        label: label.clone(),
        specialty: specialty.clone(),
        resume: resume.clone(),
        source: on_demand.then_some(crate::batch::BatchSource::OnDemand),
        patient: None,
        doc_type: None,
        keep_open: *keep_open,
        expected_sheets: *expected_sheets,
        typed_as_bilevel: if *typed_as_bilevel {
            Some(true)
        } else {
            prof.as_ref().and_then(|p| p.typed_as_bilevel)
        },
        cancel: Default::default(),
    })
}
