//! The API over a real socket against a daemon on a real Redis: add, inspect, retry, remove,
//! promote, pause/resume, clean, schedules and trigger, the SSE stream with resume, /metrics,
//! and the CLI operations on the same data.

mod support;

use std::time::Duration;

use support::*;

const TOKEN: &str = "t0ken-for-tests";
const CONFIG: &str = r#"
[worker]
concurrency = 2
[defaults]
attempts = 1
[queues.mail.handlers.send]
builtin = "echo"
[queues.mail.handlers.broken]
builtin = "fail"
[[schedule]]
name = "nightly"
cron = "0 3 * * *"
enqueue = { queue = "mail", name = "send", data = { digest = true } }
"#;

/// The daemon on Redis, healthy: the setup shared with the store suite.
fn start() -> Stack {
    Stack::start(StoreKind::Redis, CONFIG, &[("API_TOKEN", TOKEN)])
}

fn base(d: &Daemon) -> String {
    format!("http://127.0.0.1:{}", d.port)
}

#[test]
fn jobs_through_the_api() {
    let stack = start();
    let (redis, daemon) = (stack.redis(), &stack.daemon);
    let b = base(daemon);
    let call = |m: &str, path: &str, body: Option<&str>| stack.call(m, path, body);

    let (code, added) = call(
        "POST",
        "/api/queues/mail/jobs",
        Some(r#"{"name":"send","data":{"to":"a@b.c"},"jobId":"welcome-1"}"#),
    );
    assert_eq!(code, 201, "{added}");
    assert_eq!(added["id"], "welcome-1");
    assert_eq!(
        wait_finished(redis, "mail", "welcome-1", Duration::from_secs(20)),
        "completed"
    );
    let (code, job) = call("GET", "/api/queues/mail/jobs/welcome-1", None);
    assert_eq!(code, 200);
    assert_eq!(job["state"], "completed");
    assert_eq!(job["returnvalue"], serde_json::json!({"to": "a@b.c"}));
    assert_eq!(job["attemptsMade"], 1);
    assert!(job["logs"].is_array() && job["timestamp"].is_u64() && job["finishedOn"].is_u64());

    let (_, added) = call(
        "POST",
        "/api/queues/mail/jobs",
        Some(r#"{"name":"broken","data":{"reason":"smtp down"}}"#),
    );
    let failed_id = added["id"].as_str().unwrap().to_string();
    assert_eq!(
        wait_finished(redis, "mail", &failed_id, Duration::from_secs(20)),
        "failed"
    );
    let (_, page) = call("GET", "/api/queues/mail/jobs?state=failed&limit=10", None);
    assert_eq!(page["total"], 1);
    assert_eq!(page["jobs"][0]["failedReason"], "smtp down");
    let (code, _) = call("POST", "/api/queues/mail/jobs/welcome-1/retry", None);
    assert_eq!(code, 409, "a completed job is not retried");
    let (code, moved) = call(
        "POST",
        &format!("/api/queues/mail/jobs/{failed_id}/retry"),
        None,
    );
    assert_eq!(code, 200, "{moved}");
    assert_eq!(
        wait_finished(redis, "mail", &failed_id, Duration::from_secs(20)),
        "failed"
    );

    let (_, delayed) = call(
        "POST",
        "/api/queues/mail/jobs",
        Some(r#"{"name":"send","delay":"1h"}"#),
    );
    let did = delayed["id"].as_str().unwrap().to_string();
    assert_eq!(job_state(redis, "mail", &did), "delayed");
    let (code, _) = call(
        "POST",
        &format!("/api/queues/mail/jobs/{did}/promote"),
        None,
    );
    assert_eq!(code, 200);
    assert_eq!(
        wait_finished(redis, "mail", &did, Duration::from_secs(20)),
        "completed"
    );

    let (code, _) = call("DELETE", "/api/queues/mail/jobs/welcome-1", None);
    assert_eq!(code, 204);
    let (code, err) = call("GET", "/api/queues/mail/jobs/welcome-1", None);
    assert_eq!(code, 404);
    assert!(err["error"]["message"]
        .as_str()
        .unwrap()
        .contains("welcome-1"));

    let (_, p) = call("POST", "/api/queues/mail/pause", None);
    assert_eq!(p["paused"], true);
    let (_, queued) = call("POST", "/api/queues/mail/jobs", Some(r#"{"name":"send"}"#));
    let qid = queued["id"].as_str().unwrap().to_string();
    let (_, queues) = call("GET", "/api/queues", None);
    let mail = queues
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["name"] == "mail")
        .unwrap()
        .clone();
    assert_eq!(mail["paused"], true);
    assert_eq!(mail["consumed"], true);
    assert_eq!(
        job_state(redis, "mail", &qid),
        "waiting",
        "a paused queue is not consumed"
    );
    call("POST", "/api/queues/mail/resume", None);
    assert_eq!(
        wait_finished(redis, "mail", &qid, Duration::from_secs(20)),
        "completed"
    );

    let (code, cleaned) = call(
        "POST",
        "/api/queues/mail/clean",
        Some(r#"{"state":"completed","olderThan":"0s"}"#),
    );
    assert_eq!(code, 200);
    assert!(cleaned["count"].as_u64().unwrap() >= 2, "{cleaned}");

    let (_, rows) = call("GET", "/api/schedules", None);
    let row = &rows[0];
    assert_eq!(row["id"], "nightly");
    assert!(
        row["next"].as_str().unwrap().ends_with("T03:00:00Z"),
        "{row}"
    );
    let (code, trig) = call("POST", "/api/schedules/nightly/trigger", None);
    assert_eq!(code, 201);
    let tid = trig["id"].as_str().unwrap();
    assert!(tid.starts_with("cron-nightly-manual-"), "{tid}");
    assert_eq!(
        wait_finished(redis, "mail", tid, Duration::from_secs(20)),
        "completed"
    );
    assert_eq!(call("POST", "/api/schedules/nope/trigger", None).0, 404);

    let (code, text) = http("GET", &format!("{b}/metrics"), None, Some(TOKEN));
    assert_eq!(code, 200);
    for needle in [
        "cronq_jobs_total{queue=\"mail\",name=\"send\",outcome=\"completed\"}",
        "cronq_jobs_total{queue=\"mail\",name=\"broken\",outcome=\"failed\"} 2",
        // prometheus-client writes `le` first; the labels are the same set.
        "cronq_job_duration_seconds_bucket{le=\"+Inf\",queue=\"mail\",name=\"send\"}",
        "cronq_queue_jobs{queue=\"mail\",state=\"failed\"} 1",
        "cronq_active_jobs{queue=\"mail\"} 0",
        "cronq_cron_fires_total",
        "cronq_redis_up 1",
        "cronq_process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}

#[test]
fn events_stream_and_resume() {
    let stack = start();
    let daemon = &stack.daemon;
    let b = base(daemon);
    let mut sse = Sse::open(&format!("{b}/api/events?queue=mail"), None, Some(TOKEN));
    let (_, a) = http_json(
        "POST",
        &format!("{b}/api/queues/mail/jobs"),
        Some(r#"{"name":"send","data":{"n":1}}"#),
        Some(TOKEN),
    );
    let a_id = a["id"].as_str().unwrap().to_string();
    let seen = sse.until(|(_, name, data)| name == "completed" && data["jobId"] == a_id.as_str());
    let names: Vec<&str> = seen.iter().map(|(_, n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"added") && names.contains(&"active"),
        "{names:?}"
    );
    let completed = seen.last().unwrap();
    assert_eq!(completed.2["queue"], "mail");
    assert_eq!(completed.2["returnvalue"], r#"{"n":1}"#);
    let resume_from = completed.0.clone();
    drop(sse);

    // Missed while disconnected, delivered on reconnect from Last-Event-ID.
    let (_, c) = http_json(
        "POST",
        &format!("{b}/api/queues/mail/jobs"),
        Some(r#"{"name":"send","data":{"n":2}}"#),
        Some(TOKEN),
    );
    let c_id = c["id"].as_str().unwrap().to_string();
    poll(
        Duration::from_secs(20),
        "the second job to complete",
        || {
            let (_, j) = http_json(
                "GET",
                &format!("{b}/api/queues/mail/jobs/{c_id}"),
                None,
                Some(TOKEN),
            );
            (j["state"] == "completed").then_some(())
        },
    );
    let mut again = Sse::open(
        &format!("{b}/api/events?queue=mail&job={c_id}"),
        Some(&resume_from),
        Some(TOKEN),
    );
    let seen = again.until(|(_, name, _)| name == "completed");
    assert!(
        seen.iter().all(|(_, _, d)| d["jobId"] == c_id.as_str()),
        "filtered by job id: {seen:?}"
    );
    assert!(
        seen.iter().any(|(_, n, _)| n == "added"),
        "resumed from before the job was added: {seen:?}"
    );
}

#[test]
fn cli_operations_on_the_same_data() {
    let stack = start();
    let redis = stack.redis();
    // The CLI on the same Redis, with the same config.
    let w = |args: &[&str]| stack.cli(args);

    for i in 0..3 {
        let data = format!(r#"{{"reason":"r{i}"}}"#);
        assert_eq!(
            w(&[
                "enqueue",
                "mail",
                "broken",
                "--data",
                &data,
                "--job-id",
                &format!("b-{i}")
            ])
            .0,
            0
        );
    }
    for i in 0..3 {
        wait_finished(redis, "mail", &format!("b-{i}"), Duration::from_secs(20));
    }
    let (code, out, _) = w(&["status"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("mail") && l.split_whitespace().last() == Some("3")),
        "{out}"
    );
    let (_, out, _) = w(&["status", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["store"], "redis");
    let (_, out, _) = w(&["jobs", "mail", "--state", "failed", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["total"], 3);
    let (code, out, _) = w(&["job", "mail", "b-1"]);
    assert_eq!(code, 0);
    assert!(out.contains("error:     r1"), "{out}");
    let (code, _, err) = w(&["job", "mail", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    let (code, out, err) = w(&["retry", "mail", "--all-failed"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 failed job(s) of mail moved back"), "{out}");
    assert!(err.contains("retried 3/3"), "progress bar: {err}");
    for i in 0..3 {
        poll(
            Duration::from_secs(20),
            "the retried job to fail again",
            || {
                (job_state(redis, "mail", &format!("b-{i}")) == "failed"
                    && job_field(redis, "mail", &format!("b-{i}"), "atm") == "2")
                    .then_some(())
            },
        );
    }
    assert_eq!(w(&["remove", "mail", "b-0"]).0, 0);
    assert_eq!(job_state(redis, "mail", "b-0"), "unknown");
    assert_eq!(w(&["pause", "mail"]).0, 0);
    assert_eq!(redis.cmd(&["HGET", "bull:mail:meta", "paused"]), "1");
    assert_eq!(w(&["resume", "mail"]).0, 0);
    let (code, out, _) = w(&["clean", "mail", "--state", "failed", "--older-than", "0s"]);
    assert_eq!(code, 0);
    assert!(out.contains("removed 2 failed"), "{out}");
    let (code, out, _) = w(&["schedules"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("nightly") && out.contains("mail/send"),
        "{out}"
    );
}
