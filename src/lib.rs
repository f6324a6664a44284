//! cronq — one binary, `worker`, that replaces a Supercronic + BullMQ (Node) worker container.
//!
//! # Layout
//!
//! ```text
//! crontab / [[schedule]] ──► cron::scheduler ──┐                       ┌──► worker::handler (exec | http | builtin)
//! worker enqueue (CLI)  ───────────────────────┼──► queue (BullMQ layout in Redis) ──► worker::pool ──┤
//! BullMQ Queue.add (Node) ─────────────────────┘                                      └──► result / error
//! ```
//!
//! - [`cli`]: clap flags and subcommands, Supercronic's single-dash spellings mapped onto them. [`config`]: raw TOML → validated [`config::Config`],
//!   layered file < env < flags.
//! - [`cron`]: the crontab dialect (pure), the plan of entries, the scheduler (ticks → jobs with
//!   deterministic ids `cron-<entry>-<unix-secs>`).
//! - [`queue`]: the only room that knows the engine (`bullmq-official`): connection, add,
//!   consume, inspect, key names.
//! - [`worker`]: one pool per queue; dispatch by job name to a handler; timeouts; drain.
//! - [`http`]: `router(state)`; `/health`.
//! - [`status`]: shared daemon state read by `/health`; [`metrics`]: run counters for `/metrics`.
//! - [`app`]: wiring and shutdown order; the only place that reads env, binds, handles signals
//!   ([`shutdown`], [`reaper`] for PID 1). [`cmd`]: one-shot subcommands.
//! - [`telemetry`]: the log subscriber (text with escaped fields, or JSON) and Sentry reports.
//!   Job output reaches the log through `worker::handler::echo`.
//!
//! Dependencies run one way: `cron → queue ← worker`; `http` reads `status`; only `app` knows
//! them all.

pub mod app;
pub mod backoff;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod cron;
pub mod http;
pub mod metrics;
pub mod queue;
pub mod reaper;
pub mod shutdown;
pub mod status;
pub mod telemetry;
pub mod worker;
