//! Files as a scanner: `folder:PATH` reads the image files of a folder (a
//! network scanner's drop folder, say) in name order, one side after another,
//! through the same scan path as a SANE device. `folio import` reads files too,
//! but decodes them on all cores; this source decodes on the capture thread, as a
//! scanner would deliver them.

use super::{Band, CaptureError, PageSource};
use crate::imaging::decode::{FileFormat, TiffPages, decode_single, sniff};
use crate::pixels::Raster;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The device-name prefix of folder sources.
pub const PREFIX: &str = "folder:";

const BAND_LINES: usize = 64;
const DEFAULT_DPI: u32 = 300;

pub struct FolderSource {
    files: Vec<PathBuf>,
    next_file: usize,
    tiff: Option<TiffPages<BufReader<std::fs::File>>>,
    dpi: Option<u32>,
    duplex: bool,
    /// Sides a previous run already delivered.
    skip: usize,
    cancel: Arc<AtomicBool>,
}

impl FolderSource {
    pub fn open(
        dir: &Path,
        dpi: Option<u32>,
        duplex: bool,
        skip: usize,
    ) -> Result<FolderSource, CaptureError> {
        let gone = |e: std::io::Error| CaptureError::Gone(format!("{}: {e}", dir.display()));
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(gone)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
            })
            .collect();
        files.sort();
        Ok(FolderSource {
            files,
            next_file: 0,
            tiff: None,
            dpi,
            duplex,
            skip,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The next side's pixels, or why it cannot be read; `None` at the end.
    fn next_raster(&mut self) -> Option<Result<Raster, String>> {
        loop {
            if let Some(pages) = &mut self.tiff {
                match pages.next_page() {
                    Some(r) => return Some(r.map_err(|e| e.to_string())),
                    None => self.tiff = None,
                }
            }
            let path = self.files.get(self.next_file)?.clone();
            self.next_file += 1;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut bytes = Vec::new();
            if let Err(e) = std::fs::File::open(&path).and_then(|mut f| f.read_to_end(&mut bytes)) {
                return Some(Err(format!("{name}: cannot read the file: {e}")));
            }
            let (dpi, force) = (self.dpi.unwrap_or(DEFAULT_DPI), self.dpi.is_some());
            match sniff(&bytes) {
                Ok(FileFormat::Tiff) => match std::fs::File::open(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        TiffPages::new(BufReader::new(f), dpi, force).map_err(|e| e.to_string())
                    }) {
                    Ok(p) => self.tiff = Some(p),
                    Err(e) => return Some(Err(format!("{name}: {e}"))),
                },
                Ok(_) => {
                    return Some(
                        decode_single(&bytes, dpi, force).map_err(|e| format!("{name}: {e}")),
                    );
                }
                Err(e) => return Some(Err(format!("{name}: {e}"))),
            }
        }
    }
}

impl PageSource for FolderSource {
    fn duplex(&self) -> bool {
        self.duplex
    }

    fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = flag;
    }

    fn next_side(
        &mut self,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<Option<Raster>, CaptureError> {
        while self.skip > 0 {
            self.skip -= 1;
            if self.next_raster().is_none() {
                return Ok(None);
            }
        }
        if self.cancel.load(Ordering::SeqCst) {
            return Err(CaptureError::Cancelled { partial: false });
        }
        let raster = match self.next_raster() {
            None => return Ok(None),
            Some(Ok(r)) => r,
            Some(Err(why)) => return Err(CaptureError::BadSide(why)),
        };
        let row = raster.width as usize * raster.kind.channels();
        for (i, chunk) in raster.data.chunks(row * BAND_LINES).enumerate() {
            on_band(Band {
                first_line: (i * BAND_LINES) as u32,
                width: raster.width,
                channels: raster.kind.channels() as u32,
                total_lines: Some(raster.height),
                data: chunk,
            });
        }
        Ok(Some(raster))
    }
}
