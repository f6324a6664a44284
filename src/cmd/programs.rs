//! `worker programs|start|stop|restart|tail`: supervisorctl's verbs, talking to the running
//! daemon through its API (`/api/programs…`): programs live in the daemon's process, so unlike
//! the queue operations these need it running. `API_TOKEN` is sent when set.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::Env;
use crate::cli::{Command, DaemonArgs, DaemonUrl};
use crate::rules::percent::encode_name;

/// How often `tail -f` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// The exit code when an instance is not in the state asked for (supervisorctl's 3 for
/// `status` with a process not RUNNING; 1 for a failed start/stop).
const NOT_RUNNING: u8 = 3;

/// Runs one of the program subcommands; `env` looks up `API_TOKEN` and the config's layers.
pub async fn run(cmd: &Command, args: &DaemonArgs, env: Env<'_>) -> anyhow::Result<ExitCode> {
    let daemon = match cmd {
        Command::Programs(a) => &a.daemon,
        Command::Start(t) | Command::Stop(t) | Command::Restart(t) => &t.daemon,
        Command::Tail(t) => &t.daemon,
        _ => unreachable!("only program subcommands are routed here"),
    };
    let client = match Client::new(daemon, args, env)? {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let result = match cmd {
        Command::Programs(a) => status(&client, a.json.json).await,
        Command::Start(t) => control(&client, &t.name, "start").await,
        Command::Stop(t) => control(&client, &t.name, "stop").await,
        Command::Restart(t) => control(&client, &t.name, "restart").await,
        Command::Tail(t) => tail(&client, t).await,
        _ => unreachable!(),
    };
    match result {
        Ok(code) => Ok(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            Ok(ExitCode::from(1))
        }
    }
}

/// The daemon's API, with the token.
struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    fn new(
        daemon: &DaemonUrl,
        args: &DaemonArgs,
        env: Env<'_>,
    ) -> anyhow::Result<Result<Client, ExitCode>> {
        let base = match &daemon.url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => match super::open::load_config(args, env) {
                Ok(c) => c.local_health_url().trim_end_matches("/health").to_string(),
                Err(code) => return Ok(Err(code)),
            },
        };
        let token = env("API_TOKEN")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        // Long enough for a start to settle (the daemon answers within 30 s).
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(40))
            .build()?;
        Ok(Ok(Client { base, token, http }))
    }

    async fn call(&self, method: reqwest::Method, path: &str) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        // Without API_TOKEN, the daemon takes a changing request only with the JSON content
        // type (it keeps other web pages out); set on every call alike.
        let mut req = self
            .http
            .request(method, &url)
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.with_context(|| {
            format!(
                "cannot reach the daemon at {}: is it running? (--url to name it)",
                self.base
            )
        })?;
        let code = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !code.is_success() {
            let msg = body["error"]["message"].as_str().unwrap_or("no message");
            anyhow::bail!("{code}: {msg}");
        }
        Ok(body)
    }
}

/// One status line, as supervisorctl prints it.
fn line(p: &Value) -> String {
    format!(
        "{:<32} {:<9} {}",
        p["name"].as_str().unwrap_or("?"),
        p["state"].as_str().unwrap_or("?"),
        p["description"].as_str().unwrap_or("")
    )
}

async fn status(client: &Client, json: bool) -> anyhow::Result<ExitCode> {
    let body = client.call(reqwest::Method::GET, "/api/programs").await?;
    let list = body["programs"].as_array().cloned().unwrap_or_default();
    if json {
        super::print::print_json(&list);
    } else if list.is_empty() {
        println!("no programs: add [programs.NAME] tables to the config");
    }
    if !json {
        for p in &list {
            println!("{}", line(p));
        }
    }
    let all_running = list.iter().all(|p| p["state"] == "RUNNING");
    Ok(if all_running {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(NOT_RUNNING)
    })
}

async fn control(client: &Client, name: &str, verb: &str) -> anyhow::Result<ExitCode> {
    let path = format!("/api/programs/{}/{verb}", encode_name(name));
    let body = client.call(reqwest::Method::POST, &path).await?;
    let want = if verb == "stop" { "STOPPED" } else { "RUNNING" };
    let mut ok = true;
    for p in body["programs"].as_array().into_iter().flatten() {
        println!("{}", line(p));
        ok &= p["state"] == want;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn tail(client: &Client, t: &crate::cli::TailArgs) -> anyhow::Result<ExitCode> {
    let mut after = 0u64;
    let mut n = t.lines;
    loop {
        let path = format!(
            "/api/programs/{}/tail?stream={}&lines={n}&after={after}",
            encode_name(&t.name),
            t.stream
        );
        let body = client.call(reqwest::Method::GET, &path).await?;
        for l in body["lines"].as_array().into_iter().flatten() {
            println!("{}", l["text"].as_str().unwrap_or(""));
        }
        // Past what exists now, shown or not (`-n 0 -f` prints only what comes next).
        after = after.max(body["newest"].as_u64().unwrap_or(0));
        if !t.follow {
            return Ok(ExitCode::SUCCESS);
        }
        // Following: everything new (up to what the daemon keeps).
        n = crate::programs::tail::KEPT_LINES;
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}
