//! Barcode reading with zbar (Code 128, Code 39 and QR).
//!
//! Our own few `extern "C"` declarations rather than the `zbar-rust` crate: we use
//! nine functions of zbar's stable C API, and owning them keeps the scanner's
//! lifetime and the symbologies we enable explicit. A zbar scanner is not shared
//! between threads: each call makes its own, which costs microseconds.

use super::analyze::{ink_threshold, level, reduce};
use crate::pixels::Raster;
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
    read_symbols(
        gray,
        width,
        height,
        &[ZBAR_CODE128, ZBAR_CODE39, ZBAR_QRCODE],
        (1, 1),
    )
}

/// zbar over a grey plane, scanning every `x_density`-th column and
/// `y_density`-th row (0: none).
fn read_symbols(
    gray: &[u8],
    width: usize,
    height: usize,
    symbologies: &[c_int],
    (x_density, y_density): (c_int, c_int),
) -> Vec<String> {
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
        let mut out: Vec<String> = Vec::new();
        let mut sym = zbar_image_first_symbol(scan.image);
        while !sym.is_null() {
            let ptr = zbar_symbol_get_data(sym) as *const u8;
            let len = zbar_symbol_get_data_length(sym) as usize;
            if !ptr.is_null() {
                let text = symbol_text(std::slice::from_raw_parts(ptr, len));
                if !out.contains(&text) {
                    out.push(text);
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
    /// The largest barcode-like area, millimetres (width, height), if any.
    pub largest_mm: Option<(f32, f32)>,
    /// Share of the page's inked area that looks like barcode (0 to 1).
    pub barcode_share: f32,
}

/// Side of the tiles the page is surveyed in, pixels of the reading resolution
/// (about 2 to 2.7 mm).
const TILE: usize = 16;

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
    let luma = raster.luma();
    let (bin, width, height, factor) = binarised(&luma, raster);
    let survey = Survey::of(&bin, width, height);
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
    if area * 5 > width * height * 2 {
        out.codes = read_area(&bin, width, &Area::whole(width, height));
        if out.codes.is_empty() {
            missed.extend(regions.iter().filter(|(_, n)| *n > 0).map(|(a, _)| *a));
        }
    } else {
        for (region, linear) in &regions {
            let codes = read_area(&bin, width, region);
            if codes.is_empty() && *linear > 0 {
                missed.push(*region);
            }
            add_new(&mut out.codes, codes);
        }
    }
    for region in missed {
        let full = region.scaled(factor, raster.width as usize, raster.height as usize);
        add_new(
            &mut out.codes,
            read_fine(&luma, raster.width as usize, &full),
        );
    }
    out
}

fn add_new(to: &mut Vec<String>, codes: Vec<String>) {
    for code in codes {
        if !to.contains(&code) {
            to.push(code);
        }
    }
}

/// Reads the linear barcodes of one area of a full-resolution grey plane
/// `stride` pixels wide: first the pixels softened by a 3 x 3 box (sensor
/// noise breaks the edges of bars one or two pixels wide, and zbar finds
/// edges in grey itself), then binarised halfway between the area's own ink
/// and paper (a local threshold: a label's paper and print differ from the
/// page's), at double size when modules are under two pixels.
pub fn read_fine(luma: &[u8], stride: usize, a: &Area) -> Vec<String> {
    if a.w == 0 || a.h == 0 || luma.len() < (a.y + a.h) * stride || a.x + a.w > stride {
        return Vec::new();
    }
    let crop: Vec<u8> = (a.y..a.y + a.h)
        .flat_map(|y| &luma[y * stride + a.x..y * stride + a.x + a.w])
        .copied()
        .collect();
    let soft = box_blur(&crop, a.w, a.h);
    let codes = read_linear(&soft, a.w, a.h);
    if !codes.is_empty() {
        return codes;
    }
    let (ink, paper) = (level(&soft, 0.05), level(&soft, 0.95));
    if paper.saturating_sub(ink) < 40 {
        return codes;
    }
    let mid = ((ink as u16 + paper as u16) / 2) as u8;
    let bin: Vec<u8> = soft
        .iter()
        .map(|&v| if v < mid { 0 } else { 255 })
        .collect();
    let codes = read_linear(&bin, a.w, a.h);
    if !codes.is_empty() || a.h > a.w {
        return codes;
    }
    let (wide, w2) = (double_width(&soft, a.w, a.h), a.w * 2);
    read_linear(&wide, w2, a.h)
}

/// zbar over an area for Code 128 and Code 39 only, scanning only along an
/// area twice as long one way as the other (a linear barcode is longer across
/// its bars than along them), both ways otherwise.
fn read_linear(plane: &[u8], w: usize, h: usize) -> Vec<String> {
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

/// zbar over one area of a binarised plane `stride` pixels wide.
fn read_area(bin: &[u8], stride: usize, a: &Area) -> Vec<String> {
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
    let luma = raster.luma();
    let (bin, width, height, _) = binarised(&luma, raster);
    read_area(&bin, width, &Area::whole(width, height))
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
