//! Barcode reading with zbar (Code 128, Code 39 and QR).
//!
//! Our own few `extern "C"` declarations rather than the `zbar-rust` crate: we use
//! nine functions of zbar's stable C API, and owning them keeps the scanner's
//! lifetime and the symbologies we enable explicit. A zbar scanner is not shared
//! between threads: each call makes its own, which costs microseconds.

use super::Raster;
use super::analyze::{ink_threshold, reduce};
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
        1,
    )
}

fn read_symbols(
    gray: &[u8],
    width: usize,
    height: usize,
    symbologies: &[c_int],
    density: c_int,
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
        zbar_image_scanner_set_config(scan.scanner, ZBAR_NONE, ZBAR_CFG_X_DENSITY, density);
        zbar_image_scanner_set_config(scan.scanner, ZBAR_NONE, ZBAR_CFG_Y_DENSITY, density);
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
                let text =
                    String::from_utf8_lossy(std::slice::from_raw_parts(ptr, len)).into_owned();
                if !out.contains(&text) {
                    out.push(text);
                }
            }
            sym = zbar_symbol_next(sym);
        }
        out
    }
}

/// Reads a page's barcodes in one zbar pass over a binarised copy at about 150 to
/// 200 dpi, scanning every second line. Binarising removes sensor noise, which
/// otherwise both breaks bar edges and makes zbar several times slower; at that
/// resolution a 0.33 mm bar or a 0.6 mm QR module still spans two to four
/// pixels. (Measured on noisy, skewed pages from 150 to 600 dpi: see
/// tests/page_checks.rs; about 40 ms a 300 dpi page.)
pub fn read_page(raster: &Raster) -> Vec<String> {
    let luma = raster.luma();
    let factor = ((raster.dpi as f32 / 200.0).round() as usize).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let bin = binarize(&r.data);
    read_symbols(
        &bin,
        r.width,
        r.height,
        &[ZBAR_QRCODE, ZBAR_CODE128, ZBAR_CODE39],
        2,
    )
}

/// Black where darker than `ink_threshold`, white elsewhere.
fn binarize(data: &[u8]) -> Vec<u8> {
    let threshold = ink_threshold(data);
    data.iter()
        .map(|&v| if v < threshold { 0 } else { 255 })
        .collect()
}
