//! The sign-in screen: what the window shows while nobody is signed in at a
//! station with operator accounts (at the start, after Ctrl+L, after the idle
//! time). Keyboard first: id, Enter, PIN, Enter. A scan that is running goes
//! on behind it; the PIN is checked on the store actor (never on the UI
//! thread) and forgotten by the window as soon as it is sent.

use super::context::ScreenCommand;
use crate::workers::station::{Command, Secret};
use eframe::egui;

#[derive(Debug, Default)]
pub struct SignInScreen {
    pub id: String,
    secret: String,
    /// The last answer (a wrong PIN, a lock) or why the window locked.
    pub message: Option<(String, bool)>,
    /// A PIN is being checked.
    pub waiting: bool,
    /// The id field takes the keyboard on the next frame.
    focus_id: bool,
    /// The PIN field takes the keyboard on the next frame.
    focus_secret: bool,
}

impl SignInScreen {
    /// Shown again (after a lock): the id stays for the same person to sign
    /// back in, the PIN field is empty and has the keyboard.
    pub fn opened(&mut self, why: Option<String>) {
        self.secret.clear();
        self.waiting = false;
        self.message = why.map(|w| (w, false));
        if self.id.is_empty() {
            self.focus_id = true;
        } else {
            self.focus_secret = true;
        }
    }

    /// The station's answer.
    pub fn answered(&mut self, result: &Result<crate::store::Actor, String>) {
        self.waiting = false;
        match result {
            Ok(_) => {
                self.message = None;
                self.secret.clear();
            }
            Err(why) => {
                self.message = Some((why.clone(), true));
                self.focus_secret = true;
            }
        }
    }

    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        station: &str,
        scanning: bool,
        commands: &mut Vec<ScreenCommand>,
    ) {
        egui::CentralPanel::default().show(ui, |ui| {
            ui.vertical_centered(|ui| {
                ui.add_space((ui.available_height() * 0.15).min(120.0));
                ui.heading("Sign in to Folio");
                ui.label(format!("Station {}", super::shown(station)));
                ui.add_space(12.0);
                if scanning {
                    ui.colored_label(
                        ui.visuals().warn_fg_color,
                        "A scan is running: it goes on while the window is locked.",
                    );
                    ui.add_space(8.0);
                }
                egui::Grid::new("sign-in")
                    .num_columns(2)
                    .spacing([12.0, 10.0])
                    .show(ui, |ui| self.fields_ui(ui, commands));
                ui.add_space(8.0);
                let button = ui.add_enabled(
                    !self.waiting && self.ready(),
                    egui::Button::new(if self.waiting {
                        "Checking…"
                    } else {
                        "Sign in"
                    }),
                );
                if button.clicked() {
                    self.submit(commands);
                }
                if let Some((text, error)) = &self.message {
                    ui.add_space(8.0);
                    let color = if *error {
                        ui.visuals().error_fg_color
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(color, super::shown_long(text));
                }
                ui.add_space(16.0);
                ui.small(
                    "Forgotten PIN or a locked account: ask an admin. Five wrong PINs lock \
                     an account for 15 minutes.",
                );
            });
        });
    }

    fn fields_ui(&mut self, ui: &mut egui::Ui, commands: &mut Vec<ScreenCommand>) {
        let l = ui.label("Operator id");
        let id = ui
            .add(
                egui::TextEdit::singleline(&mut self.id)
                    .hint_text("e.g. j.smith")
                    .desired_width(220.0),
            )
            .labelled_by(l.id);
        ui.end_row();
        let l = ui.label("PIN or passphrase");
        let secret = ui
            .add(
                egui::TextEdit::singleline(&mut self.secret)
                    .password(true)
                    .desired_width(220.0),
            )
            .labelled_by(l.id);
        ui.end_row();
        let enter = ui.input(|i| i.key_pressed(egui::Key::Enter));
        if id.lost_focus() && enter && !self.id.trim().is_empty() {
            self.focus_secret = true;
        }
        if secret.lost_focus() && enter && self.ready() && !self.waiting {
            self.submit(commands);
        }
        if std::mem::take(&mut self.focus_id) {
            id.request_focus();
        }
        if std::mem::take(&mut self.focus_secret) {
            secret.request_focus();
        }
    }

    fn ready(&self) -> bool {
        !self.id.trim().is_empty() && !self.secret.is_empty()
    }

    /// Sends the id and PIN to be checked; the window keeps no copy.
    fn submit(&mut self, commands: &mut Vec<ScreenCommand>) {
        self.waiting = true;
        self.message = None;
        commands.push(ScreenCommand::Station(Command::SignIn {
            id: self.id.trim().to_string(),
            secret: Secret::new(std::mem::take(&mut self.secret)),
        }));
    }
}
