//! The dashboard's public address (`[http] public_url`, env `CRONQ_PUBLIC_URL`), which
//! notifications (the cron room's `notify.rs`) turn into a full link to the entry: the daemon listens on
//! `0.0.0.0:3001` and cannot know the name a reverse proxy or ingress gives it, so the
//! operator says it, as Grafana's `root_url` or Sidekiq Web behind a proxy. Without it the
//! link is the dashboard path alone, `/#/schedules/ID`.
//!
//! Checked when the configuration loads: an absolute `http(s)` URL with a host; a path is kept
//! (a dashboard served under `/cron`), a trailing slash dropped; credentials are refused (the
//! link is posted into chat rooms), and so are a query or fragment (the entry's address is the
//! fragment). Messages never repeat the URL: it may hold a password.

/// Why a public URL was refused; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    /// Not a URL at all, or a relative one.
    #[error("not an absolute URL: write the address people open the dashboard at, e.g. \"https://cron.example.com\"")]
    NotAbsolute,
    /// A scheme other than http or https.
    #[error("the scheme must be http or https, e.g. \"https://cron.example.com\"")]
    Scheme,
    /// A user name or password in it.
    #[error("it holds a user name or password, which notifications would post into chat: remove them (the dashboard has its own API token)")]
    Credentials,
    /// A query or fragment.
    #[error("it has a query or fragment: give the dashboard's base address only (the link adds #/schedules/ID)")]
    QueryOrFragment,
}

/// The validated base address, without a trailing slash.
pub fn parse(text: &str) -> Result<String, PublicUrlError> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).map_err(|_| PublicUrlError::NotAbsolute)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(PublicUrlError::Scheme);
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(PublicUrlError::NotAbsolute);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(PublicUrlError::Credentials);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(PublicUrlError::QueryOrFragment);
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

/// The dashboard's address of `entry`: `BASE/#/schedules/ID`, or `/#/schedules/ID` without a
/// base. The id is percent-encoded (the dashboard decodes it), so no id can leave the fragment.
pub fn entry_link(base: Option<&str>, entry: &str) -> String {
    let id: String = entry
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("{}/#/schedules/{id}", base.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_checked_and_their_trailing_slash_dropped() {
        assert_eq!(
            parse("https://cron.example.com/").unwrap(),
            "https://cron.example.com"
        );
        assert_eq!(
            parse(" http://ops.example.com:8080/cron/ ").unwrap(),
            "http://ops.example.com:8080/cron"
        );
        assert_eq!(
            parse("https://cron.example.com").unwrap(),
            "https://cron.example.com"
        );
        assert_eq!(parse("cron.example.com"), Err(PublicUrlError::NotAbsolute));
        assert_eq!(parse("/cron"), Err(PublicUrlError::NotAbsolute));
        assert_eq!(parse("ftp://cron.example.com"), Err(PublicUrlError::Scheme));
        let creds = parse("https://admin:hunter2@cron.example.com");
        assert_eq!(creds, Err(PublicUrlError::Credentials));
        assert!(!creds.unwrap_err().to_string().contains("hunter2"));
        assert_eq!(
            parse("https://admin@cron.example.com"),
            Err(PublicUrlError::Credentials)
        );
        assert_eq!(
            parse("https://cron.example.com/?a=1"),
            Err(PublicUrlError::QueryOrFragment)
        );
        assert_eq!(
            parse("https://cron.example.com/#x"),
            Err(PublicUrlError::QueryOrFragment)
        );
    }

    #[test]
    fn entry_links_are_full_with_a_base_and_encode_the_id() {
        assert_eq!(
            entry_link(Some("https://cron.example.com"), "backup"),
            "https://cron.example.com/#/schedules/backup"
        );
        assert_eq!(entry_link(None, "backup"), "/#/schedules/backup");
        assert_eq!(
            entry_link(None, "db dump/#x?é"),
            "/#/schedules/db%20dump%2F%23x%3F%C3%A9"
        );
    }

    /// The setting as the daemon loads it: `[http] public_url`, `CRONQ_PUBLIC_URL` over it,
    /// each refused naming its place without repeating a password.
    #[test]
    fn the_file_and_the_environment_set_it_and_errors_name_the_place() {
        let load = |toml: &str, env: &[(&str, &str)]| {
            let p = std::env::temp_dir().join(format!("cronq-public-url-{}.toml", rand_suffix()));
            std::fs::write(&p, toml).unwrap();
            let flags = crate::config::Overrides {
                config: Some(p.clone()),
                ..Default::default()
            };
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let lookup = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let out = crate::config::load_text(&lookup, &flags);
            let _ = std::fs::remove_file(&p);
            out
        };
        let file = "[http]\npublic_url = \"https://cron.example.com/\"\n";
        let c = load(file, &[]).unwrap();
        assert_eq!(c.public_url.as_deref(), Some("https://cron.example.com"));
        let c = load(
            file,
            &[("CRONQ_PUBLIC_URL", "https://ops.example.com/cron/")],
        )
        .unwrap();
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://ops.example.com/cron")
        );
        assert_eq!(load("", &[]).unwrap().public_url, None);
        let bad = "\n[http]\npublic_url = \"https://u:hunter2@cron.example.com\"\n";
        let err = load(bad, &[]).unwrap_err();
        assert!(err.contains(":3: [http] public_url"), "{err}");
        assert!(
            err.contains("password") && !err.contains("hunter2"),
            "{err}"
        );
        let err = load("", &[("CRONQ_PUBLIC_URL", "cron.example.com")]).unwrap_err();
        assert!(
            err.contains("CRONQ_PUBLIC_URL") && err.contains("absolute"),
            "{err}"
        );
    }

    fn rand_suffix() -> String {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        format!("{}-{n}", std::process::id())
    }
}
