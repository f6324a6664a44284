//! The plan: every scheduled entry, from crontab lines and `[[schedule]]` tables alike, in one
//! validated shape the [`super::scheduler::Scheduler`] runs and `worker::routes` builds the
//! `cron` queue's handlers from; [`load`] reads the crontab and builds it. Crontab lines take
//! the default policies; tables may set their own.

use std::sync::Arc;
use std::time::Duration;

use chrono_tz::Tz;

use crate::config::cron_policy::EntryPolicy;
use crate::config::{Config, Overlap, ScheduleConfig, ScheduleTarget};
use crate::crontab::parse::{Crontab, Entry, Target};
use crate::crontab::schedule::Schedule;
use crate::crontab::zone::parse_zone;
use crate::queue::HandlerDefaults;

/// The zone crontab entries without `CRON_TZ` run in: `TZ` (looked up through `env`, which
/// `app` supplies), else where `/etc/localtime` points, else UTC; the rule itself is the pure
/// [`crate::crontab::zone::default_zone`].
pub fn daemon_zone(env: &dyn Fn(&str) -> Option<String>) -> Tz {
    let link = std::fs::read_link("/etc/localtime").ok();
    crate::crontab::zone::default_zone(env("TZ").as_deref(), link.as_deref())
}

/// The queue that runs crontab command lines unless `[cron] queue` names another.
pub const CRON_QUEUE: &str = crate::config::cron::DEFAULT_CRON_QUEUE;

/// What an entry does at each tick.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Add job `name` with `data` to `queue`.
    Enqueue {
        /// Target queue.
        queue: String,
        /// Job name.
        name: String,
        /// Job data.
        data: serde_json::Value,
    },
    /// Run a command: a job named by the entry id goes to `queue` (`[cron] queue`), whose
    /// consumer looks the command up locally by that id.
    Command {
        /// `[cron] queue`.
        queue: String,
        /// `SHELL` of the crontab.
        shell: String,
        /// The command line.
        command: String,
        /// Crontab environment lines.
        env: Vec<(String, String)>,
    },
}

/// One scheduled entry.
#[derive(Debug, Clone)]
pub struct PlannedEntry {
    /// Stable id: the `name`, or a hash of schedule, zone and target.
    pub id: String,
    /// How log lines name it: the `name` when set, else place and command (an id hash alone
    /// tells a reader nothing).
    pub label: String,
    /// Where it was written (`crontab:12`, `config/worker.toml:40: [schedule #1]`).
    pub place: String,
    /// When.
    pub schedule: Schedule,
    /// In which zone.
    pub tz: Tz,
    /// What.
    pub action: Action,
    /// Overlap, jitter, catch-up and staleness: its table's or `[cron.entries."KEY"]`'s,
    /// over `[cron]`'s, over the built-in defaults.
    pub policy: EntryPolicy,
    /// Timeout of a command entry's run.
    pub timeout: Option<Duration>,
    /// A command entry's attempts, backoff and retention, resolved from its table, `[cron]`
    /// and `[defaults]` (see [`crate::config::CronConfig`]); `None` for an enqueue entry,
    /// whose job takes its target handler's settings when it is added.
    pub runs: Option<HandlerDefaults>,
}

impl PlannedEntry {
    /// What it does, as written (the command, or `enqueue QUEUE NAME`).
    pub fn what(&self) -> String {
        match &self.action {
            Action::Enqueue { queue, name, .. } => format!("enqueue {queue} {name}"),
            Action::Command { command, .. } => command.clone(),
        }
    }

    /// The queue and job name this entry's ticks are added as.
    pub fn job_target(&self) -> (&str, &str) {
        match &self.action {
            Action::Enqueue { queue, name, .. } => (queue, name),
            Action::Command { queue, .. } => (queue, &self.id),
        }
    }
}

/// All entries.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// In file order: crontab lines first, then `[[schedule]]` tables.
    pub entries: Vec<PlannedEntry>,
}

impl Plan {
    /// Builds the plan. `crontab_name` is how the file is named in places (`crontab`).
    /// Errors are complete sentences naming the place.
    pub fn build(
        crontab: Option<(&str, &Crontab)>,
        config: &Config,
        daemon_tz: Tz,
    ) -> Result<Arc<Plan>, Vec<String>> {
        let mut entries = Vec::new();
        let mut errors = Vec::new();
        let queue = config.cron.queue.as_str();
        if let Some((file, tab)) = crontab {
            for e in &tab.entries {
                let mut planned = from_line(file, tab, e, daemon_tz, queue);
                // A line's own table, else `[cron]`'s defaults alone.
                let own = config
                    .cron
                    .entries
                    .iter()
                    .find(|t| t.matches(e.line, &planned.id));
                let said = own.map_or(config.cron.policy.clone(), |t| {
                    t.policy.over(&config.cron.policy)
                });
                planned.policy = said.resolve();
                entries.push(planned);
            }
        }
        let default_tz = crontab.and_then(|(_, t)| t.default_tz);
        for s in &config.schedules {
            let tab = crontab.map(|(_, t)| t);
            match from_table(s, tab, default_tz.unwrap_or(daemon_tz), &config.cron) {
                Ok(e) => entries.push(e),
                Err(msg) => errors.push(msg),
            }
        }
        let mut seen = std::collections::HashMap::new();
        for e in &entries {
            if let Some(first) = seen.insert(e.id.clone(), e.place.clone()) {
                errors.push(format!(
                    "{}: entry id {:?} is also used at {first}: give one of them another name",
                    e.place, e.id
                ));
            }
        }
        resolve_runs(&mut entries, config);
        errors.extend(unmatched_entry_tables(crontab, config));
        if config.overlap_all {
            // `--overlapping` (Supercronic's `-overlapping`): no entry waits for its last run.
            for e in &mut entries {
                e.policy.overlap = Overlap::Allow;
            }
        }
        if errors.is_empty() {
            Ok(Arc::new(Plan { entries }))
        } else {
            Err(errors)
        }
    }

    /// The entries that run commands (the `cron` queue's handlers).
    pub fn commands(&self) -> impl Iterator<Item = &PlannedEntry> {
        self.entries
            .iter()
            .filter(|e| matches!(e.action, Action::Command { .. }))
    }
}

/// Loads the plan: reads and parses the configured crontab (see [`read_crontab`]) and builds
/// the plan from it and the config's `[[schedule]]` tables, in `zone` for entries that name
/// none. Returns the plan and the crontab's name, or the complete error text to print (each
/// line naming `FILE:LINE`). The caller picks the zone, so this reads no environment.
pub fn load(config: &Config, zone: Tz) -> Result<(Arc<Plan>, Option<String>), String> {
    let crontab = read_crontab(config)?;
    let plan = Plan::build(crontab.as_ref().map(|(n, t)| (n.as_str(), t)), config, zone).map_err(
        |errs| {
            errs.iter()
                .map(|e| format!("error: {e}"))
                .collect::<Vec<_>>()
                .join("\n")
        },
    )?;
    Ok((plan, crontab.map(|(n, _)| n)))
}

/// Reads and parses the configured crontab, logging its warnings. `Ok(None)` when the default
/// `./crontab` does not exist (no schedule); an explicitly named file must exist.
pub fn read_crontab(config: &Config) -> Result<Option<(String, Crontab)>, String> {
    let path = &config.crontab;
    let name = path.display().to_string();
    // Capped: a crontab path naming /dev/zero or a pipe must not read until memory runs out.
    let bytes = match crate::config::files::read_capped(path, crate::config::files::MAX_FILE_BYTES)
    {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !config.crontab_explicit => {
            return Ok(None)
        }
        Err(e) => return Err(format!("error: {name}: cannot read crontab: {e}")),
    };
    let text = crate::crontab::text::decode(bytes).map_err(|d| format!("error: {name}:{d}"))?;
    match crate::crontab::parse::parse_crontab(&text) {
        Ok(tab) => {
            for w in &tab.warnings {
                tracing::warn!("{name}:{w}");
            }
            Ok(Some((name, tab)))
        }
        Err(errors) => Err(errors
            .0
            .iter()
            .map(|d| format!("error: {name}:{d}"))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// Fills each command entry's [`PlannedEntry::runs`]: its table's attempts and backoff, else
/// `[cron]`'s (one attempt by default: Supercronic runs a line once per tick); retention from
/// `[cron]`, else `[defaults]`, else the bounded default, whose completed count scales with the
/// number of command entries (BullMQ counts per queue). A `[[schedule]]` table is found by its
/// place (unique: the line of its header) for its own `attempts`/`backoff`.
fn resolve_runs(entries: &mut [PlannedEntry], config: &Config) {
    let cron = &config.cron;
    let commands = entries
        .iter()
        .filter(|e| matches!(e.action, Action::Command { .. }))
        .count();
    for e in entries.iter_mut() {
        if !matches!(e.action, Action::Command { .. }) {
            continue;
        }
        let table = config.schedules.iter().find(|s| s.place == e.place);
        e.runs = Some(HandlerDefaults {
            attempts: table.and_then(|s| s.attempts).unwrap_or(cron.runs.attempts),
            backoff: table.and_then(|s| s.backoff).unwrap_or(cron.runs.backoff),
            remove_on_complete: Some(cron.keep_completed(commands)),
            remove_on_fail: Some(cron.keep_failed()),
        });
    }
}

fn from_line(file: &str, tab: &Crontab, e: &Entry, daemon_tz: Tz, queue: &str) -> PlannedEntry {
    let action = match &e.target {
        Target::Command(command) => Action::Command {
            queue: queue.to_string(),
            shell: tab.shell.clone(),
            command: command.clone(),
            env: tab.env.clone(),
        },
        Target::Enqueue { queue, name, data } => Action::Enqueue {
            queue: queue.clone(),
            name: name.clone(),
            data: data.clone(),
        },
    };
    let place = format!("{file}:{}", e.line);
    PlannedEntry {
        id: e.id(),
        label: label(None, &place, &e.target.text()),
        place,
        schedule: e.schedule.clone(),
        tz: e.zone(tab.default_tz, daemon_tz),
        action,
        policy: EntryPolicy::default(),
        timeout: None,
        runs: None,
    }
}

fn from_table(
    s: &ScheduleConfig,
    tab: Option<&Crontab>,
    default_tz: Tz,
    cron: &crate::config::CronConfig,
) -> Result<PlannedEntry, String> {
    let queue = cron.queue.as_str();
    let schedule =
        Schedule::parse(&s.cron).map_err(|e| format!("{} cron {:?}: {e}", s.place, s.cron))?;
    let policy = s.policy.over(&cron.policy).resolve();
    let tz = match &s.tz {
        Some(name) => parse_zone(name).map_err(|e| format!("{} tz: {e}", s.place))?,
        None => default_tz,
    };
    let action = match &s.target {
        ScheduleTarget::Enqueue { queue, name, data } => Action::Enqueue {
            queue: queue.clone(),
            name: name.clone(),
            data: data.clone(),
        },
        ScheduleTarget::Command(command) => Action::Command {
            queue: queue.to_string(),
            shell: tab
                .map(|t| t.shell.clone())
                .unwrap_or_else(|| "/bin/sh".into()),
            command: command.clone(),
            env: tab.map(|t| t.env.clone()).unwrap_or_default(),
        },
    };
    let id = match &s.name {
        Some(n) => n.clone(),
        None => table_id(&schedule, tz, &action),
    };
    let what = match &action {
        Action::Enqueue { queue, name, .. } => format!("enqueue {queue} {name}"),
        Action::Command { command, .. } => command.clone(),
    };
    Ok(PlannedEntry {
        id,
        label: label(s.name.as_deref(), &s.place, &what),
        place: s.place.clone(),
        schedule,
        tz,
        action,
        policy,
        timeout: s.timeout,
        runs: None,
    })
}

/// `[cron.entries."KEY"]` tables that name no crontab line: a typo there would otherwise
/// leave the line on the defaults without a word.
fn unmatched_entry_tables(crontab: Option<(&str, &Crontab)>, config: &Config) -> Vec<String> {
    let lines: Vec<(usize, String)> = crontab
        .map(|(_, t)| t.entries.iter().map(|e| (e.line, e.id())).collect())
        .unwrap_or_default();
    config
        .cron
        .entries
        .iter()
        .filter(|t| !lines.iter().any(|(line, id)| t.matches(*line, id)))
        .map(|t| {
            format!(
                "{}: {:?} names no entry of the crontab: use \"crontab:LINE\" with the line \
                 number of a schedule line, or the entry id `worker --test-crontab` shows",
                t.place, t.key
            )
        })
        .collect()
}

/// An entry's readable name: its `name`, else `PLACE COMMAND` with the command cut at
/// [`LABEL_COMMAND_CHARS`] characters (a whole script on every line would drown the log).
fn label(name: Option<&str>, place: &str, what: &str) -> String {
    if let Some(n) = name {
        return n.to_string();
    }
    let what = what.trim();
    let mut short: String = what.chars().take(LABEL_COMMAND_CHARS).collect();
    if short.len() < what.len() {
        short.push('…');
    }
    format!("{place} {short}")
}

/// How much of a command an entry's label shows.
const LABEL_COMMAND_CHARS: usize = 60;

/// Id of an unnamed table: the same hash a crontab line with that schedule, zone and target
/// gets, so moving a line between the two forms keeps its id.
fn table_id(schedule: &Schedule, tz: Tz, action: &Action) -> String {
    let target = match action {
        Action::Enqueue { queue, name, data } => Target::Enqueue {
            queue: queue.clone(),
            name: name.clone(),
            data: data.clone(),
        },
        Action::Command { command, .. } => Target::Command(command.clone()),
    };
    Entry {
        line: 0,
        schedule: schedule.clone(),
        tz: Some(tz),
        target,
    }
    .id()
}

#[cfg(test)]
pub(crate) mod tests;
