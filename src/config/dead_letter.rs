//! `[queues.NAME] dead_letter = "OTHER"`: the checks of the target (issue 30 point 2).

/// Checks `target` as queue `queue`'s dead-letter queue among the `declared` queues; returns it.
/// It must be declared (`[queues.OTHER]`, a table without handlers when cronq does not consume
/// it): a typo would otherwise send every last failure to a queue nobody reads.
pub(super) fn target(queue: &str, target: &str, declared: &[String]) -> Result<String, String> {
    crate::rules::validate_queue_name(target)?;
    if target == queue {
        return Err(format!(
            "{queue:?} names itself as its dead-letter queue: a job failing there would be added \
             back to the queue it failed in; name another queue, e.g. \"{queue}-dead\""
        ));
    }
    if !declared.iter().any(|d| d == target) {
        return Err(format!(
            "unknown queue {target:?}: declare it with a [queues.{target}] table (without \
             handlers when Node or nobody consumes it)"
        ));
    }
    Ok(target.to_string())
}

impl super::Config {
    /// The queues whose `dead_letter` is `dlq`: the origins a dead letter of `dlq` may be sent
    /// back to.
    pub fn dead_letter_sources(&self, dlq: &str) -> Vec<&str> {
        self.queues
            .iter()
            .filter(|(_, q)| q.dead_letter.as_deref() == Some(dlq))
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_declared_and_not_the_queue_itself() {
        let declared = vec!["email".to_string(), "email-dead".to_string()];
        assert_eq!(
            target("email", "email-dead", &declared).unwrap(),
            "email-dead"
        );
        let own = target("email", "email", &declared).unwrap_err();
        assert!(own.contains("names itself"), "{own}");
        let typo = target("email", "emial-dead", &declared).unwrap_err();
        assert!(
            typo.contains("declare it with a [queues.emial-dead] table"),
            "{typo}"
        );
        assert!(target("email", "a b", &declared).is_err());
    }
}
