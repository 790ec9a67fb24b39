//! Barcode reading (Code 128, Code 39 and QR) with two decoders: zbar first
//! (fast), then zxing-cpp (the `zxing-cpp` crate, its C++ library built from
//! source by cargo) on each area where the survey saw a barcode's look and zbar
//! read nothing. Results are merged by text, first reader first, and each
//! symbol names the decoder that read it.
//!
//! zbar through our own few `extern "C"` declarations rather than the
//! `zbar-rust` crate: `zbar-rust` returns a symbol's type and bytes but not
//! where it is on the page (zbar's `loc` points), which `folio barcodes` and
//! the page's record show, nor does it let a scan choose its scan-line density
//! per direction, which the survey's areas use. We use fifteen functions of
//! zbar's stable C API; owning them keeps the scanner's lifetime and the
//! symbologies we enable explicit. A zbar scanner is not shared between
//! threads: each call makes its own, which costs microseconds.

use super::analyze::{ink_threshold, level, reduce};
use crate::pixels::Raster;
use serde::{Deserialize, Serialize};
use std::os::raw::{c_char, c_int, c_uint, c_ulong, c_void};

#[repr(C)]
struct ZbarScanner {
    _private: [u8; 0],
}
#[repr(C)]
struct ZbarImage {
    _private: [u8; 0],
}
#[repr(C)]
struct ZbarSymbol {
    _private: [u8; 0],
}

const ZBAR_NONE: c_int = 0;
const ZBAR_CODE39: c_int = 39;
const ZBAR_QRCODE: c_int = 64;
const ZBAR_CODE128: c_int = 128;
const ZBAR_CFG_ENABLE: c_int = 0;
const ZBAR_CFG_BINARY: c_int = 4;
const ZBAR_CFG_X_DENSITY: c_int = 0x100;
const ZBAR_CFG_Y_DENSITY: c_int = 0x101;
const Y800: c_ulong = u32::from_le_bytes(*b"Y800") as c_ulong;

unsafe extern "C" {
    fn zbar_image_scanner_create() -> *mut ZbarScanner;
    fn zbar_image_scanner_destroy(s: *mut ZbarScanner);
    fn zbar_image_scanner_set_config(
        s: *mut ZbarScanner,
        sym: c_int,
        cfg: c_int,
        val: c_int,
    ) -> c_int;
    fn zbar_image_create() -> *mut ZbarImage;
    fn zbar_image_destroy(img: *mut ZbarImage);
    fn zbar_image_set_format(img: *mut ZbarImage, fmt: c_ulong);
    fn zbar_image_set_size(img: *mut ZbarImage, w: c_uint, h: c_uint);
    fn zbar_image_set_data(
        img: *mut ZbarImage,
        data: *const c_void,
        len: c_ulong,
        cleanup: Option<unsafe extern "C" fn(*mut ZbarImage)>,
    );
    fn zbar_scan_image(s: *mut ZbarScanner, img: *mut ZbarImage) -> c_int;
    fn zbar_image_first_symbol(img: *const ZbarImage) -> *const ZbarSymbol;
    fn zbar_symbol_next(sym: *const ZbarSymbol) -> *const ZbarSymbol;
    fn zbar_symbol_get_data(sym: *const ZbarSymbol) -> *const c_char;
    fn zbar_symbol_get_data_length(sym: *const ZbarSymbol) -> c_uint;
    fn zbar_symbol_get_type(sym: *const ZbarSymbol) -> c_int;
    fn zbar_symbol_get_quality(sym: *const ZbarSymbol) -> c_int;
    fn zbar_symbol_get_loc_size(sym: *const ZbarSymbol) -> c_uint;
    fn zbar_symbol_get_loc_x(sym: *const ZbarSymbol, index: c_uint) -> c_int;
    fn zbar_symbol_get_loc_y(sym: *const ZbarSymbol, index: c_uint) -> c_int;
}

/// Which library read a symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decoder {
    Zbar,
    ZxingCpp,
}

/// One barcode read on a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symbol {
    /// The symbol's bytes as text, losslessly (see `symbol_text`).
    pub text: String,
    /// "code128", "code39" or "qr".
    pub symbology: String,
    pub decoder: Decoder,
    /// Where it is on the page as given: x, y, width, height in pixels.
    pub bbox: [u32; 4],
}

impl Symbol {
    /// The same symbol on a plane where this one's plane starts at (`x`,
    /// `y`) and is `factor` times smaller.
    fn placed(mut self, x: usize, y: usize, factor: usize) -> Symbol {
        let f = factor as u32;
        let [bx, by, bw, bh] = self.bbox;
        self.bbox = [bx * f + x as u32 * f, by * f + y as u32 * f, bw * f, bh * f];
        self
    }
}

/// The bounding box of points.
fn bbox_of(points: impl Iterator<Item = (i64, i64)>) -> [u32; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for (x, y) in points {
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    if x0 > x1 {
        return [0; 4];
    }
    let c = |v: i64| u32::try_from(v.max(0)).unwrap_or(u32::MAX);
    [c(x0), c(y0), c(x1 - x0 + 1), c(y1 - y0 + 1)]
}

fn zbar_symbology(t: c_int) -> &'static str {
    match t {
        ZBAR_CODE128 => "code128",
        ZBAR_CODE39 => "code39",
        ZBAR_QRCODE => "qr",
        _ => "other",
    }
}

/// A symbol's bytes as text, losslessly: UTF-8 when they are (what `folio
/// sheets` and most printers write), else ISO 8859-1, the QR code's default
/// character set (every byte one character, so nothing is lost or replaced).
fn symbol_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Owns a zbar scanner and image for one scan; frees both on drop.
struct Scan {
    scanner: *mut ZbarScanner,
    image: *mut ZbarImage,
}

impl Drop for Scan {
    fn drop(&mut self) {
        // SAFETY: both pointers came from their create functions and are freed once.
        unsafe {
            if !self.image.is_null() {
                zbar_image_destroy(self.image);
            }
            if !self.scanner.is_null() {
                zbar_image_scanner_destroy(self.scanner);
            }
        }
    }
}

/// Reads the barcodes of an 8-bit grey plane, in zbar's order, deduplicated.
pub fn read_gray(gray: &[u8], width: usize, height: usize) -> Vec<String> {
    texts(read_symbols(
        gray,
        width,
        height,
        &[ZBAR_CODE128, ZBAR_CODE39, ZBAR_QRCODE],
        (1, 1),
    ))
}

fn texts(symbols: Vec<Symbol>) -> Vec<String> {
    symbols.into_iter().map(|s| s.text).collect()
}

/// zbar over a grey plane, scanning every `x_density`-th column and
/// `y_density`-th row (0: none).
fn read_symbols(
    gray: &[u8],
    width: usize,
    height: usize,
    symbologies: &[c_int],
    (x_density, y_density): (c_int, c_int),
) -> Vec<Symbol> {
    if width == 0 || height == 0 || gray.len() < width * height {
        return Vec::new();
    }
    // SAFETY: zbar reads `width*height` bytes from `gray`, which outlives the scan
    // (the image is destroyed in `Scan::drop` before this function returns), and
    // no cleanup handler is installed, so zbar never frees our buffer.
    unsafe {
        let scan = Scan {
            scanner: zbar_image_scanner_create(),
            image: zbar_image_create(),
        };
        if scan.scanner.is_null() || scan.image.is_null() {
            return Vec::new();
        }
        zbar_image_scanner_set_config(scan.scanner, ZBAR_NONE, ZBAR_CFG_ENABLE, 0);
        for &sym in symbologies {
            zbar_image_scanner_set_config(scan.scanner, sym, ZBAR_CFG_ENABLE, 1);
        }
        // QR bytes as printed: zbar's own charset guess turns UTF-8 into
        // Shift-JIS look-alikes (see `symbol_text`).
        zbar_image_scanner_set_config(scan.scanner, ZBAR_QRCODE, ZBAR_CFG_BINARY, 1);
        zbar_image_scanner_set_config(scan.scanner, ZBAR_NONE, ZBAR_CFG_X_DENSITY, x_density);
        zbar_image_scanner_set_config(scan.scanner, ZBAR_NONE, ZBAR_CFG_Y_DENSITY, y_density);
        zbar_image_set_format(scan.image, Y800);
        zbar_image_set_size(scan.image, width as c_uint, height as c_uint);
        zbar_image_set_data(
            scan.image,
            gray.as_ptr().cast(),
            (width * height) as c_ulong,
            None,
        );
        if zbar_scan_image(scan.scanner, scan.image) <= 0 {
            return Vec::new();
        }
        let mut out: Vec<Symbol> = Vec::new();
        let mut sym = zbar_image_first_symbol(scan.image);
        while !sym.is_null() {
            let ptr = zbar_symbol_get_data(sym) as *const u8;
            let len = zbar_symbol_get_data_length(sym) as usize;
            // Code 39 has no check character: a damaged label can decode as
            // another text on one scan line. Only a text read on two lines
            // or more is believed (zbar's quality counts them).
            let kind = zbar_symbol_get_type(sym);
            let believed = kind != ZBAR_CODE39 || zbar_symbol_get_quality(sym) >= 2;
            if !ptr.is_null() && believed {
                let text = symbol_text(std::slice::from_raw_parts(ptr, len));
                if !out.iter().any(|s| s.text == text) {
                    let points = (0..zbar_symbol_get_loc_size(sym)).map(|i| {
                        (
                            i64::from(zbar_symbol_get_loc_x(sym, i)),
                            i64::from(zbar_symbol_get_loc_y(sym, i)),
                        )
                    });
                    out.push(Symbol {
                        text,
                        symbology: zbar_symbology(kind).to_string(),
                        decoder: Decoder::Zbar,
                        bbox: bbox_of(points),
                    });
                }
            }
            sym = zbar_symbol_next(sym);
        }
        out
    }
}

/// What reading a page's barcodes found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PageCodes {
    /// Decoded texts, top of the page first, deduplicated.
    pub codes: Vec<String>,
    /// The same symbols with what they are, where, and which decoder read
    /// them.
    pub symbols: Vec<Symbol>,
    /// The largest barcode-like area, millimetres (width, height), if any.
    pub largest_mm: Option<(f32, f32)>,
    /// Share of the page's inked area that looks like barcode (0 to 1).
    pub barcode_share: f32,
}

/// Side of the tiles the page is surveyed in, pixels of the reading resolution
/// (about 2 to 2.7 mm).
const TILE: usize = 16;

/// Small QR-like areas zxing-cpp looks at on one page, at most.
const MAX_SMALL_SQUARES: usize = 6;

/// Reads a page's barcodes from a binarised copy at about 150 to 200 dpi.
/// Binarising removes sensor noise, which otherwise both breaks bar edges and
/// makes zbar several times slower; at that resolution a 0.33 mm bar or a
/// 0.6 mm QR module still spans two to four pixels.
///
/// zbar is not run over the whole page: a survey in small tiles finds where
/// the ink is dense and alternates quickly (bars, QR modules), and only those
/// areas, with a quiet-zone margin, are scanned. Text, even bold, is too sparse
/// to qualify, so a page of text costs the survey alone; a survey that finds
/// much of the page barcode-like falls back to one pass over the page. (Tested
/// against whole-page reading on generated stacks: tests/page_checks.rs.)
///
/// Small labels (modules of 0.19 to 0.25 mm) are only a pixel or two a module
/// at the reduced resolution and can come out of it unreadable: an area with a
/// linear barcode's look from which nothing was read is read again from the
/// full-resolution page (see [`read_fine`]). Only such areas cost the extra
/// pass, so pages whose barcodes read at once pay nothing.
pub fn read_page(raster: &Raster) -> PageCodes {
    read_page_with(raster, true)
}

/// [`read_page`] with zbar alone (`zxing` false): what the pipeline read
/// before zxing-cpp joined it, kept to measure what zxing-cpp adds.
pub fn read_page_with(raster: &Raster, zxing: bool) -> PageCodes {
    let luma = raster.luma();
    let (mut bin, width, height, factor) = binarised(&luma, raster);
    let mut survey = Survey::of(&bin, width, height);
    if zxing && survey.regions().is_empty() {
        // Faint ink (a faded label, a grey print) falls on the paper side
        // of the usual threshold: a page whose darkest ink is that light is
        // binarised again halfway between it and the paper. Pages with dark
        // ink (nearly all) never pay for this.
        if let Some(faint) = faint_binarised(&luma, raster) {
            let again = Survey::of(&faint.0, faint.1, faint.2);
            if !again.regions().is_empty() {
                (bin, survey) = (faint.0, again);
            }
        }
    }
    let mm_per_px = 25.4 * factor as f32 / raster.dpi.max(1) as f32;
    let regions = survey.regions();
    let tile_mm = TILE as f32 * mm_per_px;
    let mut out = PageCodes {
        largest_mm: survey
            .linear_blobs()
            .iter()
            .map(|b| {
                (
                    (b.x1 - b.x0) as f32 * tile_mm,
                    (b.y1 - b.y0) as f32 * tile_mm,
                )
            })
            .max_by(|a, b| (a.0 * a.1).total_cmp(&(b.0 * b.1))),
        barcode_share: survey.barcode_share(),
        ..PageCodes::default()
    };
    let area: usize = regions.iter().map(|(b, _)| b.w * b.h).sum();
    let mut missed = Vec::new();
    let mut symbols = Vec::new();
    if area * 5 > width * height * 2 {
        symbols = read_area(&bin, width, &Area::whole(width, height));
        if symbols.is_empty() {
            missed.extend(regions.iter().copied());
        }
    } else {
        for &(region, linear) in &regions {
            let found = read_area(&bin, width, &region);
            if found.is_empty() {
                missed.push((region, linear));
            }
            add_new(&mut symbols, found);
        }
    }
    symbols = symbols
        .into_iter()
        .map(|s| s.placed(0, 0, factor))
        .collect();
    let (w, h) = (raster.width as usize, raster.height as usize);
    for (region, linear) in missed {
        let full = region.scaled(factor, w, h);
        // Small linear labels again at full resolution with zbar, then
        // whatever is still unread with zxing-cpp.
        let mut found = if linear > 0 {
            read_fine_symbols(&luma, w, &full)
        } else {
            Vec::new()
        };
        if found.is_empty() && zxing {
            found = read_zxing(&luma, w, &full);
        }
        add_new(&mut symbols, found);
    }
    if zxing {
        for small in survey.small_squares() {
            if symbols.iter().any(|s| overlaps(s.bbox, &small, factor)) {
                continue;
            }
            let full = small.scaled(factor, w, h);
            add_new(&mut symbols, read_zxing(&luma, w, &full));
        }
    }
    out.codes = symbols.iter().map(|s| s.text.clone()).collect();
    out.symbols = symbols;
    out
}

/// Whether a symbol's box (page pixels) overlaps an area of the plane
/// `factor` times smaller.
fn overlaps(b: [u32; 4], a: &Area, factor: usize) -> bool {
    let f = factor as u32;
    let (ax0, ay0) = (a.x as u32 * f, a.y as u32 * f);
    let (ax1, ay1) = (ax0 + a.w as u32 * f, ay0 + a.h as u32 * f);
    b[0] < ax1 && ax0 < b[0] + b[2] && b[1] < ay1 && ay0 < b[1] + b[3]
}

/// The page binarised halfway between its darkest ink and its paper, when
/// that ink is too light for the usual threshold but still clearly ink.
fn faint_binarised(luma: &[u8], raster: &Raster) -> Option<(Vec<u8>, usize, usize)> {
    // A sample of one pixel in 61 (prime: not in step with the rows) says
    // whether the ink is faint at all, so pages with dark ink pay
    // microseconds.
    let mut hist = [0u32; 256];
    let mut n = 0u32;
    for &v in luma.iter().step_by(61) {
        hist[usize::from(v)] += 1;
        n += 1;
    }
    let at = |share: f32| {
        let want = (n as f32 * share) as u32;
        let mut seen = 0;
        (0..=255u8)
            .find(|&v| {
                seen += hist[usize::from(v)];
                seen > want
            })
            .unwrap_or(255)
    };
    let (dark, paper) = (at(0.002), at(0.9));
    // As `ink_threshold`: halfway to the paper, a little towards it.
    if dark < paper / 2 + 10 || paper.saturating_sub(dark) < 40 {
        return None;
    }
    let factor = ((raster.dpi as f32 / 200.0).round() as usize).max(1);
    let r = reduce(luma, raster.width as usize, raster.height as usize, factor);
    let mid = ((u16::from(dark) + u16::from(paper)) / 2) as u8;
    let bin = r
        .data
        .iter()
        .map(|&v| if v < mid { 0 } else { 255 })
        .collect();
    Some((bin, r.width, r.height))
}

/// Adds the symbols whose text is not there yet.
fn add_new(to: &mut Vec<Symbol>, found: Vec<Symbol>) {
    for s in found {
        if !to.iter().any(|t| t.text == s.text) {
            to.push(s);
        }
    }
}

/// The area of a full-resolution grey plane `stride` pixels wide, copied.
fn crop(luma: &[u8], stride: usize, a: &Area) -> Option<Vec<u8>> {
    if a.w == 0 || a.h == 0 || luma.len() < (a.y + a.h) * stride || a.x + a.w > stride {
        return None;
    }
    Some(
        (a.y..a.y + a.h)
            .flat_map(|y| &luma[y * stride + a.x..y * stride + a.x + a.w])
            .copied()
            .collect(),
    )
}

/// zxing-cpp over one area of a full-resolution grey plane: Code 128, Code
/// 39 and QR, trying harder (rotations, more binarisers, downscaling) since
/// it only sees areas zbar could not read.
pub fn read_zxing(luma: &[u8], stride: usize, a: &Area) -> Vec<Symbol> {
    let Some(plane) = crop(luma, stride, a) else {
        return Vec::new();
    };
    read_zxing_plane(&plane, a.w, a.h)
        .into_iter()
        .map(|s| s.placed(a.x, a.y, 1))
        .collect()
}

fn read_zxing_plane(plane: &[u8], w: usize, h: usize) -> Vec<Symbol> {
    use zxingcpp::{BarcodeFormat, ImageFormat, ImageView};
    let (Ok(wi), Ok(hi)) = (i32::try_from(w), i32::try_from(h)) else {
        return Vec::new();
    };
    let Ok(view) = ImageView::from_slice(plane, wi, hi, ImageFormat::Lum) else {
        return Vec::new();
    };
    let reader = zxingcpp::read()
        .formats([
            BarcodeFormat::Code128,
            BarcodeFormat::Code39,
            BarcodeFormat::QRCode,
        ])
        .try_harder(true)
        .try_rotate(true)
        .try_invert(false);
    let Ok(found) = reader.from(view) else {
        return Vec::new();
    };
    let mut out: Vec<Symbol> = Vec::new();
    for b in found.iter().filter(|b| b.is_valid()) {
        let symbology = match b.format() {
            BarcodeFormat::Code128 => "code128",
            BarcodeFormat::Code39 => "code39",
            BarcodeFormat::QRCode => "qr",
            _ => "other",
        };
        let p = b.position();
        let points = [p.top_left, p.top_right, p.bottom_right, p.bottom_left]
            .into_iter()
            .map(|q| (i64::from(q.x), i64::from(q.y)));
        add_new(
            &mut out,
            vec![Symbol {
                text: symbol_text(&b.bytes()),
                symbology: symbology.to_string(),
                decoder: Decoder::ZxingCpp,
                bbox: bbox_of(points),
            }],
        );
    }
    out
}

/// Every barcode of a page by zxing-cpp alone, over the whole page at full
/// resolution: the reference the combined reader is measured against.
pub fn read_page_zxing(raster: &Raster) -> Vec<String> {
    let luma = raster.luma();
    texts(read_zxing_plane(
        &luma,
        raster.width as usize,
        raster.height as usize,
    ))
}

/// Reads the linear barcodes of one area of a full-resolution grey plane
/// `stride` pixels wide: first the pixels softened by a 3 x 3 box (sensor
/// noise breaks the edges of bars one or two pixels wide, and zbar finds
/// edges in grey itself), then binarised halfway between the area's own ink
/// and paper (a local threshold: a label's paper and print differ from the
/// page's), at double size when modules are under two pixels.
pub fn read_fine(luma: &[u8], stride: usize, a: &Area) -> Vec<String> {
    texts(read_fine_symbols(luma, stride, a))
}

/// [`read_fine`], with where each symbol is on the full plane.
fn read_fine_symbols(luma: &[u8], stride: usize, a: &Area) -> Vec<Symbol> {
    let Some(crop) = crop(luma, stride, a) else {
        return Vec::new();
    };
    let soft = box_blur(&crop, a.w, a.h);
    let at = |found: Vec<Symbol>| -> Vec<Symbol> {
        found.into_iter().map(|s| s.placed(a.x, a.y, 1)).collect()
    };
    let codes = read_linear(&soft, a.w, a.h);
    if !codes.is_empty() {
        return at(codes);
    }
    let (ink, paper) = (level(&soft, 0.05), level(&soft, 0.95));
    if paper.saturating_sub(ink) < 40 {
        return Vec::new();
    }
    let mid = ((ink as u16 + paper as u16) / 2) as u8;
    let bin: Vec<u8> = soft
        .iter()
        .map(|&v| if v < mid { 0 } else { 255 })
        .collect();
    let codes = read_linear(&bin, a.w, a.h);
    if !codes.is_empty() || a.h > a.w {
        return at(codes);
    }
    let (wide, w2) = (double_width(&soft, a.w, a.h), a.w * 2);
    // Read at double width: x and width back to this plane's pixels.
    let halved = read_linear(&wide, w2, a.h).into_iter().map(|mut s| {
        s.bbox[0] /= 2;
        s.bbox[2] = s.bbox[2].div_ceil(2);
        s
    });
    at(halved.collect())
}

/// zbar over an area for Code 128 and Code 39 only, scanning only along an
/// area twice as long one way as the other (a linear barcode is longer across
/// its bars than along them), both ways otherwise.
fn read_linear(plane: &[u8], w: usize, h: usize) -> Vec<Symbol> {
    // zbar's X density spaces its vertical scan lines, Y its horizontal ones.
    let density = match (w >= 2 * h, h >= 2 * w) {
        (true, _) => (0, 1),
        (_, true) => (1, 0),
        _ => (1, 1),
    };
    read_symbols(plane, w, h, &[ZBAR_CODE128, ZBAR_CODE39], density)
}

/// Each pixel the mean of its 3 x 3 neighbourhood (edges repeat).
fn box_blur(data: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut rows = vec![0u16; w * h];
    for y in 0..h {
        let row = &data[y * w..(y + 1) * w];
        for x in 0..w {
            let (l, r) = (row[x.saturating_sub(1)], row[(x + 1).min(w - 1)]);
            rows[y * w + x] = l as u16 + row[x] as u16 + r as u16;
        }
    }
    let mut out = vec![0u8; w * h];
    for y in 0..h {
        let (u, d) = (y.saturating_sub(1), (y + 1).min(h - 1));
        for x in 0..w {
            let sum = rows[u * w + x] + rows[y * w + x] + rows[d * w + x];
            out[y * w + x] = (sum / 9) as u8;
        }
    }
    out
}

/// The plane stretched to twice its width, new pixels interpolated: zbar
/// measures bar widths in whole pixels, and a module of 1.5 pixels is too
/// coarse for it while 3 pixels is not.
fn double_width(data: &[u8], w: usize, h: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * 2 * h);
    for row in data.chunks_exact(w).take(h) {
        for x in 0..w {
            let next = row[(x + 1).min(w - 1)];
            out.push(row[x]);
            out.push(((row[x] as u16 + next as u16) / 2) as u8);
        }
    }
    out
}

/// A rectangle of a plane, pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

impl Area {
    pub fn whole(w: usize, h: usize) -> Area {
        Area { x: 0, y: 0, w, h }
    }

    /// The same area on the plane `factor` times larger (`width` x `height`),
    /// kept inside it.
    fn scaled(&self, factor: usize, width: usize, height: usize) -> Area {
        let (x, y) = ((self.x * factor).min(width), (self.y * factor).min(height));
        Area {
            x,
            y,
            w: (self.w * factor).min(width - x),
            h: (self.h * factor).min(height - y),
        }
    }
}

/// zbar over one area of a binarised plane `stride` pixels wide; symbols
/// placed on that plane.
fn read_area(bin: &[u8], stride: usize, a: &Area) -> Vec<Symbol> {
    let copy;
    let plane = if a.x == 0 && a.w == stride {
        &bin[a.y * stride..(a.y + a.h) * stride]
    } else {
        copy = (a.y..a.y + a.h)
            .flat_map(|y| &bin[y * stride + a.x..y * stride + a.x + a.w])
            .copied()
            .collect::<Vec<u8>>();
        &copy[..]
    };
    read_symbols(
        plane,
        a.w,
        a.h,
        &[ZBAR_QRCODE, ZBAR_CODE128, ZBAR_CODE39],
        (2, 2),
    )
    .into_iter()
    .map(|s| s.placed(a.x, a.y, 1))
    .collect()
}

/// Per-tile ink and edge counts of a binarised plane, and which tiles look
/// like part of a barcode.
struct Survey {
    cols: usize,
    rows: usize,
    /// Tiles like part of a linear barcode: dense, with edges close together
    /// along one direction and hardly any along the other (bars are parallel).
    linear: Vec<bool>,
    /// Tiles like part of a QR code: dense, with edges both ways.
    square: Vec<bool>,
    /// Tiles with any ink to speak of.
    inked: usize,
    width: usize,
    height: usize,
}

/// Connected tiles: their bounding box (tile units, end exclusive) and count.
struct Blob {
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    count: usize,
}

impl Survey {
    fn of(bin: &[u8], width: usize, height: usize) -> Survey {
        let (cols, rows) = (width / TILE, height / TILE);
        let mut linear = vec![false; cols * rows];
        let mut square = vec![false; cols * rows];
        let mut inked = 0;
        let mut ink = vec![0u32; cols];
        let mut across = vec![0u32; cols];
        let mut down = vec![0u32; cols];
        let line = TILE as u32;
        let area = line * line;
        for ty in 0..rows {
            ink.iter_mut().for_each(|v| *v = 0);
            across.iter_mut().for_each(|v| *v = 0);
            down.iter_mut().for_each(|v| *v = 0);
            for y in ty * TILE..(ty + 1) * TILE {
                let row = &bin[y * width..y * width + cols * TILE];
                let above = &bin[y.saturating_sub(1) * width..][..cols * TILE];
                let chunks = row.chunks_exact(TILE).zip(above.chunks_exact(TILE));
                for (tx, (t, u)) in chunks.enumerate() {
                    ink[tx] += t.iter().map(|&v| (v == 0) as u32).sum::<u32>();
                    across[tx] += t[1..]
                        .iter()
                        .zip(t)
                        .map(|(a, b)| (a != b) as u32)
                        .sum::<u32>();
                    down[tx] += t.iter().zip(u).map(|(a, b)| (a != b) as u32).sum::<u32>();
                }
            }
            for tx in 0..cols {
                let (n, a, d) = (ink[tx], across[tx], down[tx]);
                if n * 50 > area {
                    inked += 1;
                }
                // Bars cover a fifth to most of a tile and change every few
                // pixels (1.5 edges a line or more) across them, at least three
                // times as often as along them; letters do not keep that up
                // over a tile, solid black has no edges.
                let dense = n * 5 >= area && n * 20 <= area * 17;
                let (most, least) = (a.max(d), a.min(d));
                linear[ty * cols + tx] = dense && most * 2 >= 3 * line && least * 3 <= most;
                // QR modules: a quarter to most of the tile, edges both ways
                // (fewer inside a finder pattern's solid centre).
                square[ty * cols + tx] = n * 4 >= area && n * 10 <= area * 9 && least * 2 >= line;
            }
        }
        Survey {
            cols,
            rows,
            linear,
            square,
            inked,
            width,
            height,
        }
    }

    fn barcode_share(&self) -> f32 {
        let n = self.linear.iter().filter(|&&b| b).count();
        n as f32 / self.inked.max(1) as f32
    }

    /// Small QR-like groups (2 x 2 tiles, nearly full) that `regions` leaves
    /// out as too small to be sure of: a QR code of 0.3 mm modules at the
    /// survey's resolution. Only zxing-cpp looks at them, a few a page, with
    /// a margin.
    fn small_squares(&self) -> Vec<Area> {
        let mut small: Vec<Blob> = self
            .blobs(&self.square)
            .into_iter()
            .filter(|b| {
                let (w, h) = (b.x1 - b.x0, b.y1 - b.y0);
                (w == 2 || h == 2)
                    && w >= 2
                    && h >= 2
                    && w <= 4
                    && h <= 4
                    && b.count * 4 >= w * h * 3
            })
            .collect();
        small.sort_by_key(|b| std::cmp::Reverse(b.count));
        small
            .into_iter()
            .take(MAX_SMALL_SQUARES)
            .map(|b| {
                let (x0, y0) = (b.x0.saturating_sub(1) * TILE, b.y0.saturating_sub(1) * TILE);
                let (x1, y1) = (
                    ((b.x1 + 1) * TILE).min(self.width),
                    ((b.y1 + 1) * TILE).min(self.height),
                );
                Area {
                    x: x0,
                    y: y0,
                    w: x1 - x0,
                    h: y1 - y0,
                }
            })
            .collect()
    }

    /// The 8-connected groups of marked tiles.
    fn blobs(&self, marked: &[bool]) -> Vec<Blob> {
        let mut seen = vec![false; marked.len()];
        let mut out = Vec::new();
        for start in 0..marked.len() {
            if !marked[start] || seen[start] {
                continue;
            }
            seen[start] = true;
            let mut stack = vec![start];
            let mut b = Blob {
                x0: usize::MAX,
                y0: usize::MAX,
                x1: 0,
                y1: 0,
                count: 0,
            };
            while let Some(i) = stack.pop() {
                let (x, y) = (i % self.cols, i / self.cols);
                b.count += 1;
                (b.x0, b.y0, b.x1, b.y1) =
                    (b.x0.min(x), b.y0.min(y), b.x1.max(x + 1), b.y1.max(y + 1));
                for ny in y.saturating_sub(1)..(y + 2).min(self.rows) {
                    for nx in x.saturating_sub(1)..(x + 2).min(self.cols) {
                        let j = ny * self.cols + nx;
                        if marked[j] && !seen[j] {
                            seen[j] = true;
                            stack.push(j);
                        }
                    }
                }
            }
            out.push(b);
        }
        out
    }

    /// Linear barcodes: groups of two tiles or more.
    fn linear_blobs(&self) -> Vec<Blob> {
        self.blobs(&self.linear)
            .into_iter()
            .filter(|b| b.count >= 2)
            .collect()
    }

    /// Areas to read, each with the number of linear groups it holds: linear
    /// groups, and QR-like groups that fill most of a block of 3 x 3 tiles or
    /// more (text lines are one or two tiles tall), grown by a margin and
    /// merged where they overlap.
    fn regions(&self) -> Vec<(Area, usize)> {
        let squares = self.blobs(&self.square).into_iter().filter(|b| {
            let (w, h) = (b.x1 - b.x0, b.y1 - b.y0);
            w >= 3 && h >= 3 && b.count * 2 >= w * h
        });
        // Two tiles of margin: a quiet zone of 10 modules, and bars that
        // only partly filled the edge tiles.
        let linear = self.linear_blobs().into_iter().map(|b| (b, 1));
        let mut boxes: Vec<(usize, usize, usize, usize, usize)> = linear
            .chain(squares.map(|b| (b, 0)))
            .map(|(b, n)| {
                (
                    b.x0.saturating_sub(2),
                    b.y0.saturating_sub(2),
                    (b.x1 + 2).min(self.cols),
                    (b.y1 + 2).min(self.rows),
                    n,
                )
            })
            .collect();
        let mut merged = true;
        while merged {
            merged = false;
            'outer: for i in 0..boxes.len() {
                for j in i + 1..boxes.len() {
                    let (a, b) = (boxes[i], boxes[j]);
                    if a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3 {
                        boxes[i] = (
                            a.0.min(b.0),
                            a.1.min(b.1),
                            a.2.max(b.2),
                            a.3.max(b.3),
                            a.4 + b.4,
                        );
                        boxes.swap_remove(j);
                        merged = true;
                        break 'outer;
                    }
                }
            }
        }
        boxes.sort_by_key(|b| (b.1, b.0));
        boxes
            .into_iter()
            .map(|(x0, y0, x1, y1, n)| {
                // The last tile row and column take the plane's remainder.
                let w = if x1 == self.cols {
                    self.width
                } else {
                    x1 * TILE
                } - x0 * TILE;
                let h = if y1 == self.rows {
                    self.height
                } else {
                    y1 * TILE
                } - y0 * TILE;
                let area = Area {
                    x: x0 * TILE,
                    y: y0 * TILE,
                    w,
                    h,
                };
                (area, n)
            })
            .collect()
    }
}

/// Reads every barcode of a page in one zbar pass over the whole page (no
/// survey): the reference `read_page` is tested against.
pub fn read_page_whole(raster: &Raster) -> Vec<String> {
    read_whole(raster).codes
}

/// [`read_page_whole`] as [`PageCodes`], symbols placed on the page.
pub fn read_whole(raster: &Raster) -> PageCodes {
    let luma = raster.luma();
    let (bin, width, height, factor) = binarised(&luma, raster);
    let symbols: Vec<Symbol> = read_area(&bin, width, &Area::whole(width, height))
        .into_iter()
        .map(|s| s.placed(0, 0, factor))
        .collect();
    PageCodes {
        codes: symbols.iter().map(|s| s.text.clone()).collect(),
        symbols,
        ..PageCodes::default()
    }
}

/// The page binarised at about 150 to 200 dpi: pixels, width, height and the
/// reduction factor.
fn binarised(luma: &[u8], raster: &Raster) -> (Vec<u8>, usize, usize, usize) {
    let factor = ((raster.dpi as f32 / 200.0).round() as usize).max(1);
    let r = reduce(luma, raster.width as usize, raster.height as usize, factor);
    (binarize(&r.data), r.width, r.height, r.factor)
}

/// Black where darker than `ink_threshold`, white elsewhere.
fn binarize(data: &[u8]) -> Vec<u8> {
    let threshold = ink_threshold(data);
    data.iter()
        .map(|&v| if v < threshold { 0 } else { 255 })
        .collect()
}
