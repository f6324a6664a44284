//! Supercronic's own integration scenarios, restated for `worker [FLAGS] CRONTAB` on the
//! embedded store (no Redis): output of a one-second entry, environment, warnings, overlap,
//! `-json`, `-passthrough-logs`, SIGTERM, `-test`, and PID 1 reaping.

mod cron_support;
mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cron_support::{children_of, Cron};
use nix::sys::signal::Signal;
use support::{pid_namespace_or_skip, poll, worker_bin, TempDir};

#[test]
fn a_one_second_entry_prints_its_output_three_times_in_five_seconds() {
    let cron = Cron::start(&[], "* * * * * * * echo tick\n", &[]);
    let started = Instant::now();
    let runs = poll(
        Duration::from_secs(5),
        "three runs' output in the log",
        || {
            let log = cron.stderr();
            let n = log
                .lines()
                .filter(|l| l.contains(" tick channel=\"stdout\""))
                .count();
            (n >= 3).then_some(n)
        },
    );
    // Text format: the job's line is the message, with its channel, queue, job id and entry.
    let log = cron.stderr();
    let line = log.lines().find(|l| l.contains(" tick channel=")).unwrap();
    for field in [
        "channel=\"stdout\"",
        "queue=cron",
        "job_id=cron-",
        "place=",
        "schedule=\"* * * * * * *\"",
        "command=\"echo tick\"",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(!log.contains('\u{1b}'), "no colour when stderr is a file");
    eprintln!(
        "supercronic/one-second: {runs} runs in {} ms",
        started.elapsed().as_millis()
    );
}

#[test]
fn the_environment_reaches_jobs_and_a_crontab_variable_overrides_it() {
    let tab = "GREETING=from-crontab\n* * * * * * * echo \"env $FROM_DAEMON $GREETING\"\n";
    let cron = Cron::start(
        &["-json"],
        tab,
        &[("FROM_DAEMON", "daemon-env"), ("GREETING", "from-daemon")],
    );
    let (_, _, text) = poll(Duration::from_secs(10), "the job's output", || {
        cron.output()
            .into_iter()
            .find(|(_, _, t)| t.starts_with("env "))
    });
    assert_eq!(text, "env daemon-env from-crontab");
}

#[test]
fn a_user_line_is_warned_about() {
    let cron = Cron::start(&["-json"], "USER=nobody\n* * * * * * * true\n", &[]);
    let warning = poll(Duration::from_secs(10), "the USER warning", || {
        cron.json()
            .into_iter()
            .find(|v| v["level"] == "warn" && v["message"].as_str().unwrap_or("").contains("USER"))
    });
    assert!(
        warning["message"].as_str().unwrap().contains(":1:"),
        "names the line: {warning}"
    );
}

#[test]
fn a_run_still_going_at_the_next_tick_is_warned_about() {
    let cron = Cron::start(&["-json"], "* * * * * * * sleep 3\n", &[]);
    let skipped = poll(Duration::from_secs(10), "the overlap warning", || {
        cron.json().into_iter().find(|v| {
            v["level"] == "warn"
                && v["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("previous run not finished")
        })
    });
    assert!(
        skipped["entry"].as_str().unwrap().contains("sleep 3"),
        "names the entry readably: {skipped}"
    );
    assert!(skipped["entry_id"].is_string(), "{skipped}");
}

#[test]
fn overlapping_starts_a_run_while_the_last_one_is_going() {
    let tab = "* * * * * * * echo start; sleep 3; echo end\n";
    let cron = Cron::start(&["-json", "-overlapping"], tab, &[]);
    let out = poll(Duration::from_secs(10), "two runs started", || {
        let out = cron.output();
        (out.iter().filter(|(_, _, t)| t == "start").count() >= 2).then_some(out)
    });
    let second = out.iter().filter(|(_, _, t)| t == "start").nth(1).unwrap();
    let first_end = out.iter().position(|(_, _, t)| t == "end");
    let second_start = out.iter().position(|o| o == second).unwrap();
    assert!(
        first_end.is_none_or(|e| e > second_start),
        "the second run started only after the first ended: {out:?}"
    );
    assert!(!cron.stderr().contains("previous run not finished"));
}

#[test]
fn json_emits_only_json_lines() {
    let tab = "* * * * * * * echo hello; echo oops >&2\n";
    let cron = Cron::start(&["-json"], tab, &[]);
    poll(Duration::from_secs(10), "both channels' output", || {
        let out = cron.output();
        (out.iter().any(|o| o.0 == "stdout" && o.2 == "hello")
            && out.iter().any(|o| o.0 == "stderr" && o.2 == "oops"))
        .then_some(())
    });
    let all = cron.json(); // panics on any non-JSON line
    let line = all.iter().find(|v| v["message"] == "hello").unwrap();
    assert_eq!(line["queue"], "cron");
    assert_eq!(line["command"], "echo hello; echo oops >&2");
    assert_eq!(line["schedule"], "* * * * * * *");
    assert!(line["place"].as_str().unwrap().ends_with("crontab:1"));
    assert!(cron.stdout().trim().is_empty(), "stdout stays empty");
}

#[test]
fn passthrough_logs_prints_job_output_raw() {
    let tab = "* * * * * * * echo 'raw line'; echo 'raw err' >&2\n";
    let cron = Cron::start(&["-json", "-passthrough-logs"], tab, &[]);
    poll(Duration::from_secs(10), "raw output", || {
        (cron.stdout().lines().any(|l| l == "raw line")
            && cron.stderr().lines().any(|l| l == "raw err"))
        .then_some(())
    });
    assert!(
        cron.stdout().lines().all(|l| l == "raw line"),
        "stdout holds the job's lines, undecorated: {:?}",
        cron.stdout()
    );
    // The daemon's own lines are still JSON; only job lines are raw.
    for l in cron.stderr().lines().filter(|l| *l != "raw err") {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v.get("channel").is_none(), "job output logged too: {l}");
    }
}

#[test]
fn sigterm_waits_for_the_running_jobs_last_output() {
    let tab = "* * * * * * * echo first; sleep 2; echo last\n";
    let mut cron = Cron::start(&["-json"], tab, &[]);
    let (_, job, _) = poll(Duration::from_secs(10), "a run to start", || {
        cron.output().into_iter().find(|(_, _, t)| t == "first")
    });
    cron.signal(Signal::SIGTERM);
    assert_eq!(
        cron.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        cron.stderr()
    );
    let out = cron.output();
    assert!(
        out.iter().any(|(_, j, t)| *j == job && t == "last"),
        "the run's last line was lost: {out:?}"
    );
}

#[test]
fn test_flag_exits_0_on_a_valid_crontab_and_1_on_an_invalid_one() {
    let dir = TempDir::new("supercronic-test");
    let good = dir.write("good", "*/5 * * * * echo ok\n");
    let bad = dir.write("bad", "* * * * * echo ok\n61 * * * * echo no\n");
    let run = |file: &PathBuf| {
        let out = Command::new(worker_bin())
            .arg("-test")
            .arg(file)
            .current_dir(dir.path())
            .env_clear()
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert_eq!(run(&good).0, Some(0));
    let (code, err) = run(&bad);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("bad:2"), "names the place: {err}");
}

#[test]
fn as_pid_1_zombies_are_reaped() {
    // Fails as root (CI) when unshare is refused; skips, saying so, only when not root.
    if !pid_namespace_or_skip("supercronic/pid1") {
        return;
    }
    // Each run leaves an orphan (its own session, so the job's group kill misses it) that
    // exits 0.3 s later and, re-parented to PID 1, is a zombie until PID 1 reaps it.
    let tab = "* * * * * * * setsid sh -c 'sleep 0.3' & echo spawned\n";
    let unshare = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"];
    let zombies = |args: &[&str]| {
        let cron = Cron::wrapped(&unshare, args, tab, &[]);
        let worker = poll(Duration::from_secs(10), "the worker inside unshare", || {
            children_of(cron.pid()).first().map(|c| c.0)
        });
        poll(Duration::from_secs(10), "three orphans spawned", || {
            let n = cron.output().iter().filter(|o| o.2 == "spawned").count();
            (n >= 3).then_some(())
        });
        (cron, worker)
    };
    let (cron, worker) = zombies(&["-json"]);
    assert!(
        cron.stderr().contains("running as PID 1"),
        "{}",
        cron.stderr()
    );
    // New orphans keep coming; reaped every 0.5 s, there are moments with none left.
    poll(
        Duration::from_secs(10),
        "a moment with no zombie child",
        || (!children_of(worker).iter().any(|c| c.1 == 'Z')).then_some(()),
    );
    drop(cron);
    // The same with -no-reap: zombies pile up, which shows the check above can fail.
    let (cron, worker) = zombies(&["-json", "-no-reap"]);
    let piled = poll(Duration::from_secs(10), "zombies to pile up", || {
        let n = children_of(worker).iter().filter(|c| c.1 == 'Z').count();
        (n >= 2).then_some(n)
    });
    drop(cron);
    eprintln!("supercronic/pid1: reaped as PID 1; {piled} zombies left with -no-reap");
}
