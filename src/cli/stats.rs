//! `folio stats`: productivity figures for a range of days (UTC), per
//! operator, station or day, as a table or as JSON. The facts come from the
//! store's read method, the figures from [`crate::batch::stats`]; this only
//! parses the range and prints.

use super::{Cli, exit, open, output};
use crate::batch::stats::{self, DateRange, GroupBy, GroupStats, Report};
use anyhow::Result;
use clap::Args;

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// First day, YYYY-MM-DD (UTC; default: 29 days before the last).
    #[arg(long, value_name = "YYYY-MM-DD")]
    from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC; default: today).
    #[arg(long, value_name = "YYYY-MM-DD")]
    to: Option<String>,
    /// operator, station or day.
    #[arg(long, default_value = "day", value_parser = parse_by)]
    by: GroupBy,
    /// Every figure, unrounded, for scripts.
    #[arg(long)]
    json: bool,
}

fn parse_by(text: &str) -> Result<GroupBy, String> {
    GroupBy::parse(text).ok_or_else(|| "group by operator, station or day".into())
}

/// Reads the facts of the range, computes and prints the figures.
pub fn run(cli: &Cli, a: &StatsArgs) -> Result<u8> {
    let today = time::OffsetDateTime::now_utc().date();
    let range = DateRange::from_texts(
        a.from.as_deref().map(|t| ("--from", t)),
        a.to.as_deref().map(|t| ("--to", t)),
        today,
    )?;
    let ctx = open(cli)?;
    let facts = ctx.store.stats_facts(range)?;
    let report = stats::report(&facts, range, a.by, ctx.cfg.stats.target_sheets_per_day);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&report);
    }
    Ok(exit::OK)
}

/// A figure with `decimals`, or "-" when there is none.
fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:.decimals$}"))
}

fn wait(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), stats::duration_words)
}

const HEADER: [&str; 13] = [
    "batches",
    "sheets",
    "sides",
    "scanning",
    "sheets/h",
    "sides/h",
    "flags/1000",
    "rescans",
    "sample fails",
    "upload median",
    "upload 90%",
    "sheets/stn-day",
    "of target",
];

/// One row of the table: the key (outside text, escaped) and its figures.
fn row(key: &str, g: &GroupStats) -> String {
    let cells = [
        g.batches.to_string(),
        g.sheets.to_string(),
        g.sides.to_string(),
        stats::duration_words(g.scanning_secs),
        num(g.sheets_per_hour, 0),
        num(g.sides_per_hour, 0),
        num(g.flags_per_1000_sides, 1),
        g.rescans.to_string(),
        g.sample_failures.to_string(),
        wait(g.first_scan_to_upload_median_secs),
        wait(g.first_scan_to_upload_p90_secs),
        num(g.sheets_per_station_day, 0),
        g.percent_of_target
            .map_or_else(|| "-".into(), |p| format!("{p:.0}%")),
    ];
    let mut line = format!("{:<20}", output::shown(key));
    for (cell, head) in cells.iter().zip(HEADER) {
        line.push_str(&format!(" {cell:>w$}", w = head.len().max(7)));
    }
    line
}

fn print_table(r: &Report) {
    println!(
        "Statistics from {} to {} (UTC days), by {}; target {} sheets per station per day",
        r.from,
        r.to,
        r.by.as_str(),
        r.target_sheets_per_day
    );
    if r.groups.is_empty() {
        println!("No batches were started in these days.");
        return;
    }
    let mut head = format!("{:<20}", r.by.as_str());
    for h in HEADER {
        head.push_str(&format!(" {h:>w$}", w = h.len().max(7)));
    }
    println!("{head}");
    for g in &r.groups {
        println!("{}", row(&g.key, g));
    }
    println!("{}", row("(all)", &r.total));
    println!();
    println!("Flags per 1,000 sides, by code:");
    let keyed = r.groups.iter().map(|g| (g.key.as_str(), g));
    for (key, g) in keyed.chain([("(all)", &r.total)]) {
        let codes: Vec<String> = g
            .flags_per_1000_sides_by_code
            .iter()
            .map(|(code, n)| format!("{} {n:.1}", output::shown(code)))
            .collect();
        let codes = if codes.is_empty() {
            "none".to_string()
        } else {
            codes.join(", ")
        };
        println!("  {:<20} {codes}", output::shown(key));
    }
    println!();
    println!(
        "Scanning time counts the gaps between sides stored up to {} s (longer ones are pauses); \
         upload times run from the first side stored to the verified upload.",
        r.idle_gap_secs
    );
}
