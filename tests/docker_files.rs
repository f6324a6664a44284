//! No Docker engine runs here, so the image and compose files are checked by reading: the
//! compose file must parse as YAML and wire worker, Redis (AOF, noeviction) and Bull Board on
//! one prefix; the Dockerfile must be multi-stage, non-root, with the binary as PID 1.

use std::time::Duration;

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn compose_file_wires_worker_redis_and_bull_board() {
    let doc: serde_yaml::Value =
        serde_yaml::from_str(&read("docker-compose.worker.yml")).expect("valid YAML");
    let services = &doc["services"];
    let redis_cmd: Vec<&str> = services["redis"]["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let joined = redis_cmd.join(" ");
    assert!(
        redis_cmd[0] == "redis-server"
            && services["redis"]["image"]
                .as_str()
                .unwrap()
                .starts_with("redis:7")
    );
    assert!(
        joined.contains("--appendonly yes") && joined.contains("--maxmemory-policy noeviction"),
        "{joined}"
    );

    let worker = &services["worker"];
    assert_eq!(
        worker["build"]["dockerfile"].as_str(),
        Some("Dockerfile.worker")
    );
    let env = &worker["environment"];
    assert_eq!(env["REDIS_URL"].as_str(), Some("redis://redis:6379/0"));
    let timeout = humantime::parse_duration(env["SHUTDOWN_TIMEOUT"].as_str().unwrap()).unwrap();
    let grace = humantime::parse_duration(worker["stop_grace_period"].as_str().unwrap()).unwrap();
    assert!(
        grace > timeout + Duration::from_secs(3),
        "stop_grace_period {grace:?} must exceed SHUTDOWN_TIMEOUT {timeout:?} plus the kill grace"
    );
    assert!(worker["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p.as_str() == Some("3001:3001")));

    let board = &services["bull-board"];
    assert!(board["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().starts_with("3002:")));
    assert_eq!(
        board["environment"]["BULL_PREFIX"].as_str(),
        env["REDIS_PREFIX"].as_str(),
        "same prefix"
    );
    assert_eq!(board["environment"]["REDIS_HOST"].as_str(), Some("redis"));
}

#[test]
fn dockerfile_is_multi_stage_non_root_with_healthcheck() {
    let text = read("Dockerfile.worker");
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(
        lines.iter().filter(|l| l.starts_with("FROM ")).count() >= 2,
        "multi-stage"
    );
    let user = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(
        !user.contains("root") && !user.ends_with(" 0") && !user.contains(" 0:"),
        "{user}"
    );
    assert!(lines.contains(&"ENTRYPOINT [\"/usr/local/bin/worker\"]"));
    assert!(lines
        .iter()
        .any(|l| l.starts_with("HEALTHCHECK") && l.ends_with("CMD [\"worker\", \"healthcheck\"]")));
    assert!(lines.contains(&"EXPOSE 3001"));
    assert!(text.contains("--locked"), "builds from Cargo.lock");
}

#[test]
fn compose_starts_with_no_variable_set() {
    let text = read("docker-compose.worker.yml");
    // `${VAR:?message}` makes `docker compose up` refuse to start when VAR is unset.
    let required: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains(":?"))
        .collect();
    assert!(required.is_empty(), "required variables: {required:?}");
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert!(
        doc["services"]["worker"]["environment"]["API_TOKEN"].is_null(),
        "no token by default"
    );
    assert!(
        text.lines()
            .any(|l| l.trim_start().starts_with("# API_TOKEN:")),
        "a commented API_TOKEN line shows how to add one"
    );
}

#[test]
fn image_ships_curl_for_crontab_lines() {
    let text = read("Dockerfile.worker");
    let last_stage = &text[text.rfind("\nFROM ").expect("a final stage")..];
    let apk = last_stage
        .lines()
        .find(|l| l.contains("apk add"))
        .expect("the final stage installs packages with apk");
    let packages: Vec<&str> = apk.split_whitespace().collect();
    assert!(packages.contains(&"curl"), "{apk}");
    assert!(
        packages.contains(&"--no-cache"),
        "no apk index left in the image: {apk}"
    );
}
