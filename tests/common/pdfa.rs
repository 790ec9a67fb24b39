//! PDF/A-1b validation of the PDFs the tests produce, by Apache PDFBox
//! Preflight (Debian `libpdfbox2-java`, installed by `installer/setup.sh
//! --tests`), many files to one JVM.

use std::path::{Path, PathBuf};
use std::process::Command;

const JARS: [&str; 7] = [
    "preflight",
    "pdfbox2",
    "fontbox2",
    "xmpbox",
    "commons-logging",
    "javax.activation",
    "jaxb-api",
];

/// Asserts every file is valid PDF/A-1b, naming each error of each that is
/// not.
pub fn assert_pdfa_1b<P: AsRef<Path>>(files: &[P]) {
    assert!(!files.is_empty(), "no PDF to validate");
    let cp: Vec<String> = JARS
        .iter()
        .map(|j| format!("/usr/share/java/{j}.jar"))
        .collect();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/common/PreflightAll.java");
    let out = Command::new("java")
        .args(["-cp", &cp.join(":")])
        .arg(source)
        .args(files.iter().map(AsRef::as_ref))
        .output()
        .expect("java runs (installer/setup.sh --tests installs it with PDFBox)");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "PDFBox Preflight (PDF/A-1b):\n{said}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said.lines().filter(|l| l.starts_with("valid ")).count(),
        files.len(),
        "{said}"
    );
}

/// Every `.pdf` file under `dir`, at any depth, sorted.
pub fn pdfs_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "pdf") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
