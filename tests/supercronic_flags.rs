//! The rest of Supercronic's flags and of job output in the daemon's log (`-split-logs`: in
//! tests/supercronic_fidelity.rs): `-prometheus-listen-address`, `-quiet`, `-version`, `log_output = false`, and control
//! characters in job output kept on one escaped line.

mod cron_support;
mod support;

use std::time::Duration;

use cron_support::Cron;
use support::{free_port, http, poll, run_worker, TempDir};

#[test]
fn prometheus_listen_address_serves_metrics_without_a_token() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let cron = Cron::start(
        &["-prometheus-listen-address", &addr],
        "* * * * * * * true\n",
        &[("API_TOKEN", "secret-token")],
    );
    let body = poll(
        Duration::from_secs(10),
        "a finished run in /metrics",
        || {
            let url = format!("http://{addr}/metrics");
            std::net::TcpStream::connect(&addr).ok()?;
            let (code, body) = http("GET", &url, None, None);
            (code == 200 && body.contains("outcome=\"completed\"")).then_some(body)
        },
    );
    assert!(body.contains("cronq_jobs_total{queue=\"cron\""), "{body}");
    drop(cron);
}

#[test]
fn log_output_false_keeps_job_output_out_of_the_daemon_log() {
    let dir = TempDir::new("log-output");
    let cfg = dir.write("worker.toml", "[worker]\nlog_output = false\n");
    let cfg = cfg.to_str().unwrap();
    let tab = "* * * * * * * echo chatty-line\n";
    let cron = Cron::start(&["-json", "--config", cfg], tab, &[]);
    poll(Duration::from_secs(10), "two completed runs", || {
        (cron.stderr().matches("job completed").count() >= 2).then_some(())
    });
    assert!(cron.output().is_empty(), "{:?}", cron.output());
    assert!(cron.json().iter().all(|v| v["message"] != "chatty-line"));
}

#[test]
fn quiet_logs_warnings_only() {
    let cron = Cron::start(&["-json", "-quiet"], "USER=x\n* * * * * * * sleep 3\n", &[]);
    poll(Duration::from_secs(10), "the overlap warning", || {
        cron.stderr()
            .contains("previous run not finished")
            .then_some(())
    });
    let levels: Vec<String> = cron
        .json()
        .iter()
        .map(|v| v["level"].as_str().unwrap().to_string())
        .collect();
    assert!(
        levels.iter().all(|l| l == "warn" || l == "error"),
        "{levels:?}"
    );
}

#[test]
fn control_characters_in_job_output_stay_on_one_escaped_line() {
    let tab = "* * * * * * * printf 'evil\\r\\033[31mINFO forged\\n'\n";
    let cron = Cron::start(&[], tab, &[]);
    let line = poll(Duration::from_secs(10), "the output line", || {
        cron.stderr()
            .lines()
            .find(|l| l.contains("forged") && l.contains("channel="))
            .map(str::to_string)
    });
    assert!(line.contains(r"evil\r\u{1b}[31mINFO forged"), "{line}");
    assert!(!cron.stderr().contains('\u{1b}') && !cron.stderr().contains('\r'));
}

#[test]
fn version_and_help_speak_supercronic() {
    let dir = TempDir::new("version");
    let (code, out, _) = run_worker(&["-version"], &[], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let (code, out, _) = run_worker(&["-help"], &[], dir.path());
    assert_eq!(code, 0);
    assert!(out.contains("Supercronic flags"), "{out}");
    assert!(out.contains("-passthrough-logs"), "{out}");
}

#[test]
fn json_keeps_start_up_errors_json() {
    let mut cron = Cron::start(&["-json"], "* * * * * echo ok\n61 * * * * echo no\n", &[]);
    assert_eq!(
        cron.wait_exit(Duration::from_secs(20)),
        2,
        "{}",
        cron.stderr()
    );
    let lines = cron.json(); // panics on a line that is not JSON
    let error = lines.iter().find(|v| v["level"] == "error").unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("crontab:2"),
        "names the place: {error}"
    );
}
