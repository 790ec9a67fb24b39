//! Searchable text: typed clinic letters scanned at 300 and 200 dpi go
//! through the real path (`folio import --ocr`, `folio ocr` with Debian's
//! Tesseract, `folio export`), and `pdftotext` of the PDFs gives back their
//! words; the queue survives a killed worker; an upload waits for the text.

mod common;

use common::{Station, approve_as_is, outbox_state, write_page};
use folio::imaging::draw::TextPainter;
use folio::synth::StackSpec;
use folio::synth::render::typed_letter;
use std::path::Path;
use std::process::{Command, Stdio};

/// Writes `n` typed letters at `dpi` into `dir`; their words, page by page.
fn letters(dir: &Path, dpi: u32, n: usize, seed: u64) -> Vec<Vec<String>> {
    std::fs::create_dir_all(dir).unwrap();
    let spec = StackSpec {
        dpi,
        noise_sigma: 6.0,
        max_skew_deg: 1.0,
        drift: 16.0,
        ..StackSpec::default()
    };
    let mut painter = TextPainter::new();
    (0..n)
        .map(|i| {
            let (page, words) = typed_letter(&spec, seed + i as u64, &mut painter);
            write_page(&dir.join(format!("letter-{i:02}")), &page, "png");
            words
        })
        .collect()
}

/// Writes a record control sheet for a valid NHS number first in `dir`, so
/// the letters after it are a patient's record (and may be approved).
fn record_sheet(dir: &Path, dpi: u32) {
    let spec = StackSpec {
        dpi,
        ..StackSpec::default()
    };
    let sheet = folio::synth::render(
        &folio::synth::SideKind::RecordSheet {
            code: "FOLIO:REC:9434765919".into(),
            words: vec![],
        },
        &spec,
        1,
        &mut TextPainter::new(),
    );
    write_page(&dir.join("a-record-sheet"), &sheet, "png");
}

/// Words of `truth` found, in order, in `got` (longest common subsequence).
fn words_found(truth: &[String], got: &[&str]) -> usize {
    let mut row = vec![0usize; got.len() + 1];
    for t in truth {
        let mut diag = 0;
        for (j, g) in got.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if t == g {
                diag + 1
            } else {
                row[j + 1].max(row[j])
            };
            diag = up;
        }
    }
    row[got.len()]
}

/// The text of page `page` (1-based) of a PDF, by pdftotext.
fn pdf_text(pdf: &Path, page: usize) -> String {
    let out = Command::new("pdftotext")
        .args(["-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) runs");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8(out.stdout).expect("pdftotext gives UTF-8")
}

/// A station that uploads to a folder; the folder.
fn folder_station() -> (Station, std::path::PathBuf) {
    let st = Station::new();
    let store = st.dir.path().join("store");
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let config = format!("[upload]\nfolder = {:?}\n", store.display().to_string());
    std::fs::write(st.data_dir().join("config.toml"), config).unwrap();
    (st, store)
}

/// Imports `dir` with `--ocr` as one batch; its id.
fn import_for_text(st: &Station, dir: &Path) -> String {
    st.import(&["--ocr"], &[dir])["batch_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs `folio ocr --json`; the pages it reports.
fn run_ocr(st: &Station) -> Vec<serde_json::Value> {
    st.ok(&["ocr", "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object a line"))
        .collect()
}

#[test]
fn typed_letters_come_back_from_the_pdfs_as_text() {
    let st = Station::new();
    let mut report = Vec::new();
    for (dpi, n, floor) in [(300, 3, 0.98), (200, 2, 0.90)] {
        let dir = st.dir.path().join(format!("letters-{dpi}"));
        let truth = letters(&dir, dpi, n, 40 + dpi as u64);
        let batch = import_for_text(&st, &dir);
        let pages = run_ocr(&st);
        assert_eq!(pages.len(), n, "every page read once: {pages:?}");
        assert!(pages.iter().all(|p| p["error"].is_null()), "{pages:?}");
        let (m, out) = st.export(&batch);
        let docs: Vec<_> = m.records.iter().flat_map(|r| &r.documents).collect();
        assert_eq!(docs.len(), 1, "the letters are one document");
        let pdf = out.join(&docs[0].pdf.path);
        let (mut found, mut total) = (0, 0);
        for (i, words) in truth.iter().enumerate() {
            let text = pdf_text(&pdf, i + 1);
            let got: Vec<&str> = text.split_whitespace().collect();
            found += words_found(words, &got);
            total += words.len();
        }
        let accuracy = found as f64 / total as f64;
        report.push(format!(
            "{dpi} dpi: {found} of {total} words ({:.1}%)",
            accuracy * 100.0
        ));
        assert!(
            accuracy >= floor,
            "word accuracy at {dpi} dpi is {:.1}%, below {:.0}%",
            accuracy * 100.0,
            floor * 100.0
        );
        common::pdfa::assert_pdfa_1b(&[pdf]);
    }
    println!("OCR word accuracy through the PDFs: {}", report.join("; "));
}

#[test]
fn a_killed_ocr_worker_leaves_no_page_unread_or_read_twice() {
    let st = Station::new();
    let dir = st.dir.path().join("letters");
    letters(&dir, 200, 3, 7);
    let batch = import_for_text(&st, &dir);
    // The first worker is killed while it reads: after its first page.
    let mut first = st
        .cmd()
        .args(["ocr", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(first.stdout.take().unwrap());
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    let before: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(before["batch"], batch.as_str());
    // The next run takes over the dead worker's claim at once.
    let after = run_ocr(&st);
    let mut sides: Vec<u64> = after.iter().map(|p| p["side"].as_u64().unwrap()).collect();
    sides.push(before["side"].as_u64().unwrap());
    sides.sort_unstable();
    assert_eq!(sides, [0, 1, 2], "each page read exactly once: {after:?}");
    // Nothing is left: a third run reads nothing.
    assert!(run_ocr(&st).is_empty());
}

#[test]
fn an_upload_waits_for_its_text_and_then_sends_it() {
    let (st, store) = folder_station();
    let dir = st.dir.path().join("letters");
    let truth = letters(&dir, 200, 1, 11);
    record_sheet(&dir, 200);
    let batch = import_for_text(&st, &dir);
    approve_as_is(&st, &batch);
    // Its text is not read yet: the upload says so and sends nothing.
    let out = st.run(&["upload"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("waiting for its text"), "{said}");
    assert_eq!(outbox_state(&st, &batch), "queued");
    assert!(common::pdfa::pdfs_under(&store).is_empty(), "nothing sent");
    assert_eq!(st.json(&["status", "--json"])["text_pages_waiting"], 1);
    run_ocr(&st);
    assert_eq!(st.json(&["status", "--json"])["text_pages_waiting"], 0);
    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &batch), "done");
    let pdfs = common::pdfa::pdfs_under(&store);
    assert_eq!(pdfs.len(), 1);
    common::pdfa::assert_pdfa_1b(&pdfs);
    let text = pdf_text(&pdfs[0], 1);
    let got: Vec<&str> = text.split_whitespace().collect();
    let found = words_found(&truth[0], &got);
    assert!(
        found * 10 >= truth[0].len() * 9,
        "the sent PDF carries the text: {found} of {} words",
        truth[0].len()
    );
}

#[test]
fn text_cannot_be_asked_for_once_a_batch_is_sent() {
    let (st, store) = folder_station();
    let dir = st.dir.path().join("letters");
    letters(&dir, 150, 1, 3);
    record_sheet(&dir, 150);
    let batch = st.import(&[], &[&dir])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    approve_as_is(&st, &batch);
    st.ok(&["upload"]);
    assert_eq!(common::pdfa::pdfs_under(&store).len(), 1, "sent");
    let out = st.run(&["ocr", &batch]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("already on their way to, or in, the central store"),
        "{said}"
    );
}

#[test]
fn two_ocr_workers_at_once_read_each_page_once() {
    let st = Station::new();
    let dir = st.dir.path().join("letters");
    letters(&dir, 150, 4, 21);
    import_for_text(&st, &dir);
    let spawn = || {
        st.cmd()
            .args(["ocr", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let mut sides = Vec::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let p: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(p["error"].is_null(), "{p}");
            sides.push(p["side"].as_u64().unwrap());
        }
    }
    sides.sort_unstable();
    assert_eq!(sides, [0, 1, 2, 3], "each page read by one worker only");
}

#[test]
fn the_station_reads_text_in_the_background_and_review_sees_it() {
    use folio::workers::station::{self, Event};
    use std::time::{Duration, Instant};
    let st = Station::new();
    let dir = st.dir.path().join("letters");
    letters(&dir, 150, 2, 5);
    record_sheet(&dir, 150);
    let batch = import_for_text(&st, &dir);
    let cfg = folio::config::Config::load(&st.data_dir()).unwrap();
    let actor = folio::store::Actor {
        station: "test-station".into(),
        operator: "supervisor".into(),
        role: None,
    };
    let workers =
        station::spawn(st.data_dir(), cfg, actor, false, std::sync::Arc::new(|| {})).unwrap();
    let end = Instant::now() + Duration::from_secs(120);
    let mut read = None;
    while read.is_none() && Instant::now() < end {
        if let Ok(Event::Snapshot(s)) = workers.events.recv_timeout(Duration::from_millis(50)) {
            read = s
                .approval
                .get(&batch)
                .map(|f| f.text)
                .filter(|t| t.wanted && t.pages > 0 && t.pending() == 0);
        }
    }
    drop(workers);
    let text = read.expect("the station's OCR thread read the batch's text");
    assert_eq!((text.pages, text.done, text.failed), (2, 2, 0));
    // Read once: the command line finds nothing left to read.
    assert!(run_ocr(&st).is_empty());
}

#[test]
fn a_language_that_is_not_installed_is_said_and_holds_nothing_for_ever() {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let config = st.data_dir().join("config.toml");
    std::fs::write(&config, "[ocr]\nlanguage = \"zzz\"\n").unwrap();
    let dir = st.dir.path().join("letters");
    letters(&dir, 150, 2, 9);
    import_for_text(&st, &dir);
    // The station's language is missing: nothing can be read, and it says
    // what to install; the pages still wait.
    let out = st.run(&["ocr"]);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("install tesseract-ocr-zzz"), "{said}");
    assert_eq!(st.json(&["status", "--json"])["text_pages_waiting"], 2);
    // With the station back on English, the pages asked for in the missing
    // language are failed with why, not tried for ever.
    std::fs::write(&config, "[ocr]\nlanguage = \"eng\"\n").unwrap();
    let pages = run_ocr(&st);
    assert_eq!(pages.len(), 2);
    for p in &pages {
        let why = p["error"].as_str().unwrap_or_default();
        assert!(why.contains("no language data for 'zzz'"), "{p}");
    }
    assert_eq!(st.json(&["status", "--json"])["text_pages_waiting"], 0);
}

#[test]
fn an_export_before_the_text_is_rebuilt_with_it_but_a_sent_pdf_is_kept() {
    let (st, store) = folder_station();
    let config = st.data_dir().join("config.toml");
    let sent_config = format!(
        "{}[ocr]\nupload_waits = false\n",
        std::fs::read_to_string(&config).unwrap()
    );
    std::fs::write(&config, sent_config).unwrap();
    let text_of = |batch: &str| {
        let (m, out) = st.export(batch);
        let doc = &m.records[0].documents[0];
        let pdf = out.join(&doc.pdf.path);
        common::pdfa::assert_pdfa_1b(&[&pdf]);
        (doc.pdf.sha256.clone(), pdf_text(&pdf, 1))
    };
    // Not sent: exported before its text, and again after, with it.
    let early = st.dir.path().join("early");
    letters(&early, 150, 1, 31);
    record_sheet(&early, 150);
    let unsent = import_for_text(&st, &early);
    let (before, none) = text_of(&unsent);
    assert!(none.trim().is_empty(), "no text yet: {none:?}");
    // Sent without waiting (upload_waits = false), before its text.
    let late = st.dir.path().join("late");
    letters(&late, 150, 1, 32);
    record_sheet(&late, 150);
    let sent = import_for_text(&st, &late);
    approve_as_is(&st, &sent);
    st.ok(&["upload"]);
    assert_eq!(outbox_state(&st, &sent), "done");
    let (sent_sha, _) = text_of(&sent);
    // OCR reads the batch not yet sent; the sent one's PDFs are the record.
    let pages = run_ocr(&st);
    assert!(
        pages.iter().all(|p| p["batch"] == unsent.as_str()),
        "{pages:?}"
    );
    let (after, words) = text_of(&unsent);
    assert_ne!(after, before, "rebuilt with its text");
    assert!(words.split_whitespace().count() > 100, "{words:?}");
    assert_eq!(text_of(&sent).0, sent_sha, "the sent PDF is kept");
    assert_eq!(common::pdfa::pdfs_under(&store).len(), 1);
}

#[test]
fn a_damaged_page_image_is_failed_with_why_and_the_others_are_read() {
    let st = Station::new();
    let dir = st.dir.path().join("letters");
    letters(&dir, 150, 2, 13);
    let batch = import_for_text(&st, &dir);
    // Side 0's stored image loses its second half (a disk fault).
    let tree = st.json(&["show", &batch, "--json"]);
    let sha = tree["records"][0]["documents"][0]["pages"][0]["image"]["sha256"]
        .as_str()
        .unwrap_or_else(|| panic!("the first page's image: {tree}"))
        .to_string();
    let file = st.data_dir().join("images").join(&sha[..2]).join(&sha[2..]);
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    let pages = run_ocr(&st);
    assert_eq!(pages.len(), 2, "{pages:?}");
    let why = pages[0]["error"].as_str().unwrap_or_default();
    assert!(why.contains("does not match its hash"), "{pages:?}");
    assert!(pages[1]["error"].is_null() && pages[1]["words"].as_u64().unwrap() > 100);
    assert_eq!(st.json(&["status", "--json"])["text_pages_waiting"], 0);
}
