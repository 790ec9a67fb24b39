//! Shared by the window tests: a screen drawn on its own with a
//! [`ScreenCtx`] built here ([`Bed`]: no workers, no database), the scan
//! events the shell would hand it, and layout checks on the accessible
//! rectangles of its controls (what a screenshot comparison would judge:
//! whether a control is inside the window, and how large it is drawn).
#![allow(dead_code)]

use eframe::egui;
use egui_kittest::Harness;
pub use egui_kittest::kittest::{NodeT, Queryable};
use folio::config::Config;
use folio::store::{Actor, BatchRow};
use folio::ui::{
    Notices, OnDemandScreen, ScanScreen, ScannerChoice, Screen, ScreenCommand, ScreenCtx, Textures,
};
use folio::workers::ScanReport;
use folio::workers::scan::ScanProgress;
use folio::workers::station::{CancelToken, Command, Event, ScanRequest, Snapshot};

/// The window sizes the screens are judged at: a field team's small laptop,
/// the station's usual window and a full HD monitor.
pub const SMALL: egui::Vec2 = egui::vec2(800.0, 600.0);
pub const USUAL: egui::Vec2 = egui::vec2(1280.0, 800.0);
pub const LARGE: egui::Vec2 = egui::vec2(1920.0, 1080.0);

/// A screen with everything a frame lends it, owned here.
pub struct Bed<S> {
    pub screen: S,
    pub snapshot: Snapshot,
    pub textures: Textures,
    pub actor: Actor,
    pub cfg: Config,
    pub scanner: ScannerChoice,
    /// Another screen's scan runs.
    pub scanning: bool,
    pub commands: Vec<ScreenCommand>,
    pub notices: Notices,
}

impl<S: Screen> Bed<S> {
    pub fn new(screen: S) -> Bed<S> {
        let scanner = ScannerChoice {
            device: "test:0".into(),
            ..ScannerChoice::default()
        };
        Bed {
            screen,
            snapshot: Snapshot {
                devices: vec!["test:0".into(), "folio:demo".into()],
                ..Snapshot::default()
            },
            textures: Textures::default(),
            actor: Actor {
                station: "st".into(),
                operator: "op".into(),
                role: None,
            },
            cfg: Config::default(),
            scanner,
            scanning: false,
            commands: Vec::new(),
            notices: Notices::new(),
        }
    }

    pub fn show(&mut self, ui: &mut egui::Ui) {
        let mut ctx = ScreenCtx {
            snapshot: &self.snapshot,
            tree: None,
            textures: &mut self.textures,
            actor: &self.actor,
            cfg: &self.cfg,
            scanner: &mut self.scanner,
            scanning: self.scanning,
            commands: &mut self.commands,
            notices: &mut self.notices,
        };
        let screen = &mut self.screen;
        egui::CentralPanel::default().show(ui, |ui| screen.ui(ui, &mut ctx));
    }

    /// The scans asked for so far.
    pub fn scans(&self) -> Vec<ScanRequest> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                ScreenCommand::Station(Command::Scan(r)) => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    /// The tokens Stop was sent with so far.
    pub fn stops(&self) -> Vec<CancelToken> {
        self.commands
            .iter()
            .filter_map(|c| match c {
                ScreenCommand::Stop(t) => Some(t.clone()),
                _ => None,
            })
            .collect()
    }
}

pub fn harness<S: Screen + 'static>(bed: Bed<S>) -> Harness<'static, Bed<S>> {
    harness_at(bed, USUAL)
}

/// A screen drawn in a window of this size.
pub fn harness_at<S: Screen + 'static>(bed: Bed<S>, size: egui::Vec2) -> Harness<'static, Bed<S>> {
    Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, bed: &mut Bed<S>| bed.show(ui), bed)
}

pub fn is_disabled<S>(h: &Harness<'static, Bed<S>>, label: &str) -> bool {
    h.get_by_label(label).accesskit_node().is_disabled()
}

/// Hands a scan event to a screen's scan, as the shell does.
pub fn scan_event<S>(
    h: &mut Harness<'static, Bed<S>>,
    e: Event,
    view: fn(&mut S) -> &mut folio::ui::ScanView,
) {
    let ctx = h.ctx.clone();
    let bed = h.state_mut();
    let mut commands = std::mem::take(&mut bed.commands);
    view(&mut bed.screen).apply(&ctx, e, &mut commands, &bed.snapshot);
    bed.commands = commands;
    h.step();
}

pub fn progress(side: u32) -> Event {
    Event::Progress(Box::new(ScanProgress {
        batch_id: "0123456789abcdef".into(),
        sides: side + 1,
        batch_sides: side + 1,
        sides_per_minute: 60.0,
        flags: 0,
        side,
        sheet: side / 2,
        thumb_sha256: None,
        preview_sha256: None,
        blank: false,
        page_flags: Vec::new(),
        layout: folio::batch::Layout::default(),
        target: None,
    }))
}

pub fn ended(batch: &str) -> Event {
    Event::ScanEnded(Ok(ScanReport {
        batch_id: batch.into(),
        device: "test:0".into(),
        stored_now: 4,
        session: None,
        closed: None,
    }))
}

pub fn scan_view(s: &mut ScanScreen) -> &mut folio::ui::ScanView {
    &mut s.view
}

pub fn on_demand_view(s: &mut OnDemandScreen) -> &mut folio::ui::ScanView {
    &mut s.view
}

/// The commands the screen sent to the station so far.
pub fn sent<S>(h: &Harness<'static, Bed<S>>) -> Vec<Command> {
    h.state()
        .commands
        .iter()
        .filter_map(|c| match c {
            ScreenCommand::Station(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

/// Where the control with this accessible label is drawn.
pub fn rect_of<S>(h: &Harness<'static, S>, label: &str) -> egui::Rect {
    h.get_by_label(label).rect()
}

/// The control is drawn whole inside a window of `size`: not cut at an
/// edge, not pushed off it.
pub fn assert_inside<S>(h: &Harness<'static, S>, label: &str, size: egui::Vec2) {
    let r = rect_of(h, label);
    let window = egui::Rect::from_min_size(egui::Pos2::ZERO, size);
    assert!(
        window.expand(0.5).contains_rect(r) && r.width() >= 4.0 && r.height() >= 4.0,
        "{label:?} is drawn at {r:?}, not whole inside the {size:?} window"
    );
}

/// For the whole test process (the window's workers run in it): SANE sees
/// only its `test` and `pnm` backends, and the station file (the data folder
/// chosen in Settings) lives in a folder of the tests' own.
pub fn test_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let dir = std::env::temp_dir().join(format!("folio-gui-env-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("config")).unwrap();
        std::fs::write(dir.join("dll.conf"), "test\npnm\n").unwrap();
        // SAFETY: set once, by a window test holding its turn, before it starts
        // any worker thread; no other test thread reads the environment then.
        unsafe {
            std::env::set_var("SANE_CONFIG_DIR", &dir);
            std::env::set_var("XDG_CONFIG_HOME", dir.join("config"));
        }
    });
}

/// The window tests take turns: each runs a station's worth of threads, and
/// several at once on two cores starve the workers past the tests' patience.
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static TURN: std::sync::Mutex<()> = std::sync::Mutex::new(());
    TURN.lock().unwrap_or_else(|e| e.into_inner())
}

/// The whole window, with its workers, on the data folder `data` (uploads
/// going to `store`), drawn at `size`, signed in as `operator`.
pub fn station_window(
    data: &std::path::Path,
    store: &std::path::Path,
    size: egui::Vec2,
    operator: &str,
) -> Harness<'static, folio::ui::StationApp> {
    station_window_with(data, store, size, operator, "")
}

/// [`station_window`] with more of `config.toml` after `[upload]`.
pub fn station_window_with(
    data: &std::path::Path,
    store: &std::path::Path,
    size: egui::Vec2,
    operator: &str,
    more_config: &str,
) -> Harness<'static, folio::ui::StationApp> {
    test_env();
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(
        data.join("config.toml"),
        format!(
            "[upload]\nfolder = {store:?}\nretry_base_ms = 20\nmax_attempts = 3\n{more_config}"
        ),
    )
    .unwrap();
    let cfg = Config::load(data).unwrap();
    let actor = Actor {
        station: "test-station".into(),
        operator: operator.into(),
        role: None,
    };
    let app =
        folio::ui::StationApp::new(data.to_path_buf(), cfg, actor, std::sync::Arc::new(|| {}))
            .unwrap();
    Harness::builder()
        .with_size(size)
        .build_ui_state(|ui, app: &mut folio::ui::StationApp| app.frame(ui), app)
}

/// Steps the window until `done` holds (the workers run meanwhile).
pub fn wait(
    h: &mut Harness<'static, folio::ui::StationApp>,
    what: &str,
    done: impl Fn(&folio::ui::StationApp) -> bool,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        h.step();
        if done(h.state()) {
            h.step();
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}; review queue: {:?}; notices: {:?}",
            h.state().snapshot.review,
            h.state().notices
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits for the scanner list, then chooses the demo feeder with `records`
/// folders, flat out.
pub fn use_demo_feeder(h: &mut Harness<'static, folio::ui::StationApp>, records: u32) {
    wait(h, "the scanner list", |a| !a.snapshot.devices.is_empty());
    let s = h.state_mut().scanner_mut();
    s.device = folio::capture::DEMO_DEVICE.into();
    s.demo_records = records;
    s.demo_speed = 0;
}

/// A batch as the store lists it, made on 2 December at 09:14.
pub fn batch_row(id: &str, label: &str, operator: &str, state: &str) -> BatchRow {
    BatchRow {
        id: id.into(),
        label: label.into(),
        source: folio::batch::BatchSource::parse("site_library").unwrap(),
        specialty: None,
        duplex: true,
        station: "scan-01".into(),
        operator: operator.into(),
        created: "2026-12-02T09:14:05.120Z".into(),
        closed: None,
        state: folio::batch::BatchState::parse(state).unwrap(),
        expected_sheets: None,
        last_error: None,
        sides: 12,
        unreadable_sides: 0,
        records: 1,
        open_flags: 0,
        paper_location: None,
        hold_until: None,
    }
}

/// The snapshot with its batches' names, as the reader fills them.
pub fn with_names(mut s: Snapshot) -> Snapshot {
    s.names = folio::batch::short_names(s.batches.iter().map(|b| b.id.as_str()));
    s
}

/// Approves every open flag of `batch` in Review with the keyboard (A), one
/// at a time, each once the station has taken the last.
pub fn approve_every_flag(h: &mut Harness<'static, folio::ui::StationApp>, batch: &str) {
    let open_flags = |a: &folio::ui::StationApp| {
        a.snapshot
            .batches
            .iter()
            .find(|b| b.id == batch)
            .map_or(0, |b| b.open_flags)
    };
    loop {
        h.step();
        let open = open_flags(h.state());
        if open == 0 {
            return;
        }
        let first = h
            .state()
            .snapshot
            .review
            .iter()
            .position(|i| matches!(i.kind, folio::store::ReviewKind::Flag { .. }))
            .expect("open flags are in the queue");
        h.state_mut().review_mut().selected = first;
        h.step();
        h.key_press(egui::Key::A);
        wait(h, "the flag approved", |a| open_flags(a) < open);
    }
}
