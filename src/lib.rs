//! Folio: the scanning station for paper health records.
//!
//! Layers (see ARCHITECTURE.md): `batch` is the pure domain; `capture`, `imaging`
//! and `store` depend on it only; `workers` wires them on named threads; `cli` is
//! the command-line front end. The binary in `main.rs` only dispatches.

pub mod batch;
pub mod imaging;
