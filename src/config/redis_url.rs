//! Building the Redis URL from its layers: `url`, or `host`/`port`/`username`/`password`/`db`/
//! `tls`. A password given on its own (the usual way to keep it out of a URL in a manifest) is
//! put into a URL that has none.

use super::raw::RawRedis;
use crate::rules::percent::encode;

/// The URL to connect to, or a message saying what is wrong.
pub(super) fn build_url(r: &RawRedis) -> Result<String, String> {
    let tls = r.tls.unwrap_or(false);
    let url = match (&r.url, &r.host) {
        (Some(url), _) => with_db(&with_credentials(&lift_query_credentials(url)?, r)?, r.db)?,
        (None, host) => {
            let scheme = if tls { "rediss" } else { "redis" };
            let host = host.as_deref().unwrap_or("127.0.0.1");
            let port = r.port.unwrap_or(6379);
            let auth = userinfo(r.username.as_deref(), r.password.as_deref());
            let host = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            format!("{scheme}://{auth}{host}:{port}/{}", r.db.unwrap_or(0))
        }
    };
    let scheme = url.split_once("://").map(|(s, _)| s).unwrap_or("");
    let url = match scheme {
        "redis" if tls => url.replacen("redis://", "rediss://", 1),
        "redis" | "rediss" => url,
        _ => {
            return Err(format!(
                "Redis URL {} must start with redis:// or rediss:// (TLS)",
                crate::queue::redact_url(&url)
            ))
        }
    };
    check_parts(&url)?;
    Ok(url)
}

/// Refuses at start what the client would refuse at every connect ("Redis URL did not parse",
/// retried forever): a port that is not a number, an empty host, a database that is not one.
fn check_parts(url: &str) -> Result<(), String> {
    let shown = crate::queue::redact_url(url);
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (host, tail) = v6.split_once(']').ok_or_else(|| {
                format!("Redis URL {shown}: the IPv6 host has no closing ']': write [::1]:6379")
            })?;
            (host, tail.strip_prefix(':'))
        }
        None => match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(format!(
            "Redis URL {shown} has no host: write redis://host:6379/0 (REDIS_URL)"
        ));
    }
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(p) if p > 0) {
            return Err(format!(
                "Redis URL {shown}: port {port:?} is not a number from 1 to 65535 (REDIS_URL)"
            ));
        }
    }
    let path = &rest[authority_end..];
    let db = path
        .strip_prefix('/')
        .map(|p| p.split(['?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!(
            "Redis URL {shown}: database {db:?} is not a number: write redis://host:6379/0 (REDIS_URL)"
        ));
    }
    Ok(())
}

/// ioredis reads `?password=`, `?username=` and `?db=` from a URL's query when the URL has no
/// user-info (or path) of its own; the Redis client we use ignores them, so a URL written for
/// ioredis connected without its password ("NOAUTH") and printed it in clear. They are moved
/// into the URL's user-info and path here, where the client reads them and the redaction of
/// every printed URL hides them. User-info that is already there wins, as in ioredis.
fn lift_query_credentials(url: &str) -> Result<String, String> {
    let wanted = |k: &str| matches!(k, "password" | "username" | "db");
    let Some((head, query)) = url.split_once('?') else {
        return Ok(url.to_string());
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !pairs.iter().any(|(k, _)| wanted(k)) {
        return Ok(url.to_string());
    }
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let (scheme, rest) = head
        .split_once("://")
        .ok_or_else(|| "Redis URL must look like redis://host:6379/0".to_string())?;
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let authority = if authority.contains('@') {
        authority.to_string()
    } else {
        let password = get("password").filter(|p| !p.is_empty());
        let user = get("username").filter(|u| !u.is_empty());
        format!("{}{authority}", userinfo(user, password))
    };
    let path = match (path.trim_start_matches('/'), get("db")) {
        ("", Some(db)) => {
            if db.parse::<u32>().is_err() {
                return Err(format!(
                    "Redis URL {}: ?db={db:?} is not a number: write redis://host:6379/0 (REDIS_URL)",
                    crate::queue::redact_url(url)
                ));
            }
            format!("/{db}")
        }
        _ => path.to_string(),
    };
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !wanted(k))
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let mut out = format!("{scheme}://{authority}{path}");
    if !kept.is_empty() {
        out.push('?');
        out.push_str(&kept.join("&"));
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    Ok(out)
}

/// `REDIS_DB` (or `db`) next to a URL: filled in when the URL names no database, as a separate
/// password is; a URL naming another database is a conflict, refused rather than one of the
/// two silently ignored.
fn with_db(url: &str, db: Option<u8>) -> Result<String, String> {
    let Some(db) = db else {
        return Ok(url.to_string());
    };
    let Some((scheme, rest)) = url.split_once("://") else {
        return Ok(url.to_string());
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let path = tail.strip_prefix('/').unwrap_or(tail);
    let query_at = path.find(['?', '#']).unwrap_or(path.len());
    let (named, query) = path.split_at(query_at);
    let query = if tail.starts_with('/') { query } else { tail };
    match named {
        "" => Ok(format!("{scheme}://{authority}/{db}{query}")),
        n if n.parse::<u8>() == Ok(db) => Ok(url.to_string()),
        n => Err(format!(
            "Redis URL {} names database {n:?} but REDIS_DB (or [redis] db) is {db}: keep one \
             of them",
            crate::queue::redact_url(url)
        )),
    }
}

fn with_credentials(url: &str, r: &RawRedis) -> Result<String, String> {
    if r.password.is_none() && r.username.is_none() {
        return Ok(url.to_string());
    }
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "Redis URL must look like redis://host:6379/0".to_string())?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if rest[..authority_end].contains('@') {
        // The URL carries its own credentials; they win over the separate fields.
        return Ok(url.to_string());
    }
    let auth = userinfo(r.username.as_deref(), r.password.as_deref());
    Ok(format!("{scheme}://{auth}{rest}"))
}

fn userinfo(user: Option<&str>, password: Option<&str>) -> String {
    match (user, password) {
        (None, None) => String::new(),
        (Some(u), None) => format!("{}@", encode(u)),
        (u, Some(p)) => format!("{}:{}@", encode(u.unwrap_or("")), encode(p)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw() -> RawRedis {
        RawRedis::default()
    }

    /// `[redis] url = URL`, nothing else.
    fn with_url(url: &str) -> RawRedis {
        RawRedis {
            url: Some(url.into()),
            ..raw()
        }
    }

    /// Asserts that `url` is refused with a message that `says` what is wrong and never
    /// repeats `secret` (the URL's password or key).
    fn assert_refused(url: &str, says: &str, secret: &str) {
        let err = build_url(&with_url(url)).unwrap_err();
        assert!(err.contains(says), "{url}: {err}");
        assert!(!err.contains(secret), "{url}: {err}");
    }

    #[test]
    fn default_is_local_redis() {
        assert_eq!(build_url(&raw()).unwrap(), "redis://127.0.0.1:6379/0");
    }

    #[test]
    fn parts_build_a_url_with_encoded_credentials() {
        let r = RawRedis {
            host: Some("redis.internal".into()),
            port: Some(6380),
            username: Some("app".into()),
            password: Some("p@ss:w/rd".into()),
            db: Some(2),
            tls: Some(true),
            ..raw()
        };
        assert_eq!(
            build_url(&r).unwrap(),
            "rediss://app:p%40ss%3Aw%2Frd@redis.internal:6380/2"
        );
    }

    #[test]
    fn a_separate_password_goes_into_a_url_without_one() {
        let r = RawRedis {
            url: Some("redis://cache:6379/1".into()),
            password: Some("s3cret".into()),
            ..raw()
        };
        assert_eq!(build_url(&r).unwrap(), "redis://:s3cret@cache:6379/1");
        let r = RawRedis {
            url: Some("redis://u:own@cache:6379".into()),
            password: Some("other".into()),
            ..raw()
        };
        assert_eq!(build_url(&r).unwrap(), "redis://u:own@cache:6379");
    }

    #[test]
    fn query_credentials_as_ioredis_reads_them_move_into_the_url() {
        let cases = [
            (
                "redis://h:6379/0?password=qqq%40SECRET",
                "redis://:qqq%40SECRET@h:6379/0",
            ),
            (
                "redis://h?username=app&password=pw&db=3&family=6",
                "redis://app:pw@h/3?family=6",
            ),
            // The URL's own user-info wins; the query copy is dropped all the same.
            ("redis://:own@h/1?password=other", "redis://:own@h/1"),
            ("redis://h/2?family=6", "redis://h/2?family=6"),
        ];
        for (input, want) in cases {
            assert_eq!(build_url(&with_url(input)).unwrap(), want, "{input}");
        }
        assert_refused(
            "redis://h?db=x&password=qqqSECRET",
            "?db=\"x\"",
            "qqqSECRET",
        );
    }

    #[test]
    fn a_separate_db_fills_a_url_without_one_and_a_conflict_is_refused() {
        let with = |url: &str, db| RawRedis {
            url: Some(url.into()),
            db: Some(db),
            ..raw()
        };
        for (url, want) in [
            ("redis://cache:6379", "redis://cache:6379/3"),
            ("redis://cache:6379/?x=1", "redis://cache:6379/3?x=1"),
            ("redis://cache?x=1", "redis://cache/3?x=1"),
            ("redis://cache:6379/3", "redis://cache:6379/3"),
        ] {
            assert_eq!(build_url(&with(url, 3)).unwrap(), want, "{url}");
        }
        let err = build_url(&with("redis://:secret@cache:6379/0", 3)).unwrap_err();
        assert!(err.contains("REDIS_DB") && !err.contains("secret"), "{err}");
    }

    #[test]
    fn tls_flag_upgrades_scheme_and_bad_scheme_is_refused() {
        let r = RawRedis {
            url: Some("redis://h:1".into()),
            tls: Some(true),
            ..raw()
        };
        assert_eq!(build_url(&r).unwrap(), "rediss://h:1");
        assert_refused("http://u:secret@h", "redis://", "secret");
    }

    #[test]
    fn a_url_the_client_cannot_parse_is_refused_naming_the_part() {
        let bad = [
            (
                "redis://host:notaport/0",
                "port \"notaport\" is not a number",
            ),
            ("redis://u:secret@host:70000", "port \"70000\""),
            ("redis://:secret@:6379/0", "has no host"),
            ("redis://host:6379/zero", "database \"zero\""),
            ("redis://[::1:6379", "no closing ']'"),
        ];
        for (url, want) in bad {
            assert_refused(url, want, "secret");
        }
        for url in [
            "redis://h",
            "redis://[::1]:6379/2",
            "rediss://u:p@h:6380/0?x=1",
        ] {
            assert!(build_url(&with_url(url)).is_ok(), "{url}");
        }
    }
}
