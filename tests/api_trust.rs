//! The API's answers to what BullMQ users and big payloads expect (issue 25), against a real
//! daemon: a second add with an existing `jobId` says so (200, `existed: true`) instead of
//! claiming a creation, and job lists carry previews of big data (the full job at its URL).

mod support;

use support::*;

const CONFIG: &str = r#"
[defaults]
attempts = 1
[queues.mail.handlers.send]
builtin = "echo"
"#;

#[test]
fn an_existing_job_id_answers_200_and_says_it_existed() {
    let stack = Stack::start(StoreKind::Embedded, CONFIG, &[]);
    // A queue nobody consumes: the job stays as it was added.
    let first = r#"{"name":"send","data":{"v":1},"jobId":"welcome-1"}"#;
    let (code, added) = stack.call("POST", "/api/queues/held/jobs", Some(first));
    assert_eq!(code, 201, "{added}");
    assert_eq!(
        added,
        serde_json::json!({"id": "welcome-1", "existed": false})
    );
    let again = r#"{"name":"send","data":{"v":2},"jobId":"welcome-1"}"#;
    let (code, added) = stack.call("POST", "/api/queues/held/jobs", Some(again));
    assert_eq!(code, 200, "{added}");
    assert_eq!(
        added,
        serde_json::json!({"id": "welcome-1", "existed": true})
    );
    // Nothing changed: the first job's data stands, as with BullMQ's Queue.add.
    let (_, job) = stack.call("GET", "/api/queues/held/jobs/welcome-1", None);
    assert_eq!(job["data"], serde_json::json!({"v": 1}));
    let (code, added) = stack.call("POST", "/api/queues/held/jobs", Some(r#"{"name":"send"}"#));
    assert_eq!(code, 201, "{added}");
    assert_eq!(added["existed"], false);
}

#[test]
fn job_lists_carry_previews_and_the_job_its_full_data() {
    let stack = Stack::start(StoreKind::Embedded, CONFIG, &[]);
    let blob = "x".repeat(200_000);
    for i in 0..5 {
        let body = serde_json::json!({"name": "send", "data": {"i": i, "blob": blob}}).to_string();
        let (code, added) = stack.call("POST", "/api/queues/held/jobs", Some(&body));
        assert_eq!(code, 201, "{added}");
    }
    let (code, small) = stack.call(
        "POST",
        "/api/queues/held/jobs",
        Some(r#"{"name":"send","data":{"to":"a@b.c"},"jobId":"small"}"#),
    );
    assert_eq!(code, 201, "{small}");
    let url = format!(
        "{}/api/queues/held/jobs?state=waiting&limit=50",
        stack.base()
    );
    let (code, text) = http("GET", &url, None, None);
    assert_eq!(code, 200, "{text}");
    eprintln!("a page of 6 jobs (5 of 200 KB): {} bytes", text.len());
    assert!(text.len() < 16 * 1024, "{} bytes", text.len());
    let page: serde_json::Value = serde_json::from_str(&text).unwrap();
    let jobs = page["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 6);
    for j in jobs {
        if j["id"] == "small" {
            assert_eq!(j["data"], serde_json::json!({"to": "a@b.c"}), "{j}");
            assert!(j.get("truncated").is_none(), "{j}");
        } else {
            assert_eq!(j["truncated"], serde_json::json!(["data"]), "{j}");
            let preview = j["data"].as_str().unwrap();
            assert!(
                preview.starts_with("{\"") && preview.ends_with('…'),
                "{preview}"
            );
            // The full job is at its own URL.
            let (code, full) = stack.call(
                "GET",
                &format!("/api/queues/held/jobs/{}", j["id"].as_str().unwrap()),
                None,
            );
            assert_eq!(code, 200);
            assert_eq!(full["data"]["blob"].as_str().unwrap().len(), 200_000);
        }
    }
}

/// The daemon's peak resident memory (VmHWM) in MiB.
fn peak_mib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[test]
fn four_large_listings_at_once_stay_bounded() {
    let stack = Stack::start(StoreKind::Redis, CONFIG, &[]);
    let blob = "x".repeat(400_000);
    for i in 0..100 {
        let body = serde_json::json!({"name": "send", "data": {"i": i, "blob": blob}}).to_string();
        let (code, added) = stack.call("POST", "/api/queues/held/jobs", Some(&body));
        assert_eq!(code, 201, "{added}");
    }
    let pid = stack.daemon.pid();
    let before = peak_mib(pid);
    let started = std::time::Instant::now();
    let url = format!(
        "{}/api/queues/held/jobs?state=waiting&limit=500",
        stack.base()
    );
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                // A debug build reads and cuts 100 jobs of 400 KB per page: more than the
                // shared helper's 10 s on a busy machine, so a client of its own.
                let resp = reqwest::blocking::Client::builder()
                    .timeout(std::time::Duration::from_secs(120))
                    .build()
                    .unwrap()
                    .get(&url)
                    .send()
                    .unwrap();
                (resp.status().as_u16(), resp.text().unwrap())
            })
        })
        .collect();
    for c in clients {
        let (code, text) = c.join().unwrap();
        assert_eq!(code, 200, "{text}");
        let page: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(page["jobs"].as_array().unwrap().len(), 100);
    }
    let after = peak_mib(pid);
    eprintln!(
        "4 x limit=500 on 100 jobs of 400 KB: daemon peak RSS {before} -> {after} MiB, {:?}",
        started.elapsed()
    );
    assert!(after < before + 96, "peak RSS {before} -> {after} MiB");
}
