//! Folio: the scanning station for paper health records.
//!
//! # Layers
//!
//! Each layer imports only from the layers under it (see ARCHITECTURE.md):
//!
//! ```text
//! main                 the binary: dispatches to cli
//! ui, cli              the window's screens and the clap commands: they send
//!                      commands to workers and render what comes back
//! workers              capture -> imaging -> store -> upload on named threads;
//!                      the station (store actor, scanner, reader, uploader)
//! capture  imaging  store  upload
//!                      scanners and files; pure pixel work; SQLite and image
//!                      files (the only SQL); the central store's targets
//! batch                the pure domain: sheet protocol, separation, flags,
//!                      states and the rules on them (may this batch be
//!                      closed, approved, resumed?)
//! pixels, durable      leaves: pixel value types shared by capture, imaging
//!                      and store; files that appear whole or not at all
//! ```
//!
//! `config` (settings, limits) sits beside `batch`; `synth` generates test
//! stacks for the tests, the benchmark and the demo feeder.
//!
//! # Threads
//!
//! ```text
//! UI (main thread)   drains events within 4 ms a frame; never does IO
//!  |  Station::send (bounded queues, refused when full, never blocking)
//!  +-> folio-store     the store actor: review, close, approve, queue
//!  +-> folio-scanner   scans and rescans, one at a time, each with its token
//!  |     +-> folio-capture   the scanner handle (libsane), bands -> preview
//!  |     +-> folio-imaging-N the imaging pool (bounded in-flight sides)
//!  |     +-> folio-preview   shrinks bands for the live view
//!  +-> folio-reader    snapshots and trees from its own WAL connection
//!  +-> folio-images    decodes stored images for textures
//!  +-> folio-upload    works off the outbox (its own connection)
//!  <-- events (bounded; live-view bands dropped when full), each waking the UI
//! ```
//!
//! `Station::shutdown` stops the running scan (its sides kept, the batch
//! resumable), closes every queue and joins the threads. The command line runs
//! the same workers' functions on its own thread (`folio scan`: capture,
//! imaging pool, the caller committing).

pub mod batch;
pub mod imaging;
pub mod store;

/// The current time as RFC 3339 UTC, the one timestamp format of the cache and
/// the manifest.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

/// The time the paper's life is judged by (hold dates, destruction): now;
/// in a debug build, the moment `FOLIO_TEST_NOW` names (RFC 3339) when set,
/// so tests can let a hold period pass. A release build ignores it.
pub fn paper_now() -> time::OffsetDateTime {
    let fmt = &time::format_description::well_known::Rfc3339;
    if cfg!(debug_assertions)
        && let Ok(at) = std::env::var("FOLIO_TEST_NOW")
        && let Ok(t) = time::OffsetDateTime::parse(&at, fmt)
    {
        return t;
    }
    time::OffsetDateTime::now_utc()
}

/// A moment as RFC 3339 UTC.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now_rfc3339())
}

/// The time `d` from now, as RFC 3339 UTC.
pub fn rfc3339_after(d: std::time::Duration) -> String {
    (time::OffsetDateTime::now_utc() + d)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now_rfc3339())
}

pub mod capture;
pub mod cli;
pub mod config;
pub mod durable;
pub mod pixels;
pub mod synth;
pub mod ui;
pub mod upload;
pub mod workers;
