//! `[[schedule]]` tables: shape, names, overlap policy and durations; the expression itself is
//! parsed by the cron room so that both forms share one dialect.

use super::ranges;
use super::{invalid, opt_duration_in, Source};
use crate::config::raw::RawSchedule;
use crate::config::{Error, ScheduleConfig, ScheduleTarget};

pub(super) fn schedule(
    s: &RawSchedule,
    src: &Source,
    index: usize,
) -> Result<ScheduleConfig, Error> {
    let table = format!("schedule #{}", index + 1);
    let place = |key: &str| format!("{} {key}", nth_schedule_place(src, index, &table));
    let target =
        match (&s.enqueue, &s.command) {
            (Some(e), None) => ScheduleTarget::Enqueue {
                queue: crate::rules::validate_queue_name(&e.queue)
                    .map(|()| e.queue.clone())
                    .map_err(|m| invalid(place("enqueue"), m))?,
                name: e.name.clone(),
                data: match &e.data {
                    None => serde_json::json!({}),
                    Some(v) => serde_json::to_value(v)
                        .map_err(|e| invalid(place("enqueue"), e.to_string()))?,
                },
            },
            (None, Some(c)) => match crate::crontab::text::command_problem(c) {
                Some((_, problem)) => return Err(invalid(place("command"), problem)),
                None => ScheduleTarget::Command(c.clone()),
            },
            _ => return Err(invalid(
                place(""),
                "give exactly one of enqueue = { queue = \"…\", name = \"…\" } or command = \"…\"",
            )),
        };
    if let Some(name) = &s.name {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(invalid(
                place("name"),
                format!("{name:?}: use letters, digits, '-' and '_' (it becomes part of job ids)"),
            ));
        }
    }
    let attempts = s
        .attempts
        .map(|a| ranges::count_in(a.into(), &place("attempts"), &ranges::ATTEMPTS))
        .transpose()?
        .map(|a| a as u32);
    let backoff = s
        .backoff
        .as_deref()
        .map(|b| {
            let backoff =
                crate::queue::Backoff::parse(b).map_err(|m| invalid(place("backoff"), m))?;
            let (crate::queue::Backoff::Fixed(d) | crate::queue::Backoff::Exponential(d)) = backoff;
            ranges::duration_in(d, &place("backoff"), &ranges::BACKOFF)?;
            Ok::<_, Error>(backoff)
        })
        .transpose()?;
    if (attempts.is_some() || backoff.is_some()) && !matches!(target, ScheduleTarget::Command(_)) {
        // An enqueue's job takes its queue's handler settings, as before: saying otherwise
        // here would silently do nothing.
        return Err(invalid(
            place("attempts"),
            "attempts and backoff apply to command entries; an enqueue entry's job takes the \
             target handler's ([queues.Q.handlers.NAME] attempts)",
        ));
    }
    Ok(ScheduleConfig {
        attempts,
        backoff,
        place: nth_schedule_place(src, index, &table),
        name: s.name.clone(),
        cron: s.cron.clone(),
        tz: s.tz.clone(),
        target,
        policy: super::policy::policy(&s.policy(), place)?,
        timeout: opt_duration_in(&s.timeout, || place("timeout"), &ranges::TIMEOUT)?,
    })
}

/// `FILE:LINE: [[schedule]] #N` for the N-th `[[schedule]]` header.
fn nth_schedule_place(src: &Source, index: usize, table: &str) -> String {
    let line = src
        .text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[schedule]]")
        .nth(index)
        .map(|(i, _)| i + 1)
        .unwrap_or(1);
    if src.path.is_empty() {
        format!("[{table}]")
    } else {
        format!("{}:{line}: [{table}]", src.path)
    }
}
