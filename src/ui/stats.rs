//! The Statistics screen: a bureau manager's view of the work done in a
//! range of days (typed, or the last 7 or 30): charts of sheets per day and
//! per operator, flags per 1,000 sides by code and the run rate against the
//! daily target, with every figure in a table beside them (above them in a
//! narrow window; per day, operator or station). The figures come from the
//! reader ([`Command::Stats`], answered by
//! [`crate::workers::station::Event::Stats`]), and are asked for again when a
//! batch is started, closed or delivered while the screen is shown; nothing
//! here reads the database. Runs on the UI thread.

use super::context::{Screen, ScreenCtx};
use super::shown;
use crate::batch::stats::{DateRange, GroupBy, GroupStats, Overview, day_text, duration_words};
use crate::batch::{BatchState, OutboxState};
use crate::workers::station::{Command, Snapshot};
use eframe::egui;
use egui_plot::{Bar, BarChart, GridMark, HLine, Legend, Line, Plot};
use std::ops::RangeInclusive;

/// Height of one chart.
const CHART_HEIGHT: f32 = 190.0;
/// From this width on, the table stands beside the charts.
const SIDE_BY_SIDE: f32 = 1500.0;

/// The screen's state: the range typed, the figures last read.
pub struct StatsScreen {
    pub from: String,
    pub to: String,
    /// Why the range typed is refused, in words.
    pub problem: Option<String>,
    /// The figures last read (of their own range).
    pub overview: Option<Overview>,
    /// What the table is grouped by.
    pub by: GroupBy,
    /// Ask for the figures of the range typed on the next frame.
    want: bool,
    /// Asked, and no answer yet.
    pub waiting: bool,
    /// What the figures depend on in the snapshot, when last seen.
    seen: Option<(usize, usize, usize)>,
}

impl Default for StatsScreen {
    fn default() -> StatsScreen {
        let mut s = StatsScreen {
            from: String::new(),
            to: String::new(),
            problem: None,
            overview: None,
            by: GroupBy::Day,
            want: false,
            waiting: false,
            seen: None,
        };
        s.set_range(DateRange::last_days(today(), 30));
        s
    }
}

/// Today's date (UTC, as the station records times).
fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

impl StatsScreen {
    /// The figures the reader sent.
    pub fn on_stats(&mut self, o: Overview) {
        self.waiting = false;
        self.overview = Some(o);
    }

    fn set_range(&mut self, r: DateRange) {
        self.from = r.from_text();
        self.to = r.to_text();
    }

    /// Checks the range typed and asks for its figures.
    fn ask(&mut self, ctx: &mut ScreenCtx) {
        self.want = false;
        let range =
            DateRange::from_texts(Some(("From", &self.from)), Some(("To", &self.to)), today());
        match range {
            Ok(r) => {
                self.problem = None;
                self.waiting = true;
                ctx.send(Command::Stats {
                    from: r.from,
                    to: r.to,
                });
            }
            Err(e) => self.problem = Some(e.to_string()),
        }
    }

    /// From, To, Show, and the last 7 or 30 days.
    fn filter_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            for (name, text) in [("From", &mut self.from), ("To", &mut self.to)] {
                let l = ui.label(name);
                let r = ui
                    .add(egui::TextEdit::singleline(text).desired_width(96.0))
                    .labelled_by(l.id);
                if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                    self.want = true;
                }
            }
            if ui.button("Show").clicked() {
                self.want = true;
            }
            ui.separator();
            for days in [7, 30] {
                if ui.button(format!("Last {days} days")).clicked() {
                    self.set_range(DateRange::last_days(today(), days));
                    self.want = true;
                }
            }
            if self.waiting {
                ui.spinner();
            }
        });
    }
}

/// Batches, those past scanning, and those uploaded: when one of these
/// changes (a batch started, closed or delivered), the figures are read again.
fn fingerprint(s: &Snapshot) -> (usize, usize, usize) {
    let done = s.outbox.iter().filter(|o| o.state == OutboxState::Done);
    let closed = s.batches.iter().filter(|b| b.state != BatchState::Scanning);
    (s.batches.len(), closed.count(), done.count())
}

impl StatsScreen {
    /// Asks again for the days shown when the station's batches changed.
    fn follow(&mut self, ctx: &mut ScreenCtx) {
        let now = fingerprint(ctx.snapshot);
        let changed = self.seen.is_some_and(|seen| seen != now);
        self.seen = Some(now);
        if let (true, false, Some(o)) = (changed, self.waiting, &self.overview) {
            let (from, to) = (o.range.from, o.range.to);
            self.waiting = true;
            ctx.send(Command::Stats { from, to });
        }
    }
}

impl Screen for StatsScreen {
    fn ui(&mut self, ui: &mut egui::Ui, ctx: &mut ScreenCtx) {
        self.filter_ui(ui);
        if self.want {
            self.ask(ctx);
        }
        self.follow(ctx);
        if let Some(p) = &self.problem {
            ui.colored_label(ui.visuals().error_fg_color, p);
        }
        let Some(o) = &self.overview else {
            ui.label("Reading the figures…");
            return;
        };
        summary_ui(ui, o);
        ui.separator();
        if o.total.batches == 0 {
            ui.label("No batches were started in these days: choose other days above.");
            return;
        }
        let by = &mut self.by;
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if ui.available_width() >= SIDE_BY_SIDE {
                    ui.columns(2, |cols| {
                        charts_ui(&mut cols[0], o);
                        table_ui(&mut cols[1], o, by);
                    });
                } else {
                    // Narrow: the figures first, the charts under them.
                    table_ui(ui, o, by);
                    ui.separator();
                    charts_ui(ui, o);
                }
            });
    }

    fn opened(&mut self) {
        self.want = true;
    }
}

/// The range and the figures of all its batches in one line.
fn summary_ui(ui: &mut egui::Ui, o: &Overview) {
    let t = &o.total;
    ui.label(format!(
        "{} to {}: {} batches, {} sheets, {} sides; {} sheets an hour of scanning",
        o.range.from_text(),
        o.range.to_text(),
        t.batches,
        t.sheets,
        t.sides,
        num(t.sheets_per_hour, 0),
    ));
    let plan = match (t.sheets_per_station_day, t.percent_of_target) {
        (Some(r), Some(p)) => format!(
            "Run rate {r:.0} sheets per station per day worked: {p:.0}% of the target of {}",
            o.target_sheets_per_day
        ),
        _ => format!(
            "Run rate: nothing scanned yet (target {} sheets per station per day)",
            o.target_sheets_per_day
        ),
    };
    let behind = t.percent_of_target.is_some_and(|p| p < 100.0);
    let color = if behind {
        ui.visuals().warn_fg_color
    } else {
        ui.visuals().text_color()
    };
    ui.colored_label(color, plan);
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

/// A chart that does not move under the mouse (the page scrolls instead).
fn chart<'a>(id: &str, y_label: &str) -> Plot<'a> {
    Plot::new(id)
        .height(CHART_HEIGHT)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .include_y(0.0)
        .y_axis_label(y_label.to_string())
        .legend(Legend::default())
}

/// Names on the x axis at whole numbers (days after the first, operators, codes).
fn names_axis(names: Vec<String>) -> impl Fn(GridMark, &RangeInclusive<f64>) -> String {
    move |mark, _| {
        let i = mark.value.round();
        if (mark.value - i).abs() > 1e-6 || i < 0.0 {
            return String::new();
        }
        names.get(i as usize).cloned().unwrap_or_default()
    }
}

/// The four charts, one under the other.
fn charts_ui(ui: &mut egui::Ui, o: &Overview) {
    let days: Vec<String> = (0..o.range.days())
        .map(|d| {
            o.range
                .from
                .checked_add(time::Duration::days(d))
                .map(|d| day_text(d)[5..].to_string())
                .unwrap_or_default()
        })
        .collect();
    let at = |g: &GroupStats| o.range.offset_of(&g.key).map(|x| x as f64);
    ui.strong("Sheets per day");
    let bars: Vec<Bar> = o
        .by_day
        .iter()
        .filter_map(|g| Some(Bar::new(at(g)?, g.sheets as f64).name(&g.key)))
        .collect();
    chart("stats-sheets-per-day", "sheets")
        .x_axis_formatter(names_axis(days.clone()))
        .show(ui, |p| {
            p.bar_chart(BarChart::new("Sheets", bars).width(0.7))
        });
    ui.strong("Sheets per operator");
    let operators: Vec<String> = o
        .by_operator
        .iter()
        .map(|g| crate::batch::printable(&g.key, 14))
        .collect();
    let bars: Vec<Bar> = o
        .by_operator
        .iter()
        .enumerate()
        .map(|(i, g)| Bar::new(i as f64, g.sheets as f64).name(shown(&g.key)))
        .collect();
    chart("stats-sheets-per-operator", "sheets")
        .x_axis_formatter(names_axis(operators))
        .show(ui, |p| {
            p.bar_chart(BarChart::new("Sheets", bars).width(0.6))
        });
    flags_chart_ui(ui, o);
    ui.strong("Run rate against the target");
    let points: Vec<[f64; 2]> = o
        .by_day
        .iter()
        .filter_map(|g| Some([at(g)?, g.sheets_per_station_day?]))
        .collect();
    let target = f64::from(o.target_sheets_per_day);
    chart("stats-run-rate", "sheets per station-day")
        .x_axis_formatter(names_axis(days))
        .include_y(target * 1.1)
        .show(ui, |p| {
            p.line(Line::new("Sheets per station per day", points).width(2.0));
            p.hline(HLine::new("Target", target).width(1.5));
        });
}

/// Flags per 1,000 sides of the whole range, by code.
fn flags_chart_ui(ui: &mut egui::Ui, o: &Overview) {
    ui.strong("Flags per 1,000 sides, by code");
    let codes = &o.total.flags_per_1000_sides_by_code;
    if codes.is_empty() {
        ui.label("No flags were raised in these days.");
        return;
    }
    let names: Vec<String> = codes
        .keys()
        .map(|c| crate::batch::printable(c, 16))
        .collect();
    let bars: Vec<Bar> = codes
        .iter()
        .enumerate()
        .map(|(i, (code, n))| Bar::new(i as f64, *n).name(shown(code)))
        .collect();
    chart("stats-flags", "per 1,000 sides")
        .x_axis_formatter(names_axis(names))
        .show(ui, |p| {
            p.bar_chart(BarChart::new("Flags per 1,000 sides", bars).width(0.6))
        });
}

const COLUMNS: [&str; 12] = [
    "Batches",
    "Sheets",
    "Sides",
    "Sheets/h",
    "Sides/h",
    "Flags/1000 sides",
    "Rescans",
    "Sample fails",
    "Upload median",
    "Upload 90%",
    "Sheets/station-day",
    "Of target",
];

fn cells(g: &GroupStats) -> [String; 12] {
    let wait = |v: Option<f64>| v.map_or_else(|| "–".into(), duration_words);
    [
        g.batches.to_string(),
        g.sheets.to_string(),
        g.sides.to_string(),
        num(g.sheets_per_hour, 0),
        num(g.sides_per_hour, 0),
        num(g.flags_per_1000_sides, 1),
        g.rescans.to_string(),
        g.sample_failures.to_string(),
        wait(g.first_scan_to_upload_median_secs),
        wait(g.first_scan_to_upload_p90_secs),
        num(g.sheets_per_station_day, 0),
        g.percent_of_target
            .map_or_else(|| "–".into(), |p| format!("{p:.0}%")),
    ]
}

/// Every figure per day, operator or station, and for all together.
fn table_ui(ui: &mut egui::Ui, o: &Overview, by: &mut GroupBy) {
    ui.horizontal(|ui| {
        ui.strong("Figures by");
        for g in GroupBy::ALL {
            ui.selectable_value(by, g, g.as_str());
        }
    });
    egui::ScrollArea::horizontal()
        .id_salt("stats-table-scroll")
        .show(ui, |ui| {
            egui::Grid::new("stats-table")
                .striped(true)
                .spacing([14.0, 4.0])
                .show(ui, |ui| {
                    ui.strong(by.as_str());
                    for c in COLUMNS {
                        ui.strong(c);
                    }
                    ui.end_row();
                    let rows = o.groups(*by).iter().map(|g| (shown(&g.key), g));
                    for (key, g) in rows.chain([("All".to_string(), &o.total)]) {
                        ui.label(key);
                        for c in cells(g) {
                            ui.label(c);
                        }
                        ui.end_row();
                    }
                });
        });
    ui.label(format!(
        "Scanning time counts the gaps between sides stored up to {} s; longer ones are pauses. \
         Upload times run from the first side stored to the verified upload.",
        crate::batch::stats::IDLE_GAP_SECS
    ));
}
