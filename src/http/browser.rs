//! What a browser may do to an open API (loopback without a token, or `--insecure-open-api`).
//! Without a token, the browser the operator uses for everything else is the attacker's tool:
//! - any page can send a bodiless "simple" POST cross-site (`fetch(url, {method: "POST", mode:
//!   "no-cors"})`): it cannot read the answer, but pause, retry and trigger still happen;
//! - after DNS rebinding (`evil.example` re-resolved to 127.0.0.1) a page is same-origin with
//!   the daemon and reads everything, but its requests carry `Host: evil.example`.
//!
//! So, in open mode only (a bearer token is a credential no page can attach by itself):
//! - `Host` must be an IP literal or `localhost` (rebinding needs a name the attacker owns);
//! - a mutating request must not come from another site (`Origin` different from `Host`, or
//!   `Sec-Fetch-Site` other than `same-origin`/`none`) and must say `Content-Type:
//!   application/json`, which a page can only send cross-site after a CORS preflight this
//!   server never grants. The dashboard sends it; so must curl (`-H 'Content-Type:
//!   application/json'`), and the 415 says so.
//!
//! Every response also forbids framing and MIME sniffing (clickjacking of the dashboard's
//! buttons, a JSON job field rendered as HTML).

use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::response::Response;

use super::error::ApiError;

/// The refusal for a request in open mode, if any. `/health` and `/metrics` are read-only
/// and scraped by name (`worker.ns.svc:3001`), so they are not checked.
pub(crate) fn open_mode_refusal(
    method: &Method,
    path: &str,
    headers: &HeaderMap,
) -> Option<ApiError> {
    if path == "/health" || path == "/metrics" {
        return None;
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    if let Some(host) = host.filter(|h| !is_local_host(h)) {
        return Some(ApiError::Forbidden(format!(
            "Host {:?} is not an IP address or localhost: without API_TOKEN the API answers only \
             those (a page could otherwise read it after DNS rebinding). To serve it under a \
             name, set API_TOKEN=<secret>",
            crate::telemetry::escape_control(host)
        )));
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if let Some(site) = site.filter(|s| !matches!(*s, "same-origin" | "none")) {
        return Some(cross_site(&format!("Sec-Fetch-Site: {site}")));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let same = origin
            .to_str()
            .ok()
            .and_then(|o| o.split_once("://"))
            .is_some_and(|(_, authority)| host.is_some_and(|h| authority.eq_ignore_ascii_case(h)));
        if !same {
            return Some(cross_site(&format!(
                "Origin {:?}",
                crate::telemetry::escape_control(&String::from_utf8_lossy(origin.as_bytes()))
            )));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if !content_type.is_some_and(super::api::is_json) {
        return Some(ApiError::UnsupportedMediaType(
            "without API_TOKEN, requests that change something must carry Content-Type: \
             application/json (a web page cannot send it to another site): e.g. curl -X POST \
             -H 'Content-Type: application/json' …"
                .into(),
        ));
    }
    None
}

fn cross_site(what: &str) -> ApiError {
    ApiError::Forbidden(format!(
        "{what}: a request from another site cannot change anything here without API_TOKEN. \
         Use the dashboard at this address, the CLI or curl; or set API_TOKEN=<secret> and send \
         Authorization: Bearer <secret>"
    ))
}

/// `127.0.0.1:3001`, `[::1]:3001`, `10.0.0.5`, `localhost:3001`, `app.localhost`: names that
/// cannot be re-pointed by someone else's DNS.
fn is_local_host(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        // `[v6]:port`: the address is inside the brackets.
        Some(rest) => {
            return rest
                .split_once(']')
                .is_some_and(|(a, _)| a.parse::<std::net::Ipv6Addr>().is_ok())
        }
        None => host.rsplit_once(':').map_or(host, |(n, _)| n),
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name.parse::<std::net::Ipv4Addr>().is_ok()
        || name == "localhost"
        || name.ends_with(".localhost")
}

/// Framing and sniffing headers on every response.
pub(crate) async fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::is_local_host;

    #[test]
    fn only_addresses_and_localhost_are_local() {
        for ok in [
            "127.0.0.1:3001",
            "127.0.0.1",
            "[::1]:3001",
            "10.1.2.3:80",
            "localhost:3001",
            "LOCALHOST",
            "a.localhost:1",
        ] {
            assert!(is_local_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:3001",
            "localhost.evil.example",
            "127.0.0.1.nip.io:3001",
            "[::1",
            "x",
        ] {
            assert!(!is_local_host(bad), "{bad}");
        }
    }
}
