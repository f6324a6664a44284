//! The schedule policy keys, wherever written (`[[schedule]]`, `[cron]`,
//! `[cron.entries."KEY"]`): each value parsed and checked against its range, with its place.

use super::ranges::{self, Bounds};
use super::{invalid, opt_duration_in};
use crate::config::cron_policy::{CatchUpMode, JitterMode, PolicySettings};
use crate::config::raw::RawPolicy;
use crate::config::{Error, Overlap};

/// `buffer_max`: each held tick is a few bytes here, but a long backlog would run for hours
/// after the slow run ends.
const BUFFER_MAX: Bounds<u64> = Bounds {
    min: 1,
    max: 1000,
    why: "ticks held behind a running run; more is a backlog, not a buffer",
};

/// `catch_up_max`: every missed tick is a job added at start.
const CATCH_UP_MAX: Bounds<u64> = Bounds {
    min: 1,
    max: 10_000,
    why: "each missed tick becomes a job at start",
};

/// `alert_after`: a per-second entry may want a few seconds; zero would be stale at once.
const ALERT_AFTER: Bounds<std::time::Duration> = Bounds {
    min: std::time::Duration::from_secs(1),
    max: std::time::Duration::from_secs(366 * 86_400),
    why: "no success for this long makes the entry stale",
};

/// Parses `raw`; `place(key)` names where each key is written.
pub(super) fn policy(
    raw: &RawPolicy,
    place: impl Fn(&str) -> String,
) -> Result<PolicySettings, Error> {
    let overlap = raw
        .overlap
        .as_deref()
        .map(|o| {
            parse_overlap(o).ok_or_else(|| {
                invalid(
                    place("overlap"),
                    format!(
                        "{o:?}: use \"forbid\", \"allow\", \"replace\", \"buffer_one\" or \"buffer_all\""
                    ),
                )
            })
        })
        .transpose()?;
    let jitter_mode = one_of(&raw.jitter_mode, "jitter_mode", &JITTER_MODES, &place)?;
    let catch_up_mode = one_of(&raw.catch_up_mode, "catch_up_mode", &CATCH_UP_MODES, &place)?;
    let count = |v: Option<u64>, key: &str, b: &Bounds<u64>| {
        v.map(|n| ranges::count_in(n, &place(key), b).map(|n| n as usize))
            .transpose()
    };
    Ok(PolicySettings {
        overlap,
        buffer_max: count(raw.buffer_max, "buffer_max", &BUFFER_MAX)?,
        jitter: opt_duration_in(&raw.jitter, || place("jitter"), &ranges::JITTER)?,
        jitter_mode,
        catch_up: opt_duration_in(&raw.catch_up, || place("catch_up"), &ranges::CATCH_UP)?,
        catch_up_mode,
        catch_up_max: count(raw.catch_up_max, "catch_up_max", &CATCH_UP_MAX)?,
        alert_after: opt_duration_in(&raw.alert_after, || place("alert_after"), &ALERT_AFTER)?,
        ping: raw
            .ping
            .as_deref()
            .map(|u| ping_url(u, &place("ping"), true))
            .transpose()?,
        notify: raw
            .notify
            .as_deref()
            .map(|u| ping_url(u, &place("notify"), false))
            .transpose()?,
    })
}

/// The words a mode key takes, each with its mode, and what to tell a user who wrote another.
struct Words<T: 'static> {
    words: &'static [(&'static str, T)],
    hint: &'static str,
}

/// `jitter_mode`.
const JITTER_MODES: Words<JitterMode> = Words {
    words: &[("random", JitterMode::Random), ("fixed", JitterMode::Fixed)],
    hint: "use \"random\" (a new delay per tick) or \"fixed\" (one delay per entry)",
};

/// `catch_up_mode`.
const CATCH_UP_MODES: Words<CatchUpMode> = Words {
    words: &[("once", CatchUpMode::Once), ("all", CatchUpMode::All)],
    hint: "use \"once\" (one run for all missed ticks) or \"all\" (each, up to catch_up_max)",
};

/// A mode key: unset, one of its `words`, or an error at `place(key)` quoting the value and
/// giving the hint. One reading for every mode key, so each is only its table of words.
fn one_of<T: Copy>(
    value: &Option<String>,
    key: &str,
    words: &Words<T>,
    place: &dyn Fn(&str) -> String,
) -> Result<Option<T>, Error> {
    let Some(value) = value.as_deref() else {
        return Ok(None);
    };
    match words.words.iter().find(|(word, _)| *word == value) {
        Some(&(_, mode)) => Ok(Some(mode)),
        None => Err(invalid(place(key), format!("{value:?}: {}", words.hint))),
    }
}

/// A check-in URL: http(s), with a host. The message never repeats the URL (it holds a key).
fn ping_url(url: &str, place: &str, sentry: bool) -> Result<String, Error> {
    // `sentry` / `sentry:SLUG`: Sentry Crons through the daemon's Sentry client (`notify` takes
    // only URLs; a `sentry` there fails below like any other non-URL).
    if sentry && crate::config::cron_policy::is_sentry(url) {
        let slug = url.strip_prefix("sentry:").unwrap_or("x");
        if !slug.is_empty() && slug.len() <= 50 {
            return Ok(url.to_string());
        }
    }
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(url.to_string())
        }
        _ => Err(invalid(
            place.to_string(),
            "not an http(s) URL: give the check-in URL the service shows, e.g. \
             https://hc-ping.com/UUID or https://cronitor.link/p/KEY/NAME, or \"sentry\" / \"sentry:SLUG\" \
             for Sentry Crons (SLUG: 1 to 50 characters)",
        )),
    }
}

fn parse_overlap(text: &str) -> Option<Overlap> {
    Some(match text {
        "forbid" => Overlap::Forbid,
        "allow" => Overlap::Allow,
        "replace" => Overlap::Replace,
        "buffer_one" => Overlap::BufferOne,
        "buffer_all" => Overlap::BufferAll,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::load_text;
    use crate::config::cron_policy::{CatchUpMode, JitterMode};
    use crate::config::{Overlap, Overrides};

    fn load(text: &str) -> Result<crate::config::Config, String> {
        load_text(text, &[], Overrides::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn policies_parse_in_all_three_places() {
        let c = load(
            "[cron]\noverlap = \"buffer_one\"\njitter = \"30s\"\njitter_mode = \"fixed\"\n\
             [cron.entries.\"crontab:3\"]\noverlap = \"buffer_all\"\nbuffer_max = 4\n\
             catch_up = \"2h\"\ncatch_up_mode = \"all\"\ncatch_up_max = 5\nalert_after = \"1h\"\n\
             [[schedule]]\ncron = \"@daily\"\ncommand = \"true\"\noverlap = \"replace\"\n",
        )
        .unwrap();
        assert_eq!(c.cron.policy.overlap, Some(Overlap::BufferOne));
        assert_eq!(c.cron.policy.jitter_mode, Some(JitterMode::Fixed));
        let e = &c.cron.entries[0];
        assert_eq!(e.key, "crontab:3");
        assert!(
            e.place.ends_with(":5: [cron.entries.\"crontab:3\"]"),
            "{}",
            e.place
        );
        assert_eq!(e.policy.overlap, Some(Overlap::BufferAll));
        assert_eq!(e.policy.buffer_max, Some(4));
        assert_eq!(e.policy.catch_up_mode, Some(CatchUpMode::All));
        assert_eq!(e.policy.catch_up_max, Some(5));
        assert!(e.policy.alert_after.is_some());
        assert_eq!(c.schedules[0].policy.overlap, Some(Overlap::Replace));
    }

    #[test]
    fn sentry_is_a_ping_kind_but_not_a_notify_url() {
        let c = load("[cron]\nping = \"sentry:db-dump\"\n").unwrap();
        assert_eq!(c.cron.policy.ping.as_deref(), Some("sentry:db-dump"));
        assert!(load("[cron]\nping = \"sentry\"\n").is_ok());
        let err = load("[cron]\nping = \"sentry:\"\n").unwrap_err();
        assert!(err.contains("sentry:SLUG"), "{err}");
        assert!(load("[cron]\nnotify = \"sentry\"\n").is_err());
    }

    #[test]
    fn bad_values_name_their_place_and_the_fix() {
        let err = load("[cron]\nsome = 1\noverlap = \"buffer\"\n").unwrap_err();
        assert!(
            err.contains("unknown field") || err.contains("some"),
            "{err}"
        );
        let err = load("[cron]\noverlap = \"buffer\"\n").unwrap_err();
        assert!(err.contains(":2:") && err.contains("buffer_one"), "{err}");
        let err = load("[cron.entries.\"crontab:3\"]\nbuffer_max = 0\n").unwrap_err();
        assert!(err.contains(":2:") && err.contains("1 to 1000"), "{err}");
        let err =
            load("[[schedule]]\ncron = \"@daily\"\ncommand = \"true\"\njitter_mode = \"x\"\n")
                .unwrap_err();
        assert!(err.contains(":1:") && err.contains("\"fixed\""), "{err}");
        let err = load("[cron]\ncatch_up_mode = \"each\"\n").unwrap_err();
        assert!(err.contains("\"all\""), "{err}");
        // The mode keys quote the value and say each word's meaning, in full.
        let err = load("[cron]\njitter_mode = \"x\"\n").unwrap_err();
        let hint =
            "\"x\": use \"random\" (a new delay per tick) or \"fixed\" (one delay per entry)";
        assert!(err.contains(":2:") && err.contains(hint), "{err}");
        let err = load("[cron]\ncatch_up_mode = \"each\"\n").unwrap_err();
        let hint = "\"each\": use \"once\" (one run for all missed ticks) or \"all\" (each, up to \
                    catch_up_max)";
        assert!(err.contains(":2:") && err.contains(hint), "{err}");
        let err = load("[cron]\ncatch_up_max = 0\n").unwrap_err();
        assert!(
            err.contains("catch_up_max") && err.contains("1 to 10000"),
            "{err}"
        );
        let err = load("[cron]\nping = \"ftp://x/secret-key\"\n").unwrap_err();
        assert!(err.contains(":2:") && err.contains("hc-ping.com"), "{err}");
        assert!(
            !err.contains("secret-key"),
            "the URL's key is not repeated: {err}"
        );
        let err = load("[cron]\nalert_after = \"0s\"\n").unwrap_err();
        assert!(
            err.contains("alert_after") && err.contains("use 1s to"),
            "{err}"
        );
    }
}
