//! [`Layout`]: how a queue's keys are laid out in Redis, a per-queue setting. Its own file,
//! below the stores: the config reads it, the Redis routing (`redis/layouts.rs`) picks by it,
//! and the contract's `layout_seen` answers with it.

/// How a queue's keys are laid out in Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// BullMQ (the default): the engine's layout.
    #[default]
    BullMq,
    /// Bull 3/4 (`bull`, `@nestjs/bull`).
    Bull,
}

impl Layout {
    /// Parses the `layout` setting.
    pub fn parse(text: &str) -> Result<Layout, String> {
        match text {
            "bullmq" => Ok(Layout::BullMq),
            "bull" => Ok(Layout::Bull),
            other => Err(format!(
                "layout {other:?} is unknown: use \"bullmq\" (BullMQ producers, the default) or \"bull\" (Bull 3/4 and @nestjs/bull producers)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Layout;

    #[test]
    fn layout_names_parse_and_unknown_ones_say_the_choices() {
        assert_eq!(Layout::parse("bull"), Ok(Layout::Bull));
        assert_eq!(Layout::parse("bullmq"), Ok(Layout::BullMq));
        assert!(Layout::parse("bull3").unwrap_err().contains("\"bull\""));
    }
}
