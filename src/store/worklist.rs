//! The worklist's cache (issue 21): the last list fetched from the EHR with
//! the time it was fetched and the last try's error, so a station offline
//! keeps working from it; which scan was started from which appointment; and
//! the newest local scan of each patient, for the list's marks.

use super::{Actor, Store, StoreError, audit};
use crate::batch::OutboxState;
use crate::batch::worklist::LocalScan;
use crate::upload::ehr::Fetched;
use rusqlite::{OptionalExtension, params};
use std::collections::HashMap;

/// The worklist as the station last had it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CachedWorklist {
    /// The list last fetched (None: never, or it could not be read back).
    pub list: Option<Fetched>,
    /// When it was fetched, and from where (the EHR's address, redacted).
    pub fetched_at: Option<String>,
    pub source: Option<String>,
    /// The last try, and why it failed (None: it worked).
    pub tried_at: String,
    pub last_error: Option<String>,
}

impl Store {
    /// Keeps a list just fetched, replacing the last.
    pub fn save_worklist(
        &mut self,
        list: &Fetched,
        source: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(list)
            .map_err(|e| StoreError::Damaged(format!("cannot write the worklist: {e}")))?;
        self.conn.execute(
            "INSERT INTO worklist_cache (id, fetched_at, source, list, tried_at, last_error)
             VALUES (1, ?1, ?2, ?3, ?1, NULL)
             ON CONFLICT (id) DO UPDATE SET fetched_at = ?1, source = ?2, list = ?3,
               tried_at = ?1, last_error = NULL",
            params![at, source, json],
        )?;
        Ok(())
    }

    /// Notes a fetch that failed, keeping the last list.
    pub fn worklist_failed(&mut self, error: &str, at: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO worklist_cache (id, tried_at, last_error) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET tried_at = ?1, last_error = ?2",
            params![at, error],
        )?;
        Ok(())
    }

    /// The cached worklist, if a fetch was ever tried.
    pub fn cached_worklist(&self) -> Result<Option<CachedWorklist>, StoreError> {
        let row = self
            .conn
            .query_row(
                "SELECT list, fetched_at, source, tried_at, last_error FROM worklist_cache WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, Option<String>>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()?;
        let Some((list, fetched_at, source, tried_at, mut last_error)) = row else {
            return Ok(None);
        };
        // A list that cannot be read back (written by a newer Folio) is
        // said, not fatal: the next fetch replaces it.
        let list = list.and_then(|j| match serde_json::from_str::<Fetched>(&j) {
            Ok(l) => Some(l),
            Err(e) => {
                last_error.get_or_insert(format!("the cached worklist cannot be read ({e})"));
                None
            }
        });
        Ok(Some(CachedWorklist {
            list,
            fetched_at,
            source,
            tried_at,
            last_error,
        }))
    }

    /// Notes that `batch` was started from the worklist entry of
    /// `appointment` (audited with the batch).
    pub fn link_worklist_scan(
        &mut self,
        appointment: &str,
        batch: &str,
        nhs_number: Option<&str>,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO worklist_scans (appointment_id, batch_id, nhs_number, started_at, started_by)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![appointment, batch, nhs_number, crate::now_rfc3339(), actor.operator],
        )?;
        let detail = format!(
            "scanned for the EHR's appointment {}",
            crate::batch::printable(appointment, 80)
        );
        audit::append(&tx, actor, "worklist.scan", batch, &detail)?;
        tx.commit()?;
        Ok(())
    }

    /// Scans started from these appointments' entries, the newest of each.
    pub fn worklist_links(
        &self,
        appointments: &[&str],
    ) -> Result<HashMap<String, LocalScan>, StoreError> {
        self.newest_scan_each(
            "SELECT b.id, b.created, o.state FROM worklist_scans w
               JOIN batches b ON b.id = w.batch_id LEFT JOIN outbox o ON o.batch_id = b.id
             WHERE w.appointment_id = ?1 ORDER BY w.started_at DESC, b.created DESC LIMIT 1",
            appointments,
            true,
        )
    }

    /// The newest record of each of these NHS numbers scanned here.
    pub fn newest_scans(
        &self,
        nhs_numbers: &[&str],
    ) -> Result<HashMap<String, LocalScan>, StoreError> {
        self.newest_scan_each(
            "SELECT b.id, b.created, o.state FROM records r
               JOIN batches b ON b.id = r.batch_id LEFT JOIN outbox o ON o.batch_id = b.id
             WHERE r.nhs_number = ?1 ORDER BY b.created DESC LIMIT 1",
            nhs_numbers,
            false,
        )
    }

    /// `sql`'s one row (batch id, created, outbox state) for each key.
    fn newest_scan_each(
        &self,
        sql: &str,
        keys: &[&str],
        linked: bool,
    ) -> Result<HashMap<String, LocalScan>, StoreError> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut out = HashMap::new();
        for k in keys {
            if let Some(s) = stmt.query_row([k], |r| local_scan(r, linked)).optional()? {
                out.insert((*k).to_string(), s);
            }
        }
        Ok(out)
    }
}

fn local_scan(r: &rusqlite::Row<'_>, linked: bool) -> rusqlite::Result<LocalScan> {
    let outbox = r
        .get::<_, Option<String>>(2)?
        .map(|s| {
            OutboxState::parse(&s).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    2,
                    rusqlite::types::Type::Text,
                    format!("unknown outbox state {s:?}").into(),
                )
            })
        })
        .transpose()?;
    Ok(LocalScan {
        batch_id: r.get(0)?,
        scanned_at: r.get(1)?,
        outbox,
        for_this_appointment: linked,
    })
}
