//! Drop-in fidelity with Supercronic's command line and output (its `main.go`, logrus and
//! Prometheus code, and README): every flag it has, an image's `ENTRYPOINT` plus a
//! Supercronic-style `CMD`, logrus-shaped JSON lines, levels split across stdout and stderr,
//! the metrics address with its default port.

mod cron_support;
mod support;

use std::time::Duration;

use cron_support::Cron;
use support::{poll, run_worker, TempDir};

fn tab(dir: &TempDir) -> String {
    let p = dir.write("crontab", "*/5 * * * * echo hi\n");
    p.to_str().unwrap().to_string()
}

#[test]
fn every_sentry_flag_of_supercronic_is_accepted() {
    let dir = TempDir::new("sentry-flags");
    let tab = tab(&dir);
    let dsn = "https://key@127.0.0.1:9/1";
    for args in [
        vec!["-sentry-dsn", dsn, "-test", &tab],
        vec!["-sentryDsn", dsn, "-test", &tab],
        vec![
            "-sentry-environment",
            "staging",
            "-sentry-release=v1.2.3",
            "-test",
            &tab,
        ],
    ] {
        let (code, out, err) = run_worker(&args, &[], dir.path());
        assert_eq!(code, 0, "{args:?}: {out}{err}");
    }
    let env = [
        ("SENTRY_DSN", dsn),
        ("SENTRY_ENVIRONMENT", "prod"),
        ("SENTRY_RELEASE", "r9"),
    ];
    let (code, out, err) = run_worker(&["-test", &tab], &env, dir.path());
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn an_unknown_single_dash_flag_is_named_whole() {
    let dir = TempDir::new("unknown-flag");
    let tab = tab(&dir);
    let (code, _, err) = run_worker(&["-sentry-foo", "x", &tab], &[], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("'-sentry-foo'"), "names the whole flag: {err}");
    assert!(!err.contains("'-s'"), "{err}");
}

#[test]
fn an_entrypoint_plus_a_supercronic_cmd_starts() {
    // ENTRYPOINT ["/usr/local/bin/worker"] + CMD ["worker", "-test", "/app/crontab"].
    let dir = TempDir::new("entrypoint");
    let tab = tab(&dir);
    for program in ["worker", "supercronic"] {
        let (code, out, err) = run_worker(&[program, "-test", &tab], &[], dir.path());
        assert_eq!(code, 0, "{program}: {out}{err}");
    }
}

#[test]
fn json_job_lines_have_logrus_and_supercronic_keys() {
    let cron = Cron::start(
        &["-json"],
        "# first\n*/5 * * * * true\n* * * * * * * echo hello\n",
        &[],
    );
    let lines = poll(Duration::from_secs(15), "two runs' output", || {
        let lines: Vec<_> = cron
            .json()
            .into_iter()
            .filter(|v| v["msg"] == "hello")
            .collect();
        (lines.len() >= 2).then_some(lines)
    });
    let first = &lines[0];
    assert_eq!(first["level"], "info", "{first}");
    assert_eq!(first["channel"], "stdout", "{first}");
    assert_eq!(first["job.command"], "echo hello", "{first}");
    assert_eq!(first["job.schedule"], "* * * * * * *", "{first}");
    assert_eq!(
        first["job.position"], 1,
        "second job of the crontab: {first}"
    );
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    assert_eq!(first["message"], "hello", "cronq's key stays: {first}");
    let iterations: Vec<u64> = lines
        .iter()
        .map(|v| v["iteration"].as_u64().unwrap())
        .collect();
    assert_eq!(
        &iterations[..2],
        &[0, 1],
        "counted per run from 0: {lines:?}"
    );
    // The run's own lines carry Supercronic's phrases as `msg` ("starting", "job succeeded";
    // before: cronq's "job started" / "job completed") and cronq's as `message`.
    for (msg, message) in [
        ("starting", "job started"),
        ("job succeeded", "job completed"),
    ] {
        let line = cron
            .json()
            .into_iter()
            .find(|v| v["msg"] == msg && v["job.command"] == "echo hello")
            .unwrap_or_else(|| panic!("{msg} with job.command"));
        assert_eq!(line["message"], message, "{line}");
        assert_eq!(line["job.position"], 1, "{line}");
        assert_eq!(line["job.schedule"], "* * * * * * *", "{line}");
    }
}

#[test]
fn text_lines_name_the_job_fields_as_supercronic_does() {
    let cron = Cron::start(&[], "* * * * * * * echo hello\n", &[]);
    let line = poll(Duration::from_secs(15), "an output line", || {
        cron.stderr()
            .lines()
            .find(|l| l.contains("channel=\"stdout\""))
            .map(str::to_string)
    });
    for key in [
        "job.command=",
        "job.schedule=",
        "job.position=0",
        "iteration=",
    ] {
        assert!(line.contains(key), "{key} in {line}");
    }
}

#[test]
fn text_job_lines_carry_supercronic_phrases_and_fields() {
    let cron = Cron::start(&[], "* * * * * * * echo hello\n", &[]);
    // Supercronic's text lines: `msg=starting iteration=… job.command=… job.position=…
    // job.schedule=…` and `msg="job succeeded" …`. Before: neither phrase was on any line.
    for phrase in ["msg=starting", "msg=\"job succeeded\""] {
        let line = poll(Duration::from_secs(15), phrase, || {
            cron.stderr()
                .lines()
                .find(|l| l.contains(phrase))
                .map(str::to_string)
        });
        for key in [
            "job.command=\"echo hello\"",
            "job.schedule=",
            "job.position=0",
        ] {
            assert!(line.contains(key), "{key} in {line}");
        }
        // cronq's own message stays on the line, for pipelines keyed on it.
        assert!(
            line.contains("job started") || line.contains("job completed"),
            "{line}"
        );
        assert!(!line.contains("msg=\"\\\""), "not double-quoted: {line}");
    }
}

#[test]
fn log_format_json_keeps_its_upper_case_level() {
    let cron = Cron::start(&[], "* * * * * * * echo hello\n", &[("LOG_FORMAT", "json")]);
    let line = poll(Duration::from_secs(15), "an output line", || {
        cron.json().into_iter().find(|v| v["msg"] == "hello")
    });
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["job.command"], "echo hello", "{line}");
}

#[test]
fn split_logs_sends_info_to_stdout_and_warnings_to_stderr() {
    // USER= draws a warning at start; the job prints on both of its streams.
    let tab = "USER=x\n* * * * * * * echo to-out; echo to-err >&2\n";
    let cron = Cron::start(&["-json", "-split-logs"], tab, &[]);
    poll(
        Duration::from_secs(15),
        "both output lines on stdout",
        || {
            let out = cron.stdout();
            (out.contains("to-out") && out.contains("to-err")).then_some(())
        },
    );
    let parse = |text: String| -> Vec<serde_json::Value> {
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    };
    let out = parse(cron.stdout());
    assert!(out
        .iter()
        .all(|v| v["level"] == "info" || v["level"] == "debug"));
    assert!(out.iter().any(|v| v["msg"] == "cronq worker starting"));
    let err = parse(cron.stderr());
    assert!(
        err.iter().any(|v| v["level"] == "warn"),
        "the USER warning: {err:?}"
    );
    assert!(
        err.iter()
            .all(|v| v["level"] == "warn" || v["level"] == "error"),
        "{err:?}"
    );
}

#[test]
fn a_bad_prometheus_address_is_refused_before_starting() {
    let mut cron = Cron::start(
        &["-prometheus-listen-address", "127.0.0.1:notaport"],
        "* * * * * true\n",
        &[],
    );
    assert_eq!(
        cron.wait_exit(Duration::from_secs(20)),
        2,
        "{}",
        cron.stderr()
    );
    let err = cron.stderr();
    assert!(err.contains("-prometheus-listen-address"), "{err}");
    assert!(!err.contains("starting"), "refused before starting: {err}");
}

#[test]
fn supercronic_metric_families_sit_next_to_cronq_ones() {
    let port = support::free_port();
    let addr = format!("127.0.0.1:{port}");
    let cron = Cron::start(
        &["-prometheus-listen-address", &addr],
        "* * * * * * * true\n* * * * * * * false\n",
        &[],
    );
    let ok = r#"{command="true",position="0",schedule="* * * * * * *"}"#;
    let bad = r#"{command="false",position="1",schedule="* * * * * * *"}"#;
    let body = poll(Duration::from_secs(15), "counted executions", || {
        std::net::TcpStream::connect(&addr).ok()?;
        let (_, body) = support::http("GET", &format!("http://{addr}/metrics"), None, None);
        (body.contains(&format!("supercronic_successful_executions_total{ok}"))
            && body.contains(&format!("supercronic_failed_executions_total{bad}")))
        .then_some(body)
    });
    for family in [
        "supercronic_executions_total",
        "supercronic_currently_running",
        "supercronic_cron_execution_time_seconds_bucket",
    ] {
        assert!(body.contains(&format!("{family}{{")), "{family}: {body}");
    }
    assert!(
        body.contains("cronq_jobs_total{"),
        "cronq's own stay: {body}"
    );
    drop(cron);
}
