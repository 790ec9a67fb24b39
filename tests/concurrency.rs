//! Processes sharing one data folder (issue 14, cases 1 and 2): several
//! `folio` processes at once, not threads in one process.

mod common;

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
