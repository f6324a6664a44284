//! The crontab dialect (Supercronic's, with cronq's extensions), pure: text in, values out. No
//! tokio, no store, no environment and no file reads; whatever comes from outside (the file's bytes, the `TZ` variable, the
//! `/etc/localtime` link) is handed in by the caller.
//!
//! Dependencies run one way, so there is no import circle: `error` (the error types) at the
//! bottom; `field` on it; `calendar` (month arithmetic, what the day specials mean on a date)
//! on `field`; `schedule` on those three; `text` (the file's bytes) on `error`; `zone` on
//! nothing; `parse` (whole crontab lines) on `schedule`, `zone`, `text` and `error`.

pub mod calendar;
pub mod error;
pub(crate) mod field;
pub mod parse;
pub mod schedule;
pub mod text;
pub mod zone;

pub use schedule::{Schedule, ScheduleError};
