//! Wires capture -> imaging -> store on named threads with bounded channels.
//!
//! `import` runs a reader thread (files in feed order), an imaging pool (one
//! thread per core) and the store writer (the calling thread), and commits sides
//! in feed order. `export` writes a batch's PDFs and manifest; `upload` works
//! off the outbox into the central store.

pub mod bench;
pub mod export;
pub mod import;
pub mod pipeline;
pub mod process;
pub mod review;
pub mod scan;
pub mod settings;
pub mod station;
pub mod upload;

pub use export::{ExportError, export_batch};
pub use import::{ImportError, ImportOptions, ImportReport, import};
pub use pipeline::{Closed, Unreadable};
pub use scan::{ScanError, ScanOptions, ScanReport, scan};
pub use upload::{UploadEvent, UploadOptions, UploadWorkError};
