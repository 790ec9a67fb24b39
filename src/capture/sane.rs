//! SANE scanners through libsane (see `sane_ffi` for why our own declarations).
//!
//! `Sane` initialises the library once and must outlive every `SaneScanner`
//! (the borrow enforces it). Everything here runs on the capture thread: the
//! raw handles make these types neither `Send` nor `Sync`, so the compiler keeps
//! them there. `sane_cancel` is called only when a batch ends or fails, never
//! between pages, so a feeder keeps feeding.

use super::sane_ffi as ffi;
use super::{
    Band, CaptureError, ColorMode, DeviceInfo, OptionInfo, PageSource, ScanSettings, SourceKind,
};
use crate::batch::printable;
use crate::pixels::{PixelKind, Raster};
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        // SAFETY: SANE hands out NUL-terminated strings that live while the
        // device list or option descriptor does; we copy at once.
        unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
    }
}

fn status_text(status: ffi::Status) -> String {
    // SAFETY: sane_strstatus returns a static string for any status.
    let s = cstr(unsafe { ffi::sane_strstatus(status) });
    if s.is_empty() {
        format!("status {status}")
    } else {
        s
    }
}

/// libsane keeps global state and is not thread-safe: one session at a time
/// in the process (a station's scan and a device listing, or several stations
/// in one test process, take turns).
static SESSION: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Vendor and model of every device listed so far, by name: a scanning
/// session records them without listing the devices again (seconds, with
/// network scanners).
static IDENTITIES: std::sync::Mutex<std::collections::BTreeMap<String, (String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The vendor and model SANE listed `device` with, if it was listed.
pub fn listed_identity(device: &str) -> Option<(String, String)> {
    IDENTITIES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(device)
        .cloned()
}

/// The SANE library, initialised; holds the process's SANE session until
/// dropped (after `sane_exit`).
pub struct Sane {
    _session: std::sync::MutexGuard<'static, ()>,
    _not_send: PhantomData<*const ()>,
}

impl Sane {
    pub fn init() -> Result<Sane, CaptureError> {
        // A panic elsewhere while holding the lock leaves SANE exited: usable.
        let session = SESSION.lock().unwrap_or_else(|e| e.into_inner());
        let mut version = 0;
        // SAFETY: no auth callback; version is a valid out-pointer.
        let st = unsafe { ffi::sane_init(&mut version, None) };
        if st != ffi::STATUS_GOOD {
            return Err(CaptureError::Other(format!(
                "cannot start SANE: {}",
                status_text(st)
            )));
        }
        Ok(Sane {
            _session: session,
            _not_send: PhantomData,
        })
    }

    /// Names, vendors, models and types of the devices SANE sees (network
    /// scanners included).
    pub fn devices(&self) -> Result<Vec<(String, String, String, String)>, CaptureError> {
        let mut list: *const *const ffi::Device = std::ptr::null();
        // SAFETY: list is a valid out-pointer; local_only=0 includes eSCL/airscan.
        let st = unsafe { ffi::sane_get_devices(&mut list, 0) };
        if st != ffi::STATUS_GOOD {
            return Err(CaptureError::Other(format!(
                "cannot list scanners: {}",
                status_text(st)
            )));
        }
        let mut out = Vec::new();
        let mut i = 0;
        while !list.is_null() && i < MAX_LIST {
            // SAFETY: the list is NULL-terminated and valid until the next call.
            let dev = unsafe { *list.add(i) };
            if dev.is_null() {
                break;
            }
            // SAFETY: dev points at a valid SANE_Device.
            let d = unsafe { &*dev };
            out.push((cstr(d.name), cstr(d.vendor), cstr(d.model), cstr(d.kind)));
            i += 1;
        }
        let mut known = IDENTITIES.lock().unwrap_or_else(|e| e.into_inner());
        for (name, vendor, model, _) in &out {
            known.insert(name.clone(), (vendor.clone(), model.clone()));
        }
        Ok(out)
    }

    /// Opens a device by name.
    pub fn open(&self, name: &str) -> Result<SaneScanner<'_>, CaptureError> {
        let shown = printable(name, 200);
        let c = CString::new(name).map_err(|_| CaptureError::NoSuchDevice(shown.clone()))?;
        let mut handle: ffi::Handle = std::ptr::null_mut();
        // SAFETY: valid C string and out-pointer.
        let st = unsafe { ffi::sane_open(c.as_ptr(), &mut handle) };
        match st {
            ffi::STATUS_GOOD if !handle.is_null() => Ok(SaneScanner {
                handle,
                _sane: PhantomData,
                name: name.to_string(),
                source: None,
                sides_done: 0,
                started: false,
                cancel: Arc::new(AtomicBool::new(false)),
            }),
            ffi::STATUS_DEVICE_BUSY => Err(CaptureError::DeviceBusy),
            ffi::STATUS_INVAL | ffi::STATUS_GOOD => Err(CaptureError::NoSuchDevice(shown)),
            ffi::STATUS_ACCESS_DENIED => Err(CaptureError::Other(format!(
                "access to {shown} was denied: add this user to the 'scanner' group"
            ))),
            other => Err(CaptureError::Other(format!(
                "cannot open {shown}: {}",
                status_text(other)
            ))),
        }
    }

    /// Opens each device to describe its options.
    pub fn describe_all(&self) -> Result<Vec<DeviceInfo>, CaptureError> {
        let mut out = Vec::new();
        for (name, vendor, model, kind) in self.devices()? {
            let options = self.open(&name).map(|s| s.options()).unwrap_or_default();
            out.push(describe(name, vendor, model, kind, options));
        }
        Ok(out)
    }
}

impl Drop for Sane {
    fn drop(&mut self) {
        // SAFETY: every scanner borrowed self and has been dropped.
        unsafe { ffi::sane_exit() };
    }
}

fn describe(
    name: String,
    vendor: String,
    model: String,
    kind: String,
    options: Vec<OptionInfo>,
) -> DeviceInfo {
    let find = |n: &str| options.iter().find(|o| o.name == n);
    let allowed = |n: &str| find(n).map(|o| o.allowed.clone()).unwrap_or_default();
    let max = |n: &str| {
        find(n)
            .and_then(|o| o.allowed.first())
            .and_then(|r| r.split("..").nth(1))
            .and_then(|v| {
                v.split_whitespace()
                    .next()
                    .and_then(|x| x.parse::<f64>().ok())
            })
    };
    DeviceInfo {
        sources: allowed("source")
            .into_iter()
            .map(|s| {
                let k = SourceKind::classify(&s);
                (s, k)
            })
            .collect(),
        modes: allowed("mode"),
        resolutions: allowed("resolution"),
        max_area_mm: max("br-x").zip(max("br-y")),
        name,
        vendor,
        model,
        kind,
        options,
    }
}

/// An open SANE device.
pub struct SaneScanner<'s> {
    handle: ffi::Handle,
    _sane: PhantomData<&'s Sane>,
    name: String,
    source: Option<SourceKind>,
    sides_done: u32,
    /// A batch is in progress (`sane_start` succeeded at least once).
    started: bool,
    cancel: Arc<AtomicBool>,
}

/// What an option accepts, copied out of its descriptor (bounded: a backend's
/// list is not trusted to end).
#[derive(Debug, Clone, PartialEq)]
enum Allowed {
    Any,
    Range {
        min: c_int,
        max: c_int,
        quant: c_int,
    },
    Words(Vec<c_int>),
    Strings(Vec<String>),
}

/// An option as its descriptor said when we looked (descriptors change when
/// options are reloaded, so nothing keeps one across calls).
#[derive(Debug, Clone)]
struct Opt {
    index: c_int,
    name: String,
    title: String,
    unit: c_int,
    value_type: c_int,
    size: c_int,
    cap: c_int,
    allowed: Allowed,
}

/// More options, list entries or value bytes than this is a broken backend.
const MAX_OPTIONS: c_int = 10_000;
const MAX_LIST: usize = 100_000;
const MAX_OPTION_BYTES: c_int = 1 << 20;
const WORD: usize = std::mem::size_of::<c_int>();

/// A fixed-point value as people write it: "12.1", "200", "-42.17".
fn fixed_text(v: c_int) -> String {
    let s = format!("{:.4}", ffi::fixed_to_f64(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

impl Opt {
    fn from_descriptor(index: c_int, d: &ffi::OptionDescriptor) -> Opt {
        Opt {
            index,
            name: cstr(d.name),
            title: cstr(d.title),
            unit: d.unit,
            value_type: d.value_type,
            size: d.size,
            cap: d.cap,
            allowed: allowed(d),
        }
    }

    fn active(&self) -> bool {
        self.cap & ffi::CAP_INACTIVE == 0
    }

    fn number(&self, v: c_int) -> String {
        if self.value_type == ffi::TYPE_FIXED {
            fixed_text(v)
        } else {
            v.to_string()
        }
    }

    /// Words in the value of a bool, int or fixed option (1, or an array's
    /// length); `None` when the declared size is not whole words.
    fn words(&self) -> Option<usize> {
        let size = usize::try_from(self.size).ok()?;
        let ok = match self.value_type {
            ffi::TYPE_BOOL => size == WORD,
            ffi::TYPE_INT | ffi::TYPE_FIXED => {
                size >= WORD && size % WORD == 0 && self.size <= MAX_OPTION_BYTES
            }
            _ => false,
        };
        ok.then_some(size / WORD)
    }

    /// Bytes of a string option's value, NUL included.
    fn string_bytes(&self) -> Option<usize> {
        (self.value_type == ffi::TYPE_STRING && self.size >= 1 && self.size <= MAX_OPTION_BYTES)
            .then_some(self.size as usize)
    }

    /// The allowed values in words, for messages and `folio devices`.
    fn allowed_text(&self) -> String {
        match &self.allowed {
            Allowed::Range { min, max, quant } => {
                let mut s = format!("{}..{}", self.number(*min), self.number(*max));
                if *quant > 0 {
                    s.push_str(&format!(" in steps of {}", self.number(*quant)));
                }
                s
            }
            Allowed::Words(w) => {
                let all: Vec<String> = w.iter().map(|v| self.number(*v)).collect();
                format!("one of {}", all.join(", "))
            }
            Allowed::Strings(s) => format!("one of {}", s.join(", ")),
            Allowed::Any => match self.value_type {
                ffi::TYPE_BOOL => "yes or no".into(),
                ffi::TYPE_INT => "a whole number".into(),
                ffi::TYPE_FIXED => "a number".into(),
                ffi::TYPE_STRING => format!("text of {} characters at most", self.size.max(1) - 1),
                _ => "nothing (it takes no value)".into(),
            },
        }
    }

    /// Checks one number against the constraint; the word to hand over.
    fn check_word(&self, w: c_int) -> Option<c_int> {
        // Fixed values typed in decimal are a rounding away from the
        // backend's words: a few 65536ths of slack.
        let slack = if self.value_type == ffi::TYPE_FIXED {
            8
        } else {
            0
        };
        match &self.allowed {
            Allowed::Any | Allowed::Strings(_) => Some(w),
            Allowed::Range { min, max, quant } => {
                let (lo, hi) = (i64::from(*min), i64::from(*max));
                let v = i64::from(w);
                // (An empty range, min above max, allows nothing.)
                if lo > hi || v < lo - slack || v > hi + slack {
                    return None;
                }
                let v = v.clamp(lo, hi);
                // Integer steps are exact; fixed ones the backend rounds to.
                if self.value_type == ffi::TYPE_INT
                    && *quant > 0
                    && (v - lo) % i64::from(*quant) != 0
                {
                    return None;
                }
                c_int::try_from(v).ok()
            }
            Allowed::Words(list) => list
                .iter()
                .copied()
                .find(|e| (i64::from(*e) - i64::from(w)).abs() <= slack),
        }
    }
}

/// An option's constraint, copied.
fn allowed(d: &ffi::OptionDescriptor) -> Allowed {
    // SAFETY: the union member read matches constraint_type, as SANE defines;
    // string lists end with NULL and word lists start with their length (both
    // bounded here in case a backend forgets).
    unsafe {
        match d.constraint_type {
            ffi::CONSTRAINT_RANGE if !d.constraint.range.is_null() => {
                let r = &*d.constraint.range;
                Allowed::Range {
                    min: r.min,
                    max: r.max,
                    quant: r.quant.max(0),
                }
            }
            ffi::CONSTRAINT_WORD_LIST if !d.constraint.word_list.is_null() => {
                let list = d.constraint.word_list;
                let n = usize::try_from(*list).unwrap_or(0).min(MAX_LIST);
                Allowed::Words((1..=n).map(|i| *list.add(i)).collect())
            }
            ffi::CONSTRAINT_STRING_LIST if !d.constraint.string_list.is_null() => {
                let mut out = Vec::new();
                let mut p = d.constraint.string_list;
                while !(*p).is_null() && out.len() < MAX_LIST {
                    out.push(cstr(*p));
                    p = p.add(1);
                }
                Allowed::Strings(out)
            }
            _ => Allowed::Any,
        }
    }
}

/// A value handed to `sane_control_option`: exactly the option's declared
/// size, words aligned as `SANE_Word`s.
enum Value {
    Words(Vec<c_int>),
    Text(Vec<u8>),
}

impl Value {
    fn as_mut_ptr(&mut self) -> *mut c_void {
        match self {
            Value::Words(w) => w.as_mut_ptr().cast(),
            Value::Text(t) => t.as_mut_ptr().cast(),
        }
    }
}

impl SaneScanner<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    fn descriptor(&self, i: c_int) -> Option<&ffi::OptionDescriptor> {
        // SAFETY: valid handle; SANE returns NULL past the last option, and the
        // descriptor stays valid until options are reloaded (we copy at once).
        unsafe { ffi::sane_get_option_descriptor(self.handle, i).as_ref() }
    }

    /// Options 1.. (option 0 holds their number, as SANE defines: a backend
    /// need not answer NULL past the last one). A backend whose option 0 is
    /// unreadable is asked until it answers NULL, at most `MAX_OPTIONS`.
    fn option_count(&self) -> c_int {
        let Some(d) = self.descriptor(0) else {
            return 0;
        };
        let zero = Opt::from_descriptor(0, d);
        if zero.value_type != ffi::TYPE_INT || zero.words() != Some(1) {
            return MAX_OPTIONS;
        }
        let mut n: c_int = 0;
        // SAFETY: option 0 is one SANE_Word, as just checked; n is one.
        let st = unsafe {
            ffi::sane_control_option(
                self.handle,
                0,
                ffi::ACTION_GET_VALUE,
                (&mut n as *mut c_int).cast::<c_void>(),
                std::ptr::null_mut(),
            )
        };
        if st == ffi::STATUS_GOOD && n > 0 {
            n.min(MAX_OPTIONS)
        } else {
            MAX_OPTIONS
        }
    }

    /// Every option but option 0, as their descriptors are now.
    fn all(&self) -> Vec<Opt> {
        (1..self.option_count())
            .map_while(|i| self.descriptor(i).map(|d| Opt::from_descriptor(i, d)))
            .collect()
    }

    fn find(&self, name: &str) -> Option<Opt> {
        self.all()
            .into_iter()
            .find(|o| o.value_type != ffi::TYPE_GROUP && o.name == name)
    }

    /// Every option with its constraint and current value.
    pub fn options(&self) -> Vec<OptionInfo> {
        self.all()
            .into_iter()
            .filter(|o| o.value_type != ffi::TYPE_GROUP && !o.name.is_empty())
            .map(|o| OptionInfo {
                title: o.title.clone(),
                kind: ["bool", "int", "fixed", "string", "button", "group"]
                    .get(o.value_type as usize)
                    .unwrap_or(&"?")
                    .to_string(),
                unit: ["", "pixel", "bit", "mm", "dpi", "%", "us"]
                    .get(o.unit as usize)
                    .unwrap_or(&"")
                    .to_string(),
                allowed: constraint(&o),
                value: if o.active() { self.get(&o) } else { None },
                active: o.active(),
                name: o.name,
            })
            .collect()
    }

    /// The option's value in words: "true", "300", "12.1", "Gray", and the
    /// elements of an array joined by commas.
    fn get(&self, o: &Opt) -> Option<String> {
        let mut value = if let Some(n) = o.words() {
            Value::Words(vec![0; n])
        } else {
            // One byte past the declared size stays NUL, whatever the backend
            // leaves in the rest.
            Value::Text(vec![0; o.string_bytes()? + 1])
        };
        // SAFETY: the buffer holds the option's declared size (words aligned).
        let st = unsafe {
            ffi::sane_control_option(
                self.handle,
                o.index,
                ffi::ACTION_GET_VALUE,
                value.as_mut_ptr(),
                std::ptr::null_mut(),
            )
        };
        if st != ffi::STATUS_GOOD {
            return None;
        }
        Some(match value {
            Value::Words(w) if o.value_type == ffi::TYPE_BOOL => (w[0] != 0).to_string(),
            Value::Words(w) => w.iter().map(|v| o.number(*v)).collect::<Vec<_>>().join(","),
            Value::Text(t) => CStr::from_bytes_until_nul(&t)
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        })
    }

    /// Sets an option from text ("300", "yes", "Automatic Document Feeder",
    /// "1,2,3" for an array, or one number for all its elements), checked
    /// against the option's type and constraint first.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), CaptureError> {
        let device = printable(&self.name, 200);
        let shown_name = printable(name, 100);
        let o = self.find(name).ok_or_else(|| {
            CaptureError::Unsupported(format!(
                "{device} has no option '{shown_name}': `folio devices` lists its options"
            ))
        })?;
        let refuse = |why: &str| {
            CaptureError::Unsupported(format!("option '{shown_name}' of {device}: {why}"))
        };
        if matches!(o.value_type, ffi::TYPE_BUTTON | ffi::TYPE_GROUP) {
            return Err(refuse("it is a button and takes no value"));
        }
        if o.cap & ffi::CAP_SOFT_SELECT == 0 {
            return Err(refuse("it cannot be set (the scanner sets it itself)"));
        }
        if !o.active() {
            return Err(refuse(
                "it is inactive with the current settings: set the option that turns it on \
                 (such as the mode) first, or leave it out",
            ));
        }
        let mut buf = self.encode(&o, value)?;
        let mut info: c_int = 0;
        // SAFETY: the buffer holds exactly the option's declared size (words
        // aligned, strings NUL-terminated within it); info is one int.
        let st = unsafe {
            ffi::sane_control_option(
                self.handle,
                o.index,
                ffi::ACTION_SET_VALUE,
                buf.as_mut_ptr(),
                &mut info,
            )
        };
        // Options reloaded (SANE_INFO_RELOAD_OPTIONS) need nothing here: no
        // descriptor or index is kept between calls.
        match st {
            ffi::STATUS_GOOD => Ok(()),
            ffi::STATUS_INVAL => Err(refuse(&format!(
                "the scanner refused '{}' (allowed: {})",
                printable(value, 200),
                printable(&o.allowed_text(), 400)
            ))),
            other => Err(CaptureError::Other(format!(
                "setting option '{shown_name}' of {device} failed ({}): check the scanner, then try again",
                status_text(other)
            ))),
        }
    }

    /// The text of a value as the option's type and size want it.
    fn encode(&self, o: &Opt, value: &str) -> Result<Value, CaptureError> {
        let broken = || {
            CaptureError::Unsupported(format!(
                "option '{}' of {} has a size ({} bytes) its type does not allow: \
                 its SANE driver is faulty; leave the option out",
                printable(&o.name, 100),
                printable(&self.name, 200),
                o.size
            ))
        };
        if o.value_type == ffi::TYPE_STRING {
            let size = o.string_bytes().ok_or_else(broken)?;
            return self.encode_text(o, value, size);
        }
        let n = o.words().ok_or_else(broken)?;
        if o.value_type == ffi::TYPE_BOOL {
            let b = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" | "1" => 1,
                "no" | "false" | "off" | "0" => 0,
                _ => return Err(self.not_allowed(o, value, "yes or no")),
            };
            return Ok(Value::Words(vec![b]));
        }
        self.encode_numbers(o, value, n)
    }

    /// Why `value` cannot be option `o`'s value: it is not `what`.
    fn not_allowed(&self, o: &Opt, value: &str, what: &str) -> CaptureError {
        CaptureError::Unsupported(format!(
            "option '{}' of {}: '{}' is not {what}; allowed: {}",
            printable(&o.name, 100),
            printable(&self.name, 200),
            printable(value, 200),
            printable(&o.allowed_text(), 400)
        ))
    }

    /// A string option's value: one of its list (any case) if it has one,
    /// NUL-padded to the option's `size` bytes.
    fn encode_text(&self, o: &Opt, value: &str, size: usize) -> Result<Value, CaptureError> {
        let entry = match &o.allowed {
            Allowed::Strings(list) => list
                .iter()
                .find(|e| e.as_str() == value)
                .or_else(|| list.iter().find(|e| e.eq_ignore_ascii_case(value)))
                .ok_or_else(|| self.not_allowed(o, value, "allowed"))?
                .as_str(),
            _ => value,
        };
        if entry.contains('\0') {
            return Err(self.not_allowed(o, value, "text without NUL characters"));
        }
        if entry.len() >= size {
            return Err(self.not_allowed(
                o,
                value,
                &format!("{} characters at most (it has {})", size - 1, entry.len()),
            ));
        }
        let mut t = vec![0u8; size];
        t[..entry.len()].copy_from_slice(entry.as_bytes());
        Ok(Value::Text(t))
    }

    /// A number option's `n` words: one number for all, or `n` separated by
    /// commas, each within the option's constraint.
    fn encode_numbers(&self, o: &Opt, value: &str, n: usize) -> Result<Value, CaptureError> {
        let not_allowed = |what: &str| self.not_allowed(o, value, what);
        let parts: Vec<&str> = value.split(',').map(str::trim).collect();
        let what = if n == 1 {
            "allowed".to_string()
        } else if o.value_type == ffi::TYPE_INT {
            format!("{n} whole numbers separated by commas (or one for all)")
        } else {
            format!("{n} numbers separated by commas (or one for all)")
        };
        if parts.len() != 1 && parts.len() != n {
            return Err(not_allowed(&what));
        }
        let mut words = Vec::with_capacity(parts.len());
        for p in &parts {
            let w = if o.value_type == ffi::TYPE_INT {
                p.parse::<c_int>()
                    .map_err(|_| not_allowed("a whole number"))?
            } else {
                let v = p
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && (-32768.0..32768.0).contains(v))
                    .ok_or_else(|| not_allowed("a number from -32768 to 32767.9999"))?;
                ffi::f64_to_fixed(v)
            };
            words.push(o.check_word(w).ok_or_else(|| not_allowed(&what))?);
        }
        if words.len() == 1 {
            words.resize(n, words[0]);
        }
        Ok(Value::Words(words))
    }

    /// Sets a number option (geometry, brightness) from a value in its unit,
    /// rounded for whole-number options; `clamp` keeps it within the range
    /// (a page larger than the scan area scans the whole area).
    fn set_number(&mut self, name: &str, v: f64, clamp: bool) -> Result<(), CaptureError> {
        let Some(o) = self.find(name) else {
            return self.set(name, &format!("{v}"));
        };
        let mut v = if o.value_type == ffi::TYPE_INT {
            v.round()
        } else {
            v
        };
        if let (true, Allowed::Range { min, max, .. }) = (clamp, &o.allowed) {
            let (lo, hi) = if o.value_type == ffi::TYPE_FIXED {
                (ffi::fixed_to_f64(*min), ffi::fixed_to_f64(*max))
            } else {
                (f64::from(*min), f64::from(*max))
            };
            if lo <= hi {
                v = v.clamp(lo, hi);
            }
        }
        let text = if o.value_type == ffi::TYPE_INT {
            format!("{}", v as i64)
        } else {
            format!("{v}")
        };
        self.set(name, &text)
    }

    /// Applies settings, saying plainly what the device cannot do.
    pub fn apply(&mut self, s: &ScanSettings) -> Result<(), CaptureError> {
        if let Some(want) = s.source {
            let sources: Vec<String> = self
                .options()
                .into_iter()
                .find(|o| o.name == "source")
                .map(|o| o.allowed)
                .unwrap_or_default();
            let pick = sources
                .iter()
                .find(|n| SourceKind::classify(n) == Some(want))
                .cloned();
            match pick {
                Some(name) => self.set("source", &name)?,
                None if sources.is_empty() && want == SourceKind::Flatbed => {}
                None => {
                    return Err(CaptureError::Unsupported(format!(
                        "{} cannot scan {} (its sources: {})",
                        self.name,
                        want.as_str(),
                        if sources.is_empty() {
                            "none listed".into()
                        } else {
                            sources.join(", ")
                        }
                    )));
                }
            }
            self.source = Some(want);
        } else {
            let current = self
                .options()
                .into_iter()
                .find(|o| o.name == "source")
                .and_then(|o| o.value);
            self.source = current.as_deref().and_then(SourceKind::classify);
        }
        if let Some(mode) = s.mode {
            self.apply_mode(mode)?;
        }
        if let Some(dpi) = s.dpi {
            self.set("resolution", &dpi.to_string())?;
        }
        if let Some((w, h)) = s.page_size_mm {
            // A page larger than the scan area scans all of it.
            for (opt, v) in [("tl-x", 0.0), ("tl-y", 0.0), ("br-x", w), ("br-y", h)] {
                if self.find(opt).is_some() {
                    self.set_number(opt, v, true)?;
                }
            }
        }
        for (opt, v) in [("brightness", s.brightness), ("contrast", s.contrast)] {
            if let Some(v) = v {
                self.set_number(opt, v, false)?;
            }
        }
        for (k, v) in &s.options {
            self.set(k, v)?;
        }
        Ok(())
    }

    fn apply_mode(&mut self, mode: ColorMode) -> Result<(), CaptureError> {
        let modes: Vec<String> = self
            .options()
            .into_iter()
            .find(|o| o.name == "mode")
            .map(|o| o.allowed)
            .unwrap_or_default();
        let has = |m: &str| modes.iter().find(|x| x.eq_ignore_ascii_case(m)).cloned();
        match mode {
            ColorMode::Gray => self.set(
                "mode",
                &has("Gray")
                    .or_else(|| has("Grayscale"))
                    .unwrap_or("Gray".into()),
            )?,
            ColorMode::Color => self.set("mode", &has("Color").unwrap_or("Color".into()))?,
            ColorMode::Bw => match has("Lineart")
                .or_else(|| has("Binary"))
                .or_else(|| has("Black & White"))
            {
                Some(m) => self.set("mode", &m)?,
                // Backends like `test` do line art as grey at depth 1.
                None => {
                    self.set("mode", &has("Gray").unwrap_or("Gray".into()))?;
                    self.set("depth", "1")?;
                }
            },
        }
        if mode != ColorMode::Bw
            && self
                .find("depth")
                .is_some_and(|o| o.cap & ffi::CAP_INACTIVE == 0)
        {
            let _ = self.set("depth", "8");
        }
        Ok(())
    }

    fn fault(&self, st: ffi::Status, partial: bool) -> CaptureError {
        match st {
            ffi::STATUS_JAMMED => CaptureError::Jammed { partial },
            ffi::STATUS_COVER_OPEN => CaptureError::CoverOpen { partial },
            ffi::STATUS_NO_DOCS => CaptureError::FeederEmpty,
            ffi::STATUS_DEVICE_BUSY => CaptureError::DeviceBusy,
            ffi::STATUS_IO_ERROR | ffi::STATUS_NO_MEM => CaptureError::Io { partial },
            ffi::STATUS_CANCELLED => CaptureError::Cancelled { partial },
            ffi::STATUS_ACCESS_DENIED | ffi::STATUS_INVAL | ffi::STATUS_UNSUPPORTED => {
                CaptureError::Gone(status_text(st))
            }
            other => CaptureError::Other(status_text(other)),
        }
    }

    /// Reads one frame into `frame`; calls `on_band` as whole lines arrive.
    fn read_frame(
        &mut self,
        f: &Frame,
        frame: &mut Vec<u8>,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<(), CaptureError> {
        let bpl = f.bpl;
        let total_lines = f.lines.and_then(|l| u32::try_from(l).ok());
        // Bytes past the announced lines are read (the driver needs draining)
        // and dropped; a side of unknown height stops at the bound.
        let most = usize::try_from(MAX_SIDE_BYTES).unwrap_or(usize::MAX);
        let limit = f.lines.map_or(most, |l| l * bpl);
        if f.lines.is_some() {
            room(frame, limit)?;
        }
        let mut chunk = vec![0u8; 64 * 1024];
        let mut reported = 0usize;
        loop {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(CaptureError::Cancelled {
                    partial: !frame.is_empty(),
                });
            }
            let mut len: c_int = 0;
            // SAFETY: chunk has chunk.len() writable bytes; len is one int.
            let st = unsafe {
                ffi::sane_read(
                    self.handle,
                    chunk.as_mut_ptr(),
                    c_int::try_from(chunk.len()).unwrap_or(c_int::MAX),
                    &mut len,
                )
            };
            match st {
                ffi::STATUS_GOOD => {
                    let n = usize::try_from(len)
                        .ok()
                        .filter(|n| *n <= chunk.len())
                        .ok_or_else(|| {
                            bad_frame(&format!("a read of {len} bytes into {}", chunk.len()))
                        })?;
                    let keep = n.min(limit - frame.len());
                    if keep < n && f.lines.is_none() {
                        return Err(bad_frame(&format!(
                            "a side of unknown height longer than {} GiB",
                            MAX_SIDE_BYTES >> 30
                        )));
                    }
                    room(frame, keep)?;
                    frame.extend_from_slice(&chunk[..keep]);
                }
                ffi::STATUS_EOF => break,
                other => return Err(self.fault(other, true)),
            }
            let whole = frame.len() / bpl;
            if whole >= reported + 32
                || (total_lines.is_some_and(|t| whole as u32 >= t) && whole > reported)
            {
                band(
                    f,
                    reported,
                    &frame[reported * bpl..whole * bpl],
                    total_lines,
                    on_band,
                );
                reported = whole;
            }
        }
        let whole = frame.len() / bpl;
        if whole > reported {
            band(
                f,
                reported,
                &frame[reported * bpl..whole * bpl],
                total_lines,
                on_band,
            );
        }
        frame.truncate(whole * bpl);
        Ok(())
    }

    fn parameters(&self) -> Result<ffi::Parameters, CaptureError> {
        let mut p = ffi::Parameters::default();
        // SAFETY: valid handle and out-pointer.
        let st = unsafe { ffi::sane_get_parameters(self.handle, &mut p) };
        if st != ffi::STATUS_GOOD {
            return Err(self.fault(st, false));
        }
        Ok(p)
    }

    fn dpi(&self) -> u32 {
        self.find("resolution")
            .and_then(|o| self.get(&o))
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v.round() as u32)
            .filter(|v| *v > 0)
            .unwrap_or(300)
    }

    fn end_batch(&mut self) {
        if self.started {
            // SAFETY: valid handle; ends the batch so the device is idle.
            unsafe { ffi::sane_cancel(self.handle) };
            self.started = false;
        }
    }
}

impl PageSource for SaneScanner<'_> {
    fn duplex(&self) -> bool {
        self.source == Some(SourceKind::Duplex)
    }

    fn set_option(&mut self, name: &str, value: &str) -> Result<(), CaptureError> {
        self.set(name, value)
    }

    fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = flag;
    }

    fn next_side(
        &mut self,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<Option<Raster>, CaptureError> {
        if self.source == Some(SourceKind::Flatbed) && self.sides_done > 0 {
            self.end_batch();
            return Ok(None);
        }
        let dpi = self.dpi();
        let mut frames: Vec<(ffi::Parameters, Vec<u8>)> = Vec::new();
        let mut checked_frames: Vec<Frame> = Vec::new();
        loop {
            // SAFETY: valid handle.
            let st = unsafe { ffi::sane_start(self.handle) };
            match st {
                ffi::STATUS_GOOD => self.started = true,
                // Some backends (pnm) answer EOF instead of NO_DOCS when there
                // is no further page.
                ffi::STATUS_NO_DOCS | ffi::STATUS_EOF if frames.is_empty() => {
                    self.end_batch();
                    return if self.sides_done == 0 {
                        Err(CaptureError::FeederEmpty)
                    } else {
                        Ok(None)
                    };
                }
                other => {
                    let err = self.fault(other, !frames.is_empty());
                    self.end_batch();
                    return Err(err);
                }
            }
            // Parameters are checked (and a further colour frame against the
            // first) before anything is allocated for the frame.
            let checked = self.parameters().and_then(|p| {
                let f = Frame::check(&p)?;
                if let Some(first) = checked_frames.first() {
                    f.follows(first, &checked_frames)?;
                }
                Ok((p, f))
            });
            let (p, f) = match checked {
                Ok(pf) => pf,
                Err(e) => {
                    self.end_batch();
                    return Err(e);
                }
            };
            let mut data = Vec::new();
            if let Err(e) = self.read_frame(&f, &mut data, on_band) {
                self.end_batch();
                return Err(e);
            }
            frames.push((p, data));
            checked_frames.push(f);
            // Three colour frames make a page even if the last one forgets
            // to say so.
            if f.last || frames.len() == 3 {
                break;
            }
        }
        let raster = assemble(&frames, dpi).inspect_err(|_| self.end_batch())?;
        self.sides_done += 1;
        Ok(Some(raster))
    }
}

impl Drop for SaneScanner<'_> {
    fn drop(&mut self) {
        self.end_batch();
        // SAFETY: the handle is open and closed once, before sane_exit (the
        // borrow of `Sane` guarantees the order).
        unsafe { ffi::sane_close(self.handle) };
    }
}

/// Bounds on what a backend may announce: wider than 1.3 m at 100 dpi, a line
/// over 4 MiB or a side over 2 GiB is a broken driver, not paper.
const MAX_WIDTH: usize = 1 << 17;
const MAX_LINE_BYTES: usize = 4 << 20;
const MAX_SIDE_BYTES: u64 = 2 << 30;

/// A frame's parameters, checked: what `read_frame` and `assemble` rely on.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Frame {
    format: c_int,
    depth: c_int,
    width: usize,
    /// Samples per pixel in this frame: 3 for RGB, else 1.
    channels: usize,
    bpl: usize,
    /// Lines, when the scanner knows them (hand scanners do not).
    lines: Option<usize>,
    last: bool,
}

impl Frame {
    /// Checks parameters before anything is allocated for them.
    fn check(p: &ffi::Parameters) -> Result<Frame, CaptureError> {
        let channels = match p.format {
            ffi::FRAME_GRAY | ffi::FRAME_RED | ffi::FRAME_GREEN | ffi::FRAME_BLUE => 1,
            ffi::FRAME_RGB => 3,
            other => return Err(bad_frame(&format!("an unknown frame format ({other})"))),
        };
        match p.depth {
            1 if p.format != ffi::FRAME_GRAY => {
                return Err(CaptureError::Unsupported(
                    "1-bit colour scans are not supported: scan in grey or colour".into(),
                ));
            }
            1 | 8 | 16 => {}
            other => {
                return Err(bad_frame(&format!(
                    "{other} bits per sample (Folio reads 1, 8 and 16)"
                )));
            }
        }
        let width = usize::try_from(p.pixels_per_line)
            .ok()
            .filter(|w| (1..=MAX_WIDTH).contains(w))
            .ok_or_else(|| bad_frame(&format!("{} pixels per line", p.pixels_per_line)))?;
        let need = (width * channels * p.depth as usize).div_ceil(8);
        let bpl = usize::try_from(p.bytes_per_line)
            .ok()
            .filter(|b| (need..=MAX_LINE_BYTES.max(need)).contains(b))
            .ok_or_else(|| {
                bad_frame(&format!(
                    "{} bytes per line for {width} pixels of {channels} x {} bits (at least {need})",
                    p.bytes_per_line, p.depth
                ))
            })?;
        let lines = usize::try_from(p.lines).ok().filter(|l| *l > 0);
        if let Some(l) = lines
            && (l as u64).saturating_mul(bpl as u64) > MAX_SIDE_BYTES
        {
            return Err(bad_frame(&format!(
                "{l} lines of {bpl} bytes (over {} GiB)",
                MAX_SIDE_BYTES >> 30
            )));
        }
        Ok(Frame {
            format: p.format,
            depth: p.depth,
            width,
            channels,
            bpl,
            lines,
            last: p.last_frame != 0
                || !matches!(
                    p.format,
                    ffi::FRAME_RED | ffi::FRAME_GREEN | ffi::FRAME_BLUE
                ),
        })
    }

    /// The colour a frame of a three-pass scan carries.
    fn colour(&self) -> Option<usize> {
        match self.format {
            ffi::FRAME_RED => Some(0),
            ffi::FRAME_GREEN => Some(1),
            ffi::FRAME_BLUE => Some(2),
            _ => None,
        }
    }

    /// Checks that a further frame of a three-pass scan matches the first.
    fn follows(&self, first: &Frame, earlier: &[Frame]) -> Result<(), CaptureError> {
        let Some(c) = self.colour() else {
            return Err(bad_frame("a grey or RGB frame among colour frames"));
        };
        if first.colour().is_none() {
            return Err(bad_frame("a further frame after a whole image"));
        }
        if earlier.iter().any(|f| f.colour() == Some(c)) {
            return Err(bad_frame("the same colour twice"));
        }
        if (self.width, self.depth, self.bpl) != (first.width, first.depth, first.bpl) {
            return Err(bad_frame(&format!(
                "colour frames that disagree ({} pixels, {} bits, {} bytes per line after {}, {}, {})",
                self.width, self.depth, self.bpl, first.width, first.depth, first.bpl
            )));
        }
        Ok(())
    }

    /// One line as 8-bit samples (`width x channels`): line art 1 = black
    /// becomes 0, 16-bit samples (host order) keep their high byte.
    fn samples<'a>(&self, row: &'a [u8]) -> impl Iterator<Item = u8> + 'a {
        let depth = self.depth;
        (0..self.width * self.channels).map(move |i| match depth {
            1 => match row.get(i / 8) {
                Some(b) if (b >> (7 - i % 8)) & 1 == 1 => 0,
                _ => 255,
            },
            16 => match (row.get(2 * i), row.get(2 * i + 1)) {
                (Some(a), Some(b)) => u16::from_ne_bytes([*a, *b]).to_be_bytes()[0],
                _ => 0,
            },
            _ => row.get(i).copied().unwrap_or(0),
        })
    }
}

/// A page the driver cannot have meant: said as a fault of the driver, with
/// what to do.
fn bad_frame(what: &str) -> CaptureError {
    CaptureError::Other(format!(
        "its driver announced {what}: scan again in another mode or resolution, \
         or update the scanner's SANE driver, then resume"
    ))
}

/// Grows `buf` by `more` bytes of room, or says the side is too large (a
/// failed allocation must not abort the station).
fn room(buf: &mut Vec<u8>, more: usize) -> Result<(), CaptureError> {
    buf.try_reserve(more).map_err(|_| {
        CaptureError::Other(format!(
            "not enough memory for a side of {} MiB: scan at a lower resolution, then resume",
            (buf.len() + more) >> 20
        ))
    })
}

/// Hands whole lines to the live preview as `width x channels` 8-bit samples,
/// whatever the scanner's depth and line padding (`bytes_per_line`).
fn band(
    f: &Frame,
    first_line: usize,
    rows: &[u8],
    total_lines: Option<u32>,
    on_band: &mut dyn FnMut(Band<'_>),
) {
    let converted: Vec<u8>;
    let data = if f.depth == 8 && f.bpl == f.width * f.channels {
        rows
    } else {
        converted = rows
            .chunks_exact(f.bpl)
            .flat_map(|r| f.samples(r))
            .collect();
        &converted
    };
    on_band(Band {
        first_line: first_line as u32,
        width: f.width as u32,
        channels: f.channels as u32,
        total_lines,
        data,
    });
}

/// Turns SANE frames into a raster: grey (8 or 16 bit), line art (1 bit, 1 =
/// black), RGB, or three single-colour frames. Every frame's parameters are
/// checked again here, so nothing below indexes past a line.
fn assemble(frames: &[(ffi::Parameters, Vec<u8>)], dpi: u32) -> Result<Raster, CaptureError> {
    let mut checked: Vec<(Frame, &[u8])> = Vec::with_capacity(frames.len());
    for (p, data) in frames {
        let f = Frame::check(p)?;
        if let Some((first, _)) = checked.first() {
            let earlier: Vec<Frame> = checked.iter().map(|(e, _)| *e).collect();
            f.follows(first, &earlier)?;
        }
        checked.push((f, data));
    }
    let Some(&(f0, _)) = checked.first() else {
        return Err(CaptureError::Other("the scanner sent no image".into()));
    };
    if f0.colour().is_some() && checked.len() != 3 {
        return Err(bad_frame(&format!(
            "a colour page in {} frames (three are needed)",
            checked.len()
        )));
    }
    let lines = checked
        .iter()
        .map(|(f, d)| d.len() / f.bpl)
        .min()
        .unwrap_or(0);
    if lines == 0 {
        return Err(CaptureError::Other("the scanner sent an empty page".into()));
    }
    let width = f0.width;
    let mut data = Vec::new();
    let kind = if f0.colour().is_some() {
        room(&mut data, width * lines * 3)?;
        data.resize(width * lines * 3, 0);
        for (f, d) in &checked {
            let c = f.colour().unwrap_or(0);
            for (l, row) in d.chunks_exact(f.bpl).take(lines).enumerate() {
                for (x, v) in f.samples(row).enumerate() {
                    if let Some(out) = data.get_mut((l * width + x) * 3 + c) {
                        *out = v;
                    }
                }
            }
        }
        PixelKind::Color
    } else {
        let (f, d) = checked[0];
        room(&mut data, width * f.channels * lines)?;
        for row in d.chunks_exact(f.bpl).take(lines) {
            data.extend(f.samples(row));
        }
        match (f.channels, f.depth) {
            (3, _) => PixelKind::Color,
            (_, 1) => PixelKind::Bilevel,
            _ => PixelKind::Gray,
        }
    };
    Ok(Raster {
        width: width as u32,
        height: lines as u32,
        kind,
        dpi,
        data,
    })
}

/// An option's constraint in words for `folio devices`: "1..1200 step 1" or
/// the allowed values.
fn constraint(o: &Opt) -> Vec<String> {
    match &o.allowed {
        Allowed::Range { min, max, quant } => vec![format!(
            "{}..{} step {}",
            o.number(*min),
            o.number(*max),
            o.number(*quant)
        )],
        Allowed::Words(w) => w.iter().map(|v| o.number(*v)).collect(),
        Allowed::Strings(s) => s.clone(),
        Allowed::Any => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(
        format: c_int,
        depth: c_int,
        width: c_int,
        bpl: c_int,
        lines: c_int,
    ) -> ffi::Parameters {
        ffi::Parameters {
            format,
            last_frame: 0,
            bytes_per_line: bpl,
            pixels_per_line: width,
            lines,
            depth,
        }
    }

    #[test]
    fn three_pass_frames_that_disagree_are_an_error_not_a_panic() {
        let red = params(ffi::FRAME_RED, 8, 10, 10, 2);
        let green16 = params(ffi::FRAME_GREEN, 16, 10, 20, 2);
        let blue_short = params(ffi::FRAME_BLUE, 8, 10, 5, 4);
        let frames = vec![
            (red, vec![7u8; 20]),
            (green16, vec![7u8; 40]),
            (blue_short, vec![7u8; 20]),
        ];
        let err = assemble(&frames, 300).expect_err("frames of different depths");
        assert!(matches!(err, CaptureError::Other(_)), "{err:?}");
    }

    fn refused(p: ffi::Parameters, words: &str) {
        match Frame::check(&p) {
            Ok(f) => panic!("{p:?} accepted as {f:?}"),
            Err(e) => {
                let text = e.to_string();
                assert!(text.contains(words), "{p:?}: {text}");
                assert!(
                    text.contains("then resume") || text.contains("scan in grey"),
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn parameters_are_checked_before_anything_is_allocated() {
        // Huge sizes: a reservation of lines x bytes per line would abort.
        refused(
            params(ffi::FRAME_GRAY, 8, 1000, 1000, i32::MAX),
            "lines of 1000 bytes",
        );
        refused(
            params(ffi::FRAME_RGB, 8, 1 << 20, 3 << 20, 10),
            "pixels per line",
        );
        refused(
            params(ffi::FRAME_GRAY, 8, 100, i32::MAX, 10),
            "bytes per line",
        );
        // Lines shorter than their pixels.
        refused(
            params(ffi::FRAME_GRAY, 8, 100, 99, 10),
            "99 bytes per line for 100 pixels",
        );
        refused(params(ffi::FRAME_GRAY, 16, 100, 100, 10), "(at least 200)");
        refused(params(ffi::FRAME_GRAY, 1, 100, 12, 10), "(at least 13)");
        refused(params(ffi::FRAME_RGB, 8, 100, 299, 10), "(at least 300)");
        refused(params(ffi::FRAME_RGB, 16, 100, 599, 10), "(at least 600)");
        // Nonsense values.
        refused(params(ffi::FRAME_GRAY, 8, 0, 0, 10), "0 pixels per line");
        refused(params(ffi::FRAME_GRAY, 8, -5, 10, 10), "-5 pixels per line");
        refused(params(ffi::FRAME_GRAY, 8, 10, -1, 10), "-1 bytes per line");
        refused(
            params(ffi::FRAME_GRAY, 12, 10, 20, 10),
            "12 bits per sample",
        );
        refused(params(ffi::FRAME_GRAY, 0, 10, 20, 10), "0 bits per sample");
        refused(params(9, 8, 10, 10, 10), "unknown frame format (9)");
        refused(params(ffi::FRAME_RGB, 1, 10, 10, 10), "1-bit colour");

        // Padding is fine, and so are hand scanners' unknown heights.
        let f = Frame::check(&params(ffi::FRAME_GRAY, 1, 100, 16, -1)).unwrap();
        assert_eq!((f.width, f.bpl, f.lines, f.channels), (100, 16, None, 1));
        let f = Frame::check(&params(ffi::FRAME_RGB, 16, 100, 640, 50)).unwrap();
        assert_eq!(
            (f.bpl, f.lines, f.channels, f.last),
            (640, Some(50), 3, true)
        );
    }

    #[test]
    fn colour_frames_must_agree_and_come_once_each() {
        let red = Frame::check(&params(ffi::FRAME_RED, 8, 10, 10, 2)).unwrap();
        let green = Frame::check(&params(ffi::FRAME_GREEN, 8, 10, 10, 2)).unwrap();
        assert!(green.follows(&red, &[red]).is_ok());
        let again = Frame::check(&params(ffi::FRAME_RED, 8, 10, 10, 2)).unwrap();
        assert!(again.follows(&red, &[red, green]).is_err());
        for other in [
            params(ffi::FRAME_GREEN, 16, 10, 20, 2),
            params(ffi::FRAME_GREEN, 8, 11, 11, 2),
            params(ffi::FRAME_GREEN, 8, 10, 12, 2),
            params(ffi::FRAME_GRAY, 8, 10, 10, 2),
        ] {
            let f = Frame::check(&other).unwrap();
            let e = f.follows(&red, &[red]).expect_err("disagrees");
            assert!(e.to_string().contains("then resume"), "{e}");
        }
        // Two colour frames are no page; three are, with lines of padding.
        let two = vec![
            (params(ffi::FRAME_RED, 8, 2, 4, 1), vec![1, 2, 0, 0]),
            (params(ffi::FRAME_GREEN, 8, 2, 4, 1), vec![3, 4, 0, 0]),
        ];
        assert!(assemble(&two, 300).is_err());
        let mut three = two;
        three.push((params(ffi::FRAME_BLUE, 8, 2, 4, 1), vec![5, 6, 0, 0]));
        let r = assemble(&three, 300).unwrap();
        assert_eq!((r.width, r.height, r.kind), (2, 1, PixelKind::Color));
        assert_eq!(r.data, vec![1, 3, 5, 2, 4, 6]);
    }

    #[test]
    fn one_and_sixteen_bit_lines_with_padding_become_eight_bit_samples() {
        let bw = Frame::check(&params(ffi::FRAME_GRAY, 1, 10, 4, 1)).unwrap();
        let row = [0b1010_0000, 0b0100_0000, 0xff, 0xff];
        let s: Vec<u8> = bw.samples(&row).collect();
        assert_eq!(s, vec![0, 255, 0, 255, 255, 255, 255, 255, 255, 0]);
        let deep = Frame::check(&params(ffi::FRAME_GRAY, 16, 2, 6, 1)).unwrap();
        let row: Vec<u8> = [0x1234u16, 0xfedc]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .chain([9, 9])
            .collect();
        assert_eq!(deep.samples(&row).collect::<Vec<u8>>(), vec![0x12, 0xfe]);
        // Bands carry the same samples, line by line.
        let mut got = Vec::new();
        let rows: Vec<u8> = row.iter().chain(row.iter()).copied().collect();
        band(&deep, 0, &rows, Some(2), &mut |b: Band<'_>| {
            assert_eq!((b.width, b.channels, b.total_lines), (2, 1, Some(2)));
            got.extend_from_slice(b.data);
        });
        assert_eq!(got, vec![0x12, 0xfe, 0x12, 0xfe]);
    }

    fn opt(value_type: c_int, allowed: Allowed) -> Opt {
        Opt {
            index: 1,
            name: "x".into(),
            title: String::new(),
            unit: 0,
            value_type,
            size: 4,
            cap: ffi::CAP_SOFT_SELECT,
            allowed,
        }
    }

    #[test]
    fn constraints_from_a_backend_are_checked_without_trusting_them() {
        // A range upside down allows nothing (and does not panic).
        let upside_down = Allowed::Range {
            min: 10,
            max: 2,
            quant: 0,
        };
        assert_eq!(opt(ffi::TYPE_INT, upside_down.clone()).check_word(5), None);
        assert_eq!(opt(ffi::TYPE_FIXED, upside_down).check_word(5), None);
        // Steps of whole numbers are exact; fixed values keep to the list's
        // words within a rounding.
        let steps = opt(
            ffi::TYPE_INT,
            Allowed::Range {
                min: 4,
                max: 192,
                quant: 2,
            },
        );
        assert_eq!(steps.check_word(6), Some(6));
        assert_eq!(steps.check_word(7), None);
        assert_eq!(steps.allowed_text(), "4..192 in steps of 2");
        let listed = opt(ffi::TYPE_FIXED, Allowed::Words(vec![792985, 2752512]));
        assert_eq!(listed.check_word(ffi::f64_to_fixed(12.1)), Some(792985));
        assert_eq!(listed.check_word(ffi::f64_to_fixed(12.2)), None);
        assert_eq!(listed.allowed_text(), "one of 12.1, 42");
        assert_eq!(fixed_text(-1), "0");
    }
}
