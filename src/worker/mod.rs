//! The worker room: running jobs. [`start`] connects to the store and starts a
//! [`pool::WorkerPool`] per queue, which consumes through the queue room's consumer (the engine
//! renews locks and recovers stalled jobs, BullMQ's own scripts); [`dispatch::Dispatch`] picks
//! the handler by job name from the [`routes`] tables and enforces timeouts and the drain
//! deadline; [`handler`] holds exec, http and builtin handlers. Three components run beside the
//! pools: [`cancels`] (cancel requests from any daemon), [`claims`] (vouching for the crontab
//! entries this daemon holds) and [`reload`] (new crontab and config).

pub mod cancels;
pub mod claims;
pub mod dispatch;
pub mod handler;
pub mod local;
pub mod local_backlog;
pub mod pool;
pub mod reload;
mod restart;
pub mod routes;
pub mod start;
pub mod summary;
pub mod traced;

pub use dispatch::{Route, RouteTable};
pub use pool::WorkerPool;
