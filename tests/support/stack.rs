//! One daemon setup shared by the API and store suites: a `worker` daemon on either store,
//! healthy, plus what a CLI run needs to reach the same store, and API calls with the token.

use serde_json::Value;

use super::{http_json, run_worker, Daemon, Redis, TempDir};

/// Which store the daemon runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A private `redis-server`.
    Redis,
    /// The embedded SQLite file (in [`Stack::dir`]).
    Embedded,
}

/// A healthy daemon on one store, and the CLI's way to the same store.
pub struct Stack {
    pub daemon: Daemon,
    /// Keeps the embedded file (and the CLI's config) alive for the test.
    pub dir: TempDir,
    store_env: Vec<(String, String)>,
    redis: Option<Redis>,
    token: Option<String>,
}

impl Stack {
    /// Starts the daemon with `config` and `env` (an `API_TOKEN` there is used by
    /// [`Stack::call`]) and waits until it is healthy.
    pub fn start(kind: StoreKind, config: &str, env: &[(&str, &str)]) -> Stack {
        let dir = TempDir::new("stack");
        let cli_config = dir.write("worker.toml", config);
        let (redis, daemon, store) = match kind {
            StoreKind::Redis => {
                let redis = Redis::start();
                let daemon = Daemon::start(&redis.url(), config, None, env);
                let url = redis.url();
                (Some(redis), daemon, ("REDIS_URL", url))
            }
            StoreKind::Embedded => {
                let db = dir.path().join("cronq.db").display().to_string();
                let mut env = env.to_vec();
                env.push(("CRONQ_DATA", db.as_str()));
                let daemon = Daemon::start_embedded(config, None, &env);
                (None, daemon, ("CRONQ_DATA", db.clone()))
            }
        };
        daemon.wait_healthy();
        let store_env = vec![
            (store.0.to_string(), store.1),
            ("WORKER_CONFIG".into(), cli_config.display().to_string()),
        ];
        let token = env
            .iter()
            .find(|(k, _)| *k == "API_TOKEN")
            .map(|(_, v)| v.to_string());
        Stack {
            daemon,
            dir,
            store_env,
            redis,
            token,
        }
    }

    /// The Redis server (a test on the embedded store has none: it panics).
    pub fn redis(&self) -> &Redis {
        self.redis.as_ref().expect("a Redis stack")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.daemon.port)
    }

    /// An API call with a raw body (sent as JSON) and the token, if any → (status, JSON).
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
        let url = format!("{}{path}", self.base());
        http_json(method, &url, body, self.token.as_deref())
    }

    /// An API call with a JSON body → (status, JSON).
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(method, path, body.map(|b| b.to_string()).as_deref())
    }

    /// `worker ARGS…` on the same store; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let env: Vec<(&str, &str)> = self
            .store_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        run_worker(args, &env, self.dir.path())
    }
}
