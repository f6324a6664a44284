//! [`Loop`]: what a Bull queue's fetcher, its job tasks, its delay timer and its repeat
//! scheduling share. Its own file so that `consumer.rs` (which starts them) and `delay.rs`,
//! `finish.rs`, `repeat.rs` (which it calls) all depend on it and never on each other's back.

use super::{BullStore, Keys};
use crate::queue::consumer::ConsumerOptions;

/// What the fetcher and its side tasks share; built by `consumer.rs` per consumed queue. The
/// slots, the job tasks and the beat belong to the shared fetch loop (`queue/fetch_loop.rs`).
pub(super) struct Loop {
    pub(super) store: BullStore,
    pub(super) queue: String,
    pub(super) keys: Keys,
    pub(super) opts: ConsumerOptions,
}
