//! What a screen is lent for one frame ([`ScreenCtx`]) and what it asks of
//! the app shell ([`ScreenCommand`]): screens read the station's snapshot and
//! push commands; the shell applies them after the frame (sending them to the
//! station, switching tabs, stopping a scan). Runs on the UI thread.

use super::Tab;
use super::textures::Textures;
use crate::config::Config;
use crate::store::{Actor, BatchTree};
use crate::workers::station::{CancelToken, Command, ScanRequest, Snapshot};
use eframe::egui;
use std::collections::VecDeque;

/// What a screen asks for; applied by the app shell once the frame is drawn.
// A frame queues a few of these at most, moved once each: not worth a box
// (which would also make every match on a command a match on a box).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum ScreenCommand {
    /// A command for the station's workers.
    Station(Command),
    /// Stop the scan this token belongs to (and no other).
    Stop(CancelToken),
    /// Show another screen.
    ShowTab(Tab),
}

/// Messages for the status line (newest last), as (text, is an error).
pub type Notices = VecDeque<(String, bool)>;

/// How many messages the status line keeps.
const NOTICES_KEPT: usize = 5;

/// Adds a message to the status line, forgetting the oldest past a few.
pub fn notice(notices: &mut Notices, text: String, error: bool) {
    notices.push_back((text, error));
    while notices.len() > NOTICES_KEPT {
        notices.pop_front();
    }
}

/// The scanner chosen on the Scan screen, used by every screen that scans
/// (Scan, On demand, and Review's rescans).
#[derive(Debug, Clone)]
pub struct ScannerChoice {
    pub device: String,
    pub profile: Option<String>,
    /// The demo feeder's stack size and speed (sides a minute; 0 = flat out).
    pub demo_records: u32,
    pub demo_speed: u32,
    /// The demo stack starts with the session test target.
    pub demo_target: bool,
    /// Extra backend options (NAME=VALUE), e.g. to rehearse a fault.
    pub extra_options: Vec<(String, String)>,
}

impl Default for ScannerChoice {
    fn default() -> ScannerChoice {
        ScannerChoice {
            device: String::new(),
            profile: None,
            demo_records: 5,
            demo_speed: 120,
            demo_target: false,
            extra_options: Vec::new(),
        }
    }
}

impl ScannerChoice {
    /// A scan on this scanner (device, profile, options); the caller adds
    /// what the scan is for.
    pub fn request(&self) -> ScanRequest {
        let mut options = self.extra_options.clone();
        if self.device == crate::capture::DEMO_DEVICE {
            options.push(("records".into(), self.demo_records.max(1).to_string()));
            options.push(("speed".into(), self.demo_speed.to_string()));
            if self.demo_target {
                options.push(("target".into(), "yes".into()));
            }
        }
        ScanRequest {
            device: self.device.clone(),
            profile: self.profile.clone(),
            options,
            ..ScanRequest::default()
        }
    }

    /// Picks the first scanner found (or the demo feeder) if none is chosen.
    pub fn choose_default(&mut self, devices: &[String]) {
        if self.device.is_empty() {
            self.device = devices
                .first()
                .cloned()
                .unwrap_or_else(|| crate::capture::DEMO_DEVICE.into());
        }
    }
}

/// What a screen is lent for one frame: the station's state read-only, the
/// textures, the chosen scanner, and queues for commands and messages. The
/// fields are public so a test can build one without the whole window.
pub struct ScreenCtx<'a> {
    pub snapshot: &'a Snapshot,
    /// The record and document tree of the batch last opened, if any.
    pub tree: Option<&'a BatchTree>,
    pub textures: &'a mut Textures,
    pub actor: &'a Actor,
    pub cfg: &'a Config,
    pub scanner: &'a mut ScannerChoice,
    /// A scan runs on the station (started from any screen): another waits.
    pub scanning: bool,
    pub commands: &'a mut Vec<ScreenCommand>,
    pub notices: &'a mut Notices,
}

impl ScreenCtx<'_> {
    /// Queues a command for the station.
    pub fn send(&mut self, c: Command) {
        self.commands.push(ScreenCommand::Station(c));
    }

    /// A message for the status line.
    pub fn notice(&mut self, text: String, error: bool) {
        notice(self.notices, text, error);
    }

    /// A batch's id as shown on buttons (see [`batch_name`]).
    pub fn batch_name(&self, id: &str) -> String {
        batch_name(self.snapshot, id)
    }
}

/// A screen of the station window: a struct owning its state, drawn with
/// what the frame lends it.
pub trait Screen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx);

    /// The screen has just been opened (its tab chosen): e.g. the keyboard
    /// goes to its first field.
    fn opened(&mut self) {}
}

/// A batch's id as shown: the prefix no other batch in the store shares
/// (the reader works them out for every snapshot; see
/// [`crate::batch::short_names`]), or its first characters for a batch the
/// snapshot does not list yet.
pub fn batch_name(snapshot: &Snapshot, id: &str) -> String {
    if let Some(name) = snapshot.names.get(id) {
        return name.clone();
    }
    // A batch newer than the snapshot: named apart from those it knows.
    let known = snapshot.names.keys().map(String::as_str);
    crate::batch::short_names(known.chain([id]))
        .remove(id)
        .unwrap_or_else(|| id.to_string())
}

/// A stored time ("2026-12-02T18:13:18.123Z") as people read it:
/// "2026-12-02 18:13".
pub fn when(stored: &str) -> String {
    let t = crate::batch::printable(stored, 40).replacen('T', " ", 1);
    t.chars().take(16).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_newer_than_the_snapshot_is_named_apart_from_those_it_knows() {
        let known = "01a24d56-3c00-7000-8000-000000000001";
        let snapshot = Snapshot {
            names: crate::batch::short_names([known]),
            ..Snapshot::default()
        };
        assert_eq!(batch_name(&snapshot, known), "01a24d56");
        let newer = "01a24d56-5c00-7000-8000-000000000002";
        assert_eq!(batch_name(&snapshot, newer), "01a24d56-5");
    }
}
