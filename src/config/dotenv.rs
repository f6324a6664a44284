//! `.env` files as the Node side reads them (the `dotenv` package): `KEY=value` lines, an
//! optional `export ` before the key, `#` comments, values in single, double or back quotes
//! (a double-quoted value turns `\n` into a newline and may span lines), unquoted values
//! trimmed and cut at ` #`. A variable already in the process environment wins over the file,
//! as with dotenv's default. Pure: `app` (here `main`) reads the file and sets the variables.

/// A line that is not `KEY=value`, with its place.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {message}")]
pub struct DotenvError {
    /// The file.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// What is wrong and the fix.
    pub message: String,
}

/// The `(key, value)` pairs of a `.env` file, in order (a later repeat wins, as in dotenv).
pub fn parse(path: &str, text: &str) -> Result<Vec<(String, String)>, DotenvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let err = |message: String| DotenvError {
            path: path.to_string(),
            line: i + 1,
            message,
        };
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(format!(
                "not KEY=value: '{}'; write KEY=value or comment the line out with #",
                crate::telemetry::escape_control(line)
            )));
        };
        let key = key.trim();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(err(format!(
                "'{}' is not a variable name (letters, digits and _ only)",
                crate::telemetry::escape_control(key)
            )));
        }
        let value = value.trim();
        let value = match value.chars().next() {
            Some(q @ ('"' | '\'' | '`')) => {
                let mut body = value[1..].to_string();
                // A quoted value runs to its closing quote, over more lines if needed.
                while !body.trim_end().ends_with(q) {
                    match lines.next() {
                        Some((_, next)) => {
                            body.push('\n');
                            body.push_str(next);
                        }
                        None => {
                            return Err(err(format!(
                                "the value of {key} opens a {q} quote that is never closed"
                            )))
                        }
                    }
                }
                let body = body.trim_end();
                let inner = &body[..body.len() - 1];
                if q == '"' {
                    inner.replace("\\n", "\n").replace("\\r", "\r")
                } else {
                    inner.to_string()
                }
            }
            _ => match value.find(" #") {
                Some(at) => value[..at].trim_end().to_string(),
                None => value.to_string(),
            },
        };
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_node_dotenv_reads() {
        let text = "# redis\nREDIS_HOST=10.0.0.5\nexport REDIS_PORT=6380 # prod\n\
                    REDIS_PASSWORD='p#ss word'\nMULTI=\"a\\nb\"\nSPAN=\"x\ny\"\nEMPTY=\n";
        let got = parse(".env", text).unwrap();
        let get = |k: &str| got.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("REDIS_HOST"), Some("10.0.0.5"));
        assert_eq!(get("REDIS_PORT"), Some("6380"));
        assert_eq!(get("REDIS_PASSWORD"), Some("p#ss word"));
        assert_eq!(get("MULTI"), Some("a\nb"));
        assert_eq!(get("SPAN"), Some("x\ny"));
        assert_eq!(get("EMPTY"), Some(""));
    }

    #[test]
    fn a_bad_line_names_its_place() {
        let e = parse("/app/.env", "A=1\nthis is not a pair\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.to_string().starts_with("/app/.env:2: not KEY=value"),
            "{e}"
        );
        let e = parse(".env", "A=\"open\n").unwrap_err();
        assert!(e.message.contains("never closed"), "{e}");
    }
}
