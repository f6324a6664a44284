//! Zones: IANA names resolved against the zone data compiled into the binary (`chrono-tz`),
//! so an image without tzdata works; and the daemon's own zone, computed from values the
//! caller read (only `app` reads the environment and the file system's `/etc/localtime`).

use std::path::Path;

use chrono_tz::Tz;

/// The zone named `name` (exact IANA spelling, `UTC` accepted).
pub fn parse_zone(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| {
        let hint = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|z| z.name().eq_ignore_ascii_case(name))
            .map(|z| format!(" (did you mean {}?)", z.name()))
            .unwrap_or_default();
        format!("unknown time zone {name:?}{hint}: use an IANA name such as \"Europe/Paris\" or \"UTC\"")
    })
}

/// The daemon's zone: `tz_env` (the process's `TZ`, a leading `:` ignored), else the zone
/// named by `localtime_link` (where the `/etc/localtime` link points, `…/zoneinfo/Area/City`),
/// else UTC. A value that names no zone falls through to the next.
pub fn default_zone(tz_env: Option<&str>, localtime_link: Option<&Path>) -> Tz {
    if let Some(tz) = tz_env.and_then(|v| parse_zone(v.trim_start_matches(':')).ok()) {
        return tz;
    }
    localtime_link
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            let name = s.split("zoneinfo/").nth(1)?.to_string();
            parse_zone(&name).ok()
        })
        .unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{default_zone, parse_zone};

    #[test]
    fn names_resolve_and_mistakes_get_a_hint() {
        assert_eq!(parse_zone("Europe/Paris").unwrap().name(), "Europe/Paris");
        assert!(parse_zone("UTC").is_ok());
        let e = parse_zone("europe/paris").unwrap_err();
        assert!(e.contains("did you mean Europe/Paris"), "{e}");
        assert!(parse_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }

    #[test]
    fn the_default_zone_is_tz_then_the_localtime_link_then_utc() {
        let link = Path::new("/usr/share/zoneinfo/Asia/Tokyo");
        assert_eq!(
            default_zone(Some(":Europe/Paris"), Some(link)).name(),
            "Europe/Paris"
        );
        assert_eq!(
            default_zone(Some("Nowhere/Else"), Some(link)).name(),
            "Asia/Tokyo"
        );
        assert_eq!(default_zone(None, Some(link)).name(), "Asia/Tokyo");
        assert_eq!(
            default_zone(None, Some(Path::new("/etc/nothing"))),
            chrono_tz::UTC
        );
        assert_eq!(default_zone(None, None), chrono_tz::UTC);
    }
}
