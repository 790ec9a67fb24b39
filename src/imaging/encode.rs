//! Output encoding: JPEG (libjpeg-turbo) for grey and colour pages, CCITT Group 4
//! for bilevel pages, the two encodings a PDF can carry without re-compression.

use super::ImagingError;
use crate::pixels::{Encoded, Encoding, PixelKind, Raster};

/// Encodes a page: G4 for bilevel, JPEG at `jpeg_quality` otherwise.
pub fn encode(raster: &Raster, jpeg_quality: u8) -> Result<Encoded, ImagingError> {
    let bytes = match raster.kind {
        PixelKind::Bilevel => {
            encode_g4(&raster.data, raster.width as usize, raster.height as usize)
        }
        kind => encode_jpeg(raster, kind, jpeg_quality)?,
    };
    Ok(Encoded {
        encoding: if raster.kind == PixelKind::Bilevel {
            Encoding::G4
        } else {
            Encoding::Jpeg
        },
        width: raster.width,
        height: raster.height,
        dpi: raster.dpi,
        kind: raster.kind,
        bytes,
    })
}

fn encode_jpeg(raster: &Raster, kind: PixelKind, quality: u8) -> Result<Vec<u8>, ImagingError> {
    let err = |e: turbojpeg::Error| ImagingError::Encode(e.to_string());
    let (format, subsamp) = match kind {
        PixelKind::Color => (turbojpeg::PixelFormat::RGB, turbojpeg::Subsamp::Sub2x2),
        _ => (turbojpeg::PixelFormat::GRAY, turbojpeg::Subsamp::Gray),
    };
    let image = turbojpeg::Image {
        pixels: raster.data.as_slice(),
        width: raster.width as usize,
        pitch: raster.width as usize * kind.channels(),
        height: raster.height as usize,
        format,
    };
    let mut c = turbojpeg::Compressor::new().map_err(err)?;
    c.set_quality(quality.clamp(1, 100) as i32).map_err(err)?;
    c.set_subsamp(subsamp).map_err(err)?;
    let out = c.compress_to_owned(image).map_err(err)?;
    Ok(out.to_vec())
}

/// CCITT G4 (K = -1) of a one-byte-a-pixel bilevel plane (0 = black).
pub fn encode_g4(data: &[u8], width: usize, height: usize) -> Vec<u8> {
    use fax::{Color, encoder::Encoder};
    let mut enc = Encoder::new(fax::VecWriter::new());
    for row in data.chunks_exact(width).take(height) {
        let pels = row
            .iter()
            .map(|&v| if v < 128 { Color::Black } else { Color::White });
        // VecWriter's error type is Infallible.
        let _ = enc.encode_line(pels, width as u32);
    }
    match enc.finish() {
        Ok(w) => w.finish(),
        Err(never) => match never {},
    }
}

/// Decodes raw CCITT G4 (as `encode_g4` writes it) into a bilevel page.
pub fn decode_g4(bytes: &[u8], width: u32, height: u32, dpi: u32) -> Raster {
    let mut data = Vec::with_capacity(width as usize * height as usize);
    fax::decoder::decode_g4(bytes.iter().copied(), width, Some(height), |t| {
        data.extend(
            fax::decoder::pels(t, width).map(|c| if c == fax::Color::Black { 0 } else { 255 }),
        );
    });
    data.resize(width as usize * height as usize, 255);
    Raster {
        width,
        height,
        kind: PixelKind::Bilevel,
        dpi,
        data,
    }
}

/// Turns a stored page by 90, 180 or 270 degrees clockwise without a new
/// generation of loss: JPEG through libjpeg-turbo's lossless transform
/// (trimming a partial 8-16 px block at the edge, if any), G4 by decoding,
/// turning and encoding again. Returns the new bytes and the page as pixels.
pub fn rotate_stored(
    bytes: &[u8],
    encoding: Encoding,
    kind: PixelKind,
    (width, height, dpi): (u32, u32, u32),
    degrees: u16,
) -> Result<(Vec<u8>, Raster), ImagingError> {
    match encoding {
        Encoding::Jpeg => {
            let err = |e: turbojpeg::Error| ImagingError::Encode(e.to_string());
            let op = match degrees {
                90 => turbojpeg::TransformOp::Rot90,
                180 => turbojpeg::TransformOp::Rot180,
                _ => turbojpeg::TransformOp::Rot270,
            };
            let mut t = turbojpeg::Transform::op(op);
            t.trim = true;
            let out = turbojpeg::Transformer::new()
                .map_err(err)?
                .transform_to_vec(&t, bytes)
                .map_err(err)?;
            let img =
                image::load_from_memory(&out).map_err(|e| ImagingError::Encode(e.to_string()))?;
            let (w, h) = (img.width(), img.height());
            let data = match kind {
                PixelKind::Color => img.to_rgb8().into_raw(),
                _ => img.to_luma8().into_raw(),
            };
            Ok((
                out,
                Raster {
                    width: w,
                    height: h,
                    kind,
                    dpi,
                    data,
                },
            ))
        }
        Encoding::G4 => {
            let page = decode_g4(bytes, width, height, dpi);
            let turned = super::orient::rotate_right_angles(&page, degrees);
            Ok((
                encode_g4(&turned.data, turned.width as usize, turned.height as usize),
                turned,
            ))
        }
    }
}

/// A page scaled down (box average) to at most `max_width` pixels wide, for
/// thumbnails and screen previews; bilevel pages come out grey.
pub fn downscale(raster: &Raster, max_width: u32) -> Raster {
    let factor = raster.width.div_ceil(max_width.max(1)).max(1) as usize;
    if (raster.height as usize) < factor {
        // A page wider than it is tall by more than the factor (a 5000 x 1
        // sliver) would scale to no rows at all: its rows are repeated first.
        return downscale(&repeat_rows(raster, factor as u32), max_width);
    }
    let ch = raster.kind.channels();
    if ch == 1 {
        let r = super::analyze::reduce(
            &raster.data,
            raster.width as usize,
            raster.height as usize,
            factor,
        );
        let dpi = (raster.dpi as usize / r.factor).max(1) as u32;
        return Raster {
            width: r.width as u32,
            height: r.height as u32,
            kind: PixelKind::Gray,
            dpi,
            data: r.data.into_owned(),
        };
    }
    let (w, h) = (
        raster.width as usize / factor,
        raster.height as usize / factor,
    );
    let mut data = vec![0u8; w * h * ch];
    let mut sums = vec![0u32; w * ch];
    let area = (factor * factor) as u32;
    let stride = raster.width as usize * ch;
    for oy in 0..h {
        sums.iter_mut().for_each(|s| *s = 0);
        for y in oy * factor..(oy + 1) * factor {
            let row = &raster.data[y * stride..y * stride + w * factor * ch];
            for (x, px) in row.chunks_exact(ch).enumerate() {
                for (k, &v) in px.iter().enumerate() {
                    sums[(x / factor) * ch + k] += v as u32;
                }
            }
        }
        for (d, s) in data[oy * w * ch..(oy + 1) * w * ch].iter_mut().zip(&sums) {
            *d = (s / area) as u8;
        }
    }
    let kind = if raster.kind == PixelKind::Color {
        PixelKind::Color
    } else {
        PixelKind::Gray
    };
    Raster {
        width: w as u32,
        height: h as u32,
        kind,
        dpi: (raster.dpi as usize / factor).max(1) as u32,
        data,
    }
}

/// The page with its last row repeated until it is `height` rows tall.
fn repeat_rows(raster: &Raster, height: u32) -> Raster {
    let row = raster.width as usize * raster.kind.channels();
    let mut data = raster.data.clone();
    if data.len() < row {
        data = vec![255; row];
    }
    let last = data.len() - row;
    while data.len() < row * height as usize {
        data.extend_from_within(last..last + row);
    }
    Raster {
        height,
        data,
        ..raster.clone()
    }
}

/// Turns a grey page into bilevel with a fixed threshold (for control sheets and
/// tests; adaptive thresholding belongs to the page-processing work).
pub fn threshold(raster: &Raster, level: u8) -> Raster {
    let luma = raster.luma();
    Raster {
        width: raster.width,
        height: raster.height,
        kind: PixelKind::Bilevel,
        dpi: raster.dpi,
        data: luma
            .iter()
            .map(|&v| if v < level { 0 } else { 255 })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jpeg_round_trips_size() {
        let r = Raster::filled(64, 48, 200, 180);
        let e = encode(&r, 80).unwrap();
        assert_eq!(e.encoding, Encoding::Jpeg);
        let img = image::load_from_memory(&e.bytes).unwrap();
        assert_eq!((img.width(), img.height()), (64, 48));
    }

    #[test]
    fn downscale_keeps_aspect_and_averages() {
        let mut r = Raster::filled(400, 600, 300, 200);
        r.data[..400 * 300].fill(0);
        let d = downscale(&r, 100);
        assert_eq!(
            (d.width, d.height, d.dpi, d.kind),
            (100, 150, 75, PixelKind::Gray)
        );
        assert_eq!((d.data[0], d.data[149 * 100]), (0, 200));
    }

    #[test]
    fn g4_decodes_back_to_the_same_pixels() {
        let (w, h) = (67usize, 20usize);
        let data: Vec<u8> = (0..w * h)
            .map(|i| {
                if (i % w) / 5 % 2 == (i / w) % 2 {
                    0
                } else {
                    255
                }
            })
            .collect();
        let g4 = encode_g4(&data, w, h);
        let mut rows = Vec::new();
        fax::decoder::decode_g4(g4.iter().copied(), w as u32, Some(h as u32), |t| {
            let line: Vec<u8> = fax::decoder::pels(t, w as u32)
                .map(|c| if c == fax::Color::Black { 0 } else { 255 })
                .collect();
            rows.extend(line);
        });
        assert_eq!(rows, data);
    }
}
