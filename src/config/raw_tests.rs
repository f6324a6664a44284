//! The raw tables that share the schedule-policy keys (declared once by `policy_table!`): each
//! still takes every key, in its own order, and refuses an unknown one with the same message.

use super::raw::RawConfig;

/// The message serde gives for an unknown key `bogus` in `table` (a TOML snippet).
fn unknown_key_message(table: &str) -> String {
    let text = format!("{table}\nbogus = 1\n");
    let err = toml::from_str::<RawConfig>(&text).expect_err("an unknown key is refused");
    err.message().to_string()
}

/// The ten policy keys, in the order every table lists them.
const POLICY_KEYS: &str = "`overlap`, `buffer_max`, `jitter`, `jitter_mode`, `catch_up`, \
     `catch_up_mode`, `catch_up_max`, `alert_after`, `ping`, `notify`";

#[test]
fn an_unknown_key_names_every_key_of_its_table_in_order() {
    let cron = format!(
        "`queue`, `concurrency`, `attempts`, `backoff`, `remove_on_complete`, `remove_on_fail`, \
         `when_store_down`, {POLICY_KEYS}, `stale_fails_health`, `entries`"
    );
    let schedule = format!(
        "`name`, `cron`, `tz`, `enqueue`, `command`, `timeout`, {POLICY_KEYS}, `attempts`, \
         `backoff`"
    );
    for (table, keys) in [
        ("[cron]", cron),
        ("[cron.entries.\"crontab:1\"]", POLICY_KEYS.to_string()),
        ("[[schedule]]\ncron = \"* * * * *\"", schedule),
    ] {
        let expected = format!("unknown field `bogus`, expected one of {keys}");
        assert_eq!(unknown_key_message(table), expected, "{table}");
    }
}

#[test]
fn each_table_hands_on_every_policy_key_it_was_given() {
    let keys = "overlap = \"allow\"\nbuffer_max = 2\njitter = \"3s\"\njitter_mode = \"fixed\"\n\
                catch_up = \"1h\"\ncatch_up_mode = \"all\"\ncatch_up_max = 4\n\
                alert_after = \"2h\"\nping = \"http://p\"\nnotify = \"http://n\"\n";
    let text = format!(
        "[cron]\n{keys}[cron.entries.\"crontab:1\"]\n{keys}\
         [[schedule]]\ncron = \"* * * * *\"\n{keys}"
    );
    let raw: RawConfig = toml::from_str(&text).expect("valid");
    let cron = raw.cron.expect("[cron]");
    let entry = cron.entries.as_ref().expect("entries")["crontab:1"].clone();
    for policy in [cron.policy(), entry.policy(), raw.schedule[0].policy()] {
        let seen = format!("{policy:?}");
        assert_eq!(
            seen,
            "RawPolicy { overlap: Some(\"allow\"), buffer_max: Some(2), jitter: Some(\"3s\"), \
             jitter_mode: Some(\"fixed\"), catch_up: Some(\"1h\"), catch_up_mode: Some(\"all\"), \
             catch_up_max: Some(4), alert_after: Some(\"2h\"), ping: Some(\"http://p\"), \
             notify: Some(\"http://n\") }"
        );
    }
}
