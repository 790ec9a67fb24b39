//! Folio: the scanning station for paper health records.
//!
//! Layers (see ARCHITECTURE.md): `batch` is the pure domain; `capture`, `imaging`
//! `store` and `upload` depend on it only; `workers` wires them on named threads; `cli` is
//! the command-line front end. `durable` (files that appear whole or not at all)
//! is a leaf every layer that writes files uses. The binary in `main.rs` only
//! dispatches.

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
