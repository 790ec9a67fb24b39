//! Scanning sessions (issue 17, item 3): one sign-in scanning with one device
//! and one profile, whose first sheet is Folio's test target. A session is
//! proven once one of its sides is a passing target; sides from a session
//! that is not are flagged `no_session_target` when the batch is separated.

use super::{Store, StoreError, audit, sha256_hex};
use crate::batch::roles::Role;
use crate::imaging::target::TargetCheck;
use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use std::collections::HashMap;

/// What makes a session, and what it scans with.
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// One sign-in: the window's (kept across an idle lock by the same
    /// operator), or one CLI command's.
    pub sign_in: &'a str,
    /// As named to SANE (or the demo feeder, or `import:` and a folder).
    pub device: &'a str,
    pub vendor: &'a str,
    pub model: &'a str,
    /// The scan profile's name (`default` for the station's own settings).
    pub profile: &'a str,
    /// The settings asked for (dpi, mode, source).
    pub settings: serde_json::Value,
}

/// A session as kept, with its test target's result.
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub station: String,
    pub operator: String,
    /// Empty when nobody signed in (a station without accounts).
    pub role: String,
    pub device: String,
    pub vendor: String,
    pub model: String,
    pub profile: String,
    pub settings: serde_json::Value,
    pub started: String,
    /// Sides scanned in it.
    pub sides: u32,
    /// Its passing target, else its last one (none: no target scanned).
    pub target: Option<TargetCheck>,
}

impl SessionRow {
    /// Whether a passing target was scanned in it.
    pub fn proven(&self) -> bool {
        self.target.as_ref().is_some_and(|t| t.passed)
    }

    /// Who scanned with what, in words (outside text: print with care).
    pub fn words(&self) -> String {
        format!(
            "{} on {}, profile '{}', from {}",
            self.operator, self.device, self.profile, self.started
        )
    }
}

const SESSION_COLS: &str = "s.id, s.station, s.operator, s.role, s.device, s.vendor, s.model, s.profile, s.settings, s.started,
    (SELECT COUNT(*) FROM pages p WHERE p.session_id = s.id),
    (SELECT p.target FROM pages p WHERE p.session_id = s.id AND p.target IS NOT NULL
     ORDER BY p.target_passed DESC, p.created DESC LIMIT 1)";

fn session_row(r: &Row<'_>) -> rusqlite::Result<SessionRow> {
    let settings: String = r.get(8)?;
    let target: Option<String> = r.get(11)?;
    Ok(SessionRow {
        id: r.get(0)?,
        station: r.get(1)?,
        operator: r.get(2)?,
        role: r.get(3)?,
        device: r.get(4)?,
        vendor: r.get(5)?,
        model: r.get(6)?,
        profile: r.get(7)?,
        settings: serde_json::from_str(&settings).unwrap_or_default(),
        started: r.get(9)?,
        sides: r.get(10)?,
        target: target.and_then(|t| serde_json::from_str(&t).ok()),
    })
}

/// What a batch's provenance is made of: its sessions by id, each side's
/// session and the time it was stored, and its latest sample.
#[derive(Debug, Clone, Default)]
pub struct BatchProvenance {
    pub sessions: HashMap<String, SessionRow>,
    pub sides: HashMap<u32, (Option<String>, String)>,
    pub sample: Option<super::Sample>,
}

impl Store {
    /// What the manifest's provenance needs of a batch.
    pub fn batch_provenance(&self, batch_id: &str) -> Result<BatchProvenance, StoreError> {
        let sessions = self
            .batch_sessions(batch_id)?
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        let mut stmt = self
            .conn
            .prepare("SELECT side, session_id, created FROM pages WHERE batch_id = ?1")?;
        let sides = stmt
            .query_map([batch_id], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
            .collect::<Result<_, _>>()?;
        Ok(BatchProvenance {
            sessions,
            sides,
            sample: self.sample(batch_id)?,
        })
    }

    /// The session of this sign-in, device and profile: started (and
    /// audited) the first time, the same one after.
    pub fn open_session(
        &mut self,
        s: &NewSession<'_>,
        actor: &audit::Actor,
    ) -> Result<String, StoreError> {
        // Lengths first, so no two different sessions make the same text.
        let key: String = [&actor.station, s.sign_in, s.device, s.profile]
            .iter()
            .map(|p| format!("{}:{p}", p.len()))
            .collect();
        let id = sha256_hex(key.as_bytes())[..32].to_string();
        let tx = self.conn.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO scan_sessions (id, station, operator, role, device, vendor, model, profile, settings, started)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                id,
                actor.station,
                actor.operator,
                actor.role.map(Role::as_str).unwrap_or(""),
                s.device,
                s.vendor,
                s.model,
                s.profile,
                s.settings.to_string(),
                crate::now_rfc3339()
            ],
        )?;
        if added > 0 {
            let detail = format!(
                "{} ({}), profile {}, settings {}",
                s.device,
                format!("{} {}", s.vendor, s.model).trim(),
                s.profile,
                s.settings
            );
            audit::append(&tx, actor, "session.start", &id, &detail)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// One session.
    pub fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {SESSION_COLS} FROM scan_sessions s WHERE s.id = ?1"),
                [id],
                session_row,
            )
            .optional()?)
    }

    /// The newest sessions first (at most `limit`).
    pub fn sessions(&self, limit: u32) -> Result<Vec<SessionRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SESSION_COLS} FROM scan_sessions s ORDER BY s.started DESC, s.rowid DESC LIMIT ?1"
        ))?;
        let rows = stmt
            .query_map([limit], session_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// The sessions a batch's sides were scanned in, each once, in the order
    /// of their first side.
    pub fn batch_sessions(&self, batch_id: &str) -> Result<Vec<SessionRow>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {SESSION_COLS} FROM scan_sessions s
             JOIN (SELECT session_id, MIN(side) AS first FROM pages WHERE batch_id = ?1 AND session_id IS NOT NULL
                   GROUP BY session_id) b ON b.session_id = s.id
             ORDER BY b.first"
        ))?;
        let rows = stmt
            .query_map([batch_id], session_row)?
            .collect::<Result<_, _>>()?;
        Ok(rows)
    }

    /// A batch's sides scanned in a session without a passing target, with
    /// that session in words.
    pub fn unproven_sides(&self, batch_id: &str) -> Result<HashMap<u32, String>, StoreError> {
        let unproven: HashMap<String, String> = self
            .batch_sessions(batch_id)?
            .into_iter()
            .filter(|s| !s.proven())
            .map(|s| (s.id.clone(), s.words()))
            .collect();
        if unproven.is_empty() {
            return Ok(HashMap::new());
        }
        let mut stmt = self.conn.prepare(
            "SELECT side, session_id FROM pages WHERE batch_id = ?1 AND session_id IS NOT NULL",
        )?;
        let mut out = HashMap::new();
        let mut q = stmt.query([batch_id])?;
        while let Some(r) = q.next()? {
            let session: String = r.get(1)?;
            if let Some(words) = unproven.get(&session) {
                out.insert(r.get(0)?, words.clone());
            }
        }
        Ok(out)
    }

    /// Appends the audit event of a test target just stored, as the session's
    /// operator (inside the caller's transaction).
    pub(super) fn audit_target(
        conn: &rusqlite::Connection,
        session: &str,
        batch_side: (&str, u32),
        check: &TargetCheck,
    ) -> Result<(), StoreError> {
        let who: Option<(String, String, String)> = conn
            .query_row(
                "SELECT station, operator, role FROM scan_sessions WHERE id = ?1",
                [session],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((station, operator, role)) = who else {
            return Ok(());
        };
        let actor = audit::Actor {
            station,
            operator,
            role: Role::parse(&role),
        };
        let detail = format!(
            "{} at {} side {}: {}",
            if check.passed { "passed" } else { "failed" },
            batch_side.0,
            batch_side.1,
            check.summary
        );
        audit::append(conn, &actor, "session.target", session, &detail)
    }
}
