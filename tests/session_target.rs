//! The session test target wired into scanning (issue 17, item 3): the first
//! sheet of each scanning session (a sign-in, a device, a profile) is Folio's
//! test target; it is measured as it is stored, its result is kept on the
//! session and audited, and sides from a session without a passing target
//! are flagged `no_session_target` at a station with accounts (or refused
//! approval, where the station says so). Real binary, real SQLite file; the
//! target scans are generated (sharp, blurred with sigma 3 at 300 dpi, too
//! dark).

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::synth::StackSpec;
use folio::synth::target::{Faults, scan};
use std::path::{Path, PathBuf};
use std::process::Output;

const ADMIN: (&str, &str) = ("a.admin", "246810");
const OPERATOR: (&str, &str) = ("j.op", "135790");
const SUPERVISOR: (&str, &str) = ("m.sup", "112233");

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn as_who(st: &Station, (id, pin): (&str, &str), args: &[&str]) -> Output {
    let mut c = st.cmd();
    c.args(["--operator", id]).env("FOLIO_PIN", pin);
    c.args(args).output().unwrap()
}

/// A station with accounts (an admin, an operator, a supervisor) and
/// `config` in its config.toml.
fn accounted(config: &str) -> Station {
    let st = Station::new();
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", ADMIN.1);
    c.args(["operators", "init", "--id", ADMIN.0, "--name", "Ann Admin"]);
    assert!(c.output().unwrap().status.success());
    for ((id, pin), role) in [(OPERATOR, "operator"), (SUPERVISOR, "supervisor")] {
        let mut c = st.cmd();
        c.args(["--operator", ADMIN.0])
            .env("FOLIO_PIN", ADMIN.1)
            .env("FOLIO_NEW_PIN", pin);
        c.args(["operators", "add", "--id", id, "--name", id, "--role", role]);
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", said(&out));
    }
    std::fs::write(st.data_dir().join("config.toml"), config).unwrap();
    st
}

/// A stack of two records at 300 dpi in `name`, after a scan of the test
/// target with `target` faults (none: no target).
fn stack(st: &Station, name: &str, target: Option<Faults>) -> PathBuf {
    let dir = st.dir.path().join(name);
    write_stack(
        &StackSpec {
            records: 2,
            dpi: 300,
            max_skew_deg: 0.0,
            ..Default::default()
        },
        &dir,
        "pgm",
    );
    if let Some(faults) = target {
        // Named to sort before the stack's `side-NNNN` files.
        let page = scan(300, &faults, &mut TextPainter::new());
        write_page(&dir.join("0-target"), &page, "pgm");
    }
    dir
}

/// Imports `dir` as j.op; the report.
fn import(st: &Station, dir: &Path) -> serde_json::Value {
    let out = as_who(
        st,
        OPERATOR,
        &["import", "--json", "--dpi", "300", dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", said(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Every flag of a batch as (code, detail, side).
fn flags(st: &Station, batch: &str) -> Vec<(String, String, Option<u64>)> {
    fn walk(v: &serde_json::Value, out: &mut Vec<(String, String, Option<u64>)>) {
        match v {
            serde_json::Value::Object(m) => {
                if let (Some(code), Some(detail)) = (m.get("code"), m.get("detail")) {
                    out.push((
                        code.as_str().unwrap_or_default().to_string(),
                        detail.as_str().unwrap_or_default().to_string(),
                        m.get("side").and_then(|s| s.as_u64()),
                    ));
                }
                m.values().for_each(|v| walk(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&st.json(&["show", batch, "--json"]), &mut out);
    out
}

fn no_target_flags(st: &Station, batch: &str) -> Vec<(String, String, Option<u64>)> {
    flags(st, batch)
        .into_iter()
        .filter(|(code, ..)| code == "no_session_target")
        .collect()
}

fn id(report: &serde_json::Value) -> String {
    report["batch_id"].as_str().unwrap().to_string()
}

const NO_SAMPLING: &str = "[sampling]\nrequired = false\n";

#[test]
fn a_passing_target_proves_its_session_and_sides_without_one_are_flagged() {
    let st = accounted(NO_SAMPLING);
    let sharp = Faults {
        noise_sigma: 3.0,
        seed: 7,
        ..Faults::default()
    };
    // A sharp target first: the session passes, the target is no page.
    let good = import(&st, &stack(&st, "good", Some(sharp)));
    let target = &good["session"]["target"];
    assert_eq!(target["passed"], true, "{good:#}");
    assert!(
        target["summary"]
            .as_str()
            .unwrap()
            .contains("needs 4.0 lp/mm at 300 dpi"),
        "{target}"
    );
    assert_eq!(good["session"]["operator"], OPERATOR.0);
    assert_eq!(good["session"]["role"], "operator");
    assert_eq!(good["session"]["device"], "import");
    let good_id = id(&good);
    assert!(no_target_flags(&st, &good_id).is_empty());
    assert_eq!(good["records"], 2, "the target starts no record: {good:#}");
    let tree = st.json(&["show", &good_id, "--json"]);
    assert!(
        tree["removed"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["side"] == 0 && r["reason"] == "control_sheet"),
        "the target is listed as removed: {tree:#}"
    );

    // No target: every side of that session is unproven; one flag says so.
    let none = import(&st, &stack(&st, "none", None));
    assert!(none["session"]["target"].is_null(), "{none:#}");
    let flagged = no_target_flags(&st, &id(&none));
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let (_, detail, side) = &flagged[0];
    assert_eq!(*side, Some(0));
    assert!(
        detail.contains("no passing test target") && detail.contains("j.op on import"),
        "{detail}"
    );

    failing_targets_are_measured_and_flag_their_sessions(&st);
    // The sessions, newest first, with their verdicts; the audit has them.
    let sessions = st.json(&["sessions", "--json"]);
    let verdicts: Vec<serde_json::Value> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["target"]["passed"].clone())
        .collect();
    assert_eq!(
        verdicts,
        [
            serde_json::json!(false),
            serde_json::json!(false),
            serde_json::Value::Null,
            serde_json::json!(true)
        ]
    );
    let text = st.ok(&["sessions", &good_id]);
    assert!(
        text.contains("j.op (operator)") && text.contains("target passed"),
        "{text}"
    );
    let audit = st.ok(&["audit"]);
    assert_eq!(audit.matches("\tsession.start\t").count(), 4, "{audit}");
    assert_eq!(audit.matches("\tsession.target\t").count(), 3, "{audit}");
    assert!(audit.contains("j.op (operator)\tsession.target"), "{audit}");

    // By default the flag is a flag: a supervisor may accept it, with a reason.
    let out = as_who(
        &st,
        SUPERVISOR,
        &[
            "approve",
            &id(&none),
            "--accept-flags",
            "--reason",
            "pages looked at",
        ],
    );
    assert!(out.status.success(), "{}", said(&out));
}

/// A blurred target (sigma 3 at 300 dpi) and a too-dark one are measured as
/// the target, fail, and leave their sessions unproven.
fn failing_targets_are_measured_and_flag_their_sessions(st: &Station) {
    for (name, faults, words) in [
        (
            "blurred",
            Faults {
                blur_sigma_px: 3.0,
                noise_sigma: 2.0,
                ..Faults::default()
            },
            "lp/mm needed at 300 dpi",
        ),
        (
            "dark",
            Faults {
                darken: 60,
                noise_sigma: 2.0,
                ..Faults::default()
            },
            "too dark",
        ),
    ] {
        let r = import(st, &stack(st, name, Some(faults)));
        let t = &r["session"]["target"];
        assert_eq!(t["passed"], false, "{name}: {r:#}");
        let failures = t["failures"].to_string();
        assert!(failures.contains(words), "{name}: {failures}");
        assert_eq!(r["records"], 2, "{name}: the failed target is no page");
        assert_eq!(no_target_flags(st, &id(&r)).len(), 1, "{name}");
    }
}

#[test]
fn a_station_that_blocks_unproven_sessions_refuses_their_batches_outright() {
    let st = accounted(&format!(
        "{NO_SAMPLING}[session_target]\nblock_approval = true\n"
    ));
    let none = id(&import(&st, &stack(&st, "none", None)));
    let out = as_who(
        &st,
        SUPERVISOR,
        &["approve", &none, "--accept-flags", "--reason", "urgent"],
    );
    assert!(!out.status.success());
    assert!(
        said(&out).contains("no passing test target")
            && said(&out).contains("folio sheets --target"),
        "{}",
        said(&out)
    );
    let sharp = Faults {
        noise_sigma: 3.0,
        ..Faults::default()
    };
    let good = id(&import(&st, &stack(&st, "good", Some(sharp))));
    let out = as_who(
        &st,
        SUPERVISOR,
        &["approve", &good, "--accept-flags", "--reason", "test stack"],
    );
    assert!(out.status.success(), "{}", said(&out));
}

#[test]
fn a_station_without_accounts_records_sessions_but_asks_for_no_target() {
    let st = Station::new();
    let dir = stack(&st, "none", None);
    // The target's barcode alone, printed on a page that is not the target.
    let spec = StackSpec {
        dpi: 300,
        max_skew_deg: 0.0,
        ..Default::default()
    };
    let copied = folio::synth::SideKind::DocSheet {
        code: "FOLIO:TARGET:1".into(),
        words: vec!["a copied barcode".into()],
    };
    let page = folio::synth::render(&copied, &spec, 5, &mut TextPainter::new());
    write_page(&dir.join("0-copied"), &page, "pgm");
    let r = st.import(&["--dpi", "300"], &[&dir]);
    assert!(no_target_flags(&st, &id(&r)).is_empty());
    let copied: Vec<_> = flags(&st, &id(&r))
        .into_iter()
        .filter(|(_, detail, _)| detail.contains("is not the test target"))
        .collect();
    assert_eq!(copied.len(), 1, "{copied:?}");
    assert_eq!(copied[0].0, "unreadable_control_sheet");
    assert_eq!(copied[0].2, Some(0));
    let sessions = st.json(&["sessions", "--json"]);
    assert_eq!(sessions.as_array().unwrap().len(), 1);
    assert_eq!(sessions[0]["operator"], "tester");
    assert_eq!(sessions[0]["sides"], r["sides"]);
    // The copied barcode was measured as a target, and failed.
    let listed = st.ok(&["sessions"]);
    assert!(listed.contains("target FAILED"), "{listed}");
}

/// A supervisor who did not scan `batch` draws its sample and passes it.
fn pass_the_sample(st: &Station, batch: &str) {
    let drawn = as_who(st, SUPERVISOR, &["sample", batch, "--draw", "--json"]);
    assert!(drawn.status.success(), "{}", said(&drawn));
    let sample = st.json(&["sample", batch, "--json"]);
    let mut args = vec!["sample".to_string(), batch.to_string()];
    for side in sample["sample"]["sides"].as_array().unwrap() {
        args.extend(["--pass".into(), side.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let judged = as_who(st, SUPERVISOR, &args);
    assert!(judged.status.success(), "{}", said(&judged));
}

#[test]
fn every_document_carries_its_provenance_in_manifest_2_and_show_reads_both_versions() {
    let st = accounted("");
    let sharp = Faults {
        noise_sigma: 3.0,
        ..Faults::default()
    };
    let batch = id(&import(&st, &stack(&st, "good", Some(sharp))));
    pass_the_sample(&st, &batch);

    let dir = st.dir.path().join("export");
    let out = as_who(
        &st,
        OPERATOR,
        &["export", &batch, "--to", dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", said(&out));
    common::pdfa::assert_pdfa_1b(&common::pdfa::pdfs_under(&dir));
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    let m: folio::batch::manifest::Manifest = serde_json::from_str(&text).unwrap();
    assert_eq!(m.format, "folio.manifest/2");
    let docs: Vec<_> = m.records.iter().flat_map(|r| &r.documents).collect();
    assert!(!docs.is_empty());
    for d in docs {
        let p = d.provenance.as_ref().expect("provenance");
        assert_eq!(
            (p.pages, p.sha256.as_str()),
            (d.pdf.pages, d.pdf.sha256.as_str())
        );
        assert_eq!(p.station, "test-station");
        assert!(!p.captured_from.is_empty() && p.captured_from <= p.captured_to);
        let [s] = p.sessions.as_slice() else {
            panic!("one session: {:?}", p.sessions)
        };
        assert_eq!(
            (s.operator.as_str(), s.role.as_deref()),
            ("j.op", Some("operator"))
        );
        assert_eq!(
            (s.device.as_str(), s.model.as_str()),
            ("import", "image files")
        );
        assert_eq!(s.settings["dpi"], 300);
        let t = s.target.as_ref().expect("the session's target");
        assert!(t.passed && t.summary.contains("lp/mm"), "{t:?}");
        let sample = p.sample.as_ref().expect("the sample");
        assert_eq!(
            (sample.result.as_str(), sample.by.as_deref()),
            ("passed", Some(SUPERVISOR.0))
        );
    }
    // `folio show` reads it, from the folder or the file.
    let shown = st.ok(&["show", dir.to_str().unwrap()]);
    assert!(
        shown.starts_with("folio.manifest/2 of batch")
            && shown.contains("scanned by j.op (operator) on import (")
            && shown.contains("test target passed")
            && shown.contains("sample 1 passed"),
        "{shown}"
    );
    // A version-1 manifest (no provenance) still reads; an unknown one is
    // refused in words.
    let mut v1: serde_json::Value = serde_json::from_str(&text).unwrap();
    v1["format"] = "folio.manifest/1".into();
    for r in v1["records"].as_array_mut().unwrap() {
        for d in r["documents"].as_array_mut().unwrap() {
            d.as_object_mut().unwrap().remove("provenance");
        }
    }
    let old = st.dir.path().join("v1.json");
    std::fs::write(&old, v1.to_string()).unwrap();
    let shown = st.ok(&["show", old.to_str().unwrap()]);
    assert!(shown.starts_with("folio.manifest/1 of batch") && !shown.contains("scanned by"));
    v1["format"] = "folio.manifest/9".into();
    std::fs::write(&old, v1.to_string()).unwrap();
    let out = st.run(&["show", old.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        said(&out).contains("reads folio.manifest/1 and folio.manifest/2"),
        "{}",
        said(&out)
    );
}
