//! Productivity statistics (issue 17, item 7) through the real `folio`
//! binary on a real station database made by importing generated stacks,
//! and the window's Statistics screen on the same kind of station.

mod common;
mod kit;

use common::*;
use eframe::egui;
use folio::synth::StackSpec;
use kit::*;
use serde_json::Value;
use std::collections::BTreeMap;

/// A small generated stack (`records` folders, 150 dpi).
fn stack(st: &Station, name: &str, records: usize, seed: u64) -> std::path::PathBuf {
    let dir = st.dir.path().join(name);
    let spec = StackSpec {
        seed,
        records,
        dpi: 150,
        ..StackSpec::default()
    };
    write_stack(&spec, &dir, "pgm");
    dir
}

/// Flags of a batch by code, as `folio show` lists them (records and pages).
fn shown_flags(st: &Station, batch: &str) -> BTreeMap<String, u64> {
    let tree = st.json(&["show", batch, "--json"]);
    let mut codes = BTreeMap::new();
    let mut count = |flags: &Value| {
        for f in flags.as_array().unwrap() {
            *codes
                .entry(f["code"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    };
    for r in tree["records"].as_array().unwrap() {
        count(&r["flags"]);
        for d in r["documents"].as_array().unwrap() {
            for p in d["pages"].as_array().unwrap() {
                count(&p["flags"]);
            }
        }
    }
    codes
}

fn sides_of(st: &Station, batch: &str) -> u64 {
    st.json(&["show", batch, "--json"])["batch"]["sides"]
        .as_u64()
        .unwrap()
}

fn group<'a>(report: &'a Value, key: &str) -> &'a Value {
    report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {report:#}"))
}

fn codes_of(g: &Value) -> BTreeMap<String, u64> {
    g["flags_by_code"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

/// The station: Ann's simplex batch approved and uploaded to a folder, Bob's
/// duplex batch waiting; a target of 50 sheets per station per day.
struct Made {
    st: Station,
    ann: (String, u64, BTreeMap<String, u64>),
    bob: (String, u64, BTreeMap<String, u64>),
}

fn made() -> Made {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let store = st.dir.path().join("store");
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!("[stats]\ntarget_sheets_per_day = 50\n[upload]\nfolder = {store:?}\n"),
    )
    .unwrap();
    let a = stack(&st, "a", 2, 31);
    let ann = st.import(&["--operator", "ann"], &[&a])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = stack(&st, "b", 2, 32);
    let bob = st.import(&["--operator", "bob", "--duplex"], &[&b])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ann_flags = shown_flags(&st, &ann);
    let bob_flags = shown_flags(&st, &bob);
    approve_as_is(&st, &ann);
    st.ok(&["upload", "--batch", &ann]);
    Made {
        ann: (ann.clone(), sides_of(&st, &ann), ann_flags),
        bob: (bob.clone(), sides_of(&st, &bob), bob_flags),
        st,
    }
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64()
        .is_some_and(|a| (a - b).abs() <= 1e-6 * b.abs().max(1.0))
}

#[test]
fn the_figures_per_operator_count_exactly_and_rates_agree_with_them() {
    let m = made();
    let r = m.st.json(&["stats", "--by", "operator", "--json"]);
    assert_eq!(r["by"], "operator");
    assert_eq!(r["target_sheets_per_day"], 50);
    let (ann_sides, bob_sides) = (m.ann.1, m.bob.1);
    assert!(ann_sides >= 6 && bob_sides >= 6, "{ann_sides} {bob_sides}");
    let ann = group(&r, "ann");
    assert_eq!(ann["batches"], 1);
    assert_eq!(ann["sides"], ann_sides);
    assert_eq!(ann["sheets"], ann_sides, "imported simplex: a sheet a side");
    assert_eq!(codes_of(ann), m.ann.2, "flags, open or resolved, by code");
    assert_eq!(ann["rescans"], 0);
    assert_eq!(ann["sample_failures"], 0);
    assert_eq!(ann["uploaded_batches"], 1);
    let median = ann["first_scan_to_upload_median_secs"].as_f64().unwrap();
    assert!((0.0..3600.0).contains(&median), "{median}");
    assert_eq!(ann["first_scan_to_upload_p90_secs"], median);
    let bob = group(&r, "bob");
    assert_eq!(bob["sides"], bob_sides);
    assert_eq!(
        bob["sheets"],
        bob_sides.div_ceil(2),
        "duplex: two sides a sheet"
    );
    assert_eq!(codes_of(bob), m.bob.2);
    assert_eq!(bob["uploaded_batches"], 0);
    assert!(bob["first_scan_to_upload_median_secs"].is_null());
    for g in [ann, bob, &r["total"]] {
        let (sheets, sides) = (g["sheets"].as_f64().unwrap(), g["sides"].as_f64().unwrap());
        let secs = g["scanning_secs"].as_f64().unwrap();
        assert!(secs > 0.0 && secs < 3600.0, "scanning time {secs} s");
        assert!(
            close(&g["sheets_per_hour"], sheets * 3600.0 / secs),
            "{g:#}"
        );
        assert!(close(&g["sides_per_hour"], sides * 3600.0 / secs), "{g:#}");
        let flags = g["flags"].as_f64().unwrap();
        assert!(close(&g["flags_per_1000_sides"], flags * 1000.0 / sides));
        let days = g["station_days"].as_f64().unwrap();
        assert!(close(&g["sheets_per_station_day"], sheets / days));
        assert!(close(&g["percent_of_target"], sheets / days / 50.0 * 100.0));
    }
    let t = &r["total"];
    assert_eq!(t["key"], "all");
    assert_eq!(t["batches"], 2);
    assert_eq!(t["sides"], ann_sides + bob_sides);
    assert_eq!(t["sheets"], ann_sides + bob_sides.div_ceil(2));
}

#[test]
fn by_day_and_station_as_a_table_and_no_batches_outside_the_range() {
    let m = made();
    let r = m.st.json(&["stats", "--by", "day", "--json"]);
    let days: Vec<&str> = r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["key"].as_str().unwrap())
        .collect();
    let today = time::OffsetDateTime::now_utc().date();
    assert!(!days.is_empty() && days.len() <= 2, "{days:?}");
    assert_eq!(*days.last().unwrap(), folio::batch::stats::day_text(today));
    let s = m.st.json(&["stats", "--by", "station", "--json"]);
    assert_eq!(group(&s, "test-station")["batches"], 2);
    let text = m.st.ok(&["stats", "--by", "operator"]);
    assert!(
        text.contains("by operator; target 50 sheets per station per day"),
        "{text}"
    );
    let ann_row = text.lines().find(|l| l.starts_with("ann ")).unwrap();
    let cells: Vec<&str> = ann_row.split_whitespace().collect();
    assert_eq!(
        cells[1..4],
        ["1", &m.ann.1.to_string(), &m.ann.1.to_string()]
    );
    assert!(text.lines().any(|l| l.starts_with("(all) ")), "{text}");
    assert!(text.contains("Flags per 1,000 sides, by code:"), "{text}");
    let empty = m.st.json(&[
        "stats",
        "--from",
        "2000-01-01",
        "--to",
        "2000-01-31",
        "--json",
    ]);
    assert_eq!(empty["groups"].as_array().unwrap().len(), 0);
    assert_eq!(empty["total"]["batches"], 0);
    assert!(empty["total"]["sheets_per_hour"].is_null());
    let none =
        m.st.ok(&["stats", "--from", "2000-01-01", "--to", "2000-01-31"]);
    assert!(
        none.contains("No batches were started in these days."),
        "{none}"
    );
}

#[test]
fn bad_dates_and_groupings_are_refused_in_words() {
    let st = Station::new();
    for (args, words) in [
        (
            &["stats", "--from", "2026-13-01"][..],
            "--from '2026-13-01' is not a date: write it as YYYY-MM-DD",
        ),
        (
            &["stats", "--to", "7/12/2026"][..],
            "--to '7/12/2026' is not a date: write it as YYYY-MM-DD",
        ),
        (
            &["stats", "--from", "2026-12-10", "--to", "2026-12-01"][..],
            "the range starts on 2026-12-10, after its last day 2026-12-01",
        ),
        (
            &["stats", "--by", "week"][..],
            "group by operator, station or day",
        ),
    ] {
        let out = st.run(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(if args[1] == "--by" { 2 } else { 1 }),
            "{err}"
        );
        assert!(err.contains(words), "{args:?}: {err}");
    }
    let out = st.run(&["stats", "--from", "2026-12-01\u{1b}[2J"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("\\u{1b}[2J") && !err.contains('\u{1b}'),
        "{err}"
    );
}

#[test]
fn an_operator_name_from_outside_is_shown_escaped() {
    let st = Station::new();
    let a = stack(&st, "a", 1, 33);
    st.import(&["--operator", "eve\u{1b}[2J"], &[&a]);
    let text = st.ok(&["stats", "--by", "operator"]);
    assert!(
        text.contains("eve\\u{1b}[2J") && !text.contains('\u{1b}'),
        "{text}"
    );
    let json = st.json(&["stats", "--by", "operator", "--json"]);
    assert_eq!(
        json["groups"][0]["key"], "eve\u{1b}[2J",
        "JSON keeps it as stored"
    );
}

/// The window: F11 opens Statistics, which shows the figures read by the
/// station's reader and a date filter that refuses a bad date in words.
#[test]
fn the_statistics_screen_shows_the_figures_and_filters_by_date() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let a = stack(&st, "a", 2, 34);
    let batch = st.import(&["--operator", "ann"], &[&a])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    let sides = sides_of(&st, &batch);
    let mut h = station_window(&st.data_dir(), &st.dir.path().join("store"), SMALL, "ann");
    // The tab bar keeps every tab and Help whole on a field team's laptop.
    for tab in ["Settings", "Statistics", "Help"] {
        assert_inside(&h, tab, SMALL);
    }
    h.key_press(egui::Key::F11);
    wait(&mut h, "the figures", |a| a.stats().overview.is_some());
    assert_eq!(h.state().tab(), folio::ui::Tab::Statistics);
    let o = h.state().stats().overview.clone().unwrap();
    assert_eq!((o.total.batches, o.total.sides), (1, sides));
    assert_eq!(o.range.days(), 30);
    h.get_by_label_contains(&format!("1 batches, {sides} sheets, {sides} sides"));
    h.get_by_label_contains("% of the target of 2000");
    h.get_by_label("Sheets per day");
    h.get_by_label("Flags per 1,000 sides, by code");
    // The table, by day first, then by operator: Ann's row, and the total.
    let today = folio::batch::stats::day_text(time::OffsetDateTime::now_utc().date());
    h.get_by_label(&today);
    h.get_by_label("All");
    h.get_by_label("operator").click();
    h.step();
    h.get_by_label("ann");
    // A bad date is refused in words, and nothing is asked.
    h.get_by_label("From").click();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("From").type_text("2026-02-30");
    h.get_by_label("Show").click();
    h.step();
    h.get_by_label_contains("From '2026-02-30' is not a date: write it as YYYY-MM-DD");
    // The last 7 days: asked again, answered for seven days.
    h.get_by_label("Last 7 days").click();
    wait(&mut h, "the last 7 days", |a| {
        a.stats()
            .overview
            .as_ref()
            .is_some_and(|o| o.range.days() == 7)
    });
    assert!(h.state().stats().problem.is_none());
    assert_eq!(
        h.state().stats().overview.as_ref().unwrap().total.batches,
        1
    );
}

/// The screen alone at 800x600, with figures of two operators: the filter
/// is whole in the window, the table names both, the days shown are asked
/// for again when a batch closes, and the range buttons ask for their days.
#[test]
fn at_800x600_the_filter_is_whole_and_the_buttons_ask_for_their_days() {
    use folio::batch::stats::{BatchFacts, DateRange, overview};
    use folio::workers::station::Command;
    let today = time::OffsetDateTime::now_utc().date();
    let day = folio::batch::stats::day_text(today);
    let facts: Vec<BatchFacts> = [("ann", 40), ("bob", 24)]
        .into_iter()
        .map(|(op, sides)| BatchFacts {
            batch_id: format!("{op}-1"),
            operator: op.into(),
            station: "scan-01".into(),
            source: folio::batch::BatchSource::SiteLibrary,
            day: day.clone(),
            started_ms: None,
            closed_ms: None,
            sheets: sides / 2,
            sides,
            flags: BTreeMap::from([("skewed".to_string(), 2)]),
            rescans: 1,
            sample_failures: 0,
            side_times_ms: (0..i64::from(sides)).map(|i| i * 1_000).collect(),
            uploaded_ms: None,
        })
        .collect();
    let mut screen = folio::ui::StatsScreen::default();
    screen.on_stats(overview(&facts, DateRange::last_days(today, 30), 100));
    let mut h = harness_at(Bed::new(screen), SMALL);
    h.step();
    for label in ["From", "To", "Show", "Last 7 days", "Last 30 days"] {
        assert_inside(&h, label, SMALL);
    }
    h.get_by_label_contains("2 batches, 32 sheets, 64 sides");
    h.get_by_label_contains("32% of the target of 100");
    h.get_by_label("operator").click();
    h.step();
    h.get_by_label("ann");
    h.get_by_label("bob");
    assert!(
        sent(&h).is_empty(),
        "the figures given are shown, not asked for"
    );
    // A batch closed meanwhile: the same days are asked for again.
    let closed = batch_row("0123456789abcdef", "box 9", "ann", "closed");
    h.state_mut().snapshot.batches.push(closed);
    h.step();
    h.get_by_label("Last 7 days").click();
    h.step();
    let asked: Vec<(time::Date, time::Date)> = sent(&h)
        .into_iter()
        .filter_map(|c| match c {
            Command::Stats { from, to } => Some((from, to)),
            _ => None,
        })
        .collect();
    let (month, week) = (
        DateRange::last_days(today, 30),
        DateRange::last_days(today, 7),
    );
    assert_eq!(asked, [(month.from, month.to), (week.from, week.to)]);
    assert_eq!(h.state().screen.from, week.from_text());
}
