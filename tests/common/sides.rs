//! What `folio show --json` says about each side of a batch, and plain test
//! pages (an even grey level with sensor noise). Included with `#[path]` by
//! the tests that need it, so the shared harness stays as it is.
#![allow(dead_code)]

use folio::pixels::Raster;
use serde_json::Value;
use std::collections::BTreeMap;

/// Every side of a batch as `folio show --json` reports it.
#[derive(Debug, Default)]
pub struct Sides {
    /// Sides kept as document pages, with their flags: (code, detail).
    pub pages: BTreeMap<u32, Vec<(String, String)>>,
    /// Sides taken out of the output, with the reason.
    pub removed: BTreeMap<u32, String>,
    /// Record-level flags: (side, code, detail).
    pub record_flags: Vec<(Option<u32>, String, String)>,
}

impl Sides {
    /// Reads a `folio show --json` tree.
    pub fn of(show: &Value) -> Sides {
        let mut out = Sides::default();
        for rec in show["records"].as_array().into_iter().flatten() {
            for f in rec["flags"].as_array().into_iter().flatten() {
                out.record_flags.push((
                    f["side"].as_u64().map(|s| s as u32),
                    f["code"].as_str().unwrap_or_default().to_string(),
                    f["detail"].as_str().unwrap_or_default().to_string(),
                ));
            }
            for doc in rec["documents"].as_array().into_iter().flatten() {
                for p in doc["pages"].as_array().into_iter().flatten() {
                    let codes = p["flags"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|f| {
                            (
                                f["code"].as_str().unwrap_or_default().to_string(),
                                f["detail"].as_str().unwrap_or_default().to_string(),
                            )
                        })
                        .collect();
                    out.pages.insert(p["side"].as_u64().unwrap() as u32, codes);
                }
            }
        }
        for r in show["removed"].as_array().into_iter().flatten() {
            out.removed.insert(
                r["side"].as_u64().unwrap() as u32,
                r["reason"].as_str().unwrap_or_default().to_string(),
            );
        }
        out
    }

    /// Record-level flags about `side`: (code, detail).
    pub fn side_flags(&self, side: u32) -> Vec<(&str, &str)> {
        self.record_flags
            .iter()
            .filter(|(s, _, _)| *s == Some(side))
            .map(|(_, c, d)| (c.as_str(), d.as_str()))
            .collect()
    }

    /// Every flag about `side`, on the page or on its record: (code, detail).
    pub fn flags(&self, side: u32) -> Vec<(String, String)> {
        let mut flags: Vec<(String, String)> = self.pages.get(&side).cloned().unwrap_or_default();
        flags.extend(
            self.side_flags(side)
                .iter()
                .map(|(c, d)| (c.to_string(), d.to_string())),
        );
        flags
    }

    /// Every flag code about `side`, on the page or on its record.
    pub fn codes(&self, side: u32) -> Vec<String> {
        self.flags(side).into_iter().map(|(c, _)| c).collect()
    }

    /// Whether the side is accounted for: a page, a removed side or a
    /// record-level flag naming it.
    pub fn accounted(&self, side: u32) -> bool {
        self.pages.contains_key(&side)
            || self.removed.contains_key(&side)
            || !self.side_flags(side).is_empty()
    }
}

/// An even grey page with Gaussian-ish sensor noise (sum of uniforms).
pub fn grey_page(width: u32, height: u32, dpi: u32, level: u8, sigma: f32, seed: u64) -> Raster {
    let mut r = Raster::filled(width, height, dpi, level);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    for v in r.data.iter_mut() {
        // Twelve uniforms minus six: roughly a standard normal.
        let n: f32 = (0..12).map(|_| next()).sum::<f32>() - 6.0;
        *v = (*v as f32 + n * sigma).round().clamp(0.0, 255.0) as u8;
    }
    r
}
