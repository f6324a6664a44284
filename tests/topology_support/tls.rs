//! TLS for the topology tests: a CA and a server certificate made by the test (rcgen), and
//! `redis-server`s that listen on TLS only, on free loopback ports, killed on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use super::flatten;
use crate::support::*;

/// A private CA and one server certificate for `127.0.0.1` and `localhost`, as PEM files.
pub struct TestCa {
    pub dir: TempDir,
    /// The CA certificate (what `REDIS_CA_FILE` names).
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = TempDir::new("tls-ca");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "cronq test CA");
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        // `new` makes an IP SAN of "127.0.0.1" (Sentinel reports IP addresses) and a DNS SAN of
        // "localhost".
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "cronq test redis");
        // ClientAuth too: replicas and sentinels present this certificate to the primary.
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params
            .signed_by(&key, &Issuer::new(ca_params, ca_key))
            .unwrap();
        TestCa {
            ca: dir.write("ca.pem", &ca_cert.pem()),
            cert: dir.write("redis.pem", &cert.pem()),
            key: dir.write("redis.key", &key.serialize_pem()),
            dir,
        }
    }

    /// The `redis-server` arguments serving TLS with this certificate, clients not asked for one.
    pub fn server_args(&self) -> Vec<String> {
        [
            ("--tls-cert-file", &self.cert),
            ("--tls-key-file", &self.key),
            ("--tls-ca-cert-file", &self.ca),
        ]
        .iter()
        .flat_map(|(k, v)| [k.to_string(), v.display().to_string()])
        .chain(["--tls-auth-clients".into(), "no".into()])
        .collect()
    }

    /// The same as sentinel config lines, with `tls-replication yes` (the sentinel then talks
    /// TLS to the primary and replicas) and its own TLS port `tls_port`.
    pub fn sentinel_lines(&self, tls_port: u16) -> String {
        format!(
            "tls-port {tls_port}\ntls-cert-file {}\ntls-key-file {}\ntls-ca-cert-file {}\n\
             tls-auth-clients no\ntls-replication yes\n",
            self.cert.display(),
            self.key.display(),
            self.ca.display()
        )
    }
}

/// A `redis-server` listening on TLS only (`--port 0`).
pub struct TlsRedis {
    pub port: u16,
    ca: PathBuf,
    _dir: TempDir,
    child: Option<Child>,
}

impl TlsRedis {
    /// A TLS-only server; `extra` are more `redis-server` arguments.
    pub fn start(ca: &TestCa, extra: &[&str]) -> TlsRedis {
        let dir = TempDir::new("tls-redis");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--dir"])
            .arg(dir.path())
            .args(ca.server_args())
            .args(["--daemonize", "no", "--loglevel", "warning"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed");
        let server = TlsRedis {
            port,
            ca: ca.ca.clone(),
            _dir: dir,
            child: Some(child),
        };
        poll(
            Duration::from_secs(10),
            "a TLS redis-server to answer",
            || (server.cmd(&["PING"]).ok()? == "PONG").then_some(()),
        );
        server
    }

    /// A TLS replica of `primary`, once its link is up; `extra` as for [`TlsRedis::start`] (ACL
    /// users are not replicated: a replica that may be promoted needs the same ones).
    pub fn replica_of(ca: &TestCa, primary: &TlsRedis, extra: &[&str]) -> TlsRedis {
        let port = primary.port.to_string();
        let mut args = vec![
            "--tls-replication",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &port,
        ];
        args.extend_from_slice(extra);
        let replica = TlsRedis::start(ca, &args);
        poll(Duration::from_secs(20), "the TLS replica to sync", || {
            replica
                .cmd(&["INFO", "replication"])
                .ok()?
                .contains("master_link_status:up")
                .then_some(())
        });
        replica
    }

    /// One command over TLS (the test CA checked), its reply flattened to lines.
    pub fn cmd(&self, args: &[&str]) -> Result<String, String> {
        let pem = std::fs::read(&self.ca).map_err(|e| e.to_string())?;
        let client = redis::Client::build_with_tls(
            format!("rediss://127.0.0.1:{}", self.port),
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(pem),
            },
        )
        .map_err(|e| e.to_string())?;
        let mut conn = client
            .get_connection_with_timeout(Duration::from_secs(2))
            .map_err(|e| e.to_string())?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let v: redis::Value = cmd.query(&mut conn).map_err(|e| e.to_string())?;
        Ok(flatten(&v))
    }

    /// Members of `bull:{queue}:{state}` (a sorted set).
    pub fn zcard(&self, queue: &str, state: &str) -> usize {
        self.cmd(&["ZCARD", &format!("bull:{queue}:{state}")])
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// Kills the server (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
