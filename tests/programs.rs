//! Supervised programs (issue 28), end to end on the `worker` binary with a stand-in consumer
//! script: every state transition, `autorestart = "unexpected"` with `exitcodes`,
//! `startsecs`/`startretries` to FATAL (with /health and /metrics saying so), numprocs 3 with
//! `PROCESS_NUM`, config errors refused at start with FILE:LINE, and dying with the daemon.
//! The CLI, API verbs, rotation, shutdown and reload are in `programs_ops.rs`.

mod programs_support;
mod support;

use std::time::Duration;

use nix::sys::signal::Signal;
use programs_support::*;
use support::*;

const T: Duration = Duration::from_secs(15);

#[test]
fn every_state_transition_and_autorestart_unexpected_with_exitcodes() {
    let c = Consumer::new();
    let config = format!(
        r#"
[programs.consumer]
command = "{}"
environment = {{ CTL = "{}" }}
startsecs = "2s"
autorestart = "unexpected"
exitcodes = [0, 2]
stopwaitsecs = 5
"#,
        c.command(),
        c.ctl().display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    // STOPPED → STARTING (up for less than startsecs) → RUNNING.
    let starting = wait_state(&d, "consumer:00", "STARTING", T);
    assert!(starting["pid"].as_u64().is_some(), "{starting}");
    let running = wait_state(&d, "consumer:00", "RUNNING", T);
    assert!(running["description"].as_str().unwrap().starts_with("pid "));
    assert_eq!(running["restarts"], 0);
    // RUNNING → EXITED with an expected code (2 is in exitcodes): not restarted.
    let first_pid = c.pid(0);
    std::fs::remove_file(c.ctl().join("pid-0")).unwrap();
    c.exit(0, 2);
    let exited = wait_state(&d, "consumer:00", "EXITED", T);
    assert_eq!(exited["last_exit"], "exit status 2", "{exited}");
    assert!(exited["pid"].is_null());
    assert!(gone(first_pid));
    // EXITED → (start) → RUNNING; then an unexpected code (3): restarted on its own.
    let (code, body) = control(&d, "consumer", "start");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["programs"][0]["state"], "RUNNING", "{body}");
    let second_pid = c.pid(0);
    std::fs::remove_file(c.ctl().join("pid-0")).unwrap();
    c.exit(0, 3);
    let third_pid = c.pid(0);
    assert_ne!(second_pid, third_pid);
    let back = wait_state(&d, "consumer:00", "RUNNING", T);
    assert_eq!(back["restarts"], 1, "{back}");
    assert_eq!(back["last_exit"], "exit status 3");
    // RUNNING → STOPPING → STOPPED on a stop: it got TERM and said so.
    let (code, body) = control(&d, "consumer:00", "stop");
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["programs"][0]["state"], "STOPPED", "{body}");
    assert!(gone(third_pid));
    assert!(tail(&d, "consumer:00", "stdout").contains(&"got TERM 0".to_string()));
    let log = d.log();
    assert!(
        log.contains(r#""program":"consumer:00""#),
        "program lines in the daemon log"
    );
    assert!(log.contains("got TERM 0"));
}

#[test]
fn a_command_that_cannot_run_goes_to_backoff_then_fatal_and_health_says_so() {
    let config = r#"
[programs.broken]
command = "/nonexistent/consumer --queue async"
startsecs = 1
startretries = 2
"#;
    let d = Daemon::start_embedded(config, None, &[]);
    let backoff = wait_state(&d, "broken:00", "BACKOFF", T);
    assert!(
        backoff["description"].as_str().unwrap().contains("retry"),
        "{backoff}"
    );
    // Tries 1, 2, 3 (startretries 2), 1 s then 2 s apart: FATAL with the OS's words.
    let fatal = wait_state(&d, "broken:00", "FATAL", T);
    let why = fatal["description"].as_str().unwrap();
    assert!(why.contains("exit status 127"), "{why}");
    assert!(
        why.contains("No such file") || why.contains("not found"),
        "{why}"
    );
    assert_eq!(fatal["restarts"], 2);
    let (code, health) = d.health().unwrap();
    assert_eq!(code, 503, "{health}");
    let reason = health["reason"].as_str().unwrap();
    assert!(reason.contains("program broken:00 is FATAL"), "{reason}");
    assert_eq!(health["programs"][0]["state"], "FATAL");
    let (_, metrics) = http(
        "GET",
        &format!("http://127.0.0.1:{}/metrics", d.port),
        None,
        None,
    );
    assert!(
        metrics.contains(r#"cronq_program_state{program="broken:00",state="FATAL"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"cronq_program_restarts_total{program="broken:00"} 2"#),
        "{metrics}"
    );
    // Stopping it on purpose makes the daemon healthy again: nobody wants it running.
    let (code, _) = control(&d, "broken", "stop");
    assert_eq!(code, 200);
    d.wait_healthy();
}

#[test]
fn numprocs_three_each_with_its_process_num() {
    let c = Consumer::new();
    let config = format!(
        r#"
[programs.pool]
command = "{}"
numprocs = 3
startsecs = 0
log_output = false
environment = {{ CTL = "{}" }}
"#,
        c.command(),
        c.ctl().display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    let mut pids = Vec::new();
    for n in 0..3u32 {
        let name = format!("pool:{n:02}");
        let p = wait_state(&d, &name, "RUNNING", T);
        pids.push(p["pid"].as_u64().unwrap());
        let expected = format!("consumer {n} started");
        poll(T, "the instance's first line", || {
            tail(&d, &name, "stdout").contains(&expected).then_some(())
        });
        assert!(c.pid(n) > 0);
    }
    pids.dedup();
    assert_eq!(pids.len(), 3, "three processes");
    assert_eq!(programs(&d).len(), 3);
    // log_output = false: in the tail, not in the daemon's log.
    assert!(!d.log().contains("consumer 0 started"));
    // One instance exits unexpectedly: only it restarts.
    c.exit(1, 9);
    poll(T, "pool:01 to restart", || {
        Some(instance(&d, "pool:01")).filter(|p| p["restarts"] == 1 && p["state"] == "RUNNING")
    });
    assert_eq!(instance(&d, "pool:00")["restarts"], 0);
    assert_eq!(instance(&d, "pool:02")["restarts"], 0);
}

#[test]
fn config_errors_are_refused_at_start_with_file_and_line() {
    for (bad, key, says) in [
        ("numprocs = 0", "numprocs", "1 to 100"),
        ("autorestart = \"sometimes\"", "autorestart", "unexpected"),
        (
            "stopsignal = \"TERMINATE\"",
            "stopsignal",
            "not a signal name",
        ),
    ] {
        let config =
            format!("[worker]\nconcurrency = 2\n\n[programs.w]\ncommand = \"sleep 9\"\n{bad}\n");
        let mut d = Daemon::start_embedded(&config, None, &[]);
        assert_eq!(d.wait_exit(T), 2, "{bad}");
        let log = d.log();
        assert!(
            log.contains(&format!("worker.toml:6: [programs.w] {key}")),
            "{bad}: {log}"
        );
        assert!(log.contains(says), "{bad}: {log}");
    }
}

#[test]
fn programs_die_with_the_daemon() {
    let c = Consumer::new();
    let config = format!(
        "[programs.c]\ncommand = \"{}\"\nenvironment = {{ CTL = \"{}\" }}\nstartsecs = 0\n",
        c.command(),
        c.ctl().display()
    );
    let mut d = Daemon::start_embedded(&config, None, &[]);
    let leader = wait_state(&d, "c:00", "RUNNING", T)["pid"]
        .as_u64()
        .unwrap();
    let pid = c.pid(0);
    // The launcher arms its wait for the daemon's death (`sigwait`, see pdeath.rs) just after
    // starting the shell: kill the daemon once it waits there.
    poll(
        T,
        "the launcher to wait for the parent-death signal",
        || {
            let wchan = std::fs::read_to_string(format!("/proc/{leader}/wchan")).ok()?;
            wchan.contains("sigtimedwait").then_some(())
        },
    );
    d.signal(Signal::SIGKILL);
    d.wait_exit(T);
    poll(T, "the program to die with the daemon", || {
        gone(pid).then_some(())
    });
}

#[test]
fn stop_sends_stopsignal_and_kills_after_stopwaitsecs() {
    let c = Consumer::new();
    // Deaf to TERM; INT is its stop signal here, which it also ignores: only KILL ends it.
    let config = format!(
        "[programs.deaf]\ncommand = \"trap '' INT; {}\"\nenvironment = {{ CTL = \"{}\", DEAF = \"1\" }}\nstartsecs = 0\nstopsignal = \"INT\"\nstopwaitsecs = 2\n\
         [programs.polite]\ncommand = \"trap 'echo got INT; exit 0' INT; echo ready; while true; do sleep 0.05; done\"\nstartsecs = 0\nstopsignal = \"SIGINT\"\n",
        c.command(),
        c.ctl().display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    wait_state(&d, "deaf:00", "RUNNING", T);
    wait_state(&d, "polite:00", "RUNNING", T);
    poll(T, "the polite program to be ready", || {
        tail(&d, "polite", "stdout")
            .contains(&"ready".to_string())
            .then_some(())
    });
    let (code, body) = control(&d, "polite", "stop");
    assert_eq!(code, 200, "{body}");
    assert!(tail(&d, "polite", "stdout").contains(&"got INT".to_string()));
    let pid = c.pid(0);
    let port = d.port;
    let t0 = std::time::Instant::now();
    let stopper = std::thread::spawn(move || {
        http_json(
            "POST",
            &format!("http://127.0.0.1:{port}/api/programs/deaf/stop"),
            None,
            None,
        )
    });
    // STOPPING while it ignores the signal, then STOPPED once KILLed after stopwaitsecs.
    wait_state(&d, "deaf:00", "STOPPING", T);
    let (code, body) = stopper.join().unwrap();
    let took = t0.elapsed();
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["programs"][0]["state"], "STOPPED", "{body}");
    assert_eq!(
        body["programs"][0]["last_exit"], "killed by signal 9",
        "{body}"
    );
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(gone(pid));
    assert!(d.log().contains("did not stop within stopwaitsecs"));
}

#[test]
fn directory_environment_and_user() {
    let dir = TempDir::new("programs-dir");
    let user = if is_root() { "user = \"nobody\"\n" } else { "" };
    let config = format!(
        "[programs.where]\ncommand = \"echo dir=$(pwd) uid=$(id -u) env=$GREETING num=$PROCESS_NUM; exec sleep 60\"\n\
         directory = \"{}\"\nenvironment = \"GREETING=hello,OTHER=x\"\nstartsecs = 0\n{user}",
        dir.path().display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    wait_state(&d, "where:00", "RUNNING", T);
    let line = poll(T, "the program's line", || {
        tail(&d, "where", "stdout")
            .into_iter()
            .find(|l| l.starts_with("dir="))
    });
    assert!(
        line.contains(&format!("dir={}", dir.path().display())),
        "{line}"
    );
    assert!(line.contains("env=hello num=0"), "{line}");
    if is_root() {
        let nobody = std::process::Command::new("id")
            .args(["-u", "nobody"])
            .output()
            .unwrap();
        let uid = String::from_utf8_lossy(&nobody.stdout).trim().to_string();
        assert!(line.contains(&format!("uid={uid}")), "{line}");
    }
}
