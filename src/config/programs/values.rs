//! The values of `[programs.NAME]` keys that Supervisor writes its own way: `autorestart`
//! (bool or word), seconds, sizes with units, `environment` (table or `A=1,B=2`), `user`.

use std::collections::BTreeMap;
use std::time::Duration;

use super::AutoRestart;

pub(super) fn autorestart(v: Option<&toml::Value>) -> Result<AutoRestart, String> {
    match v {
        None => Ok(AutoRestart::Unexpected),
        Some(toml::Value::Boolean(true)) => Ok(AutoRestart::Always),
        Some(toml::Value::Boolean(false)) => Ok(AutoRestart::Never),
        Some(toml::Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "unexpected" => Ok(AutoRestart::Unexpected),
            "true" => Ok(AutoRestart::Always),
            "false" => Ok(AutoRestart::Never),
            _ => Err(format!(
                "{s:?} is not a restart policy: use true, false or \"unexpected\""
            )),
        },
        Some(other) => Err(format!(
            "{other} is not a restart policy: use true, false or \"unexpected\""
        )),
    }
}

/// Supervisor writes whole seconds; a duration string (`500ms`, `2s`) is read too.
pub(super) fn seconds(v: Option<&toml::Value>, default: u64) -> Result<Duration, String> {
    match v {
        None => Ok(Duration::from_secs(default)),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(Duration::from_secs(*n as u64)),
        Some(toml::Value::String(s)) => crate::config::units::duration(s),
        Some(other) => Err(format!(
            "{other} is not a duration: write whole seconds (5) or e.g. \"500ms\""
        )),
    }
}

/// Bytes, or a size with a unit (`10MB`, Supervisor's spelling; powers of 1024).
pub(super) fn logfile_bytes(v: Option<&toml::Value>) -> Result<u64, String> {
    match v {
        None => Ok(50 * 1024 * 1024),
        Some(toml::Value::Integer(n)) if *n >= 0 => Ok(*n as u64),
        Some(toml::Value::String(s)) => {
            let t = s.trim();
            let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
            let (num, unit) = t.split_at(split);
            let n: u64 = num.parse().map_err(|_| size_error(s))?;
            let per = match unit.trim().to_ascii_uppercase().as_str() {
                "" | "B" => 1,
                "K" | "KB" | "KIB" => 1024,
                "M" | "MB" | "MIB" => 1024 * 1024,
                "G" | "GB" | "GIB" => 1024 * 1024 * 1024,
                _ => return Err(size_error(s)),
            };
            n.checked_mul(per).ok_or_else(|| size_error(s))
        }
        Some(other) => Err(size_error(&other.to_string())),
    }
}

fn size_error(s: &str) -> String {
    format!("{s:?} is not a size: write bytes (1048576) or e.g. \"10MB\", \"512KB\"")
}

/// A table, or Supervisor's `KEY="val",KEY2=val2` string.
pub(super) fn environment(v: Option<&toml::Value>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    match v {
        None => {}
        Some(toml::Value::Table(t)) => {
            for (k, v) in t {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
                        v.to_string()
                    }
                    _ => return Err(format!("{k}: the value must be a string, number or boolean")),
                };
                out.insert(k.clone(), v);
            }
        }
        Some(toml::Value::String(s)) => {
            for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("{pair:?} is not KEY=value"))?;
                let v = v.trim().trim_matches('"');
                out.insert(k.trim().to_string(), v.to_string());
            }
        }
        Some(other) => {
            return Err(format!(
                "{other} is not an environment: write a table, e.g. environment = {{ APP_ENV = \"prod\" }}"
            ))
        }
    }
    for k in out.keys() {
        let ok = !k.is_empty()
            && !k.contains(['=', '\0'])
            && !k.starts_with(|c: char| c.is_ascii_digit());
        if !ok {
            return Err(format!("{k:?} is not a variable name"));
        }
        if k == "PROCESS_NUM" {
            return Err("PROCESS_NUM is set by cronq for each instance".into());
        }
    }
    Ok(out)
}

/// `user = "www-data"`: its uid and primary gid. Only root can switch users; refusing here
/// beats a program that fails every start with EPERM.
pub(super) fn resolve_user(name: &str) -> Result<(u32, u32), String> {
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| format!("cannot look up user {name:?}: {e}"))?
        .ok_or_else(|| format!("no user {name:?} on this system (see /etc/passwd)"))?;
    let (uid, gid) = (user.uid.as_raw(), user.gid.as_raw());
    if !nix::unistd::geteuid().is_root() && nix::unistd::geteuid().as_raw() != uid {
        return Err(format!(
            "switching to user {name:?} needs the daemon to run as root; remove `user` or run \
             cronq as root (it runs as uid {})",
            nix::unistd::geteuid()
        ));
    }
    Ok((uid, gid))
}
