//! Synthetic case-note stacks with ground truth: typed clinical pages, control
//! sheets, patient ID labels (matching, misfiled, invalid), blank backs with
//! speckle and bleed-through, near-blank pages, skew, noise and brightness drift.
//!
//! Used by the tests, by `folio generate`, by the benchmark and by the demo
//! feeder, so that anyone can try the whole station without paper; nothing
//! else in production depends on it (control sheets are drawn by
//! `imaging::sheet`, as `folio sheets` prints them). Pure CPU work; any thread.

pub mod files;
pub mod plan;
pub mod render;
pub mod rng;
pub mod target;

pub use plan::{Label, SideKind, StackSpec, Symbology, Truth, TruthDocument, TruthRecord, plan};
pub use render::render;

/// The per-side seed, so any side can be rendered on its own.
pub fn side_seed(spec: &StackSpec, side: u32) -> u64 {
    spec.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (side as u64 + 1).wrapping_mul(0x9E37_79B9)
}
