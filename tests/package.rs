//! The Debian package (issue 20, item 3): `installer/build-deb.sh --dev`
//! packages this build's binary with cargo-deb; apt-get installs it like any
//! package; the installed `folio` runs from the PATH (its version, a demo
//! scan into a fresh data folder) and the menu entry and icon are in place;
//! apt-get removes it and nothing of it is left. Runs as root, as CI does
//! (apt-get); it never touches a Folio package installed before it ran.

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn installed() -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", "folio"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

const FILES: [&str; 4] = [
    "/usr/bin/folio",
    "/usr/share/applications/folio.desktop",
    "/usr/share/icons/hicolor/scalable/apps/folio.svg",
    "/usr/share/folio/icc/sRGB-Folio-v2.icc",
];

#[test]
fn the_deb_installs_runs_and_removes_cleanly() {
    assert!(
        !installed(),
        "a folio package is installed on this machine: remove it (apt-get remove folio) before running this test"
    );
    let out = tempfile::tempdir().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    run(Command::new("bash")
        .arg(Path::new(root).join("installer/build-deb.sh"))
        .arg("--dev")
        .arg(out.path()));
    let debs: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    let name = debs[0].file_name().unwrap().to_string_lossy().into_owned();
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(name, format!("folio_{version}-1_amd64.deb"));
    let info = run(Command::new("dpkg-deb")
        .arg("--field")
        .arg(&debs[0])
        .arg("Depends"));
    for dep in [
        "libzbar0",
        "libsane1",
        "sane-utils",
        "tesseract-ocr-eng",
        "libegl1",
    ] {
        assert!(info.contains(dep), "Depends lacks {dep}: {info}");
    }

    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .arg(&debs[0])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    let used = std::panic::catch_unwind(|| {
        assert!(installed());
        for f in FILES {
            assert!(Path::new(f).exists(), "{f} is installed");
        }
        let v = run(Command::new("/usr/bin/folio").arg("--version"));
        assert_eq!(v.trim(), format!("folio {version}"));
        let data = tempfile::tempdir().unwrap();
        let scan = run(Command::new("folio")
            .args(["scan", "--device", "folio:demo", "--json"])
            .env("FOLIO_DATA_DIR", data.path())
            .env("FOLIO_OPERATOR", "it-check")
            .env("PATH", "/usr/bin:/bin"));
        let report: serde_json::Value = serde_json::from_str(&scan).unwrap();
        assert!(report["stored_now"].as_u64().unwrap() > 0, "{report}");
        let entry = std::fs::read_to_string(FILES[1]).unwrap();
        assert!(entry.contains("Exec=folio") && entry.contains("Icon=folio"));
    });
    run(Command::new("apt-get")
        .args(["remove", "-y", "-q", "folio"])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    if let Err(e) = used {
        std::panic::resume_unwind(e);
    }
    assert!(!installed(), "removed");
    for f in FILES {
        assert!(!Path::new(f).exists(), "{f} is gone");
    }
}
