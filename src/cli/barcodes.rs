//! `folio barcodes FILE...`: reads image files the way the pipeline reads a
//! side (background cropped, turned upright, straightened; zbar, then
//! zxing-cpp where zbar read nothing; the patch from the side as scanned) and
//! prints every symbol found: symbology, text, position and decoder.
//!
//! `--json` prints one array, an object per page:
//! `{"file", "page" (1-based, TIFF pages counted), "dpi", "width", "height",
//! "symbols": [{"text", "symbology": "code128"|"code39"|"qr", "decoder":
//! "zbar"|"zxing_cpp", "bbox": [x, y, width, height]}], "patch": null |
//! {"code": "1"|"2"|"3"|"4"|"6"|"T", "upside_down", "from_edge_in",
//! "length_in"}, "error": null | "why the page could not be read"}`.
//! Positions are pixels of the page upright and straight, as the pipeline
//! reads it. Texts are as decoded (JSON escapes what needs it); in the
//! human listing they are shown escaped, never raw.

use super::output::shown_path;
use crate::batch::printable;
use crate::config::Config;
use crate::imaging::barcode::Symbol;
use crate::imaging::decode::{FileFormat, TiffPages, decode_checked, sniff};
use crate::pixels::Raster;
use crate::workers::process::{prepare, read_marks};
use anyhow::Result;
use serde::Serialize;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Resolution assumed when a file does not say (as `folio import`).
const DEFAULT_DPI: u32 = 300;

#[derive(Serialize)]
struct PatchOut {
    code: &'static str,
    upside_down: bool,
    from_edge_in: f32,
    length_in: f32,
}

#[derive(Serialize)]
struct PageOut {
    file: String,
    page: usize,
    dpi: u32,
    width: u32,
    height: u32,
    symbols: Vec<Symbol>,
    patch: Option<PatchOut>,
    error: Option<String>,
}

/// Every page's pixels in `file`, or why it cannot be read.
fn pages_of(file: &Path) -> Vec<Result<Raster, String>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => return vec![Err(format!("cannot read the file: {e}"))],
    };
    match sniff(&bytes) {
        Ok(FileFormat::Tiff) => {
            let pages = std::fs::File::open(file)
                .map_err(|e| e.to_string())
                .and_then(|f| {
                    TiffPages::new(BufReader::new(f), DEFAULT_DPI, false).map_err(|e| e.to_string())
                });
            match pages {
                Ok(mut p) => std::iter::from_fn(|| p.next_page())
                    .map(|r| r.map_err(|e| e.to_string()))
                    .collect(),
                Err(e) => vec![Err(e)],
            }
        }
        Ok(_) => vec![
            decode_checked(&bytes, DEFAULT_DPI, false)
                .map(|d| d.raster)
                .map_err(|e| e.to_string()),
        ],
        Err(e) => vec![Err(e.to_string())],
    }
}

fn read_file(cfg: &Config, file: &Path) -> Vec<PageOut> {
    let shown = file.to_string_lossy().into_owned();
    pages_of(file)
        .into_iter()
        .enumerate()
        .map(|(i, page)| {
            let mut out = PageOut {
                file: shown.clone(),
                page: i + 1,
                dpi: 0,
                width: 0,
                height: 0,
                symbols: Vec::new(),
                patch: None,
                error: None,
            };
            match page {
                Ok(raster) => {
                    let prep = prepare(&raster, cfg);
                    let (codes, patch) = read_marks(&prep, &raster, cfg);
                    let page = prep.page(&raster);
                    (out.dpi, out.width, out.height) = (page.dpi, page.width, page.height);
                    out.symbols = codes.symbols;
                    out.patch = patch.map(|p| PatchOut {
                        code: p.patch.as_str(),
                        upside_down: p.upside_down,
                        from_edge_in: p.from_edge_in,
                        length_in: p.length_in,
                    });
                }
                Err(e) => out.error = Some(e),
            }
            out
        })
        .collect()
}

/// Prints what each file holds; returns whether every page could be read.
pub fn run(cfg: &Config, files: &[PathBuf], json: bool) -> Result<bool> {
    let pages: Vec<PageOut> = files.iter().flat_map(|f| read_file(cfg, f)).collect();
    let all_read = pages.iter().all(|p| p.error.is_none());
    if json {
        println!("{}", serde_json::to_string_pretty(&pages)?);
        return Ok(all_read);
    }
    for p in &pages {
        let name = shown_path(Path::new(&p.file));
        if let Some(e) = &p.error {
            println!(
                "{name} page {}: cannot be read: {}",
                p.page,
                printable(e, 300)
            );
            continue;
        }
        let found = p.symbols.len() + usize::from(p.patch.is_some());
        println!(
            "{name} page {} ({} x {} px, {} dpi): {found} mark(s)",
            p.page, p.width, p.height, p.dpi
        );
        for s in &p.symbols {
            let [x, y, w, h] = s.bbox;
            let decoder = match s.decoder {
                crate::imaging::barcode::Decoder::Zbar => "zbar",
                crate::imaging::barcode::Decoder::ZxingCpp => "zxing-cpp",
            };
            println!(
                "  {:<8} {:<40} at {x},{y} size {w}x{h}  by {decoder}",
                s.symbology,
                printable(&s.text, 200)
            );
        }
        if let Some(pt) = &p.patch {
            println!(
                "  patch    {:<40} {:.2} in from the {} edge, bars {:.1} in long",
                pt.code,
                pt.from_edge_in,
                if pt.upside_down { "bottom" } else { "top" },
                pt.length_in
            );
        }
    }
    Ok(all_read)
}
