//! The hardest labels we can make here, read three ways: zbar alone (the
//! pipeline before zxing-cpp joined it), zxing-cpp alone (over the whole
//! page), and the pipeline's reader (zbar, then zxing-cpp on the areas zbar
//! could not read). Prints the read rates (quoted in the README) and checks
//! that the pipeline's reader reads at least as many as either alone, and
//! never reads a wrong text.
//!
//! `cargo test --release --test barcode_hard -- --nocapture` prints the table.

use folio::imaging::barcode::{read_page, read_page_with, read_page_zxing};
use folio::imaging::deskew::rotate;
use folio::imaging::draw::{code39_modules, code128_modules, draw_modules, draw_qr, fill_rect};
use folio::imaging::encode::encode;
use folio::pixels::{PixelKind, Raster};
use folio::synth::rng::Rng;

const DPI: u32 = 300;

#[derive(Clone, Copy, Debug)]
enum Kind {
    Code128,
    Code39,
    Qr,
}

#[derive(Clone, Copy, Debug)]
enum Trouble {
    /// Out of focus: a box blur of `n` pixels either way.
    Blur(usize),
    /// Ink this light on paper this dark.
    LowContrast(u8, u8),
    /// A JPEG at this quality.
    Jpeg(u8),
    /// Photographed at an angle: rows stretched progressively (keystone).
    Perspective(f32),
    /// Toner missing: white specks over this share of the label.
    PrintDefects(u32),
    /// A label on a curved folder: columns squeezed toward its edges.
    Curved(f32),
    /// Modules of 0.19 mm (2.2 pixels at 300 dpi), and a little noise.
    Tiny,
}

/// A 4 x 2.5 in patch of page with one label: `text` in `kind`, module
/// `module_mm` wide, then `trouble`.
fn label(kind: Kind, text: &str, module_mm: f32, trouble: Trouble, rng: &mut Rng) -> Raster {
    let (w, h) = (4 * DPI, (2.5 * DPI as f32) as u32);
    let mut r = Raster::filled(w, h, DPI, 250);
    let px = module_mm * DPI as f32 / 25.4;
    match kind {
        Kind::Code128 | Kind::Code39 => {
            let modules = match kind {
                Kind::Code128 => code128_modules(text).unwrap(),
                _ => code39_modules(text).unwrap(),
            };
            let width = modules.len() as f32 * px;
            let x = ((w as f32 - width) / 2.0) as i64;
            draw_modules(&mut r, x, 200, &modules, px, (0.5 * DPI as f32) as i64, 0);
        }
        Kind::Qr => {
            draw_qr(&mut r, 300, 120, text, px.round().max(2.0) as i64, 0).unwrap();
        }
    }
    trouble_of(r, trouble, rng)
}

fn trouble_of(mut r: Raster, t: Trouble, rng: &mut Rng) -> Raster {
    let (w, h) = (r.width as usize, r.height as usize);
    match t {
        Trouble::Blur(n) => {
            for _ in 0..n {
                r.data = box3(&r.data, w, h);
            }
            r
        }
        Trouble::LowContrast(ink, paper) => {
            for v in &mut r.data {
                *v = (u32::from(ink) + u32::from(*v) * u32::from(paper - ink) / 255) as u8;
            }
            r
        }
        Trouble::Jpeg(q) => {
            let e = encode(&r, q).unwrap();
            let img = image::load_from_memory(&e.bytes).unwrap().to_luma8();
            r.data = img.into_raw();
            r
        }
        Trouble::Perspective(k) => {
            let src = r.data.clone();
            for y in 0..h {
                // Each row scaled about the centre by 1 + k (y / h - 0.5).
                let s = 1.0 + k * (y as f32 / h as f32 - 0.5);
                for x in 0..w {
                    let sx = (w as f32 / 2.0 + (x as f32 - w as f32 / 2.0) / s) as isize;
                    r.data[y * w + x] = if (0..w as isize).contains(&sx) {
                        src[y * w + sx as usize]
                    } else {
                        250
                    };
                }
            }
            rotate(&r, 4.0, 250)
        }
        Trouble::PrintDefects(per_mille) => {
            let n = w * h * per_mille as usize / 1000 / 9;
            for _ in 0..n {
                let (x, y) = (rng.below(w) as i64, rng.below(h) as i64);
                fill_rect(&mut r, x, y, 3, 3, 250);
            }
            r
        }
        Trouble::Curved(depth) => {
            let src = r.data.clone();
            let half = w as f32 / 2.0;
            for x in 0..w {
                // A cylinder seen face on: the label's x at angle asin(u).
                let u = (x as f32 - half) / half;
                let theta = u.clamp(-1.0, 1.0).asin() * depth;
                let sx = (half
                    + half * theta / (depth * std::f32::consts::FRAC_PI_2)
                        * std::f32::consts::FRAC_PI_2) as isize;
                for y in 0..h {
                    r.data[y * w + x] = if (0..w as isize).contains(&sx) {
                        src[y * w + sx as usize]
                    } else {
                        250
                    };
                }
            }
            r
        }
        Trouble::Tiny => {
            for v in &mut r.data {
                let n = rng.below(31) as i32 - 15;
                *v = (i32::from(*v) + n).clamp(0, 255) as u8;
            }
            r
        }
    }
}

fn box3(d: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = d.to_vec();
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let mut s = 0u32;
            for dy in 0..3 {
                for dx in 0..3 {
                    s += u32::from(d[(y + dy - 1) * w + x + dx - 1]);
                }
            }
            out[y * w + x] = (s / 9) as u8;
        }
    }
    out
}

fn troubles() -> Vec<(Trouble, f32)> {
    vec![
        (Trouble::Blur(2), 0.33),
        (Trouble::Blur(4), 0.33),
        (Trouble::LowContrast(150, 215), 0.33),
        (Trouble::LowContrast(175, 215), 0.33),
        (Trouble::Jpeg(12), 0.3),
        (Trouble::Jpeg(5), 0.3),
        (Trouble::Perspective(0.35), 0.33),
        (Trouble::Perspective(0.6), 0.33),
        (Trouble::PrintDefects(40), 0.33),
        (Trouble::PrintDefects(90), 0.33),
        (Trouble::Curved(0.8), 0.33),
        (Trouble::Curved(1.0), 0.33),
        (Trouble::Tiny, 0.19),
    ]
}

#[test]
fn the_pipelines_reader_reads_the_most_hard_labels_and_nothing_wrong() {
    let mut rng = Rng::new(19);
    let (mut zbar, mut zxing, mut both, mut total) = (0, 0, 0, 0);
    let mut rows = Vec::new();
    for (trouble, module_mm) in troubles() {
        let (mut a, mut b, mut c, mut n) = (0, 0, 0, 0);
        for kind in [Kind::Code128, Kind::Code39, Kind::Qr] {
            for i in 0..4 {
                let text = match kind {
                    Kind::Code39 => format!("RX{:06}", 1000 + i * 7919),
                    _ => format!("FOLIO:REC:94347659{i}9"),
                };
                let page = label(kind, &text, module_mm.max(0.19), trouble, &mut rng);
                let page = Raster {
                    kind: PixelKind::Gray,
                    ..page
                };
                let got = [
                    read_page_with(&page, false).codes,
                    read_page_zxing(&page),
                    read_page(&page).codes,
                ];
                for (g, who) in got.iter().zip(["zbar", "zxing-cpp", "both"]) {
                    assert!(
                        g.iter().all(|t| *t == text),
                        "{kind:?} {trouble:?}: {who} read {g:?}, printed {text}"
                    );
                }
                a += usize::from(!got[0].is_empty());
                b += usize::from(!got[1].is_empty());
                c += usize::from(!got[2].is_empty());
                n += 1;
            }
        }
        let name = format!("{trouble:?}");
        rows.push(format!("{name:<28} {a:>4} {b:>5} {c:>4}  of {n}"));
        (zbar, zxing, both, total) = (zbar + a, zxing + b, both + c, total + n);
    }
    println!("trouble                      zbar zxing both");
    for r in &rows {
        println!("{r}");
    }
    let pct = |v: usize| 100.0 * v as f32 / total as f32;
    println!(
        "read: zbar alone {zbar}/{total} ({:.0}%), zxing-cpp alone {zxing}/{total} ({:.0}%), both {both}/{total} ({:.0}%)",
        pct(zbar),
        pct(zxing),
        pct(both)
    );
    assert!(both >= zbar, "the pipeline reads fewer than zbar alone");
    assert!(both > zbar, "zxing-cpp added nothing on the hardest labels");
    assert!(
        both * 10 >= zxing * 9,
        "the pipeline reads far fewer ({both}) than zxing-cpp alone ({zxing})"
    );
}
