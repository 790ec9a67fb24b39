//! Issue 14, case 10: `folio export --to DIR` never mixes one batch's files
//! with another's, never follows a link out of DIR, and leaves DIR complete or
//! absent. Through the real `folio` binary.

mod common;

use common::*;
use folio::batch::manifest::Manifest;
use folio::synth::StackSpec;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A small closed batch (two records, one side a sheet); returns its id.
fn batch(st: &Station, seed: u64) -> String {
    let spec = StackSpec {
        seed,
        records: 2,
        dpi: 150,
        duplex: false,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        drift: 0.0,
        target_first: false,
    };
    let stack = st.dir.path().join(format!("stack-{seed}"));
    write_stack(&spec, &stack, "pgm");
    let report = st.import(&["--dpi", "150"], &[&stack]);
    report["batch_id"].as_str().unwrap().to_string()
}

fn export(st: &Station, batch: &str, to: &Path) -> std::process::Output {
    st.run(&["export", batch, "--to", to.to_str().unwrap()])
}

fn manifest(dir: &Path) -> Manifest {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).unwrap()
}

/// File names under `dir/documents`.
fn documents(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir.join("documents"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The PDFs a manifest names, as file names.
fn named(m: &Manifest) -> BTreeSet<String> {
    m.records
        .iter()
        .flat_map(|r| &r.documents)
        .map(|d| d.pdf.path.trim_start_matches("documents/").to_string())
        .collect()
}

/// Every file under `dir` with its bytes (links listed as links, not followed).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<Vec<u8>>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let t = e.file_type().unwrap();
            if t.is_dir() {
                todo.push(e.path());
            } else if t.is_symlink() {
                out.push((e.path(), None));
            } else {
                out.push((e.path(), Some(std::fs::read(e.path()).unwrap())));
            }
        }
    }
    out.sort();
    out
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Nothing of ours is left beside the export (staging or replaced folders).
fn no_scratch_left(parent: &Path) {
    let left: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".folio-"))
        .collect();
    assert!(left.is_empty(), "left beside the export: {left:?}");
}

#[test]
fn another_batchs_export_in_the_folder_is_refused_and_left_untouched() {
    let st = Station::new();
    let (a, b) = (batch(&st, 1), batch(&st, 2));
    let to = st.dir.path().join("out");
    let first = export(&st, &a, &to);
    assert!(first.status.success(), "{}", stderr(&first));
    let before = snapshot(&to);

    let second = export(&st, &b, &to);
    assert!(
        !second.status.success(),
        "batch {b} was exported over batch {a}'s export: the folder now holds {:?} beside a manifest of {}",
        documents(&to),
        manifest(&to).batch.id
    );
    let msg = stderr(&second);
    assert!(msg.contains("not an earlier export of batch"), "{msg}");
    assert!(msg.contains(&a), "the message names the other batch: {msg}");
    assert_eq!(snapshot(&to), before, "batch {a}'s export changed");
    no_scratch_left(st.dir.path());
}

#[test]
fn a_folder_holding_other_files_is_refused() {
    let st = Station::new();
    let a = batch(&st, 3);
    let to = st.dir.path().join("mine");
    std::fs::create_dir_all(&to).unwrap();
    std::fs::write(to.join("notes.txt"), "the operator's own file").unwrap();
    let out = export(&st, &a, &to);
    assert!(
        !out.status.success(),
        "exported into a folder holding other files: now {:?}",
        snapshot(&to)
            .iter()
            .map(|(p, _)| p.clone())
            .collect::<Vec<_>>()
    );
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));
    assert_eq!(
        snapshot(&to),
        vec![(
            to.join("notes.txt"),
            Some(b"the operator's own file".to_vec())
        )]
    );
}

#[test]
fn exporting_the_same_batch_again_replaces_its_export_whole() {
    let st = Station::new();
    let a = batch(&st, 4);
    let to = st.dir.path().join("again");
    assert!(export(&st, &a, &to).status.success());
    // A PDF of a document that no longer exists (separated again since).
    let stale = "00000000-0000-0000-0000-000000000000.pdf";
    std::fs::write(to.join("documents").join(stale), b"%PDF-1.7 stale").unwrap();
    let out = export(&st, &a, &to);
    assert!(out.status.success(), "{}", stderr(&out));
    let m = manifest(&to);
    assert_eq!(m.batch.id, a);
    assert_eq!(
        documents(&to),
        named(&m),
        "the folder holds exactly the PDFs its manifest names"
    );
    assert_pdfs_valid(&m, &to);
    no_scratch_left(st.dir.path());
    // An empty folder is a fine target too.
    let empty = st.dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = export(&st, &a, &empty);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(documents(&empty), named(&manifest(&empty)));
}

#[test]
fn a_target_that_is_a_symlink_is_refused_and_nothing_lands_behind_it() {
    let st = Station::new();
    let a = batch(&st, 5);
    let elsewhere = st.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let link = st.dir.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
    let out = export(&st, &a, &link);
    assert!(
        !out.status.success(),
        "exported through a symbolic link into {}: {:?}",
        elsewhere.display(),
        snapshot(&elsewhere)
    );
    assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
    assert!(
        snapshot(&elsewhere).is_empty(),
        "files written behind the link"
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_link_inside_an_earlier_export_is_not_followed() {
    let st = Station::new();
    let a = batch(&st, 6);
    let to = st.dir.path().join("linked");
    assert!(export(&st, &a, &to).status.success());
    // Someone swaps documents/ for a link to a folder of their own.
    let outside = st.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), "not Folio's").unwrap();
    std::fs::remove_dir_all(to.join("documents")).unwrap();
    std::os::unix::fs::symlink(&outside, to.join("documents")).unwrap();
    let before = snapshot(&outside);
    let out = export(&st, &a, &to);
    assert!(
        !out.status.success(),
        "exported through documents/ -> outside"
    );
    assert!(stderr(&out).contains("documents"), "{}", stderr(&out));
    assert_eq!(snapshot(&outside), before, "files written through the link");
}

#[test]
fn a_failed_export_leaves_no_folder() {
    let st = Station::new();
    let a = batch(&st, 7);
    // A disk too small for the PDFs: the export fails part-way.
    let small = st.dir.path().join("small");
    let _disk = Tmpfs::mount(&small, "size=48k");
    let to = small.join("out");
    let out = export(&st, &a, &to);
    assert!(!out.status.success(), "the export fitted in 48 KiB");
    assert!(stderr(&out).contains("is full"), "{}", stderr(&out));
    assert!(
        !to.exists(),
        "a failed export left {} holding {:?}",
        to.display(),
        snapshot(&to)
    );
    no_scratch_left(&small);
}
