//! The command line as users and scripts see it: `cron next` (the scheduler's conformance
//! interface), `--test-crontab` exit codes and messages, start-up errors with `FILE:LINE` and
//! exit 2, `enqueue` input errors, `healthcheck`.

mod support;

use support::*;

fn worker(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let dir = TempDir::new("cli");
    run_worker(args, env, dir.path())
}

#[test]
fn cron_next_prints_the_dialect_sample_rows() {
    // Rows of shared/crontab.md's sample table; the full table is tests/fixtures/cron_next.tsv.
    let rows: &[(&str, &str, &str, &str)] = &[
        (
            "0 3 * * *",
            "UTC",
            "2027-01-01T12:00:00Z",
            "2027-01-02T03:00:00Z 2027-01-03T03:00:00Z",
        ),
        (
            "*/15 * * * * * *",
            "UTC",
            "2027-01-01T12:07:30Z",
            "2027-01-01T12:07:45Z 2027-01-01T12:08:00Z 2027-01-01T12:08:15Z",
        ),
        (
            "0 0 1 1 * 2030",
            "UTC",
            "2027-03-01T00:00:00Z",
            "2030-01-01T00:00:00Z",
        ),
        (
            "30 2 * * *",
            "Europe/Paris",
            "2027-03-27T11:00:00Z",
            "2027-03-28T01:00:00Z 2027-03-29T00:30:00Z",
        ),
    ];
    for (expr, tz, from, want) in rows {
        let n = want.split(' ').count().max(2).to_string();
        let (code, out, err) = worker(
            &["cron", "next", expr, "--tz", tz, "--from", from, "-n", &n],
            &[],
        );
        assert_eq!(code, 0, "{expr}: {err}");
        assert_eq!(
            out.split_whitespace().collect::<Vec<_>>().join(" "),
            *want,
            "{expr} in {tz} from {from}"
        );
    }
    let (code, _, err) = worker(&["cron", "next", "*/60 * * * *"], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("*/60"), "{err}");
}

#[test]
fn test_crontab_exit_codes_and_messages() {
    let dir = TempDir::new("testcrontab");
    let good = dir.write("good.crontab", "# nightly\n0 3 * * * enqueue sitemap generate-delta {\"type\":\"delta\"}\n*/5 * * * * echo hi\n");
    let bad = dir.write(
        "bad.crontab",
        "0 3 * * * echo fine\n60 * * * * echo bad-minute\n* * * * echo too-few\n",
    );
    let (code, out, err) = worker(&["--test-crontab", good.to_str().unwrap()], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("good.crontab:2"), "{out}");
    assert!(out.contains("sitemap"), "{out}");
    let (code, _, err) = worker(&["--test-crontab", bad.to_str().unwrap()], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.crontab:2:"), "{err}");
    assert!(err.contains("bad.crontab:3:"), "{err}");
    assert!(!err.contains("bad.crontab:1:"), "{err}");
}

#[test]
fn startup_errors_name_the_place_and_exit_2() {
    let dir = TempDir::new("startup");
    let cfg = dir.write("w.toml", "[worker]\nconcurrency = 0\n");
    let (code, _, err) = run_worker(&[], &[("WORKER_CONFIG", cfg.to_str().unwrap())], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("w.toml:2: [worker] concurrency"), "{err}");

    let cfg = dir.write("w2.toml", "");
    let tab = dir.write("tab", "0 3 * * * echo ok\n0 24 * * * echo bad-hour\n");
    let (code, _, err) = run_worker(
        &[],
        &[
            ("WORKER_CONFIG", cfg.to_str().unwrap()),
            ("CRONTAB", tab.to_str().unwrap()),
        ],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tab:2:"), "{err}");
}

#[test]
fn enqueue_refuses_bad_input_with_a_fix() {
    let (code, _, err) = worker(&["enqueue", "q", "n", "--data", "{not json"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("--data is not valid JSON"), "{err}");
    let redis = Redis::start();
    let (code, _, err) = worker(
        &["enqueue", "q", "n", "--job-id", "123"],
        &[("REDIS_URL", &redis.url())],
    );
    assert_ne!(code, 0);
    assert!(err.contains("integer"), "{err}");
    let (code, out, _) = worker(
        &["enqueue", "q", "n", "--job-id", "order-123"],
        &[("REDIS_URL", &redis.url())],
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "order-123");
    // Issue 15: the CLI meets the same job validation as the API and the crontab (it took
    // `--attempts 0` and a priority past BullMQ's maximum to the store before).
    for (flag, value, want) in [
        ("--attempts", "0", "--attempts: 0: must be 1..=10000"),
        (
            "--priority",
            "2097152",
            "--priority: 2097152 is above BullMQ's maximum",
        ),
    ] {
        let (code, _, err) = worker(
            &["enqueue", "q", "n", flag, value],
            &[("REDIS_URL", &redis.url())],
        );
        assert_eq!(code, 2, "{flag} {value}: {err}");
        assert!(err.contains(want), "{flag} {value}: {err}");
    }
}

#[test]
fn healthcheck_follows_the_daemon() {
    let redis = Redis::start();
    let daemon = Daemon::start(&redis.url(), "", None, &[]);
    daemon.wait_healthy();
    let (code, out, _) = worker(&["healthcheck", "--url", &daemon.health_url()], &[]);
    assert_eq!(code, 0);
    assert!(out.contains("\"healthy\""), "{out}");
    let port = free_port();
    let (code, _, _) = worker(
        &["healthcheck"],
        &[("WORKER_LISTEN", &format!("127.0.0.1:{port}"))],
    );
    assert_eq!(code, 1, "nothing listens there");
}

/// Issue 14 item 8: a BOM kept the file's zone out (jobs ran an hour off), and a NUL byte, a
/// command over 128 KiB or a non-UTF-8 byte passed `--test-crontab` or lost its line number.
#[test]
fn test_crontab_handles_bom_nul_huge_commands_and_bad_utf8() {
    let dir = TempDir::new("crontab-bytes");
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };
    let bom = file(
        "bom",
        b"\xef\xbb\xbfCRON_TZ=Europe/Paris\n0 3 * * * backup\n",
    );
    let (code, out, err) = worker(&["--test-crontab", &bom], &[("TZ", "UTC")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("(Europe/Paris)"),
        "the BOM dropped the zone: {out}"
    );

    let nul = file("nul", b"# ok\n0 3 * * * echo a\0b\n");
    let (code, _, err) = worker(&["--test-crontab", &nul], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("nul:2:17:") && err.contains("NUL"), "{err}");

    let mut huge = b"0 3 * * * echo ".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 128 * 1024));
    let huge = file("huge", &huge);
    let (code, _, err) = worker(&["--test-crontab", &huge], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("huge:1:11:") && err.contains("128 KiB"),
        "{err}"
    );

    let latin1 = file("latin1", b"# ok\n\n0 3 * * * echo caf\xe9\n");
    let (code, _, err) = worker(&["--test-crontab", &latin1], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("latin1:3:19:") && err.contains("UTF-8"),
        "{err}"
    );
}

/// Issue 14 item 9: the CLI refuses a queue name the API would refuse, before any store.
#[test]
fn cli_queue_names_use_the_one_rule() {
    let dir = TempDir::new("cli-queue");
    for args in [
        &["enqueue", "a:b", "n"][..],
        &["jobs", "a b"][..],
        &["pause", "*"][..],
    ] {
        let (code, _, err) = run_worker(args, &[("CRONTAB", "/dev/null")], dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains("is not a queue name"), "{args:?}: {err}");
    }
}

#[test]
fn test_crontab_runs_every_start_up_check() {
    let dir = TempDir::new("test-checks");
    let big = "x".repeat(128 * 1024);
    let cases = [
        (
            "dup",
            "0 3 * * * echo same\n0 3 * * * echo same\n".to_string(),
            "dup:",
        ),
        (
            "shell",
            "SHELL=/nonexistent/sh\n0 3 * * * echo hi\n".to_string(),
            "SHELL=/nonexistent/sh does not exist",
        ),
        (
            "bigvar",
            format!("BIG={big}\n0 3 * * * echo hi\n"),
            "BIG is 128 KiB",
        ),
    ];
    for (name, text, want) in cases {
        let tab = dir.write(name, &text);
        let tab = tab.to_str().unwrap();
        let (code, out, err) = worker(&["-test", tab], &[]);
        assert_eq!(code, 1, "{name}: -test must refuse: {out}{err}");
        assert!(err.contains(want), "{name}: {err}");
        // And the daemon refuses the same file at start (exit 2).
        let (code, _, err) = worker(&[tab], &[("WORKER_LISTEN", "127.0.0.1:0")]);
        assert_eq!(code, 2, "{name}: {err}");
    }
}

#[test]
fn test_crontab_of_an_endless_file_stops_at_the_cap() {
    let (code, _, err) = worker(&["--test-crontab", "/dev/zero"], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("MiB"), "{err}");
}

#[test]
fn cron_next_says_when_a_schedule_never_fires() {
    // Valid but empty, as the daemon treats it (a warning, not a refusal): exit 0, nothing on
    // stdout (the conformance table's `-`), and the warning instead of silence.
    let (code, out, err) = worker(&["cron", "next", "0 0 30 2 *"], &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("warning:") && err.contains("never fires"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
}

#[test]
fn cron_next_streams_its_first_line_before_the_listing_ends() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::time::Duration;
    // 100 million instants cannot be computed before the deadline below; and since only the
    // first line is read, the pipe fills and the command cannot finish while we watch. So a
    // line arriving proves it streams; a listing printed at the end would arrive never.
    let dir = TempDir::new("cli-stream");
    let mut child = Command::new(worker_bin())
        .args(["cron", "next", "* * * * * * *", "-n", "100000000"])
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    // The reader thread reads one line and hands it over with the pipe itself, still open: a
    // pipe closed here would end the command with EPIPE before the check below.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let mut reader = std::io::BufReader::new(stdout);
        let _ = reader.read_line(&mut line);
        let _ = tx.send((line, reader));
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    let (first, _pipe) = first.expect("the first instant arrives while the listing goes on");
    assert!(still_running, "the command was still listing");
    let stamp = first.trim_end();
    assert!(
        stamp.len() == 20 && stamp.ends_with('Z') && stamp.as_bytes()[10] == b'T',
        "one RFC 3339 UTC instant per line: {first:?}"
    );
}
