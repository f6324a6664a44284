//! Traces from the standard `OTEL_*` variables (the OpenTelemetry SDK specification's names),
//! read here, as all the environment is; `telemetry::otel` gets the result as config.
//!
//! On when `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as given) or `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (`/v1/traces` appended) is set, unless `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none`. Only OTLP over HTTP is built in: `grpc` is refused naming the
//! fix (the collector's HTTP port), `http/json` is sent as protobuf, which every OTLP/HTTP
//! receiver accepts on the same path.

use std::time::Duration;

use crate::telemetry::otel::TraceConfig;

/// The spec's default export timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The traces config `env` asks for: `Ok(None)` when traces are off, or the error to print
/// (naming the variable and the fix).
pub(super) fn config(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<TraceConfig>, String> {
    let env = |k: &str| {
        env(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match env("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={}: cronq exports traces over OTLP only; write otlp, or none to turn traces off",
                crate::telemetry::escape_control(other)
            ))
        }
    }
    let endpoint = match (
        env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        env("OTEL_EXPORTER_OTLP_ENDPOINT"),
    ) {
        (Some(traces), _) => traces,
        (None, Some(base)) => format!("{}/v1/traces", base.trim_end_matches('/')),
        (None, None) => return Ok(None),
    };
    let protocol =
        env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"));
    if protocol.as_deref().is_some_and(|p| p.starts_with("grpc")) {
        return Err(
            "OTEL_EXPORTER_OTLP_PROTOCOL=grpc: cronq exports OTLP over HTTP only; \
                    write http/protobuf and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's \
                    HTTP port (4318)"
                .into(),
        );
    }
    let headers = env("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
        .or_else(|| env("OTEL_EXPORTER_OTLP_HEADERS"))
        .map(|h| pairs(&h))
        .unwrap_or_default();
    let resource = env("OTEL_RESOURCE_ATTRIBUTES")
        .map(|r| pairs(&r))
        .unwrap_or_default();
    let service_name = env("OTEL_SERVICE_NAME")
        .or_else(|| {
            let named = resource.iter().find(|(k, _)| k == "service.name");
            named.map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "cronq".to_string());
    let timeout = match env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        .or_else(|| env("OTEL_EXPORTER_OTLP_TIMEOUT"))
    {
        None => DEFAULT_TIMEOUT,
        Some(ms) => ms.parse::<u64>().map(Duration::from_millis).map_err(|_| {
            format!(
                "OTEL_EXPORTER_OTLP_TIMEOUT={}: not a number of milliseconds; write e.g. 10000",
                crate::telemetry::escape_control(&ms)
            )
        })?,
    };
    Ok(Some(TraceConfig {
        endpoint,
        headers,
        service_name,
        resource,
        timeout,
    }))
}

/// `k1=v1,k2=v2` as the spec writes headers and resource attributes (values percent-encoded);
/// a member without `=` is skipped.
fn pairs(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|member| {
            let (k, v) = member.split_once('=')?;
            let v = percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy();
            Some((k.trim().to_string(), v.into_owned())).filter(|(k, _)| !k.is_empty())
        })
        .collect()
}

/// Installs traces as `env` asks; `Ok(None)` when they are off. The guard is held for the
/// daemon's life (dropping it exports the last spans).
pub(super) fn install(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<crate::telemetry::otel::Traces>, String> {
    let Some(config) = config(env)? else {
        return Ok(None);
    };
    let traces = crate::telemetry::otel::install(&config).map_err(|e| e.to_string())?;
    tracing::info!(
        endpoint = %crate::queue::redact_url(&config.endpoint),
        service = %config.service_name,
        "traces: exporting spans over OTLP/HTTP"
    );
    Ok(Some(traces))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Option<TraceConfig>, String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        config(&move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()))
    }

    #[test]
    fn off_unless_an_endpoint_is_set_and_nothing_disables_it() {
        assert_eq!(with(&[]), Ok(None));
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")];
        assert!(with(&on).unwrap().is_some());
        for off in [
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(with(&[on[0], off]), Ok(None), "{off:?}");
        }
    }

    #[test]
    fn the_standard_variables_are_read_as_the_spec_writes_them() {
        let c = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-api-key=a%20b, other=1,junk",
            ),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=billing,deployment.environment=prod",
            ),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://c:4318/v1/traces");
        assert_eq!(
            c.headers,
            vec![
                ("x-api-key".into(), "a b".into()),
                ("other".into(), "1".into())
            ]
        );
        assert_eq!(c.service_name, "billing");
        assert_eq!(c.timeout, Duration::from_millis(2500));
        let c = with(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:9999/custom"),
            ("OTEL_SERVICE_NAME", "jobs"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.endpoint, "http://t:9999/custom");
        assert_eq!(c.service_name, "jobs");
    }

    #[test]
    fn what_cannot_work_is_refused_naming_the_variable_and_the_fix() {
        let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317");
        let err = with(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(
            err.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && err.contains("4318"),
            "{err}"
        );
        let err = with(&[base, ("OTEL_TRACES_EXPORTER", "zipkin")]).unwrap_err();
        assert!(err.contains("OTEL_TRACES_EXPORTER=zipkin"), "{err}");
        let err = with(&[base, ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]).unwrap_err();
        assert!(err.contains("OTEL_EXPORTER_OTLP_TIMEOUT=10s"), "{err}");
        assert!(with(&[base, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).is_ok());
    }
}
