//! `[redis] sentinels` / `cluster_nodes`: which arrangement of servers the URL's credentials
//! apply to, and the Cluster rule that a prefix must carry a `{hash tag}`.

use super::raw::RawRedis;
use crate::queue::Topology;

/// The topology, or a message saying what is wrong and which key to change.
pub(super) fn build(r: &RawRedis, prefix: &str) -> Result<Topology, (&'static str, String)> {
    let sentinels = nodes(r.sentinels.as_deref(), "sentinels", "REDIS_SENTINELS")?;
    let cluster = nodes(
        r.cluster_nodes.as_deref(),
        "cluster_nodes",
        "REDIS_CLUSTER_NODES",
    )?;
    match (sentinels, cluster) {
        (Some(_), Some(_)) => Err((
            "sentinels",
            "set either sentinels (REDIS_SENTINELS) or cluster_nodes (REDIS_CLUSTER_NODES), \
             not both: Sentinel watches one primary, a Cluster has many"
                .into(),
        )),
        (Some(sentinels), None) => {
            // Managed Sentinel setups that encrypt the data connection mostly encrypt the
            // sentinels too, so they follow the data connection unless told otherwise.
            let data_tls =
                r.tls == Some(true) || r.url.as_deref().is_some_and(|u| u.starts_with("rediss:"));
            Ok(Topology::Sentinel {
                sentinels,
                name: r.sentinel_name.clone().unwrap_or_else(|| "mymaster".into()),
                password: r.sentinel_password.clone(),
                tls: r.sentinel_tls.unwrap_or(data_tls),
            })
        }
        (None, Some(nodes)) => {
            if !has_hash_tag(prefix) {
                return Err((
                    "prefix",
                    format!(
                        "prefix {prefix:?} has no {{hash tag}}: on a Redis Cluster all of a queue's \
                         keys must hash to one slot, because BullMQ's scripts touch several of them \
                         at once; write e.g. prefix = \"{{{prefix}}}\" (REDIS_PREFIX), and give queues \
                         joined by flows the same tag"
                    ),
                ));
            }
            Ok(Topology::Cluster { nodes })
        }
        (None, None) => Ok(Topology::Single),
    }
}

/// Redis Cluster's rule: a `{…}` with at least one character inside; only the first counts.
fn has_hash_tag(prefix: &str) -> bool {
    prefix
        .find('{')
        .and_then(|open| prefix[open + 1..].find('}'))
        .is_some_and(|len| len > 0)
}

fn nodes(
    list: Option<&[String]>,
    key: &'static str,
    env: &str,
) -> Result<Option<Vec<String>>, (&'static str, String)> {
    let Some(list) = list else { return Ok(None) };
    let list: Vec<String> = list.iter().filter(|n| !n.is_empty()).cloned().collect();
    if list.is_empty() {
        return Err((
            key,
            format!("no nodes given: write host:port,host:port ({env})"),
        ));
    }
    for node in &list {
        let ok = node
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && matches!(p.parse::<u16>(), Ok(p) if p > 0));
        if !ok {
            return Err((key, format!("{node:?} is not host:port ({env})")));
        }
    }
    Ok(Some(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_tags_follow_the_cluster_rule() {
        for (prefix, want) in [
            ("{bull}", true),
            ("app:{q}", true),
            ("bull", false),
            ("{}bull", false),
            ("bull}{", false),
        ] {
            assert_eq!(has_hash_tag(prefix), want, "{prefix}");
        }
    }

    #[test]
    fn sentinel_and_cluster_settings_are_checked() {
        let r = RawRedis {
            sentinels: Some(vec!["a:1".into(), "b:2".into()]),
            ..RawRedis::default()
        };
        assert!(matches!(
            build(&r, "bull"),
            Ok(Topology::Sentinel { name, tls: false, .. }) if name == "mymaster"
        ));
        // The sentinels follow the data connection's TLS unless told otherwise.
        let tls = RawRedis {
            url: Some("rediss://h:1".into()),
            ..r.clone()
        };
        assert!(matches!(
            build(&tls, "bull"),
            Ok(Topology::Sentinel { tls: true, .. })
        ));
        let plain_sentinels = RawRedis {
            sentinel_tls: Some(false),
            ..tls
        };
        assert!(matches!(
            build(&plain_sentinels, "bull"),
            Ok(Topology::Sentinel { tls: false, .. })
        ));
        let r = RawRedis {
            cluster_nodes: Some(vec!["a:1".into()]),
            ..RawRedis::default()
        };
        let (key, msg) = build(&r, "bull").unwrap_err();
        assert_eq!(key, "prefix");
        assert!(msg.contains("hash tag"), "{msg}");
        assert!(matches!(build(&r, "{bull}"), Ok(Topology::Cluster { .. })));
        let r = RawRedis {
            cluster_nodes: Some(vec!["a".into()]),
            ..RawRedis::default()
        };
        assert!(build(&r, "{b}").unwrap_err().1.contains("not host:port"));
    }
}
