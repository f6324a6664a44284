//! Worker crash: three daemons on one Redis share 2,000 short exec jobs while one of them is
//! `kill -9`ed and restarted every two seconds. Every job completes, none is lost, a job runs
//! twice only when a killed instance had started it (stalled-job recovery), and nothing is left
//! `active`. Figures (jobs, kills, duplicates, restart and recovery times) go to stderr.

mod fault_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fault_support::*;
use nix::sys::signal::Signal;
use support::*;

const JOBS: usize = 2000;
const CONCURRENCY: usize = 6;

fn config(runs: &std::path::Path) -> String {
    let runs = runs.display();
    format!(
        r#"
[worker]
concurrency = {CONCURRENCY}
lock_duration = "2s"
stalled_interval = "1s"
max_stalled_count = 50
[defaults]
attempts = 5
backoff = "fixed:100"
remove_on_complete = false
remove_on_fail = false
[queues.crash.handlers.run]
exec = 'echo "s $INSTANCE $JOB_ID" >> {runs}; sleep 0.0$((JOB_ID % 5 + 1)); echo "e $INSTANCE $JOB_ID" >> {runs}'
"#
    )
}

#[test]
fn kill_9_of_a_worker_loses_nothing() {
    let started = Instant::now();
    let redis = Redis::start();
    let scratch = TempDir::new("crash");
    let runs = scratch.path().join("runs.log");
    let cfg = config(&runs);
    let start = |instance: &str| Daemon::start(&redis.url(), &cfg, None, &[("INSTANCE", instance)]);
    let keepers = [start("k0"), start("k1")];
    for k in &keepers {
        k.wait_healthy();
    }
    let mut victim = start("v0");
    victim.wait_healthy();

    // The producer adds the jobs through the first keeper's API, about 250 a second, while the
    // victim is killed and restarted.
    let producing = Arc::new(AtomicBool::new(true));
    let port = keepers[0].port;
    let flag = producing.clone();
    let producer = std::thread::spawn(move || {
        let mut ids = Vec::with_capacity(JOBS);
        let t0 = Instant::now();
        for i in 0..JOBS {
            ids.push(api_add(
                port,
                "crash",
                &serde_json::json!({"name": "run", "data": {"i": i}}),
            ));
            if i % 25 == 24 {
                // Pacing, not waiting: keep the stream going across several kills.
                let due = Duration::from_millis(100) * ((i as u32 + 1) / 25);
                if let Some(d) = due.checked_sub(t0.elapsed()) {
                    std::thread::sleep(d);
                }
            }
        }
        flag.store(false, Ordering::SeqCst);
        ids
    });

    let mut killed: BTreeSet<String> = BTreeSet::new();
    let mut restart_ms = Vec::new();
    let mut victim_logs = String::new();
    let mut generation = 0;
    let mut last_kill = Instant::now();
    while killed.len() < 8
        && (producing.load(Ordering::SeqCst) || count(&redis, "crash", "completed") < JOBS - 150)
    {
        // Kill only while the victim holds jobs, so that each kill cuts runs off mid-flight.
        let busy = poll(Duration::from_secs(10), "the victim to run jobs", || {
            if !producing.load(Ordering::SeqCst) && count(&redis, "crash", "wait") == 0 {
                return Some(false);
            }
            let (_, body) = victim.health()?;
            (body["queues"]["crash"]["running"].as_u64()? > 0
                && last_kill.elapsed() >= Duration::from_secs(2))
            .then_some(true)
        });
        if !busy {
            break;
        }
        victim.signal(Signal::SIGKILL);
        victim.wait_exit(Duration::from_secs(5));
        last_kill = Instant::now();
        killed.insert(format!("v{generation}"));
        victim_logs.push_str(&victim.log());
        generation += 1;
        let t = Instant::now();
        victim = start(&format!("v{generation}"));
        victim.wait_healthy();
        restart_ms.push(t.elapsed().as_millis());
    }
    let ids = producer.join().unwrap();
    let t_drain = Instant::now();
    wait_all_completed(&redis, "crash", JOBS, Duration::from_secs(60));
    let drain_ms = t_drain.elapsed().as_millis();

    assert!(killed.len() >= 3, "only {} kills happened", killed.len());
    assert_eq!(count(&redis, "crash", "completed"), JOBS);
    assert_eq!(count(&redis, "crash", "failed"), 0);
    assert_eq!(count(&redis, "crash", "active"), 0, "a job stayed active");
    assert_eq!(count(&redis, "crash", "wait"), 0);
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), JOBS, "every add made its own job");

    // Every job ran; a job ran more than once only if a killed instance started it.
    let text = std::fs::read_to_string(&runs).unwrap();
    let mut starts: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let (Some("s"), Some(inst), Some(id)) = (f.next(), f.next(), f.next()) {
            starts
                .entry(id.to_string())
                .or_default()
                .push(inst.to_string());
        }
    }
    let never_ran: Vec<&&String> = unique
        .iter()
        .filter(|id| !starts.contains_key(**id))
        .collect();
    assert!(never_ran.is_empty(), "jobs never run: {never_ran:?}");
    let duplicates: Vec<(&String, &Vec<String>)> =
        starts.iter().filter(|(_, runs)| runs.len() > 1).collect();
    let unexplained: Vec<_> = duplicates
        .iter()
        .filter(|(_, runs)| !runs.iter().any(|r| killed.contains(r)))
        .collect();
    assert!(
        unexplained.is_empty(),
        "jobs run twice though no killed instance had started them: {unexplained:?}"
    );
    assert!(
        duplicates.len() <= killed.len() * CONCURRENCY,
        "{} duplicates for {} kills of a {CONCURRENCY}-slot pool",
        duplicates.len(),
        killed.len()
    );
    let mut logs = victim_logs + &victim.log();
    for k in &keepers {
        logs.push_str(&k.log());
    }
    let stalled = logs.matches("stalled job moved back to wait").count();
    eprintln!(
        "faults_crash: jobs={JOBS} daemons=3 concurrency={CONCURRENCY} kills={} duplicates={} \
         stalled_recoveries_logged={stalled} restart_to_healthy_ms={restart_ms:?} \
         drain_after_last_add_ms={drain_ms} total_s={:.1}",
        killed.len(),
        duplicates.len(),
        started.elapsed().as_secs_f64()
    );
}
