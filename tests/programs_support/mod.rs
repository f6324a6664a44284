//! Shared by the programs suites: the stand-in consumer script, and reading program states
//! from a running daemon's API with deadlines.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::{http_get, http_json, poll, Daemon, TempDir};

/// A stand-in for `php bin/console messenger:consume` / `node consumer.js`: prints a line when
/// it starts (stdout and stderr), writes its shell's PID to `$CTL/pid-$PROCESS_NUM`, loops,
/// exits with the code written into `$CTL/exit-$PROCESS_NUM` when that file appears, and on
/// TERM prints `got TERM` and exits 0. With `DEAF=1` it ignores TERM (only KILL ends it).
pub const CONSUMER: &str = r#"#!/bin/sh
if [ "$DEAF" = 1 ]; then trap '' TERM; else trap 'echo "got TERM $PROCESS_NUM"; exit 0' TERM; fi
echo $$ > "$CTL/pid-$PROCESS_NUM"
echo "consumer $PROCESS_NUM started"
echo "consumer $PROCESS_NUM says hello on stderr" >&2
while true; do
  if [ -f "$CTL/exit-$PROCESS_NUM" ]; then
    code=$(cat "$CTL/exit-$PROCESS_NUM"); rm -f "$CTL/exit-$PROCESS_NUM"
    echo "exiting with $code"; exit "$code"
  fi
  sleep 0.05
done
"#;

/// A scratch directory holding the consumer script; `CTL` for its control files.
pub struct Consumer {
    pub dir: TempDir,
    pub script: PathBuf,
}

impl Consumer {
    pub fn new() -> Consumer {
        let dir = TempDir::new("programs-ctl");
        let script = dir.write("consumer.sh", CONSUMER);
        Consumer { dir, script }
    }

    pub fn ctl(&self) -> &Path {
        self.dir.path()
    }

    /// `command = …` running the script (by `sh`, so no exec bit is needed).
    pub fn command(&self) -> String {
        format!("sh {}", self.script.display())
    }

    /// Tells instance `num` to exit with `code`.
    pub fn exit(&self, num: u32, code: i32) {
        self.dir.write(&format!("exit-{num}"), &code.to_string());
    }

    /// The PID its shell wrote, once written.
    pub fn pid(&self, num: u32) -> i32 {
        let f = self.ctl().join(format!("pid-{num}"));
        poll(
            Duration::from_secs(10),
            "the consumer to write its pid",
            || std::fs::read_to_string(&f).ok()?.trim().parse().ok(),
        )
    }
}

/// Whether a process is gone (absent, or a zombie nobody has reaped yet: it runs no code).
pub fn gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rfind(')')
            .map(|i| stat[i + 1..].trim_start().starts_with('Z'))
            .unwrap_or(true),
    }
}

pub fn base(d: &Daemon) -> String {
    format!("http://127.0.0.1:{}", d.port)
}

/// `GET /api/programs`'s list; `None` while the daemon does not answer yet.
pub fn try_programs(d: &Daemon) -> Option<Vec<Value>> {
    let (code, body) = http_get(&format!("{}/api/programs", base(d)))?;
    assert_eq!(code, 200, "{body}");
    Some(body["programs"].as_array().cloned().unwrap_or_default())
}

/// `GET /api/programs`'s list.
pub fn programs(d: &Daemon) -> Vec<Value> {
    try_programs(d).expect("the daemon answers")
}

/// One instance's entry.
pub fn instance(d: &Daemon, name: &str) -> Value {
    programs(d)
        .into_iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no instance {name}"))
}

/// Waits until `name` is in `state`; its entry then.
pub fn wait_state(d: &Daemon, name: &str, state: &str, limit: Duration) -> Value {
    poll(limit, &format!("{name} to be {state}"), || {
        try_programs(d)?
            .into_iter()
            .find(|p| p["name"] == name && p["state"] == state)
    })
}

/// `POST /api/programs/{name}/{verb}` → (status, body).
pub fn control(d: &Daemon, name: &str, verb: &str) -> (u16, Value) {
    http_json(
        "POST",
        &format!("{}/api/programs/{name}/{verb}", base(d)),
        None,
        None,
    )
}

/// `GET /api/programs/{name}/tail` lines' texts.
pub fn tail(d: &Daemon, name: &str, stream: &str) -> Vec<String> {
    let url = format!(
        "{}/api/programs/{name}/tail?stream={stream}&lines=100",
        base(d)
    );
    let (code, body) = http_json("GET", &url, None, None);
    assert_eq!(code, 200, "{body}");
    body["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| l["text"].as_str().unwrap_or_default().to_string())
        .collect()
}
