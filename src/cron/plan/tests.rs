//! A command entry's run settings: Supercronic's defaults (one attempt, bounded history) and
//! each override, as the job one tick adds carries them.

use std::time::Duration;

use super::*;
use crate::config::Overrides;
use crate::queue::{Backoff, Retention};

/// The config of `toml` (written to a scratch file) and the plan of `crontab` with it.
fn plan_of(toml: &str, crontab: &str) -> (Config, Arc<Plan>) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("cronq-plan-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, toml).unwrap();
    let flags = Overrides {
        config: Some(path.clone()),
        ..Overrides::default()
    };
    let config = crate::config::load(&|_| None, &flags);
    let _ = std::fs::remove_file(&path);
    let config = config.unwrap();
    let tab = crate::crontab::parse::parse_crontab(crontab).unwrap();
    let plan = Plan::build(Some(("crontab", &tab)), &config, Tz::UTC).unwrap();
    (config, plan)
}

fn spec_of(config: &Config, e: &PlannedEntry) -> crate::queue::JobSpec {
    crate::cron::scheduler::job_spec(config, e, chrono::Utc::now())
}

const TWO_LINES: &str = "* * * * * /bin/false\n*/5 * * * * /bin/true\n";

#[test]
fn a_command_line_runs_once_with_a_bounded_history_by_default() {
    // `[defaults] attempts = 3` is a job worker's default; a crontab line still runs once.
    let (config, plan) = plan_of("[defaults]\nattempts = 3\n", TWO_LINES);
    let spec = spec_of(&config, &plan.entries[0]);
    assert_eq!(spec.attempts, Some(1));
    assert_eq!(
        spec.remove_on_complete,
        Some(Retention::Keep {
            count: Some(200),
            age: None
        }),
        "the newest 100 per command entry (two entries)"
    );
    assert_eq!(
        spec.remove_on_fail,
        Some(Retention::Keep {
            count: None,
            age: Some(Duration::from_secs(86_400))
        })
    );
}

#[test]
fn retries_and_history_stay_settable() {
    let toml = r#"
[defaults]
remove_on_fail = { age = "7d" }
[cron]
attempts = 2
backoff = "fixed:1s"
remove_on_complete = 10

[[schedule]]
name = "report"
cron = "0 3 * * *"
command = "send-report"
attempts = 4
backoff = "fixed:2s"
"#;
    let (config, plan) = plan_of(toml, TWO_LINES);
    let line = spec_of(&config, &plan.entries[0]);
    assert_eq!(line.attempts, Some(2), "[cron] attempts");
    assert_eq!(line.backoff, Some(Backoff::Fixed(Duration::from_secs(1))));
    assert_eq!(
        line.remove_on_complete,
        Some(Retention::Keep {
            count: Some(10),
            age: None
        })
    );
    assert_eq!(
        line.remove_on_fail,
        Some(Retention::Keep {
            count: None,
            age: Some(Duration::from_secs(7 * 86_400))
        }),
        "[defaults] retention still applies when [cron] says nothing"
    );
    let table = plan.entries.iter().find(|e| e.id == "report").unwrap();
    let spec = spec_of(&config, table);
    assert_eq!(spec.attempts, Some(4), "the entry's own attempts");
    assert_eq!(spec.backoff, Some(Backoff::Fixed(Duration::from_secs(2))));
}

#[test]
fn enqueue_lines_keep_their_queue_defaults() {
    let toml = "[queues.mail.handlers.send]\nbuiltin = \"noop\"\nattempts = 5\n";
    let (config, plan) = plan_of(toml, "* * * * * enqueue mail send {}\n");
    let spec = spec_of(&config, &plan.entries[0]);
    assert_eq!(spec.attempts, Some(5));
    assert_eq!(spec.remove_on_complete, None);
}

#[test]
fn the_crontab_queue_is_settable() {
    let (config, plan) = plan_of("[cron]\nqueue = \"billing-cron\"\n", TWO_LINES);
    assert_eq!(config.cron.queue, "billing-cron");
    assert_eq!(plan.entries[0].job_target().0, "billing-cron");
}

#[test]
fn attempts_on_an_enqueue_table_are_refused_with_the_place() {
    let toml = r#"
[[schedule]]
cron = "0 3 * * *"
enqueue = { queue = "mail", name = "send" }
attempts = 2
"#;
    let path = std::env::temp_dir().join(format!("cronq-plan-bad-{}.toml", std::process::id()));
    std::fs::write(&path, toml).unwrap();
    let flags = Overrides {
        config: Some(path.clone()),
        ..Overrides::default()
    };
    let err = crate::config::load(&|_| None, &flags)
        .unwrap_err()
        .to_string();
    let _ = std::fs::remove_file(&path);
    assert!(err.contains(":2: [schedule #1] attempts"), "{err}");
    assert!(err.contains("command entries"), "{err}");
}

#[test]
fn crontab_lines_take_cron_defaults_and_their_own_entry_table() {
    use crate::config::cron_policy::{CatchUpMode, JitterMode};
    use crate::config::Overlap;
    let (_, plan) = plan_of(
        "[cron]\noverlap = \"replace\"\njitter = \"1m\"\n\
         [cron.entries.\"crontab:2\"]\noverlap = \"buffer_one\"\ncatch_up = \"1h\"\ncatch_up_mode = \"all\"\n\
         [[schedule]]\nname = \"t\"\ncron = \"@daily\"\ncommand = \"true\"\njitter_mode = \"fixed\"\n",
        TWO_LINES,
    );
    let (one, two, table) = (
        &plan.entries[0].policy,
        &plan.entries[1].policy,
        &plan.entries[2].policy,
    );
    assert_eq!(one.overlap, Overlap::Replace, "[cron] default");
    assert_eq!(one.catch_up, None);
    assert_eq!(two.overlap, Overlap::BufferOne, "its own table");
    assert_eq!(
        two.jitter,
        Some(Duration::from_secs(60)),
        "the rest from [cron]"
    );
    assert_eq!(two.catch_up_mode, CatchUpMode::All);
    assert_eq!(
        table.overlap,
        Overlap::Replace,
        "a table's unsaid keys from [cron]"
    );
    assert_eq!(table.jitter_mode, JitterMode::Fixed);
}

/// An RFC 3339 instant, for the cron tests' fixed clocks (one parser, one panic message).
pub(crate) fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("an RFC 3339 test instant")
}

/// A plain command entry, for unit tests of the policies.
pub(crate) fn test_entry(id: &str, expr: &str) -> PlannedEntry {
    PlannedEntry {
        id: id.into(),
        label: id.into(),
        place: "crontab:1".into(),
        schedule: Schedule::parse(expr).expect("a test schedule"),
        tz: Tz::UTC,
        action: Action::Command {
            queue: CRON_QUEUE.into(),
            shell: "/bin/sh".into(),
            command: "true".into(),
            env: Vec::new(),
        },
        policy: EntryPolicy::default(),
        timeout: None,
        runs: None,
    }
}
