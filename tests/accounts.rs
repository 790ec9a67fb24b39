//! Accountable scanning from the command line (issue 17): at a station with
//! operator accounts every change is made by someone signed in, the role
//! decides what they may do, whoever scanned a batch may not approve it
//! (four eyes), and a batch is approved only after a supervisor checked its
//! sample. Each refusal here has its twin from the window in
//! tests/accounts_gui.rs. Real binary, real SQLite file.

mod common;

use common::*;
use folio::synth::StackSpec;
use std::process::Output;

const REFUSED: i32 = 6;

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `folio ARGS` signed in as `who` with `pin` (None: nobody signed in).
fn as_who(st: &Station, who: Option<(&str, &str)>, args: &[&str]) -> Output {
    let mut c = st.cmd();
    c.env_remove("FOLIO_PIN").env_remove("FOLIO_NEW_PIN");
    if let Some((id, pin)) = who {
        c.args(["--operator", id]).env("FOLIO_PIN", pin);
    }
    c.args(args).output().unwrap()
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}", said(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Refused for what the data is (not who asks): any failure, with words.
fn fails(out: Output, words: &str) {
    assert!(!out.status.success(), "not refused: {}", said(&out));
    assert!(
        said(&out).contains(words),
        "{words:?} not in: {}",
        said(&out)
    );
}

fn refused(out: Output, words: &str) {
    assert_eq!(out.status.code(), Some(REFUSED), "{}", said(&out));
    assert!(
        said(&out).contains(words),
        "{words:?} not in: {}",
        said(&out)
    );
}

const ADMIN: (&str, &str) = ("a.admin", "246810");
const OPERATOR: (&str, &str) = ("j.op", "135790");
const SUPERVISOR: (&str, &str) = ("m.sup", "112233");
const OTHER_SUPERVISOR: (&str, &str) = ("k.sup", "445566");

/// A station with an admin, an operator and two supervisors, and a stack
/// of two records to import.
fn station() -> (Station, std::path::PathBuf) {
    let st = Station::new();
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", ADMIN.1);
    c.args(["operators", "init", "--id", ADMIN.0, "--name", "Ann Admin"]);
    ok(c.output().unwrap());
    for ((id, pin), role) in [
        (OPERATOR, "operator"),
        (SUPERVISOR, "supervisor"),
        (OTHER_SUPERVISOR, "supervisor"),
    ] {
        let mut c = st.cmd();
        c.args(["--operator", ADMIN.0])
            .env("FOLIO_PIN", ADMIN.1)
            .env("FOLIO_NEW_PIN", pin);
        c.args(["operators", "add", "--id", id, "--name", id, "--role", role]);
        ok(c.output().unwrap());
    }
    let stack = st.dir.path().join("stack");
    write_stack(
        &StackSpec {
            records: 2,
            dpi: 150,
            max_skew_deg: 0.0,
            ..Default::default()
        },
        &stack,
        "pgm",
    );
    (st, stack)
}

fn import(st: &Station, who: (&str, &str), stack: &std::path::Path) -> String {
    let out = ok(as_who(
        st,
        Some(who),
        &["import", "--json", stack.to_str().unwrap()],
    ));
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    report["batch_id"].as_str().unwrap().to_string()
}

fn approve(st: &Station, who: Option<(&str, &str)>, batch: &str) -> Output {
    as_who(
        st,
        who,
        &["approve", batch, "--accept-flags", "--reason", "test stack"],
    )
}

fn state(st: &Station, batch: &str) -> String {
    let list = st.json(&["batches", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == batch)
        .map(|b| b["state"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn nobody_signed_in_changes_nothing_and_a_wrong_pin_is_refused() {
    let (st, stack) = station();
    let path = stack.to_str().unwrap();
    refused(as_who(&st, None, &["import", path]), "sign in first");
    refused(
        as_who(&st, Some(("j.op", "000000")), &["import", path]),
        "wrong PIN",
    );
    refused(
        as_who(&st, Some(("nobody", "000000")), &["import", path]),
        "no operator nobody",
    );
    let batches = st.json(&["batches", "--json"]);
    assert_eq!(batches.as_array().unwrap().len(), 0, "{batches}");
    // Reading needs nobody.
    ok(as_who(&st, None, &["audit"]));
}

#[test]
fn an_operator_scans_but_may_not_approve_sample_or_export_and_the_audit_says_who_in_which_role() {
    let (st, stack) = station();
    let batch = import(&st, OPERATOR, &stack);
    refused(
        approve(&st, Some(OPERATOR), &batch),
        "an operator may not approve a batch as it is: ask a supervisor",
    );
    refused(
        as_who(&st, Some(OPERATOR), &["approve", &batch]),
        "an operator may not approve a batch: ask a supervisor",
    );
    refused(
        as_who(&st, Some(OPERATOR), &["sample", &batch, "--draw"]),
        "an operator may not inspect a batch's sample: ask a supervisor",
    );
    refused(approve(&st, None, &batch), "sign in first");
    assert_eq!(state(&st, &batch), "in_review");
    // The import is the operator's, in their role.
    let audit = ok(as_who(&st, None, &["audit", &batch]));
    let created = audit
        .lines()
        .find(|l| l.contains("batch.create"))
        .unwrap_or_else(|| panic!("{audit}"));
    assert!(created.contains("\tj.op (operator)\t"), "{created}");
    let json = st.json(&["audit", &batch, "--json"]);
    let ev = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "batch.create")
        .unwrap();
    assert_eq!(
        (ev["operator"].as_str(), ev["role"].as_str()),
        (Some("j.op"), Some("operator"))
    );
    ok(as_who(&st, None, &["check"]));
}

#[test]
fn whoever_scanned_a_batch_may_not_sample_or_approve_it() {
    let (st, stack) = station();
    let batch = import(&st, SUPERVISOR, &stack);
    refused(
        as_who(&st, Some(SUPERVISOR), &["sample", &batch, "--draw"]),
        "m.sup scanned this batch, so another supervisor must check and approve it (four-eyes rule)",
    );
    refused(approve(&st, Some(SUPERVISOR), &batch), "four-eyes rule");
    // The admin is a supervisor too, and did not scan it.
    ok(as_who(&st, Some(ADMIN), &["sample", &batch, "--draw"]));
    // With the rule off, a one-person station approves its own scans.
    std::fs::write(
        st.data_dir().join("config.toml"),
        "[accounts]\nfour_eyes = false\n[sampling]\nrequired = false\n",
    )
    .unwrap();
    ok(approve(&st, Some(SUPERVISOR), &batch));
    assert_eq!(state(&st, &batch), "approved");
}

#[test]
fn approval_needs_a_passed_sample_and_a_failed_one_sends_its_sides_back_for_rescan() {
    let (st, stack) = station();
    let batch = import(&st, OPERATOR, &stack);
    let sup = Some(OTHER_SUPERVISOR);
    refused_approval(&st, &batch, "have not been sampled");
    let drawn: serde_json::Value = serde_json::from_str(&ok(as_who(
        &st,
        sup,
        &["sample", &batch, "--draw", "--json"],
    )))
    .unwrap();
    let sides: Vec<u64> = drawn["sample"]["sides"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect();
    // Five pages at least (the stack has fewer than 100).
    assert!(sides.len() >= 5, "{drawn}");
    assert_eq!(drawn["state"]["state"], "open");
    fails(
        as_who(&st, sup, &["sample", &batch, "--draw"]),
        "a new sample is drawn only when none is open or passed",
    );
    refused_approval(&st, &batch, "not finished (0 of");
    // One side fails: the sample fails and the side goes back for rescan.
    let failing = sides[1].to_string();
    let out = ok(as_who(
        &st,
        sup,
        &[
            "sample",
            &batch,
            "--fail",
            &failing,
            "--reason",
            "text cut off",
        ],
    ));
    assert!(out.contains("to check"), "{out}");
    let mut args = vec!["sample", &batch];
    let rest: Vec<String> = sides
        .iter()
        .filter(|s| **s != sides[1])
        .map(u64::to_string)
        .collect();
    for s in &rest {
        args.extend(["--pass", s.as_str()]);
    }
    let out = ok(as_who(&st, sup, &args));
    assert!(
        out.contains(&format!("sample failed on side(s) {failing}")),
        "{out}"
    );
    refused_approval(&st, &batch, "sample failed");
    let shown = st.json(&["show", &batch, "--json"]).to_string();
    assert!(shown.contains("sample 1 failed: text cut off"), "{shown}");
    let audit = ok(as_who(&st, None, &["audit", &batch]));
    for action in [
        "sample.draw",
        "sample.fail",
        "sample.pass",
        "page.mark_rescan",
    ] {
        assert!(audit.contains(action), "{action} not in {audit}");
    }
    assert!(audit.contains("k.sup (supervisor)"), "{audit}");

    // A second draw is allowed now; passing it all lets the batch go (the
    // side marked for rescan is a flag a person sees: accepted here with
    // the others as a generated stack's).
    let drawn: serde_json::Value = serde_json::from_str(&ok(as_who(
        &st,
        sup,
        &["sample", &batch, "--draw", "--json"],
    )))
    .unwrap();
    assert_eq!(drawn["sample"]["draw"], 2);
    let mut args = vec!["sample".to_string(), batch.clone()];
    for s in drawn["sample"]["sides"].as_array().unwrap() {
        args.extend(["--pass".to_string(), s.to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = ok(as_who(&st, sup, &refs));
    assert!(out.contains("sample passed (checked by k.sup)"), "{out}");
}

fn refused_approval(st: &Station, batch: &str, words: &str) {
    let out = approve(st, Some(OTHER_SUPERVISOR), batch);
    assert!(!out.status.success(), "approved: {}", said(&out));
    assert!(
        said(&out).contains(words),
        "{words:?} not in {}",
        said(&out)
    );
    assert_eq!(state(st, batch), "in_review");
}

#[test]
fn the_first_admin_comes_from_config_by_its_hash_and_a_pin_is_never_taken_for_one() {
    let st = Station::new();
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", "975310")
        .args(["operators", "hash-pin"]);
    let hash = ok(c.output().unwrap()).trim().to_string();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let config = |h: &str| {
        format!(
            "[accounts.first_admin]\nid = \"it.admin\"\nname = \"IT Admin\"\nsecret_hash = \"{h}\"\n"
        )
    };
    // A PIN pasted where its hash belongs is refused, and never printed.
    std::fs::write(st.data_dir().join("config.toml"), config("975310")).unwrap();
    let out = as_who(&st, None, &["operators", "list"]);
    assert!(!out.status.success());
    assert!(
        said(&out).contains("not an Argon2id hash"),
        "{}",
        said(&out)
    );
    assert!(!said(&out).contains("975310"), "{}", said(&out));
    std::fs::write(st.data_dir().join("config.toml"), config(&hash)).unwrap();
    let listed = ok(as_who(&st, None, &["operators", "list"]));
    assert!(
        listed.contains("it.admin") && listed.contains("admin"),
        "{listed}"
    );
    // Made once: the entry does nothing once the station has accounts.
    ok(as_who(&st, None, &["operators", "list"]));
    let audit = ok(as_who(&st, None, &["audit"]));
    assert_eq!(audit.matches("operator.init").count(), 1, "{audit}");
    assert!(audit.contains("from config.toml"), "{audit}");
    // And its PIN signs in: the admin adds an account.
    let mut c = st.cmd();
    c.args(["--operator", "it.admin"])
        .env("FOLIO_PIN", "975310")
        .env("FOLIO_NEW_PIN", "121212")
        .args([
            "operators",
            "add",
            "--id",
            "j.op",
            "--name",
            "Jo",
            "--role",
            "operator",
        ]);
    ok(c.output().unwrap());
}

/// IT's side of signed lists: a signing key (its public half in the
/// station's config), a PIN hash, and the list file.
struct Lists<'a> {
    st: &'a Station,
    key: std::path::PathBuf,
    file: std::path::PathBuf,
    hash: String,
}

impl<'a> Lists<'a> {
    fn new(st: &'a Station) -> Lists<'a> {
        let key = st.dir.path().join("it.key");
        let out = ok(as_who(
            st,
            None,
            &["operators", "keygen", "--out", key.to_str().unwrap()],
        ));
        let public = out.trim();
        assert!(public.starts_with("ed25519:"), "{public}");
        let meta = std::fs::metadata(&key).unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
        assert_eq!(mode & 0o077, 0, "the private key is readable by others");
        std::fs::write(
            st.data_dir().join("config.toml"),
            format!("[accounts]\nimport_keys = [\"{public}\"]\n"),
        )
        .unwrap();
        let mut c = st.cmd();
        c.env("FOLIO_NEW_PIN", "777999")
            .args(["operators", "hash-pin"]);
        let hash = ok(c.output().unwrap()).trim().to_string();
        let file = st.dir.path().join("operators.json");
        Lists {
            st,
            key,
            file,
            hash,
        }
    }

    /// Writes and signs a list naming n.new (in `role`) and j.op.
    fn write(&self, issued: &str, role: &str, enabled: bool) {
        let list = serde_json::json!({
            "format": "folio.operators/1",
            "issued": issued,
            "operators": [
                {"id": "n.new", "name": "Nia New", "role": role,
                 "secret_hash": self.hash, "enabled": enabled},
                {"id": "j.op", "name": "Jo Operator", "role": "operator",
                 "secret_hash": self.hash},
            ]
        });
        std::fs::write(&self.file, serde_json::to_vec_pretty(&list).unwrap()).unwrap();
        let (file, key) = (self.file.to_str().unwrap(), self.key.to_str().unwrap());
        ok(as_who(
            self.st,
            None,
            &["operators", "sign", file, "--key", key],
        ));
    }

    fn import(&self, who: Option<(&str, &str)>) -> Output {
        let file = self.file.to_str().unwrap();
        as_who(self.st, who, &["operators", "import", file])
    }
}

#[test]
fn a_signed_operator_list_provisions_accounts_and_a_changed_or_replayed_one_is_refused() {
    let (st, stack) = station();
    let lists = Lists::new(&st);
    lists.write("2026-12-07T10:00:00Z", "supervisor", true);
    refused(
        lists.import(Some(OPERATOR)),
        "an operator may not manage operator accounts",
    );
    let out = ok(lists.import(Some(ADMIN)));
    assert!(out.contains("2 account(s) made or changed"), "{out}");
    // The listed PIN signs in, for the new account and for j.op (changed).
    let stack = stack.to_str().unwrap();
    ok(as_who(&st, Some(("n.new", "777999")), &["import", stack]));
    ok(as_who(&st, Some(("j.op", "777999")), &["import", stack]));
    let audit = ok(as_who(&st, None, &["audit"]));
    assert_eq!(audit.matches("operator.import").count(), 2, "{audit}");
    assert!(
        audit.contains("Nia New as supervisor, enabled (list issued 2026-12-07T10:00:00Z"),
        "{audit}"
    );

    // The same list again (or an older one) is refused: no replay.
    fails(
        lists.import(Some(ADMIN)),
        "not after the last list taken here",
    );
    // Changed after signing: refused, nothing changed.
    lists.write("2026-12-08T10:00:00Z", "supervisor", false);
    let text = std::fs::read_to_string(&lists.file).unwrap();
    std::fs::write(&lists.file, text.replace("\"supervisor\"", "\"admin\"")).unwrap();
    fails(lists.import(Some(ADMIN)), "does not verify");
    let roles = st.json(&["operators", "list", "--json"]);
    let nia = roles
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == "n.new")
        .unwrap();
    assert_eq!(
        (nia["role"].as_str(), nia["enabled"].as_bool()),
        (Some("supervisor"), Some(true))
    );
    // A newer list, properly signed, disables the account.
    lists.write("2026-12-08T10:00:00Z", "supervisor", false);
    ok(lists.import(Some(ADMIN)));
    refused(
        as_who(&st, Some(("n.new", "777999")), &["import", stack]),
        "n.new is disabled",
    );
    // Without the signature file: refused.
    std::fs::remove_file(st.dir.path().join("operators.json.sig")).unwrap();
    fails(lists.import(Some(ADMIN)), "operators.json.sig");
}
