//! Fair groups on the embedded store (issue 30 point 3; the policy is `queue/groups.rs`).
//!
//! One daemon consumes a file (`lock.rs`), so the claim itself can be fair: instead of the
//! oldest ready job, [`pick`] takes the oldest ready job of the group that started a job least
//! recently, among the groups under their `group_concurrency` (running jobs counted from the
//! `active` rows) and their `group_rate` window. A job is never set aside: a full group's jobs
//! simply stay ready (visible as `waiting`) until it has room.
//!
//! The group is computed in SQL from each row (`opts.group.id`, else the `group_by` path into
//! `data`), with SQLite's JSON functions guarded by `json_valid`, so a row whose text is not
//! JSON is ungrouped rather than an error. Ungrouped jobs take their turn as one more "group"
//! with no limit (key `''`, which no real group can have: an empty id is no group).
//!
//! `cronq_groups` keeps, per queue and group, the turn of its last start (a counter, not a
//! clock: two starts in one millisecond still order) and its rate window. It is ours: BullMQ
//! has no such table, and nothing else reads it.

use rusqlite::{params, Connection, OptionalExtension};

use crate::queue::groups::{GroupCount, GroupPolicy, MAX_GROUP_ID, MAX_REPORTED_GROUPS};

/// Creates the table when missing (idempotent; run when a grouped queue starts consuming).
pub(super) fn ensure(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS cronq_groups (
            queue        TEXT NOT NULL,
            grp          TEXT NOT NULL,
            last_start   INTEGER NOT NULL DEFAULT 0,
            window_start INTEGER NOT NULL DEFAULT 0,
            window_count INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (queue, grp)
        );",
    )
}

/// The SQL expression of a row's group (NULL: ungrouped), following `GroupPolicy::group_of`.
fn group_sql(policy: &GroupPolicy) -> String {
    let pick = |col: &str, path: &str| {
        format!(
            "CASE WHEN json_valid({col}) AND json_type({col}, '{path}') IN ('text', 'integer', 'real')
                   AND json_extract({col}, '{path}') <> ''
              THEN substr(CAST(json_extract({col}, '{path}') AS TEXT), 1, {MAX_GROUP_ID}) END"
        )
    };
    let pro = pick("opts", "$.group.id");
    match &policy.by {
        None => pro,
        Some(keys) => {
            // Keys hold no quote or backslash (checked at load); a single quote is doubled
            // for the SQL literal.
            let path: String = keys
                .iter()
                .map(|k| format!(".\"{}\"", k.replace('\'', "''")))
                .collect();
            format!("COALESCE({pro}, {})", pick("data", &format!("${path}")))
        }
    }
}

/// A ready job the group policy lets start now.
pub(super) struct Pick {
    pub(super) id: String,
    /// `waiting` or `prioritized` (the `prev` of its `active` event).
    pub(super) state: &'static str,
    /// Its group, `''` when ungrouped.
    pub(super) group: String,
}

/// The next job of `queue` to start under `policy` at `now`: within a group BullMQ's order
/// (the plain list first, then by priority, FIFO within each), between groups the one whose
/// last start is the oldest.
pub(super) fn pick(
    conn: &Connection,
    queue: &str,
    policy: &GroupPolicy,
    now: i64,
) -> rusqlite::Result<Option<Pick>> {
    let g = group_sql(policy);
    let cap = policy.concurrency.map_or(0, |c| c.get() as i64);
    let (rate_max, window) = policy.rate.map_or((0, 0), |r| {
        (r.max.get() as i64, r.window.as_millis() as i64)
    });
    let sql = format!(
        "WITH ready AS (
            SELECT id, state, priority, seq, COALESCE({g}, '') AS g
            FROM jobs WHERE queue = ?1 AND state IN ('waiting', 'prioritized')
         ), busy AS (
            SELECT COALESCE({g}, '') AS g, COUNT(*) AS n
            FROM jobs WHERE queue = ?1 AND state = 'active' GROUP BY 1
         )
         SELECT r.id, r.state, r.g FROM ready r
         LEFT JOIN busy b ON b.g = r.g
         LEFT JOIN cronq_groups s ON s.queue = ?1 AND s.grp = r.g
         WHERE r.g = '' OR (
            (?2 = 0 OR COALESCE(b.n, 0) < ?2)
            AND (?3 = 0 OR s.grp IS NULL OR s.window_start + ?4 <= ?5 OR s.window_count < ?3))
         ORDER BY COALESCE(s.last_start, 0), r.state = 'prioritized', r.priority, r.seq
         LIMIT 1"
    );
    conn.prepare_cached(&sql)?
        .query_row(params![queue, cap, rate_max, window, now], |r| {
            let state: String = r.get(1)?;
            Ok(Pick {
                id: r.get(0)?,
                state: if state == "waiting" {
                    "waiting"
                } else {
                    "prioritized"
                },
                group: r.get(2)?,
            })
        })
        .optional()
}

/// Records that a job of `group` started at `now`: its turn moves behind every other group's,
/// and it counts against its rate window (a new window starts when the last one is over).
pub(super) fn started(
    conn: &Connection,
    queue: &str,
    group: &str,
    policy: &GroupPolicy,
    now: i64,
) -> rusqlite::Result<()> {
    let window = policy.rate.map_or(0, |r| r.window.as_millis() as i64);
    conn.prepare_cached(
        "INSERT INTO cronq_groups (queue, grp, last_start, window_start, window_count)
         VALUES (?1, ?2, (SELECT COALESCE(MAX(last_start), 0) + 1 FROM cronq_groups WHERE queue = ?1), ?3, 1)
         ON CONFLICT (queue, grp) DO UPDATE SET
            last_start = (SELECT COALESCE(MAX(last_start), 0) + 1 FROM cronq_groups WHERE queue = ?1),
            window_count = CASE WHEN window_start + ?4 <= ?3 THEN 1 ELSE window_count + 1 END,
            window_start = CASE WHEN window_start + ?4 <= ?3 THEN ?3 ELSE window_start END",
    )?
    .execute(params![queue, group, now, window])?;
    Ok(())
}

/// When a group held back by its rate gets a new window (Unix ms), if any: the claim's "look
/// again" time when nothing could start.
pub(super) fn next_window(
    conn: &Connection,
    queue: &str,
    policy: &GroupPolicy,
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let Some(rate) = policy.rate else {
        return Ok(None);
    };
    let window = rate.window.as_millis() as i64;
    conn.prepare_cached(
        "SELECT MIN(window_start + ?2) FROM cronq_groups
         WHERE queue = ?1 AND grp <> '' AND window_count >= ?3 AND window_start + ?2 > ?4",
    )?
    .query_row(params![queue, window, rate.max.get() as i64, now], |r| {
        r.get(0)
    })
}

/// Running and ready jobs per group of `queue` (ungrouped jobs left out), for `/metrics` and
/// the API: the busiest `MAX_REPORTED_GROUPS`.
pub(super) fn counts(
    conn: &Connection,
    queue: &str,
    policy: &GroupPolicy,
) -> rusqlite::Result<Vec<GroupCount>> {
    let g = group_sql(policy);
    let sql = format!(
        "SELECT g, SUM(state = 'active'), SUM(state <> 'active') FROM (
            SELECT {g} AS g, state FROM jobs
            WHERE queue = ?1 AND state IN ('active', 'waiting', 'prioritized'))
         WHERE g IS NOT NULL GROUP BY g
         ORDER BY 2 DESC, 3 DESC, g LIMIT ?2"
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params![queue, MAX_REPORTED_GROUPS as i64], |r| {
            Ok(GroupCount {
                group: r.get(0)?,
                running: r.get::<_, i64>(1)? as u64,
                parked: r.get::<_, i64>(2)? as u64,
            })
        })?
        .collect();
    rows
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use super::*;
    use crate::queue::groups::GroupRate;

    fn db(jobs: &[(&str, &str)]) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::create(&conn).unwrap();
        ensure(&conn).unwrap();
        for (seq, (id, tenant)) in jobs.iter().enumerate() {
            let data = format!(r#"{{"tenant":"{tenant}"}}"#);
            conn.execute(
                "INSERT INTO jobs (queue, id, name, data, opts, state, seq, timestamp)
                 VALUES ('q', ?1, 'n', ?2, '{}', 'waiting', ?3, 0)",
                params![id, data, seq as i64],
            )
            .unwrap();
        }
        conn
    }

    /// Picks and starts the next job at `now`, as the claim does; its id.
    fn next(conn: &Connection, p: &GroupPolicy, now: i64) -> Option<String> {
        let pick = pick(conn, "q", p, now).unwrap()?;
        started(conn, "q", &pick.group, p, now).unwrap();
        conn.execute("UPDATE jobs SET state = 'active' WHERE id = ?1", [&pick.id])
            .unwrap();
        Some(pick.id)
    }

    #[test]
    fn groups_take_turns_and_a_full_group_waits() {
        let conn = db(&[("a1", "A"), ("a2", "A"), ("a3", "A"), ("b1", "B")]);
        let p = GroupPolicy {
            by: Some(vec!["tenant".into()]),
            concurrency: NonZeroU32::new(1),
            rate: None,
        };
        assert_eq!(next(&conn, &p, 1).as_deref(), Some("a1"));
        // A has its one slot: B's single job goes next although a2 is older.
        assert_eq!(next(&conn, &p, 2).as_deref(), Some("b1"));
        assert_eq!(next(&conn, &p, 3), None, "A is full");
        conn.execute("UPDATE jobs SET state = 'completed' WHERE id = 'a1'", [])
            .unwrap();
        assert_eq!(next(&conn, &p, 4).as_deref(), Some("a2"));
        let counts = counts(&conn, "q", &p).unwrap();
        let a = counts.iter().find(|c| c.group == "A").unwrap();
        assert_eq!((a.running, a.parked), (1, 1));
    }

    #[test]
    fn the_rate_window_holds_starts_then_opens_again() {
        let conn = db(&[("a1", "A"), ("a2", "A"), ("a3", "A"), ("x", "")]);
        let p = GroupPolicy {
            by: Some(vec!["tenant".into()]),
            concurrency: None,
            rate: Some(GroupRate {
                max: NonZeroU32::new(2).unwrap(),
                window: Duration::from_secs(1),
            }),
        };
        assert_eq!(next(&conn, &p, 10_000).as_deref(), Some("a1"));
        // The ungrouped job ("" is no group) takes its turn; it has no limit.
        assert_eq!(next(&conn, &p, 10_001).as_deref(), Some("x"));
        assert_eq!(next(&conn, &p, 10_002).as_deref(), Some("a2"));
        assert_eq!(next(&conn, &p, 10_500), None, "2 starts in this window");
        assert_eq!(next_window(&conn, "q", &p, 10_500).unwrap(), Some(11_000));
        assert_eq!(
            next(&conn, &p, 11_000).as_deref(),
            Some("a3"),
            "a new window"
        );
    }
}
