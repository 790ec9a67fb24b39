//! Shared by the window tests: a screen drawn on its own with a
//! [`ScreenCtx`] built here ([`Bed`]: no workers, no database), the scan
//! events the shell would hand it, and layout checks on the accessible
//! rectangles of its controls (what a screenshot comparison would judge:
//! whether a control is inside the window, and how large it is drawn).
#![allow(dead_code)]

use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use folio::config::Config;
use folio::store::Actor;
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
    view(&mut bed.screen).apply(&ctx, e, &mut commands);
    bed.commands = commands;
    h.step();
}

pub fn progress(side: u32) -> Event {
    Event::Progress(Box::new(ScanProgress {
        sides: side + 1,
        sides_per_minute: 60.0,
        flags: 0,
        side,
        sheet: side / 2,
        thumb_sha256: None,
        preview_sha256: None,
        blank: false,
        page_flags: Vec::new(),
        layout: folio::batch::Layout::default(),
    }))
}

pub fn ended(batch: &str) -> Event {
    Event::ScanEnded(Ok(ScanReport {
        batch_id: batch.into(),
        device: "test:0".into(),
        stored_now: 4,
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
