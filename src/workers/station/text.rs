//! The OCR threads (`folio-ocr-N`, `[ocr] workers` of them): read the text
//! of batches that asked for it, one page a thread, with connections of
//! their own (see [`crate::workers::ocr`]). The threads stay at normal
//! priority, so the store they open, write and close is never held by a
//! thread that gets no CPU; only reading a page runs at idle priority, on a
//! thread of its own (`folio-ocr-page`). Each page read
//! refreshes its batch in the window. A Tesseract that cannot be loaded is
//! said once, and tried again a minute later; the station's stop flag ends
//! the threads after the page being read.

use super::Read;
use super::actor::Ctx;
use crate::store::Store;
use crate::workers::ocr::{self, OcrOptions};
use crate::workers::upload::sleep_unless_stopped;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub(super) fn spawn(ctx: &Ctx, n: usize, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name(format!("folio-ocr-{n}"))
        .spawn(move || {
            let opts = OcrOptions {
                watch: true,
                stop: stop.clone(),
            };
            let mut told = false;
            if !ctx.wait_unlocked(Some(&stop)) {
                return;
            }
            while !stop.load(Ordering::Relaxed) {
                let result = Store::open(&ctx.data_dir)
                    .map_err(ocr::OcrWorkError::from)
                    .and_then(|mut store| {
                        ocr::run(&mut store, &ctx.cfg, &opts, &mut |p| {
                            ctx.changed(Read::Batch(p.batch_id));
                        })
                    });
                match result {
                    Ok(_) => return,
                    Err(e) => {
                        if !told && n == 0 {
                            ctx.notice(format!("Searchable text is paused: {e}"));
                            told = true;
                        }
                        sleep_unless_stopped(Duration::from_secs(60), &stop);
                    }
                }
            }
        })
}
