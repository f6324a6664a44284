//! Pausing one schedule entry (Kubernetes CronJob's `suspend`, Oban's pause, Temporal's pause
//! with a note): while paused its ticks add no job and are marked `paused` on the timeline.
//! The pause lives in the store (`Store::set_schedule_pause`: a Redis hash of our own under
//! the prefix, or a table of the embedded file), so every replica agrees and a restart keeps
//! it. The scheduler reads the store's pauses once per batch of due ticks ([`Pauses::refresh`])
//! and keeps the last answer, so a store that does not answer leaves the last known pauses in
//! force rather than resuming everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::plan::Plan;
use crate::queue::contract::SchedulePause;
use crate::queue::{Error, Store};

/// Longest note kept with a pause.
pub const MAX_NOTE_CHARS: usize = 500;

/// How long the scheduler waits for the store's pauses before going on with the last known.
const READ_LIMIT: Duration = Duration::from_millis(500);

/// Why a pause or resume was refused.
#[derive(Debug, thiserror::Error)]
pub enum PauseError {
    /// No entry has that id.
    #[error("no schedule entry {0:?}: see GET /api/schedules (or `worker schedules`) for the ids")]
    NoEntry(String),
    /// The note is not acceptable.
    #[error("note: {0}")]
    BadNote(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] Error),
}

/// The pauses this daemon last read from the store, by entry id. Written by the scheduler's
/// refresh and by this daemon's own pause/resume; read by the scheduler and the rows. A std
/// mutex, never held across an await.
#[derive(Debug, Default)]
pub struct Pauses {
    known: Mutex<HashMap<String, SchedulePause>>,
}

impl Pauses {
    /// Reads the store's pauses (bounded by [`READ_LIMIT`]); keeps the last known on failure.
    pub async fn refresh(&self, store: &Store) {
        match tokio::time::timeout(READ_LIMIT, store.schedule_pauses()).await {
            Ok(Ok(list)) => {
                *self.lock() = list.into_iter().map(|p| (p.entry.clone(), p)).collect();
            }
            Ok(Err(e)) => {
                tracing::debug!(error = %e, "could not read schedule pauses; keeping the last known")
            }
            Err(_) => tracing::debug!("schedule pauses not read in time; keeping the last known"),
        }
    }

    /// `entry`'s pause, if paused.
    pub fn get(&self, entry: &str) -> Option<SchedulePause> {
        self.lock().get(entry).cloned()
    }

    fn set(&self, entry: &str, pause: Option<SchedulePause>) {
        let mut known = self.lock();
        match pause {
            Some(p) => known.insert(entry.to_string(), p),
            None => known.remove(entry),
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, SchedulePause>> {
        self.known.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An operator's note, checked: at most [`MAX_NOTE_CHARS`], no control characters (it is
/// shown in logs, tables and the dashboard). Blank is no note.
pub fn check_note(note: Option<&str>) -> Result<Option<String>, PauseError> {
    let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if n.chars().count() > MAX_NOTE_CHARS {
        return Err(PauseError::BadNote(format!(
            "{} characters: keep it to {MAX_NOTE_CHARS} (link a ticket for the long story)",
            n.chars().count()
        )));
    }
    if n.chars().any(char::is_control) {
        return Err(PauseError::BadNote(
            "contains control characters (newlines, escapes): write it on one line".into(),
        ));
    }
    Ok(Some(n.to_string()))
}

/// Pauses entry `id` of `plan` for every daemon on `store`, with `note`.
pub async fn pause(
    store: &Store,
    plan: &Plan,
    known: &Pauses,
    id: &str,
    note: Option<&str>,
) -> Result<SchedulePause, PauseError> {
    let note = check_note(note)?;
    if !plan.entries.iter().any(|e| e.id == id) {
        return Err(PauseError::NoEntry(id.to_string()));
    }
    let p = SchedulePause {
        entry: id.to_string(),
        since_ms: chrono::Utc::now().timestamp_millis(),
        note,
    };
    store.set_schedule_pause(id, Some(&p)).await?;
    known.set(id, Some(p.clone()));
    tracing::info!(entry_id = %id, note = p.note.as_deref().unwrap_or(""), "schedule entry paused");
    Ok(p)
}

/// Resumes entry `id`; `Ok(false)` when it was not paused.
pub async fn resume(
    store: &Store,
    plan: &Plan,
    known: &Pauses,
    id: &str,
) -> Result<bool, PauseError> {
    if !plan.entries.iter().any(|e| e.id == id) {
        return Err(PauseError::NoEntry(id.to_string()));
    }
    let was = store.schedule_pauses().await?.iter().any(|p| p.entry == id);
    store.set_schedule_pause(id, None).await?;
    known.set(id, None);
    if was {
        tracing::info!(entry_id = %id, "schedule entry resumed");
    }
    Ok(was)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_one_bounded_line() {
        assert_eq!(check_note(None).unwrap(), None);
        assert_eq!(check_note(Some("  ")).unwrap(), None);
        assert_eq!(
            check_note(Some(" INC-42 ")).unwrap().as_deref(),
            Some("INC-42")
        );
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert!(check_note(Some(&long))
            .unwrap_err()
            .to_string()
            .contains("500"));
        let err = check_note(Some("a\nb")).unwrap_err().to_string();
        assert!(err.contains("one line"), "{err}");
    }
}
