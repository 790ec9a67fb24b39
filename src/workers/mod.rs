//! Wires capture -> imaging -> store -> upload on named threads with bounded
//! channels. Each function here is called the same way by the command line and
//! by the station window's threads, so a rule is applied once:
//!
//! - `import` and `scan` run a producer thread (files in feed order, or
//!   `folio-capture` on the scanner), an imaging pool (one thread per core) and
//!   the store writer (the calling thread), committing sides in feed order
//!   (`pipeline`); `scan_choice` resolves a scan's device and settings;
//! - `review` applies a supervisor's decisions; `export` writes a batch's PDFs
//!   and manifest; `upload` approves batches and works off the outbox;
//! - `station` runs the window's threads (store actor, scanner, reader, image
//!   decoder, uploader) and routes its commands to them;
//! - `access` is the gate every data-changing command passes (who may do
//!   what, decided in `batch::roles`);
//! - `bench` measures the pipeline.

pub mod access;
pub mod bench;
pub mod destruction;
pub mod encrypt;
pub mod export;
pub mod import;
pub mod ocr;
pub mod pipeline;
pub mod process;
pub mod review;
pub mod scan;
pub mod scan_choice;
pub mod settings;
pub mod station;
pub mod upload;
pub mod worklist;

pub use export::{ExportError, export_batch};
pub use import::{ImportError, ImportOptions, ImportReport, import};
pub use pipeline::{Closed, Unreadable};
pub use scan::{ScanError, ScanOptions, ScanReport, scan};
pub use upload::{UploadEvent, UploadOptions, UploadWorkError};
