//! [`Link`]: what the Bull layout needs from the Redis it shares with BullMQ's layout, handed
//! to [`super::BullStore::new`] by `redis/` (the only code that knows the engine). Bull asks
//! through this trait and never reaches into the Redis store's fields, so the arrow runs one
//! way: `redis/` knows Bull, Bull knows only this.

use std::future::Future;
use std::pin::Pin;

use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A connection opened for one blocking wait, or why there is none.
pub(crate) type Dedicated<'a> =
    Pin<Box<dyn Future<Output = Result<MultiplexedConnection, String>> + Send + 'a>>;

/// The Redis side of a Bull store.
pub(crate) trait Link: Send + Sync + 'static {
    /// The key prefix (`bull` by default), shared with the BullMQ layout.
    fn prefix(&self) -> &str;
    /// The shared, self-reconnecting connection (a handle: cheap, one per call).
    fn shared(&self) -> Shared;
    /// A connection of its own for a blocking wait (`BLMOVE`); fails on Redis Cluster.
    fn dedicated(&self) -> Dedicated<'_>;
    /// A client to subscribe with; `None` on Redis Cluster (no pub/sub connection here).
    fn subscriber(&self) -> Option<redis::Client>;
}

/// A handle on the shared connection, whatever its kind (single server or Cluster).
pub(crate) struct Shared(pub Box<dyn ConnectionLike + Send>);

impl ConnectionLike for Shared {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        self.0.req_packed_command(cmd)
    }
    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        self.0.req_packed_commands(pipeline, offset, count)
    }
    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
