//! Barcode reading with zbar (Code 128, Code 39 and QR).
//!
//! Our own few `extern "C"` declarations rather than the `zbar-rust` crate: we use
//! nine functions of zbar's stable C API, and owning them keeps the scanner's
//! lifetime and the symbologies we enable explicit. A zbar scanner is not shared
//! between threads: each call makes its own, which costs microseconds.

use super::Raster;
use super::analyze::reduce;
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
    )
}

fn read_symbols(gray: &[u8], width: usize, height: usize, symbologies: &[c_int]) -> Vec<String> {
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

/// Reads a page's barcodes at about 150 dpi: zbar is several times faster there
/// and reads more than at full resolution. Linear codes are read after a light
/// smoothing (sensor noise breaks their edges); QR codes without it (their small
/// square modules blur together).
pub fn read_page(raster: &Raster) -> Vec<String> {
    let luma = raster.luma();
    let factor = (raster.dpi as usize / 150).max(1);
    let r = reduce(&luma, raster.width as usize, raster.height as usize, factor);
    let mut found = read_symbols(&r.data, r.width, r.height, &[ZBAR_QRCODE]);
    let mut smoothed = r.data;
    smooth(&mut smoothed, r.width, r.height);
    for code in read_symbols(&smoothed, r.width, r.height, &[ZBAR_CODE128, ZBAR_CODE39]) {
        if !found.contains(&code) {
            found.push(code);
        }
    }
    found
}

/// A 3x3 binomial blur ([1 2 1] both ways): cuts Gaussian noise to about 40 %
/// while keeping two-pixel bars apart.
fn smooth(data: &mut [u8], width: usize, height: usize) {
    if width < 3 || height < 3 {
        return;
    }
    let mut tmp = vec![0u16; data.len()];
    for (src, dst) in data.chunks_exact(width).zip(tmp.chunks_exact_mut(width)) {
        dst[0] = src[0] as u16 * 4;
        dst[width - 1] = src[width - 1] as u16 * 4;
        for x in 1..width - 1 {
            dst[x] = src[x - 1] as u16 + 2 * src[x] as u16 + src[x + 1] as u16;
        }
    }
    for y in 0..height {
        let (up, down) = (y.saturating_sub(1), (y + 1).min(height - 1));
        for x in 0..width {
            let v = tmp[up * width + x] + 2 * tmp[y * width + x] + tmp[down * width + x];
            data[y * width + x] = (v / 16) as u8;
        }
    }
}
