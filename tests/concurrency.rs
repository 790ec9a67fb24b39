//! Processes sharing one data folder (issue 14, cases 1 and 2): several
//! `folio` processes at once, not threads in one process.

mod common;

use common::fhir_server::FhirServer;
use common::*;
use folio::synth::StackSpec;
use std::process::{Child, Stdio};

fn small_stack(dir: &std::path::Path) {
    write_stack(
        &StackSpec {
            records: 1,
            dpi: 100,
            duplex: false,
            max_skew_deg: 0.0,
            ..StackSpec::default()
        },
        dir,
        "pgm",
    );
}

/// Starts `n` copies of a command at once; waits for all; returns their outputs.
fn all_at_once(st: &Station, n: usize, args: &[&str]) -> Vec<std::process::Output> {
    let children: Vec<Child> = (0..n)
        .map(|_| {
            st.cmd()
                .args(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn folio")
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().expect("wait"))
        .collect()
}

#[test]
fn case_2_first_runs_started_together_share_one_schema() {
    for round in 0..3 {
        let st = Station::new();
        let stack = st.dir.path().join("stack");
        small_stack(&stack);
        let runs = all_at_once(&st, 4, &["import", "--json", stack.to_str().unwrap()]);
        for (i, out) in runs.iter().enumerate() {
            assert!(
                out.status.success(),
                "round {round}, import {i} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let batches = st.json(&["batches", "--json"]);
        assert_eq!(batches.as_array().map(Vec::len), Some(4), "round {round}");
        st.ok(&["check"]);
    }
}

#[test]
fn case_1_uploads_started_together_send_each_record_once() {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let mut batches = Vec::new();
    for seed in [3, 4] {
        let stack = st.dir.path().join(format!("stack-{seed}"));
        write_stack(
            &StackSpec {
                seed,
                records: 2,
                dpi: 100,
                duplex: false,
                max_skew_deg: 0.0,
                ..StackSpec::default()
            },
            &stack,
            "pgm",
        );
        let id = st.import(&[], &[&stack])["batch_id"]
            .as_str()
            .unwrap()
            .to_string();
        approve_as_is(&st, &id);
        batches.push(id);
    }
    let server = FhirServer::start();
    // Slow enough that the senders overlap.
    server.with(|s| {
        s.capture = true;
        s.throttle_bytes_per_sec = Some(400_000);
    });
    let runs = all_at_once(&st, 4, &["upload", "--fhir", &server.base]);
    for (i, out) in runs.iter().enumerate() {
        assert!(
            out.status.success(),
            "upload {i} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let said: String = runs
        .iter()
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    // Each record's Bundle arrived once: one POST per SubmissionSet.
    let lists: Vec<String> = server.with(|s| {
        s.bundles
            .iter()
            .map(|b| b["entry"][0]["resource"]["identifier"][0]["value"].to_string())
            .collect()
    });
    let mut unique = lists.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(lists.len(), unique.len(), "a record sent twice:\n{said}");
    let mut records = 0;
    for b in &batches {
        let (m, _) = st.export(b);
        records += m.records.len();
    }
    assert_eq!(lists.len(), records, "every record sent:\n{said}");
    assert!(server.with(|s| s.invalid.is_empty()));
    let rows = st.json(&["upload", "--list", "--json"]);
    for r in rows.as_array().unwrap() {
        assert_eq!(r["state"], "done", "{r}");
    }
}
