//! Fair groups (issue 30 point 3): a queue's jobs carry a group (a tenant, a customer), and
//! each group gets at most `group_concurrency` running jobs and `group_rate` starts per window,
//! so one group's backlog never fills every slot of the queue. BullMQ Pro's "groups", Oban
//! Pro's partitions, Sidekiq Enterprise's limiters, in cronq's own keys.
//!
//! This file is the store-free part: the validated [`GroupPolicy`] a queue's config carries,
//! and [`GroupPolicy::group_of`], the one rule that says which group a job is in. Each store
//! enforces the policy its own way (`redis/groups.rs`: a script of ours after the engine's
//! fetch, parking a job whose group is full; `embedded/groups.rs`: the claim query itself).
//!
//! A job's group, in this order:
//! 1. its BullMQ Pro option `opts.group.id` (a string or a number), so Pro producers keep
//!    working unchanged;
//! 2. else the queue's `group_by` path into its data (`data.tenant`, `data.customer.id`).
//!
//! A job with neither (field missing, `null`, an object, a list, a boolean, an empty string)
//! runs ungrouped: no group limit applies to it, and it never fails for it (the data is a
//! foreign producer's: untrusted, and not cronq's to reject).

use std::num::NonZeroU32;
use std::time::Duration;

use serde_json::Value;

use super::job_opts::JobOpts;

/// Longest group id kept as written; a longer one is cut (at a character boundary) so that a
/// foreign producer cannot make Redis keys and metric labels of any size. Two ids equal in
/// their first 128 bytes share a group: a limit, stated in the README.
pub const MAX_GROUP_ID: usize = 128;

/// Most groups reported per queue (`/metrics`, `GET /api/queues`), the busiest first: a
/// foreign producer can make any number of groups, and each is a metric series.
pub const MAX_REPORTED_GROUPS: usize = 50;

/// One group's jobs now, for `/metrics` and the API.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct GroupCount {
    /// The group id.
    pub group: String,
    /// Its jobs running (on every daemon).
    pub running: u64,
    /// Its jobs waiting for room in the group: set aside ("parked") on Redis, ready on the
    /// embedded store.
    pub parked: u64,
}

/// Keeps the [`MAX_REPORTED_GROUPS`] busiest groups (running, then parked, then by name).
pub fn busiest(mut counts: Vec<GroupCount>) -> Vec<GroupCount> {
    counts.sort_by(|a, b| {
        (b.running, b.parked)
            .cmp(&(a.running, a.parked))
            .then_with(|| a.group.cmp(&b.group))
    });
    counts.truncate(MAX_REPORTED_GROUPS);
    counts
}

/// A queue's group settings (`[queues.NAME] group_by`, `group_concurrency`, `group_rate`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPolicy {
    /// The path into a job's data under `data.` (`["tenant"]` for `data.tenant`); `None`: only
    /// `opts.group.id` groups jobs.
    pub by: Option<Vec<String>>,
    /// At most this many running jobs of one group (across every daemon); `None`: no cap.
    pub concurrency: Option<NonZeroU32>,
    /// At most this many starts of one group per window; `None`: no rate.
    pub rate: Option<GroupRate>,
}

/// `group_rate = "10/s"`: at most `max` starts per group in each `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupRate {
    /// Starts allowed per window.
    pub max: NonZeroU32,
    /// The window: a second, a minute or an hour.
    pub window: Duration,
}

impl GroupPolicy {
    /// The group of a job with these stored options and data; `None`: ungrouped.
    pub fn group_of(&self, opts: &JobOpts, data: Option<&Value>) -> Option<String> {
        if let Some(id) = opts
            .get("group")
            .and_then(|g| g.get("id"))
            .and_then(id_text)
        {
            return Some(id);
        }
        let path = self.by.as_ref()?;
        let mut at = data?;
        for key in path {
            at = at.get(key.as_str())?;
        }
        id_text(at)
    }

    /// Whether any limit applies (a policy with neither cap nor rate groups nothing).
    pub fn limits(&self) -> bool {
        self.concurrency.is_some() || self.rate.is_some()
    }
}

/// A group id from a JSON value: a non-empty string or a number (as JSON writes it), cut to
/// [`MAX_GROUP_ID`] bytes; anything else is no group.
fn id_text(v: &Value) -> Option<String> {
    let text = match v {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(crate::rules::cut_to(&text, MAX_GROUP_ID).to_string())
}

/// Parses `group_by`: `data.` then one or more keys separated by dots.
pub fn parse_group_by(text: &str) -> Result<Vec<String>, String> {
    let fix = "write a dotted path into the job's data, e.g. group_by = \"data.tenant\"";
    let Some(rest) = text.strip_prefix("data.") else {
        return Err(format!(
            "{text:?} does not start with \"data.\": {fix} (a BullMQ Pro producer's \
             opts.group.id is read without any setting)"
        ));
    };
    let keys: Vec<String> = rest.split('.').map(str::to_string).collect();
    if keys.iter().any(|k| k.is_empty() || k.trim() != k) {
        return Err(format!("{text:?} has an empty or padded key: {fix}"));
    }
    // The embedded store reads the path with SQLite's JSON functions, which quote each key.
    if keys.iter().any(|k| k.contains(['"', '\\'])) {
        return Err(format!(
            "{text:?} has a quote or a backslash in a key: {fix}"
        ));
    }
    Ok(keys)
}

/// Parses `group_rate`: `N/s`, `N/m` or `N/h` with N ≥ 1.
pub fn parse_group_rate(text: &str) -> Result<GroupRate, String> {
    let fix = "write starts per window as N/s, N/m or N/h, e.g. group_rate = \"10/s\"";
    let (n, unit) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} has no window: {fix}"))?;
    let window = match unit.trim() {
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        other => return Err(format!("window {other:?} is unknown: {fix}")),
    };
    let max = n
        .trim()
        .parse::<u32>()
        .ok()
        .and_then(NonZeroU32::new)
        .ok_or_else(|| format!("{n:?} is not a whole number of at least 1: {fix}"))?;
    Ok(GroupRate { max, window })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(by: Option<&str>) -> GroupPolicy {
        GroupPolicy {
            by: by.map(|b| parse_group_by(b).unwrap()),
            concurrency: NonZeroU32::new(2),
            rate: None,
        }
    }

    fn opts(v: Value) -> JobOpts {
        crate::queue::job_opts::from_value(v)
    }

    #[test]
    fn pro_option_first_then_the_data_path_else_ungrouped() {
        let p = policy(Some("data.customer.id"));
        let data = json!({"customer": {"id": "acme"}, "tenant": 7});
        assert_eq!(
            p.group_of(&opts(json!({"group": {"id": "pro"}})), Some(&data)),
            Some("pro".into())
        );
        assert_eq!(
            p.group_of(&opts(json!({"group": {"id": 42}})), Some(&data)),
            Some("42".into())
        );
        assert_eq!(
            p.group_of(&opts(json!({})), Some(&data)),
            Some("acme".into())
        );
        let by_number = policy(Some("data.tenant"));
        assert_eq!(
            by_number.group_of(&opts(json!({})), Some(&data)),
            Some("7".into())
        );
        // Without group_by, only the Pro option groups.
        assert_eq!(policy(None).group_of(&opts(json!({})), Some(&data)), None);
    }

    #[test]
    fn anything_but_a_string_or_number_is_ungrouped_never_an_error() {
        let p = policy(Some("data.tenant"));
        let none = opts(json!({}));
        for data in [
            json!({}),
            json!({"tenant": null}),
            json!({"tenant": {"a": 1}}),
            json!({"tenant": [1]}),
            json!({"tenant": true}),
            json!({"tenant": ""}),
            json!("text"),
            json!([1, 2]),
        ] {
            assert_eq!(p.group_of(&none, Some(&data)), None, "{data}");
        }
        assert_eq!(p.group_of(&none, None), None);
        // A Pro option of the wrong shape falls through to the data path.
        let odd = opts(json!({"group": "x"}));
        assert_eq!(
            p.group_of(&odd, Some(&json!({"tenant": "t"}))),
            Some("t".into())
        );
    }

    #[test]
    fn long_ids_are_cut_at_a_character_boundary() {
        let p = policy(Some("data.t"));
        let long = "é".repeat(100);
        let got = p
            .group_of(&opts(json!({})), Some(&json!({ "t": long })))
            .unwrap();
        assert!(
            got.len() <= MAX_GROUP_ID && got.len() >= MAX_GROUP_ID - 1,
            "{}",
            got.len()
        );
    }

    #[test]
    fn settings_parse_and_bad_ones_say_the_fix() {
        assert_eq!(parse_group_by("data.tenant").unwrap(), vec!["tenant"]);
        assert_eq!(parse_group_by("data.a.b").unwrap(), vec!["a", "b"]);
        for bad in [
            "tenant",
            "data.",
            "data.a..b",
            "opts.group.id",
            "data. a",
            "data.a\"b",
        ] {
            let e = parse_group_by(bad).unwrap_err();
            assert!(e.contains("data.tenant"), "{bad}: {e}");
        }
        let r = parse_group_rate("10/s").unwrap();
        assert_eq!((r.max.get(), r.window), (10, Duration::from_secs(1)));
        assert_eq!(
            parse_group_rate("3/m").unwrap().window,
            Duration::from_secs(60)
        );
        assert_eq!(
            parse_group_rate("1/h").unwrap().window,
            Duration::from_secs(3600)
        );
        for bad in ["10", "0/s", "x/s", "10/d", "-1/s", "/s"] {
            let e = parse_group_rate(bad).unwrap_err();
            assert!(e.contains("10/s"), "{bad}: {e}");
        }
    }
}
