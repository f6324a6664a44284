//! Zones: IANA names resolved against the zone data compiled into the binary (`chrono-tz`),
//! so an image without tzdata works; and the daemon's own zone.

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

/// The daemon's zone: `TZ` of the process, else the `/etc/localtime` link
/// (`…/zoneinfo/Area/City`), else UTC.
pub fn daemon_zone() -> Tz {
    if let Some(tz) = std::env::var("TZ")
        .ok()
        .and_then(|v| parse_zone(v.trim_start_matches(':')).ok())
    {
        return tz;
    }
    std::fs::read_link("/etc/localtime")
        .ok()
        .and_then(|p| {
            let s = p.to_string_lossy().into_owned();
            let name = s.split("zoneinfo/").nth(1)?.to_string();
            parse_zone(&name).ok()
        })
        .unwrap_or(Tz::UTC)
}

#[cfg(test)]
mod tests {
    use super::parse_zone;

    #[test]
    fn names_resolve_and_mistakes_get_a_hint() {
        assert_eq!(parse_zone("Europe/Paris").unwrap().name(), "Europe/Paris");
        assert!(parse_zone("UTC").is_ok());
        let e = parse_zone("europe/paris").unwrap_err();
        assert!(e.contains("did you mean Europe/Paris"), "{e}");
        assert!(parse_zone("Mars/Olympus").unwrap_err().contains("IANA"));
    }
}
