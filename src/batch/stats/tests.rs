//! The figures of [`super`], checked against figures computed by hand.

use super::*;

const T0: i64 = 1_796_000_000_000;

fn batch(op: &str, station: &str, day: &str, sides: u32, duplex: bool) -> BatchFacts {
    BatchFacts {
        batch_id: format!("{op}-{day}-{sides}"),
        operator: op.into(),
        station: station.into(),
        source: BatchSource::SiteLibrary,
        day: day.into(),
        started_ms: Some(T0),
        closed_ms: None,
        sheets: if duplex { sides.div_ceil(2) } else { sides },
        sides,
        flags: BTreeMap::new(),
        rescans: 0,
        sample_failures: 0,
        side_times_ms: Vec::new(),
        uploaded_ms: None,
    }
}

/// Ann scans two batches at s1 on 1 December, Bob one at s2 on the 2nd.
fn three_batches() -> Vec<BatchFacts> {
    // 10 duplex sides, one every 6 s: 9 gaps of 6 s, and one more: 60 s.
    let mut a = batch("ann", "s1", "2026-12-01", 10, true);
    a.side_times_ms = (0..10).rev().map(|i| T0 + i * 6_000).collect();
    a.flags = BTreeMap::from([("skewed".into(), 2), ("too_dark".into(), 1)]);
    a.rescans = 1;
    a.uploaded_ms = Some(T0 + 3_600_000);
    // 4 simplex sides: three 10 s apart (20 s, and one more: 30 s), then
    // a 1000 s pause and a side alone (no pace: nothing).
    let mut b = batch("ann", "s1", "2026-12-01", 4, false);
    let t1 = T0 + 10_000_000;
    b.side_times_ms = vec![t1, t1 + 10_000, t1 + 20_000, t1 + 1_020_000];
    b.flags = BTreeMap::from([("skewed".into(), 1)]);
    b.uploaded_ms = Some(t1 + 7_200_000);
    // 6 duplex sides 20 s apart: 100 s and 20 more.
    let mut c = batch("bob", "s2", "2026-12-02", 6, true);
    c.side_times_ms = (0..6).map(|i| T0 + 90_000_000 + i * 20_000).collect();
    vec![a, b, c]
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn scanning_time_leaves_pauses_out_and_counts_each_runs_first_side() {
    assert_eq!(scanning_secs(&[]), 0.0);
    assert_eq!(scanning_secs(&[T0]), 0.0);
    assert_eq!(scanning_secs(&[T0 + 6_000, T0]), 12.0);
    // Two runs of 3 sides 5 s apart, an hour apart: 15 s each.
    let t = [0, 5_000, 10_000, 3_600_000, 3_605_000, 3_610_000];
    assert_eq!(scanning_secs(&t.map(|x| T0 + x)), 30.0);
    // A gap of exactly the idle limit still counts.
    assert_eq!(scanning_secs(&[T0, T0 + IDLE_GAP_SECS * 1000]), 600.0);
}

#[test]
fn median_and_90th_percentile_by_nearest_rank() {
    let ten: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(median(&ten), Some(5.5));
    assert_eq!(percentile(&ten, 90.0), Some(9.0));
    assert_eq!(median(&[4.0]), Some(4.0));
    assert_eq!(percentile(&[4.0], 90.0), Some(4.0));
    assert_eq!(median(&[1.0, 2.0, 30.0]), Some(2.0));
    assert_eq!(percentile(&[1.0, 2.0, 30.0], 90.0), Some(30.0));
    assert_eq!(median(&[]), None);
    assert_eq!(percentile(&[], 90.0), None);
}

#[test]
fn figures_per_operator_as_computed_by_hand() {
    let rows = three_batches();
    let g = group(&rows, GroupBy::Operator, 2000);
    assert_eq!(g.len(), 2);
    let ann = &g[0];
    assert_eq!(ann.key, "ann");
    assert_eq!((ann.batches, ann.sheets, ann.sides), (2, 9, 14));
    assert_eq!(ann.scanning_secs, 90.0);
    assert!(close(ann.sheets_per_hour, 360.0));
    assert!(close(ann.sides_per_hour, 560.0));
    assert_eq!(ann.flags, 4);
    assert_eq!(ann.flags_by_code["skewed"], 3);
    assert!(close(ann.flags_per_1000_sides, 4000.0 / 14.0));
    assert!(close(
        ann.flags_per_1000_sides_by_code.get("skewed").copied(),
        3000.0 / 14.0
    ));
    assert!(close(
        ann.flags_per_1000_sides_by_code.get("too_dark").copied(),
        1000.0 / 14.0
    ));
    assert_eq!((ann.rescans, ann.sample_failures), (1, 0));
    assert_eq!(ann.uploaded_batches, 2);
    assert_eq!(ann.first_scan_to_upload_median_secs, Some(5400.0));
    assert_eq!(ann.first_scan_to_upload_p90_secs, Some(7200.0));
    assert_eq!(ann.station_days, 1);
    assert!(close(ann.sheets_per_station_day, 9.0));
    assert!(close(ann.percent_of_target, 0.45));
    let bob = &g[1];
    assert_eq!((bob.key.as_str(), bob.sheets, bob.sides), ("bob", 3, 6));
    assert!(close(bob.sheets_per_hour, 90.0));
    assert!(close(bob.flags_per_1000_sides, 0.0));
    assert!(bob.flags_per_1000_sides_by_code.is_empty());
    assert_eq!(bob.uploaded_batches, 0);
    assert_eq!(bob.first_scan_to_upload_median_secs, None);
    assert!(close(bob.percent_of_target, 0.15));
}

#[test]
fn totals_and_days_and_stations() {
    let rows = three_batches();
    let t = total(&rows, 2000);
    assert_eq!(
        (t.key.as_str(), t.batches, t.sheets, t.sides),
        ("all", 3, 12, 20)
    );
    assert_eq!(t.scanning_secs, 210.0);
    assert!(close(t.sheets_per_hour, 12.0 * 3600.0 / 210.0));
    assert_eq!(t.station_days, 2);
    assert!(close(t.sheets_per_station_day, 6.0));
    assert!(close(t.percent_of_target, 0.3));
    let days: Vec<_> = group(&rows, GroupBy::Day, 10)
        .into_iter()
        .map(|g| (g.key, g.sheets, g.percent_of_target))
        .collect();
    assert_eq!(
        days,
        [
            ("2026-12-01".to_string(), 9, Some(90.0)),
            ("2026-12-02".to_string(), 3, Some(30.0))
        ]
    );
    let stations: Vec<_> = group(&rows, GroupBy::Station, 10)
        .into_iter()
        .map(|g| (g.key, g.batches))
        .collect();
    assert_eq!(stations, [("s1".to_string(), 2), ("s2".to_string(), 1)]);
    // Nothing scanned: no rates, not zero ones.
    let none = total(&[], 2000);
    assert_eq!(
        (none.batches, none.sheets_per_hour, none.percent_of_target),
        (0, None, None)
    );
}

#[test]
fn dates_are_read_as_yyyy_mm_dd_and_refused_in_words() {
    let d = parse_date("--from", " 2026-12-01 ").unwrap();
    assert_eq!(day_text(d), "2026-12-01");
    for bad in [
        "2026-13-01",
        "2026-02-30",
        "1.12.2026",
        "2026-12-1",
        "",
        "２026-12-01",
    ] {
        let e = parse_date("--from", bad).unwrap_err().to_string();
        assert!(e.starts_with("--from '") && e.contains("YYYY-MM-DD"), "{e}");
    }
    let e = parse_date("From", "\u{1b}[2J").unwrap_err().to_string();
    assert!(e.contains("\\u{1b}") && !e.contains('\u{1b}'), "{e}");
}

#[test]
fn ranges_default_to_thirty_days_and_refuse_a_reversed_one() {
    let today = parse_date("t", "2026-12-07").unwrap();
    let r = DateRange::from_texts(None, None, today).unwrap();
    assert_eq!(
        (r.from_text().as_str(), r.to_text().as_str()),
        ("2026-11-08", "2026-12-07")
    );
    assert_eq!(r.days(), 30);
    assert_eq!(DateRange::last_days(today, 7).from_text(), "2026-12-01");
    assert_eq!(r.offset_of("2026-11-09"), Some(1));
    let e = DateRange::from_texts(Some(("--from", "2026-12-08")), None, today).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the range starts on 2026-12-08, after its last day 2026-12-07: give the earlier day first"
    );
    let long = DateRange::from_texts(Some(("--from", "2000-01-01")), None, today);
    assert!(matches!(long, Err(StatsError::TooLong { .. })));
}

#[test]
fn a_report_carries_its_range_grouping_and_target() {
    let rows = three_batches();
    let today = parse_date("t", "2026-12-07").unwrap();
    let r = report(
        &rows,
        DateRange::last_days(today, 7),
        GroupBy::Station,
        2000,
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["from"], "2026-12-01");
    assert_eq!(json["by"], "station");
    assert_eq!(json["groups"][1]["key"], "s2");
    assert_eq!(json["total"]["flags_by_code"]["skewed"], 3);
    assert_eq!(duration_words(5400.0), "1.5 h");
    assert_eq!(duration_words(30.0), "30 s");
    assert_eq!(duration_words(600.0), "10 min");
}
