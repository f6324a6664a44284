//! The worker room: running jobs. A [`pool::WorkerPool`] per queue consumes through the queue
//! room's consumer (the engine renews locks and recovers stalled jobs, BullMQ's own scripts);
//! [`dispatch::Dispatch`] picks the handler by job name and enforces timeouts and the drain
//! deadline; [`handler`] holds exec, http and builtin handlers.

pub mod dispatch;
pub mod handler;
pub mod pool;

pub use dispatch::{Route, RouteTable};
pub use pool::WorkerPool;
