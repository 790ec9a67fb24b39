//! `folio worklist`: the on-demand worklist as the On demand screen shows it
//! (the same fetch, cache and marks: [`crate::workers::worklist`]).

use super::{Cli, exit, output::shown};
use crate::batch::worklist::{Row, Urgency};
use crate::workers::worklist::{self, RefreshError};
use anyhow::Result;

#[derive(clap::Args, Debug)]
pub struct WorklistArgs {
    /// Print the list as JSON.
    #[arg(long)]
    json: bool,
    /// Do not ask the EHR: print the list kept from the last fetch.
    #[arg(long)]
    offline: bool,
}

/// Fetches (unless `--offline`) and prints the list. A failed fetch is said
/// on stderr and the last list is printed with its age; the exit code is
/// then 1, so a script knows the list may be stale.
pub fn run(cli: &Cli, a: &WorklistArgs) -> Result<u8> {
    let mut ctx = super::open(cli)?;
    let now = time::OffsetDateTime::now_utc();
    let mut code = exit::OK;
    if !a.offline {
        match worklist::refresh(&mut ctx.store, &ctx.cfg, now) {
            Ok(()) => {}
            Err(e @ (RefreshError::NotConfigured | RefreshError::Store(_))) => return Err(e.into()),
            Err(RefreshError::Fetch(e)) => {
                eprintln!("{}", shown(&e.to_string()));
                code = exit::ERROR;
            }
        }
    }
    let Some(list) = worklist::view(&ctx.store, &ctx.cfg, now)? else {
        return Err(RefreshError::NotConfigured.into());
    };
    for w in &list.warnings {
        eprintln!("warning: {}", shown(w));
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(code);
    }
    println!("{}", list.status_words());
    if let Some(note) = &list.store_note {
        println!("{}", shown(note));
    }
    if list.rows.is_empty() && list.fetched_at.is_some() {
        println!("No appointments to scan for.");
    }
    for r in &list.rows {
        println!("{}", line(r, now, crate::upload::ehr::local_offset(now)));
    }
    Ok(code)
}

/// One row: tab-separated fields, every one escaped (names and clinics come
/// from the EHR).
fn line(r: &Row, now: time::OffsetDateTime, local: time::UtcOffset) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let at = |t: time::OffsetDateTime| t.to_offset(local).format(&fmt).unwrap_or_default();
    let urgency = match r.urgency {
        Urgency::Overdue => "OVERDUE",
        Urgency::DueToday => "due today",
        Urgency::Later => "",
    };
    let nhs = r
        .item
        .nhs_number
        .clone()
        .unwrap_or_else(|| format!("({})", r.item.nhs_problem.clone().unwrap_or_default()));
    [
        format!("due {}", at(r.item.deadline)),
        urgency.to_string(),
        at(r.item.start),
        shown(&r.item.clinic),
        shown(&nhs),
        shown(&r.item.name),
        worklist::mark_words(r, now, local),
    ]
    .join("\t")
}
