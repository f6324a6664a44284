//! Tests of the ranges every number and duration of the config must fall in.

use super::tests::load_text;
use std::time::Duration;

use crate::config::Overrides;
use crate::queue::Backoff;

/// Every number and duration has a range; a value outside it is refused with its line, the
/// range and a reason. (`lock_duration = "0s"` used to be accepted; Redis then refused every
/// lock.)
#[test]
fn out_of_range_values_are_refused_with_line_and_range() {
    let h = "[queues.q.handlers.x]\nbuiltin = \"noop\"\n";
    let s = "[[schedule]]\ncron = \"* * * * *\"\ncommand = \"true\"\n";
    let cases: &[(String, &str, &str)] = &[
        (
            "[worker]\nlock_duration = \"0s\"\n".into(),
            ":2: [worker] lock_duration",
            "1s to 1day",
        ),
        (
            "[worker]\nlock_duration = \"500ms\"\n".into(),
            ":2: [worker] lock_duration",
            "1s",
        ),
        (
            "[worker]\nlock_duration = \"2days\"\n".into(),
            ":2: [worker] lock_duration",
            "1day",
        ),
        (
            "[worker]\nmetrics_points = 1000000\n".into(),
            ":2: [worker] metrics_points",
            "525600",
        ),
        (
            "[worker]\nstalled_interval = \"0s\"\n".into(),
            ":2: [worker] stalled_interval",
            "1s",
        ),
        (
            "[worker]\nshutdown_timeout = \"0s\"\n".into(),
            ":2: [worker] shutdown_timeout",
            "1s to 1h",
        ),
        (
            "[worker]\nconcurrency = 0\n".into(),
            ":2: [worker] concurrency",
            "1 to 1000",
        ),
        (
            "[worker]\nconcurrency = 100000\n".into(),
            ":2: [worker] concurrency",
            "1 to 1000",
        ),
        (
            "[queues.q]\nconcurrency = 0\n".into(),
            ":2: [queues.q] concurrency",
            "1 to 1000",
        ),
        (
            "[worker]\nmax_stalled_count = 5000\n".into(),
            ":2: [worker] max_stalled_count",
            "0 to 1000",
        ),
        (
            "[worker]\nmax_jobs = 0\n".into(),
            ":2: [worker] max_jobs",
            "1 to any",
        ),
        (
            "[worker]\nmax_runtime = \"0s\"\n".into(),
            ":2: [worker] max_runtime",
            "1s",
        ),
        (
            "[worker]\nmax_memory_mb = 0\n".into(),
            ":2: [worker] max_memory_mb",
            "MiB",
        ),
        (
            "[defaults]\nattempts = 0\n".into(),
            ":2: [defaults] attempts",
            "1 = run once",
        ),
        (
            "[defaults]\nattempts = 100000\n".into(),
            ":2: [defaults] attempts",
            "1 to 1000",
        ),
        (
            "[defaults]\ntimeout = \"0s\"\n".into(),
            ":2: [defaults] timeout",
            "kills every run",
        ),
        (
            "[defaults]\nbackoff = \"fixed:30days\"\n".into(),
            ":2: [defaults] backoff",
            "0s to 7days",
        ),
        (
            "[defaults]\nremove_on_complete = 99999999999\n".into(),
            ":2: [defaults] remove_on_complete",
            "0 to 1000000000",
        ),
        (
            "[defaults]\nremove_on_fail = { age = \"500ms\" }\n".into(),
            ":2: [defaults] remove_on_fail",
            "whole seconds",
        ),
        (
            format!("{h}timeout = \"0ms\"\n"),
            ":3: [queues.q.handlers.x] timeout",
            "kills every run",
        ),
        (
            format!("{h}attempts = 0\n"),
            ":3: [queues.q.handlers.x] attempts",
            "1 to 1000",
        ),
        (
            "[queues.q.handlers.x]\nhttp = { url = \"http://h/\", timeout = \"0s\" }\n".into(),
            ":2: [queues.q.handlers.x] http",
            "kills every run",
        ),
        (
            format!("{s}timeout = \"0s\"\n"),
            ":1: [schedule #1] timeout",
            "kills every run",
        ),
        (
            format!("{s}catch_up = \"30days\"\n"),
            ":1: [schedule #1] catch_up",
            "1s to 7days",
        ),
        (
            format!("{s}jitter = \"2days\"\n"),
            ":1: [schedule #1] jitter",
            "0s to 1day",
        ),
    ];
    for (text, place, range) in cases {
        let err = load_text(text, &[], Overrides::default())
            .expect_err(text)
            .to_string();
        assert!(err.contains(place), "{text:?} → {err}");
        assert!(err.contains("out of range"), "{text:?} → {err}");
        assert!(err.contains(range), "{text:?} → {err}");
    }
}

/// The edges of each range are accepted, so the ranges refuse only what misbehaves.
#[test]
fn range_edges_are_accepted() {
    let text = "[worker]\nlock_duration = \"1s\"\nstalled_interval = \"1s\"\n\
                shutdown_timeout = \"1h\"\nconcurrency = 1000\nmax_stalled_count = 0\n\
                [defaults]\nattempts = 1\nbackoff = \"fixed:0\"\ntimeout = \"1ms\"\n\
                remove_on_complete = 0\nremove_on_fail = { age = \"1s\", count = 1000000000 }\n";
    let c = load_text(text, &[], Overrides::default()).unwrap();
    assert_eq!(c.lock_duration, Duration::from_secs(1));
    assert_eq!(c.concurrency.get(), 1000);
    assert_eq!(c.max_stalled_count, 0);
    assert_eq!(c.defaults.options.backoff, Backoff::Fixed(Duration::ZERO));
    let err = load_text("", &[("SHUTDOWN_TIMEOUT", "0s")], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("shutdown_timeout") && err.contains("1s to 1h"),
        "{err}"
    );
}
