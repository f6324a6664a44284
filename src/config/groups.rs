//! `[queues.NAME] group_by`, `group_concurrency`, `group_rate`: the checks of a queue's fair
//! groups (issue 30 point 3; the policy itself is `queue/groups.rs`).

use std::num::NonZeroU32;

use super::raw::RawQueue;
use super::Error;
use crate::queue::groups::{parse_group_by, parse_group_rate, GroupPolicy};
use crate::queue::Layout;

/// Most running jobs one group may be allowed (a cap above any pool's concurrency is no cap).
const MAX_GROUP_CONCURRENCY: u32 = 10_000;

/// The validated group policy of queue `q` (on `layout`); `None` when it sets no limit.
/// `place(key)` names a key of the queue's table (`FILE:LINE: [queues.NAME] key`).
pub(super) fn policy(
    q: &RawQueue,
    layout: Layout,
    place: &dyn Fn(&str) -> String,
) -> Result<Option<GroupPolicy>, Error> {
    let invalid = |key: &str, message: String| Error::Invalid {
        place: place(key),
        message,
    };
    let by = optional(&q.group_by, parse_group_by).map_err(|m| invalid("group_by", m))?;
    let concurrency = match q.group_concurrency {
        None => None,
        Some(n) if (1..=MAX_GROUP_CONCURRENCY).contains(&n) => NonZeroU32::new(n),
        Some(n) => {
            return Err(invalid(
                "group_concurrency",
                format!(
                    "{n} is out of range: use a number of running jobs per group from 1 to \
                     {MAX_GROUP_CONCURRENCY}, e.g. group_concurrency = 2"
                ),
            ))
        }
    };
    let rate = optional(&q.group_rate, parse_group_rate).map_err(|m| invalid("group_rate", m))?;
    let policy = GroupPolicy {
        by,
        concurrency,
        rate,
    };
    if !policy.limits() {
        if policy.by.is_some() {
            return Err(invalid(
                "group_by",
                "groups jobs but sets no limit: add group_concurrency = N and/or \
                 group_rate = \"N/s\" to [queues.NAME], or remove group_by"
                    .into(),
            ));
        }
        return Ok(None);
    }
    if layout == Layout::Bull {
        let key = if q.group_concurrency.is_some() {
            "group_concurrency"
        } else {
            "group_rate"
        };
        return Err(invalid(
            key,
            "groups are not available on the Bull 3/4 layout (layout = \"bull\"): run the \
             queue on the BullMQ layout or the embedded store, or remove the group keys"
                .into(),
        ));
    }
    Ok(Some(policy))
}

/// An optional key's text through `parse`; `None` when the key is absent.
fn optional<T>(
    value: &Option<String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    value.as_deref().map(parse).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(q: RawQueue, layout: Layout) -> Result<Option<GroupPolicy>, String> {
        policy(&q, layout, &|k| format!("worker.toml:7: [queues.q] {k}")).map_err(|e| e.to_string())
    }

    #[test]
    fn groups_validate_and_errors_name_the_key_and_the_fix() {
        let ok = RawQueue {
            group_by: Some("data.tenant".into()),
            group_concurrency: Some(2),
            group_rate: Some("10/s".into()),
            ..RawQueue::default()
        };
        let p = check(ok.clone(), Layout::BullMq).unwrap().unwrap();
        assert_eq!(p.concurrency.map(|c| c.get()), Some(2));
        assert_eq!(p.rate.map(|r| r.max.get()), Some(10));
        assert_eq!(check(RawQueue::default(), Layout::BullMq).unwrap(), None);

        // (what the table changes from `ok`, its layout, words the error must carry): each
        // refusal names its key and the way out.
        type Refusal = (fn(&mut RawQueue), Layout, &'static [&'static str]);
        let refusals: [Refusal; 5] = [
            (
                |q| q.group_by = Some("tenant".into()),
                Layout::BullMq,
                &["worker.toml:7: [queues.q] group_by", "data.tenant"],
            ),
            (
                |q| q.group_concurrency = Some(0),
                Layout::BullMq,
                &["group_concurrency", "from 1"],
            ),
            (
                |q| q.group_rate = Some("10 per second".into()),
                Layout::BullMq,
                &["group_rate"],
            ),
            (
                |q| (q.group_concurrency, q.group_rate) = (None, None),
                Layout::BullMq,
                &["sets no limit"],
            ),
            (
                |_| {},
                Layout::Bull,
                &["not available on the Bull 3/4 layout"],
            ),
        ];
        for (change, layout, words) in refusals {
            let mut bad = ok.clone();
            change(&mut bad);
            let e = check(bad, layout).unwrap_err();
            assert!(
                words.iter().all(|w| e.contains(w)),
                "{e} lacks one of {words:?}"
            );
        }
    }
}
