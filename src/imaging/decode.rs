//! Decoding scanned image files (PNG, JPEG, TIFF with several pages, PNM) into
//! rasters, with limits so that a damaged or hostile file cannot exhaust memory.

use super::ImagingError;
use crate::pixels::{PixelKind, Raster};
use std::io::{Cursor, Read, Seek};

/// The largest page accepted: A3 at 1200 dpi is about 280 megapixels.
pub const MAX_MEGAPIXELS: u64 = 300;
/// The longest side accepted, in pixels.
pub const MAX_SIDE: u64 = 60_000;

/// The file formats Folio reads, recognised by content, not by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Png,
    Jpeg,
    Tiff,
    Pnm,
}

/// Recognises a format from a file's first bytes.
pub fn sniff(head: &[u8]) -> Result<FileFormat, ImagingError> {
    match head {
        [] => Err(ImagingError::Empty),
        [0x89, b'P', b'N', b'G', ..] => Ok(FileFormat::Png),
        [0xFF, 0xD8, ..] => Ok(FileFormat::Jpeg),
        [b'I', b'I', 42, 0, ..] | [b'M', b'M', 0, 42, ..] => Ok(FileFormat::Tiff),
        [b'P', b'1'..=b'6', ..] => Ok(FileFormat::Pnm),
        [b'%', b'P', b'D', b'F', ..] => Err(ImagingError::Unsupported("a PDF".into())),
        [b'G', b'I', b'F', ..] => Err(ImagingError::Unsupported("a GIF".into())),
        [b'B', b'M', ..] => Err(ImagingError::Unsupported("a BMP".into())),
        _ => Err(ImagingError::Unsupported("unrecognised content".into())),
    }
}

fn check_size(width: u64, height: u64) -> Result<(), ImagingError> {
    if width == 0 || height == 0 {
        return Err(ImagingError::Corrupt(format!("{width}x{height} pixels")));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_MEGAPIXELS * 1_000_000 {
        return Err(ImagingError::TooLarge {
            width,
            height,
            limit: MAX_MEGAPIXELS,
        });
    }
    Ok(())
}

/// A decoded image and, when the file was damaged but still gave pixels (a
/// JPEG cut short, a corrupt data segment), what was wrong with it.
#[derive(Debug, Clone)]
pub struct Decoded {
    pub raster: Raster,
    /// The decoder's complaint; the pixels it could not read are filled in
    /// (grey, for JPEG), so the page must be looked at.
    pub damage: Option<String>,
}

impl Decoded {
    /// An image that came whole (a scanner's raster, a clean file).
    pub fn whole(raster: Raster) -> Decoded {
        Decoded {
            raster,
            damage: None,
        }
    }
}

/// Decodes a single-image file (PNG, JPEG, PNM) held in memory. `dpi` is used when
/// `force_dpi` is set or the file does not say its resolution. A damaged file
/// is an error here, even where some pixels could be read: callers that can
/// keep a damaged page flagged use [`decode_checked`].
pub fn decode_single(
    bytes: &[u8],
    default_dpi: u32,
    force_dpi: bool,
) -> Result<Raster, ImagingError> {
    let d = decode_checked(bytes, default_dpi, force_dpi)?;
    match d.damage {
        Some(why) => Err(ImagingError::Corrupt(why)),
        None => Ok(d.raster),
    }
}

/// Decodes a single-image file (PNG, JPEG, PNM), saying whether it was damaged.
/// PNG and PNM decoders stop at damage (a CRC error, missing data): an error.
/// libjpeg-turbo decodes what it can and warns: the pixels and the warning.
pub fn decode_checked(
    bytes: &[u8],
    default_dpi: u32,
    force_dpi: bool,
) -> Result<Decoded, ImagingError> {
    let format = sniff(bytes)?;
    let file_dpi = match format {
        FileFormat::Png => png_dpi(bytes),
        FileFormat::Jpeg => jpeg_dpi(bytes),
        _ => None,
    };
    let dpi_for = |w: u32| match file_dpi {
        None if !force_dpi => guess_dpi(w, default_dpi),
        _ => pick_dpi(file_dpi, default_dpi, force_dpi),
    };
    let mut damage = None;
    if format == FileFormat::Jpeg {
        match turbo::decode(bytes, &dpi_for)? {
            turbo::Outcome::Pixels(d) => return Ok(d),
            turbo::Outcome::Checked(warning) => damage = warning,
            turbo::Outcome::Unchecked => {}
        }
    }
    let mut reader = image::ImageReader::new(Cursor::new(bytes));
    reader.set_format(image_format(format)?);
    let (w, h) = image::ImageReader::with_format(Cursor::new(bytes), image_format(format)?)
        .into_dimensions()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    check_size(w as u64, h as u64)?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_MEGAPIXELS * 1_000_000 * 4);
    reader.limits(limits);
    let img = reader
        .decode()
        .map_err(|e| ImagingError::Corrupt(e.to_string()))?;
    Ok(Decoded {
        raster: from_dynamic(img, dpi_for(w)),
        damage,
    })
}

/// JPEG through libjpeg-turbo, which (unlike the `image` crate's decoder) says
/// when data was missing or corrupt. Our own few calls to its C API through
/// the `turbojpeg` crate's bindings: the crate's safe `decompress` returns a
/// warning as an error, and only the handle can tell the two apart.
mod turbo {
    use super::{Decoded, ImagingError, check_size};
    use std::ffi::CStr;
    use turbojpeg::raw;

    /// A decompressor handle, destroyed on drop.
    struct Handle(raw::tjhandle);

    impl Drop for Handle {
        fn drop(&mut self) {
            // SAFETY: the handle came from tj3Init and is destroyed once.
            unsafe { raw::tj3Destroy(self.0) }
        }
    }

    impl Handle {
        fn message(&self) -> String {
            // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by
            // the handle (or a static one), valid until the next call.
            unsafe { CStr::from_ptr(raw::tj3GetErrorStr(self.0)) }
                .to_string_lossy()
                .into_owned()
        }

        fn get(&self, param: raw::TJPARAM) -> i32 {
            // SAFETY: a live handle; unknown parameters return -1.
            unsafe { raw::tj3Get(self.0, param as i32) }
        }
    }

    /// Progressive scans beyond this are refused: a hostile file can make
    /// libjpeg-turbo loop over thousands of empty scans.
    const SCAN_LIMIT: i32 = 500;

    /// What libjpeg-turbo made of a JPEG.
    pub enum Outcome {
        /// An 8-bit grey or colour JPEG: its pixels and warning, if any.
        Pixels(Decoded),
        /// A CMYK JPEG, decoded only to hear its warning: turning CMYK into
        /// RGB takes a colour convention libjpeg-turbo leaves to the caller,
        /// and the `image` crate's decoder applies the usual one.
        Checked(Option<String>),
        /// Left to the `image` crate (12-bit or lossless JPEG).
        Unchecked,
    }

    /// Decodes a JPEG, or checks it for damage (see [`Outcome`]).
    pub fn decode(bytes: &[u8], dpi_for: &dyn Fn(u32) -> u32) -> Result<Outcome, ImagingError> {
        // SAFETY: tj3Init has no preconditions; a null result is checked.
        let h = Handle(unsafe { raw::tj3Init(raw::TJINIT_TJINIT_DECOMPRESS as i32) });
        if h.0.is_null() {
            return Err(ImagingError::Corrupt(
                "cannot start the JPEG decoder".into(),
            ));
        }
        // SAFETY: the buffer and its length describe `bytes`, read only.
        if unsafe { raw::tj3DecompressHeader(h.0, bytes.as_ptr(), bytes.len() as _) } != 0 {
            return Err(ImagingError::Corrupt(h.message()));
        }
        let (w, ht) = (
            h.get(raw::TJPARAM_TJPARAM_JPEGWIDTH),
            h.get(raw::TJPARAM_TJPARAM_JPEGHEIGHT),
        );
        check_size(w.max(0) as u64, ht.max(0) as u64)?;
        let colorspace = h.get(raw::TJPARAM_TJPARAM_COLORSPACE) as raw::TJCS;
        if h.get(raw::TJPARAM_TJPARAM_PRECISION) != 8 || h.get(raw::TJPARAM_TJPARAM_LOSSLESS) == 1 {
            return Ok(Outcome::Unchecked);
        }
        // SAFETY: a live handle and a known parameter.
        unsafe { raw::tj3Set(h.0, raw::TJPARAM_TJPARAM_SCANLIMIT as i32, SCAN_LIMIT) };
        let cmyk = colorspace == raw::TJCS_TJCS_CMYK || colorspace == raw::TJCS_TJCS_YCCK;
        let (format, channels) = match colorspace {
            _ if cmyk => (raw::TJPF_TJPF_CMYK, 4),
            raw::TJCS_TJCS_GRAY => (raw::TJPF_TJPF_GRAY, 1),
            _ => (raw::TJPF_TJPF_RGB, 3),
        };
        let (wu, hu) = (w as usize, ht as usize);
        let mut pixels = vec![0u8; wu * hu * channels];
        // SAFETY: `pixels` holds height rows of `pitch` bytes, the size the
        // header announced for this pixel format; `bytes` is read only.
        let rc = unsafe {
            raw::tj3Decompress8(
                h.0,
                bytes.as_ptr(),
                bytes.len() as _,
                pixels.as_mut_ptr(),
                (wu * channels) as i32,
                format,
            )
        };
        let damage = if rc == 0 {
            None
        } else {
            // SAFETY: a live handle.
            let code = unsafe { raw::tj3GetErrorCode(h.0) };
            if code != raw::TJERR_TJERR_WARNING as i32 {
                return Err(ImagingError::Corrupt(h.message()));
            }
            Some(h.message())
        };
        if cmyk {
            return Ok(Outcome::Checked(damage));
        }
        Ok(Outcome::Pixels(Decoded {
            raster: super::classify(w as u32, ht as u32, dpi_for(w as u32), pixels, channels),
            damage,
        }))
    }
}

fn image_format(format: FileFormat) -> Result<image::ImageFormat, ImagingError> {
    Ok(match format {
        FileFormat::Png => image::ImageFormat::Png,
        FileFormat::Jpeg => image::ImageFormat::Jpeg,
        FileFormat::Pnm => image::ImageFormat::Pnm,
        FileFormat::Tiff => {
            return Err(ImagingError::Unsupported(
                "TIFF pages go through TiffPages".into(),
            ));
        }
    })
}

fn pick_dpi(file_dpi: Option<u32>, default_dpi: u32, force: bool) -> u32 {
    match file_dpi {
        Some(d) if !force && (50..=2400).contains(&d) => d,
        _ => default_dpi,
    }
}

/// The resolution of a page whose file does not state one: the standard scanner
/// resolution at which its width is that of A4 or Letter paper, else `default_dpi`.
pub fn guess_dpi(width_px: u32, default_dpi: u32) -> u32 {
    const STANDARD: [u32; 8] = [100, 150, 200, 240, 300, 400, 600, 1200];
    STANDARD
        .into_iter()
        .map(|dpi| {
            let inches = width_px as f32 / dpi as f32;
            (dpi, (inches - 8.27).abs().min((inches - 8.5).abs()))
        })
        .filter(|(_, off)| *off < 0.6)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(dpi, _)| dpi)
        .unwrap_or(default_dpi)
}

fn from_dynamic(img: image::DynamicImage, dpi: u32) -> Raster {
    let (width, height) = (img.width(), img.height());
    if img.color().has_color() {
        classify(width, height, dpi, img.into_rgb8().into_raw(), 3)
    } else {
        classify(width, height, dpi, img.into_luma8().into_raw(), 1)
    }
}

/// A raster of grey (`channels` 1) or RGB pixels, stored as the simplest kind
/// that holds them: colour with equal channels is grey, grey of only black and
/// white is bilevel.
fn classify(width: u32, height: u32, dpi: u32, data: Vec<u8>, channels: usize) -> Raster {
    let (kind, data) = if channels == 3 {
        if data.chunks_exact(3).all(|p| p[0] == p[1] && p[1] == p[2]) {
            (
                PixelKind::Gray,
                data.chunks_exact(3).map(|p| p[0]).collect(),
            )
        } else {
            (PixelKind::Color, data)
        }
    } else {
        (PixelKind::Gray, data)
    };
    let kind = if kind == PixelKind::Gray && data.iter().all(|&v| v == 0 || v == 255) {
        PixelKind::Bilevel
    } else {
        kind
    };
    Raster {
        width,
        height,
        kind,
        dpi,
        data,
    }
}

/// The pixels-per-inch a PNG states in its pHYs chunk.
fn png_dpi(bytes: &[u8]) -> Option<u32> {
    let mut pos = 8;
    while pos + 12 <= bytes.len() {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().ok()?) as usize;
        let kind = &bytes[pos + 4..pos + 8];
        if kind == b"pHYs" && len >= 9 && pos + 8 + 9 <= bytes.len() {
            let d = &bytes[pos + 8..];
            let ppu = u32::from_be_bytes(d[0..4].try_into().ok()?);
            return (d[8] == 1).then(|| (ppu as f64 * 0.0254).round() as u32);
        }
        if kind == b"IDAT" {
            return None;
        }
        pos += 12 + len;
    }
    None
}

/// The density a JPEG states in its JFIF header.
fn jpeg_dpi(bytes: &[u8]) -> Option<u32> {
    let app0 = bytes.get(2..20)?;
    if app0[0] != 0xFF || app0[1] != 0xE0 || &app0[4..9] != b"JFIF\0" {
        return None;
    }
    let units = app0[11];
    let x = u16::from_be_bytes([app0[12], app0[13]]) as u32;
    match units {
        1 => Some(x),
        2 => Some((x as f64 * 2.54).round() as u32),
        _ => None,
    }
}

/// The pages of a TIFF file, decoded one at a time so a long multi-page file never
/// sits in memory whole.
pub struct TiffPages<R: Read + Seek> {
    decoder: tiff::decoder::Decoder<R>,
    started: bool,
    done: bool,
    default_dpi: u32,
    force_dpi: bool,
}

impl<R: Read + Seek> TiffPages<R> {
    pub fn new(reader: R, default_dpi: u32, force_dpi: bool) -> Result<Self, ImagingError> {
        let mut limits = tiff::decoder::Limits::default();
        limits.decoding_buffer_size = (MAX_MEGAPIXELS * 1_000_000 * 4) as usize;
        let decoder = tiff::decoder::Decoder::new(reader)
            .map_err(tiff_err)?
            .with_limits(limits);
        Ok(TiffPages {
            decoder,
            started: false,
            done: false,
            default_dpi,
            force_dpi,
        })
    }

    /// Moves to the next page without decoding it (for resuming); false at the end.
    pub fn skip(&mut self) -> Result<bool, ImagingError> {
        self.advance()
    }

    fn advance(&mut self) -> Result<bool, ImagingError> {
        if self.done {
            return Ok(false);
        }
        if self.started {
            if !self.decoder.more_images() {
                self.done = true;
                return Ok(false);
            }
            self.decoder.next_image().map_err(tiff_err)?;
        }
        self.started = true;
        Ok(true)
    }

    /// Decodes the next page, or `None` after the last.
    pub fn next_page(&mut self) -> Option<Result<Raster, ImagingError>> {
        match self.advance() {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                self.done = true;
                return Some(Err(e));
            }
        }
        let r = self.decode_current();
        if r.is_err() {
            // A damaged directory chain cannot be followed further.
            self.done = !self.decoder.more_images();
        }
        Some(r)
    }

    fn decode_current(&mut self) -> Result<Raster, ImagingError> {
        use tiff::ColorType;
        use tiff::decoder::DecodingResult;
        use tiff::tags::Tag;
        let (w, h) = self.decoder.dimensions().map_err(tiff_err)?;
        check_size(w as u64, h as u64)?;
        let ct = self.decoder.colortype().map_err(tiff_err)?;
        let file_dpi = self.decoder.get_tag_f32(Tag::XResolution).ok().map(|x| {
            let cm = self
                .decoder
                .get_tag_u32(Tag::ResolutionUnit)
                .map(|u| u == 3)
                .unwrap_or(false);
            (if cm { x * 2.54 } else { x }).round() as u32
        });
        let dpi = match file_dpi {
            None if !self.force_dpi => guess_dpi(w, self.default_dpi),
            _ => pick_dpi(file_dpi, self.default_dpi, self.force_dpi),
        };
        let (wu, hu) = (w as usize, h as usize);
        let data = self.decoder.read_image().map_err(tiff_err)?;
        // The tiff crate already maps WhiteIsZero pages to black-is-zero.
        let (kind, pixels) = match (ct, data) {
            (ColorType::Gray(1), DecodingResult::U8(packed)) => {
                (PixelKind::Bilevel, unpack_bits(&packed, wu, hu))
            }
            (ColorType::Gray(8), DecodingResult::U8(v)) => (PixelKind::Gray, v),
            (ColorType::Gray(16), DecodingResult::U16(v)) => {
                (PixelKind::Gray, v.iter().map(|x| (x >> 8) as u8).collect())
            }
            (ColorType::RGB(8), DecodingResult::U8(v)) => (PixelKind::Color, v),
            (ColorType::RGBA(8), DecodingResult::U8(v)) => (
                PixelKind::Color,
                v.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect(),
            ),
            (ct, _) => {
                return Err(ImagingError::Unsupported(format!(
                    "a TIFF page with colour type {ct:?}"
                )));
            }
        };
        if pixels.len() != wu * hu * kind.channels() {
            return Err(ImagingError::Corrupt(
                "TIFF page data is shorter than its size".into(),
            ));
        }
        Ok(Raster {
            width: w,
            height: h,
            kind,
            dpi,
            data: pixels,
        })
    }
}

/// 1-bit rows (each padded to a byte, 1 = white once normalised to BlackIsZero) to
/// one byte a pixel.
fn unpack_bits(packed: &[u8], width: usize, height: usize) -> Vec<u8> {
    let stride = width.div_ceil(8);
    let mut out = Vec::with_capacity(width * height);
    for row in packed.chunks(stride).take(height) {
        for x in 0..width {
            let bit = row.get(x / 8).map(|b| (b >> (7 - x % 8)) & 1).unwrap_or(1);
            out.push(if bit == 1 { 255 } else { 0 });
        }
    }
    out
}

fn tiff_err(e: tiff::TiffError) -> ImagingError {
    match e {
        tiff::TiffError::LimitsExceeded => ImagingError::TooLarge {
            width: 0,
            height: 0,
            limit: MAX_MEGAPIXELS,
        },
        tiff::TiffError::UnsupportedError(u) => ImagingError::Unsupported(format!("TIFF: {u}")),
        other => ImagingError::Corrupt(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_resolution_from_paper_width() {
        assert_eq!(guess_dpi(1654, 300), 200);
        assert_eq!(guess_dpi(2480, 300), 300);
        assert_eq!(guess_dpi(2550, 300), 300);
        assert_eq!(guess_dpi(1240, 300), 150);
        assert_eq!(guess_dpi(4960, 300), 600);
        assert_eq!(guess_dpi(40, 300), 300);
    }

    #[test]
    fn sniffs_by_content() {
        assert!(matches!(sniff(b""), Err(ImagingError::Empty)));
        assert_eq!(sniff(b"\x89PNG\r\n").unwrap(), FileFormat::Png);
        assert_eq!(sniff(b"P5 10 10").unwrap(), FileFormat::Pnm);
        assert!(matches!(
            sniff(b"%PDF-1.7"),
            Err(ImagingError::Unsupported(_))
        ));
    }

    #[test]
    fn decodes_png_with_its_resolution() {
        let mut img = image::GrayImage::new(40, 30);
        img.pixels_mut().for_each(|p| p.0 = [200]);
        let mut buf = Vec::new();
        {
            use image::ImageEncoder;
            let enc = image::codecs::png::PngEncoder::new(&mut buf);
            enc.write_image(img.as_raw(), 40, 30, image::ExtendedColorType::L8)
                .unwrap();
        }
        let r = decode_single(&buf, 300, false).unwrap();
        assert_eq!(
            (r.width, r.height, r.kind, r.dpi),
            (40, 30, PixelKind::Gray, 300)
        );
        let truncated = &buf[..buf.len() / 2];
        assert!(matches!(
            decode_single(truncated, 300, false),
            Err(ImagingError::Corrupt(_))
        ));
    }
}
