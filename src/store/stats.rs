//! The facts productivity statistics are computed from, read for a range of
//! days: one [`BatchFacts`] per batch started in it (who, where, when each
//! side was stored, flags by code, rescans, when its upload was verified).
//! Read-only; the figures themselves are [`crate::batch::stats`]'s.

use super::{Store, StoreError};
use crate::batch::BatchSource;
use crate::batch::stats::{BatchFacts, DateRange};
use rusqlite::params;
use std::collections::HashMap;

/// An RFC 3339 column as Unix milliseconds (NULL when absent or not a time).
fn unix_ms(column: &str) -> String {
    format!("CAST(round((julianday({column}) - 2440587.5) * 86400000.0) AS INTEGER)")
}

/// Batches started on a day of the range, by their UTC date.
const IN_RANGE: &str = "substr(b.created, 1, 10) BETWEEN ?1 AND ?2";

impl Store {
    /// What statistics need of every batch started in `range` (UTC days),
    /// oldest first.
    pub fn stats_facts(&self, range: DateRange) -> Result<Vec<BatchFacts>, StoreError> {
        let (from, to) = (range.from_text(), range.to_text());
        let mut rows = self.stats_batches(&from, &to)?;
        let rescans = self.stats_rescans()?;
        let mut by_id: HashMap<String, usize> = HashMap::with_capacity(rows.len());
        for (i, b) in rows.iter_mut().enumerate() {
            b.rescans = rescans.get(&b.batch_id).copied().unwrap_or(0);
            by_id.insert(b.batch_id.clone(), i);
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT f.batch_id, f.code, COUNT(*) FROM flags f JOIN batches b ON b.id = f.batch_id
             WHERE {IN_RANGE} GROUP BY f.batch_id, f.code"
        ))?;
        let mut q = stmt.query(params![from, to])?;
        while let Some(r) = q.next()? {
            let id: String = r.get(0)?;
            if let Some(&i) = by_id.get(&id) {
                rows[i].flags.insert(r.get(1)?, r.get(2)?);
            }
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT p.batch_id, {} FROM pages p JOIN batches b ON b.id = p.batch_id WHERE {IN_RANGE}",
            unix_ms("p.created")
        ))?;
        let mut q = stmt.query(params![from, to])?;
        while let Some(r) = q.next()? {
            let (id, at): (String, Option<i64>) = (r.get(0)?, r.get(1)?);
            if let (Some(&i), Some(at)) = (by_id.get(&id), at) {
                rows[i].side_times_ms.push(at);
            }
        }
        Ok(rows)
    }

    /// The batches of the range with their counts and times (flags, rescans
    /// and side times still empty).
    fn stats_batches(&self, from: &str, to: &str) -> Result<Vec<BatchFacts>, StoreError> {
        let sql = format!(
            "SELECT b.id, b.operator, b.station, b.source, substr(b.created, 1, 10), {}, {}, b.duplex,
               (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.id), {},
               (SELECT COUNT(*) FROM sample_verdicts v WHERE v.batch_id = b.id AND NOT v.passed)
             FROM batches b LEFT JOIN outbox o ON o.batch_id = b.id AND o.state = 'done'
             WHERE {IN_RANGE} ORDER BY b.created, b.id",
            unix_ms("b.created"),
            unix_ms("b.closed"),
            unix_ms("o.done_at"),
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![from, to], |r| {
            let (duplex, sides): (bool, u32) = (r.get(7)?, r.get(8)?);
            Ok(BatchFacts {
                batch_id: r.get(0)?,
                operator: r.get(1)?,
                station: r.get(2)?,
                source: super::parsed(r, 3, "batch source", BatchSource::parse)?,
                day: r.get(4)?,
                started_ms: r.get(5)?,
                closed_ms: r.get(6)?,
                sheets: if duplex { sides.div_ceil(2) } else { sides },
                sides,
                flags: Default::default(),
                rescans: 0,
                // Sampled sides that failed, over every draw.
                sample_failures: r.get(10)?,
                side_times_ms: Vec::new(),
                uploaded_ms: r.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Pages rescanned in place, by batch id (from the audit trail, which
    /// keeps every rescan; the page keeps only the last image).
    fn stats_rescans(&self) -> Result<HashMap<String, u32>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT subject, COUNT(*) FROM audit WHERE action = 'page.rescan' GROUP BY subject",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::stats::parse_date;
    use crate::store::Actor;

    fn exec(s: &Store, sql: &str) {
        s.conn.execute_batch(sql).unwrap();
    }

    #[test]
    fn facts_of_the_batches_started_in_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(dir.path()).unwrap();
        exec(
            &s,
            "INSERT INTO batches (id, label, source, duplex, station, operator, created, closed, state)
             VALUES ('b1', 'box', 'archive', 1, 's1', 'ann', '2026-12-01T09:00:00Z', '2026-12-01T09:10:00Z', 'uploaded'),
                    ('b2', 'box', 'import', 0, 's2', 'bob', '2026-12-02T23:59:59.5Z', NULL, 'scanning'),
                    ('b3', 'box', 'archive', 0, 's1', 'ann', '2026-12-03T00:00:00Z', NULL, 'scanning');
             INSERT INTO pages (batch_id, side, sheet, face, origin, created) VALUES
               ('b1', 0, 0, 'front', 'x', '2026-12-01T09:00:01Z'),
               ('b1', 1, 0, 'back', 'x', '2026-12-01T09:00:01.250Z'),
               ('b1', 2, 1, 'front', 'x', '2026-12-01T09:00:03.123456789Z'),
               ('b2', 0, 0, 'front', 'x', '2026-12-03T00:00:01Z'),
               ('b3', 0, 0, 'front', 'x', '2026-12-03T00:00:02Z');
             INSERT INTO flags (batch_id, side, code, detail, resolved_at) VALUES
               ('b1', 0, 'skewed', '', NULL), ('b1', 2, 'skewed', '', '2026-12-01T10:00:00Z'),
               ('b1', 1, 'too_dark', '', NULL), ('b3', 0, 'skewed', '', NULL);
             INSERT INTO outbox (batch_id, priority, queued_at, state, next_attempt_at, done_at)
             VALUES ('b1', 1, '2026-12-01T09:20:00Z', 'done', '2026-12-01T09:20:00Z', '2026-12-01T10:00:01Z');",
        );
        let actor = Actor {
            station: "s1".into(),
            operator: "ann".into(),
            role: None,
        };
        s.audit(&actor, "page.rescan", "b1", "side 2 replaced")
            .unwrap();
        s.audit(&actor, "page.rescan", "b1", "side 0 replaced")
            .unwrap();
        s.audit(&actor, "page.delete", "b1", "not a rescan")
            .unwrap();
        let day = |t| parse_date("d", t).unwrap();
        let range = DateRange::new(day("2026-12-01"), day("2026-12-02")).unwrap();
        let rows = s.stats_facts(range).unwrap();
        assert_eq!(rows.len(), 2, "b3 was started after the range");
        let (b1, b2) = (&rows[0], &rows[1]);
        assert_eq!((b1.batch_id.as_str(), b1.operator.as_str()), ("b1", "ann"));
        assert_eq!(
            (b1.source, b1.day.as_str()),
            (BatchSource::Archive, "2026-12-01")
        );
        assert_eq!((b1.sides, b1.sheets), (3, 2));
        assert_eq!(b1.rescans, 2);
        assert_eq!(b1.flags.get("skewed"), Some(&2), "open and resolved flags");
        assert_eq!(b1.flags.get("too_dark"), Some(&1));
        let t0 = 1_796_115_600_000; // 2026-12-01T09:00:00Z
        assert_eq!(b1.started_ms, Some(t0));
        assert_eq!(b1.closed_ms, Some(t0 + 600_000));
        let mut times = b1.side_times_ms.clone();
        times.sort_unstable();
        assert_eq!(times, [t0 + 1000, t0 + 1250, t0 + 3123]);
        assert_eq!(b1.uploaded_ms, Some(t0 + 3_601_000));
        assert_eq!(b1.first_scan_to_upload_secs(), Some(3600.0));
        // Started on the 2nd (its side was stored on the 3rd): the 2nd's.
        assert_eq!((b2.day.as_str(), b2.sides, b2.sheets), ("2026-12-02", 1, 1));
        assert_eq!((b2.rescans, b2.uploaded_ms, b2.closed_ms), (0, None, None));
        assert!(b2.flags.is_empty());
    }
}
