//! The deploy kit is checked by reading (no cluster, no systemd, no GitHub here); the linters
//! in scripts/lint-deploy.sh check the syntax. These tests check that the files agree with the
//! daemon: the Kubernetes grace period and systemd stop timeout outlast the drain, the probes hit
//! /health on its port, the shipped ConfigMap is a config and crontab cronq accepts, and the
//! release workflow builds both architectures.

mod support;

use std::time::Duration;

use support::*;

/// The kill grace cut-off handlers get after SHUTDOWN_TIMEOUT (KILL_GRACE in the daemon).
const KILL_GRACE: Duration = Duration::from_secs(3);
/// SHUTDOWN_TIMEOUT's default plus the kill grace.
const DRAIN: Duration = Duration::from_secs(25 + 3);

fn read(path: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> serde_yaml::Value {
    serde_yaml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn env_of<'a>(container: &'a serde_yaml::Value, name: &str) -> &'a serde_yaml::Value {
    container["env"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|e| e["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("env {name} missing"))
}

#[test]
fn kubernetes_deployment_outlasts_the_drain_and_probes_health() {
    let d = yaml("deploy/kubernetes/deployment.yaml");
    assert_eq!(d["kind"].as_str(), Some("Deployment"));
    assert_eq!(d["spec"]["replicas"].as_u64(), Some(2));
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];

    let timeout =
        humantime::parse_duration(env_of(c, "SHUTDOWN_TIMEOUT")["value"].as_str().unwrap())
            .unwrap();
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap());
    assert!(
        grace > timeout + KILL_GRACE,
        "terminationGracePeriodSeconds {grace:?} must exceed SHUTDOWN_TIMEOUT {timeout:?} + 3 s"
    );

    let port = c["ports"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|p| p["containerPort"].as_u64() == Some(3001))
        .expect("container port 3001");
    for probe in ["livenessProbe", "readinessProbe"] {
        let get = &c[probe]["httpGet"];
        assert_eq!(get["path"].as_str(), Some("/health"), "{probe}");
        assert!(
            get["port"] == port["name"] || get["port"].as_u64() == Some(3001),
            "{probe} must hit port 3001"
        );
    }

    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());

    // Secrets come from the Secret, never inline.
    let secret = yaml("deploy/kubernetes/secret.yaml");
    for key in ["REDIS_URL", "API_TOKEN"] {
        assert_eq!(
            env_of(c, key)["valueFrom"]["secretKeyRef"]["name"],
            secret["metadata"]["name"],
            "{key}"
        );
        assert!(secret["stringData"][key].is_string(), "{key} in the Secret");
    }

    let pdb = yaml("deploy/kubernetes/pdb.yaml");
    assert_eq!(pdb["kind"].as_str(), Some("PodDisruptionBudget"));
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        d["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn kubernetes_configmap_is_a_config_and_crontab_cronq_accepts() {
    let cm = yaml("deploy/kubernetes/configmap.yaml");
    let d = yaml("deploy/kubernetes/deployment.yaml");
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let mount = c["volumeMounts"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str() == Some("config"))
        .unwrap()["mountPath"]
        .as_str()
        .unwrap();
    // The env vars point at the ConfigMap's keys under its mount.
    for (var, key) in [("CRONTAB", "crontab"), ("WORKER_CONFIG", "worker.toml")] {
        assert_eq!(
            env_of(c, var)["value"].as_str(),
            Some(format!("{mount}/{key}").as_str())
        );
    }

    let dir = TempDir::new("configmap");
    dir.write("crontab", cm["data"]["crontab"].as_str().unwrap());
    dir.write("worker.toml", cm["data"]["worker.toml"].as_str().unwrap());
    let (code, out, err) = run_worker(
        &["--config", "worker.toml", "--test-crontab", "crontab"],
        &[],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("entries valid"), "{out}");
}

#[test]
fn systemd_unit_notifies_and_outlasts_the_drain() {
    let unit = read("deploy/systemd/cronq.service");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    let one = |key: &str| {
        values(key)
            .pop()
            .unwrap_or_else(|| panic!("{key}= missing"))
    };
    assert_eq!(one("Type"), "notify");
    assert_eq!(one("KillMode"), "mixed");
    assert_eq!(one("NoNewPrivileges"), "yes");
    assert_eq!(one("ProtectSystem"), "strict");
    let stop = humantime::parse_duration(&one("TimeoutStopSec")).unwrap();
    assert!(
        stop > DRAIN,
        "TimeoutStopSec {stop:?} must exceed {DRAIN:?}"
    );
    let env = values("Environment").join(" ");
    assert!(env.contains("SHUTDOWN_TIMEOUT=25s"), "{env}");
    // The embedded store's folder must be writable under ProtectSystem=strict.
    let data = env
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("CRONQ_DATA="))
        .expect("CRONQ_DATA set");
    let folder = std::path::Path::new(data).parent().unwrap();
    assert!(
        values("ReadWritePaths")
            .iter()
            .any(|p| folder.starts_with(p)),
        "ReadWritePaths must cover {folder:?}"
    );
}

#[test]
fn release_workflow_builds_both_architectures_on_version_tags() {
    let wf = yaml(".github/workflows/release.yml");
    let tags = &wf["on"]["push"]["tags"];
    assert_eq!(tags[0].as_str(), Some("v*"));
    let arches: Vec<&str> = wf["jobs"]["binaries"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|m| m["arch"].as_str())
        .collect();
    assert_eq!(arches, ["x86_64", "aarch64"]);
    let text = read(".github/workflows/release.yml");
    for needle in [
        "unknown-linux-musl",
        "sha256sum",
        "linux/amd64",
        "linux/arm64",
        "value=latest",
        "file: Dockerfile.worker",
    ] {
        assert!(text.contains(needle), "release.yml lacks {needle}");
    }
    let ci = read(".github/workflows/ci.yml");
    assert!(
        ci.contains("run: ./scripts/test.sh"),
        "ci.yml runs the test command"
    );
}
