//! A handler table: exactly one of `exec`, `http`, `builtin`, `process`, `node`, checked for what would fail at
//! every run, plus its job fields.

use std::time::Duration;

use super::{invalid, job_fields, opt_duration_in, ranges, Source};
use crate::config::raw::RawHandler;
use crate::config::{Builtin, Error, HandlerConfig, HandlerKind, JobDefaults};

pub(super) fn handler(
    h: &RawHandler,
    defaults: &JobDefaults,
    src: &Source,
    table: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<HandlerConfig, Error> {
    let job = job_fields(h, defaults, src, table)?;
    let kinds = [
        h.exec.is_some(),
        h.http.is_some(),
        h.builtin.is_some(),
        h.process.is_some(),
        h.node.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(invalid(
            src.place(table, ""),
            "a handler needs exactly one of exec = \"command\", http = { url = \"…\" }, \
             builtin = \"noop\", process = { command = \"…\" } or node = { file = \"…\" }",
        ));
    }
    let kind = if let Some(p) = &h.process {
        HandlerKind::Process(super::process::shell(p, src, table)?)
    } else if let Some(n) = &h.node {
        HandlerKind::Process(super::process::node(n, src, table, env)?)
    } else if let Some(command) = &h.exec {
        if command.trim().is_empty() {
            return Err(invalid(src.place(table, "exec"), "the command is empty"));
        }
        if let Some((_, problem)) = crate::crontab::text::command_problem(command) {
            return Err(invalid(src.place(table, "exec"), problem));
        }
        HandlerKind::Exec {
            command: command.clone(),
        }
    } else if let Some(http) = &h.http {
        if !(http.url.starts_with("http://") || http.url.starts_with("https://")) {
            return Err(invalid(
                src.place(table, "http"),
                format!("url {:?} must start with http:// or https://", http.url),
            ));
        }
        let method = http
            .method
            .clone()
            .unwrap_or_else(|| "POST".into())
            .to_uppercase();
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
            return Err(invalid(
                src.place(table, "http"),
                format!("method {method:?}: use GET, POST, PUT, PATCH or DELETE"),
            ));
        }
        let timeout =
            opt_duration_in(&http.timeout, || src.place(table, "http"), &ranges::TIMEOUT)?
                .or(job.timeout)
                .unwrap_or(Duration::from_secs(30));
        HandlerKind::Http {
            url: http.url.clone(),
            method,
            timeout,
            headers: http.headers.clone(),
        }
    } else {
        let name = h.builtin.as_deref().unwrap_or_default();
        HandlerKind::Builtin(match name {
            "noop" => Builtin::Noop,
            "echo" => Builtin::Echo,
            "sleep" => Builtin::Sleep,
            "fail" => Builtin::Fail,
            other => {
                return Err(invalid(
                    src.place(table, "builtin"),
                    format!("unknown builtin {other:?}: use noop, echo, sleep or fail"),
                ))
            }
        })
    };
    Ok(HandlerConfig {
        kind,
        job,
        log_output: true,
        pass_env: None,
    })
}
