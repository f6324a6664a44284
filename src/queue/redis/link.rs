//! The Redis store as the Bull layout's [`Link`]: the shared connection, a dedicated one for
//! blocking waits and a client to subscribe with, handed over explicitly so that Bull never
//! names the engine nor reads this store's fields.

use super::RedisStore;
use crate::queue::bull::link::{Dedicated, Link, Shared};

impl Link for RedisStore {
    fn prefix(&self) -> &str {
        &self.inner.prefix
    }
    fn shared(&self) -> Shared {
        Shared(Box::new(self.inner.conn.connection()))
    }
    fn dedicated(&self) -> Dedicated<'_> {
        Box::pin(async move {
            self.inner
                .conn
                .dedicated_connection()
                .await
                .map_err(|e| e.to_string())
        })
    }
    fn subscriber(&self) -> Option<redis::Client> {
        self.inner.conn.try_client().cloned()
    }
}
