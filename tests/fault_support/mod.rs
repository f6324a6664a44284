//! Helpers shared by the fault, bad-input and security suites (on top of `support`).
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::time::Duration;

use crate::support::*;

/// `POST /api/queues/{queue}/jobs` on a daemon; returns the new job's id.
pub fn api_add(port: u16, queue: &str, body: &serde_json::Value) -> String {
    let url = format!("http://127.0.0.1:{port}/api/queues/{queue}/jobs");
    let (code, reply) = http_json("POST", &url, Some(&body.to_string()), None);
    assert_eq!(code, 201, "adding {body} to {queue}: {reply}");
    reply["id"].as_str().unwrap().to_string()
}

/// The sum of every series of Prometheus metric `name` on a daemon's `/metrics`.
pub fn metric(port: u16, name: &str) -> f64 {
    let (code, text) = http(
        "GET",
        &format!("http://127.0.0.1:{port}/metrics"),
        None,
        None,
    );
    assert_eq!(code, 200, "/metrics: {text}");
    text.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Number of members of a queue's state (`wait`, `active`, `completed`, `failed`, …).
pub fn count(redis: &Redis, queue: &str, state: &str) -> usize {
    ids_in(redis, queue, state).len()
}

/// Resident memory of a process in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Whether process `pid` exists (zombies count as gone).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .map(|i| !stat[i + 1..].trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}

/// Zombie children of `parent`, from `/proc`.
pub fn zombies_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            let mut f = rest.split_whitespace();
            f.next() == Some("Z") && f.next().and_then(|p| p.parse().ok()) == Some(parent)
        })
        .collect()
}

/// Child PIDs of `parent`, from `/proc`.
pub fn children_of(parent: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
                return false;
            };
            rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) == Some(parent)
        })
        .collect()
}

/// Waits until every listed job is completed; panics naming the stragglers and their states.
pub fn wait_all_completed(redis: &Redis, queue: &str, total: usize, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let done = count(redis, queue, "completed");
        if done >= total {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!(
                "{done}/{total} completed after {limit:?}; wait {} active {} failed {} delayed {}",
                count(redis, queue, "wait"),
                count(redis, queue, "active"),
                count(redis, queue, "failed"),
                count(redis, queue, "delayed"),
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
