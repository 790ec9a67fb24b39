//! Shared test harness: a station with its own data folder, the real `folio`
//! binary, and synthetic stacks with ground truth.
#![allow(dead_code)]

pub mod ceph;
pub mod fault_proxy;
pub mod fhir_server;
pub mod paper;
pub mod pdfa;

use folio::batch::manifest::Manifest;
use folio::pixels::Raster;
use folio::synth::{self, StackSpec, Truth, files};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tmpfs mounted for a test (full disks, read-only folders), unmounted on
/// drop. The tests run as root, as CI does.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, opts: &str) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let s = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(dir)
            .status()
            .expect("mount (the tests run as root, as CI does)");
        assert!(s.success(), "mount {opts}");
        Tmpfs(dir.to_path_buf())
    }

    pub fn remount(&self, opts: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,{opts}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success(), "remount {opts}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A station: a temporary data folder and the `folio` binary.
pub struct Station {
    pub dir: tempfile::TempDir,
}

impl Station {
    /// A station whose SANE sees only the `test` and `pnm` backends.
    pub fn new() -> Station {
        let dir = tempfile::tempdir().expect("tempdir");
        let sane = dir.path().join("sane.d");
        std::fs::create_dir_all(&sane).unwrap();
        std::fs::write(sane.join("dll.conf"), "test\npnm\n").unwrap();
        Station { dir }
    }

    pub fn sane_dir(&self) -> PathBuf {
        self.dir.path().join("sane.d")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A `folio` command bound to this station.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_folio"));
        c.env("FOLIO_DATA_DIR", self.data_dir())
            .env("FOLIO_OPERATOR", "tester")
            .env("FOLIO_STATION", "test-station")
            .env("SANE_CONFIG_DIR", self.sane_dir())
            .env_remove("FOLIO_LOG");
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("run folio")
    }

    /// Runs and requires success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "folio {args:?} failed ({:?}):\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `folio import --json`, returning the report.
    pub fn import(&self, extra: &[&str], paths: &[&Path]) -> serde_json::Value {
        let mut args: Vec<String> = vec!["import".into(), "--json".into()];
        args.extend(extra.iter().map(|s| s.to_string()));
        args.extend(paths.iter().map(|p| p.display().to_string()));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        serde_json::from_str(&self.ok(&refs)).expect("import json")
    }

    /// Runs a command that prints JSON on success.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("json output")
    }

    /// Exports a batch and returns the manifest and the folder.
    pub fn export(&self, batch: &str) -> (Manifest, PathBuf) {
        let to = self.dir.path().join(format!("export-{batch}"));
        self.ok(&["export", batch, "--to", to.to_str().unwrap()]);
        let m = std::fs::read(to.join("manifest.json")).expect("manifest");
        (serde_json::from_slice(&m).expect("manifest parses"), to)
    }
}

/// A station whose `config.toml` holds `config`, with `spec`'s stack
/// rendered and imported as one batch (not approved); the batch id.
pub fn imported_station(config: &str, spec: &StackSpec) -> (Station, String) {
    let st = Station::new();
    std::fs::create_dir_all(st.data_dir()).unwrap();
    std::fs::write(st.data_dir().join("config.toml"), config).unwrap();
    let stack = st.dir.path().join("stack");
    write_stack(spec, &stack, "pgm");
    let id = st.import(&[], &[&stack])["batch_id"]
        .as_str()
        .unwrap()
        .to_string();
    (st, id)
}

/// The batch's state in the upload queue (`folio upload --list`), or "".
pub fn outbox_state(st: &Station, batch: &str) -> String {
    st.json(&["upload", "--list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["batch_id"] == batch)
        .map(|r| r["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The batch as `folio batches --json` lists it.
pub fn batch_listed(st: &Station, batch: &str) -> serde_json::Value {
    st.json(&["batches", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["id"] == batch)
        .unwrap()
        .clone()
}

/// Approves a batch with its open flags accepted (generated stacks carry some).
pub fn approve_as_is(st: &Station, batch: &str) {
    st.ok(&["approve", batch, "--accept-flags", "--reason", "test stack"]);
}

/// A side holding one QR code of `payload` (any bytes) and nothing else.
pub fn qr_side(payload: &[u8], dpi: u32) -> Raster {
    let mm = dpi as f32 / 25.4;
    let mut r = Raster::filled((210.0 * mm) as u32, (297.0 * mm) as u32, dpi, 250);
    let code = qrcode::QrCode::with_error_correction_level(payload, qrcode::EcLevel::L)
        .expect("payload fits a QR code");
    let n = code.width();
    let module = ((150.0 * mm) as usize / (n + 8)).clamp(3, 8);
    let (x0, y0) = ((20.0 * mm) as usize, (30.0 * mm) as usize);
    for (i, c) in code.to_colors().iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % n, i / n);
            for y in 0..module {
                let row = (y0 + my * module + y) * r.width as usize;
                let from = row + x0 + mx * module;
                r.data[from..from + module].fill(10);
            }
        }
    }
    r
}

/// Renders a stack's sides into `dir` as files of `format` ("pgm", "png",
/// "tiff" for one multi-page file, or "mixed").
pub fn write_stack(spec: &StackSpec, dir: &Path, format: &str) -> Truth {
    let (sides, truth) = synth::plan(spec);
    std::fs::create_dir_all(dir).unwrap();
    let rasters = files::render_stack(spec, &sides);
    if format == "tiff" {
        files::write_tiff(&dir.join("stack.tif"), &rasters).unwrap();
    } else {
        for (i, r) in rasters.iter().enumerate() {
            let fmt = if format == "mixed" {
                ["png", "pgm", "tiff", "pgm"][i % 4]
            } else {
                format
            };
            write_page(&dir.join(format!("side-{i:04}")), r, fmt);
        }
    }
    truth
}

/// Writes one page; returns the path (extension added).
pub fn write_page(stem: &Path, r: &Raster, fmt: &str) -> PathBuf {
    files::write_page(stem, r, fmt).unwrap()
}

/// Compares a manifest with the truth, field by field; panics with the difference.
pub fn assert_matches_truth(m: &Manifest, t: &Truth) {
    assert_eq!(m.format, "folio.manifest/2");
    assert_eq!(m.batch.sides_scanned, t.sides, "sides scanned");
    // Every document says where it comes from.
    for d in m.records.iter().flat_map(|r| &r.documents) {
        let p = d.provenance.as_ref().expect("a document's provenance");
        assert_eq!((p.pages, &p.sha256), (d.pdf.pages, &d.pdf.sha256));
        assert_eq!(p.station, m.batch.station);
        assert!(!p.sessions.is_empty(), "the session of document {}", d.id);
        assert!(!p.captured_from.is_empty() && p.captured_from <= p.captured_to);
    }
    let removed: BTreeSet<(u32, String)> = m
        .removed
        .iter()
        .map(|r| (r.side, r.reason.clone()))
        .collect();
    let want: BTreeSet<(u32, String)> = t.removed.iter().cloned().collect();
    assert_eq!(removed, want, "removed sides (got vs truth)");
    assert_eq!(m.records.len(), t.records.len(), "record count");
    for (i, (got, want)) in m.records.iter().zip(&t.records).enumerate() {
        assert_eq!(
            got.patient.nhs_number, want.nhs_number,
            "record {i} NHS number"
        );
        assert_eq!(
            got.patient.hospital_number, want.hospital_number,
            "record {i} hospital number"
        );
        assert_eq!(got.specialty, want.specialty, "record {i} specialty");
        assert!(
            got.flags.is_empty(),
            "record {i} has unexpected flags {:?}",
            got.flags
        );
        assert_eq!(
            got.documents.len(),
            want.documents.len(),
            "record {i} document count"
        );
        for (j, (gd, wd)) in got.documents.iter().zip(&want.documents).enumerate() {
            assert_eq!(gd.doc_type, wd.doc_type, "record {i} document {j} type");
            let sides: Vec<u32> = gd.pages.iter().map(|p| p.side).collect();
            assert_eq!(sides, wd.sides, "record {i} document {j} pages");
            assert_eq!(gd.pdf.pages as usize, wd.sides.len());
            let flags: BTreeSet<(u32, String)> = gd
                .pages
                .iter()
                .flat_map(|p| p.flags.iter().map(move |f| (p.side, f.code.clone())))
                .collect();
            let want_flags: BTreeSet<(u32, String)> = wd.page_flags.iter().cloned().collect();
            assert_eq!(flags, want_flags, "record {i} document {j} page flags");
        }
    }
}

/// Checks every PDF of an export: hash and size as the manifest says, `qpdf
/// --check` passes, and `pdftoppm` renders its first page.
pub fn assert_pdfs_valid(m: &Manifest, dir: &Path) {
    for d in m.records.iter().flat_map(|r| &r.documents) {
        let path = dir.join(&d.pdf.path);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, d.pdf.bytes, "{} size", d.pdf.path);
        assert_eq!(
            folio::store::sha256_hex(&bytes),
            d.pdf.sha256,
            "{} hash",
            d.pdf.path
        );
        let q = Command::new("qpdf")
            .arg("--check")
            .arg(&path)
            .output()
            .expect("qpdf installed");
        assert!(
            q.status.success(),
            "qpdf --check {}: {}",
            path.display(),
            String::from_utf8_lossy(&q.stdout)
        );
        let out = dir.join("render");
        let p = Command::new("pdftoppm")
            .args(["-r", "20", "-f", "1", "-l", "1", "-png"])
            .arg(&path)
            .arg(&out)
            .output()
            .expect("pdftoppm installed");
        assert!(p.status.success(), "pdftoppm {}", path.display());
        assert!(
            String::from_utf8_lossy(&p.stderr).trim().is_empty(),
            "pdftoppm complained: {}",
            String::from_utf8_lossy(&p.stderr)
        );
    }
}
