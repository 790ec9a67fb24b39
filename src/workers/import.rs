//! `folio import`: scanned image files, in order, into one batch.
//!
//! Threads: `folio-reader` walks the files in feed order (decoding multi-page
//! TIFFs itself, since their pages must be read in sequence) and hands sides to
//! the `folio-imaging-N` pool through a bounded queue; the calling thread is the
//! store writer and commits sides in feed order. A fixed number of tokens limits
//! the sides in flight, so memory stays bounded whatever the batch size.

use super::pipeline::{self, Closed, DEFAULT_DPI, Feeder, Payload, Stopped};
use super::process::SideMeta;
use crate::batch::BatchSource;
use crate::config::{Config, ConfigError};
use crate::imaging::ImagingError;
use crate::imaging::decode::{FileFormat, TiffPages, sniff};
use crate::store::{Actor, NewBatch, Store, StoreError};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ImportError {
    #[error("{path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no image files found in {0}")]
    NoFiles(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(
        "side {side} of batch {batch} came from {stored}, but the files given now put {given} there: give the same files in the same order to resume"
    )]
    ResumeMismatch {
        batch: String,
        side: u32,
        stored: String,
        given: String,
    },
    #[error(
        "import of batch {batch} stopped: {cause}. The {kept} sides stored so far are kept; run `folio import --resume {batch} ...` with the same files to finish it"
    )]
    Interrupted {
        batch: String,
        kept: u32,
        cause: StoreError,
    },
}

/// What to import and how.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Ask for the batch's text (OCR) in this language.
    pub ocr: Option<String>,
    pub paths: Vec<PathBuf>,
    pub label: Option<String>,
    pub duplex: bool,
    /// Resolution to assume (overrides what files say).
    pub dpi: Option<u32>,
    pub specialty: Option<String>,
    /// Continue this batch instead of starting one.
    pub resume: Option<String>,
    /// Sheets counted for the batch, to reconcile in review.
    pub expected_sheets: Option<u32>,
}

/// The outcome of an import.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub batch_id: String,
    pub stored_now: u32,
    pub already_stored: u32,
    /// The import's session, with its test target's result.
    pub session: Option<crate::store::SessionRow>,
    #[serde(flatten)]
    pub closed: Closed,
}

/// Lists the input files in feed order: files as given, directories in name order.
pub fn list_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ImportError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| ImportError::Input {
            path: p.clone(),
            source,
        })?;
        if meta.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(p)
                .and_then(|rd| rd.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>())
                .map_err(|source| ImportError::Input {
                    path: p.clone(),
                    source,
                })?;
            files.retain(|f| f.is_file() && !is_hidden(f));
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    if out.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(ImportError::NoFiles(names.join(", ")));
    }
    Ok(out)
}

fn is_hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Imports files into a new batch, or resumes one.
pub fn import(
    store: &mut Store,
    cfg: &Config,
    actor: &Actor,
    opts: &ImportOptions,
    mut on_side: impl FnMut(u32),
) -> Result<ImportReport, ImportError> {
    crate::config::check_import(opts.dpi, opts.expected_sheets)?;
    let files = list_inputs(&opts.paths)?;
    store.check_at_rest(cfg.require_encrypted_disk)?;
    let (batch_id, duplex, specialty) = start_or_resume(store, actor, opts)?;
    // Files scanned elsewhere prove their quality as scans do: the first
    // file of each import is the test target.
    let sign_in = uuid::Uuid::now_v7().to_string();
    let session = store.open_session(
        &crate::store::NewSession {
            sign_in: &sign_in,
            device: "import",
            vendor: "",
            model: "image files",
            profile: "import",
            settings: serde_json::json!({ "dpi": opts.dpi }),
        },
        actor,
    )?;
    let committed = store.committed_sides(&batch_id)?;
    let already = committed.len() as u32;
    let ctx = ReaderCtx {
        files,
        committed,
        batch_id: batch_id.clone(),
        duplex,
        dpi: opts.dpi,
    };
    let run = pipeline::run(
        store,
        cfg,
        ("folio-reader", Some(&session)),
        move |feeder| ctx.run(feeder),
        |_, n| on_side(n),
    );
    let stored_now = match run.stored {
        Ok(v) => v,
        Err(cause) => {
            let kept = store
                .committed_sides(&batch_id)
                .map(|c| c.len() as u32)
                .unwrap_or(already);
            let _ = store.set_batch_error(&batch_id, &cause.to_string(), actor);
            return Err(ImportError::Interrupted {
                batch: batch_id,
                kept,
                cause,
            });
        }
    };
    if let Some(Err(e)) = run.producer {
        return Err(e);
    }
    Ok(ImportReport {
        stored_now,
        already_stored: already,
        session: store.session(&session)?,
        closed: pipeline::close_batch::<ImportError>(
            store,
            cfg,
            actor,
            &batch_id,
            specialty.as_deref(),
        )?,
        batch_id,
    })
}

fn start_or_resume(
    store: &mut Store,
    actor: &Actor,
    opts: &ImportOptions,
) -> Result<(String, bool, Option<String>), ImportError> {
    if let Some(id) = &opts.resume {
        let b = store.open_batch(id)?;
        store.audit(actor, "batch.resume", &b.id, "import resumed")?;
        return Ok((b.id, b.duplex, b.specialty));
    }
    let id = uuid::Uuid::now_v7().to_string();
    store.create_batch(
        &NewBatch {
            id: id.clone(),
            label: opts.label.clone().unwrap_or_default(),
            source: BatchSource::Import,
            specialty: opts.specialty.clone(),
            duplex: opts.duplex,
            dpi: opts.dpi,
            expected_sheets: opts.expected_sheets,
        },
        actor,
    )?;
    if let Some(language) = &opts.ocr {
        store.request_text(&id, language, actor, "asked for when the batch began")?;
    }
    Ok((id, opts.duplex, opts.specialty.clone()))
}

struct ReaderCtx {
    files: Vec<PathBuf>,
    committed: HashMap<u32, String>,
    batch_id: String,
    duplex: bool,
    dpi: Option<u32>,
}

/// Why the reader stopped early.
enum Halt {
    /// The pipeline stopped (its writer reports why).
    Stopped,
    /// The files do not match the batch being resumed.
    Mismatch(ImportError),
}

impl From<Stopped> for Halt {
    fn from(_: Stopped) -> Halt {
        Halt::Stopped
    }
}

impl ReaderCtx {
    /// Walks the files in feed order; the error is a resume mismatch.
    fn run(self, feeder: &mut Feeder) -> Result<(), ImportError> {
        let mut side = 0u32;
        for file in &self.files {
            let name = file
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let flow = match open_input(file) {
                Ok((FileFormat::Tiff, f)) => self.tiff(feeder, f, &name, &mut side),
                Ok((_, mut f)) => self.one(feeder, &name, &mut side, || {
                    let mut bytes = Vec::new();
                    match f.read_to_end(&mut bytes) {
                        Ok(_) => Payload::Bytes {
                            bytes,
                            dpi: self.dpi,
                        },
                        Err(e) => Payload::Failed(format!("cannot read the file: {e}")),
                    }
                }),
                Err(why) => self.one(feeder, &name, &mut side, || Payload::Failed(why)),
            };
            match flow {
                Ok(()) => {}
                Err(Halt::Stopped) => return Ok(()),
                Err(Halt::Mismatch(e)) => {
                    feeder.stop();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    fn tiff(
        &self,
        feeder: &mut Feeder,
        f: std::fs::File,
        name: &str,
        side: &mut u32,
    ) -> Result<(), Halt> {
        let reader = std::io::BufReader::new(f);
        let mut pages =
            match TiffPages::new(reader, self.dpi.unwrap_or(DEFAULT_DPI), self.dpi.is_some()) {
                Ok(p) => p,
                Err(e) => return self.one(feeder, name, side, || Payload::Failed(e.to_string())),
            };
        for page_no in 1.. {
            let origin = format!("{name}#{page_no}");
            let step = if self.committed.contains_key(side) {
                self.check_origin(*side, &origin)?;
                pages.skip().map(|more| more.then_some(None))
            } else {
                Ok(pages.next_page().map(Some))
            };
            match step {
                Ok(None) => return Ok(()),
                Ok(Some(None)) => *side += 1,
                Ok(Some(Some(r))) => {
                    let payload = match r {
                        Ok(raster) => Payload::Raster(raster),
                        Err(e) => Payload::Failed(e.to_string()),
                    };
                    self.one(feeder, &origin, side, || payload)?;
                }
                Err(e) => {
                    return self.one(feeder, &origin, side, || Payload::Failed(e.to_string()));
                }
            }
        }
        Ok(())
    }

    /// Sends one side, or skips it when a previous run stored it.
    fn one(
        &self,
        feeder: &mut Feeder,
        origin: &str,
        side: &mut u32,
        payload: impl FnOnce() -> Payload,
    ) -> Result<(), Halt> {
        let this = *side;
        *side += 1;
        if self.committed.contains_key(&this) {
            return self.check_origin(this, origin);
        }
        let mut meta = SideMeta::at(&self.batch_id, this, self.duplex, origin.to_string());
        // Sides are committed in order: the first not stored begins this run.
        meta.probe_target = this as usize == self.committed.len();
        Ok(feeder.send(meta, payload())?)
    }

    fn check_origin(&self, side: u32, origin: &str) -> Result<(), Halt> {
        match self.committed.get(&side) {
            Some(stored) if stored != origin => Err(Halt::Mismatch(ImportError::ResumeMismatch {
                batch: self.batch_id.clone(),
                side,
                stored: stored.clone(),
                given: origin.to_string(),
            })),
            _ => Ok(()),
        }
    }
}

/// Opens an input and recognises its format from its first bytes.
fn open_input(path: &Path) -> Result<(FileFormat, std::fs::File), String> {
    use std::io::{Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open the file: {e}"))?;
    let mut head = [0u8; 16];
    let n = read_head(&mut f, &mut head).map_err(|e| format!("cannot read the file: {e}"))?;
    let format = sniff(&head[..n]).map_err(|e: ImagingError| e.to_string())?;
    f.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read the file: {e}"))?;
    Ok((format, f))
}

fn read_head(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
