//! Text recognition (OCR) with Tesseract, for the PDFs' invisible text layer.
//!
//! Tesseract is reached through its C API (`tesseract/capi.h`), opened at run
//! time with `libloading`, rather than through a binding crate. Why:
//!
//! - OCR is optional: a station without `tesseract-ocr` installed still
//!   builds, starts and scans, and says what to install when OCR is asked
//!   for; linking `libtesseract` would make it a hard dependency of the
//!   binary (and of every build machine, with `libtesseract-dev`);
//! - Debian's libtesseract runs its neural network under OpenMP, and libgomp
//!   reads `OMP_THREAD_LIMIT` once, when it is loaded: loading it ourselves,
//!   after `OMP_THREAD_LIMIT=1` is set (see [`Engine::open`]), is what keeps
//!   one page on one core (about ten times faster in total here than
//!   Tesseract's own threading on a busy machine);
//! - the maintained bindings (`leptess`, `tesseract`) generate their
//!   declarations with bindgen, which needs libclang at build time, and add
//!   Leptonica's image types we do not need: we hand Tesseract our own grey
//!   pixels and read words, boxes and confidences back, a dozen functions.
//!
//! An [`Engine`] is one Tesseract instance: use it from one thread at a time.

use crate::pixels::Raster;
use std::ffi::{CStr, CString, c_char, c_float, c_int, c_uchar, c_void};
use std::sync::Arc;
use thiserror::Error;

/// A word Tesseract read: its text, its box (pixels from the image's top
/// left: x, y, width, height) and Tesseract's confidence (0 to 100).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OcrWord {
    pub text: String,
    pub bbox: [u32; 4],
    pub conf: f32,
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum OcrError {
    #[error(
        "OCR is not available on this station: Tesseract's library could not be loaded ({0}); install the packages tesseract-ocr and tesseract-ocr-eng (installer/setup.sh does), or turn OCR off"
    )]
    NotInstalled(String),
    #[error(
        "OCR cannot start: Tesseract has no language data for '{lang}' (looked in {where_}); install tesseract-ocr-{lang} or set [ocr] tessdata in the configuration"
    )]
    NoLanguage { lang: String, where_: String },
    #[error(
        "OCR gave up on this page (Tesseract could not read it within {0} s: it is unusually complex or noisy); its PDF page has no text"
    )]
    GaveUp(u32),
    #[error("OCR failed on this page: {0}")]
    Failed(String),
}

/// Opaque Tesseract handles.
type Api = c_void;
type Iter = c_void;
type PageIter = c_void;
type Monitor = c_void;

/// `TessPageIteratorLevel::RIL_WORD`.
const RIL_WORD: c_int = 3;
/// `TessPageSegMode::PSM_AUTO`: page layout analysis, no orientation.
const PSM_AUTO: c_int = 3;

/// The functions we call, resolved once per process.
struct Lib {
    _lib: libloading::Library,
    create: unsafe extern "C" fn() -> *mut Api,
    delete: unsafe extern "C" fn(*mut Api),
    init3: unsafe extern "C" fn(*mut Api, *const c_char, *const c_char) -> c_int,
    set_psm: unsafe extern "C" fn(*mut Api, c_int),
    set_variable: unsafe extern "C" fn(*mut Api, *const c_char, *const c_char) -> c_int,
    set_image: unsafe extern "C" fn(*mut Api, *const c_uchar, c_int, c_int, c_int, c_int),
    set_resolution: unsafe extern "C" fn(*mut Api, c_int),
    recognize: unsafe extern "C" fn(*mut Api, *mut Monitor) -> c_int,
    clear: unsafe extern "C" fn(*mut Api),
    get_iterator: unsafe extern "C" fn(*mut Api) -> *mut Iter,
    iter_delete: unsafe extern "C" fn(*mut Iter),
    iter_next: unsafe extern "C" fn(*mut Iter, c_int) -> c_int,
    iter_text: unsafe extern "C" fn(*const Iter, c_int) -> *mut c_char,
    iter_conf: unsafe extern "C" fn(*const Iter, c_int) -> c_float,
    iter_page: unsafe extern "C" fn(*const Iter) -> *const PageIter,
    bbox: unsafe extern "C" fn(
        *const PageIter,
        c_int,
        *mut c_int,
        *mut c_int,
        *mut c_int,
        *mut c_int,
    ) -> c_int,
    delete_text: unsafe extern "C" fn(*const c_char),
    monitor_create: unsafe extern "C" fn() -> *mut Monitor,
    monitor_deadline: unsafe extern "C" fn(*mut Monitor, c_int),
    monitor_delete: unsafe extern "C" fn(*mut Monitor),
    version: unsafe extern "C" fn() -> *const c_char,
}

/// The library names tried, newest first (Debian 12 and Ubuntu 22.04+ ship
/// libtesseract 5; Ubuntu 20.04 ships 4).
const LIB_NAMES: [&str; 3] = ["libtesseract.so.5", "libtesseract.so.4", "libtesseract.so"];

impl Lib {
    fn load() -> Result<Lib, OcrError> {
        let mut last = String::new();
        for name in LIB_NAMES {
            // SAFETY: loading libtesseract runs its (and libgomp's and
            // Leptonica's) initialisers, which have no preconditions.
            match unsafe { libloading::Library::new(name) } {
                Ok(lib) => return Lib::resolve(lib),
                Err(e) => last = e.to_string(),
            }
        }
        Err(OcrError::NotInstalled(last))
    }

    fn resolve(lib: libloading::Library) -> Result<Lib, OcrError> {
        macro_rules! sym {
            ($name:literal) => {
                // SAFETY: the symbol's type is the one capi.h declares for it
                // (Tesseract 4 and 5 alike).
                *unsafe { lib.get($name) }.map_err(|e| OcrError::NotInstalled(e.to_string()))?
            };
        }
        Ok(Lib {
            create: sym!(b"TessBaseAPICreate\0"),
            delete: sym!(b"TessBaseAPIDelete\0"),
            init3: sym!(b"TessBaseAPIInit3\0"),
            set_psm: sym!(b"TessBaseAPISetPageSegMode\0"),
            set_variable: sym!(b"TessBaseAPISetVariable\0"),
            set_image: sym!(b"TessBaseAPISetImage\0"),
            set_resolution: sym!(b"TessBaseAPISetSourceResolution\0"),
            recognize: sym!(b"TessBaseAPIRecognize\0"),
            clear: sym!(b"TessBaseAPIClear\0"),
            get_iterator: sym!(b"TessBaseAPIGetIterator\0"),
            iter_delete: sym!(b"TessResultIteratorDelete\0"),
            iter_next: sym!(b"TessResultIteratorNext\0"),
            iter_text: sym!(b"TessResultIteratorGetUTF8Text\0"),
            iter_conf: sym!(b"TessResultIteratorConfidence\0"),
            iter_page: sym!(b"TessResultIteratorGetPageIteratorConst\0"),
            bbox: sym!(b"TessPageIteratorBoundingBox\0"),
            delete_text: sym!(b"TessDeleteText\0"),
            monitor_create: sym!(b"TessMonitorCreate\0"),
            monitor_deadline: sym!(b"TessMonitorSetDeadlineMSecs\0"),
            monitor_delete: sym!(b"TessMonitorDelete\0"),
            version: sym!(b"TessVersion\0"),
            _lib: lib,
        })
    }
}

/// The library, loaded once: Tesseract's global state lives as long as the
/// process, so it is never unloaded.
fn lib() -> Result<Arc<Lib>, OcrError> {
    static LIB: std::sync::OnceLock<Result<Arc<Lib>, OcrError>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        limit_threads();
        Lib::load().map(Arc::new)
    })
    .clone()
}

/// Sets `OMP_THREAD_LIMIT=1` unless the environment already says otherwise.
/// `folio`'s `main` does this first thing, while it has one thread; this is
/// the fallback for a program that embeds the library (its tests).
pub fn limit_threads() {
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        // SAFETY: called by `main` before any other thread exists, or (in a
        // program embedding the library) before libtesseract is loaded; no
        // code of ours reads the environment concurrently.
        unsafe { std::env::set_var("OMP_THREAD_LIMIT", "1") };
    }
}

/// Tesseract's version, or why it cannot be loaded.
pub fn version() -> Result<String, OcrError> {
    let lib = lib()?;
    // SAFETY: TessVersion returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr((lib.version)()) };
    Ok(v.to_string_lossy().into_owned())
}

/// Longest a page may take before Tesseract is stopped, seconds.
pub const PAGE_DEADLINE_S: u32 = 180;
/// Tesseract refuses images wider or taller than this.
const MAX_SIDE: u32 = 32_000;

/// One Tesseract instance, initialised for a language.
pub struct Engine {
    lib: Arc<Lib>,
    api: *mut Api,
}

// SAFETY: a TessBaseAPI may move between threads; `Engine` is not `Sync`,
// so it is used by one thread at a time.
unsafe impl Send for Engine {}

impl Engine {
    /// Loads Tesseract and its language data (`lang` such as "eng"; `tessdata`
    /// None for the packaged data).
    pub fn open(lang: &str, tessdata: Option<&str>) -> Result<Engine, OcrError> {
        let lib = lib()?;
        let bad = |_| OcrError::Failed("a language or path holds a NUL byte".into());
        let c_lang = CString::new(lang).map_err(bad)?;
        let c_path = tessdata.map(CString::new).transpose().map_err(bad)?;
        // SAFETY: create has no preconditions; a null result is checked.
        let api = unsafe { (lib.create)() };
        if api.is_null() {
            return Err(OcrError::Failed("Tesseract could not be created".into()));
        }
        let engine = Engine { lib, api };
        let path_ptr = c_path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        // SAFETY: api is live; both strings are NUL-terminated and outlive the call.
        let rc = unsafe { (engine.lib.init3)(engine.api, path_ptr, c_lang.as_ptr()) };
        if rc != 0 {
            return Err(OcrError::NoLanguage {
                lang: crate::batch::printable(lang, 40),
                where_: tessdata.map_or_else(
                    || "Tesseract's packaged tessdata folder".to_string(),
                    |p| crate::batch::printable(p, 200),
                ),
            });
        }
        // SAFETY: api is live and initialised; the strings are static C strings.
        unsafe {
            (engine.lib.set_psm)(engine.api, PSM_AUTO);
            // No debug files or console chatter from inside the library.
            (engine.lib.set_variable)(engine.api, c"debug_file".as_ptr(), c"/dev/null".as_ptr());
        }
        Ok(engine)
    }

    /// The words on a page, in reading order (blocks, then lines, then words).
    pub fn read(&mut self, page: &Raster) -> Result<Vec<OcrWord>, OcrError> {
        if page.width == 0 || page.height == 0 {
            return Ok(Vec::new());
        }
        if page.width > MAX_SIDE || page.height > MAX_SIDE {
            return Err(OcrError::Failed(format!(
                "the page is {} x {} pixels, larger than Tesseract reads",
                page.width, page.height
            )));
        }
        let luma = page.luma();
        let (w, h) = (page.width as c_int, page.height as c_int);
        let lib = &self.lib;
        // SAFETY: `luma` holds w * h bytes (one a pixel, rows of w bytes) and
        // outlives recognition; Clear below drops Tesseract's pointer to it
        // before `luma` goes.
        let rc = unsafe {
            (lib.set_image)(self.api, luma.as_ptr(), w, h, 1, w);
            (lib.set_resolution)(self.api, page.dpi.clamp(70, 1200) as c_int);
            let monitor = (lib.monitor_create)();
            if !monitor.is_null() {
                (lib.monitor_deadline)(monitor, (PAGE_DEADLINE_S * 1000) as c_int);
            }
            let rc = (lib.recognize)(self.api, monitor);
            if !monitor.is_null() {
                (lib.monitor_delete)(monitor);
            }
            rc
        };
        let words = if rc == 0 {
            Ok(self.words())
        } else {
            Err(OcrError::GaveUp(PAGE_DEADLINE_S))
        };
        // SAFETY: api is live; this forgets the image and the results.
        unsafe { (lib.clear)(self.api) };
        words
    }

    /// Walks the recognised words.
    fn words(&self) -> Vec<OcrWord> {
        let lib = &self.lib;
        let mut out = Vec::new();
        // SAFETY: called after a successful Recognize; the iterator is
        // deleted below and every text returned is freed with TessDeleteText.
        unsafe {
            let it = (lib.get_iterator)(self.api);
            if it.is_null() {
                return out;
            }
            loop {
                let text = (lib.iter_text)(it, RIL_WORD);
                if !text.is_null() {
                    let s = CStr::from_ptr(text).to_string_lossy().trim().to_string();
                    (lib.delete_text)(text);
                    let (mut l, mut t, mut r, mut b) = (0, 0, 0, 0);
                    let has_box = (lib.bbox)(
                        (lib.iter_page)(it),
                        RIL_WORD,
                        &mut l,
                        &mut t,
                        &mut r,
                        &mut b,
                    ) != 0;
                    if has_box && !s.is_empty() && r > l && b > t {
                        out.push(OcrWord {
                            text: s,
                            bbox: [
                                l.max(0) as u32,
                                t.max(0) as u32,
                                (r - l) as u32,
                                (b - t) as u32,
                            ],
                            conf: (lib.iter_conf)(it, RIL_WORD),
                        });
                    }
                }
                if (lib.iter_next)(it, RIL_WORD) == 0 {
                    break;
                }
            }
            (lib.iter_delete)(it);
        }
        out
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: api came from TessBaseAPICreate and is deleted once.
        unsafe { (self.lib.delete)(self.api) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_language_says_what_to_install() {
        let Err(e) = Engine::open("xx-nonexistent", None) else {
            panic!("a language that does not exist opened");
        };
        let msg = e.to_string();
        assert!(
            msg.contains("tesseract-ocr") || msg.contains("install"),
            "{msg}"
        );
    }

    #[test]
    fn an_empty_page_has_no_words() {
        let mut e = Engine::open("eng", None).expect("tesseract-ocr-eng is installed by setup.sh");
        assert!(e.read(&Raster::filled(0, 0, 300, 255)).unwrap().is_empty());
        assert!(
            e.read(&Raster::filled(600, 400, 300, 255))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_page_larger_than_tesseract_reads_is_refused_in_words() {
        let mut e = Engine::open("eng", None).expect("tesseract-ocr-eng is installed by setup.sh");
        let Err(why) = e.read(&Raster::filled(MAX_SIDE + 1, 2, 300, 255)) else {
            panic!("a page wider than Tesseract reads was read");
        };
        assert!(
            why.to_string().contains("larger than Tesseract reads"),
            "{why}"
        );
    }
}
