//! Supervised long-running programs (`[programs.NAME]`, issue 28): what Supervisor did beside
//! the cron daemon, in the same PID 1. A program is not scheduled: it is started, kept running
//! by a restart policy, and stopped at once on SIGTERM (it is not drained like a job).
//!
//! # Layout
//!
//! - [`state`]: Supervisor's states (STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED,
//!   FATAL) and one instance's status snapshot.
//! - `instance`: one process's state machine, one task each, commanded over a channel.
//! - `child`: spawning a program in its own process group (through the exec handlers'
//!   launcher, so it dies with the daemon and PID 1 leaves its exit status to us), stopping it.
//! - `output`: its stdout/stderr lines to the daemon's log, a log file, and the tail buffer.
//! - [`logfile`]: a log file rotated at a size, as Supervisor rotates them.
//! - [`tail`]: the last lines of each instance's output, for `worker tail` and the dashboard.
//! - [`supervisor`]: owns every instance; start/stop/restart by name, reload (start new, stop
//!   removed, restart changed only), stop all at shutdown. [`Programs`] is its handle.
//!
//! Only `app` starts it: [`Supervisor::run`] takes its stop token; the HTTP room reads the
//! handle through `Status`.

mod child;
mod instance;
pub mod logfile;
mod output;
pub mod state;
pub mod supervisor;
pub mod tail;

pub use state::{InstanceStatus, ProgramState};
pub use supervisor::{Action, ControlError, Programs, Supervisor};
