//! Barcode reading on noisy, skewed, drifting pages from 150 to 600 dpi.

use folio::imaging::barcode::read_page;
use folio::imaging::draw::TextPainter;
use folio::synth::{Label, SideKind, StackSpec, Symbology, render};

fn spec(dpi: u32, seed: u64) -> StackSpec {
    StackSpec {
        seed,
        records: 1,
        dpi,
        duplex: false,
        noise_sigma: 8.0,
        max_skew_deg: 5.0,
        drift: 40.0,
    }
}

#[test]
fn control_sheets_and_labels_read_at_150_to_600_dpi_with_noise_and_skew() {
    let mut painter = TextPainter::new();
    let code = "FOLIO:REC:9434765919:cardiology";
    let mut failures = Vec::new();
    for dpi in [150, 200, 300, 600] {
        for seed in 0..3u64 {
            let s = spec(dpi, seed);
            let sheet = SideKind::RecordSheet {
                code: code.into(),
                words: vec!["PATIENT".into()],
            };
            let found = read_page(&render(&sheet, &s, seed * 31 + dpi as u64, &mut painter));
            if !found.iter().any(|c| c == code) {
                failures.push(format!(
                    "{dpi} dpi seed {seed}: control sheet read {found:?}"
                ));
            }
            for (sym, text) in [
                (Symbology::Code128, "9434765919"),
                (Symbology::Code39, "RX123456"),
                (Symbology::Qr, "4010232137"),
            ] {
                let page = SideKind::Clinical {
                    label: Some(Label {
                        text: text.into(),
                        symbology: sym,
                    }),
                };
                let found = read_page(&render(&page, &s, seed * 17 + dpi as u64, &mut painter));
                if !found.iter().any(|c| c == text) {
                    failures.push(format!(
                        "{dpi} dpi seed {seed}: {sym:?} label read {found:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "unread barcodes:\n{}",
        failures.join("\n")
    );
}

#[test]
fn blank_backs_are_blank_and_a_line_of_text_is_not() {
    use folio::imaging::analyze::{BlankParams, analyze};
    let mut painter = TextPainter::new();
    let params = BlankParams::default();
    let mut wrong = Vec::new();
    for dpi in [150, 200, 300, 600] {
        for seed in 0..4u64 {
            let s = spec(dpi, seed);
            for (kind, want_blank) in [
                (SideKind::Blank { bleed: false }, true),
                (SideKind::Blank { bleed: true }, true),
                (SideKind::ControlBack, true),
                (SideKind::NearBlank { lines: 1 }, false),
                (SideKind::NearBlank { lines: 2 }, false),
                (SideKind::Clinical { label: None }, false),
            ] {
                let m = analyze(
                    &render(&kind, &s, seed * 101 + dpi as u64, &mut painter),
                    &params,
                );
                if m.blank != want_blank {
                    wrong.push(format!("{dpi} dpi seed {seed} {kind:?}: {m:?}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "misjudged pages:\n{}", wrong.join("\n"));
}
