//! The network boundary of uploads (issue 14, cases 8 and 9): redirects are
//! not followed, and a slow link that keeps moving is not cut off by a total
//! time limit.

mod common;

use common::fhir_server::FhirServer;
use common::*;
use folio::synth::StackSpec;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A station with one approved batch and these `[upload]` settings.
fn approved(upload: &str, records: usize, dpi: u32) -> (Station, String) {
    let (st, id) = imported_station(
        &format!("[upload]\n{upload}"),
        &StackSpec {
            seed: 12,
            records,
            dpi,
            duplex: false,
            max_skew_deg: 0.0,
            ..StackSpec::default()
        },
    );
    approve_as_is(&st, &id);
    (st, id)
}

fn outbox_row(st: &Station, batch: &str) -> serde_json::Value {
    st.json(&["upload", "--list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["batch_id"] == batch)
        .cloned()
        .unwrap()
}

/// Answers every request with a redirect to `to`; counts the requests.
fn redirector(status: &'static str, to: String) -> (String, std::sync::Arc<std::sync::Mutex<u32>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!(
        "http://127.0.0.1:{}/fhir",
        listener.local_addr().unwrap().port()
    );
    let seen = std::sync::Arc::new(std::sync::Mutex::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            // The request head; the body (if any) is not wanted.
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            *count.lock().unwrap() += 1;
            let _ = write!(
                conn,
                "HTTP/1.1 {status}\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (base, seen)
}

#[test]
fn case_8_a_redirect_is_not_followed_and_the_token_stays_home() {
    for status in [
        "301 Moved Permanently",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let (st, batch) = approved("max_attempts = 2\nretry_base_ms = 10\n", 1, 100);
        // The place it points to: a real store that must see nothing, not
        // even the token.
        let elsewhere = FhirServer::start();
        let (base, asked) = redirector(status, format!("{}/\u{202e}moved", elsewhere.base));
        let out = st
            .cmd()
            .env("FOLIO_UPLOAD_TOKEN", "s3cret-token")
            .args(["upload", "--fhir", &base])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(5), "parked: {said}");
        assert!(
            *asked.lock().unwrap() >= 1,
            "the configured server was asked"
        );
        assert!(
            elsewhere.with(|s| s.auth_seen.is_empty() && s.post_log.is_empty()),
            "{status}: the redirect was followed"
        );
        let row = outbox_row(&st, &batch);
        assert_eq!(row["state"], "parked");
        let why = row["last_error"].as_str().unwrap();
        for want in ["does not follow redirects", &elsewhere.base, "fhir_url"] {
            assert!(why.contains(want), "{want:?} in {why}");
        }
        assert!(
            !why.contains('\u{1b}') && !said.contains('\u{1b}'),
            "escaped: {why}"
        );
        assert!(!said.contains("s3cret"), "{said}");
    }
}

#[test]
fn case_9_a_slow_link_that_keeps_moving_completes_past_the_old_total_limit() {
    // 3 s without movement is a stall; each record's Bundle (megabytes)
    // takes longer than that to go through at 1 MB/s. (The kernel takes up to
    // a megabyte or so of a body at once on loopback, and that tail drains
    // unseen: the idle time must exceed it, as upload.timeout_secs must
    // exceed a send buffer's worth at the link's speed.)
    let (st, batch) = approved("timeout_secs = 3\nmax_attempts = 1\n", 3, 200);
    let server = FhirServer::start_with_receive_buffer(32 * 1024);
    server.with(|s| s.throttle_bytes_per_sec = Some(1_000_000));
    let started = Instant::now();
    let out = st.run(&["upload", "--fhir", &server.base]);
    let took = started.elapsed();
    let said = String::from_utf8_lossy(&out.stderr);
    let seen = server.with(|s| (s.body_bytes, s.post_log.len()));
    assert!(
        out.status.success(),
        "{said} (server: {seen:?} after {took:?})"
    );
    assert_eq!(outbox_row(&st, &batch)["state"], "done", "{said}");
    assert!(
        took > Duration::from_secs(7),
        "the upload took {took:?}: not longer than the old total limit, so it proves nothing"
    );
    // One try: nothing was cut off and sent again.
    let posts = server.with(|s| s.post_log.len());
    let (m, _) = st.export(&batch);
    assert_eq!(posts, m.records.len(), "{said}");
}

#[test]
fn case_9_a_server_that_stops_answering_is_given_up_after_the_idle_time() {
    let (st, batch) = approved("timeout_secs = 2\nmax_attempts = 1\n", 1, 100);
    let server = FhirServer::start();
    server.fault(common::fhir_server::Fault::SlowAnswer(Duration::from_secs(
        30,
    )));
    let started = Instant::now();
    let out = st.run(&["upload", "--fhir", &server.base]);
    let took = started.elapsed();
    assert_eq!(out.status.code(), Some(5));
    assert!(took < Duration::from_secs(20), "gave up after {took:?}");
    let why = outbox_row(&st, &batch)["last_error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("nothing sent or received for 2 s"), "{why}");
}

#[test]
fn case_7_credentials_never_ride_in_the_url_and_a_token_file_is_checked() {
    let (st, batch) = approved("max_attempts = 1\n", 1, 100);
    let server = FhirServer::start();
    let port = server.base.trim_start_matches("http://127.0.0.1:");
    for url in [
        format!("http://clerk:s3cret@127.0.0.1:{port}"),
        format!("{}?token=s3cret", server.base),
        format!("{}#s3cret", server.base),
    ] {
        let out = st.run(&["upload", "--fhir", &url]);
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} accepted: {said}");
        assert!(
            said.contains("token_file") && said.contains("FOLIO_UPLOAD_TOKEN"),
            "{said}"
        );
        assert!(!said.contains("s3cret"), "the credential was shown: {said}");
    }
    assert!(server.with(|s| s.auth_seen.is_empty()), "nothing was sent");
    // Nowhere stored either.
    for args in [&["upload", "--list", "--json"][..], &["audit", "--json"]] {
        assert!(!st.ok(args).contains("s3cret"), "{args:?}");
    }
    // A token file others may read: used, with a warning that says how to fix it.
    let file = st.dir.path().join("token");
    std::fs::write(&file, "file-token-123\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(
        st.data_dir().join("config.toml"),
        format!(
            "[upload]\nmax_attempts = 1\ntoken_file = \"{}\"\n",
            file.display()
        ),
    )
    .unwrap();
    let out = st.run(&["upload", "--fhir", &server.base]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("can be read by other users") && said.contains("chmod 600"),
        "{said}"
    );
    assert!(!said.contains("file-token-123"), "{said}");
    assert!(
        server.with(|s| s
            .auth_seen
            .iter()
            .all(|a| a.as_deref() == Some("Bearer file-token-123"))),
        "the file's token is sent"
    );
    assert_eq!(outbox_row(&st, &batch)["state"], "done");
    // Readable by its owner only: no warning.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = st.run(&["upload", "--fhir", &server.base]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("other users"));
}
