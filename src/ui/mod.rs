//! The station window (eframe/egui): Scan, Review, On demand, Uploads and
//! Settings. It only sends commands to the station workers and renders their
//! events: no database, socket or scanner is touched on the UI thread. Events
//! are drained in eframe's logic step within a time budget; textures are made
//! from images the worker already decoded, once each.

mod review;
mod scan;
mod settings;
mod uploads;

use crate::config::Config;
use crate::store::{Actor, BatchTree};
use crate::workers::UploadEvent;
use crate::workers::station::{self, Command, Event, ImageRequest, Snapshot, Station};
use eframe::egui;
use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// The screens, in the order of the tab bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Scan,
    Review,
    OnDemand,
    Uploads,
    Settings,
}

impl Tab {
    const ALL: [(Tab, &'static str, &'static str); 5] = [
        (Tab::Scan, "Scan", "F2"),
        (Tab::Review, "Review", "F3"),
        (Tab::OnDemand, "On demand", "F4"),
        (Tab::Uploads, "Uploads", "F6"),
        (Tab::Settings, "Settings", "F7"),
    ];
}

/// Longest the window spends on worker events in one frame.
const DRAIN_BUDGET: Duration = Duration::from_millis(4);
/// Bytes of textures kept: some hundreds of thumbnails (145 KB each), a few
/// previews (6 MB) and a page or two at full resolution (35 MB at 300 dpi).
/// With a software renderer these live in the process's own memory.
const TEXTURE_BUDGET: usize = 96 << 20;

/// Textures made from stored images, by SHA-256, oldest made first out once
/// they pass the budget, so memory stays bounded however long the batch.
#[derive(Default)]
pub struct Textures {
    by_sha: HashMap<String, (egui::TextureHandle, usize)>,
    order: VecDeque<String>,
    requested: HashSet<String>,
    bytes: usize,
}

impl Textures {
    /// The texture of a thumbnail or preview, asking the workers for it the
    /// first time.
    pub fn get(&mut self, sha: &str, station: &Station) -> Option<&egui::TextureHandle> {
        self.request(ImageRequest::Rendering(sha.to_string()), station)
    }

    /// The texture of an image, asking the workers for it the first time.
    pub fn request(
        &mut self,
        req: ImageRequest,
        station: &Station,
    ) -> Option<&egui::TextureHandle> {
        let sha = req.sha256();
        if !self.by_sha.contains_key(sha)
            && !self.requested.contains(sha)
            && station.request_image(req.clone())
        {
            self.requested.insert(sha.to_string());
        }
        self.by_sha.get(req.sha256()).map(|(t, _)| t)
    }

    fn insert(&mut self, ctx: &egui::Context, sha: String, w: usize, h: usize, rgba: &[u8]) {
        let image = egui::ColorImage::from_rgba_unmultiplied([w, h], rgba);
        let tex = ctx.load_texture(&sha, image, egui::TextureOptions::LINEAR);
        if let Some((_, b)) = self.by_sha.insert(sha.clone(), (tex, rgba.len())) {
            self.bytes -= b;
        }
        self.bytes += rgba.len();
        self.order.push_back(sha);
        while self.bytes > TEXTURE_BUDGET && self.order.len() > 1 {
            if let Some(old) = self.order.pop_front()
                && let Some((_, b)) = self.by_sha.remove(&old)
            {
                self.bytes -= b;
                self.requested.remove(&old);
            }
        }
    }
}

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

/// What the window knows, from the workers' events.
pub struct StationApp {
    pub station: Station,
    pub cfg: Config,
    pub actor: Actor,
    pub tab: Tab,
    pub snapshot: Snapshot,
    pub tree: Option<BatchTree>,
    pub textures: Textures,
    pub scan: scan::ScanScreen,
    pub review: review::ReviewScreen,
    pub uploads: uploads::UploadScreen,
    pub settings: settings::SettingsScreen,
    /// Recent messages for the status line (newest last).
    pub notices: VecDeque<(String, bool)>,
    pub show_help: bool,
    pub frame_times: FrameTimes,
    exit_after_scan: bool,
    /// The window was asked to close while a scan runs: asking first.
    pub close_asked: bool,
    /// Close once the scan being stopped has ended.
    close_after_scan: bool,
}

impl StationApp {
    /// Starts the workers on `data_dir`.
    pub fn new(
        data_dir: std::path::PathBuf,
        cfg: Config,
        actor: Actor,
        wake: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Result<StationApp, crate::store::StoreError> {
        let station = station::spawn(data_dir.clone(), cfg.clone(), actor.clone(), wake)?;
        let mut app = StationApp {
            station,
            settings: settings::SettingsScreen::new(&cfg, &actor, &data_dir),
            cfg,
            actor,
            tab: Tab::Scan,
            snapshot: Snapshot::default(),
            tree: None,
            textures: Textures::default(),
            scan: scan::ScanScreen::default(),
            review: review::ReviewScreen::default(),
            uploads: uploads::UploadScreen::default(),
            notices: VecDeque::new(),
            show_help: false,
            frame_times: FrameTimes::default(),
            exit_after_scan: false,
            close_asked: false,
            close_after_scan: false,
        };
        app.demo_hooks();
        Ok(app)
    }

    /// For demonstrations, screenshots and frame-time measurement under Xvfb:
    /// `FOLIO_START_TAB` (scan, review, on-demand, uploads, settings),
    /// `FOLIO_DEMO_AUTOSCAN=N` (scan N demo records at `FOLIO_DEMO_SPEED` sides
    /// a minute) and `FOLIO_EXIT_AFTER_SCAN` (close the window when it ends).
    fn demo_hooks(&mut self) {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(t) = var("FOLIO_START_TAB") {
            self.tab = match t.as_str() {
                "review" => Tab::Review,
                "on-demand" => Tab::OnDemand,
                "uploads" => Tab::Uploads,
                "settings" => Tab::Settings,
                _ => Tab::Scan,
            };
        }
        if let Some(n) = var("FOLIO_DEMO_AUTOSCAN").and_then(|v| v.parse::<u32>().ok()) {
            self.scan.device = crate::capture::DEMO_DEVICE.into();
            self.scan.demo_records = n;
            self.scan.demo_speed = var("FOLIO_DEMO_SPEED")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            self.scan.zoom = 1.0;
            scan::start(self, None);
        }
        self.exit_after_scan = var("FOLIO_EXIT_AFTER_SCAN").is_some();
    }

    /// Textures held, and their bytes (tests, and the memory bound).
    pub fn textures_loaded(&self) -> (usize, usize) {
        (self.textures.by_sha.len(), self.textures.bytes)
    }

    /// Whether the image with this SHA-256 is held as a texture.
    pub fn has_texture(&self, sha: &str) -> bool {
        self.textures.by_sha.contains_key(sha)
    }

    /// A batch's id as shown on buttons: its first 8 characters, or more
    /// until no other batch listed shares them (ids made within a minute of
    /// each other start alike). `folio` accepts any unique prefix of 6+.
    pub fn batch_name(&self, id: &str) -> String {
        let others: Vec<&str> = self
            .snapshot
            .batches
            .iter()
            .map(|b| b.id.as_str())
            .filter(|o| *o != id)
            .collect();
        let mut n = 8.min(id.len());
        while n < id.len() && others.iter().any(|o| o.starts_with(&id[..n])) {
            n += 1;
        }
        id[..n].to_string()
    }

    pub fn send(&mut self, c: Command) {
        if let Err(e) = self.station.send(c) {
            self.notice(e.to_string(), true);
        }
    }

    fn notice(&mut self, text: String, error: bool) {
        self.notices.push_back((text, error));
        while self.notices.len() > 5 {
            self.notices.pop_front();
        }
    }

    /// Applies worker events for at most the frame's budget.
    pub fn drain(&mut self, ctx: &egui::Context) {
        self.frame_times.begin();
        let start = Instant::now();
        while start.elapsed() < DRAIN_BUDGET {
            let Ok(event) = self.station.events.try_recv() else {
                return;
            };
            self.apply(ctx, event);
        }
        // More left: come back next frame.
        ctx.request_repaint();
    }

    fn apply(&mut self, ctx: &egui::Context, event: Event) {
        match event {
            Event::Snapshot(s) => {
                self.snapshot = *s;
                // The first scanner found until the operator picks one.
                if self.scan.device.is_empty()
                    && let Some(d) = self.snapshot.devices.first()
                {
                    self.scan.device = d.clone();
                }
                self.review.rescanning = None;
            }
            Event::Tree(t) => self.tree = Some(*t),
            Event::Pages { batch, items } => {
                if self.review.browse.as_ref() == Some(&batch) {
                    self.review.pages = items;
                }
            }
            Event::Image {
                sha256,
                width,
                height,
                rgba,
            } => self.textures.insert(ctx, sha256, width, height, &rgba),
            Event::Notice(n) => self.notice(n, false),
            Event::Error(e) => {
                self.review.rescanning = None;
                self.notice(e.to_string(), true)
            }
            Event::Upload(e) => {
                // A batch's state changed: fetch the queue and batches again.
                if matches!(
                    e,
                    UploadEvent::Done { .. }
                        | UploadEvent::Parked { .. }
                        | UploadEvent::Retrying { .. }
                ) {
                    self.send(Command::Refresh);
                }
                self.uploads.apply(e)
            }
            Event::UploadBytes(n) => self.uploads.live_bytes = n,
            // A page rescan: one sheet, over in seconds.
            Event::RescanStarted(_) => {}
            Event::UploadsRunning(on) => self.uploads.running = on,
            other => {
                if let Some(msg) = self.scan.apply(ctx, other) {
                    self.notice(msg.0, msg.1);
                }
            }
        }
    }

    /// One frame: events, then the screens (what eframe's two steps do).
    pub fn frame(&mut self, ui: &mut egui::Ui) {
        self.drain(ui.ctx());
        self.ui(ui);
    }

    fn shortcuts(&mut self, ctx: &egui::Context) {
        let pressed = |k| ctx.input(|i| i.key_pressed(k));
        for (tab, key) in [
            (Tab::Scan, egui::Key::F2),
            (Tab::Review, egui::Key::F3),
            (Tab::OnDemand, egui::Key::F4),
            (Tab::Uploads, egui::Key::F6),
            (Tab::Settings, egui::Key::F7),
        ] {
            if pressed(key) {
                self.tab = tab;
            }
        }
        if pressed(egui::Key::F1) {
            self.show_help = !self.show_help;
        }
    }

    /// The window's contents.
    pub fn ui(&mut self, ui: &mut egui::Ui) {
        self.shortcuts(ui.ctx());
        egui::Panel::top("tabs").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.heading("Folio");
                ui.separator();
                for (tab, name, key) in Tab::ALL {
                    // Review counts what waits for a decision (flags), not
                    // the pages taken out, which are listed there too.
                    let flags = self
                        .snapshot
                        .review
                        .iter()
                        .filter(|i| matches!(i.kind, crate::store::ReviewKind::Flag { .. }))
                        .count();
                    let label = match tab {
                        Tab::Review if flags > 0 => format!("{name} ({flags})"),
                        _ => name.to_string(),
                    };
                    if ui
                        .selectable_label(self.tab == tab, label)
                        .on_hover_text(format!("{name} ({key})"))
                        .clicked()
                    {
                        self.tab = tab;
                    }
                }
                ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                    if ui
                        .button("Help")
                        .on_hover_text("Keyboard shortcuts (F1)")
                        .clicked()
                    {
                        self.show_help = !self.show_help;
                    }
                    ui.label(format!(
                        "{} at {}",
                        shown(&self.actor.operator),
                        shown(&self.actor.station)
                    ));
                });
            });
        });
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
        egui::CentralPanel::default().show(ui, |ui| match self.tab {
            Tab::Scan => scan::scan_ui(self, ui),
            Tab::Review => review::review_ui(self, ui),
            Tab::OnDemand => scan::on_demand_ui(self, ui),
            Tab::Uploads => uploads::uploads_ui(self, ui),
            Tab::Settings => settings::settings_ui(self, ui),
        });
        if self.show_help {
            help_ui(ui.ctx(), &mut self.show_help);
        }
        // While a scan runs the counters and the live page keep moving even
        // between events, and a slow frame shows in the figures.
        if self.scan.scanning {
            ui.ctx().request_repaint_after(Duration::from_millis(100));
        }
        self.confirm_close(ui.ctx());
        self.frame_times.end(self.scan.scanning);
        if self.exit_after_scan
            && !self.scan.scanning
            && (self.scan.last_report.is_some() || self.scan.fault.is_some())
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
        if ctx.input(|i| i.viewport().close_requested())
            && self.scan.scanning
            && !self.close_after_scan
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.close_asked = true;
        }
        if self.close_after_scan && !self.scan.scanning {
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
                    scan::stop(self);
                }
            });
        });
    }
}

fn help_ui(ctx: &egui::Context, open: &mut bool) {
    egui::Window::new("Keyboard shortcuts")
        .open(open)
        .show(ctx, |ui| {
            egui::Grid::new("keys").striped(true).show(ui, |ui| {
                for (key, what) in [
                    ("F1", "this help"),
                    (
                        "F2 / F3 / F4 / F6 / F7",
                        "Scan / Review / On demand / Uploads / Settings",
                    ),
                    ("F5", "start scanning (Scan)"),
                    ("Esc", "stop scanning"),
                    ("Right / Left", "next / previous page (Scan, Review)"),
                    ("Down / Up", "next / previous item (Review)"),
                    ("A", "approve the selected page (Review)"),
                    ("T / U / L", "turn the page right / over / left (Review)"),
                    ("Delete or X", "remove the page (Review)"),
                    ("R", "restore a removed page (Review)"),
                    ("M", "mark the page for rescan (Review)"),
                    ("S", "rescan it now and replace it (Review)"),
                    ("+ / -", "zoom in / out"),
                ] {
                    ui.monospace(key);
                    ui.label(what);
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
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Folio scanning station")
            .with_inner_size([1280.0, 800.0]),
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
