//! The venue's TLS identity: a CA and a `localhost`/`127.0.0.1` server certificate signed by
//! it, generated fresh at every start. The CA certificate is written next to the venue's data
//! (`venue-ca.pem`) so an engine can trust it with its `ca_file` option; the keys never leave
//! the process.

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A generated identity.
#[derive(Debug)]
pub struct TlsIdentity {
    /// Server configuration presenting the chain.
    pub config: Arc<rustls::ServerConfig>,
    /// Where the CA certificate was written.
    pub ca_path: PathBuf,
}

/// Generates a CA and a server certificate, writes the CA to `<dir>/venue-ca.pem`.
///
/// # Errors
///
/// When generation, the write or the rustls configuration fails.
pub fn generate(dir: &Path) -> Result<TlsIdentity> {
    let ca_key = KeyPair::generate().context("generate CA key")?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).context("CA parameters")?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "tickwire venue simulator CA");
    let ca = ca_params.self_signed(&ca_key).context("self-sign CA")?;

    let key = KeyPair::generate().context("generate server key")?;
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .context("server parameters")?;
    params
        .distinguished_name
        .push(DnType::CommonName, "tickwire venue simulator");
    let cert = params
        .signed_by(&key, &ca, &ca_key)
        .context("sign server certificate")?;

    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let ca_path = dir.join("venue-ca.pem");
    std::fs::write(&ca_path, ca.pem()).with_context(|| format!("write {}", ca_path.display()))?;

    let chain = vec![
        CertificateDer::from(cert.der().to_vec()),
        CertificateDer::from(ca.der().to_vec()),
    ];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .context("TLS server certificate")?;
    Ok(TlsIdentity {
        config: Arc::new(config),
        ca_path,
    })
}
