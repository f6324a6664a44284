//! `overlap = "buffer_one"` / `"buffer_all"`: ticks that came while the entry's run was not
//! finished, held here and added one after another as each run finishes.
//!
//! - A tick held waits behind one run (`behind`, a job id). The scheduler polls every
//!   [`BUFFER_POLL`] while anything is held ([`super::run`]'s loop); once that run is finished,
//!   the oldest held tick is added with its usual deterministic id and becomes the run the next
//!   one waits behind. Polling rather than store events: one state read per held entry per
//!   poll, and it works the same on every store.
//! - `buffer_one` holds one tick and `buffer_all` up to `buffer_max`; a tick beyond that is
//!   skipped and counted like a `forbid` skip.
//! - While an entry holds ticks, its new ticks join the line even if the run they would wait
//!   for has just finished: they must not overtake the held ones.
//! - Replicas each hold the same ticks (every replica sees every tick); the deterministic id
//!   makes the second add of a held tick a no-op, as for any tick.
//! - Memory only, bounded by `buffer_max` (at most 1,000) per entry: a restart forgets held
//!   ticks, as a restart forgets the ticks that would have come while it was down.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// How often held ticks ask whether the run they wait for has finished: the most a held
/// tick starts after that run ends, beside the queue's own fetch.
pub const BUFFER_POLL: Duration = Duration::from_millis(500);

/// What [`Buffers::hold`] did with a tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Held; this many ticks are now waiting.
    Held(usize),
    /// The buffer is full: the tick is skipped.
    Full,
}

/// Per entry id, the ticks held behind a run. Written by the scheduler's `fire` (hold) and
/// its poll (release); a std mutex, never held across an await.
#[derive(Debug, Default)]
pub struct Buffers {
    held: Mutex<HashMap<String, Held>>,
}

#[derive(Debug)]
struct Held {
    /// The run the oldest tick waits for.
    behind: String,
    /// Oldest first.
    ticks: VecDeque<DateTime<Utc>>,
    /// A poll is adding the oldest tick now: no second poll adds it again meanwhile.
    adding: bool,
}

impl Buffers {
    /// Holds `at` behind run `behind` of `entry` when fewer than `cap` ticks wait.
    pub fn hold(&self, entry: &str, behind: &str, at: DateTime<Utc>, cap: usize) -> Hold {
        let mut held = self.lock();
        let h = held.entry(entry.to_string()).or_insert_with(|| Held {
            behind: behind.to_string(),
            ticks: VecDeque::new(),
            adding: false,
        });
        if h.ticks.contains(&at) {
            return Hold::Held(h.ticks.len());
        }
        if h.ticks.len() >= cap {
            return Hold::Full;
        }
        h.ticks.push_back(at);
        Hold::Held(h.ticks.len())
    }

    /// Whether `entry` has ticks waiting (its new ticks then join them).
    pub fn holds(&self, entry: &str) -> bool {
        self.lock().contains_key(entry)
    }

    /// Whether any entry has ticks waiting (the scheduler polls only then).
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Ticks held for `entry` now.
    pub fn len(&self, entry: &str) -> usize {
        self.lock().get(entry).map_or(0, |h| h.ticks.len())
    }

    /// Each entry whose oldest tick nobody is adding: (entry, the run it waits for, the
    /// tick), marked as being added until [`Buffers::added`] or [`Buffers::not_added`].
    pub fn take_due(&self) -> Vec<(String, String, DateTime<Utc>)> {
        let mut held = self.lock();
        let mut out = Vec::new();
        for (entry, h) in held.iter_mut() {
            if h.adding {
                continue;
            }
            if let Some(at) = h.ticks.front() {
                h.adding = true;
                out.push((entry.clone(), h.behind.clone(), *at));
            }
        }
        out
    }

    /// Tick `at` of `entry` is now run `job_id`: the next tick waits behind it.
    pub fn added(&self, entry: &str, at: DateTime<Utc>, job_id: &str) {
        let mut held = self.lock();
        let Some(h) = held.get_mut(entry) else { return };
        h.adding = false;
        if h.ticks.front() == Some(&at) {
            h.ticks.pop_front();
        }
        h.behind = job_id.to_string();
        if h.ticks.is_empty() {
            held.remove(entry);
        }
    }

    /// The oldest tick of `entry` was not added (its run is still going, or the store
    /// failed): the next poll tries again.
    pub fn not_added(&self, entry: &str) {
        if let Some(h) = self.lock().get_mut(entry) {
            h.adding = false;
        }
    }

    /// Drops the ticks of entries no longer in the plan (after a reload).
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|entry, _| keep(entry));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn buffer_one_holds_one_tick_and_skips_the_rest() {
        let b = Buffers::default();
        assert_eq!(b.hold("e", "cron-e-0", t(1), 1), Hold::Held(1));
        assert_eq!(b.hold("e", "cron-e-0", t(2), 1), Hold::Full);
        assert_eq!(
            b.hold("e", "cron-e-0", t(1), 1),
            Hold::Held(1),
            "same tick twice"
        );
        assert!(b.holds("e") && !b.holds("f"));
        let due = b.take_due();
        assert_eq!(due, vec![("e".into(), "cron-e-0".into(), t(1))]);
        assert!(b.take_due().is_empty(), "not taken twice while being added");
        b.not_added("e");
        assert_eq!(b.take_due().len(), 1, "taken again after a failed add");
        b.added("e", t(1), "cron-e-1");
        assert!(b.is_empty(), "released once added");
    }

    #[test]
    fn buffer_all_releases_in_order_each_behind_the_previous() {
        let b = Buffers::default();
        for s in 1..=4 {
            let _ = b.hold("e", "cron-e-0", t(s), 3);
        }
        assert_eq!(b.len("e"), 3, "capped");
        let mut order = Vec::new();
        let mut behind = "cron-e-0".to_string();
        while let Some((_, waits_for, at)) = b.take_due().pop() {
            assert_eq!(waits_for, behind);
            behind = format!("cron-e-{}", at.timestamp());
            b.added("e", at, &behind);
            order.push(at);
        }
        assert_eq!(order, vec![t(1), t(2), t(3)]);
        let _ = b.hold("gone", "x", t(1), 1);
        b.retain(|e| e != "gone");
        assert!(b.is_empty());
    }
}
