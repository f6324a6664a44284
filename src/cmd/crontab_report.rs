//! The reports of `worker --test-crontab FILE` and `worker cron next`: CLI output built from
//! the pure crontab dialect (`crate::crontab`); printing is left to [`super::crontab`].

use std::fmt::Write;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use crate::crontab::parse::{parse_crontab, Target};

/// `--test-crontab`: (stdout, stderr, valid). Each entry with its place, schedule, zone,
/// target and id, then its next 3 fire times; warnings and errors as `FILE:LINE:COL: …`.
pub(super) fn test_report(
    file: &str,
    text: &str,
    now: DateTime<Utc>,
    daemon_tz: Tz,
    config: &crate::config::Config,
) -> (String, String, bool) {
    let mut out = String::new();
    let mut err = String::new();
    let tab = match parse_crontab(text) {
        Ok(t) => t,
        Err(errors) => {
            for d in &errors.0 {
                let _ = writeln!(err, "{file}:{d}");
            }
            let _ = writeln!(err, "{file}: {} invalid line(s)", errors.0.len());
            return (out, err, false);
        }
    };
    // The policies each line runs by, as the daemon would resolve them.
    let plan = match crate::cron::Plan::build(Some((file, &tab)), config, daemon_tz) {
        Ok(p) => Some(p),
        Err(errors) => {
            for e in &errors {
                let _ = writeln!(err, "error: {e}");
            }
            None
        }
    };
    for (i, e) in tab.entries.iter().enumerate() {
        let tz = e.zone(tab.default_tz, daemon_tz);
        let target = match &e.target {
            Target::Command(c) => format!("command (queue cron): {c}"),
            Target::Enqueue { queue, name, data } => format!("enqueue {queue} {name} {data}"),
        };
        let _ = writeln!(
            out,
            "{file}:{}  [{}]  {}  ({})  id={}",
            e.line,
            e.schedule,
            target,
            tz.name(),
            e.id()
        );
        if let Some(planned) = plan.as_ref().and_then(|p| p.entries.get(i)) {
            let _ = writeln!(out, "    {}", super::crontab_policy::describe(planned));
        }
        if e.schedule.is_reboot() {
            let _ = writeln!(out, "    at daemon start");
            continue;
        }
        let fires = e.schedule.upcoming(now, tz, 3);
        if fires.is_empty() {
            let _ = writeln!(
                err,
                "{file}:{}:1: warning: \"{}\" never fires again: the entry is disabled",
                e.line, e.schedule
            );
        }
        for t in fires {
            let _ = writeln!(
                out,
                "    {}  ({})",
                t.format("%Y-%m-%dT%H:%M:%SZ"),
                t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S %Z")
            );
        }
    }
    for w in &tab.warnings {
        let _ = writeln!(
            err,
            "{file}:{}:{}: warning: {}",
            w.line, w.column, w.message
        );
    }
    let _ = writeln!(
        out,
        "{file}: {} entr{} valid",
        tab.entries.len(),
        if tab.entries.len() == 1 { "y" } else { "ies" }
    );
    (out, err, plan.is_some())
}
