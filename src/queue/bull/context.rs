//! [`Loop`]: what a Bull queue's fetch loop, its job tasks, its delay timer and its repeat
//! scheduling share. Its own file so that `consumer.rs` (which starts them) and `delay.rs`,
//! `finish.rs`, `repeat.rs` (which it calls) all depend on it and never on each other's back.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::{BullStore, Keys};
use crate::queue::consumer::{ConsumerOptions, LoopBeat, Processor};

/// What the fetch loop and its job tasks share; built by `consumer.rs` per consumed queue.
pub(super) struct Loop {
    pub(super) store: BullStore,
    pub(super) queue: String,
    pub(super) keys: Keys,
    pub(super) opts: ConsumerOptions,
    pub(super) processor: Arc<dyn Processor>,
    pub(super) beat: Arc<LoopBeat>,
    /// One permit per running job; the fetch loop holds one while it takes, each job task
    /// holds its own until it finishes.
    pub(super) slots: Arc<Semaphore>,
    /// Every job task; `BullConsumer::close` waits on it.
    pub(super) jobs: TaskTracker,
}
