//! `folio operators` run as a person would, through the real binary and a real
//! SQLite file: the first admin made once, accounts managed by an admin only,
//! a wrong PIN counted and five of them locking the account, every step in
//! the audit trail. (Issue 17, first part: the accounts; the window's sign-in
//! and the roles on every command follow.)

mod common;

use common::*;
use std::process::Output;

/// `folio operators ...` as `who` (none: no --operator), with `pin` as
/// FOLIO_PIN and `new_pin` as FOLIO_NEW_PIN.
fn operators(
    st: &Station,
    who: Option<&str>,
    pin: Option<&str>,
    new_pin: Option<&str>,
    args: &[&str],
) -> Output {
    let mut c = st.cmd();
    c.env_remove("FOLIO_PIN").env_remove("FOLIO_NEW_PIN");
    if let Some(w) = who {
        c.args(["--operator", w]);
    }
    if let Some(p) = pin {
        c.env("FOLIO_PIN", p);
    }
    if let Some(p) = new_pin {
        c.env("FOLIO_NEW_PIN", p);
    }
    c.arg("operators").args(args);
    c.output().unwrap()
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", said(&out));
    said(&out)
}

fn refused(out: Output, words: &str) {
    assert!(!out.status.success(), "not refused: {}", said(&out));
    assert!(
        said(&out).contains(words),
        "{words:?} not in: {}",
        said(&out)
    );
}

/// A station with its first admin, a.admin (PIN 246810).
fn station() -> Station {
    let st = Station::new();
    let init = ["init", "--id", "a.admin", "--name", "Ann Admin"];
    ok(operators(&st, None, None, Some("246810"), &init));
    st
}

/// Each account's id and role, as `folio operators list --json` gives them.
fn roles(st: &Station) -> Vec<(String, String)> {
    let list = st.json(&["operators", "list", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_string(),
                o["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_first_admin_is_made_once_and_then_only_an_admin_adds_accounts() {
    let st = Station::new();
    let listed = ok(operators(&st, None, None, None, &["list"]));
    assert!(listed.contains("folio operators init"), "{listed}");
    // Without a PIN, nothing is made.
    let init = ["init", "--id", "a.admin", "--name", "Ann Admin"];
    refused(operators(&st, None, None, None, &init), "FOLIO_NEW_PIN");
    refused(operators(&st, None, None, Some("123"), &init), "at least 6");
    ok(operators(&st, None, None, Some("246810"), &init));
    let again = ["init", "--id", "b.admin", "--name", "B"];
    refused(
        operators(&st, None, None, Some("246810"), &again),
        "has operator accounts already",
    );

    let add = [
        "add", "--id", "j.smith", "--name", "Jo Smith", "--role", "operator",
    ];
    refused(
        operators(&st, None, None, Some("135790"), &add),
        "--operator ID",
    );
    ok(operators(
        &st,
        Some("a.admin"),
        Some("246810"),
        Some("135790"),
        &add,
    ));
    let add_sup = [
        "add",
        "--id",
        "m.jones",
        "--name",
        "Mo Jones",
        "--role",
        "supervisor",
    ];
    refused(
        operators(
            &st,
            Some("j.smith"),
            Some("135790"),
            Some("111111"),
            &add_sup,
        ),
        "an operator may not manage operator accounts: ask an admin",
    );
    refused(
        operators(
            &st,
            Some("a.admin"),
            Some("246810"),
            Some("111111"),
            &["add", "--id", "x", "--name", "X", "--role", "boss"],
        ),
        "operator, supervisor and admin",
    );
    ok(operators(
        &st,
        Some("a.admin"),
        Some("246810"),
        Some("111111"),
        &add_sup,
    ));

    let rows = roles(&st);
    assert_eq!(
        rows,
        [
            ("a.admin", "admin"),
            ("j.smith", "operator"),
            ("m.jones", "supervisor")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    let db = std::fs::read(st.data_dir().join("folio.sqlite3")).unwrap();
    assert!(
        !db.windows(6).any(|w| w == b"246810" || w == b"135790"),
        "a PIN is in the database as typed"
    );
}

#[test]
fn the_last_admin_stays_and_a_disabled_account_cannot_act() {
    let st = station();
    let admin = |args: &[&str]| operators(&st, Some("a.admin"), Some("246810"), None, args);
    refused(
        admin(&["set-role", "a.admin", "supervisor"]),
        "without an enabled admin",
    );
    refused(admin(&["disable", "a.admin"]), "without an enabled admin");
    let add = ["add", "--id", "b.admin", "--name", "Bo", "--role", "admin"];
    ok(operators(
        &st,
        Some("a.admin"),
        Some("246810"),
        Some("864200"),
        &add,
    ));
    ok(admin(&["disable", "b.admin"]));
    refused(
        operators(
            &st,
            Some("b.admin"),
            Some("864200"),
            None,
            &["disable", "a.admin"],
        ),
        "b.admin is disabled",
    );
    ok(admin(&["enable", "b.admin"]));
    ok(operators(
        &st,
        Some("b.admin"),
        Some("864200"),
        None,
        &["set-role", "a.admin", "supervisor"],
    ));
    let listed = ok(admin(&["list"]));
    assert!(listed.contains("supervisor"), "{listed}");
}

#[test]
fn five_wrong_pins_lock_the_account_and_every_try_is_audited() {
    let st = station();
    let add = [
        "add", "--id", "j.smith", "--name", "Jo", "--role", "operator",
    ];
    let wrong =
        |args: &[&str]| operators(&st, Some("a.admin"), Some("000000"), Some("135790"), args);
    for left in (1..=4).rev() {
        refused(wrong(&add), &format!("{left} more wrong tries"));
    }
    refused(wrong(&add), "is locked until");
    // Locked: the right PIN is refused too, and says why.
    refused(
        operators(&st, Some("a.admin"), Some("246810"), Some("135790"), &add),
        "is locked until",
    );
    let listed = ok(operators(&st, None, None, None, &["list"]));
    assert!(listed.contains("locked until"), "{listed}");
    let audit = st.json(&["audit", "--json"]);
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "operator.sign_in_failed")
            .count(),
        4,
        "{actions:?}"
    );
    for a in [
        "operator.init",
        "operator.locked",
        "operator.sign_in_refused",
    ] {
        assert!(actions.contains(&a), "{a} not in {actions:?}");
    }
    ok(st.cmd().arg("check").output().unwrap());
}

#[test]
fn ids_and_names_from_outside_are_checked_and_never_printed_raw() {
    let st = station();
    let admin =
        |args: &[&str]| operators(&st, Some("a.admin"), Some("246810"), Some("135790"), args);
    let out = admin(&[
        "add",
        "--id",
        "x\u{1b}[2J",
        "--name",
        "X",
        "--role",
        "operator",
    ]);
    assert!(!said(&out).contains('\u{1b}'), "{}", said(&out));
    refused(out, "cannot be an operator id");
    refused(
        admin(&[
            "add",
            "--id",
            "ok.id",
            "--name",
            "bell\u{7}",
            "--role",
            "operator",
        ]),
        "without control characters",
    );
    let out = operators(
        &st,
        Some("nobody\u{1b}"),
        Some("246810"),
        None,
        &["disable", "a.admin"],
    );
    assert!(!out.status.success());
    assert!(!said(&out).contains('\u{1b}'), "{}", said(&out));
}
