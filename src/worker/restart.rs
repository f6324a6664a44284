//! What a reload cannot apply to a running daemon, named for the operator. Handlers and the
//! schedule are swapped in place (`reload.rs`); the rest was fixed when the daemon started —
//! the pools (which queues, how many jobs at once), the store connection and layouts, the
//! listener, the drain and lock timings, the job options the API fills in — and is listed here
//! by comparing the new config with the one the daemon started with, so every reload repeats
//! what is still pending until a restart (as Supervisor's `reread` lists what `update` would do).

use std::collections::BTreeMap;
use std::fmt::Debug;

use super::routes::Consumed;
use super::routes::Routes;
use crate::config::Config;
use crate::queue::Layout;

/// One line per change that needs a restart, empty when everything is applied. `consumed` is
/// what runs (from the start), `fresh` what the new config and plan would consume.
pub(super) fn needs_restart(
    started: &Config,
    new: &Config,
    consumed: &Consumed,
    fresh: &BTreeMap<String, (usize, Routes)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (queue, (concurrency, _)) in fresh {
        match consumed.get(queue) {
            None => out.push(format!(
                "queue {queue} is new: it is not consumed until a restart"
            )),
            Some((running, _)) if running != concurrency => out.push(format!(
                "queue {queue} concurrency {running} → {concurrency}"
            )),
            Some(_) => {}
        }
    }
    for queue in consumed.keys().filter(|q| !fresh.contains_key(*q)) {
        out.push(format!(
            "queue {queue} has no handler any more: it is still consumed with its old handlers until a restart"
        ));
    }
    let layout = |c: &Config, q: &str| c.queues.get(q).map(|q| q.layout).unwrap_or_default();
    let queues: std::collections::BTreeSet<&String> =
        started.queues.keys().chain(new.queues.keys()).collect();
    for q in queues {
        let (old, now): (Layout, Layout) = (layout(started, q), layout(new, q));
        if old != now {
            out.push(format!("queue {q} layout {old:?} → {now:?}"));
        }
        // Fair groups are fixed in the consumer when it starts (`queue/groups.rs`).
        let groups = |c: &Config| c.queues.get(q.as_str()).and_then(|q| q.groups.clone());
        if groups(started) != groups(new) {
            out.push(format!(
                "queue {q} group_by, group_concurrency or group_rate changed"
            ));
        }
    }
    // Compared whole, not by its printed form (which hides the password).
    if started.store != new.store {
        out.push("[redis] connection changed".to_string());
    }
    let mut setting = |name: &str, old: &dyn Debug, now: &dyn Debug| {
        let (old, now) = (format!("{old:?}"), format!("{now:?}"));
        if old != now {
            out.push(format!("{name} changed"));
        }
    };
    setting("[redis] prefix", &started.prefix, &new.prefix);
    setting("[http] listen", &started.listen, &new.listen);
    setting("[http] limits", &started.http, &new.http);
    // Notification links are built from the address the scheduler started with.
    setting("[http] public_url", &started.public_url, &new.public_url);
    setting(
        "[worker] shutdown_timeout",
        &started.shutdown_timeout,
        &new.shutdown_timeout,
    );
    setting(
        "[worker] lock_duration, stalled_interval, max_stalled_count or metrics_points",
        &(
            started.lock_duration,
            started.stalled_interval,
            started.max_stalled_count,
            started.metrics_points,
        ),
        &(
            new.lock_duration,
            new.stalled_interval,
            new.max_stalled_count,
            new.metrics_points,
        ),
    );
    setting(
        "[worker] id or name",
        &(&started.worker_id, &started.worker_name),
        &(&new.worker_id, &new.worker_name),
    );
    setting(
        "[worker] max_jobs, max_runtime or max_memory_mb",
        &started.limits,
        &new.limits,
    );
    if api_options_differ(started, new) {
        out.push(
            "the job options the API fills in ([defaults], handlers' attempts, backoff, remove_on_*) changed"
                .to_string(),
        );
    }
    out
}

/// `QUEUE/NAME` of each handler added, removed or changed from `old` to `new`.
pub(super) fn changed_handlers(old: &Config, new: &Config) -> Vec<String> {
    let all = |c: &Config| -> BTreeMap<String, crate::config::HandlerConfig> {
        c.queues
            .iter()
            .flat_map(|(q, qc)| {
                qc.handlers
                    .iter()
                    .map(move |(n, h)| (format!("{q}/{n}"), h.clone()))
            })
            .collect()
    };
    let (old, new) = (all(old), all(new));
    let names: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    names
        .into_iter()
        .filter(|n| old.get(*n) != new.get(*n))
        .cloned()
        .collect()
}

/// Whether a job added through the API (whose state holds the start config) would get other
/// options from `new`: `[defaults]`, or a handler's own settings.
fn api_options_differ(old: &Config, new: &Config) -> bool {
    let handlers = |c: &Config| -> Vec<(String, String)> {
        c.queues
            .iter()
            .flat_map(|(q, qc)| qc.handlers.keys().map(move |n| (q.clone(), n.clone())))
            .collect()
    };
    let mut names = handlers(old);
    names.extend(handlers(new));
    // A handler's timeout is left out: its route applies it (swapped on reload), not the API.
    old.defaults.options != new.defaults.options
        || names
            .iter()
            .any(|(q, n)| old.job_settings(q, n).options != new.job_settings(q, n).options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::Plan;

    fn config(toml: &str) -> Config {
        let dir = std::env::temp_dir().join(format!("cronq-restart-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{}.toml", toml.len()));
        std::fs::write(&file, toml).unwrap();
        let flags = crate::config::Overrides {
            config: Some(file),
            ..Default::default()
        };
        crate::config::load(&|_| None, &flags).unwrap()
    }

    #[test]
    fn handler_edits_apply_and_pool_changes_are_named() {
        let old =
            config("[queues.q]\nconcurrency = 2\n[queues.q.handlers.a]\nexec = \"echo old\"\n");
        let new = config(
            "[http]\npublic_url = \"https://cron.example.com\"\n\
             [queues.q]\nconcurrency = 4\ngroup_concurrency = 1\n[queues.q.handlers.a]\n\
             exec = \"echo new\"\n[queues.fresh.handlers.b]\nbuiltin = \"noop\"\n",
        );
        let plan = Plan::build(None, &old, chrono_tz::Tz::UTC).unwrap();
        let consumed: Consumed = super::super::routes::tables(&old, &plan)
            .into_iter()
            .map(|(q, c, t)| (q, (c, t)))
            .collect();
        let fresh = super::super::routes::fresh(&new, &plan);
        let pending = needs_restart(&old, &new, &consumed, &fresh);
        assert_eq!(
            pending,
            [
                "queue fresh is new: it is not consumed until a restart",
                "queue q concurrency 2 → 4",
                "queue q group_by, group_concurrency or group_rate changed",
                "[http] public_url changed",
            ]
        );
        assert_eq!(changed_handlers(&old, &new), ["fresh/b", "q/a"]);
        // The same config again: nothing pending, nothing changed.
        assert!(needs_restart(
            &old,
            &old,
            &consumed,
            &super::super::routes::fresh(&old, &plan)
        )
        .is_empty());
        assert!(changed_handlers(&old, &old).is_empty());
    }

    #[test]
    fn api_options_ignore_a_handler_timeout_but_not_its_attempts() {
        let base = "[queues.q.handlers.a]\nexec = \"true\"\n";
        let old = config(base);
        let timeout = config(&format!("{base}timeout = \"5s\"\n"));
        let attempts = config(&format!("{base}attempts = 5\n"));
        assert!(!api_options_differ(&old, &timeout));
        assert!(api_options_differ(&old, &attempts));
    }
}
