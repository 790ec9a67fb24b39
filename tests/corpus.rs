//! A generated corpus of hostile image inputs (issue 12): every format the
//! importer reads (PNG, JPEG, PNM, TIFF), cut short at several points,
//! bit-flipped, with lying headers (huge or zero sizes), 1-bit, 16-bit, CMYK
//! JPEG, palette with alpha, a multi-page TIFF with one broken page, a TIFF
//! whose directories loop. Made here at run time, not checked in.
//!
//! Each hostile file is imported through the real `folio import`, between a
//! record sheet and a good page of its own record, so each record of the
//! batch shows what became of one input. For each: no panic, no hang (a
//! bounded wait), the good pages before and after kept, and either a page
//! (flagged as the input calls for) or an unreadable side whose file is named.

mod common;
#[path = "common/hostile.rs"]
mod hostile;
#[path = "common/sides.rs"]
mod sides;

use common::Station;
use folio::imaging::draw::TextPainter;
use folio::pixels::Raster;
use folio::synth::{SideKind, StackSpec, render};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What must become of an input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// A readable image: kept as a page (or pages), nothing unreadable.
    Page,
    /// Kept as a page carrying this flag.
    Flagged(&'static str),
    /// Damaged: a page flagged `damaged_image`, or unreadable and named.
    Damaged,
    /// Unreadable, and named in the report.
    Unreadable,
    /// Whatever the decoder makes of it (a flipped bit may change pixels
    /// only), as long as the side is accounted for.
    Any,
}

struct Input {
    name: String,
    bytes: Vec<u8>,
    want: Want,
}

fn input(name: &str, bytes: Vec<u8>, want: Want) -> Input {
    Input {
        name: name.to_string(),
        bytes,
        want,
    }
}

/// The page hostile inputs are made from: typed text at 100 dpi, small.
fn source_page() -> Raster {
    let spec = StackSpec {
        dpi: 100,
        noise_sigma: 3.0,
        max_skew_deg: 0.0,
        drift: 0.0,
        ..Default::default()
    };
    let page = render(
        &SideKind::Clinical { label: None },
        &spec,
        7,
        &mut TextPainter::new(),
    );
    // The top half: enough text to be content, quick to process.
    let h = page.height / 2;
    Raster {
        height: h,
        data: page.data[..(page.width * h) as usize].to_vec(),
        ..page
    }
}

fn png_gray(r: &Raster) -> Vec<u8> {
    hostile::png(r.width, r.height, 8, 0, None, None, &r.data)
}

fn jpeg(r: &Raster, kind: folio::pixels::PixelKind) -> Vec<u8> {
    let page = match kind {
        folio::pixels::PixelKind::Color => Raster {
            data: r
                .data
                .iter()
                .flat_map(|&v| [v, v.saturating_sub(20), v / 2 + 100])
                .collect(),
            kind,
            ..r.clone()
        },
        _ => r.clone(),
    };
    folio::imaging::encode::encode(&page, 80).unwrap().bytes
}

/// A CMYK JPEG (as prepress software and some scanners write them), stored
/// inverted as Adobe's software does (255: no ink).
fn cmyk_jpeg(r: &Raster) -> Vec<u8> {
    let cmyk: Vec<u8> = r.data.iter().flat_map(|&v| [255, 255, 255, v]).collect();
    let image = turbojpeg::Image {
        pixels: cmyk.as_slice(),
        width: r.width as usize,
        pitch: r.width as usize * 4,
        height: r.height as usize,
        format: turbojpeg::PixelFormat::CMYK,
    };
    let mut c = turbojpeg::Compressor::new().unwrap();
    c.set_quality(85).unwrap();
    c.set_subsamp(turbojpeg::Subsamp::None).unwrap();
    c.compress_to_vec(image).unwrap()
}

/// The JPEG with its frame header's size replaced.
fn jpeg_with_size(jpeg: &[u8], width: u16, height: u16) -> Vec<u8> {
    let mut out = jpeg.to_vec();
    let sof = (0..out.len() - 1)
        .find(|&i| out[i] == 0xFF && (out[i + 1] == 0xC0 || out[i + 1] == 0xC1))
        .expect("a frame header");
    out[sof + 5..sof + 7].copy_from_slice(&height.to_be_bytes());
    out[sof + 7..sof + 9].copy_from_slice(&width.to_be_bytes());
    out
}

/// Where a JPEG's entropy-coded data starts (after the start-of-scan header).
fn scan_start(jpeg: &[u8]) -> usize {
    let sos = (0..jpeg.len() - 1)
        .find(|&i| jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA)
        .expect("a scan");
    sos + 2 + u16::from_be_bytes([jpeg[sos + 2], jpeg[sos + 3]]) as usize
}

fn cut(bytes: &[u8], share: f32) -> Vec<u8> {
    bytes[..(bytes.len() as f32 * share) as usize].to_vec()
}

fn pnm(magic: &str, w: u32, h: u32, maxval: Option<u32>, data: &[u8]) -> Vec<u8> {
    let mut out = match maxval {
        Some(m) => format!("{magic}\n{w} {h}\n{m}\n"),
        None => format!("{magic}\n{w} {h}\n"),
    }
    .into_bytes();
    out.extend(data);
    out
}

/// Every hostile input, with what must become of it.
fn corpus() -> Vec<Input> {
    let src = source_page();
    let mut out = Vec::new();
    png_inputs(&src, &mut out);
    png_formats(&src, &mut out);
    jpeg_inputs(&src, &mut out);
    pnm_inputs(&src, &mut out);
    tiff_inputs(&src, &mut out);
    tiff_formats(&src, &mut out);
    not_images(&mut out);
    out
}

/// PNG: cut, bit-flipped, lying sizes.
fn png_inputs(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    let png = png_gray(src);
    let idat = 8 + 25 + 8;
    for share in [0.1, 0.5, 0.9, 0.999] {
        out.push(input(
            &format!("png-cut-{share}.png"),
            cut(&png, share),
            Damaged,
        ));
    }
    out.push(input(
        "png-signature-only.png",
        png[..8].to_vec(),
        Unreadable,
    ));
    out.push(input("png-header-only.png", png[..33].to_vec(), Unreadable));
    // One bit in the data, one in the middle, one every 997 bytes.
    for (i, every) in [
        (idat + 100, usize::MAX),
        (png.len() / 2, usize::MAX),
        (idat + 10, 997),
    ] {
        let flipped = hostile::flip_bits(&png, i, every, 5);
        out.push(input(
            &format!("png-flipped-{i}-{}.png", every.min(997)),
            flipped,
            Damaged,
        ));
    }
    out.push(input(
        "png-huge.png",
        hostile::lying_png(100_000, 100_000),
        Unreadable,
    ));
    out.push(input(
        "png-wide.png",
        hostile::lying_png(4_000_000, 1),
        Unreadable,
    ));
    out.push(input("png-zero.png", hostile::lying_png(0, 0), Unreadable));
    out.push(input(
        "png-zero-height.png",
        hostile::lying_png(500, 0),
        Unreadable,
    ));
}

/// PNG in every bit depth and colour type, and an all-black page.
fn png_formats(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    let (w, h) = (src.width, src.height);
    let bits = hostile::pack_bits(&src.data, w as usize);
    out.push(input(
        "png-1bit.png",
        hostile::png(w, h, 1, 0, None, None, &bits),
        Page,
    ));
    let sixteen: Vec<u8> = src.data.iter().flat_map(|&v| [v, 0x5A]).collect();
    out.push(input(
        "png-16bit.png",
        hostile::png(w, h, 16, 0, None, None, &sixteen),
        Page,
    ));
    let rgba16: Vec<u8> = src
        .data
        .iter()
        .flat_map(|&v| [v, 0, v, 0, v / 2, 0, 255, 255])
        .collect();
    out.push(input(
        "png-rgba-16bit.png",
        hostile::png(w, h, 16, 6, None, None, &rgba16),
        Page,
    ));
    let palette: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v / 2]).collect();
    let alpha: Vec<u8> = (0..=255u8).map(|v| if v < 8 { 0 } else { 255 }).collect();
    out.push(input(
        "png-palette-alpha.png",
        hostile::png(w, h, 8, 3, Some(&palette), Some(&alpha), &src.data),
        Page,
    ));
    let gray_alpha: Vec<u8> = src.data.iter().flat_map(|&v| [v, 200]).collect();
    out.push(input(
        "png-gray-alpha.png",
        hostile::png(w, h, 8, 4, None, None, &gray_alpha),
        Page,
    ));
    let black = Raster::filled(w, h, 100, 0);
    out.push(input(
        "png-black.png",
        png_gray(&black),
        Flagged("too_dark"),
    ));
}

/// JPEG: cut, bit-flipped, lying sizes, colour and CMYK.
fn jpeg_inputs(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    use folio::pixels::PixelKind;
    let (w, h) = (src.width, src.height);
    let jpg = jpeg(src, PixelKind::Gray);
    let scan = scan_start(&jpg);
    for share in [0.3, 0.5, 0.9] {
        out.push(input(
            &format!("jpeg-cut-{share}.jpg"),
            cut(&jpg, share),
            Damaged,
        ));
    }
    out.push(input("jpeg-soi-only.jpg", jpg[..2].to_vec(), Unreadable));
    out.push(input(
        "jpeg-headers-only.jpg",
        jpg[..scan].to_vec(),
        Damaged,
    ));
    for (i, from) in [scan + 50, scan + 400, (jpg.len() + scan) / 2]
        .into_iter()
        .enumerate()
    {
        out.push(input(
            &format!("jpeg-flipped-{i}.jpg"),
            hostile::flip_bits(&jpg, from, 301, i as u8 + 1),
            Any,
        ));
    }
    out.push(input(
        "jpeg-huge.jpg",
        jpeg_with_size(&jpg, 65_000, 65_000),
        Unreadable,
    ));
    out.push(input(
        "jpeg-zero.jpg",
        jpeg_with_size(&jpg, 0, 0),
        Unreadable,
    ));
    out.push(input(
        "jpeg-lying-larger.jpg",
        jpeg_with_size(&jpg, w as u16, h as u16 * 2),
        Damaged,
    ));
    out.push(input("jpeg-colour.jpg", jpeg(src, PixelKind::Color), Page));
    let cmyk = cmyk_jpeg(src);
    out.push(input("jpeg-cmyk.jpg", cmyk.clone(), Page));
    out.push(input("jpeg-cmyk-cut.jpg", cut(&cmyk, 0.5), Damaged));
}

/// PNM: cut, lying sizes, 1-bit, 16-bit, ASCII and colour.
fn pnm_inputs(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    let (w, h) = (src.width, src.height);
    let bits = hostile::pack_bits(&src.data, w as usize);
    let sixteen: Vec<u8> = src.data.iter().flat_map(|&v| [v, 0x5A]).collect();
    let pgm = pnm("P5", w, h, Some(255), &src.data);
    out.push(input("pnm-cut.pgm", cut(&pgm, 0.5), Unreadable));
    out.push(input(
        "pnm-header-only.pgm",
        pnm("P5", w, h, Some(255), &[]),
        Unreadable,
    ));
    out.push(input(
        "pnm-huge.pgm",
        pnm("P5", 100_000, 100_000, Some(255), &src.data),
        Unreadable,
    ));
    out.push(input(
        "pnm-zero.pgm",
        pnm("P5", 0, 0, Some(255), &[]),
        Unreadable,
    ));
    out.push(input(
        "pnm-maxval-zero.pgm",
        pnm("P5", w, h, Some(0), &src.data),
        Any,
    ));
    out.push(input(
        "pnm-1bit.pbm",
        pnm(
            "P4",
            w,
            h,
            None,
            &bits.iter().map(|b| !b).collect::<Vec<u8>>(),
        ),
        Page,
    ));
    out.push(input(
        "pnm-16bit.pgm",
        pnm("P5", w, h, Some(65_535), &sixteen),
        Page,
    ));
    // Sixty rows through the text, so the page is not blank.
    let ascii: String = src
        .data
        .chunks(w as usize)
        .skip(h as usize / 2)
        .take(60)
        .map(|row| {
            row.iter()
                .map(|&v| if v < 128 { "1" } else { "0" })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n");
    out.push(input(
        "pnm-ascii.pbm",
        pnm("P1", w, 60, None, ascii.as_bytes()),
        Any,
    ));
    let ppm: Vec<u8> = src.data.iter().flat_map(|&v| [v, v, v / 3]).collect();
    out.push(input(
        "pnm-colour.ppm",
        pnm("P6", w, h, Some(255), &ppm),
        Page,
    ));
}

/// TIFF: cut, bit-flipped, lying sizes.
fn tiff_inputs(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    let (w, h) = (src.width, src.height);
    let page = hostile::gray_page(w, h, &src.data);
    let tif = hostile::tiff(std::slice::from_ref(&page));
    for share in [0.5, 0.99] {
        out.push(input(
            &format!("tiff-cut-{share}.tif"),
            cut(&tif, share),
            Damaged,
        ));
    }
    out.push(input("tiff-header-only.tif", tif[..8].to_vec(), Unreadable));
    out.push(input(
        "tiff-directory-cut.tif",
        tif[..40].to_vec(),
        Unreadable,
    ));
    out.push(input(
        "tiff-flipped.tif",
        hostile::flip_bits(&tif, 200, 1009, 6),
        Any,
    ));
    out.push(input(
        "tiff-huge.tif",
        hostile::tiff(&[hostile::TiffPage {
            width: 1_000_000,
            height: 1_000_000,
            ..page.clone()
        }]),
        Unreadable,
    ));
    out.push(input(
        "tiff-zero.tif",
        hostile::tiff(&[hostile::TiffPage {
            width: 0,
            height: 0,
            ..page.clone()
        }]),
        Unreadable,
    ));
}

/// TIFF: bit depths, strips past the end, broken pages, looping directories.
fn tiff_formats(src: &Raster, out: &mut Vec<Input>) {
    use Want::*;
    let (w, h) = (src.width, src.height);
    let page = hostile::gray_page(w, h, &src.data);
    let tbits = hostile::pack_bits(&src.data, w as usize);
    out.push(input(
        "tiff-1bit.tif",
        hostile::tiff(&[hostile::TiffPage {
            bits: 1,
            data: &tbits,
            ..page.clone()
        }]),
        Page,
    ));
    let t16: Vec<u8> = src.data.iter().flat_map(|&v| [0x33, v]).collect();
    out.push(input(
        "tiff-16bit.tif",
        hostile::tiff(&[hostile::TiffPage {
            bits: 16,
            data: &t16,
            ..page.clone()
        }]),
        Page,
    ));
    out.push(input(
        "tiff-strip-past-end.tif",
        hostile::tiff(&[hostile::TiffPage {
            strip_offset: Some(0x7FFF_0000),
            ..page.clone()
        }]),
        Unreadable,
    ));
    // Three pages, the middle one's strip beyond the end of the file: the
    // first and last are pages, the middle one unreadable.
    out.push(input(
        "tiff-multipage-broken.tif",
        hostile::tiff(&[
            page.clone(),
            hostile::TiffPage {
                strip_offset: Some(0x7FFF_0000),
                ..page.clone()
            },
            page.clone(),
        ]),
        Damaged,
    ));
    out.push(input(
        "tiff-multipage-cut.tif",
        cut(
            &hostile::tiff(&[page.clone(), page.clone(), page.clone()]),
            0.6,
        ),
        Damaged,
    ));
    out.push(input(
        "tiff-loop.tif",
        hostile::looping_tiff(w, h, &src.data),
        Any,
    ));
}

/// Files that are not images at all.
fn not_images(out: &mut Vec<Input>) {
    use Want::*;
    out.push(input("empty.png", Vec::new(), Unreadable));
    out.push(input("notes.txt", b"not a scan\n".to_vec(), Unreadable));
    out.push(input(
        "gif.gif",
        b"GIF89a\x01\x00\x01\x00".to_vec(),
        Unreadable,
    ));
}

/// A valid NHS number (mod 11 check digit) from a counter.
fn nhs(n: u32) -> String {
    (0..)
        .map(|k| format!("{:09}", 400_000_000 + n * 1000 + k))
        .find_map(|base| {
            let sum: u32 = base
                .bytes()
                .zip((2..=10).rev())
                .map(|(d, w)| (d - b'0') as u32 * w)
                .sum();
            match 11 - sum % 11 {
                11 => Some(format!("{base}0")),
                10 => None,
                c => Some(format!("{base}{c}")),
            }
        })
        .unwrap()
}

/// How one import went.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    hung: bool,
}

/// `folio import --json DIR`, killed if it takes longer than `limit`.
fn import_bounded(st: &Station, dir: &Path, limit: Duration) -> Run {
    let mut child = st
        .cmd()
        .args(["import", "--json"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start folio");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let (code, hung) = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break (status.code(), false);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Run {
        code,
        stdout: reader.join().unwrap(),
        stderr: err_reader.join().unwrap(),
        hung,
    }
}

/// What went wrong across the corpus.
#[derive(Default)]
struct Tally {
    panics: usize,
    hangs: usize,
    lost: usize,
    unexpected: usize,
    wrong: Vec<String>,
}

/// One group's files: each input behind a record sheet of its own patient and
/// a good page, numbered from `first`.
fn write_group(dir: &Path, group: &[Input], first: usize, good: &[u8], painter: &mut TextPainter) {
    std::fs::create_dir_all(dir).unwrap();
    for (i, inp) in group.iter().enumerate() {
        let n = first + i;
        let mut sheet = Raster::filled(1240, 1754, 150, 236);
        folio::synth::render::control_sheet(
            &mut sheet,
            &format!("FOLIO:REC:{}", nhs(n as u32)),
            &[],
            painter,
        );
        std::fs::write(
            dir.join(format!("{n:03}-a-sheet.png")),
            hostile::png(sheet.width, sheet.height, 8, 0, None, None, &sheet.data),
        )
        .unwrap();
        std::fs::write(dir.join(format!("{n:03}-b-good.png")), good).unwrap();
        std::fs::write(dir.join(format!("{n:03}-c-{}", inp.name)), &inp.bytes).unwrap();
    }
}

/// Checks what one group's import made of its inputs, numbered from `first`.
fn check_group(
    st: &Station,
    g: usize,
    group: &[Input],
    first: usize,
    run: &Run,
    tally: &mut Tally,
) {
    if run.stderr.contains("panicked") || run.code == Some(101) {
        tally.panics += 1;
        tally
            .wrong
            .push(format!("group {g} panicked:\n{}", run.stderr));
    }
    if run.hung {
        tally.hangs += 1;
        tally
            .wrong
            .push(format!("group {g} did not finish in 120 s"));
        return;
    }
    let report: Value = match serde_json::from_str(&run.stdout) {
        Ok(v) => v,
        Err(_) => {
            tally.lost += group.len();
            tally.wrong.push(format!(
                "group {g}: import failed ({:?}):\n{}",
                run.code, run.stderr
            ));
            return;
        }
    };
    let batch = report["batch_id"].as_str().unwrap().to_string();
    let unreadable: Vec<String> = report["unreadable"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["origin"].as_str().unwrap_or_default().to_string())
        .collect();
    let show = st.json(&["show", &batch, "--json"]);
    let records = show["records"].as_array().cloned().unwrap_or_default();
    let removed = sides::Sides::of(&show).removed;
    for (i, inp) in group.iter().enumerate() {
        let n = first + i;
        let file = format!("{n:03}-c-{}", inp.name);
        let rec = records
            .iter()
            .find(|r| r["nhs_number"].as_str() == Some(nhs(n as u32).as_str()));
        let Some(rec) = rec else {
            tally.lost += 1;
            tally
                .wrong
                .push(format!("{file}: its record sheet's record is missing"));
            continue;
        };
        let named = unreadable.iter().any(|o| o.starts_with(&file));
        check_input(&file, inp, rec, &removed, named, tally);
    }
}

/// Checks what became of one input, given its record and the batch's
/// removed sides; `named` if the import reported its file unreadable.
fn check_input(
    file: &str,
    inp: &Input,
    rec: &Value,
    removed: &BTreeMap<u32, String>,
    named: bool,
    tally: &mut Tally,
) {
    let one = serde_json::json!({ "records": [rec], "removed": [] });
    let got = sides::Sides::of(&one);
    let mut pages = got.pages.iter();
    // The good page comes first in its record, unflagged.
    if pages.next().map(|(_, f)| f.is_empty()) != Some(true) {
        tally.lost += 1;
        tally
            .wrong
            .push(format!("{file}: the good page before it is not kept"));
    }
    let flags: Vec<String> = pages
        .flat_map(|(_, f)| f.iter().map(|(c, _)| c.clone()))
        .collect();
    // A side judged blank is removed from its record but listed.
    let good_side = got.pages.keys().next().copied().unwrap_or(u32::MAX);
    let next_sheet = removed
        .range(good_side.saturating_add(1)..)
        .find(|(_, why)| *why == "control_sheet")
        .map_or(u32::MAX, |(s, _)| *s);
    let blank = removed
        .range(good_side.saturating_add(1)..next_sheet)
        .any(|(_, why)| why == "blank");
    let kept = got.pages.len() > 1 || blank;
    let flagged_unreadable = got
        .record_flags
        .iter()
        .any(|(_, c, _)| c == "unreadable_image");
    let reported = named && flagged_unreadable;
    if !(kept || reported) {
        tally.lost += 1;
        tally.wrong.push(format!(
            "{file}: neither kept nor reported unreadable by name"
        ));
        return;
    }
    let ok = match inp.want {
        Want::Page => kept && !named,
        Want::Flagged(code) => kept && flags.iter().any(|c| c == code),
        Want::Damaged => (kept && flags.iter().any(|c| c == "damaged_image")) || named,
        Want::Unreadable => named,
        Want::Any => true,
    };
    if !ok {
        tally.unexpected += 1;
        tally.wrong.push(format!(
            "{file}: wanted {:?}; pages {}, flags {flags:?}, unreadable and named {named}",
            inp.want,
            got.pages.len() - 1
        ));
    }
}

#[test]
fn hostile_image_corpus_loses_nothing_and_names_what_it_cannot_read() {
    let inputs = corpus();
    let st = Station::new();
    let mut painter = TextPainter::new();
    let good = {
        let spec = StackSpec {
            dpi: 100,
            ..Default::default()
        };
        let r = render(&SideKind::NearBlank { lines: 3 }, &spec, 3, &mut painter);
        hostile::png(r.width, r.height, 8, 0, None, None, &r.data)
    };
    // Few imports, many inputs each: a batch start costs more than a side.
    let groups: Vec<&[Input]> = inputs.chunks(inputs.len().div_ceil(3)).collect();
    let mut tally = Tally::default();
    let mut first = 0;
    for (g, group) in groups.iter().enumerate() {
        let dir = st.dir.path().join(format!("corpus-{g}"));
        write_group(&dir, group, first, &good, &mut painter);
        let run = import_bounded(&st, &dir, Duration::from_secs(120));
        check_group(&st, g, group, first, &run, &mut tally);
        first += group.len();
    }
    let Tally {
        panics,
        hangs,
        lost,
        unexpected,
        wrong,
    } = tally;
    println!(
        "corpus: {} inputs, {panics} panics, {hangs} hangs, {lost} lost, {unexpected} not as expected",
        inputs.len()
    );
    assert!(
        wrong.is_empty(),
        "{} of {} inputs went wrong:\n{}",
        wrong.len(),
        inputs.len(),
        wrong.join("\n")
    );
}
