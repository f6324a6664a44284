use std::collections::HashMap;
use std::io::Write;

use super::*;
use crate::config::{load, Overrides, ScheduleTarget};

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

fn file_with(text: &str) -> tempfile_path::TempPath {
    tempfile_path::write(text)
}

mod tempfile_path {
    use super::*;
    pub(super) struct TempPath(pub(super) std::path::PathBuf);
    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    pub(super) fn write(text: &str) -> TempPath {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("cronq-cfg-{}-{n}.toml", std::process::id()));
        std::fs::File::create(&p)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        TempPath(p)
    }
}

pub(super) fn load_text(
    text: &str,
    env: &[(&str, &str)],
    flags: Overrides,
) -> Result<Config, Error> {
    let f = file_with(text);
    let flags = Overrides {
        config: Some(f.0.clone()),
        ..flags
    };
    load(&env_of(env), &flags)
}

#[test]
fn defaults_apply_with_an_empty_file() {
    let c = load_text("", &[], Overrides::default()).unwrap();
    assert_eq!(
        c.store,
        StoreTarget::Embedded("data/cronq.db".into()),
        "no Redis configured: embedded"
    );
    assert_eq!(c.prefix, "bull");
    assert_eq!(c.listen.to_string(), "0.0.0.0:3001");
    assert_eq!(c.concurrency.get(), 5);
    assert_eq!(c.shutdown_timeout, Duration::from_secs(25));
    assert_eq!(c.defaults, JobDefaults::default());
    assert_eq!(c.local_health_url(), "http://127.0.0.1:3001/health");
}

#[test]
fn flags_beat_env_beat_file() {
    let text = "[worker]\nconcurrency = 2\n[http]\nlisten = \"127.0.0.1:1\"\n";
    let c = load_text(
        text,
        &[
            ("WORKER_CONCURRENCY", "7"),
            ("WORKER_LISTEN", "127.0.0.1:2"),
        ],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.concurrency.get(), 7);
    assert_eq!(c.listen.port(), 2);
    let flags = Overrides {
        concurrency: Some(9),
        listen: Some("127.0.0.1:3".into()),
        ..Overrides::default()
    };
    let c = load_text(text, &[("WORKER_CONCURRENCY", "7")], flags).unwrap();
    assert_eq!(c.concurrency.get(), 9);
    assert_eq!(c.listen.port(), 3);
}

#[test]
fn redis_env_parts_replace_the_file_url() {
    let text = "[redis]\nurl = \"redis://file:6379/0\"\n";
    let c = load_text(
        text,
        &[("REDIS_HOST", "envhost"), ("REDIS_PASSWORD", "pw")],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(c.store.describe(), "redis://:***@envhost:6379/0");
    match c.store {
        StoreTarget::Redis(t) => assert_eq!(t.url, "redis://:pw@envhost:6379/0"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn any_redis_setting_selects_redis_and_cronq_data_moves_the_file() {
    let c = load_text("[redis]\nprefix = \"b\"\n", &[], Overrides::default()).unwrap();
    assert_eq!(
        c.store,
        StoreTarget::Redis(RedisTarget {
            url: "redis://127.0.0.1:6379/0".into(),
            ca_file: None,
            ..Default::default()
        })
    );
    let c = load_text("", &[("REDIS_URL", "redis://r:1/2")], Overrides::default()).unwrap();
    assert_eq!(c.store.kind(), "redis");
    let c = load_text(
        "",
        &[("CRONQ_DATA", "/var/lib/cronq/jobs.db")],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        c.store,
        StoreTarget::Embedded("/var/lib/cronq/jobs.db".into())
    );
}

#[test]
fn handlers_inherit_defaults_and_override_them() {
    let text = r#"
[defaults]
attempts = 4
backoff = "fixed:1000"

[queues.email]
concurrency = 10
[queues.email.handlers.send]
exec = "/bin/true"
timeout = "30s"
[queues.email.handlers.bulk]
builtin = "noop"
attempts = 1
"#;
    let c = load_text(text, &[], Overrides::default()).unwrap();
    let q = &c.queues["email"];
    assert_eq!(q.concurrency.get(), 10);
    let send = &q.handlers["send"];
    assert_eq!(send.job.options.attempts, 4);
    assert_eq!(
        send.job.options.backoff,
        Backoff::Fixed(Duration::from_secs(1))
    );
    assert_eq!(send.job.timeout, Some(Duration::from_secs(30)));
    assert_eq!(c.job_settings("email", "bulk").options.attempts, 1);
    assert_eq!(c.job_settings("email", "unknown").options.attempts, 4);
}

#[test]
fn errors_name_file_line_and_fix() {
    let text = "[worker]\nconcurrency = 2\nbogus = 1\n";
    let err = load_text(text, &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(":3:"), "{err}");
    assert!(err.contains("bogus"), "{err}");

    let text = "[queues.email.handlers.send]\nexec = \"x\"\nbackoff = \"linear:5\"\n";
    let err = load_text(text, &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(":3: [queues.email.handlers.send] backoff"),
        "{err}"
    );
    assert!(err.contains("\"fixed\" or \"exponential\""), "{err}");

    let text = "[queues.a.handlers.b]\nexec = \"x\"\nbuiltin = \"noop\"\n";
    let err = load_text(text, &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("exactly one of"), "{err}");

    let err = load_text("", &[("WORKER_LISTEN", "nonsense")], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("WORKER_LISTEN"), "{err}");
}

#[test]
fn schedules_are_checked_for_shape() {
    let text = r#"
[[schedule]]
name = "nightly-sitemap"
cron = "0 3 * * *"
tz = "Europe/Paris"
enqueue = { queue = "sitemap", name = "generate-delta", data = { type = "delta" } }
overlap = "forbid"

[[schedule]]
cron = "* * * * *"
overlap = "sometimes"
command = "true"
"#;
    let err = load_text(text, &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains(":9: [schedule #2] overlap"), "{err}");
    let ok = text.replace("overlap = \"sometimes\"", "");
    let c = load_text(&ok, &[], Overrides::default()).unwrap();
    assert_eq!(c.schedules.len(), 2);
    assert_eq!(
        c.schedules[0].target,
        ScheduleTarget::Enqueue {
            queue: "sitemap".into(),
            name: "generate-delta".into(),
            data: serde_json::json!({"type": "delta"})
        }
    );
}

#[test]
fn log_output_comes_from_the_handler_else_the_worker_table() {
    let text = "[worker]\nlog_output = false\n[queues.q.handlers.loud]\nexec = \"yes\"\nlog_output = true\n[queues.q.handlers.plain]\nexec = \"true\"\n";
    let c = load_text(text, &[], Overrides::default()).unwrap();
    assert!(!c.log_output);
    let h = &c.queues["q"].handlers;
    assert!(h["loud"].log_output);
    assert!(!h["plain"].log_output, "inherits [worker] log_output");
    let c = load_text("", &[], Overrides::default()).unwrap();
    assert!(c.log_output, "on by default");
    let c = load_text(
        "",
        &[],
        Overrides {
            passthrough_logs: true,
            overlapping: true,
            ..Overrides::default()
        },
    )
    .unwrap();
    assert!(c.passthrough_logs && c.overlap_all);
}

/// A command `exec` would refuse at every run is refused at start, in handlers and schedules.
#[test]
fn commands_with_nul_are_refused() {
    let err = load_text(
        "[queues.q.handlers.x]\nexec = \"echo \\u0000\"\n",
        &[],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(":2: [queues.q.handlers.x] exec") && err.contains("NUL"),
        "{err}"
    );
    let text = "[[schedule]]\ncron = \"* * * * *\"\ncommand = \"a\\u0000\"\n";
    let err = load_text(text, &[], Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("[schedule #1] command") && err.contains("NUL"),
        "{err}"
    );
}

/// Issue 14 item 9: `a:b`, spaces, `*`, `../..` and partial braces were accepted as queue
/// names in worker.toml (and `a:b` then refused by the API); now one rule everywhere.
#[test]
fn queue_names_follow_the_one_rule() {
    for bad in ["a:b", "a b", "*", "../..", "x{y}", "é"] {
        let text = format!("[queues.\"{bad}\".handlers.x]\nbuiltin = \"noop\"\n");
        let err = load_text(&text, &[], Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a queue name"), "{bad:?}: {err}");
        let text = format!(
            "[[schedule]]\ncron = \"* * * * *\"\nenqueue = {{ queue = \"{bad}\", name = \"n\" }}\n"
        );
        let err = load_text(&text, &[], Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(":1: [schedule #1] enqueue") && err.contains("not a queue name"),
            "{bad:?}: {err}"
        );
    }
    let c = load_text(
        "[queues.\"{email}\".handlers.x]\nbuiltin = \"noop\"\n",
        &[],
        Overrides::default(),
    )
    .unwrap();
    assert!(c.queues.contains_key("{email}"));
}

#[test]
fn queue_layout_is_bull_or_bullmq_and_a_typo_names_the_place() {
    let ok = load_text(
        "[queues.a]\nlayout = \"bull\"\n[queues.b]\n",
        &[],
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(ok.queues["a"].layout, crate::queue::Layout::Bull);
    assert_eq!(ok.queues["b"].layout, crate::queue::Layout::BullMq);
    assert_eq!(ok.layouts().len(), 2);
    let err = load_text(
        "[queues.a]\nlayout = \"bull3\"\n",
        &[],
        Overrides::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("queues.a") && err.contains("layout"), "{err}");
    assert!(err.contains("\"bull\""), "{err}");
}
