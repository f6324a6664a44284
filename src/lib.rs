//! cronq — one binary, `worker`, that replaces a Supercronic + BullMQ (Node) worker container.
//!
//! # Layout
//!
//! ```text
//! crontab / [[schedule]] ──► cron::scheduler ──┐                        ┌──► worker::handler
//! worker enqueue (CLI)  ───────────────────────┤                        │    (exec | http | builtin)
//! POST /api/queues/{q}/jobs ───────────────────┼──► queue::Store ──► worker::pool ─┤
//! BullMQ Queue.add (Node) ─────────────────────┘   (redis | embedded)   └──► result / error
//!                        store events ──► http (SSE, /metrics, dashboard)
//! ```
//!
//! - [`cli`]: clap flags and subcommands, Supercronic's single-dash spellings mapped onto them.
//!   [`config`]: raw TOML → validated [`config::Config`], layered file < env < flags.
//! - [`crontab`]: the crontab dialect (lines, fields, schedules, zones), pure; read by the
//!   config, the cron room and the Bull layout's repeatable jobs.
//! - [`cron`]: the plan of entries, the scheduler (ticks → jobs with deterministic ids
//!   `cron-<entry>-<unix-secs>`), a run's late window.
//! - [`queue`]: the store contract by role (`queue::contract`: produce, consume, inspect,
//!   browse, admin, cancels, claims, events, bundled as one `Backend`), the [`queue::Store`]
//!   facade, cancelling a job from anywhere (`queue::cancel`) and dead letters
//!   (`queue::dead_letter`), fair groups (`queue::groups`), [`queue::JobState`], job specs and their one validation (the only maker of a
//!   [`queue::ValidJob`]); `queue::redis` is BullMQ's layout over the engine
//!   (`bullmq-official`, named nowhere else) and the per-queue choice of layout
//!   (`redis/layouts.rs`), `queue::bull` Bull 3/4's layout (our own Lua, pub/sub events, Redis
//!   reached only through its `Link`), `queue::embedded` the SQLite store (no Redis).
//! - [`worker`]: one pool per queue; dispatch by job name to a handler (or the queue's `*`
//!   catch-all); routes, reload, cancel routing, vouching for the crontab entries held here
//!   (others' are handed back), crontab commands run here while the store is down; the job
//!   environment without the daemon's secrets, and their values redacted in job output;
//!   timeouts; drain.
//! - [`http`]: `router(state)`: `/health`, `/metrics`, the API (jobs, queues, schedules, SSE),
//!   the dashboard.
//! - [`programs`]: supervised long-running programs (`[programs.NAME]`, Supervisor's states,
//!   restarts, log files); started and stopped by `app`, read by `http` through `status`.
//! - [`status`]: shared daemon state read by `/health`; [`metrics`]: run counters for `/metrics`.
//! - [`app`]: wiring — a start phase and a drain phase; the only place that reads env, binds,
//!   handles signals ([`shutdown`], [`reaper`] for PID 1). [`cmd`]: one-shot subcommands (never
//!   import `app`). [`backoff`]: the one doubling retry delay.
//! - [`rules`]: the text rules shared at the bottom: queue names, hidden characters, secret URL
//!   parameters, cutting text to a byte budget on a character boundary, percent-encoding URL parts.
//! - [`telemetry`]: the log subscriber (text with escaped fields, or JSON) and Sentry reports.
//!   Job output reaches the log through `worker::handler::echo`. OpenTelemetry spans
//!   (`telemetry::otel`) when `app` installs them from the `OTEL_*` variables; each pool's
//!   processor is then wrapped by `worker::traced`.
//!
//! Dependencies run one way: `cron → queue ← worker`; `http` reads `queue` and `status`; only
//! `app` knows them all. ARCHITECTURE.md says this in prose, with where to add a store or a
//! handler kind.

pub mod app;
pub mod backoff;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod cron;
pub mod crontab;
pub mod http;
pub mod metrics;
pub mod programs;
pub mod queue;
pub mod reaper;
pub mod rules;
#[cfg(test)]
mod scratch;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod worker;
