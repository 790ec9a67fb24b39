//! The boundary with libsane: every option value handed over has the option's
//! declared size and is checked against its type and constraint first (issue
//! 14, case 3), against SANE's `test` backend; and a short scan under valgrind
//! reads no memory it should not.

use folio::batch::printable;
use folio::capture::CaptureError;
use folio::capture::sane::{Sane, SaneScanner};
use std::process::Command;
use std::sync::OnceLock;

/// libsane, seeing only the `test` backend. The environment is set once,
/// before any test of this binary calls into libsane or spawns a process
/// (every one comes here first); the folder lives as long as the process.
fn sane() -> Sane {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dll.conf"), "test\n").unwrap();
        // SAFETY: runs once, before this binary's tests read the environment.
        unsafe { std::env::set_var("SANE_CONFIG_DIR", dir.path()) };
        dir
    });
    Sane::init().expect("libsane starts (install it with `bash installer/setup.sh`)")
}

fn value(s: &SaneScanner<'_>, name: &str) -> String {
    s.options()
        .into_iter()
        .find(|o| o.name == name)
        .unwrap_or_else(|| panic!("option {name} listed"))
        .value
        .unwrap_or_else(|| panic!("option {name} has a value"))
}

fn close_to(text: &str, want: f64) -> bool {
    text.parse::<f64>().is_ok_and(|v| (v - want).abs() < 0.001)
}

#[test]
fn options_of_every_type_are_set_and_read_back() {
    let sane = sane();
    let mut s = sane.open("test:0").unwrap();
    s.set("enable-test-options", "yes").unwrap();
    assert_eq!(value(&s, "enable-test-options"), "true");

    // Strings: free text up to the declared size, and a list entry.
    s.set("string", "Folio was here").unwrap();
    assert_eq!(value(&s, "string"), "Folio was here");
    s.set("string-constraint-string-list", "Second entry")
        .unwrap();
    assert_eq!(value(&s, "string-constraint-string-list"), "Second entry");
    s.set("string-constraint-long-string-list", "46").unwrap();
    assert_eq!(value(&s, "string-constraint-long-string-list"), "46");
    // A list entry in other letter case is the entry.
    s.set("test-picture", "grid").unwrap();
    assert_eq!(value(&s, "test-picture"), "Grid");

    // Booleans, both ways.
    s.set("bool-soft-select-soft-detect", "yes").unwrap();
    assert_eq!(value(&s, "bool-soft-select-soft-detect"), "true");
    s.set("bool-soft-select-soft-detect", "no").unwrap();
    assert_eq!(value(&s, "bool-soft-select-soft-detect"), "false");

    // Integers: free, in a range, in a word list.
    s.set("int", "-123456").unwrap();
    assert_eq!(value(&s, "int"), "-123456");
    s.set("int-constraint-range", "6").unwrap();
    assert_eq!(value(&s, "int-constraint-range"), "6");
    s.set("int-constraint-word-list", "65536").unwrap();
    assert_eq!(value(&s, "int-constraint-word-list"), "65536");
    s.set("depth", "16").unwrap();
    assert_eq!(value(&s, "depth"), "16");

    // Fixed point: free, in a range, in a word list.
    s.set("fixed", "-3.25").unwrap();
    assert!(close_to(&value(&s, "fixed"), -3.25));
    s.set("fixed-constraint-range", "-40.17").unwrap();
    assert!(close_to(&value(&s, "fixed-constraint-range"), -40.17));
    s.set("fixed-constraint-word-list", "12.1").unwrap();
    assert!(close_to(&value(&s, "fixed-constraint-word-list"), 12.1));

    // Word arrays: every element at once, or one value for all of them.
    s.set("int-constraint-array", "1,-2,3,-4,5,-6").unwrap();
    assert_eq!(value(&s, "int-constraint-array"), "1,-2,3,-4,5,-6");
    s.set("int-constraint-array-constraint-range", "4,6,8,10,12,192")
        .unwrap();
    assert_eq!(
        value(&s, "int-constraint-array-constraint-range"),
        "4,6,8,10,12,192"
    );
    s.set("gamma-table", "128").unwrap();
    let gamma = value(&s, "gamma-table");
    let entries: Vec<&str> = gamma.split(',').collect();
    assert_eq!(entries.len(), 4096);
    assert!(entries.iter().all(|v| *v == "128"), "{}", &gamma[..80]);

    // An option that becomes active once another is set.
    s.set("mode", "Color").unwrap();
    s.set("three-pass", "yes").unwrap();
    assert_eq!(value(&s, "three-pass"), "true");
    s.set("three-pass-order", "BGR").unwrap();
    assert_eq!(value(&s, "three-pass-order"), "BGR");
}

fn refused(s: &mut SaneScanner<'_>, name: &str, v: &str) -> String {
    match s.set(name, v) {
        Ok(()) => panic!("{name}={v:?} was accepted"),
        Err(e) => {
            assert!(
                matches!(e, CaptureError::Unsupported(_)),
                "{name}={v:?}: {e:?}"
            );
            let text = e.to_string();
            assert!(
                text.contains(&format!("'{}'", printable(name, 100))),
                "names the option: {text}"
            );
            assert!(!text.chars().any(char::is_control), "escaped: {text:?}");
            text
        }
    }
}

#[test]
fn values_outside_the_type_or_constraint_are_refused_with_the_allowed_values() {
    let sane = sane();
    let mut s = sane.open("test:0").unwrap();
    // Inactive options say so (and what to do) rather than "invalid".
    let e = refused(&mut s, "string", "x");
    assert!(e.contains("inactive"), "{e}");
    s.set("enable-test-options", "yes").unwrap();
    let before: Vec<String> = ["int-constraint-range", "depth", "mode", "string"]
        .iter()
        .map(|n| value(&s, n))
        .collect();

    for (name, v, allowed) in [
        ("int-constraint-range", "500", "4..192 in steps of 2"),
        ("int-constraint-range", "5", "4..192 in steps of 2"),
        ("int-constraint-range", "2", "4..192 in steps of 2"),
        ("int-constraint-range", "six", "a whole number"),
        ("int-constraint-word-list", "43", "-42, -8, 0, 17, 42, 256"),
        ("depth", "12", "1, 8, 16"),
        (
            "fixed-constraint-range",
            "40000",
            "-42.17..32767.9999 in steps of 2",
        ),
        (
            "fixed-constraint-word-list",
            "12.2",
            "-32.7, 12.1, 42, 129.5",
        ),
        ("fixed", "1e12", "a number"),
        (
            "string-constraint-string-list",
            "Third",
            "First entry, Second entry",
        ),
        ("mode", "Lineart", "Gray, Color"),
        ("bool-soft-select-soft-detect", "maybe", "yes or no"),
        ("int-constraint-array", "1,2", "6 whole numbers"),
        (
            "int-constraint-array-constraint-range",
            "4,6,8,10,12,194",
            "4..192",
        ),
    ] {
        let e = refused(&mut s, name, v);
        assert!(e.contains(allowed), "{name}={v}: {e}");
        assert!(
            e.contains(&format!("'{v}'")),
            "{name}={v}: shows the value: {e}"
        );
    }
    // Text longer than the option holds is refused, not copied past its end.
    let long = "x".repeat(5000);
    let e = refused(&mut s, "string", &long);
    assert!(e.contains("characters at most"), "{e}");
    assert!(e.len() < 1000, "the value is cut in the message: {e}");
    // A value with control characters is shown escaped.
    let e = refused(&mut s, "string-constraint-string-list", "First\u{1b}[2J");
    assert!(e.contains("First\\u{1b}[2J"), "{e}");
    let e = refused(&mut s, "no-such-option\n", "1");
    assert!(e.contains("no-such-option\\n"), "{e}");
    // Read-only options and buttons are refused as such.
    let e = refused(&mut s, "bool-soft-detect", "yes");
    assert!(e.contains("cannot be set"), "{e}");
    // Nothing refused was changed.
    let after: Vec<String> = ["int-constraint-range", "depth", "mode", "string"]
        .iter()
        .map(|n| value(&s, n))
        .collect();
    assert_eq!(before, after);
}

/// valgrind's error lines ("==PID== Invalid read of size 4") in `stderr`.
fn memory_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.starts_with("==")
                && (l.contains("Invalid read")
                    || l.contains("Invalid write")
                    || l.contains("uninitialised")
                    || l.contains("Mismatched free"))
        })
        .collect()
}

#[test]
fn a_short_scan_setting_every_option_type_reads_no_invalid_memory_under_valgrind() {
    let _sane = sane(); // the environment, and no other scan of this binary meanwhile
    let valgrind = Command::new("valgrind").arg("--version").output();
    assert!(
        valgrind.is_ok_and(|o| o.status.success()),
        "valgrind is missing: run `bash installer/setup.sh`"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("valgrind")
        .args([
            "--error-exitcode=99",
            "--track-origins=no",
            "--trace-children=no",
        ])
        .arg(env!("CARGO_BIN_EXE_folio"))
        .args([
            "scan",
            "--json",
            "--device",
            "test:0",
            "--source",
            "flatbed",
            "--dpi",
            "50",
            "--option",
            "test-picture=Grid",
            "--option",
            "enable-test-options=yes",
            "--option",
            "string=Folio was here",
            "--option",
            "string-constraint-string-list=Second entry",
            "--option",
            "bool-soft-select-soft-detect=yes",
            "--option",
            "int-constraint-word-list=42",
            "--option",
            "fixed-constraint-range=-40.17",
            "--option",
            "int-constraint-array-constraint-range=4,6,8,10,12,14",
            "--option",
            "gamma-table=128",
        ])
        .env("FOLIO_DATA_DIR", dir.path().join("data"))
        .env("FOLIO_OPERATOR", "tester")
        .env("FOLIO_STATION", "test-station")
        .env_remove("FOLIO_LOG")
        .output()
        .expect("run folio under valgrind");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors = memory_errors(&stderr);
    assert!(errors.is_empty(), "valgrind found:\n{}", errors.join("\n"));
    assert!(
        stderr.contains("ERROR SUMMARY: 0 errors"),
        "valgrind ran and found nothing: {stderr}"
    );
    assert!(out.status.success(), "{stderr}");
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["sides"], 1, "{r}");
}
