//! A station with accounts whose batches go from scan to verified upload,
//! for the tests of the paper's life (tests/destruction*.rs): an admin, an
//! operator who scans, a supervisor who samples, approves and authorises,
//! and a witness.
#![allow(dead_code)]

use super::Station;
use super::fhir_server::FhirServer;
use serde_json::Value;
use std::process::{Command, Output};

pub const ADMIN: (&str, &str) = ("a.admin", "246810");
pub const OPERATOR: (&str, &str) = ("j.op", "135790");
pub const SUPERVISOR: (&str, &str) = ("m.sup", "112233");
pub const WITNESS: (&str, &str) = ("w.wit", "778899");

pub fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `folio ARGS` as `who`, at the moment `now` (RFC 3339) when given.
pub fn as_who(st: &Station, who: Option<(&str, &str)>, now: Option<&str>, args: &[&str]) -> Output {
    let mut c: Command = st.cmd();
    c.env_remove("FOLIO_PIN").env_remove("FOLIO_NEW_PIN");
    if let Some((id, pin)) = who {
        c.args(["--operator", id]).env("FOLIO_PIN", pin);
    }
    if let Some(t) = now {
        c.env("FOLIO_TEST_NOW", t);
    }
    c.args(args).output().unwrap()
}

pub fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", said(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A station with accounts (an admin, an operator, a supervisor and a
/// witness) that uploads to `server`.
pub fn station(server: &FhirServer) -> Station {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!(
            "[upload]\nfhir_url = \"{}\"\nretry_base_ms = 20\nretry_max_ms = 100\nmax_attempts = 3\ntimeout_secs = 5\n[retention]\narchive_days = 30\n",
            server.base
        ),
    )
    .unwrap();
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", ADMIN.1).args([
        "operators",
        "init",
        "--id",
        ADMIN.0,
        "--name",
        "Ann Admin",
    ]);
    ok(c.output().unwrap());
    for ((id, pin), role, name) in [
        (OPERATOR, "operator", "Jo Operator"),
        (SUPERVISOR, "supervisor", "Siân O'Connor"),
        (WITNESS, "operator", "Will Witness"),
    ] {
        let mut c = st.cmd();
        c.args(["--operator", ADMIN.0])
            .env("FOLIO_PIN", ADMIN.1)
            .env("FOLIO_NEW_PIN", pin)
            .args([
                "operators",
                "add",
                "--id",
                id,
                "--name",
                name,
                "--role",
                role,
            ]);
        ok(c.output().unwrap());
    }
    st
}

/// Scans `records` records on the demo feeder (test target first) as the
/// operator; the closed batch's id.
pub fn scan(st: &Station, records: u32) -> String {
    let r = format!("records={records}");
    let out = ok(as_who(
        st,
        Some(OPERATOR),
        None,
        &[
            "scan",
            "--device",
            "folio:demo",
            "--option",
            &r,
            "--option",
            "speed=0",
            "--option",
            "target=yes",
            "--json",
        ],
    ));
    let v: Value = serde_json::from_str(&out).unwrap();
    v["batch_id"].as_str().unwrap().to_string()
}

/// The supervisor samples (every drawn side passes), approves and uploads.
pub fn sample_approve_upload(st: &Station, batch: &str) {
    let drawn: Value = serde_json::from_str(&ok(as_who(
        st,
        Some(SUPERVISOR),
        None,
        &["sample", batch, "--draw", "--json"],
    )))
    .unwrap();
    let mut args = vec!["sample".to_string(), batch.to_string()];
    for s in drawn["sample"]["sides"].as_array().unwrap() {
        args.extend(["--pass".to_string(), s.to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(as_who(st, Some(SUPERVISOR), None, &refs));
    ok(as_who(
        st,
        Some(SUPERVISOR),
        None,
        &[
            "approve",
            batch,
            "--accept-flags",
            "--reason",
            "generated stack",
        ],
    ));
    ok(as_who(st, Some(SUPERVISOR), None, &["upload"]));
}

/// A moment `days` after now, RFC 3339.
pub fn days_on(days: i64) -> String {
    (time::OffsetDateTime::now_utc() + time::Duration::days(days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
