//! An entry's schedule policies, validated: overlap (five modes), jitter (random or fixed),
//! catch-up after downtime (once or all) and the staleness alert. One shape for the three
//! places that say them, layered most specific first: a `[[schedule]]` table or a
//! `[cron.entries."crontab:LINE"]` table, then `[cron]`'s defaults, then the built-in ones
//! ([`PolicySettings::resolve`]). Each place's value is an `Option`, so "not said here" falls
//! through to the layer below instead of resetting it.

use std::time::Duration;

use super::Overlap;

/// Ticks `overlap = "buffer_all"` holds behind a running run unless `buffer_max` says.
pub const DEFAULT_BUFFER_MAX: usize = 10;

/// Missed ticks `catch_up_mode = "all"` runs after downtime unless `catch_up_max` says.
pub const DEFAULT_CATCH_UP_MAX: usize = 10;

/// `jitter_mode`: how a tick's start delay within `jitter` is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JitterMode {
    /// A new random delay per tick (systemd's `RandomizedDelaySec`).
    #[default]
    Random,
    /// The same delay for every tick, hashed from the entry id (systemd's
    /// `FixedRandomDelay`): replicas agree, and runs keep an even spacing.
    Fixed,
}

/// `catch_up_mode`: what runs after downtime of the ticks missed within `catch_up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CatchUpMode {
    /// The missed ticks collapse into one run (the latest): systemd's `Persistent=true`.
    #[default]
    Once,
    /// Each missed tick runs, oldest first, the newest `catch_up_max` of them.
    All,
}

/// The policies one place says; `None`: not said there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicySettings {
    /// `overlap`.
    pub overlap: Option<Overlap>,
    /// `buffer_max` (with `overlap = "buffer_all"`).
    pub buffer_max: Option<usize>,
    /// `jitter`.
    pub jitter: Option<Duration>,
    /// `jitter_mode`.
    pub jitter_mode: Option<JitterMode>,
    /// `catch_up`: the window looked back at start.
    pub catch_up: Option<Duration>,
    /// `catch_up_mode`.
    pub catch_up_mode: Option<CatchUpMode>,
    /// `catch_up_max` (with `catch_up_mode = "all"`).
    pub catch_up_max: Option<usize>,
    /// `alert_after`: no success for this long makes the entry stale.
    pub alert_after: Option<Duration>,
    /// `ping`: the check-in URL (`cron::checkin`).
    pub ping: Option<String>,
    /// `notify`: the failure webhook (`cron::notify`).
    pub notify: Option<String>,
}

impl PolicySettings {
    /// These settings, each unsaid one taken from `lower`.
    pub fn over(&self, lower: &PolicySettings) -> PolicySettings {
        PolicySettings {
            overlap: self.overlap.or(lower.overlap),
            buffer_max: self.buffer_max.or(lower.buffer_max),
            jitter: self.jitter.or(lower.jitter),
            jitter_mode: self.jitter_mode.or(lower.jitter_mode),
            catch_up: self.catch_up.or(lower.catch_up),
            catch_up_mode: self.catch_up_mode.or(lower.catch_up_mode),
            catch_up_max: self.catch_up_max.or(lower.catch_up_max),
            alert_after: self.alert_after.or(lower.alert_after),
            ping: self.ping.clone().or_else(|| lower.ping.clone()),
            notify: self.notify.clone().or_else(|| lower.notify.clone()),
        }
    }

    /// The policies an entry runs by: each unsaid one its built-in default.
    pub fn resolve(&self) -> EntryPolicy {
        EntryPolicy {
            overlap: self.overlap.unwrap_or_default(),
            buffer_max: self.buffer_max.unwrap_or(DEFAULT_BUFFER_MAX),
            jitter: self.jitter.filter(|j| !j.is_zero()),
            jitter_mode: self.jitter_mode.unwrap_or_default(),
            catch_up: self.catch_up,
            catch_up_mode: self.catch_up_mode.unwrap_or_default(),
            catch_up_max: self.catch_up_max.unwrap_or(DEFAULT_CATCH_UP_MAX),
            alert_after: self.alert_after,
            ping: self.ping.clone(),
            notify: self.notify.clone(),
        }
    }
}

/// An entry's resolved policies.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryPolicy {
    /// When the previous run is not finished.
    pub overlap: Overlap,
    /// Ticks held behind a running run with `buffer_all`.
    pub buffer_max: usize,
    /// Start delay bound, `None` for none.
    pub jitter: Option<Duration>,
    /// How the delay is chosen.
    pub jitter_mode: JitterMode,
    /// How far back ticks missed while down are looked for, `None`: not at all.
    pub catch_up: Option<Duration>,
    /// Once or all.
    pub catch_up_mode: CatchUpMode,
    /// At most this many missed ticks run with `all`.
    pub catch_up_max: usize,
    /// Stale after this long without a success.
    pub alert_after: Option<Duration>,
    /// Check-in URL.
    pub ping: Option<String>,
    /// Failure webhook.
    pub notify: Option<String>,
}

impl Default for EntryPolicy {
    fn default() -> Self {
        PolicySettings::default().resolve()
    }
}

impl Overlap {
    /// As written in the config (and shown by the API and `--test-crontab`).
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Forbid => "forbid",
            Overlap::Allow => "allow",
            Overlap::Replace => "replace",
            Overlap::BufferOne => "buffer_one",
            Overlap::BufferAll => "buffer_all",
        }
    }
}

/// Whether a `ping` value asks for Sentry Crons (`"sentry"` or `"sentry:SLUG"`) rather than a
/// check-in URL.
pub fn is_sentry(ping: &str) -> bool {
    ping == "sentry" || ping.starts_with("sentry:")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_overrides_cron_defaults_field_by_field() {
        let cron = PolicySettings {
            overlap: Some(Overlap::Replace),
            jitter: Some(Duration::from_secs(30)),
            ..PolicySettings::default()
        };
        let table = PolicySettings {
            jitter_mode: Some(JitterMode::Fixed),
            jitter: Some(Duration::from_secs(5)),
            ..PolicySettings::default()
        };
        let p = table.over(&cron).resolve();
        assert_eq!(p.overlap, Overlap::Replace);
        assert_eq!(p.jitter, Some(Duration::from_secs(5)));
        assert_eq!(p.jitter_mode, JitterMode::Fixed);
        assert_eq!(p.buffer_max, DEFAULT_BUFFER_MAX);
        assert_eq!(p.catch_up, None);
        let zero = PolicySettings {
            jitter: Some(Duration::ZERO),
            ..PolicySettings::default()
        };
        assert_eq!(zero.resolve().jitter, None, "0s is no jitter");
    }
}
