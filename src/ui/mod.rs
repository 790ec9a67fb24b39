//! The station window (eframe/egui): Scan, Review, On demand, Uploads,
//! Settings and Statistics. It only sends commands to the station workers and renders their
//! events: no database, socket, scanner or file is touched on the UI thread.
//!
//! Each screen is a struct owning its state, drawn with a [`ScreenCtx`] that
//! lends it only what screens need (the snapshot read-only, textures, the
//! chosen scanner, the configuration, a command queue, the status line). The
//! app shell ([`StationApp`]) only routes: it drains worker events within a
//! time budget (in eframe's logic step) and hands each to the screen that
//! cares, draws the tabs, the status line, the help and the close
//! confirmation, and applies the screens' commands after the frame. Textures
//! are made from images the worker already decoded, once each.

mod context;
mod destruction;
mod on_demand;
mod patient;
mod review;
mod scan;
mod scan_view;
mod settings;
mod sign_in;
mod stats;
pub mod style;
mod textures;
mod uploads;
mod worklist;

pub use context::{Notices, ScannerChoice, Screen, ScreenCommand, ScreenCtx, batch_name, notice};
pub use destruction::DestructionScreen;
pub use on_demand::OnDemandScreen;
pub use patient::identifier_check;
pub use review::{BatchOverride, ReviewScreen, approval_words};
pub use scan::ScanScreen;
pub use scan_view::{Fit, PageZoom, ScanView, StripItem, layout_ui};
pub use settings::SettingsScreen;
pub use sign_in::SignInScreen;
pub use stats::StatsScreen;
pub use textures::Textures;
pub use uploads::UploadScreen;

use crate::config::Config;
use crate::store::{Actor, BatchTree};
use crate::workers::UploadEvent;
use crate::workers::settings::SettingsForm;
use crate::workers::station::{self, Command, Event, Snapshot, Station};
use eframe::egui;
use std::time::{Duration, Instant};

/// The screens, in the order of the tab bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Scan,
    Review,
    OnDemand,
    Uploads,
    Settings,
    Statistics,
    Destruction,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 7] = [
        (Tab::Scan, "Scan", "F2"),
        (Tab::Review, "Review", "F3"),
        (Tab::OnDemand, "On demand", "F4"),
        (Tab::Uploads, "Uploads", "F6"),
        (Tab::Settings, "Settings", "F7"),
        (Tab::Statistics, "Statistics", "F11"),
        (Tab::Destruction, "Destruction", "F12"),
    ];
}

/// Below this width the top bar takes two rows.
const NARROW_TOP_BAR: f32 = 1100.0;

/// Longest the window spends on worker events in one frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);

/// Frame figures: the UI thread's work per frame (events, layout, textures),
/// and the time between frames while a scan runs (how smoothly the live page
/// follows the scanner).
#[derive(Default)]
pub struct FrameTimes {
    started: Option<Instant>,
    last_scanning: Option<Instant>,
    pub work_ms: Vec<f32>,
    pub interval_ms: Vec<f32>,
}

impl FrameTimes {
    fn begin(&mut self) {
        self.started = Some(Instant::now());
    }

    fn end(&mut self, scanning: bool) {
        let now = Instant::now();
        if let Some(s) = self.started.take() {
            self.work_ms.push((now - s).as_secs_f32() * 1000.0);
        }
        if scanning {
            if let Some(l) = self.last_scanning {
                self.interval_ms.push((now - l).as_secs_f32() * 1000.0);
            }
            self.last_scanning = Some(now);
        } else {
            self.last_scanning = None;
        }
    }

    /// Median and worst of both, in words.
    pub fn summary(&self) -> String {
        let stats = |v: &[f32]| {
            let mut s = v.to_vec();
            s.sort_by(f32::total_cmp);
            match s.len() {
                0 => (0.0, 0.0),
                n => (s[n / 2], s[n - 1]),
            }
        };
        let (wm, ww) = stats(&self.work_ms);
        let (im, iw) = stats(&self.interval_ms);
        format!(
            "frames: {} drawn; UI work per frame median {wm:.1} ms, worst {ww:.1} ms; while scanning ({} frames) a frame every {im:.1} ms (median), worst gap {iw:.1} ms",
            self.work_ms.len(),
            self.interval_ms.len()
        )
    }
}

/// Text from outside (labels, barcodes, file names, scanner names, the
/// central store's and the workers' messages) as the window shows it:
/// control characters, line breaks and direction marks escaped, so it cannot
/// forge lines or reorder what is around it (see [`crate::batch::printable`]).
/// Every label, button or tooltip holding such text goes through here; the
/// text itself is kept as it came.
pub(crate) fn shown(text: &str) -> String {
    crate::batch::printable(text, 200)
}

/// [`shown`] for long messages (errors, faults).
pub(crate) fn shown_long(text: &str) -> String {
    crate::batch::printable(text, 1000)
}

/// The app shell: the station's end of the window, the screens, and what
/// they share (the snapshot, textures, the scanner chosen, the status line).
pub struct StationApp {
    station: Station,
    cfg: Config,
    actor: Actor,
    tab: Tab,
    /// What the station last said of its state (lent read-only to screens).
    pub snapshot: Snapshot,
    tree: Option<BatchTree>,
    textures: Textures,
    scanner: ScannerChoice,
    scan: ScanScreen,
    on_demand: OnDemandScreen,
    review: ReviewScreen,
    sign_in: SignInScreen,
    /// The last key press or pointer movement (for the idle lock).
    last_input: Instant,
    uploads: UploadScreen,
    settings: SettingsScreen,
    stats: StatsScreen,
    destruction: DestructionScreen,
    /// Recent messages for the status line (newest last).
    pub notices: Notices,
    /// What the screens asked for this frame, applied after it.
    commands: Vec<ScreenCommand>,
    /// The screen whose scan the station runs: it gets the scan's events.
    scan_owner: Tab,
    show_help: bool,
    frame_times: FrameTimes,
    exit_after_scan: bool,
    /// The window was asked to close while a scan runs: asking first.
    close_asked: bool,
    /// Close once the scan being stopped has ended.
    close_after_scan: bool,
    /// The station's colours are set on the window's context.
    styled: bool,
}

/// The context a screen is drawn with, from the shell's fields (a macro, so
/// the screens themselves stay borrowable beside it).
macro_rules! screen_ctx {
    ($app:ident) => {
        ScreenCtx {
            snapshot: &$app.snapshot,
            tree: $app.tree.as_ref(),
            textures: &mut $app.textures,
            actor: &$app.actor,
            cfg: &$app.cfg,
            scanner: &mut $app.scanner,
            scanning: $app.scan.view.scanning || $app.on_demand.view.scanning,
            commands: &mut $app.commands,
            notices: &mut $app.notices,
        }
    };
}

impl StationApp {
    /// Starts the workers on `data_dir`.
    pub fn new(
        data_dir: std::path::PathBuf,
        cfg: Config,
        actor: Actor,
        wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Result<StationApp, crate::store::StoreError> {
        let accounts = crate::store::peek_accounts(&data_dir);
        let locked = crate::store::keys::is_locked(&data_dir);
        let station = station::spawn(data_dir.clone(), cfg.clone(), actor.clone(), accounts, wake)?;
        let form = SettingsForm::new(&cfg, &actor, &data_dir);
        let mut app = StationApp {
            station,
            settings: SettingsScreen::new(form),
            cfg,
            actor,
            tab: Tab::Scan,
            snapshot: Snapshot::default(),
            tree: None,
            textures: Textures::default(),
            scanner: ScannerChoice::default(),
            scan: ScanScreen::default(),
            on_demand: OnDemandScreen::default(),
            review: ReviewScreen::default(),
            sign_in: SignInScreen::default(),
            last_input: Instant::now(),
            uploads: UploadScreen::default(),
            stats: StatsScreen::default(),
            destruction: DestructionScreen::default(),
            notices: Notices::new(),
            commands: Vec::new(),
            scan_owner: Tab::Scan,
            show_help: false,
            frame_times: FrameTimes::default(),
            exit_after_scan: false,
            close_asked: false,
            close_after_scan: false,
            styled: false,
        };
        // Read once, at start: an encrypted station opens locked, and says so.
        app.sign_in.opened(
            locked.then(|| "This station's data is encrypted: signing in unlocks it.".to_string()),
        );
        app.demo_hooks();
        let tab = app.tab;
        app.screen(tab).opened();
        Ok(app)
    }

    /// For demonstrations, screenshots and frame-time measurement under Xvfb:
    /// `FOLIO_START_TAB` (scan, review, on-demand, uploads, settings, statistics),
    /// `FOLIO_DEMO_AUTOSCAN=N` (scan N demo records at `FOLIO_DEMO_SPEED` sides
    /// a minute; with `FOLIO_DEMO_JAM_AFTER=K` the feeder jams after K sides;
    /// with `FOLIO_DEMO_TARGET=1` the stack starts with the session target),
    /// `FOLIO_SHOW_HELP` (the keys open), `FOLIO_EXIT_AFTER_SCAN` (close
    /// the window when the scan ends), `FOLIO_DEMO_SIGN_IN=ID` (sign in as ID
    /// with the PIN in `FOLIO_PIN`, as the command line does) and
    /// `FOLIO_START_SAMPLE=BATCH` (Review walking that batch's sample).
    fn demo_hooks(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let (Some(id), Some(pin)) = (var("FOLIO_DEMO_SIGN_IN"), var("FOLIO_PIN")) {
            self.sign_in.id = id.clone();
            self.sign_in.waiting = true;
            self.send(Command::SignIn {
                id,
                secret: station::Secret::new(pin),
            });
        }
        if let Some(batch) = var("FOLIO_START_SAMPLE") {
            self.tab = Tab::Review;
            let mut ctx = screen_ctx!(self);
            self.review.start_sample(&mut ctx, batch);
            self.apply_commands();
        }
        if let Some(t) = var("FOLIO_START_TAB") {
            self.tab = match t.as_str() {
                "review" => Tab::Review,
                "on-demand" => Tab::OnDemand,
                "uploads" => Tab::Uploads,
                "settings" => Tab::Settings,
                "statistics" => Tab::Statistics,
                "destruction" => Tab::Destruction,
                _ => Tab::Scan,
            };
        }
        if let Some(n) = var("FOLIO_DEMO_AUTOSCAN").and_then(|v| v.parse::<u32>().ok()) {
            self.scanner.device = crate::capture::DEMO_DEVICE.into();
            self.scanner.demo_records = n;
            self.scanner.demo_target = var("FOLIO_DEMO_TARGET").is_some_and(|v| v == "1");
            self.scanner.demo_speed = var("FOLIO_DEMO_SPEED")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if let Some(k) = var("FOLIO_DEMO_JAM_AFTER") {
                self.scanner.extra_options =
                    vec![("fault-after".into(), k), ("fault".into(), "jammed".into())];
            }
            let mut ctx = screen_ctx!(self);
            self.scan.start(&mut ctx, None);
            self.apply_commands();
        }
        self.exit_after_scan = var("FOLIO_EXIT_AFTER_SCAN").is_some();
        self.show_help = var("FOLIO_SHOW_HELP").is_some();
    }

    /// Textures held, and their bytes (tests, and the memory bound).
    pub fn textures_loaded(&self) -> (usize, usize) {
        self.textures.loaded()
    }

    /// Whether the image with this SHA-256 is held as a texture.
    pub fn has_texture(&self, sha: &str) -> bool {
        self.textures.has(sha)
    }

    /// A batch's id as shown on buttons (see [`batch_name`]).
    pub fn batch_name(&self, id: &str) -> String {
        batch_name(&self.snapshot, id)
    }

    /// Whether the window waits for someone to sign in (a station with
    /// accounts, locked or not yet signed in); a scan running goes on.
    pub fn locked(&self) -> bool {
        self.station.has_accounts() && self.station.signed_in().is_none_or(|a| a.role.is_none())
    }

    /// Who acts at the window: the operator signed in, or the demo account
    /// at a station without accounts.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Locks the window (Ctrl+L, the idle time): the sign-in screen until
    /// someone signs in; a scan running goes on. A station without accounts
    /// has nobody to sign in, so nothing happens there.
    pub fn lock(&mut self, why: &str) {
        if !self.station.has_accounts() {
            return;
        }
        self.station.lock();
        self.sign_in.opened(Some(why.to_string()));
        self.show_help = false;
    }

    /// Tests: the last key press or pointer movement was `d` ago.
    #[doc(hidden)]
    pub fn pretend_idle(&mut self, d: Duration) {
        self.last_input = Instant::now().checked_sub(d).unwrap_or(self.last_input);
    }

    pub fn sign_in_screen(&self) -> &SignInScreen {
        &self.sign_in
    }

    /// The screen shown.
    pub fn tab(&self) -> Tab {
        self.tab
    }

    pub fn scan(&self) -> &ScanScreen {
        &self.scan
    }

    pub fn on_demand(&self) -> &OnDemandScreen {
        &self.on_demand
    }

    pub fn review(&self) -> &ReviewScreen {
        &self.review
    }

    pub fn review_mut(&mut self) -> &mut ReviewScreen {
        &mut self.review
    }

    pub fn uploads(&self) -> &UploadScreen {
        &self.uploads
    }

    pub fn settings(&self) -> &SettingsScreen {
        &self.settings
    }

    pub fn stats(&self) -> &StatsScreen {
        &self.stats
    }

    pub fn destruction(&self) -> &DestructionScreen {
        &self.destruction
    }

    /// The scanner chosen (on the Scan screen), used by every screen.
    pub fn scanner_mut(&mut self) -> &mut ScannerChoice {
        &mut self.scanner
    }

    /// A scan runs (from the Scan or the On demand screen).
    pub fn scanning(&self) -> bool {
        self.scan.view.scanning || self.on_demand.view.scanning
    }

    /// The window was asked to close while a scan runs, and is asking first.
    pub fn close_asked(&self) -> bool {
        self.close_asked
    }

    /// Hands a command to the station; a refusal (queue full, workers
    /// gone) is said on the status line.
    pub fn send(&mut self, c: Command) {
        if let Err(e) = self.station.send(c) {
            notice(&mut self.notices, e.to_string(), true);
        }
    }

    /// Applies worker events for at most the frame's budget.
    pub fn drain(&mut self, ctx: &egui::Context) {
        self.frame_times.begin();
        let start = Instant::now();
        while start.elapsed() < DRAIN_BUDGET {
            let Ok(event) = self.station.events.try_recv() else {
                self.apply_commands();
                return;
            };
            self.apply(ctx, event);
        }
        self.apply_commands();
        // More left: come back next frame.
        ctx.request_repaint();
    }

    /// Hands an event to the screen that cares.
    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::SignedIn(r) => {
                self.sign_in.answered(&r);
                if let Ok(who) = r {
                    notice(
                        &mut self.notices,
                        format!(
                            "signed in as {}{}",
                            shown(&who.operator),
                            who.role.map(|r| format!(" ({r})")).unwrap_or_default()
                        ),
                        false,
                    );
                    // Another person starts a scanning session of their
                    // own: the last one's test target is not theirs.
                    if who.operator != self.actor.operator {
                        self.scan.view.target = None;
                        self.on_demand.view.target = None;
                    }
                    self.actor = who;
                    self.last_input = Instant::now();
                }
            }
            Event::Snapshot(s) => {
                self.snapshot = *s;
                // The first scanner found until the operator picks one.
                if self.scanner.device.is_empty()
                    && let Some(d) = self.snapshot.devices.first()
                {
                    self.scanner.device = d.clone();
                }
                self.review.on_snapshot();
            }
            Event::Tree(t) => self.tree = Some(*t),
            Event::Pages { batch, items } => self.review.on_pages(&batch, items),
            Event::Image {
                sha256,
                width,
                height,
                rgba,
            } => self.textures.insert(ctx, sha256, width, height, &rgba),
            Event::Notice(n) => notice(&mut self.notices, n, false),
            Event::Error(e) => {
                self.review.on_error();
                notice(&mut self.notices, e.to_string(), true)
            }
            Event::Upload(e) => self.upload_event(e),
            Event::UploadBytes(n) => self.uploads.live_bytes = n,
            Event::UploadsRunning(on) => self.uploads.running = on,
            Event::SettingsSaved(r) => self.settings.on_saved(r),
            Event::Stats(o) => self.stats.on_stats(*o),
            Event::RescanStarted(t) => self.review.on_rescan_started(t),
            e @ (Event::ScanStarted(_)
            | Event::Progress(_)
            | Event::Band { .. }
            | Event::ScanEnded(_)) => {
                if matches!(e, Event::ScanStarted(_)) {
                    // A scan under way again: the last one's faults are
                    // resolved (their banner is gone too).
                    self.notices.retain(|(_, error)| !error);
                }
                let view = match self.scan_owner {
                    Tab::OnDemand => &mut self.on_demand.view,
                    _ => &mut self.scan.view,
                };
                if let Some((text, error)) = view.apply(ctx, e, &mut self.commands, &self.snapshot)
                {
                    notice(&mut self.notices, text, error);
                }
            }
        }
    }

    fn upload_event(&mut self, e: UploadEvent) {
        // A batch's state changed: fetch the queue and batches again.
        if matches!(
            e,
            UploadEvent::Done { .. } | UploadEvent::Parked { .. } | UploadEvent::Retrying { .. }
        ) {
            self.send(Command::Refresh);
        }
        self.uploads.apply(e)
    }

    /// Applies what the screens asked for: commands to the station (a scan's
    /// events then go to the screen that asked), Stops, tab switches; and
    /// sends the images asked for to the image worker.
    fn apply_commands(&mut self) {
        for c in std::mem::take(&mut self.commands) {
            match c {
                ScreenCommand::Station(c) => {
                    if let Command::Scan(req) = &c {
                        // A resume asked for on the On demand screen stays there.
                        self.scan_owner = match req.on_demand {
                            Some(_) => Tab::OnDemand,
                            None if self.tab == Tab::OnDemand => Tab::OnDemand,
                            None => Tab::Scan,
                        };
                    }
                    self.send(c);
                }
                ScreenCommand::Stop(token) => token.cancel(),
                ScreenCommand::ShowTab(tab) => self.show_tab(tab),
            }
        }
        for req in self.textures.take_wanted() {
            if !self.station.request_image(req.clone()) {
                self.textures.not_taken(&req);
            }
        }
    }

    /// Shows a screen; one newly opened is told (its first field takes the
    /// keyboard).
    pub fn show_tab(&mut self, tab: Tab) {
        if self.tab == tab {
            return;
        }
        self.tab = tab;
        self.screen(tab).opened();
    }

    fn screen(&mut self, tab: Tab) -> &mut dyn Screen {
        match tab {
            Tab::Scan => &mut self.scan,
            Tab::Review => &mut self.review,
            Tab::OnDemand => &mut self.on_demand,
            Tab::Uploads => &mut self.uploads,
            Tab::Settings => &mut self.settings,
            Tab::Statistics => &mut self.stats,
            Tab::Destruction => &mut self.destruction,
        }
    }

    /// Stops whichever scan runs, after its current sheet.
    fn stop_scans(&mut self) {
        self.scan.view.stop(&mut self.commands);
        self.on_demand.view.stop(&mut self.commands);
    }

    /// One frame: events, then the screens (what eframe's two steps do).
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        self.drain(ui.ctx());
        self.ui(ui);
    }

    /// Locks the window after `[accounts] idle_lock_minutes` without a key
    /// press or pointer movement, and on Ctrl+L.
    fn idle_lock(&mut self, ctx: &egui::Context) {
        if self.locked() || !self.station.has_accounts() {
            return;
        }
        let (touched, ctrl_l) = ctx.input(|i| {
            let touched = i.events.iter().any(|e| {
                matches!(
                    e,
                    egui::Event::Key { .. }
                        | egui::Event::Text(_)
                        | egui::Event::PointerMoved(_)
                        | egui::Event::PointerButton { .. }
                        | egui::Event::MouseWheel { .. }
                )
            });
            (touched, i.modifiers.command && i.key_pressed(egui::Key::L))
        });
        if ctrl_l {
            ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, egui::Key::L));
            self.lock("Locked. Sign in to go on.");
            return;
        }
        if touched {
            self.last_input = Instant::now();
        }
        let minutes = self.cfg.accounts.idle_lock_minutes;
        if minutes == 0 {
            return;
        }
        let limit = Duration::from_secs(u64::from(minutes) * 60);
        let idle = self.last_input.elapsed();
        if idle >= limit {
            self.lock(&format!(
                "Locked after {minutes} minutes without use. Sign in to go on."
            ));
        } else {
            ctx.request_repaint_after(limit - idle);
        }
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let pressed = |k| ctx.input(|i| i.key_pressed(k));
        for (tab, key) in [
            (Tab::Scan, egui::Key::F2),
            (Tab::Review, egui::Key::F3),
            (Tab::OnDemand, egui::Key::F4),
            (Tab::Uploads, egui::Key::F6),
            (Tab::Settings, egui::Key::F7),
            (Tab::Statistics, egui::Key::F11),
            (Tab::Destruction, egui::Key::F12),
        ] {
            if pressed(key) {
                self.show_tab(tab);
            }
        }
        if pressed(egui::Key::F1) {
            self.show_help = !self.show_help;
        }
    }

    /// The tab bar, with who is signed in where, and Help.
    fn tabs_ui(&mut self, ui: &mut egui::Ui) {
        // Review counts what waits for a decision (flags), not the pages
        // taken out, which are listed there too.
        let flags = self
            .snapshot
            .review
            .iter()
            .filter(|i| matches!(i.kind, crate::store::ReviewKind::Flag { .. }))
            .count();
        egui::Panel::top("tabs").show(ui, |ui| {
            // On a field team's laptop the tabs take the whole row: who is
            // signed in, and Help, go on a row of their own.
            let narrow = ui.available_width() < NARROW_TOP_BAR;
            ui.horizontal(|ui| {
                ui.heading("Folio");
                ui.separator();
                for (tab, name, key) in Tab::ALL {
                    let label = match tab {
                        Tab::Review if flags > 0 => format!("{name} ({flags})"),
                        _ => name.to_string(),
                    };
                    if ui
                        .selectable_label(self.tab == tab, label)
                        .on_hover_text(format!("{name} ({key})"))
                        .clicked()
                    {
                        self.show_tab(tab);
                    }
                }
                if !narrow {
                    self.help_and_who_ui(ui);
                }
            });
            if narrow {
                ui.horizontal(|ui| self.help_and_who_ui(ui));
            }
        });
    }

    /// Help and who is signed in, from the right.
    fn help_and_who_ui(&mut self, ui: &mut egui::Ui) {
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Help")
                .on_hover_text("Keyboard shortcuts (F1)")
                .clicked()
            {
                self.show_help = !self.show_help;
            }
            self.who_ui(ui);
        });
    }

    /// Who acts, where, and the Lock button; the demo account stands out.
    fn who_ui(&mut self, ui: &mut egui::Ui) {
        let a = &self.actor;
        match a.role {
            Some(role) => {
                if ui
                    .button("Lock")
                    .on_hover_text("Lock the window (Ctrl+L); a scan running goes on")
                    .clicked()
                {
                    self.lock("Locked. Sign in to go on.");
                    return;
                }
                ui.label(format!(
                    "{} ({role}) at {}",
                    shown(&a.operator),
                    shown(&a.station)
                ));
            }
            None => {
                ui.label(
                    egui::RichText::new(format!(
                        "\u{26a0} Demo account ({}) at {}",
                        shown(&a.operator),
                        shown(&a.station)
                    ))
                    .strong()
                    .color(ui.visuals().warn_fg_color),
                )
                .on_hover_text(
                    "This station has no operator accounts: anyone may do anything here, and \
                     nothing is attributed to a signed-in person. Before real work an admin \
                     makes the first account (folio operators init); the window then opens \
                     on a sign-in screen.",
                );
            }
        }
    }

    /// The status line: the last two messages, errors in red.
    fn status_ui(&self, ui: &mut egui::Ui) {
        egui::Panel::bottom("status").show(ui, |ui| {
            for (text, error) in self.notices.iter().rev().take(2) {
                let color = if *error {
                    ui.visuals().error_fg_color
                } else {
                    ui.visuals().text_color()
                };
                ui.colored_label(color, shown_long(text));
            }
            if self.notices.is_empty() {
                ui.label("Ready.");
            }
        });
    }

    /// The screen of the tab shown, with what it is lent.
    fn screen_ui(&mut self, ui: &mut egui::Ui) {
        let mut ctx = screen_ctx!(self);
        let screen: &mut dyn Screen = match self.tab {
            Tab::Scan => &mut self.scan,
            Tab::Review => &mut self.review,
            Tab::OnDemand => &mut self.on_demand,
            Tab::Uploads => &mut self.uploads,
            Tab::Settings => &mut self.settings,
            Tab::Statistics => &mut self.stats,
            Tab::Destruction => &mut self.destruction,
        };
        egui::CentralPanel::default().show(ui, |ui| screen.ui(ui, &mut ctx));
    }

    /// The window's contents.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        if !std::mem::replace(&mut self.styled, true) {
            style::apply(ui.ctx());
        }
        self.idle_lock(ui.ctx());
        if self.locked() {
            self.status_ui(ui);
            let (station, scanning) = (self.actor.station.clone(), self.scanning());
            self.sign_in.ui(ui, &station, scanning, &mut self.commands);
        } else {
            self.shortcuts(ui.ctx());
            self.tabs_ui(ui);
            self.status_ui(ui);
            self.screen_ui(ui);
            if self.show_help {
                help_ui(ui.ctx(), &mut self.show_help);
            }
        }
        // While a scan runs the counters and the live page keep moving even
        // between events, and a slow frame shows in the figures.
        if self.scanning() {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        self.confirm_close(ui.ctx());
        self.apply_commands();
        self.frame_times.end(self.scanning());
        let scan = &self.scan.view;
        if self.exit_after_scan
            && !self.scanning()
            && (scan.last_report.is_some() || scan.fault.is_some())
        {
            ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
        }
    }
}

impl StationApp {
    /// Closing the window while a scan runs asks first: the scan is stopped
    /// after the current sheet (its sides kept, the batch listed on the Scan
    /// screen at the next start) and the window closes when it has ended.
    fn confirm_close(&mut self, ctx: &egui::Context) {
        let scanning = self.scanning();
        if ctx.input(|i| i.viewport().close_requested()) && scanning && !self.close_after_scan {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.close_asked = true;
        }
        if self.close_after_scan && !scanning {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
        }
        if !self.close_asked {
            return;
        }
        egui::Modal::new(egui::Id::unique("confirm-close")).show(ctx, |ui| {
            ui.heading("A scan is running");
            ui.label(
                "Closing now stops the feeder in the middle of the batch. The sides \
                 scanned so far are kept, and the batch is listed on the Scan screen \
                 to resume or close.",
            );
            ui.horizontal(|ui| {
                if ui.button("Keep scanning").clicked() {
                    self.close_asked = false;
                }
                if ui.button("Stop and close").clicked() {
                    self.close_asked = false;
                    self.close_after_scan = true;
                    self.stop_scans();
                }
            });
        });
    }
}

/// Every key of the window: the key, what it does, and the screens where it
/// works. Letter keys do nothing while a text field has the keyboard (Esc or
/// a click elsewhere gives it back).
pub const KEYS: &[(&str, &str, &str)] = &[
    ("F1", "this help", "every screen"),
    ("Ctrl+L", "lock the window (a scan goes on)", "every screen"),
    ("F2", "the Scan screen", "every screen"),
    ("F3", "the Review screen", "every screen"),
    ("F4", "the On demand screen", "every screen"),
    ("F6", "the Uploads screen", "every screen"),
    ("F7", "the Settings screen", "every screen"),
    ("F11", "the Statistics screen", "every screen"),
    ("F12", "the Destruction screen", "every screen"),
    (
        "F5",
        "start scanning a new batch / the patient's record",
        "Scan, On demand",
    ),
    (
        "Esc",
        "stop scanning after the current sheet",
        "Scan, On demand",
    ),
    ("F8", "resume the batch that stopped", "Scan, On demand"),
    (
        "F9",
        "close the batch as it is (it goes to Review)",
        "Scan, On demand",
    ),
    ("F10", "show or hide the records tree", "Scan, On demand"),
    (
        "Right / Left",
        "next / previous page in the strip",
        "Scan, On demand",
    ),
    (
        "P / W / 1",
        "whole page / page width / 1:1",
        "Scan, On demand, Review",
    ),
    ("+ / -", "zoom in / out", "Scan, On demand, Review"),
    (
        "Down / Up (or Right / Left)",
        "next / previous item",
        "Review",
    ),
    (
        "A",
        "approve the page shown as it is (all its flags)",
        "Review",
    ),
    ("T / U / L", "turn the page right / over / left", "Review"),
    ("Delete or X", "remove the page", "Review"),
    ("R", "restore a removed page", "Review"),
    (
        "M",
        "mark the page for rescan (the reason typed, if any)",
        "Review",
    ),
    ("S", "rescan it now and replace it", "Review"),
    (
        "Ctrl+Enter",
        "approve the batch of the page shown (when it may go)",
        "Review",
    ),
    (
        "Enter",
        "save the sheets counted being typed",
        "Review (Batches)",
    ),
    ("Q", "show or hide the queue", "Review"),
    ("B", "show or hide the batches awaiting approval", "Review"),
    (
        "Y / N",
        "the sampled side passes / fails (the reason typed)",
        "Review (sample check)",
    ),
    (
        "Esc",
        "stop a rescan, or go back from a batch's pages to the flags",
        "Review",
    ),
];

fn help_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard shortcuts")
        .open(open)
        .vscroll(true)
        .show(ctx, |ui| {
            ui.label("Letter keys work when no text field has the keyboard (press Esc or click the page first).");
            egui::Grid::new("keys").striped(true).show(ui, |ui| {
                ui.strong("Key");
                ui.strong("What it does");
                ui.strong("Where");
                ui.end_row();
                for (key, what, screen) in KEYS {
                    ui.monospace(*key);
                    ui.label(*what);
                    ui.label(*screen);
                    ui.end_row();
                }
            });
        });
}

impl eframe::App for StationApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.drain(ctx);
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        StationApp::ui(self, ui);
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        let busy = self.station.shutdown();
        if !busy.is_empty() {
            tracing::warn!("closing with threads still ending: {}", busy.join(", "));
        }
        let summary = self.frame_times.summary();
        tracing::info!("{summary}");
        if std::env::var_os("FOLIO_FRAME_STATS").is_some() {
            eprintln!("{summary}");
        }
    }
}

/// Opens the station window on `data_dir`.
pub fn run_window(data_dir: std::path::PathBuf, cfg: Config, actor: Actor) -> anyhow::Result<()> {
    // FOLIO_WINDOW_SIZE=WxH (screenshots at the sizes the window is used at).
    let size = std::env::var("FOLIO_WINDOW_SIZE")
        .ok()
        .and_then(|v| {
            let (w, h) = v.split_once('x')?;
            Some([w.trim().parse::<f32>().ok()?, h.trim().parse::<f32>().ok()?])
        })
        .unwrap_or([1280.0, 800.0]);
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Folio scanning station")
            .with_inner_size(size),
        ..Default::default()
    };
    eframe::run_native(
        "Folio",
        options,
        Box::new(move |cc| {
            let ctx = cc.egui_ctx.clone();
            let wake = std::sync::Arc::new(move || ctx.request_repaint());
            Ok(Box::new(StationApp::new(data_dir, cfg, actor, wake)?))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the station window: {e}"))
}
