//! TLS for Sentinel: the relay's own TLS to the primary, and the `rediss://` clients it uses to
//! ask the sentinels and check the primary's role.
//!
//! The engine cannot speak TLS to the relay usefully: its certificate check would be against
//! `127.0.0.1`, the relay's address, which no server certificate names. So the engine talks plain
//! TCP to the relay (a loopback hop inside this one process, never on the network), and the relay
//! opens the TLS session to the primary itself, checking the primary's certificate against the
//! host name or IP address the sentinels report for it. Roots: the CA file (`REDIS_CA_FILE`) when
//! set, else the same built-in web PKI roots a plain `rediss://` connection uses (the `redis`
//! crate is built with `tls-rustls-webpki-roots`).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{copy_bidirectional, AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::queue::{error::Error, redis::RedisTarget};

/// How the relay reaches the primary and the sentinels over TLS. Built once at start.
pub(super) struct Tls {
    /// The relay's TLS to the primary; `None` when the data connection is plain `redis://`.
    primary: Option<TlsConnector>,
    /// The CA file's PEM, for the `rediss://` clients (`None`: the built-in roots).
    ca_pem: Option<Vec<u8>>,
}

impl Tls {
    /// Reads the CA file (when set) and builds the primary's TLS setup when the target's URL is
    /// `rediss://`. A CA file that cannot be read or holds no certificate is a settings error.
    pub(super) fn new(target: &RedisTarget) -> Result<Tls, Error> {
        let ca_pem = match &target.ca_file {
            Some(path) => Some(std::fs::read(path).map_err(|e| {
                Error::Settings(format!(
                    "cannot read the Redis CA file {} (REDIS_CA_FILE): {e}",
                    path.display()
                ))
            })?),
            None => None,
        };
        let primary = if is_tls_url(&target.url) {
            Some(TlsConnector::from(Arc::new(client_config(
                ca_pem.as_deref(),
                target,
            )?)))
        } else {
            None
        };
        Ok(Tls { primary, ca_pem })
    }

    /// Opens the relay's upstream to the primary at `addr` (`host:port`, `[v6]:port`): TLS when
    /// the data connection is TLS, its certificate checked against `addr`'s host.
    pub(super) async fn connect(&self, addr: &str) -> std::io::Result<Upstream> {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let Some(connector) = &self.primary else {
            return Ok(Upstream::Plain(tcp));
        };
        let name = server_name(addr)?;
        Ok(Upstream::Tls(Box::new(connector.connect(name, tcp).await?)))
    }

    /// A client for `url` (`redis://` or `rediss://`), with the CA file's roots for `rediss://`.
    pub(super) fn client(&self, url: &str) -> redis::RedisResult<redis::Client> {
        match &self.ca_pem {
            Some(pem) if is_tls_url(url) => redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            _ => redis::Client::open(url),
        }
    }
}

/// The relay's connection to the primary.
pub(super) enum Upstream {
    /// Plain TCP (`redis://`).
    Plain(TcpStream),
    /// TLS (`rediss://`); boxed, as the session state is large.
    Tls(Box<TlsStream<TcpStream>>),
}

impl Upstream {
    /// Copies both ways between the engine's connection `client` and the primary until either
    /// side closes.
    pub(super) async fn pipe(self, client: &mut TcpStream) {
        async fn both<S: AsyncRead + AsyncWrite + Unpin>(client: &mut TcpStream, mut up: S) {
            let _ = copy_bidirectional(client, &mut up).await;
        }
        match self {
            Upstream::Plain(tcp) => both(client, tcp).await,
            Upstream::Tls(tls) => both(client, tls).await,
        }
    }
}

/// Whether `url` asks for TLS.
pub(super) fn is_tls_url(url: &str) -> bool {
    url.starts_with("rediss://")
}

/// `host` of `host:port` or `[v6]:port`, as the name the certificate must carry (an IP address
/// must be in the certificate's IP SANs, a host name in its DNS SANs).
fn server_name(addr: &str) -> std::io::Result<ServerName<'static>> {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|e| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{host:?} is not a name a TLS certificate can carry: {e}"),
        )
    })
}

fn client_config(
    ca_pem: Option<&[u8]>,
    target: &RedisTarget,
) -> Result<rustls::ClientConfig, Error> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            let file = target
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let bad = |why: String| {
                Error::Settings(format!(
                    "the Redis CA file {file} (REDIS_CA_FILE) {why}: it must hold PEM \
                     certificates (-----BEGIN CERTIFICATE-----)"
                ))
            };
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| bad(format!("does not parse ({e})")))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("holds a certificate rustls refuses ({e})")))?;
            }
            if roots.is_empty() {
                return Err(bad("holds no certificate".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    // The provider is named, not taken from the process default: only `ring` is built in.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Settings(format!("TLS setup for Redis failed: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::server_name;

    #[test]
    fn the_certificate_name_is_the_reported_host() {
        assert_eq!(
            format!("{:?}", server_name("10.0.0.5:6380").unwrap()),
            format!(
                "{:?}",
                rustls::pki_types::ServerName::try_from("10.0.0.5").unwrap()
            )
        );
        assert!(matches!(
            server_name("[::1]:6380").unwrap(),
            rustls::pki_types::ServerName::IpAddress(_)
        ));
        assert!(matches!(
            server_name("redis-0.internal:6380").unwrap(),
            rustls::pki_types::ServerName::DnsName(_)
        ));
    }
}
