//! Productivity statistics, pure: from one row of facts per batch (what the
//! store records: who scanned it where, when each side was stored, its flags,
//! rescans and upload) the figures a bureau manager reads, per operator,
//! station or day. No clock and no I/O here: the caller says which days and
//! passes "today" in. Runs on whichever thread calls it (the CLI's, the
//! window's reader).
//!
//! Definitions, chosen to be honest about what the store knows:
//! - A batch belongs to the UTC day it was started (times are stored in UTC).
//! - Scanning time is measured from the sides themselves: the times at which
//!   consecutive sides were stored, a gap longer than [`IDLE_GAP_SECS`]
//!   counting as a pause (lunch, a jam being cleared, a batch resumed the
//!   next morning) and left out. Each run of sides without such a pause
//!   counts one more of its average gaps, so a run of n sides at a steady
//!   pace p counts n times p (its first side took time too). A run of one
//!   side has no measured pace and counts nothing. For imported files the
//!   "scanning" time is the time taking them in.
//! - Sheets are sides for a simplex batch and sides halved (rounded up) for a
//!   duplex one, as [`crate::store::BatchRow::sheets_scanned`] counts them.
//! - Flags are every flag raised on the batch's pages and records, open or
//!   resolved, by code (a code a newer build wrote still counts).
//! - Rescans are the pages rescanned in place (each `page.rescan` event).
//! - First scan to verified upload: from the first side stored to the moment
//!   the central store had acknowledged every document of the batch.
//! - Run rate: sheets per station-day worked (a distinct station and day on
//!   which the group scanned), against the target of sheets per station per
//!   day from the configuration (`[stats] target_sheets_per_day`).

use super::BatchSource;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;
use time::{Date, Month};

/// A gap between two stored sides longer than this is a pause, not scanning.
pub const IDLE_GAP_SECS: i64 = 300;

/// The longest range of days asked for at once (ten years).
pub const MAX_RANGE_DAYS: i64 = 3660;

/// Why a date or a range is refused, in words.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub enum StatsError {
    #[error("{what} '{text}' is not a date: write it as YYYY-MM-DD, for example 2026-12-01")]
    BadDate { what: String, text: String },
    #[error("the range starts on {from}, after its last day {to}: give the earlier day first")]
    Reversed { from: String, to: String },
    #[error(
        "the range from {from} to {to} is longer than {} days: ask for a shorter one",
        MAX_RANGE_DAYS
    )]
    TooLong { from: String, to: String },
}

/// A date as stored and typed: `YYYY-MM-DD`.
pub fn day_text(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Reads `YYYY-MM-DD` (surrounding spaces ignored); `what` names the field in
/// the refusal ("--from", "From").
pub fn parse_date(what: &str, text: &str) -> Result<Date, StatsError> {
    let refused = || StatsError::BadDate {
        what: what.to_string(),
        text: super::printable(text, 40),
    };
    let t = text.trim();
    let parts: Vec<&str> = t.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return Err(refused());
    };
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return Err(refused());
    }
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(y) && digits(m) && digits(d)) {
        return Err(refused());
    }
    let (y, m, d) = (
        y.parse::<i32>().map_err(|_| refused())?,
        m.parse::<u8>().map_err(|_| refused())?,
        d.parse::<u8>().map_err(|_| refused())?,
    );
    let month = Month::try_from(m).map_err(|_| refused())?;
    Date::from_calendar_date(y, month, d).map_err(|_| refused())
}

/// The days asked about, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub from: Date,
    pub to: Date,
}

impl DateRange {
    /// A range of at most [`MAX_RANGE_DAYS`] days whose first day is not after its last.
    pub fn new(from: Date, to: Date) -> Result<DateRange, StatsError> {
        if from > to {
            return Err(StatsError::Reversed {
                from: day_text(from),
                to: day_text(to),
            });
        }
        let r = DateRange { from, to };
        if r.days() > MAX_RANGE_DAYS {
            return Err(StatsError::TooLong {
                from: day_text(from),
                to: day_text(to),
            });
        }
        Ok(r)
    }

    /// The `n` days ending with `today` (at least one).
    pub fn last_days(today: Date, n: u32) -> DateRange {
        let back = i64::from(n.clamp(1, MAX_RANGE_DAYS as u32)) - 1;
        let from = today
            .checked_sub(time::Duration::days(back))
            .unwrap_or(today);
        DateRange { from, to: today }
    }

    /// From the texts typed (each optional: the last 30 days up to `today`
    /// by default, or 30 days up to the one end given), checked.
    pub fn from_texts(
        from: Option<(&str, &str)>,
        to: Option<(&str, &str)>,
        today: Date,
    ) -> Result<DateRange, StatsError> {
        let to = match to {
            Some((what, text)) => parse_date(what, text)?,
            None => today,
        };
        let from = match from {
            Some((what, text)) => parse_date(what, text)?,
            None => DateRange::last_days(to, 30).from,
        };
        DateRange::new(from, to)
    }

    /// Days in the range.
    pub fn days(&self) -> i64 {
        i64::from(self.to.to_julian_day() - self.from.to_julian_day()) + 1
    }

    /// The first day as text, `YYYY-MM-DD`.
    pub fn from_text(&self) -> String {
        day_text(self.from)
    }

    /// The last day as text, `YYYY-MM-DD`.
    pub fn to_text(&self) -> String {
        day_text(self.to)
    }

    /// Days after the first day of the range (the x of a chart by day), if
    /// `day` (`YYYY-MM-DD`) is a date.
    pub fn offset_of(&self, day: &str) -> Option<i64> {
        let d = parse_date("day", day).ok()?;
        Some(i64::from(d.to_julian_day() - self.from.to_julian_day()))
    }
}

/// What the store records of one batch, as plain values.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchFacts {
    pub batch_id: String,
    pub operator: String,
    pub station: String,
    pub source: BatchSource,
    /// The UTC day the batch was started, `YYYY-MM-DD`.
    pub day: String,
    /// Started and closed, Unix milliseconds (not used by the figures, which
    /// measure scanning from the sides).
    pub started_ms: Option<i64>,
    pub closed_ms: Option<i64>,
    pub sheets: u32,
    pub sides: u32,
    /// Flags raised, open or resolved, by code.
    pub flags: BTreeMap<String, u32>,
    pub rescans: u32,
    /// Pages a supervisor's sample found wanting (none until sampling exists).
    pub sample_failures: u32,
    /// When each side was stored, Unix milliseconds, in any order.
    pub side_times_ms: Vec<i64>,
    /// When the central store had acknowledged every document, if it has.
    pub uploaded_ms: Option<i64>,
}

impl BatchFacts {
    /// When its first side was stored.
    pub fn first_scan_ms(&self) -> Option<i64> {
        self.side_times_ms.iter().copied().min()
    }

    /// Scanning time in seconds (see the module's definition).
    pub fn scanning_secs(&self) -> f64 {
        scanning_secs(&self.side_times_ms)
    }

    /// Seconds from the first side stored to the verified upload.
    pub fn first_scan_to_upload_secs(&self) -> Option<f64> {
        let (first, up) = (self.first_scan_ms()?, self.uploaded_ms?);
        Some((up - first).max(0) as f64 / 1000.0)
    }
}

/// Scanning time of sides stored at `times_ms`: the gaps between consecutive
/// sides up to [`IDLE_GAP_SECS`], each run of sides between longer pauses
/// counting one more of its average gaps.
pub fn scanning_secs(times_ms: &[i64]) -> f64 {
    let mut t = times_ms.to_vec();
    t.sort_unstable();
    let mut total_ms = 0.0;
    let (mut run_ms, mut run_gaps) = (0i64, 0i64);
    let mut end_run = |run_ms: i64, run_gaps: i64| {
        if run_gaps > 0 {
            total_ms += run_ms as f64 * (run_gaps + 1) as f64 / run_gaps as f64;
        }
    };
    for w in t.windows(2) {
        let gap = w[1] - w[0];
        if gap > IDLE_GAP_SECS * 1000 {
            end_run(run_ms, run_gaps);
            (run_ms, run_gaps) = (0, 0);
        } else {
            run_ms += gap;
            run_gaps += 1;
        }
    }
    end_run(run_ms, run_gaps);
    total_ms / 1000.0
}

/// The median (the mean of the middle two for an even count) of sorted values.
pub fn median(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The `p`th percentile of sorted values by nearest rank: the smallest value
/// with at least p% of the values at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// What the figures are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Operator,
    Station,
    Day,
}

impl GroupBy {
    pub const ALL: [GroupBy; 3] = [GroupBy::Operator, GroupBy::Station, GroupBy::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Operator => "operator",
            GroupBy::Station => "station",
            GroupBy::Day => "day",
        }
    }

    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s)
    }

    fn key(self, b: &BatchFacts) -> &str {
        match self {
            GroupBy::Operator => &b.operator,
            GroupBy::Station => &b.station,
            GroupBy::Day => &b.day,
        }
    }
}

/// The figures of one group (an operator, a station, a day, or all).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    /// The operator, station or day (`all` for the total).
    pub key: String,
    pub batches: u32,
    pub sheets: u64,
    pub sides: u64,
    pub scanning_secs: f64,
    /// None when no scanning time was measured.
    pub sheets_per_hour: Option<f64>,
    pub sides_per_hour: Option<f64>,
    pub flags: u64,
    pub flags_by_code: BTreeMap<String, u64>,
    pub flags_per_1000_sides: Option<f64>,
    pub flags_per_1000_sides_by_code: BTreeMap<String, f64>,
    pub rescans: u64,
    pub sample_failures: u64,
    /// Batches whose upload was verified (those the times below are of).
    pub uploaded_batches: u32,
    pub first_scan_to_upload_median_secs: Option<f64>,
    pub first_scan_to_upload_p90_secs: Option<f64>,
    /// Distinct stations and days the group scanned on.
    pub station_days: u32,
    pub sheets_per_station_day: Option<f64>,
    pub target_sheets_per_day: u32,
    /// Sheets per station-day as a percentage of the target.
    pub percent_of_target: Option<f64>,
}

/// A rate per `per` of `n` over `of`, none when `of` is zero.
fn rate(n: f64, of: f64, per: f64) -> Option<f64> {
    (of > 0.0).then(|| n * per / of)
}

/// The figures of the batches `rows`, under `key`.
pub fn figures(key: &str, rows: &[&BatchFacts], target: u32) -> GroupStats {
    let sheets: u64 = rows.iter().map(|b| u64::from(b.sheets)).sum();
    let sides: u64 = rows.iter().map(|b| u64::from(b.sides)).sum();
    let scanning_secs: f64 = rows.iter().map(|b| b.scanning_secs()).sum();
    let mut flags_by_code: BTreeMap<String, u64> = BTreeMap::new();
    for b in rows {
        for (code, n) in &b.flags {
            *flags_by_code.entry(code.clone()).or_default() += u64::from(*n);
        }
    }
    let flags: u64 = flags_by_code.values().sum();
    let mut waits: Vec<f64> = rows
        .iter()
        .filter_map(|b| b.first_scan_to_upload_secs())
        .collect();
    waits.sort_by(f64::total_cmp);
    let station_days = rows
        .iter()
        .filter(|b| b.sides > 0)
        .map(|b| (b.station.as_str(), b.day.as_str()))
        .collect::<BTreeSet<_>>()
        .len() as u32;
    let per_station_day = rate(sheets as f64, f64::from(station_days), 1.0);
    GroupStats {
        key: key.to_string(),
        batches: rows.len() as u32,
        sheets,
        sides,
        scanning_secs,
        sheets_per_hour: rate(sheets as f64, scanning_secs, 3600.0),
        sides_per_hour: rate(sides as f64, scanning_secs, 3600.0),
        flags,
        flags_per_1000_sides: rate(flags as f64, sides as f64, 1000.0),
        flags_per_1000_sides_by_code: flags_by_code
            .iter()
            .filter_map(|(c, n)| Some((c.clone(), rate(*n as f64, sides as f64, 1000.0)?)))
            .collect(),
        flags_by_code,
        rescans: rows.iter().map(|b| u64::from(b.rescans)).sum(),
        sample_failures: rows.iter().map(|b| u64::from(b.sample_failures)).sum(),
        uploaded_batches: waits.len() as u32,
        first_scan_to_upload_median_secs: median(&waits),
        first_scan_to_upload_p90_secs: percentile(&waits, 90.0),
        station_days,
        sheets_per_station_day: per_station_day,
        target_sheets_per_day: target,
        percent_of_target: per_station_day.and_then(|r| rate(r, f64::from(target), 100.0)),
    }
}

/// The figures per group, in the order of their keys (days in date order).
pub fn group(rows: &[BatchFacts], by: GroupBy, target: u32) -> Vec<GroupStats> {
    let mut groups: BTreeMap<&str, Vec<&BatchFacts>> = BTreeMap::new();
    for b in rows {
        groups.entry(by.key(b)).or_default().push(b);
    }
    groups
        .into_iter()
        .map(|(key, rows)| figures(key, &rows, target))
        .collect()
}

/// The figures of every batch together.
pub fn total(rows: &[BatchFacts], target: u32) -> GroupStats {
    let all: Vec<&BatchFacts> = rows.iter().collect();
    figures("all", &all, target)
}

/// What `folio stats` prints: the figures of one grouping and the total.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub by: GroupBy,
    pub target_sheets_per_day: u32,
    /// The longest gap between two sides that still counts as scanning.
    pub idle_gap_secs: i64,
    pub groups: Vec<GroupStats>,
    pub total: GroupStats,
}

pub fn report(rows: &[BatchFacts], range: DateRange, by: GroupBy, target: u32) -> Report {
    Report {
        from: range.from_text(),
        to: range.to_text(),
        by,
        target_sheets_per_day: target,
        idle_gap_secs: IDLE_GAP_SECS,
        groups: group(rows, by, target),
        total: total(rows, target),
    }
}

/// What the Statistics screen shows: every grouping at once, so the screen
/// switches between them without asking again.
#[derive(Debug, Clone)]
pub struct Overview {
    pub range: DateRange,
    pub target_sheets_per_day: u32,
    pub total: GroupStats,
    pub by_day: Vec<GroupStats>,
    pub by_operator: Vec<GroupStats>,
    pub by_station: Vec<GroupStats>,
}

pub fn overview(rows: &[BatchFacts], range: DateRange, target: u32) -> Overview {
    Overview {
        range,
        target_sheets_per_day: target,
        total: total(rows, target),
        by_day: group(rows, GroupBy::Day, target),
        by_operator: group(rows, GroupBy::Operator, target),
        by_station: group(rows, GroupBy::Station, target),
    }
}

impl Overview {
    /// The figures of one grouping.
    pub fn groups(&self, by: GroupBy) -> &[GroupStats] {
        match by {
            GroupBy::Operator => &self.by_operator,
            GroupBy::Station => &self.by_station,
            GroupBy::Day => &self.by_day,
        }
    }
}

/// Seconds as people read a wait: "45 s", "12 min", "3.5 h", "2.1 days".
pub fn duration_words(secs: f64) -> String {
    match secs {
        s if s < 90.0 => format!("{s:.0} s"),
        s if s < 90.0 * 60.0 => format!("{:.0} min", s / 60.0),
        s if s < 48.0 * 3600.0 => format!("{:.1} h", s / 3600.0),
        s => format!("{:.1} days", s / 86400.0),
    }
}

#[cfg(test)]
mod tests;
