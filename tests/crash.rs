//! Crash safety: SIGKILL the importer at many points; the cache stays intact, every
//! committed page's file matches its hash, and `--resume` completes the batch
//! with every side exactly once.

mod common;

use common::*;
use folio::synth::StackSpec;
use rusqlite::Connection;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

fn check_cache(data: &std::path::Path) -> Option<(String, u32)> {
    // Killed before the data folder was made: nothing scanned, nothing to resume.
    if !data.exists() {
        return None;
    }
    let conn = Connection::open(data.join("folio.sqlite3")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    // Killed before the schema's first migration committed: an empty
    // database, nothing scanned, nothing to resume.
    let tables: u32 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'pages'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    if tables == 0 {
        return None;
    }
    let mut stmt = conn
        .prepare("SELECT image_sha256 FROM pages WHERE image_sha256 IS NOT NULL")
        .unwrap();
    let shas: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for sha in &shas {
        let path = data.join("images").join(&sha[..2]).join(&sha[2..]);
        let bytes = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("committed page file {} missing: {e}", path.display()));
        assert_eq!(
            &folio::store::sha256_hex(&bytes),
            sha,
            "file matches its hash"
        );
    }
    conn.query_row(
        "SELECT id, (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.id) FROM batches b",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .ok()
}

/// Sides committed so far in a station's cache, read while the importer
/// writes (0 before the database or its schema exists).
fn committed(data: &std::path::Path) -> u32 {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    Connection::open_with_flags(data.join("folio.sqlite3"), flags)
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM pages", [], |r| r.get(0)))
        .unwrap_or(0)
}

#[test]
fn sigkill_at_twenty_points_then_resume_loses_and_duplicates_nothing() {
    let work = tempfile::tempdir().unwrap();
    let spec = StackSpec {
        seed: 3,
        records: 3,
        dpi: 150,
        duplex: true,
        ..Default::default()
    };
    let stack = work.path().join("stack");
    let truth = write_stack(&spec, &stack, "pgm");
    let mut resumed = 0;
    for i in 0..20u32 {
        let st = Station::new();
        let mut child = st
            .cmd()
            .args(["import", "--duplex", "--json"])
            .arg(&stack)
            .spawn()
            .unwrap();
        // Kill points spread over the import by progress, not by time: once
        // this many sides are committed (or the import ended by itself).
        let kill_after = ((i * 7919) % 20) * truth.sides / 20;
        let deadline = Instant::now() + Duration::from_secs(120);
        while committed(&st.data_dir()) < kill_after && child.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "iteration {i}: {kill_after} sides never committed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL
        child.wait().unwrap();
        let Some((batch, stored)) = check_cache(&st.data_dir()) else {
            continue;
        };
        if !finished && stored < truth.sides {
            let report = st.import(&["--resume", &batch], &[&stack]);
            assert_eq!(report["batch_id"], batch.as_str());
            assert_eq!(
                report["stored_now"].as_u64().unwrap() + report["already_stored"].as_u64().unwrap(),
                truth.sides as u64
            );
            resumed += 1;
        } else if !finished && st.json(&["batches", "--json"])[0]["state"] == "scanning" {
            // Killed after the last side but before separation: resume separates.
            // (Killed after separation committed, there is nothing to resume.)
            st.import(&["--resume", &batch], &[&stack]);
        }
        let (_, stored) = check_cache(&st.data_dir()).unwrap();
        assert_eq!(stored, truth.sides, "iteration {i}: every side once");
        let conn = Connection::open(st.data_dir().join("folio.sqlite3")).unwrap();
        let sides: BTreeSet<u32> = conn
            .prepare("SELECT side FROM pages")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            sides,
            (0..truth.sides).collect(),
            "iteration {i}: sides 0..n"
        );
        let (m, _) = st.export(&batch);
        assert_matches_truth(&m, &truth);
    }
    assert!(
        resumed >= 10,
        "most kills should land mid-import (resumed {resumed} of 20)"
    );
}
