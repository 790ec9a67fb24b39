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
use crate::imaging::{PixelKind, Raster};
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
        while !list.is_null() {
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
        Ok(out)
    }

    /// Opens a device by name.
    pub fn open(&self, name: &str) -> Result<SaneScanner<'_>, CaptureError> {
        let c = CString::new(name).map_err(|_| CaptureError::NoSuchDevice(name.to_string()))?;
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
            ffi::STATUS_INVAL | ffi::STATUS_GOOD => {
                Err(CaptureError::NoSuchDevice(name.to_string()))
            }
            ffi::STATUS_ACCESS_DENIED => Err(CaptureError::Other(format!(
                "access to {name} was denied: add this user to the 'scanner' group"
            ))),
            other => Err(CaptureError::Other(format!(
                "cannot open {name}: {}",
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

struct Opt {
    index: c_int,
    value_type: c_int,
    size: c_int,
    cap: c_int,
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

    fn find(&self, name: &str) -> Option<Opt> {
        (1..1000)
            .map_while(|i| self.descriptor(i).map(|d| (i, d)))
            .find_map(|(i, d)| {
                (cstr(d.name) == name).then_some(Opt {
                    index: i,
                    value_type: d.value_type,
                    size: d.size,
                    cap: d.cap,
                })
            })
    }

    /// Every option with its constraint and current value.
    pub fn options(&self) -> Vec<OptionInfo> {
        let mut out = Vec::new();
        let mut i = 1;
        while let Some(d) = self.descriptor(i) {
            if d.value_type != ffi::TYPE_GROUP && !d.name.is_null() && !cstr(d.name).is_empty() {
                let active = d.cap & ffi::CAP_INACTIVE == 0;
                out.push(OptionInfo {
                    name: cstr(d.name),
                    title: cstr(d.title),
                    kind: ["bool", "int", "fixed", "string", "button", "group"]
                        .get(d.value_type as usize)
                        .unwrap_or(&"?")
                        .to_string(),
                    unit: ["", "pixel", "bit", "mm", "dpi", "%", "us"]
                        .get(d.unit as usize)
                        .unwrap_or(&"")
                        .to_string(),
                    allowed: constraint(d),
                    value: if active {
                        self.get(&Opt {
                            index: i,
                            value_type: d.value_type,
                            size: d.size,
                            cap: d.cap,
                        })
                    } else {
                        None
                    },
                    active,
                });
            }
            i += 1;
        }
        out
    }

    fn get(&self, o: &Opt) -> Option<String> {
        if matches!(o.value_type, ffi::TYPE_BUTTON | ffi::TYPE_GROUP) {
            return None;
        }
        let mut buf = vec![0u8; (o.size.max(4) as usize) + 1];
        // SAFETY: buffer holds `size` bytes as SANE requires.
        let st = unsafe {
            ffi::sane_control_option(
                self.handle,
                o.index,
                ffi::ACTION_GET_VALUE,
                buf.as_mut_ptr().cast::<c_void>(),
                std::ptr::null_mut(),
            )
        };
        if st != ffi::STATUS_GOOD {
            return None;
        }
        let word = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
        Some(match o.value_type {
            ffi::TYPE_BOOL => (word != 0).to_string(),
            ffi::TYPE_INT => word.to_string(),
            ffi::TYPE_FIXED => format!("{}", ffi::fixed_to_f64(word)),
            _ => cstr(buf.as_ptr().cast()),
        })
    }

    /// Sets an option from text ("300", "yes", "Automatic Document Feeder").
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), CaptureError> {
        let o = self.find(name).ok_or_else(|| {
            CaptureError::Unsupported(format!("{} has no option '{name}'", self.name))
        })?;
        if o.cap & ffi::CAP_SOFT_SELECT == 0 {
            return Err(CaptureError::Unsupported(format!(
                "option '{name}' of {} cannot be set",
                self.name
            )));
        }
        let bad = || {
            CaptureError::Unsupported(format!(
                "'{value}' is not a valid value for option '{name}' of {}",
                self.name
            ))
        };
        let mut buf: Vec<u8> = match o.value_type {
            ffi::TYPE_BOOL => {
                let b = matches!(value, "yes" | "true" | "1" | "on");
                (b as i32).to_ne_bytes().to_vec()
            }
            ffi::TYPE_INT => value
                .parse::<i32>()
                .map_err(|_| bad())?
                .to_ne_bytes()
                .to_vec(),
            ffi::TYPE_FIXED => ffi::f64_to_fixed(value.parse::<f64>().map_err(|_| bad())?)
                .to_ne_bytes()
                .to_vec(),
            ffi::TYPE_STRING => {
                let mut b = value.as_bytes().to_vec();
                b.resize((o.size.max(1) as usize).max(b.len() + 1), 0);
                b
            }
            _ => return Err(bad()),
        };
        let mut info = 0;
        // SAFETY: buffer is at least the option's size.
        let st = unsafe {
            ffi::sane_control_option(
                self.handle,
                o.index,
                ffi::ACTION_SET_VALUE,
                buf.as_mut_ptr().cast::<c_void>(),
                &mut info,
            )
        };
        match st {
            ffi::STATUS_GOOD => Ok(()),
            ffi::STATUS_INVAL => Err(bad()),
            other => Err(CaptureError::Other(format!(
                "setting '{name}' failed: {}",
                status_text(other)
            ))),
        }
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
            for (opt, v) in [("tl-x", 0.0), ("tl-y", 0.0), ("br-x", w), ("br-y", h)] {
                if self.find(opt).is_some() {
                    self.set(opt, &format!("{v}"))
                        .or_else(|_| self.set(opt, &format!("{}", v.round() as i64)))?;
                }
            }
        }
        for (opt, v) in [("brightness", s.brightness), ("contrast", s.contrast)] {
            if let Some(v) = v {
                self.set(opt, &format!("{v}"))
                    .or_else(|_| self.set(opt, &format!("{}", v.round() as i64)))?;
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
        p: &ffi::Parameters,
        frame: &mut Vec<u8>,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<(), CaptureError> {
        let bpl = p.bytes_per_line.max(1) as usize;
        let channels = if p.format == ffi::FRAME_RGB { 3 } else { 1 };
        let total_lines = (p.lines > 0).then_some(p.lines as u32);
        if let Some(l) = total_lines {
            frame.reserve(l as usize * bpl);
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
            // SAFETY: chunk has chunk.len() writable bytes.
            let st = unsafe {
                ffi::sane_read(
                    self.handle,
                    chunk.as_mut_ptr(),
                    chunk.len() as c_int,
                    &mut len,
                )
            };
            match st {
                ffi::STATUS_GOOD => frame.extend_from_slice(&chunk[..len.max(0) as usize]),
                ffi::STATUS_EOF => break,
                other => return Err(self.fault(other, true)),
            }
            let whole = frame.len() / bpl;
            if whole >= reported + 32
                || (total_lines.is_some_and(|t| whole as u32 >= t) && whole > reported)
            {
                on_band(Band {
                    first_line: reported as u32,
                    width: p.pixels_per_line.max(0) as u32,
                    channels,
                    total_lines,
                    data: &frame[reported * bpl..whole * bpl],
                });
                reported = whole;
            }
        }
        let whole = frame.len() / bpl;
        if whole > reported {
            on_band(Band {
                first_line: reported as u32,
                width: p.pixels_per_line.max(0) as u32,
                channels,
                total_lines,
                data: &frame[reported * bpl..whole * bpl],
            });
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
            let p = self.parameters()?;
            let mut data = Vec::new();
            if let Err(e) = self.read_frame(&p, &mut data, on_band) {
                self.end_batch();
                return Err(e);
            }
            let last = p.last_frame != 0
                || !matches!(
                    p.format,
                    ffi::FRAME_RED | ffi::FRAME_GREEN | ffi::FRAME_BLUE
                );
            frames.push((p, data));
            if last {
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

/// Turns SANE frames into a raster: grey (8 or 16 bit), line art (1 bit, 1 =
/// black), RGB, or three single-colour frames.
fn assemble(frames: &[(ffi::Parameters, Vec<u8>)], dpi: u32) -> Result<Raster, CaptureError> {
    let Some((p0, _)) = frames.first() else {
        return Err(CaptureError::Other("the scanner sent no image".into()));
    };
    let width = p0.pixels_per_line.max(0) as usize;
    let bpl = p0.bytes_per_line.max(1) as usize;
    let lines = frames[0].1.len() / bpl;
    let sample = |data: &[u8], line: usize, i: usize, depth: c_int| -> u8 {
        let row = &data[line * bpl..(line + 1) * bpl];
        match depth {
            1 => {
                if (row[i / 8] >> (7 - i % 8)) & 1 == 1 {
                    0
                } else {
                    255
                }
            }
            16 => u16::from_ne_bytes([row[2 * i], row[2 * i + 1]]).to_be_bytes()[0],
            _ => row[i],
        }
    };
    let too_short =
        || CaptureError::Other("the scanner sent fewer bytes per line than it announced".into());
    let (kind, data) = match p0.format {
        ffi::FRAME_GRAY => {
            let need = match p0.depth {
                1 => width.div_ceil(8),
                16 => width * 2,
                _ => width,
            };
            if bpl < need {
                return Err(too_short());
            }
            let mut out = Vec::with_capacity(width * lines);
            for l in 0..lines {
                out.extend((0..width).map(|x| sample(&frames[0].1, l, x, p0.depth)));
            }
            (
                if p0.depth == 1 {
                    PixelKind::Bilevel
                } else {
                    PixelKind::Gray
                },
                out,
            )
        }
        ffi::FRAME_RGB => {
            let per = if p0.depth == 16 { 2 } else { 1 };
            if p0.depth == 1 || bpl < width * 3 * per {
                return Err(CaptureError::Unsupported(
                    "1-bit colour scans are not supported: scan in grey or colour".into(),
                ));
            }
            let mut out = Vec::with_capacity(width * lines * 3);
            for l in 0..lines {
                out.extend((0..width * 3).map(|i| sample(&frames[0].1, l, i, p0.depth)));
            }
            (PixelKind::Color, out)
        }
        _ => {
            let mut out = vec![0u8; width * lines * 3];
            for (p, data) in frames {
                let c = match p.format {
                    ffi::FRAME_RED => 0,
                    ffi::FRAME_GREEN => 1,
                    ffi::FRAME_BLUE => 2,
                    _ => continue,
                };
                let l_here = data.len() / bpl;
                for l in 0..lines.min(l_here) {
                    for x in 0..width {
                        out[(l * width + x) * 3 + c] = sample(data, l, x, p.depth);
                    }
                }
            }
            (PixelKind::Color, out)
        }
    };
    if lines == 0 || width == 0 {
        return Err(CaptureError::Other("the scanner sent an empty page".into()));
    }
    Ok(Raster {
        width: width as u32,
        height: lines as u32,
        kind,
        dpi,
        data,
    })
}

/// An option's constraint in words: "1..1200 step 1" or the allowed values.
fn constraint(d: &ffi::OptionDescriptor) -> Vec<String> {
    let fmt = |v: c_int| {
        if d.value_type == ffi::TYPE_FIXED {
            format!("{}", ffi::fixed_to_f64(v))
        } else {
            v.to_string()
        }
    };
    // SAFETY: the union member read matches constraint_type, as SANE defines;
    // lists are terminated (strings by NULL, words by their leading count).
    unsafe {
        match d.constraint_type {
            ffi::CONSTRAINT_RANGE if !d.constraint.range.is_null() => {
                let r = &*d.constraint.range;
                vec![format!(
                    "{}..{} step {}",
                    fmt(r.min),
                    fmt(r.max),
                    fmt(r.quant.max(0))
                )]
            }
            ffi::CONSTRAINT_WORD_LIST if !d.constraint.word_list.is_null() => {
                let list = d.constraint.word_list;
                let n = (*list).max(0) as usize;
                (1..=n).map(|i| fmt(*list.add(i))).collect()
            }
            ffi::CONSTRAINT_STRING_LIST if !d.constraint.string_list.is_null() => {
                let mut out = Vec::new();
                let mut p = d.constraint.string_list;
                while !(*p).is_null() {
                    out.push(cstr(*p));
                    p = p.add(1);
                }
                out
            }
            _ => Vec::new(),
        }
    }
}
