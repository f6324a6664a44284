//! Paused schedule entries in the embedded file: table `schedule_pauses`, created by the
//! first pause (so files of earlier releases need no schema step, and a file that never saw a
//! pause reads as none paused). Kept in the file, a pause outlives a restart of the daemon.

use async_trait::async_trait;
use rusqlite::{params, Connection as Sqlite, OptionalExtension};

use super::{EmbeddedStore, Fault};
use crate::queue::contract::{Claims, SchedulePause};
use crate::queue::error::Error;

/// One daemon per file (the file lock): nobody to vouch to, so the defaults (no other holder).
/// Paused schedule entries are kept in the file (`pauses.rs`), so a pause outlives a restart.
#[async_trait]
impl Claims for EmbeddedStore {
    async fn schedule_pauses(&self) -> Result<Vec<crate::queue::contract::SchedulePause>, Error> {
        self.read("*", read).await
    }

    async fn set_schedule_pause(
        &self,
        entry: &str,
        pause: Option<&crate::queue::contract::SchedulePause>,
    ) -> Result<(), Error> {
        let (entry, pause) = (entry.to_string(), pause.cloned());
        self.write("*", move |c| write(c, &entry, pause.as_ref()))
            .await
    }
}

const CREATE: &str = "CREATE TABLE IF NOT EXISTS schedule_pauses (
    entry    TEXT PRIMARY KEY,
    since_ms INTEGER NOT NULL,
    note     TEXT
)";

/// Every paused entry, by id.
pub(super) fn read(c: &Sqlite) -> Result<Vec<SchedulePause>, Fault> {
    let exists: Option<i64> = c
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schedule_pauses'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if exists.is_none() {
        return Ok(Vec::new());
    }
    let rows = c
        .prepare_cached("SELECT entry, since_ms, note FROM schedule_pauses ORDER BY entry")?
        .query_map([], |r| {
            Ok(SchedulePause {
                entry: r.get(0)?,
                since_ms: r.get(1)?,
                note: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Pauses (`Some`) or resumes (`None`) `entry`.
pub(super) fn write(c: &Sqlite, entry: &str, pause: Option<&SchedulePause>) -> Result<(), Fault> {
    c.execute(CREATE, [])?;
    match pause {
        Some(p) => c.execute(
            "INSERT INTO schedule_pauses (entry, since_ms, note) VALUES (?1, ?2, ?3)
             ON CONFLICT (entry) DO UPDATE SET since_ms = excluded.since_ms, note = excluded.note",
            params![entry, p.since_ms, p.note],
        )?,
        None => c.execute(
            "DELETE FROM schedule_pauses WHERE entry = ?1",
            params![entry],
        )?,
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_is_kept_replaced_and_removed() {
        let c = Sqlite::open_in_memory().unwrap();
        assert!(read(&c).unwrap().is_empty(), "no table yet: none paused");
        let p = SchedulePause {
            entry: "backup".into(),
            since_ms: 5,
            note: Some("INC-1".into()),
        };
        write(&c, "backup", Some(&p)).unwrap();
        let later = SchedulePause {
            since_ms: 9,
            ..p.clone()
        };
        write(&c, "backup", Some(&later)).unwrap();
        assert_eq!(read(&c).unwrap(), vec![later]);
        write(&c, "backup", None).unwrap();
        assert!(read(&c).unwrap().is_empty());
    }
}
