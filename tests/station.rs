//! The station's workers as the window uses them (issue 15): the store actor
//! answers review commands while a long scan runs, and shutting the station
//! down mid-scan returns promptly and leaves a batch that resumes to the end.

mod common;

use common::*;
use folio::config::Config;
use folio::store::{Actor, ReviewKind};
use folio::synth::StackSpec;
use folio::workers::station::{self, Command, Event, ScanRequest, Snapshot, Station as Workers};
use std::time::{Duration, Instant};

/// The tests here take turns: each runs a scan flat out on two cores.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// SANE in this process sees only its `test` and `pnm` backends.
fn sane_env(st: &Station) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let dir = st.sane_dir();
    ONCE.call_once(|| {
        let keep = std::env::temp_dir().join(format!("folio-station-sane-{}", std::process::id()));
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(dir.join("dll.conf"), keep.join("dll.conf")).unwrap();
        // SAFETY: set once, by a test holding its turn, before it starts any
        // worker thread of this process.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", &keep) };
    });
}

fn workers(st: &Station) -> Workers {
    sane_env(st);
    let data = st.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    let cfg = Config::load(&data).unwrap();
    let actor = Actor {
        station: "test-station".into(),
        operator: "supervisor".into(),
        role: None,
    };
    station::spawn(data, cfg, actor, false, std::sync::Arc::new(|| {})).unwrap()
}

/// Waits for an event the test wants, keeping the latest snapshot.
fn until<T>(
    w: &Workers,
    latest: &mut Snapshot,
    within: Duration,
    mut want: impl FnMut(&Event, &Snapshot) -> Option<T>,
) -> T {
    let end = Instant::now() + within;
    while Instant::now() < end {
        let Ok(e) = w.events.recv_timeout(Duration::from_millis(50)) else {
            continue;
        };
        if let Event::Snapshot(s) = &e {
            *latest = (**s).clone();
        }
        if let Event::Error(err) = &e {
            eprintln!("station error: {err}");
        }
        if let Some(t) = want(&e, latest) {
            return t;
        }
    }
    panic!("not seen within {within:?}");
}

fn open_flags(s: &Snapshot) -> Vec<i64> {
    s.review
        .iter()
        .filter_map(|i| match &i.kind {
            ReviewKind::Flag { id, .. } => Some(*id),
            _ => None,
        })
        .collect()
}

/// The demo feeder with `records` folders, flat out: some 500 sides for 40.
fn demo_scan(records: u32, resume: Option<String>) -> Command {
    Command::Scan(ScanRequest {
        device: "folio:demo".into(),
        options: vec![
            ("records".into(), records.to_string()),
            ("speed".into(), "0".into()),
        ],
        label: Some("long demo batch".into()),
        resume,
        ..ScanRequest::default()
    })
}

#[test]
fn a_flag_is_approved_within_200_ms_while_a_500_side_scan_runs() {
    let _turn = one_at_a_time();
    let (st, reviewed) = imported_station("", &StackSpec::default());
    let w = workers(&st);
    let mut snap = Snapshot::default();
    let flags = until(&w, &mut snap, Duration::from_secs(30), |_, s| {
        Some(open_flags(s)).filter(|f| f.len() >= 2)
    });
    w.send(demo_scan(40, None)).unwrap();
    let token = until(&w, &mut snap, Duration::from_secs(30), |e, _| match e {
        Event::ScanStarted(t) => Some(t.clone()),
        _ => None,
    });
    // The scan is well under way: sides are being stored.
    until(&w, &mut snap, Duration::from_secs(60), |e, _| match e {
        Event::Progress(p) if p.sides >= 20 => Some(()),
        _ => None,
    });
    let mut answered = Vec::new();
    for flag in &flags[..2] {
        let asked = Instant::now();
        w.send(Command::ApproveFlag(*flag)).unwrap();
        until(&w, &mut snap, Duration::from_secs(60), |e, s| {
            assert!(
                !matches!(e, Event::ScanEnded(_)),
                "the scan ended before the approval was answered"
            );
            matches!(e, Event::Snapshot(_))
                .then_some(())
                .filter(|_| !open_flags(s).contains(flag))
        });
        answered.push(asked.elapsed());
    }
    let running = until(&w, &mut snap, Duration::from_secs(5), |e, _| match e {
        Event::Progress(p) => Some(p.sides),
        _ => None,
    });
    assert!(running < 500, "the scan is still going ({running} sides)");
    eprintln!("approvals answered during the scan in {answered:?}");
    for (i, t) in answered.iter().enumerate() {
        assert!(
            *t < Duration::from_millis(200),
            "approval {i} of a flag of batch {reviewed} took {t:?} during the scan (all: {answered:?})"
        );
    }
    token.cancel();
    let stopped = until(&w, &mut snap, Duration::from_secs(30), |e, _| match e {
        Event::ScanEnded(r) => Some(r.is_err()),
        _ => None,
    });
    assert!(stopped, "a stopped scan is not a finished one");
}

#[test]
fn shutting_down_mid_scan_returns_within_2_s_and_the_batch_resumes_to_the_end() {
    let _turn = one_at_a_time();
    let st = Station::new();
    let mut w = workers(&st);
    let mut snap = Snapshot::default();
    w.send(demo_scan(6, None)).unwrap();
    let kept = until(&w, &mut snap, Duration::from_secs(60), |e, _| match e {
        Event::Progress(p) if p.sides >= 10 => Some(p.sides),
        _ => None,
    });
    let asked = Instant::now();
    let busy = w.shutdown();
    let took = asked.elapsed();
    eprintln!("shutdown after {kept} sides took {took:?}");
    assert!(busy.is_empty(), "threads still running: {busy:?}");
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    drop(w);

    let batches = st.json(&["batches", "--json"]);
    let b = &batches.as_array().unwrap()[0];
    assert_eq!(b["state"], "scanning", "{b}");
    let id = b["id"].as_str().unwrap().to_string();
    let sides = b["sides"].as_u64().unwrap();
    assert!(sides >= kept as u64, "{sides} sides kept, {kept} reported");

    // The same stack from where it stopped, to the end, from the command line.
    let demo = [
        "--device",
        "folio:demo",
        "--option",
        "records=6",
        "--option",
        "speed=0",
        "--json",
    ];
    let done = st.json(&[&["scan", "--resume", &id][..], &demo].concat());
    assert_eq!(done["batch_id"], id.as_str());
    let whole = Station::new();
    let fresh = whole.json(&[&["scan"][..], &demo].concat());
    assert_eq!(done["records"], fresh["records"], "{done}\n{fresh}");
    assert_eq!(done["documents"], fresh["documents"], "{done}\n{fresh}");
    assert_eq!(
        sides_of(&st, &id),
        sides_of(&whole, fresh["batch_id"].as_str().unwrap()),
        "the resumed batch holds the whole stack"
    );
}

fn sides_of(st: &Station, id: &str) -> u64 {
    let batches = st.json(&["batches", "--json"]);
    batches
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == id)
        .and_then(|b| b["sides"].as_u64())
        .unwrap()
}
