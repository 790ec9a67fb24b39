//! The on-demand worklist, one place for the window and `folio worklist`:
//! [`refresh`] fetches the list from the EHR and keeps it (or notes why it
//! could not, keeping the last one); [`view`] reads the kept list with what
//! the station knows of each patient (scanned here, sent, verified), so an
//! offline laptop works from the last list and says how old it is.

use crate::batch::worklist::{self, Row};
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::upload::ehr::{self, FetchError};
use serde::Serialize;
use time::OffsetDateTime;

/// The worklist as shown.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Worklist {
    /// Where the list came from (the EHR's address, redacted).
    pub source: Option<String>,
    /// When the list shown was fetched (None: never).
    pub fetched_at: Option<String>,
    /// Its age in whole minutes.
    pub age_minutes: Option<i64>,
    /// The last try to fetch it.
    pub tried_at: Option<String>,
    /// Why the last try failed (None: it worked), in words.
    pub error: Option<String>,
    /// Upcoming appointments, in deadline order.
    pub rows: Vec<Row>,
    /// Appointments the EHR sent without a start or a patient.
    pub skipped: usize,
    /// Why the central store could not say whom it holds.
    pub store_note: Option<String>,
    pub warnings: Vec<String>,
}

/// Fetches the list from the EHR and keeps it; a failure is kept too (the
/// last list stays) and returned.
pub fn refresh(store: &mut Store, cfg: &Config, now: OffsetDateTime) -> Result<(), RefreshError> {
    let Some(wl) = &cfg.worklist else {
        return Err(RefreshError::NotConfigured);
    };
    let at = crate::rfc3339(now);
    match ehr::fetch(wl, &cfg.upload, now) {
        Ok(list) => {
            store.save_worklist(&list, &crate::upload::fhir::redact_url(&wl.fhir_url), &at)?;
            Ok(())
        }
        Err(e) => {
            store.worklist_failed(&e.to_string(), &at)?;
            Err(RefreshError::Fetch(e))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(
        "this station has no worklist: set [worklist] in config.toml (the EHR's fhir_url and the clinics' locations)"
    )]
    NotConfigured,
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The kept list as it stands at `now` (appointments already begun left
/// out), marked with the station's scans; None without `[worklist]`.
pub fn view(
    store: &Store,
    cfg: &Config,
    now: OffsetDateTime,
) -> Result<Option<Worklist>, StoreError> {
    if cfg.worklist.is_none() {
        return Ok(None);
    }
    let Some(cached) = store.cached_worklist()? else {
        return Ok(Some(Worklist::default()));
    };
    let list = cached.list.unwrap_or_default();
    let items: Vec<_> = list.items.into_iter().filter(|i| i.start > now).collect();
    let appointments: Vec<&str> = items.iter().map(|i| i.appointment_id.as_str()).collect();
    let numbers: Vec<&str> = items
        .iter()
        .filter_map(|i| i.nhs_number.as_deref())
        .collect();
    let linked = store.worklist_links(&appointments)?;
    let by_nhs = store.newest_scans(&numbers)?;
    let rows = worklist::rows(
        &items,
        &list.in_store,
        &linked,
        &by_nhs,
        now,
        ehr::local_offset(now),
    );
    let age_minutes = cached
        .fetched_at
        .as_deref()
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .map(|t| (now - t).whole_minutes().max(0));
    Ok(Some(Worklist {
        source: cached.source,
        fetched_at: cached.fetched_at,
        age_minutes,
        tried_at: Some(cached.tried_at),
        error: cached.last_error,
        rows,
        skipped: list.skipped,
        store_note: list.store_note,
        warnings: list.warnings,
    }))
}

/// When, as people say it: "today 11:30", "tomorrow 09:00", "Wed 9 Dec 14:00".
pub fn when_words(t: OffsetDateTime, now: OffsetDateTime, local: time::UtcOffset) -> String {
    let (t, today) = (t.to_offset(local), now.to_offset(local).date());
    let hm = format!("{:02}:{:02}", t.hour(), t.minute());
    if t.date() == today {
        format!("today {hm}")
    } else if today.next_day() == Some(t.date()) {
        format!("tomorrow {hm}")
    } else {
        let wd = &t.weekday().to_string()[..3];
        let mon = &t.month().to_string()[..3];
        format!("{wd} {} {mon} {hm}", t.day())
    }
}

/// "just now", "12 minutes ago", "3 hours ago", "2 days ago".
pub fn age_words(minutes: i64) -> String {
    match minutes {
        m if m < 1 => "just now".into(),
        1 => "1 minute ago".into(),
        m if m < 120 => format!("{m} minutes ago"),
        m if m < 48 * 60 => format!("{} hours ago", m / 60),
        m => format!("{} days ago", m / (24 * 60)),
    }
}

impl Worklist {
    /// One line on where the list stands: its age, and why it is not newer.
    pub fn status_words(&self) -> String {
        let age = match (self.age_minutes, &self.source) {
            (Some(m), Some(src)) => format!(
                "Fetched {} from {}",
                age_words(m),
                crate::batch::printable(src, 120)
            ),
            _ => "Not fetched yet".into(),
        };
        match &self.error {
            Some(e) if self.fetched_at.is_some() => format!(
                "{age}; the last try failed, so this is the last list fetched: {}",
                crate::batch::printable(e, 400)
            ),
            Some(e) => format!("{age}: {}", crate::batch::printable(e, 400)),
            None => format!("{age}."),
        }
    }
}

/// What the station and the store know of the patient, in a few words
/// (times as [`when_words`] says them).
pub fn mark_words(r: &Row, now: OffsetDateTime, local: time::UtcOffset) -> String {
    use crate::batch::OutboxState as O;
    let local_words = match &r.scanned {
        _ if r.done => "✔ sent, verified".to_string(),
        None => String::new(),
        Some(s) => {
            let when = OffsetDateTime::parse(
                &s.scanned_at,
                &time::format_description::well_known::Rfc3339,
            )
            .map(|t| when_words(t, now, local))
            .unwrap_or_else(|_| crate::batch::printable(&s.scanned_at, 30));
            let state = match s.outbox {
                None => "not sent yet",
                Some(O::Queued) => "waiting to upload",
                Some(O::Done) => "sent, verified",
                Some(O::Parked | O::Conflict) => "upload stopped: see Uploads",
            };
            match s.for_this_appointment {
                true => format!("scanned {when}, {state}"),
                false => format!("already scanned {when}, {state}"),
            }
        }
    };
    let store = match r.in_store {
        Some(true) => "in the central store",
        _ => "",
    };
    [local_words.as_str(), store]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{datetime, offset};

    #[test]
    fn ages_read_as_words() {
        assert_eq!(age_words(0), "just now");
        assert_eq!(age_words(1), "1 minute ago");
        assert_eq!(age_words(75), "75 minutes ago");
        assert_eq!(age_words(5 * 60), "5 hours ago");
        assert_eq!(age_words(3 * 24 * 60), "3 days ago");
    }

    #[test]
    fn times_read_as_people_say_them() {
        let now = datetime!(2026-12-07 22:30 UTC);
        assert_eq!(
            when_words(datetime!(2026-12-07 23:10 UTC), now, offset!(UTC)),
            "today 23:10"
        );
        // In London summer time, 23:30 UTC is already tomorrow.
        assert_eq!(
            when_words(datetime!(2026-12-07 23:30 UTC), now, offset!(+1)),
            "tomorrow 00:30"
        );
        assert_eq!(
            when_words(datetime!(2026-12-09 14:00 UTC), now, offset!(UTC)),
            "Wed 9 Dec 14:00"
        );
    }
}
