//! Supervised programs (issue 28), operated: `worker programs|start|stop|restart|tail` and the
//! API, log rotation at a small size, SIGTERM (stopsignal at once, KILL after stopwaitsecs,
//! within SHUTDOWN_TIMEOUT) and SIGUSR2 reload touching only what changed.

mod programs_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use programs_support::*;
use support::*;

const T: Duration = Duration::from_secs(15);

fn program(c: &Consumer, name: &str, extra: &str) -> String {
    format!(
        "[programs.{name}]\ncommand = \"{}\"\nenvironment = {{ CTL = \"{}\" }}\nstartsecs = 0\n{extra}\n",
        c.command(),
        c.ctl().display()
    )
}

/// `worker ARGS… --url` against the daemon: (exit code, stdout).
fn cli(d: &Daemon, args: &[&str]) -> (i32, String) {
    let mut all: Vec<&str> = args.to_vec();
    let url = base(d);
    all.extend(["--url", &url]);
    let (code, out, err) = run_worker(&all, &[], d.dir.path());
    assert!(err.is_empty() || code != 0, "{err}");
    (code, format!("{out}{err}"))
}

#[test]
fn cli_and_api_status_start_stop_restart_tail() {
    let c = Consumer::new();
    let d = Daemon::start_embedded(&program(&c, "messenger-worker", ""), None, &[]);
    wait_state(&d, "messenger-worker:00", "RUNNING", T);
    // `worker programs`: supervisorctl's status lines; exit 0 when all run.
    let (code, out) = cli(&d, &["programs"]);
    assert_eq!(code, 0, "{out}");
    let line = out.lines().next().unwrap();
    assert!(line.starts_with("messenger-worker:00"), "{out}");
    assert!(
        line.contains("RUNNING") && line.contains("pid ") && line.contains("uptime 0:00:"),
        "{out}"
    );
    // stop → STOPPED (exit 0), status then exits 3 as supervisorctl's does.
    let (code, out) = cli(&d, &["stop", "messenger-worker"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("STOPPED"), "{out}");
    assert_eq!(cli(&d, &["programs"]).0, 3);
    // start, restart (a new process), all.
    let (code, out) = cli(&d, &["start", "messenger-worker"]);
    assert_eq!(code, 0, "{out}");
    let before = instance(&d, "messenger-worker:00")["pid"].clone();
    let (code, out) = cli(&d, &["restart", "all"]);
    assert_eq!(code, 0, "{out}");
    let after = instance(&d, "messenger-worker:00")["pid"].clone();
    assert_ne!(before, after, "restart starts a new process");
    // An unknown name: 404 naming what exists, exit 1.
    let (code, out) = cli(&d, &["stop", "nope"]);
    assert_eq!(code, 1);
    assert!(
        out.contains("no program \"nope\": known are messenger-worker"),
        "{out}"
    );
    let (code, body) = control(&d, "nope", "start");
    assert_eq!(code, 404, "{body}");
    // tail: the last lines of stdout, and of stderr.
    let (code, out) = cli(&d, &["tail", "-n", "1", "messenger-worker", "stderr"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.trim(), "consumer 0 says hello on stderr");
    let (_, out) = cli(&d, &["tail", "messenger-worker:00"]);
    assert!(
        out.contains("got TERM 0") && out.contains("consumer 0 started"),
        "{out}"
    );
    // tail -f: the last line, then what comes next.
    let url = base(&d);
    let mut follow = Command::new(worker_bin())
        .args(["tail", "-f", "-n", "1", "messenger-worker", "--url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Read on a thread, so that a missing line fails the test at a deadline instead of hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    let out = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                return;
            }
        }
    });
    // Its first answer is in: what follows is new.
    assert_eq!(rx.recv_timeout(T).unwrap(), "consumer 0 started");
    c.exit(0, 5);
    let mut seen = Vec::new();
    while let Ok(l) = rx.recv_timeout(T) {
        seen.push(l.clone());
        if l == "consumer 0 started" {
            break;
        }
    }
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(seen.contains(&"exiting with 5".to_string()), "{seen:?}");
    assert_eq!(
        seen.last().map(String::as_str),
        Some("consumer 0 started"),
        "{seen:?}"
    );
}

#[test]
fn log_files_rotate_at_a_small_size() {
    let dir = TempDir::new("programs-rot");
    let log = dir.path().join("chatty.log");
    let config = format!(
        r#"
[programs.chatty]
command = "i=0; while [ $i -lt 200 ]; do echo \"line $i of the chatty program\"; i=$((i+1)); done; exec sleep 60"
startsecs = 0
log_output = false
stdout_logfile = "{}"
logfile_maxbytes = 1000
logfile_backups = 2
"#,
        log.display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    wait_state(&d, "chatty:00", "RUNNING", T);
    poll(T, "the last line in the log file", || {
        let text = std::fs::read_to_string(&log).ok()?;
        text.contains("line 199 of").then_some(())
    });
    let backup = |n: u32| dir.path().join(format!("chatty.log.{n}"));
    // Full copies (a line is 30 bytes: rotated when the next would not fit), and the
    // current file below the size.
    for f in [backup(1), backup(2)] {
        let len = std::fs::metadata(&f).unwrap().len();
        assert!(len <= 1000 && len > 960, "{} is {len} bytes", f.display());
    }
    assert!(std::fs::metadata(&log).unwrap().len() <= 1000);
    assert!(!backup(3).exists(), "only logfile_backups copies are kept");
    // Rotation keeps the order: .1 ends where the current file begins.
    let current = std::fs::read_to_string(&log).unwrap();
    let older = std::fs::read_to_string(backup(1)).unwrap();
    let last_old: u32 = older
        .lines()
        .last()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let first_new: u32 = current
        .lines()
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(last_old + 1, first_new);
}

#[test]
fn sigterm_stops_programs_at_once_and_kills_the_deaf_one_within_the_shutdown_timeout() {
    let polite = Consumer::new();
    let deaf = Consumer::new();
    let config = format!(
        "{}{}",
        program(&polite, "polite", "stopwaitsecs = 20"),
        program(&deaf, "deaf", "stopwaitsecs = 60")
            .replace("environment = {", "environment = { DEAF = \"1\",")
    );
    // A job that runs through the drain: programs must not wait for it, nor it for them.
    let config = format!(
        "{config}\n[worker]\nshutdown_timeout = \"3s\"\n[queues.work.handlers.long]\nexec = \"sleep 1.5\"\n"
    );
    let mut d = Daemon::start_embedded(&config, None, &[]);
    d.wait_healthy();
    wait_state(&d, "polite:00", "RUNNING", T);
    wait_state(&d, "deaf:00", "RUNNING", T);
    let (p, q) = (polite.pid(0), deaf.pid(0));
    let (code, _) = http(
        "POST",
        &format!("{}/api/queues/work/jobs", base(&d)),
        Some(r#"{"name":"long"}"#),
        None,
    );
    assert_eq!(code, 201);
    let t0 = Instant::now();
    d.signal(Signal::SIGTERM);
    // The polite one hears TERM at once, while the job still runs.
    poll(T, "the polite program to stop", || gone(p).then_some(()));
    let polite_after = t0.elapsed();
    assert!(
        polite_after < Duration::from_millis(1400),
        "{polite_after:?}"
    );
    // The deaf one: KILL at SHUTDOWN_TIMEOUT (3 s), not after its 60 s stopwaitsecs.
    assert_eq!(d.wait_exit(T), 0);
    let exit_after = t0.elapsed();
    assert!(gone(q));
    assert!(
        exit_after >= Duration::from_secs(3) && exit_after < Duration::from_secs(8),
        "{exit_after:?}"
    );
    let log = d.log();
    assert!(log.contains("got TERM 0"), "{log}");
    assert!(log.contains("did not stop within stopwaitsecs"), "{log}");
    eprintln!(
        "polite program gone {polite_after:?} after SIGTERM; daemon exited after {exit_after:?}"
    );
}

#[test]
fn sigusr2_reload_starts_new_stops_removed_restarts_changed_only() {
    let c = [
        Consumer::new(),
        Consumer::new(),
        Consumer::new(),
        Consumer::new(),
    ];
    let first = format!(
        "{}{}{}",
        program(&c[0], "keep", ""),
        program(&c[1], "change", ""),
        program(&c[2], "drop", "")
    );
    let d = Daemon::start_embedded(&first, None, &[]);
    for n in ["keep:00", "change:00", "drop:00"] {
        wait_state(&d, n, "RUNNING", T);
    }
    let (keep, change, dropped) = (c[0].pid(0), c[1].pid(0), c[2].pid(0));
    let second = format!(
        "{}{}{}",
        program(&c[0], "keep", ""),
        program(&c[1], "change", "stopwaitsecs = 7"),
        program(&c[3], "add", "")
    );
    std::fs::remove_file(c[1].ctl().join("pid-0")).unwrap();
    d.dir.write("worker.toml", &second);
    d.signal(Signal::SIGUSR2);
    wait_state(&d, "add:00", "RUNNING", T);
    poll(T, "the removed program to go", || {
        programs(&d)
            .iter()
            .all(|p| p["program"] != "drop")
            .then_some(())
    });
    assert!(gone(dropped));
    let changed = c[1].pid(0);
    assert_ne!(changed, change, "a changed program restarts");
    wait_state(&d, "change:00", "RUNNING", T);
    assert!(!gone(keep), "an unchanged program is left alone");
    assert_eq!(c[0].pid(0), keep);
    assert_eq!(programs(&d).len(), 3);
}

#[test]
fn a_daemon_refused_at_start_leaves_no_program_behind() {
    let redis = Redis::start();
    let c = Consumer::new();
    let env = [("WORKER_ID", "twin")];
    let first = Daemon::start(&redis.url(), "", None, &env);
    first.wait_healthy();
    // The second one starts its program (programs need no store), then is refused: exit 2.
    let mut second = Daemon::start(&redis.url(), &program(&c, "c", ""), None, &env);
    assert_eq!(second.wait_exit(T), 2);
    let log = second.log();
    assert!(log.contains("is in use by a live daemon"), "{log}");
    let started = log.lines().find(|l| l.contains("\"program started\""));
    let Some(line) = started else {
        eprintln!("the program had not started before the refusal: nothing to check");
        return;
    };
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    let group = v["pid"].as_i64().unwrap();
    // Every process of its group ends (before: the launcher was killed alone, and the
    // program, orphaned, ran on).
    poll(T, "the program's group to end", || {
        let members = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let rest = stat.rfind(')').map(|i| &stat[i + 1..]).unwrap_or("");
                let f: Vec<&str> = rest.split_whitespace().collect();
                f.len() > 2 && f[0] != "Z" && f[2] == group.to_string()
            })
            .count();
        (members == 0).then_some(())
    });
}
