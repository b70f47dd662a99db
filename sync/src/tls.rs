//! The one rustls client configuration both connections use when a CA file is configured.

use std::path::Path;
use std::sync::Arc;

/// A rustls client configuration (ring provider) that trusts exactly the PEM CA certificates in
/// `path`. The error is a sentence naming the file.
pub fn trusting(path: &Path) -> Result<Arc<rustls::ClientConfig>, String> {
    let what = format!("ca_file {}", path.display());
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{what}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{what}: {e}"))?;
    }
    if roots.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("{what}: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
