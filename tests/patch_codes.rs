//! Patch codes on generated scans: every patch reads through noise, skew,
//! JPEG artefacts, low contrast and broken bars at 150 to 600 dpi, and no
//! ordinary page (typed clinical pages, control sheets, forms with ruled
//! tables and heavy rules) reads as one.

use folio::batch::protocol::Patch;
use folio::imaging::deskew::rotate;
use folio::imaging::draw::fill_rect;
use folio::imaging::encode::encode;
use folio::imaging::patch::{PatchRead, detect, draw};
use folio::pixels::{PixelKind, Raster};
use folio::synth::plan::{Label, SideKind, StackSpec, Symbology};
use folio::synth::render::render;
use folio::synth::rng::Rng;

/// Sensor noise (uniform, ±`amp` grey levels) and a few dust specks.
fn noisy(mut page: Raster, amp: i32, rng: &mut Rng) -> Raster {
    for v in &mut page.data {
        let n = (rng.below((2 * amp + 1) as usize)) as i32 - amp;
        *v = (i32::from(*v) + n).clamp(0, 255) as u8;
    }
    let dpi = page.dpi as i64;
    for _ in 0..200 {
        let (x, y) = (
            rng.below(page.width as usize) as i64,
            rng.below(page.height as usize) as i64,
        );
        let s = dpi / 100 + 1;
        fill_rect(&mut page, x, y, s, s, 20);
    }
    page
}

/// Through a JPEG at quality 50 and back, as a cheap scanner stores it.
fn jpeg_artefacts(page: &Raster) -> Raster {
    let e = encode(page, 50).unwrap();
    let img = image::load_from_memory(&e.bytes).unwrap().to_luma8();
    Raster {
        width: img.width(),
        height: img.height(),
        kind: PixelKind::Gray,
        dpi: page.dpi,
        data: img.into_raw(),
    }
}

/// A patch sheet as printed: `paper` and `ink` levels, bars from 0.75 in to
/// the right margin, 0.5 in below the top edge.
fn patch_sheet(patch: Patch, dpi: u32, paper: u8, ink: u8) -> Raster {
    let mut page = Raster::filled(
        (8.27 * dpi as f32) as u32,
        (11.69 * dpi as f32) as u32,
        dpi,
        paper,
    );
    let mut black = Raster::filled(page.width, page.height, dpi, 255);
    draw(&mut black, patch, 0.5, 0.75);
    for (p, b) in page.data.iter_mut().zip(&black.data) {
        if *b == 0 {
            *p = ink;
        }
    }
    page
}

fn read(page: &Raster) -> Option<PatchRead> {
    detect(page)
}

#[test]
fn every_patch_reads_through_noise_skew_and_defects() {
    let mut rng = Rng::new(19);
    let mut cases = 0;
    for dpi in [150, 200, 300, 600] {
        let skews: &[f32] = if dpi == 600 {
            &[-5.0, 5.0]
        } else {
            &[-5.0, -2.5, 0.0, 2.5, 5.0]
        };
        for (i, patch) in Patch::ALL.into_iter().enumerate() {
            for &skew in skews {
                // Alternate the hard conditions so each combination is met.
                let (paper, ink) = if i % 2 == 0 { (245, 15) } else { (205, 110) };
                let mut page = patch_sheet(patch, dpi, paper, ink);
                if (i + cases) % 3 == 0 {
                    // Broken bars: two gaps through all four, and one end lost.
                    let d = dpi as i64;
                    fill_rect(&mut page, d * 2, 0, d / 8, d * 2, paper);
                    fill_rect(&mut page, d * 5, 0, d / 5, d * 2, paper);
                    fill_rect(&mut page, 0, 0, d * 3 / 2, d * 2, paper);
                }
                let page = if skew == 0.0 {
                    page
                } else {
                    rotate(&page, skew, paper)
                };
                let page = noisy(page, 12, &mut rng);
                let page = if cases % 2 == 0 {
                    jpeg_artefacts(&page)
                } else {
                    page
                };
                let got = read(&page);
                assert_eq!(
                    got.map(|g| g.patch),
                    Some(patch),
                    "{patch:?} at {dpi} dpi, skew {skew}°, paper {paper} ink {ink}: {got:?}"
                );
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 3 * 6 * 5 + 6 * 2);
}

#[test]
fn a_patch_on_an_ordinary_page_of_text_still_reads() {
    // Kodak's own sheets carry the patch's name in large letters below it;
    // a bureau may print its patch on a page with a form under it.
    let spec = StackSpec::default();
    let mut painter = folio::imaging::draw::TextPainter::new();
    let mut page = render(&SideKind::Clinical { label: None }, &spec, 7, &mut painter);
    let w = i64::from(page.width);
    fill_rect(&mut page, 0, 0, w, 300, 250);
    draw(&mut page, Patch::T, 0.3, 0.5);
    assert_eq!(read(&page).map(|g| g.patch), Some(Patch::T));
}

/// A form: a title band, ruled tables of varying rule weights, heavy rules
/// alone, boxes and shaded rows. Heavy rules are never four in a patch's
/// rhythm.
fn form(rng: &mut Rng, dpi: u32) -> Raster {
    let inch = dpi as f32;
    let (w, h) = ((8.27 * inch) as i64, (11.69 * inch) as i64);
    let mut page = Raster::filled(w as u32, h as u32, dpi, 248);
    let px = |v: f32| (v * inch) as i64;
    let mut y = px(rng.range(0.2, 0.8));
    // Letterhead: a solid band and a heavy rule under it.
    let band = px(rng.range(0.15, 0.5));
    fill_rect(&mut page, px(0.5), y, w - px(1.0), band, 30);
    y += band + px(rng.range(0.3, 0.6));
    fill_rect(
        &mut page,
        px(0.5),
        y,
        w - px(1.0),
        px(rng.range(0.03, 0.1)),
        0,
    );
    y += px(0.4);
    while y < h - px(1.5) {
        match rng.below(4) {
            // A ruled table.
            0 | 1 => {
                let rows = 3 + rng.below(12) as i64;
                let pitch = px(rng.range(0.18, 0.4));
                let weight = px(rng.range(0.003, 0.03)).max(1);
                for r in 0..=rows {
                    fill_rect(&mut page, px(0.6), y + r * pitch, w - px(1.2), weight, 10);
                    if r % 2 == 1 && rng.below(2) == 0 {
                        // A shaded row.
                        fill_rect(
                            &mut page,
                            px(0.6),
                            y + r * pitch + weight,
                            w - px(1.2),
                            pitch - weight,
                            200,
                        );
                    }
                }
                for c in 0..(2 + rng.below(5) as i64) {
                    let x = px(0.6) + c * (w - px(1.2)) / 5;
                    fill_rect(&mut page, x, y, weight, rows * pitch, 10);
                }
                y += rows * pitch + px(0.5);
            }
            // A heavy rule, alone.
            2 => {
                fill_rect(
                    &mut page,
                    px(0.5),
                    y,
                    w - px(1.0),
                    px(rng.range(0.04, 0.25)),
                    0,
                );
                y += px(rng.range(0.6, 1.2));
            }
            // Boxes to write in.
            _ => {
                let bh = px(rng.range(0.3, 0.8));
                let weight = px(0.02).max(1);
                for side in [0, bh] {
                    fill_rect(&mut page, px(0.6), y + side, w - px(1.2), weight, 0);
                }
                fill_rect(&mut page, px(0.6), y, weight, bh, 0);
                fill_rect(&mut page, w - px(0.6), y, weight, bh, 0);
                y += bh + px(0.4);
            }
        }
    }
    let skew = rng.range(-3.0, 3.0);
    let page = rotate(&page, skew, 248);
    noisy(page, 8, rng)
}

/// Ordinary page `i` of 1,000: 600 typed clinical pages (some with barcode
/// labels), near-blank pages and control sheets as the stack generator makes
/// them, then 400 forms; with what it is, for a failure message.
fn ordinary_page(i: u64, painter: &mut folio::imaging::draw::TextPainter) -> (String, Raster) {
    let dpi = [150, 200, 300][i as usize % 3];
    if i >= 600 {
        return (format!("form {i}"), form(&mut Rng::new(i), dpi));
    }
    let spec = StackSpec {
        dpi,
        max_skew_deg: 5.0,
        ..StackSpec::default()
    };
    let kind = match i % 10 {
        0 => SideKind::RecordSheet {
            code: format!("FOLIO:REC:94347659{:02}", i % 100),
            words: vec!["Record".into()],
        },
        1 => SideKind::DocSheet {
            code: "FOLIO:DOC:letter".into(),
            words: vec!["Letter".into()],
        },
        2 => SideKind::NearBlank { lines: 2 },
        3 | 4 => SideKind::Clinical {
            label: Some(Label {
                text: "9434765919".into(),
                symbology: [Symbology::Code128, Symbology::Code39, Symbology::Qr][i as usize % 3],
            }),
        },
        _ => SideKind::Clinical { label: None },
    };
    let page = render(&kind, &spec, 5000 + i, painter);
    (format!("{kind:?} seed {}", 5000 + i), page)
}

#[test]
fn no_ordinary_page_reads_as_a_patch() {
    // Both cores: the pages are independent.
    let halves: Vec<(usize, Vec<String>)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..2u64)
            .map(|half| {
                s.spawn(move || {
                    let mut painter = folio::imaging::draw::TextPainter::new();
                    let mut seen = 0;
                    let mut false_reads = Vec::new();
                    for i in (half..1000).step_by(2) {
                        let (what, page) = ordinary_page(i, &mut painter);
                        if let Some(r) = read(&page) {
                            false_reads.push(format!("{what}: {r:?}"));
                        }
                        seen += 1;
                    }
                    (seen, false_reads)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let pages: usize = halves.iter().map(|(n, _)| n).sum();
    let false_reads: Vec<&String> = halves.iter().flat_map(|(_, f)| f).collect();
    assert_eq!(pages, 1000);
    assert!(false_reads.is_empty(), "{false_reads:#?}");
}
