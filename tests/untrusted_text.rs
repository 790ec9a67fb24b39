//! Issue 14, case 6: text from outside (file names of imported pages, batch
//! labels, operator and station names, barcode payloads, names typed on the
//! command line) is stored as it came but never reaches the terminal raw: every
//! human listing shows ESC, CR, LF, NUL, tabs and direction overrides escaped,
//! cuts very long text, and `folio audit` prints exactly one line per event.
//! `--json` keeps the text exact. Through the real `folio` binary.

mod common;

use common::*;
use folio::batch::printable;
use folio::batch::protocol::hidden_char;
use folio::synth::StackSpec;
use std::process::Output;

/// What a hostile string may hold: ESC sequences (clear screen, set title,
/// colour), CR, LF, a tab, a bidi override, BEL, DEL and a C1 control.
const NASTY: &str =
    "\u{1b}[2J\u{1b}]0;owned\u{7}\r\n1 2099-01-01 forged\tline\u{202e}gnp.\u{7f}\u{9b}";

/// Text printed for people: no raw control character or invisible mark; a
/// line feed only ends a line and a tab only where `tabs` (the audit
/// listing's field separator); no line longer than `max_line` characters.
fn assert_shown_safely(what: &str, text: &str, tabs: bool, max_line: usize) {
    for (i, c) in text.chars().enumerate() {
        let ok = c == '\n' || (tabs && c == '\t') || !hidden_char(c);
        assert!(
            ok,
            "{what}: raw {c:?} at character {i} of the output:\n{}",
            text.escape_debug()
        );
    }
    for line in text.lines() {
        assert!(
            line.chars().count() <= max_line,
            "{what}: a line of {} characters",
            line.chars().count()
        );
    }
}

fn both(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A stack whose file names, batch label, operator, station and barcodes are
/// hostile, imported; returns the station, the batch id and the label.
fn hostile_batch() -> (Station, String, String, String) {
    let st = Station::new();
    let dpi = 150;
    let spec = StackSpec {
        seed: 11,
        records: 1,
        dpi,
        duplex: false,
        noise_sigma: 2.0,
        max_skew_deg: 0.0,
        drift: 0.0,
        target_first: false,
    };
    let stack = st.dir.path().join("stack");
    write_stack(&spec, &stack, "pgm");
    // Hostile names: renamed pages, an unreadable file, a very long name.
    let first = stack.join("side-0000.pgm");
    std::fs::rename(&first, stack.join(format!("side-0000{NASTY}.pgm"))).unwrap();
    std::fs::write(stack.join(format!("side-0001{NASTY}.png")), b"not an image").unwrap();
    let long = format!("side-0002{}.png", "\u{202e}\u{1b}".repeat(60));
    std::fs::write(stack.join(long), b"neither").unwrap();
    // Barcodes: a malformed control sheet and a payload that is no sheet.
    let mut doc = b"FOLIO:DOC:letters\x00".to_vec();
    doc.extend(NASTY.as_bytes());
    write_page(&stack.join("side-9000"), &qr_side(&doc, dpi), "pgm");
    let mut other = b"\x00\x1b[2J".to_vec();
    other.extend(NASTY.as_bytes());
    write_page(&stack.join("side-9001"), &qr_side(&other, dpi), "pgm");

    let label = format!("box 7{NASTY}{}", "x".repeat(20_000));
    let operator = format!("op{NASTY}");
    let station = format!("st{NASTY}");
    let out = st
        .cmd()
        .env("FOLIO_STATION", &station)
        .args(["--operator", &operator, "import", "--label", &label])
        .arg(&stack)
        .output()
        .unwrap();
    let (stdout, stderr) = both(&out);
    assert_eq!(out.status.code(), Some(3), "two sides unreadable: {stderr}");
    assert_shown_safely("folio import (stderr)", &stderr, false, 1000);
    assert!(
        stderr.contains("side-0001\\u{1b}[2J"),
        "the unreadable file is named, escaped: {stderr}"
    );
    let batch = stdout.trim().to_string();
    (st, batch, label, operator)
}

#[test]
fn listings_show_outside_text_escaped_and_json_keeps_it_exact() {
    let (st, batch, label, operator) = hostile_batch();

    let listing = st.ok(&["batches"]);
    assert_shown_safely("folio batches", &listing, false, 1000);
    assert!(listing.contains(&printable(&operator, 200)), "{listing}");
    assert!(listing.contains("box 7\\u{1b}[2J"), "{listing}");

    let show = st.ok(&["show", &batch]);
    assert_shown_safely("folio show", &show, false, 1000);
    assert!(
        show.contains("letters\\u{0}\\u{1b}"),
        "the flag names the payload, escaped: {show}"
    );

    // --json: exactly as stored, every character.
    let rows = st.json(&["batches", "--json"]);
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == batch.as_str())
        .unwrap();
    assert_eq!(row["label"], label.as_str());
    assert_eq!(row["operator"], operator.as_str());
    let tree = st.json(&["show", &batch, "--json"]);
    assert_eq!(tree["batch"]["label"], label.as_str());
}

#[test]
fn the_audit_listing_is_one_line_per_event_whatever_the_fields_hold() {
    let (st, batch, label, operator) = hostile_batch();
    // A reason typed by a person goes into the audit trail too.
    let out = st.run(&[
        "approve",
        &batch,
        "--accept-flags",
        "--reason",
        &format!("checked{NASTY}"),
    ]);
    let (_, stderr) = both(&out);
    assert_shown_safely("folio approve (stderr)", &stderr, false, 5000);

    let events = st.json(&["audit", &batch, "--json"]);
    let events = events.as_array().unwrap();
    assert!(events.len() >= 2, "{events:?}");
    // --json is exact: the label as typed, in the creation event's detail.
    assert!(
        events
            .iter()
            .any(|e| e["detail"].as_str().unwrap().contains(&label)),
        "the audit trail holds the label exactly"
    );
    assert!(events.iter().all(|e| e["operator"] == operator.as_str()));

    // The batch's events, and every event (the scanning session's too).
    let all = st.json(&["audit", "--json"]);
    let all = all.as_array().unwrap();
    assert!(all.len() > events.len(), "{all:?}");
    for (text, events) in [
        (st.ok(&["audit", &batch]), events),
        (st.ok(&["audit"]), all),
    ] {
        assert_shown_safely("folio audit", &text, true, 6000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.len(),
            events.len(),
            "one line per event:\n{}",
            text.escape_debug()
        );
        for (line, e) in lines.iter().zip(events) {
            let fields: Vec<&str> = line.split('\t').collect();
            let want = [
                e["seq"].to_string(),
                printable(e["at"].as_str().unwrap(), 200),
                printable(e["station"].as_str().unwrap(), 200),
                printable(e["operator"].as_str().unwrap(), 200),
                printable(e["action"].as_str().unwrap(), 200),
                printable(e["subject"].as_str().unwrap(), 200),
                printable(e["detail"].as_str().unwrap(), 4000),
            ];
            assert_eq!(fields, want, "fields of {line:?}");
        }
    }
}

#[test]
fn error_messages_show_names_as_typed_escaped() {
    let st = Station::new();
    let missing = st.dir.path().join(format!("scan{NASTY}.png"));
    let checks: Vec<(&str, Output)> = vec![
        (
            "import of a missing file",
            st.run(&["import", missing.to_str().unwrap()]),
        ),
        ("show of a hostile id", st.run(&["show", NASTY])),
        (
            "audit of a hostile id",
            st.run(&["audit", &format!("abcdef{NASTY}")]),
        ),
        (
            "export to a hostile path",
            st.run(&["export", "abcdef", "--to", missing.to_str().unwrap()]),
        ),
    ];
    for (what, out) in checks {
        assert!(!out.status.success(), "{what} succeeded");
        let (stdout, stderr) = both(&out);
        assert_shown_safely(what, &stderr, false, 5000);
        assert_shown_safely(what, &stdout, false, 5000);
        assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr:?}");
    }
    // The missing file is named, escaped.
    let out = st.run(&["import", missing.to_str().unwrap()]);
    let (_, stderr) = both(&out);
    assert!(stderr.contains("scan\\u{1b}[2J"), "{stderr}");
}

/// Any text the window exposes (labels, values, descriptions) holding a raw
/// control character or invisible mark, with the node's role.
fn raw_text_in_window(h: &egui_kittest::Harness<'static, folio::ui::StationApp>) -> Vec<String> {
    use egui_kittest::kittest::{By, Queryable};
    let bad = |t: &Option<String>| t.as_deref().is_some_and(|t| t.chars().any(hidden_char));
    h.query_all(
        By::new().predicate(move |n| bad(&n.label()) || bad(&n.value()) || bad(&n.description())),
    )
    .map(|n| format!("{n:?}"))
    .collect()
}

#[test]
fn the_window_shows_outside_text_escaped() {
    use eframe::egui;
    use egui_kittest::kittest::Queryable;
    let (st, _batch, _label, operator) = hostile_batch();
    let dll = st.dir.path().join("gui-sane");
    std::fs::create_dir_all(&dll).unwrap();
    std::fs::write(dll.join("dll.conf"), "test\n").unwrap();
    // SAFETY: set before the window starts its threads; this test binary's
    // other tests run the `folio` binary with its own environment.
    unsafe { std::env::set_var("SANE_CONFIG_DIR", &dll) };
    let data = st.data_dir();
    let cfg = folio::config::Config::load(&data).unwrap();
    let actor = folio::store::Actor {
        station: format!("st{NASTY}"),
        operator,
        role: None,
    };
    let app = folio::ui::StationApp::new(data, cfg, actor, std::sync::Arc::new(|| {})).unwrap();
    let mut h = egui_kittest::Harness::builder()
        .with_size(egui::vec2(1280.0, 860.0))
        .build_ui_state(|ui, app: &mut folio::ui::StationApp| app.frame(ui), app);
    // A message from outside in the status line (as a failed upload's).
    h.state_mut()
        .notices
        .push_back((format!("the server said: {NASTY}"), true));
    h.key_press(egui::Key::F3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while h.state().snapshot.review.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the review queue never came"
        );
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    for _ in 0..5 {
        h.step();
    }
    // The label is on screen, escaped; nothing is raw anywhere.
    assert!(
        h.query_all_by_label_contains("box 7\\u{1b}[2J").count() >= 1,
        "the batch label is shown"
    );
    assert!(
        h.query_all_by_label_contains("the server said: \\u{1b}[2J")
            .count()
            >= 1,
        "the notice is shown"
    );
    let raw = raw_text_in_window(&h);
    assert!(raw.is_empty(), "raw text in the window: {raw:?}");
}
