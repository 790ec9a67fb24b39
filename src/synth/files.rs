//! Writing generated sides as image files, the way a scanner's software would
//! leave them: PGM, PNG, JPEG, or TIFF (LZW; one or many pages a file).

use super::{StackSpec, side_seed};
use crate::imaging::draw::TextPainter;
use crate::imaging::encode;
use crate::pixels::Raster;
use std::path::{Path, PathBuf};

/// File formats `write_page` knows.
pub const FORMATS: [&str; 4] = ["pgm", "png", "jpeg", "tiff"];

pub type FileResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Renders every side of a planned stack, on all cores, in feed order.
pub fn render_stack(spec: &StackSpec, sides: &[super::SideKind]) -> Vec<Raster> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let mut out: Vec<(usize, Raster)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut painter = TextPainter::new();
                    (t..sides.len())
                        .step_by(threads)
                        .map(|i| {
                            (
                                i,
                                super::render(
                                    &sides[i],
                                    spec,
                                    side_seed(spec, i as u32),
                                    &mut painter,
                                ),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Writes one page as `stem.<ext>` in `fmt`; returns the path.
pub fn write_page(stem: &Path, r: &Raster, fmt: &str) -> FileResult<PathBuf> {
    let path = stem.with_extension(match fmt {
        "jpeg" => "jpg",
        "tiff" => "tif",
        other => other,
    });
    match fmt {
        "pgm" => {
            let mut bytes = format!("P5\n{} {}\n255\n", r.width, r.height).into_bytes();
            bytes.extend_from_slice(&r.luma());
            std::fs::write(&path, bytes)?;
        }
        "png" => image::GrayImage::from_raw(r.width, r.height, r.luma().into_owned())
            .ok_or("page buffer has the wrong size")?
            .save(&path)?,
        "jpeg" => std::fs::write(&path, encode::encode(r, 90)?.bytes)?,
        "tiff" => write_tiff(&path, std::slice::from_ref(r))?,
        other => return Err(format!("unknown format '{other}'").into()),
    }
    Ok(path)
}

/// Writes pages into one LZW-compressed TIFF with their resolution.
pub fn write_tiff(path: &Path, pages: &[Raster]) -> FileResult<()> {
    use tiff::encoder::{Compression, Rational, TiffEncoder, colortype::Gray8};
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut enc = TiffEncoder::new(file)?.with_compression(Compression::Lzw);
    for r in pages {
        let mut img = enc.new_image::<Gray8>(r.width, r.height)?;
        img.resolution(
            tiff::tags::ResolutionUnit::Inch,
            Rational { n: r.dpi, d: 1 },
        );
        img.write_data(&r.luma())?;
    }
    Ok(())
}
