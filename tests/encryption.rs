//! Folio's own encryption at rest (issue 22), through the real `folio`
//! binary, SQLCipher and the file system: canary patient strings and page
//! images are nowhere on disk once the station is encrypted (and are found
//! when it is not, so the search itself is shown to work); wrong secrets,
//! slots copied between operators, flipped bytes and swapped files are
//! refused; a changed passphrase and a new key leave the old secrets
//! useless; and `folio encrypt` killed at any moment leaves a usable store.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ADMIN: (&str, &str) = ("ann", "correct horse battery");
const CANARY_LABEL: &str = "CANARY Zebedee O'Hara";

fn folio(st: &Station, secret: Option<&str>) -> Command {
    let mut c = st.cmd();
    c.env_remove("FOLIO_PIN").env_remove("FOLIO_NEW_PIN");
    c.env_remove("FOLIO_TPM_TCTI");
    c.env("TMPDIR", tmp_dir(st));
    c.args(["--operator", ADMIN.0]);
    if let Some(s) = secret {
        c.env("FOLIO_PIN", s);
    }
    c
}

fn tmp_dir(st: &Station) -> PathBuf {
    let t = st.dir.path().join("tmp");
    std::fs::create_dir_all(&t).unwrap();
    t
}

fn run(mut c: Command, args: &[&str]) -> Output {
    c.args(args).output().expect("run folio")
}

fn ok(c: Command, args: &[&str]) -> String {
    let out = run(c, args);
    assert!(
        out.status.success(),
        "folio {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fails(c: Command, args: &[&str]) -> String {
    let out = run(c, args);
    assert!(!out.status.success(), "folio {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A station with an admin, a folder store outside the data folder, and one
/// imported batch of two records labelled with a canary name; the batch id.
fn station(st: &Station) -> String {
    std::fs::create_dir_all(st.data_dir()).unwrap();
    let store = st.dir.path().join("store");
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!(
            "[upload]\nfolder = {:?}\n[sampling]\nrequired = false\n",
            store.display().to_string()
        ),
    )
    .unwrap();
    let mut c = folio(st, None);
    c.env("FOLIO_NEW_PIN", ADMIN.1);
    ok(
        c,
        &["operators", "init", "--id", ADMIN.0, "--name", "Ann Admin"],
    );
    import(st, 11)
}

fn import(st: &Station, seed: u32) -> String {
    let stack = st.dir.path().join(format!("stack-{seed}"));
    let s = seed.to_string();
    ok(
        st.cmd(),
        &[
            "generate",
            "--out",
            stack.to_str().unwrap(),
            "--records",
            "2",
            "--seed",
            &s,
        ],
    );
    let pages = stack.join("pages");
    let out = ok(
        folio(st, Some(ADMIN.1)),
        &[
            "import",
            "--json",
            "--label",
            CANARY_LABEL,
            pages.to_str().unwrap(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    v["batch_id"].as_str().unwrap().to_string()
}

/// The canaries of a batch: its NHS numbers, the label, and the SHA-256 of
/// every page image stored (as hex, and a run of each image's own bytes).
struct Canaries {
    strings: Vec<String>,
    images: Vec<(String, Vec<u8>)>,
}

fn canaries(st: &Station, batch: &str) -> Canaries {
    let shown: serde_json::Value =
        serde_json::from_str(&ok(folio(st, Some(ADMIN.1)), &["show", batch, "--json"])).unwrap();
    let mut strings = vec![CANARY_LABEL.to_string()];
    let mut shas = Vec::new();
    for r in shown["records"].as_array().unwrap() {
        strings.push(r["nhs_number"].as_str().unwrap().to_string());
    }
    collect_shas(&shown, &mut shas);
    assert!(shas.len() >= 4, "{shas:?}");
    // The stored bytes of two pages, as the export writes them out.
    let images = shas.into_iter().map(|s| (s, Vec::new())).collect();
    Canaries { strings, images }
}

fn collect_shas(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match x.as_str() {
                    Some(s) if k == "sha256" && s.len() == 64 => out.push(s.to_string()),
                    _ => collect_shas(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_shas(x, out)),
        _ => {}
    }
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every place a canary is found under the data and temp folders: in a
/// file's content or its path.
fn hits(st: &Station, c: &Canaries) -> Vec<String> {
    let mut files = Vec::new();
    files_under(&st.data_dir(), &mut files);
    files_under(&tmp_dir(st), &mut files);
    let mut found = Vec::new();
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        let path = f.display().to_string();
        let mut needles: Vec<&[u8]> = c.strings.iter().map(|s| s.as_bytes()).collect();
        needles.extend(c.images.iter().map(|(s, _)| s.as_bytes()));
        needles.extend(
            c.images
                .iter()
                .filter(|(_, b)| b.len() >= 64)
                .map(|(_, b)| &b[b.len() / 2..b.len() / 2 + 64]),
        );
        for n in needles {
            if bytes.windows(n.len()).any(|w| w == n)
                || path.as_bytes().windows(n.len()).any(|w| w == n)
            {
                found.push(format!(
                    "{} in {path}",
                    String::from_utf8_lossy(&n[..n.len().min(20)])
                ));
            }
        }
        if bytes.starts_with(b"SQLite format 3") {
            found.push(format!("a plain SQLite database: {path}"));
        }
    }
    found
}

const SUPERVISOR: (&str, &str) = ("sue", "sue's long passphrase");

/// Ann adds an account (at an encrypted station, with its copy of the key).
fn add_operator(st: &Station, id: &str, secret: &str, role: &str) {
    let mut c = folio(st, Some(ADMIN.1));
    c.env("FOLIO_NEW_PIN", secret);
    ok(
        c,
        &["operators", "add", "--id", id, "--name", id, "--role", role],
    );
}

/// Adds a supervisor (at an encrypted station, with her copy of the key).
fn add_supervisor(st: &Station) {
    add_operator(st, SUPERVISOR.0, SUPERVISOR.1, "supervisor");
}

/// Approves the batch as the supervisor (four eyes).
fn approve(st: &Station, batch: &str) {
    let mut c = st.cmd();
    c.env("TMPDIR", tmp_dir(st)).env("FOLIO_PIN", SUPERVISOR.1);
    c.args(["--operator", SUPERVISOR.0]);
    ok(
        c,
        &["approve", batch, "--accept-flags", "--reason", "test stack"],
    );
}

/// Approves the batch and uploads it to the folder store; the PDFs delivered.
fn approve_and_upload(st: &Station, batch: &str) -> usize {
    approve(st, batch);
    ok(folio(st, Some(ADMIN.1)), &["upload"]);
    let mut delivered = Vec::new();
    files_under(&st.dir.path().join("store"), &mut delivered);
    delivered
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .count()
}

fn with_page_bytes(st: &Station, batch: &str, mut c: Canaries) -> Canaries {
    // The page images as stored, read back through an export (they are
    // decoded there from the cache, whatever the cache's encryption).
    let dir = st.dir.path().join(format!("export-{batch}"));
    ok(
        folio(st, Some(ADMIN.1)),
        &["export", batch, "--to", dir.to_str().unwrap()],
    );
    let mut pdfs = Vec::new();
    files_under(&dir, &mut pdfs);
    for (i, pdf) in pdfs
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .enumerate()
    {
        if let Some((_, b)) = c.images.get_mut(i) {
            *b = std::fs::read(pdf).unwrap();
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
    c
}

#[test]
fn canaries_are_nowhere_on_disk_once_encrypted_and_found_when_not() {
    // Without Folio's encryption, the search finds them: it can fail.
    let plain = Station::new();
    let batch = station(&plain);
    let c = with_page_bytes(&plain, &batch, canaries(&plain, &batch));
    add_supervisor(&plain);
    let delivered = approve_and_upload(&plain, &batch);
    assert!(delivered >= 2, "{delivered}");
    let found = hits(&plain, &c);
    assert!(found.iter().any(|h| h.contains("SQLite")), "{found:?}");
    assert!(found.len() > c.strings.len(), "{found:?}");

    // Encrypted: the data imported before and after, its PDFs, and the upload.
    let st = Station::new();
    let before = station(&st);
    let (_secret, public) = folio::store::keys::RecoverySecretKey::generate();
    let out = ok(
        folio(&st, Some(ADMIN.1)),
        &[
            "encrypt",
            "--no-tpm",
            "--recovery-public-key",
            &public.to_string(),
        ],
    );
    assert!(
        out.contains("encrypted under key") && out.contains("so does IT's recovery key"),
        "{out}"
    );
    let after = import(&st, 12);
    add_supervisor(&st);
    let mut c = canaries(&st, &before);
    let more = canaries(&st, &after);
    c.strings.extend(more.strings);
    c.images.extend(more.images);
    let mut c = with_page_bytes(&st, &before, c);
    assert_eq!(approve_and_upload(&st, &before), delivered);
    ok(folio(&st, Some(ADMIN.1)), &["check"]);
    let found = hits(&st, &c);
    assert!(found.is_empty(), "canaries on disk: {found:#?}");
    // The images are really there: each opens through the station's key.
    c.images.retain(|(_, b)| !b.is_empty());
    assert!(!c.images.is_empty());
    let status: serde_json::Value =
        serde_json::from_str(&ok(st.cmd(), &["keys", "status", "--json"])).unwrap();
    assert_eq!(status["encrypted"], true);
    assert_eq!(status["operators"], serde_json::json!(["ann", "sue"]));
    assert_eq!(status["recovery"], true);
    let said = ok(folio(&st, Some(ADMIN.1)), &["status"]);
    assert!(said.contains("station data: encrypted by Folio"), "{said}");
    // Locked without the passphrase, and in words.
    let e = fails(folio(&st, None), &["batches"]);
    assert!(e.contains("is encrypted and locked"), "{e}");
}

fn vault(st: &Station) -> PathBuf {
    std::fs::read_dir(st.data_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("vault-")
        })
        .unwrap()
}

#[test]
fn wrong_secrets_copied_slots_flipped_bytes_and_swapped_files_are_refused() {
    let st = Station::new();
    let batch = station(&st);
    // A PIN cannot hold the key: a passphrase is asked for, in words.
    add_operator(&st, "bob", "13579246", "operator");
    let recovery = st.dir.path().join("recovery.key");
    let public = ok(
        st.cmd(),
        &["keys", "recovery-pair", "--out", recovery.to_str().unwrap()],
    );
    let out = ok(
        folio(&st, Some(ADMIN.1)),
        &[
            "encrypt",
            "--no-tpm",
            "--recovery-public-key",
            public.trim(),
        ],
    );
    assert!(out.contains("encrypted"), "{out}");

    let e = fails(folio(&st, Some("correct horse battery!")), &["batches"]);
    assert!(e.contains("wrong PIN or passphrase for ann"), "{e}");
    let mut bob = st.cmd();
    bob.args(["--operator", "bob"]).env("FOLIO_PIN", "13579246");
    let e = fails(bob, &["batches"]);
    assert!(e.contains("holds no copy of this station's key yet"), "{e}");
    // IT gives Bob a passphrase with the recovery key; a PIN is refused.
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", "987654");
    let e = fails(
        c,
        &[
            "keys",
            "recover",
            "--recovery-key",
            recovery.to_str().unwrap(),
            "--for",
            "bob",
        ],
    );
    assert!(
        e.contains("use a passphrase of at least 12 characters"),
        "{e}"
    );
    let mut c = st.cmd();
    c.env("FOLIO_NEW_PIN", "bob's own long phrase");
    ok(
        c,
        &[
            "keys",
            "recover",
            "--recovery-key",
            recovery.to_str().unwrap(),
            "--for",
            "bob",
        ],
    );
    let mut bob = st.cmd();
    bob.args(["--operator", "bob"])
        .env("FOLIO_PIN", "bob's own long phrase");
    ok(bob, &["batches"]);
    copied_slot_opens_nothing(&st);
    flipped_and_swapped_files_are_refused(&st, &batch);
}

/// Ann's slot copied over Bob's opens nothing with Ann's passphrase.
fn copied_slot_opens_nothing(st: &Station) {
    let ring_path = vault(st).join("keyring.json");
    let original = std::fs::read_to_string(&ring_path).unwrap();
    let mut ring: serde_json::Value = serde_json::from_str(&original).unwrap();
    let slots = ring["slots"].as_array_mut().unwrap();
    let ann = slots
        .iter()
        .find(|s| s["operator"] == "ann")
        .unwrap()
        .clone();
    for s in slots.iter_mut().filter(|s| s["operator"] == "bob") {
        for k in ["salt", "nonce", "wrapped"] {
            s[k] = ann[k].clone();
        }
    }
    std::fs::write(&ring_path, serde_json::to_string(&ring).unwrap()).unwrap();
    let mut bob = st.cmd();
    bob.args(["--operator", "bob"]).env("FOLIO_PIN", ADMIN.1);
    let e = fails(bob, &["batches"]);
    assert!(e.contains("wrong PIN or passphrase for bob"), "{e}");
    std::fs::write(&ring_path, &original).unwrap();
}

/// One flipped byte in a page file; then two page files swapped.
fn flipped_and_swapped_files_are_refused(st: &Station, batch: &str) {
    let batch = batch.to_string();
    let mut images = Vec::new();
    files_under(&vault(st).join("images"), &mut images);
    images.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let (a, b) = (
        images[images.len() - 1].clone(),
        images[images.len() - 2].clone(),
    );
    let (ba, bb) = (std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    let mut flipped = ba.clone();
    flipped[ba.len() / 2] ^= 0x10;
    std::fs::write(&a, &flipped).unwrap();
    let to = st.dir.path().join("export");
    let e = fails(
        folio(st, Some(ADMIN.1)),
        &["export", &batch, "--to", to.to_str().unwrap()],
    );
    assert!(e.contains("does not authenticate"), "{e}");
    std::fs::write(&a, &bb).unwrap();
    std::fs::write(&b, &ba).unwrap();
    let e = fails(
        folio(st, Some(ADMIN.1)),
        &["export", &batch, "--to", to.to_str().unwrap()],
    );
    assert!(e.contains("does not authenticate"), "{e}");
    std::fs::write(&a, &ba).unwrap();
    std::fs::write(&b, &bb).unwrap();
    ok(
        folio(st, Some(ADMIN.1)),
        &["export", &batch, "--to", to.to_str().unwrap()],
    );
}

#[test]
fn a_changed_passphrase_and_a_new_key_leave_the_old_secrets_useless() {
    let st = Station::new();
    let batch = station(&st);
    ok(
        folio(&st, Some(ADMIN.1)),
        &["encrypt", "--no-tpm", "--no-recovery"],
    );
    let old_vault = vault(&st);
    let old_ring = std::fs::read(old_vault.join("keyring.json")).unwrap();
    // The passphrase changes: the old one no longer opens the station.
    let new = "a much newer passphrase";
    let mut c = folio(&st, Some(ADMIN.1));
    c.env("FOLIO_NEW_PIN", new);
    ok(c, &["keys", "passphrase"]);
    let e = fails(folio(&st, Some(ADMIN.1)), &["batches"]);
    assert!(e.contains("wrong PIN or passphrase"), "{e}");
    assert!(ok(folio(&st, Some(new)), &["batches"]).contains(&batch));
    // A new key: the old keyring (with the old passphrase) opens none of it.
    let out = ok(
        folio(&st, Some(new)),
        &["rekey", "--no-tpm", "--no-recovery"],
    );
    assert!(out.contains("rekeyed"), "{out}");
    let new_vault = vault(&st);
    assert_ne!(new_vault, old_vault);
    assert!(!old_vault.exists(), "the old vault is removed");
    let ring = new_vault.join("keyring.json");
    let current = std::fs::read(&ring).unwrap();
    std::fs::write(&ring, &old_ring).unwrap();
    let e = fails(folio(&st, Some(ADMIN.1)), &["batches"]);
    assert!(
        e.contains("does not open with this station's key") || e.contains("key"),
        "{e}"
    );
    std::fs::write(&ring, &current).unwrap();
    assert!(ok(folio(&st, Some(new)), &["batches"]).contains(&batch));
    // The audit trail says who encrypted and rekeyed it.
    let audit = ok(folio(&st, Some(new)), &["audit"]);
    for event in ["keys.encrypted", "keys.rekeyed", "operator.secret_changed"] {
        assert!(audit.contains(event), "{event}: {audit}");
    }
}

#[test]
fn encrypt_is_refused_while_the_data_is_open_and_survives_a_kill_at_any_moment() {
    let st = Station::new();
    let batch = station(&st);
    import(&st, 13);
    // Held open (as a window would), it is refused and nothing changes.
    {
        let _open = folio::store::Store::open(&st.data_dir()).unwrap();
        let e = fails(
            folio(&st, Some(ADMIN.1)),
            &["encrypt", "--no-tpm", "--no-recovery"],
        );
        assert!(e.contains("is in use"), "{e}");
        assert!(!st.data_dir().join("vault.json").exists());
    }
    let pristine = st.dir.path().join("pristine");
    copy_dir(&st.data_dir(), &pristine);
    let (mut old, mut new) = (0, 0);
    for delay_ms in [0u64, 30, 60, 100, 150, 200, 300, 450, 700, 1000, 2000] {
        std::fs::remove_dir_all(st.data_dir()).unwrap();
        copy_dir(&pristine, &st.data_dir());
        let mut c = folio(&st, Some(ADMIN.1));
        c.args(["encrypt", "--no-tpm", "--no-recovery"])
            .stdout(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Whichever store is there opens whole: both batches, every image.
        let listed = ok(folio(&st, Some(ADMIN.1)), &["batches"]);
        assert!(listed.contains(&batch), "after {delay_ms} ms: {listed}");
        ok(folio(&st, Some(ADMIN.1)), &["check"]);
        let to = st.dir.path().join(format!("export-{delay_ms}"));
        ok(
            folio(&st, Some(ADMIN.1)),
            &["export", &batch, "--to", to.to_str().unwrap()],
        );
        if st.data_dir().join("vault.json").exists() {
            new += 1;
            assert!(!st.data_dir().join("folio.sqlite3").exists());
            assert!(!st.data_dir().join("images").exists());
        } else {
            old += 1;
        }
    }
    assert!(
        old > 0 && new > 0,
        "old {old}, new {new}: the kills missed the window"
    );
    // Killed midway, it is simply run again.
    if !st.data_dir().join("vault.json").exists() {
        ok(
            folio(&st, Some(ADMIN.1)),
            &["encrypt", "--no-tpm", "--no-recovery"],
        );
    }
    let dirs: Vec<_> = std::fs::read_dir(st.data_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vault-"))
        .collect();
    assert_eq!(dirs.len(), 1, "a half-built vault was left behind");
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

mod kit;

/// Signs in at the window's sign-in screen and waits for the answer.
fn window_sign_in(
    h: &mut egui_kittest::Harness<'static, folio::ui::StationApp>,
    id: &str,
    secret: &str,
) {
    use eframe::egui;
    use egui_kittest::kittest::Queryable;
    h.get_by_label("Operator id").click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.get_by_label("Operator id").type_text(id);
    h.key_press(egui::Key::Enter);
    h.step();
    h.get_by_label("PIN or passphrase").type_text(secret);
    h.key_press(egui::Key::Enter);
    kit::wait(h, "the passphrase checked", |a| !a.sign_in_screen().waiting);
}

/// The window at an encrypted station: it opens locked, a wrong
/// passphrase is refused in words, the right one unlocks it, and once the
/// operator has signed out (locked the window) the approved batch still
/// drains to the store: the keys stay in the running station's memory.
#[test]
fn the_window_unlocks_with_a_passphrase_and_uploads_drain_after_sign_out() {
    use eframe::egui;
    let _turn = kit::one_at_a_time();
    let st = Station::new();
    let more = "[sampling]\nrequired = false\n";
    let store = st.dir.path().join("store");
    let batch = station(&st);
    ok(
        folio(&st, Some(ADMIN.1)),
        &["encrypt", "--no-tpm", "--no-recovery"],
    );
    add_supervisor(&st);
    approve(&st, &batch);
    let delivered = || {
        let mut f = Vec::new();
        files_under(&store, &mut f);
        f.iter()
            .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
            .count()
    };
    let mut h = kit::station_window_with(
        &st.data_dir(),
        &store,
        egui::vec2(1280.0, 860.0),
        "nobody",
        more,
    );
    assert!(h.state().locked());
    let said = h
        .state()
        .sign_in_screen()
        .message
        .clone()
        .unwrap_or_default()
        .0;
    assert!(said.contains("encrypted: signing in unlocks it"), "{said}");
    for _ in 0..10 {
        h.step();
    }
    assert_eq!(
        delivered(),
        0,
        "nothing is read before the station is unlocked"
    );
    window_sign_in(&mut h, ADMIN.0, "not the passphrase");
    let said = h
        .state()
        .sign_in_screen()
        .message
        .clone()
        .unwrap_or_default()
        .0;
    assert!(said.contains("wrong PIN or passphrase for ann"), "{said}");
    assert!(h.state().locked());
    window_sign_in(&mut h, ADMIN.0, ADMIN.1);
    assert!(
        !h.state().locked(),
        "{:?}",
        h.state().sign_in_screen().message
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::L);
    h.step();
    assert!(h.state().locked());
    kit::wait(&mut h, "the batch delivered while signed out", |a| {
        a.locked() && delivered() >= 2
    });
    assert!(h.state().locked());
}

/// A software TPM 2.0 (swtpm) on two free ports of 127.0.0.1, its state in
/// a folder of its own, with a lockout after three wrong PINs.
struct Swtpm {
    child: std::process::Child,
    tcti: String,
    _state: tempfile::TempDir,
}

impl Swtpm {
    fn start() -> Swtpm {
        let state = tempfile::tempdir().unwrap();
        let port = loop {
            let p = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if p < 65535 && std::net::TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
                break p;
            }
        };
        let child = Command::new("swtpm")
            .args(["socket", "--tpm2", "--flags", "not-need-init,startup-clear"])
            .arg("--tpmstate")
            .arg(format!("dir={}", state.path().display()))
            .args([
                "--server",
                &format!("type=tcp,port={port},bindaddr=127.0.0.1"),
            ])
            .args([
                "--ctrl",
                &format!("type=tcp,port={},bindaddr=127.0.0.1", port + 1),
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("swtpm (installer/setup.sh --tests installs it)");
        let tcti = format!("swtpm:host=127.0.0.1,port={port}");
        let t = Swtpm {
            child,
            tcti,
            _state: state,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port + 1)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        t.tools(&[
            "tpm2_dictionarylockout",
            "--setup-parameters",
            "--max-tries=3",
            "--recovery-time=3600",
            "--lockout-recovery-time=3600",
        ]);
        t
    }

    fn tools(&self, args: &[&str]) {
        let out = Command::new(args[0])
            .args(&args[1..])
            .env("TPM2TOOLS_TCTI", &self.tcti)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for Swtpm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// With a TPM: a six-digit PIN holds a copy, three wrong ones lock the TPM
/// (the right one is refused too, in words) until IT clears the lockout,
/// another TPM opens nothing, and a missing TPM is said as such.
#[test]
fn with_a_tpm_a_pin_will_do_the_lockout_limits_guesses_and_another_tpm_opens_nothing() {
    let tpm = Swtpm::start();
    let st = Station::new();
    let batch = station(&st);
    let with_tpm = |secret: Option<&str>, who: &str, tcti: &str| {
        let mut c = st.cmd();
        c.env_remove("FOLIO_PIN")
            .env("FOLIO_TPM_TCTI", tcti)
            .args(["--operator", who]);
        if let Some(s) = secret {
            c.env("FOLIO_PIN", s);
        }
        c
    };
    let out = ok(
        with_tpm(Some(ADMIN.1), ADMIN.0, &tpm.tcti),
        &["encrypt", "--no-recovery"],
    );
    assert!(out.contains("also needs this machine's TPM"), "{out}");
    // A PIN of six digits will do now; four will not.
    let mut c = with_tpm(Some(ADMIN.1), ADMIN.0, &tpm.tcti);
    c.env("FOLIO_NEW_PIN", "2468");
    let e = fails(
        c,
        &[
            "operators",
            "add",
            "--id",
            "pat",
            "--name",
            "Pat",
            "--role",
            "operator",
        ],
    );
    assert!(e.contains("PIN") && e.contains("6"), "{e}");
    let mut c = with_tpm(Some(ADMIN.1), ADMIN.0, &tpm.tcti);
    c.env("FOLIO_NEW_PIN", "246810");
    ok(
        c,
        &[
            "operators",
            "add",
            "--id",
            "pat",
            "--name",
            "Pat",
            "--role",
            "operator",
        ],
    );
    assert!(ok(with_tpm(Some("246810"), "pat", &tpm.tcti), &["batches"]).contains(&batch));
    let status: serde_json::Value =
        serde_json::from_str(&ok(st.cmd(), &["keys", "status", "--json"])).unwrap();
    assert_eq!(status["tpm"], tpm.tcti.as_str());
    // Three wrong PINs; then even the right one is refused by the TPM.
    for _ in 0..3 {
        let e = fails(with_tpm(Some("135790"), "pat", &tpm.tcti), &["batches"]);
        assert!(e.contains("wrong PIN or passphrase for pat"), "{e}");
        assert!(
            !e.contains("ERROR") && !e.contains("Esys"),
            "the TSS library's log leaked: {e}"
        );
    }
    let e = fails(with_tpm(Some("246810"), "pat", &tpm.tcti), &["batches"]);
    assert!(
        e.contains("the TPM refuses to try more PINs") && e.contains("clear-lockout"),
        "{e}"
    );
    tpm.tools(&["tpm2_dictionarylockout", "--clear-lockout"]);
    assert!(ok(with_tpm(Some("246810"), "pat", &tpm.tcti), &["batches"]).contains(&batch));
    // The same keyring against another TPM, and against none.
    let other = Swtpm::start();
    let e = fails(with_tpm(Some(ADMIN.1), ADMIN.0, &other.tcti), &["batches"]);
    assert!(e.contains("sealed by another TPM"), "{e}");
    drop(other);
    let e = fails(
        with_tpm(Some(ADMIN.1), ADMIN.0, "swtpm:host=127.0.0.1,port=1"),
        &["batches"],
    );
    assert!(e.contains("cannot reach the TPM"), "{e}");
    // Its own TPM still opens it.
    assert!(ok(with_tpm(Some(ADMIN.1), ADMIN.0, &tpm.tcti), &["batches"]).contains(&batch));
}

/// Destruction certificates name patients: `folio encrypt` seals the ones
/// already written into the vault (removing the plain ones), and `folio
/// destruction certificate` writes a readable copy where it is asked to.
/// An encrypted station also refuses to deliver into its own data folder.
#[test]
fn certificates_are_sealed_too_and_copied_out_on_request() {
    let st = Station::new();
    let batch = station(&st);
    let certs = st.data_dir().join("certificates");
    std::fs::create_dir_all(&certs).unwrap();
    let canary = r#"{"records":[{"nhs_number":"9434765919"}]}"#;
    std::fs::write(certs.join("cert-0001.json"), canary).unwrap();
    std::fs::write(certs.join("cert-0001.pdf"), b"%PDF-1.4 9434765919").unwrap();
    ok(
        folio(&st, Some(ADMIN.1)),
        &["encrypt", "--no-tpm", "--no-recovery"],
    );
    assert!(!certs.exists(), "the plain certificates are removed");
    let sealed = vault(&st).join("certificates").join("cert-0001.json");
    let on_disk = std::fs::read(&sealed).unwrap();
    assert!(!on_disk.windows(10).any(|w| w == b"9434765919"));
    let out = st.dir.path().join("printed");
    let listed = ok(
        folio(&st, Some(ADMIN.1)),
        &[
            "destruction",
            "certificate",
            "cert-0001",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(
        listed.contains("cert-0001.json") && listed.contains("cert-0001.pdf"),
        "{listed}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("cert-0001.json")).unwrap(),
        canary
    );
    let e = fails(
        folio(&st, Some(ADMIN.1)),
        &[
            "destruction",
            "certificate",
            "nope",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(e.contains("no certificate nope"), "{e}");
    // Without a central store configured, the demonstration folder inside
    // the data folder is refused.
    std::fs::write(
        st.data_dir().join("config.toml"),
        "[sampling]\nrequired = false\n",
    )
    .unwrap();
    add_supervisor(&st);
    approve(&st, &batch);
    let e = fails(folio(&st, Some(ADMIN.1)), &["upload"]);
    assert!(
        e.contains("does not deliver into its own data folder"),
        "{e}"
    );
    assert!(!st.data_dir().join("delivered").exists());
}

/// An operator who had an account before the station was encrypted gets
/// their copy of the key by signing in while the station is unlocked (the
/// window's case: someone with a copy unlocked it); a disabled account's
/// copy is dropped, so their secret opens nothing any more.
#[test]
fn an_operator_gets_a_copy_at_sign_in_while_unlocked_and_loses_it_when_disabled() {
    let st = Station::new();
    station(&st);
    add_operator(&st, "bob", "bob's long passphrase", "operator");
    ok(
        folio(&st, Some(ADMIN.1)),
        &["encrypt", "--no-tpm", "--no-recovery"],
    );
    let holders = |st: &Station| {
        let v: serde_json::Value =
            serde_json::from_str(&ok(st.cmd(), &["keys", "status", "--json"])).unwrap();
        v["operators"].clone()
    };
    assert_eq!(holders(&st), serde_json::json!(["ann"]));
    // In this process, as the window does: Ann unlocks, Bob signs in.
    let data = st.data_dir();
    folio::store::keys::unlock(&data, ADMIN.0, ADMIN.1).unwrap();
    let mut store = folio::store::Store::open(&data).unwrap();
    store
        .sign_in("test-station", "bob", "bob's long passphrase")
        .unwrap();
    assert_eq!(holders(&st), serde_json::json!(["ann", "bob"]));
    let mut bob = st.cmd();
    bob.args(["--operator", "bob"])
        .env("FOLIO_PIN", "bob's long passphrase");
    ok(bob, &["batches"]);
    // Disabled by Ann: his copy goes.
    let ann = store.sign_in("test-station", ADMIN.0, ADMIN.1).unwrap();
    store.set_operator_enabled(&ann, "bob", false).unwrap();
    assert_eq!(holders(&st), serde_json::json!(["ann"]));
    drop(store);
    let mut bob = st.cmd();
    bob.args(["--operator", "bob"])
        .env("FOLIO_PIN", "bob's long passphrase");
    let e = fails(bob, &["batches"]);
    assert!(e.contains("holds no copy"), "{e}");
}
