//! Supercronic's phrases on a crontab job's own lines, so that runbooks and alerts written
//! against Supercronic's logs keep matching. Supercronic (logrus) logs `msg=starting` when a
//! job starts, `msg="job succeeded"` when it exits 0, and the error at level error when it
//! fails; cronq's crontab lines carry the phrase as a `msg` field beside cronq's own message
//! (`job started`, `job completed`, `job failed`), which stays, so cronq's pipelines keep
//! matching too. In JSON the phrase is the `msg` key (`message` keeps cronq's); in text it is
//! written `msg=…` quoted as logrus quotes (only when needed).
//!
//! The word "supercronic" itself: Supercronic's own lines never print it (logrus's text and
//! JSON formatters name no logger), so a runbook that finds it greps a process or image name,
//! not a log line; cronq answers to a first argument `supercronic` (`app/cli`) and the image
//! can name its binary so (README, "Coming from Supercronic"). Log lines do not carry it.

/// A crontab job started (Supercronic's `jobLogger.Info("starting")`).
pub const SC_STARTING: &str = "starting";
/// A crontab job exited 0.
pub const SC_SUCCEEDED: &str = "job succeeded";
/// A crontab job failed (Supercronic logs the error itself; cronq names the event, and the
/// error is in the `error` field).
pub const SC_FAILED: &str = "job failed";

/// `value` as logrus's text formatter writes it: bare when it holds only letters, digits and
/// `-._/@^+`, else double-quoted with `"` and `\` escaped.
pub fn logrus_quote(value: &str) -> String {
    let bare = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._/@^+".contains(c));
    if bare {
        return value.to_string();
    }
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_as_logrus_quotes() {
        assert_eq!(logrus_quote(SC_STARTING), "starting");
        assert_eq!(logrus_quote(SC_SUCCEEDED), "\"job succeeded\"");
        assert_eq!(logrus_quote("a\"b"), "\"a\\\"b\"");
    }
}
