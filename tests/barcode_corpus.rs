//! A generated corpus of hostile barcode payloads (control characters, 2 KB,
//! bytes that are not UTF-8, near-misses of the sheet protocol), each printed as
//! a QR code on a side between good pages and imported through the real `folio`
//! binary: no panic, every good page kept in the right record, the right flag,
//! and nothing raw on the terminal.

mod common;

use common::*;
use folio::imaging::draw::TextPainter;
use folio::pixels::Raster;
use folio::synth::{SideKind, StackSpec, render};

const DPI: u32 = 150;

fn page(seed: u64, kind: SideKind) -> Raster {
    render(
        &kind,
        &StackSpec {
            dpi: DPI,
            max_skew_deg: 0.0,
            ..Default::default()
        },
        seed,
        &mut TextPainter::new(),
    )
}

/// What a hostile side must become.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expect {
    /// Kept as an ordinary page of the current record, unflagged.
    Page,
    /// Not acted on: flagged `unreadable_control_sheet` on its side; the pages
    /// after it start a record with no patient.
    MalformedRecord,
    /// Flagged `unreadable_control_sheet`, pages stay with the current patient.
    MalformedOther,
    /// A record sheet read as such (the patient given).
    Record(&'static str),
}

fn corpus() -> Vec<(Vec<u8>, Expect)> {
    use Expect::*;
    let mut c: Vec<(Vec<u8>, Expect)> = vec![
        (b"FOLIO:REC:".to_vec(), MalformedRecord),
        (b"FOLIO:".to_vec(), MalformedRecord),
        (b"FOLIO::REC:9434765919".to_vec(), MalformedRecord),
        (
            b"FOLIO:REC:9434765919:cardiology:extra".to_vec(),
            Record("9434765919"),
        ),
        (b"FOLIO:REC:94347\x0165919".to_vec(), MalformedRecord),
        (b"FOLIO:DOC:letters\x1b[2J\x07".to_vec(), MalformedOther),
        (
            "FOLIO:DOC:\u{202e}srettel".as_bytes().to_vec(),
            MalformedOther,
        ),
        (b"FOLIO:BATCH:".to_vec(), MalformedOther),
        (b"folio:rec:4010232137".to_vec(), Record("4010232137")),
        (b"\x1b]0;owned\x07\x00\x08\x7f".to_vec(), Page),
        (vec![0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0x80], Page),
        (vec![b'A'; 2048], Page),
    ];
    let mut long = b"FOLIO:DOC:".to_vec();
    long.extend(vec![b'x'; 2000]);
    c.push((long, MalformedOther));
    c
}

fn pages_of(record: &serde_json::Value) -> Vec<u64> {
    record["documents"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["pages"].as_array().unwrap().iter())
        .map(|p| p["side"].as_u64().unwrap())
        .collect()
}

fn record_of(show: &serde_json::Value, side: u64) -> Option<&serde_json::Value> {
    show["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| pages_of(r).contains(&side))
}

/// What is wrong with what became of hostile side `side`, if anything.
fn what_went_wrong(show: &serde_json::Value, side: u64, expect: Expect) -> Option<String> {
    let good = side + 1;
    let Some(rec) = record_of(show, good) else {
        return Some(format!(
            "side {side} ({expect:?}): the good page {good} was lost"
        ));
    };
    let flagged_here =
        |rec: &serde_json::Value| {
            rec["flags"].as_array().unwrap().iter().any(|f| {
                f["code"] == "unreadable_control_sheet" && f["side"].as_u64() == Some(side)
            })
        };
    let ok = match expect {
        Expect::Page => pages_of(rec).contains(&side) && rec["nhs_number"] == "9434765919",
        Expect::MalformedRecord => rec["nhs_number"].is_null() && flagged_here(rec),
        Expect::MalformedOther => rec["nhs_number"] == "9434765919" && flagged_here(rec),
        Expect::Record(id) => rec["nhs_number"] == id,
    };
    (!ok).then(|| format!("side {side} ({expect:?}): {rec}"))
}

#[test]
fn hostile_barcode_payloads_lose_no_page_and_are_never_acted_on_blindly() {
    let st = Station::new();
    let dir = st.dir.path().join("stack");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = corpus();
    // Each hostile side sits between a fresh record sheet of patient A and a
    // good page, so where that good page lands says what the side did.
    let mut sides: Vec<Raster> = Vec::new();
    let mut cases = Vec::new();
    for (i, (payload, expect)) in corpus.iter().enumerate() {
        let seed = i as u64 * 10;
        sides.push(page(
            seed,
            SideKind::RecordSheet {
                code: "FOLIO:REC:9434765919".into(),
                words: vec![],
            },
        ));
        let hostile = sides.len() as u64;
        sides.push(qr_side(payload, DPI));
        sides.push(page(seed + 1, SideKind::Clinical { label: None }));
        cases.push((hostile, *expect));
    }
    for (i, s) in sides.iter().enumerate() {
        write_page(&dir.join(format!("{i:03}")), s, "png");
    }
    let out = st.run(&["import", dir.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let batch = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let show = st.json(&["show", &batch, "--json"]);

    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(side, expect)| what_went_wrong(&show, *side, *expect))
        .collect();
    // Every side is somewhere: a page, or a listed removal.
    let mut placed: Vec<u64> = show["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(pages_of)
        .collect();
    placed.extend(
        show["removed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["side"].as_u64().unwrap()),
    );
    placed.sort_unstable();
    assert_eq!(placed, (0..sides.len() as u64).collect::<Vec<_>>());
    // What people read carries no raw control characters.
    let text = st.ok(&["show", &batch]);
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters printed:\n{text:?}"
    );
    eprintln!(
        "barcode corpus: {} payloads, {} as expected",
        cases.len(),
        cases.len() - failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_generated_control_sheet_always_carries_its_barcode() {
    for code in ["FOLIO:REC:9434765919:pédiatrie", "FOLIO:DOC:résultats 中"] {
        let sheet = page(
            7,
            SideKind::RecordSheet {
                code: code.into(),
                words: vec![],
            },
        );
        let read = folio::imaging::barcode::read_page(&sheet).codes;
        assert!(read.iter().any(|c| c == code), "{code}: read {read:?}");
    }
}
