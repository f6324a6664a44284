//! What of the daemon's environment a job sees, and which values never leave the daemon in job
//! output. Supercronic hands its whole environment to every command, and crontab users rely on
//! that (PATH, HOME, TZ, the app's own settings), so cronq does the same — except for the
//! daemon's own secrets ([`SECRET_VARS`], and `REDIS_URL` when it carries credentials), which a
//! job gets only when its handler (or `[worker]`) lists them in `pass_env`. Whether listed or
//! not, their values are replaced by `***` in everything copied out of a job's output: the
//! daemon's log, the job's log in the store, its failure reason and return value (and so Sentry).

use std::borrow::Cow;
use std::sync::Arc;

/// Variables that hold a secret of the daemon whatever their value: withheld from jobs unless
/// listed, and redacted in job output.
const SECRET_VARS: &[&str] = &[
    "API_TOKEN",
    "REDIS_PASSWORD",
    "REDIS_SENTINEL_PASSWORD",
    "SENTRY_DSN",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
];

/// Variables holding a URL: withheld only when the URL carries credentials (a plain
/// `redis://redis:6379/0` is an ordinary setting a job may use as it is).
const URL_VARS: &[&str] = &["REDIS_URL"];

/// Secrets shorter than this are not redacted: replacing every `1` or `ab` in job output would
/// garble it and hide nothing (such a password is not a secret anyway).
const MIN_SECRET_LEN: usize = 4;

/// Secret values to hide in job output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// Longest first, so a secret that contains another is hidden whole.
    values: Vec<String>,
}

impl Secrets {
    /// The secrets among `values` (short and empty ones are skipped).
    pub fn new(values: impl IntoIterator<Item = String>) -> Secrets {
        let mut values: Vec<String> = values
            .into_iter()
            .filter(|v| v.chars().count() >= MIN_SECRET_LEN)
            .collect();
        values.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        values.dedup();
        Secrets { values }
    }

    /// `text` with every secret replaced by `***`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.values {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), "***"));
            }
        }
        out
    }

    /// Whether there is nothing to hide.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// The daemon-wide part: the default `pass_env`, which secret variables are set, their values.
#[derive(Debug, Clone, Default)]
pub struct JobEnv {
    /// `[worker] pass_env`: the secret variables every job gets (default none); `"*"` = all.
    pub pass_env: Vec<String>,
    /// The secret variables set in the daemon's environment.
    withheld: Vec<String>,
    /// Every secret value of the daemon (environment and config file).
    secrets: Arc<Secrets>,
}

/// One handler's part: the variables removed from its jobs' environment, and what to redact.
#[derive(Debug, Clone, Default)]
pub struct EnvPolicy {
    /// Removed from the inherited environment before the handler's own variables are set.
    pub remove: Vec<String>,
    /// Hidden in everything copied out of the job's output.
    pub secrets: Arc<Secrets>,
}

impl JobEnv {
    /// Reads which secret variables are set (`env` looks one up) and collects every secret
    /// value: those variables', the credentials of the Redis URL the daemon uses (`url`, which
    /// may come from the config file) and of `extra` (e.g. `[redis] sentinel_password`).
    pub fn new(
        pass_env: Vec<String>,
        env: &dyn Fn(&str) -> Option<String>,
        url: &str,
        extra: &[Option<&str>],
    ) -> JobEnv {
        let mut withheld = Vec::new();
        let mut values: Vec<String> = Vec::new();
        for name in SECRET_VARS {
            if let Some(v) = env(name) {
                withheld.push(name.to_string());
                values.extend(parts_of_secret(name, &v));
                values.push(v);
            }
        }
        for name in URL_VARS {
            if let Some(v) = env(name) {
                let creds = url_credentials(&v);
                if !creds.is_empty() {
                    withheld.push(name.to_string());
                    values.extend(creds);
                }
            }
        }
        values.extend(url_credentials(url));
        values.extend(extra.iter().flatten().map(|s| s.to_string()));
        JobEnv {
            pass_env,
            withheld,
            secrets: Arc::new(Secrets::new(values)),
        }
    }

    /// The policy of a handler whose own `pass_env` is `own` (it replaces `[worker]`'s).
    pub fn policy(&self, own: Option<&[String]>) -> EnvPolicy {
        let pass = own.unwrap_or(&self.pass_env);
        let all = pass.iter().any(|p| p == "*");
        EnvPolicy {
            remove: self
                .withheld
                .iter()
                .filter(|n| !all && !pass.contains(n))
                .cloned()
                .collect(),
            secrets: self.secrets.clone(),
        }
    }

    /// Every secret value of the daemon.
    pub fn secrets(&self) -> &Arc<Secrets> {
        &self.secrets
    }
}

/// Checks a `pass_env` list: variable names (letters, digits, `_`, not starting with a digit) or
/// `"*"`. The error names the bad entry.
pub(super) fn check_pass_env(list: &[String]) -> Result<(), String> {
    for name in list {
        let ok = name == "*"
            || (!name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !ok {
            return Err(format!(
                "{name:?} is not an environment variable name: list names like \"REDIS_URL\", or \"*\" for all"
            ));
        }
    }
    Ok(())
}

/// The pieces of a secret variable that may appear on their own: a DSN's key, each header value
/// of `KEY=VALUE,KEY=VALUE`.
fn parts_of_secret(name: &str, value: &str) -> Vec<String> {
    if name == "SENTRY_DSN" {
        return url_credentials(value);
    }
    if name.starts_with("OTEL_") {
        return value
            .split(',')
            .filter_map(|h| h.split_once('='))
            .flat_map(|(_, v)| {
                let v = v.trim();
                let decoded = decode(v);
                // `Authorization=Bearer TOKEN`: the token alone too.
                let token = decoded.rsplit(' ').next().unwrap_or("").to_string();
                [v.to_string(), decoded, token]
            })
            .collect();
    }
    Vec::new()
}

/// A URL's credentials as they may be printed: the password (or a lone user name, which Redis
/// clients take as the password) as written and decoded, and `password=` / `username=` query
/// values. Empty for a URL without any.
fn url_credentials(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(parsed) = url::Url::parse(url) else {
        // Not parsable: the user-info is whatever precedes the last `@` of the authority.
        if let Some((_, rest)) = url.split_once("://") {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if let Some((info, _)) = authority.rsplit_once('@') {
                let secret = info.split_once(':').map_or(info, |(_, p)| p);
                out.extend([secret.to_string(), decode(secret)]);
            }
        }
        return out;
    };
    match parsed.password() {
        Some(p) => out.extend([p.to_string(), decode(p)]),
        None if !parsed.username().is_empty() => {
            out.extend([parsed.username().to_string(), decode(parsed.username())])
        }
        None => {}
    }
    for (k, v) in parsed.query_pairs() {
        if crate::rules::is_secret_param(&k) && !v.is_empty() {
            out.push(v.into_owned());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn secret_variables_are_withheld_unless_listed_and_a_plain_url_is_not_a_secret() {
        let env = env_of(&[
            ("API_TOKEN", "tok-123456"),
            ("REDIS_URL", "redis://:s3cretPW@h:6379/0"),
            ("PATH", "/bin"),
        ]);
        let je = JobEnv::new(Vec::new(), &env, "redis://:s3cretPW@h:6379/0", &[]);
        assert_eq!(je.policy(None).remove, ["API_TOKEN", "REDIS_URL"]);
        let listed = ["REDIS_URL".to_string()];
        assert_eq!(je.policy(Some(&listed)).remove, ["API_TOKEN"]);
        assert!(je.policy(Some(&["*".to_string()])).remove.is_empty());
        let plain = env_of(&[("REDIS_URL", "redis://redis:6379/0")]);
        let je = JobEnv::new(Vec::new(), &plain, "redis://redis:6379/0", &[]);
        assert!(je.policy(None).remove.is_empty());
        assert!(je.secrets().is_empty());
    }

    #[test]
    fn every_form_of_a_secret_is_redacted() {
        let env = env_of(&[
            ("REDIS_URL", "redis://u:p%40ssword@h/0"),
            ("SENTRY_DSN", "https://publickey42@o1.ingest.sentry.io/7"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "Authorization=Bearer%20abcdef99",
            ),
        ]);
        let je = JobEnv::new(
            Vec::new(),
            &env,
            "redis://h/0?password=querysecret",
            &[Some("sentinelpw")],
        );
        let text = "p%40ssword p@ssword publickey42 abcdef99 querysecret sentinelpw ok";
        assert_eq!(je.secrets().redact(text), "*** *** *** *** *** *** ok");
    }

    #[test]
    fn short_values_are_not_redacted_and_longer_secrets_win() {
        let s = Secrets::new(["ab".to_string(), "abcd".into(), "abcdef".into()]);
        assert_eq!(s.redact("ab abcd abcdef"), "ab *** ***");
    }

    #[test]
    fn pass_env_names_are_checked() {
        assert!(check_pass_env(&["REDIS_URL".into(), "*".into()]).is_ok());
        let err = check_pass_env(&["REDIS URL".into()]).unwrap_err();
        assert!(err.contains("\"REDIS URL\""), "{err}");
    }
}
