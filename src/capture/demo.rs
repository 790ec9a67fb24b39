//! The demo feeder, `folio:demo`: a scanner that needs no hardware. It feeds a
//! synthetic stack (typed pages, control sheets, ID labels, blank backs, skew,
//! noise) at a chosen speed, band by band, so anyone can try the whole station.

use super::{Band, CaptureError, PageSource, ScanSettings, SourceKind};
use crate::imaging::draw::TextPainter;
use crate::pixels::Raster;
use crate::synth::{self, SideKind, StackSpec, Truth};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Lines delivered per band.
const BAND_LINES: usize = 64;

/// Settings of the demo feeder, from `--option` pairs: `records`, `seed`,
/// `speed` (sides a minute; 0 = as fast as possible), `noise`, `skew`,
/// `fault-after` and `fault` (jammed, cover_open, io_error) to rehearse faults.
pub struct DemoFeeder {
    spec: StackSpec,
    sides: Vec<SideKind>,
    truth: Truth,
    next: usize,
    per_side: Duration,
    painter: TextPainter,
    fault_after: Option<usize>,
    fault: Option<CaptureError>,
    cancel: Arc<AtomicBool>,
}

impl DemoFeeder {
    /// A demo feeder configured from scan settings; `start_side` skips sides a
    /// previous run already delivered (resume).
    pub fn new(settings: &ScanSettings, start_side: usize) -> Result<DemoFeeder, CaptureError> {
        let mut spec = StackSpec {
            seed: 1,
            records: 5,
            dpi: settings.dpi.unwrap_or(200),
            duplex: settings.source != Some(SourceKind::Feeder),
            ..StackSpec::default()
        };
        let mut speed = 120.0f64;
        let (mut fault_after, mut fault) = (None, None);
        let bad = |k: &str, v: &str| {
            CaptureError::Unsupported(format!("demo feeder: '{v}' is not a valid value for '{k}'"))
        };
        for (k, v) in &settings.options {
            match k.as_str() {
                "records" => spec.records = v.parse().map_err(|_| bad(k, v))?,
                "seed" => spec.seed = v.parse().map_err(|_| bad(k, v))?,
                "speed" => speed = v.parse().map_err(|_| bad(k, v))?,
                "noise" => spec.noise_sigma = v.parse().map_err(|_| bad(k, v))?,
                "skew" => spec.max_skew_deg = v.parse().map_err(|_| bad(k, v))?,
                "target" => {
                    spec.target_first = match v.as_str() {
                        "yes" | "true" | "1" => true,
                        "no" | "false" | "0" => false,
                        _ => return Err(bad(k, v)),
                    }
                }
                "fault-after" => fault_after = Some(v.parse().map_err(|_| bad(k, v))?),
                "fault" => {
                    fault = Some(match v.as_str() {
                        "jammed" => CaptureError::Jammed { partial: true },
                        "cover_open" => CaptureError::CoverOpen { partial: true },
                        "io_error" => CaptureError::Io { partial: true },
                        _ => return Err(bad(k, v)),
                    })
                }
                other => {
                    return Err(CaptureError::Unsupported(format!(
                        "demo feeder has no option '{other}'"
                    )));
                }
            }
        }
        let (sides, truth) = synth::plan(&spec);
        Ok(DemoFeeder {
            spec,
            sides,
            truth,
            next: start_side,
            per_side: if speed > 0.0 {
                Duration::from_secs_f64(60.0 / speed)
            } else {
                Duration::ZERO
            },
            painter: TextPainter::new(),
            fault_after: fault_after.filter(|&n| n >= start_side),
            fault,
            cancel: Arc::new(AtomicBool::new(false)),
        })
    }

    /// What a correct station makes of this stack.
    pub fn truth(&self) -> &Truth {
        &self.truth
    }
}

impl PageSource for DemoFeeder {
    fn duplex(&self) -> bool {
        self.spec.duplex
    }

    fn set_cancel(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = flag;
    }

    fn next_side(
        &mut self,
        on_band: &mut dyn FnMut(Band<'_>),
    ) -> Result<Option<Raster>, CaptureError> {
        let Some(kind) = self.sides.get(self.next) else {
            return Ok(None);
        };
        let start = Instant::now();
        let raster = synth::render(
            kind,
            &self.spec,
            synth::side_seed(&self.spec, self.next as u32),
            &mut self.painter,
        );
        let stride = raster.width as usize;
        let bands = (raster.height as usize).div_ceil(BAND_LINES);
        for b in 0..bands {
            if self.cancel.load(Ordering::SeqCst) {
                return Err(CaptureError::Cancelled { partial: b > 0 });
            }
            if self.fault_after == Some(self.next) && b == bands / 2 {
                self.fault_after = None;
                return Err(self
                    .fault
                    .clone()
                    .unwrap_or(CaptureError::Jammed { partial: true }));
            }
            let (l0, l1) = (
                b * BAND_LINES,
                ((b + 1) * BAND_LINES).min(raster.height as usize),
            );
            on_band(Band {
                first_line: l0 as u32,
                width: raster.width,
                channels: 1,
                total_lines: Some(raster.height),
                data: &raster.data[l0 * stride..l1 * stride],
            });
            let due = self.per_side.mul_f64((b + 1) as f64 / bands as f64);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        self.next += 1;
        Ok(Some(raster))
    }
}
