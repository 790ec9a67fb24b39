//! `folio sample BATCH`: a batch's sampling QA from the command line, the
//! same draw and verdicts as Review's sample check (and the same rule: a
//! supervisor who did not scan the batch).

use super::{Cli, Ctx, exit, open, open_as, output};
use crate::batch::roles::Action;
use crate::store::Sample;
use crate::workers::review;
use anyhow::{Result, bail};
use clap::Args;

#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Batch id or prefix.
    batch: String,
    /// Draw the batch's sample (refused while one is open or passed).
    #[arg(long)]
    draw: bool,
    /// Sides that pass.
    #[arg(long, value_name = "SIDE")]
    pass: Vec<u32>,
    /// A side that fails (with --reason).
    #[arg(long, value_name = "SIDE")]
    fail: Vec<u32>,
    /// What is wrong with the failing sides.
    #[arg(long)]
    reason: Option<String>,
    #[arg(long)]
    json: bool,
}

pub fn run(cli: &Cli, a: &SampleArgs) -> Result<u8> {
    let acting = a.draw || !a.pass.is_empty() || !a.fail.is_empty();
    if !a.fail.is_empty() && a.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
        bail!("--fail needs --reason \"what is wrong with the image\"");
    }
    let mut ctx = match acting {
        true => open_as(cli, Action::InspectSample, Some(&a.batch))?,
        false => open(cli)?,
    };
    let Ctx { store, cfg, actor } = &mut ctx;
    if a.draw {
        review::draw_sample(store, cfg, actor, &a.batch)?;
    }
    for side in &a.pass {
        review::sample_verdict(store, cfg, actor, (&a.batch, *side), None)?;
    }
    for side in &a.fail {
        review::sample_verdict(store, cfg, actor, (&a.batch, *side), a.reason.as_deref())?;
    }
    let sample = store.sample(&a.batch)?;
    show(sample.as_ref(), a.json)?;
    Ok(exit::OK)
}

fn show(sample: Option<&Sample>, json: bool) -> Result<()> {
    if json {
        let state = sample.map(Sample::state);
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "sample": sample, "state": state }))?
        );
        return Ok(());
    }
    let Some(s) = sample else {
        println!("no sample drawn yet (`folio sample BATCH --draw`)");
        return Ok(());
    };
    println!(
        "sample {} of batch {}: drawn by {} at {}, seed {}",
        s.draw,
        output::shown(&s.batch_id),
        output::shown(&s.drawn_by),
        output::shown(&s.drawn_at),
        s.seed
    );
    for side in &s.sides {
        let verdict = s.verdicts.iter().find(|v| v.side == *side);
        let words = match verdict {
            None => "to check".to_string(),
            Some(v) if v.passed => format!("passed ({})", output::shown(&v.operator)),
            Some(v) => format!(
                "failed: {} ({})",
                output::shown(&v.reason),
                output::shown(&v.operator)
            ),
        };
        println!("side {side}\t{words}");
    }
    println!("{}", s.state().words());
    Ok(())
}
