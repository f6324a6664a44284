//! The crontab dialect, pure: text in, values out. No tokio, no store, no environment and no
//! file reads; whatever comes from outside (the file's bytes, the `TZ` variable, the
//! `/etc/localtime` link) is handed in by the caller.
//!
//! Dependencies run one way, so there is no import circle: `error` (the parse error) and
//! `calendar` (month arithmetic, the day specials' meaning) at the bottom, `field` on them,
//! `schedule` on all three, `parse` (whole crontab lines) on `schedule`, `zone` and `text`.

pub mod calendar;
pub mod error;
pub(crate) mod field;
pub mod parse;
pub mod schedule;
pub mod text;
pub mod zone;
