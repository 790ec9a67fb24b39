//! The OCR queue's worker: reads the pages of batches that asked for text,
//! one page at a time, at idle priority, and stores their words for the
//! PDFs' text layer. `folio ocr` runs it in the foreground; the station runs
//! it on its `folio-ocr` threads, one page per thread ([`OcrConfig::workers`]).
//!
//! Never in the scanner's way: each page is decoded and read on a thread of
//! its own under `SCHED_IDLE` (Linux), so it gets a core only when capture and
//! imaging leave one idle, and Tesseract is held to one thread
//! (`OMP_THREAD_LIMIT=1`, see [`crate::imaging::ocr`]). Everything that takes
//! a lock other threads wait for (opening and closing the store, with its
//! `folio.lock` and SQLite's process-wide file mutex; the queue's write
//! transactions; loading libtesseract, under the dynamic loader's lock) stays
//! on the calling thread at its own priority: a `SCHED_IDLE` thread can go
//! without a core for minutes while both are busy, and everything waiting on
//! a lock it holds waits as long (see [`at_idle_priority`]).
//! The queue is the database (`text_requests`, `page_text`): a worker that
//! stops (a crash, the station closing) leaves a claim that is taken over,
//! and nothing read is lost.

use super::upload::sleep_unless_stopped;
use crate::config::Config;
use crate::imaging::ocr::{Engine, OcrError};
use crate::pixels::{Encoding, PixelKind, Raster};
use crate::store::{ImageStore, Store, StoreError, TextJob};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum OcrWorkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] OcrError),
}

/// What the worker should do.
#[derive(Clone, Default)]
pub struct OcrOptions {
    /// Keep running, picking up pages as batches ask for text.
    pub watch: bool,
    /// Set from another thread to stop after the current page.
    pub stop: Arc<AtomicBool>,
}

/// A page read (or given up on).
#[derive(Debug, Clone)]
pub struct PageRead {
    pub batch_id: String,
    pub side: u32,
    /// Words read, or why the page has none.
    pub outcome: Result<usize, String>,
    pub took: Duration,
}

/// Runs `f` on a thread of its own at idle priority and waits for it. Only
/// CPU work that takes no lock another thread may wait for belongs here (a
/// page's decoding and Tesseract): the calling thread keeps its priority for
/// the rest. A thread, not a change of the caller's priority, because an
/// unprivileged thread cannot leave `SCHED_IDLE` again.
fn at_idle_priority<T: Send>(f: impl FnOnce() -> T + Send) -> Result<T, OcrError> {
    std::thread::scope(|s| {
        let page = std::thread::Builder::new()
            .name("folio-ocr-page".into())
            .spawn_scoped(s, || {
                idle_priority();
                f()
            })
            .map_err(|e| OcrError::Failed(format!("no thread to read the page on: {e}")))?;
        Ok(page
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// Loads Tesseract for `lang`: the library at the caller's priority (it runs
/// under the dynamic loader's lock, which any thread may need), the language
/// data at idle priority.
fn open_engine(lang: &str, tessdata: Option<&str>) -> Result<Engine, OcrError> {
    crate::imaging::ocr::version()?;
    at_idle_priority(|| Engine::open(lang, tessdata))?
}

/// Lowers the calling thread to idle priority: `SCHED_IDLE`, else nice 19.
/// For good: an unprivileged thread cannot raise it again.
pub fn idle_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is valid for the call.
        let idle = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } == 0;
        if !idle {
            // SAFETY: gettid has no preconditions; setpriority on a thread id
            // changes that thread only (Linux).
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19);
            }
        }
    }
}

/// This process as the owner of its claims: station host, process id and
/// the process's start time (so a reused process id is not taken for it).
pub fn claimant() -> String {
    format!(
        "{}/{}/{}",
        crate::config::hostname(),
        std::process::id(),
        start_time(std::process::id()).unwrap_or_default()
    )
}

/// A process's start time (clock ticks since boot, `/proc/PID/stat` field 22).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    rest.split_whitespace().nth(19).map(str::to_string)
}

/// Is the process that made a claim gone? Only a claim of this host can be
/// told: others (a data folder shared over the network) wait out their time.
fn claim_gone(owner: &str) -> bool {
    let mut parts = owner.rsplitn(3, '/');
    let (Some(started), Some(pid), Some(host)) = (parts.next(), parts.next(), parts.next()) else {
        return true;
    };
    if host != crate::config::hostname() {
        return false;
    }
    match pid.parse::<u32>() {
        Ok(pid) => start_time(pid).as_deref() != Some(started),
        Err(_) => true,
    }
}

/// The engine's name as recorded with each page's text.
fn engine_name(lang: &str) -> String {
    let v = crate::imaging::ocr::version().unwrap_or_default();
    format!("tesseract {v} ({lang})")
}

/// Reads pages until none is left (or, with `watch`, until stopped); returns
/// the pages read. Tesseract is loaded only once there is a page to read, so
/// a station without it still runs until text is asked for. The pages are
/// read at idle priority, the store is used at the caller's.
pub fn run(
    store: &mut Store,
    cfg: &Config,
    opts: &OcrOptions,
    on_page: &mut dyn FnMut(PageRead),
) -> Result<u32, OcrWorkError> {
    let me = claimant();
    let mut engine: Option<(String, Engine)> = None;
    let mut read = 0;
    while !opts.stop.load(Ordering::Relaxed) {
        if engine.is_none() && store.text_backlog()? > 0 {
            let lang = cfg.ocr.language.clone();
            let e = open_engine(&lang, cfg.ocr.tessdata.as_deref())?;
            engine = Some((lang, e));
        }
        let job = match &engine {
            Some(_) => store.claim_text_job(&me, &claim_gone)?,
            None => None,
        };
        let Some(job) = job else {
            if !opts.watch {
                break;
            }
            sleep_unless_stopped(Duration::from_secs(2), &opts.stop);
            continue;
        };
        let Some((lang, eng)) = engine.as_mut() else {
            continue;
        };
        let started = Instant::now();
        let outcome = if job.language == *lang {
            read_page(store.images(), eng, &job)?
        } else {
            // Asked for in another language: that language's data, else the
            // page is failed with why (the others go on).
            match open_engine(&job.language, cfg.ocr.tessdata.as_deref()) {
                Ok(e) => {
                    (*eng, *lang) = (e, job.language.clone());
                    read_page(store.images(), eng, &job)?
                }
                Err(e) => Err(e.to_string()),
            }
        };
        let name = engine_name(lang);
        match &outcome {
            Ok(words) => store.save_text(&job.image.sha256, Ok(words), &name)?,
            Err(why) => store.save_text(&job.image.sha256, Err(why), &name)?,
        }
        read += 1;
        on_page(PageRead {
            batch_id: job.batch_id,
            side: job.side,
            outcome: outcome.map(|w| w.len()),
            took: started.elapsed(),
        });
    }
    Ok(read)
}

/// The words of one claimed page, or why it has none (an image that cannot
/// be read, OCR giving up), read at idle priority; an error only when no
/// thread could be started for it.
fn read_page(
    images: &ImageStore,
    engine: &mut Engine,
    job: &TextJob,
) -> Result<Result<Vec<crate::imaging::ocr::OcrWord>, String>, OcrError> {
    at_idle_priority(|| {
        let page = page_raster(images, job).map_err(|e| e.to_string())?;
        engine.read(&page).map_err(|e| e.to_string())
    })
}

/// The stored page image as grey pixels, as the PDF shows it.
fn page_raster(images: &ImageStore, job: &TextJob) -> Result<Raster, StoreError> {
    let img = &job.image;
    let bytes = images.get(&img.sha256)?;
    Ok(match img.encoding {
        Encoding::G4 => crate::imaging::encode::decode_g4(&bytes, img.width, img.height, img.dpi),
        Encoding::Jpeg => {
            let grey = image::load_from_memory(&bytes)
                .map_err(|e| {
                    StoreError::Damaged(format!(
                        "the image of side {} of batch {} cannot be decoded: {e}",
                        job.side, job.batch_id
                    ))
                })?
                .to_luma8();
            Raster {
                width: grey.width(),
                height: grey.height(),
                kind: PixelKind::Gray,
                dpi: img.dpi,
                data: grey.into_raw(),
            }
        }
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn policy() -> i32 {
        // SAFETY: pid 0 is the calling thread; no other precondition.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn only_the_page_thread_runs_at_idle_priority() {
        let caller = policy();
        assert_ne!(
            caller,
            libc::SCHED_IDLE,
            "the test thread starts at normal priority"
        );
        let page = at_idle_priority(policy).unwrap();
        assert_eq!(page, libc::SCHED_IDLE, "the page is read at idle priority");
        assert_eq!(
            policy(),
            caller,
            "the caller (which holds the store) keeps its priority"
        );
    }
}
