//! HTTP mode's certificate: loaded from PEM files and reloaded when they
//! change, without a restart. [`CertStore`] is the rustls certificate
//! resolver, so every new TLS handshake takes the pair in use at that
//! moment; connections already open keep theirs.
//!
//! [`CertStore::watch`] reads both files every interval and compares their
//! bytes with the last pair it tried (contents rather than mtimes: no clock
//! granularity to miss a quick replacement, and a rename-into-place or a
//! Kubernetes secret's symlink swap look the same). A changed pair that
//! does not load (unreadable, not PEM, a key that does not match the
//! certificate: e.g. the certificate replaced before the key) is logged
//! and the old pair kept; it is tried again as soon as either file changes
//! again.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading certificates from {path}: {error}")]
    Certs { path: String, error: String },
    #[error("{path} holds no certificate")]
    NoCerts { path: String },
    #[error("reading the private key from {path}: {error}")]
    Key { path: String, error: String },
    #[error("certificate and key do not make a TLS configuration: {0}")]
    Config(String),
}

/// The certificate and key in use, and where they are reloaded from.
#[derive(Debug)]
pub struct CertStore {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<rustls::crypto::CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    /// The file contents last tried (good or bad), so one bad pair is
    /// logged once, not at every poll.
    tried: Mutex<(Vec<u8>, Vec<u8>)>,
}

impl CertStore {
    /// Loads the pair; an error here stops the gateway (there is no old
    /// pair to keep).
    pub fn load(cert: &Path, key: &Path) -> Result<Arc<CertStore>, TlsError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let (cert_pem, key_pem) = read_pair(cert, key)?;
        let certified = certified_key(&provider, cert, &cert_pem, key, &key_pem)?;
        Ok(Arc::new(CertStore {
            cert_path: cert.to_path_buf(),
            key_path: key.to_path_buf(),
            provider,
            current: RwLock::new(Arc::new(certified)),
            tried: Mutex::new((cert_pem, key_pem)),
        }))
    }

    /// Reads the files again: `Ok(true)` when a new pair is now in use,
    /// `Ok(false)` when nothing changed since the last try, an error when
    /// the changed pair does not load (the old one stays in use).
    pub fn reload(&self) -> Result<bool, TlsError> {
        let (cert_pem, key_pem) = read_pair(&self.cert_path, &self.key_path)?;
        {
            let mut tried = self.tried.lock().unwrap_or_else(|p| p.into_inner());
            if tried.0 == cert_pem && tried.1 == key_pem {
                return Ok(false);
            }
            *tried = (cert_pem.clone(), key_pem.clone());
        }
        let certified = certified_key(
            &self.provider,
            &self.cert_path,
            &cert_pem,
            &self.key_path,
            &key_pem,
        )?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(certified);
        Ok(true)
    }

    /// Calls [`CertStore::reload`] every `every`, logging a new pair (info)
    /// or a bad one (error); runs until the process ends.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut last_error: Option<String> = None;
        loop {
            tokio::time::sleep(every).await;
            match self.reload() {
                Ok(true) => {
                    last_error = None;
                    tracing::info!(cert = %self.cert_path.display(), "certificate reloaded; new connections use it");
                }
                Ok(false) => {}
                Err(e) => {
                    // An unreadable file fails every poll: log it once.
                    let message = e.to_string();
                    if last_error.as_ref() != Some(&message) {
                        tracing::error!(error = %message, "certificate not reloaded; the previous one stays in use until the files hold a valid pair");
                    }
                    last_error = Some(message);
                }
            }
        }
    }

    /// The end-entity certificate in use (DER).
    pub fn current_certificate(&self) -> CertificateDer<'static> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).cert[0].clone()
    }

    /// A rustls server configuration that takes its certificate from this
    /// store, offering HTTP/2 and HTTP/1.1 by ALPN (in that order).
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}

fn read_pair(cert: &Path, key: &Path) -> Result<(Vec<u8>, Vec<u8>), TlsError> {
    let cert_pem = std::fs::read(cert).map_err(|e| TlsError::Certs {
        path: cert.display().to_string(),
        error: e.to_string(),
    })?;
    let key_pem = std::fs::read(key).map_err(|e| TlsError::Key {
        path: key.display().to_string(),
        error: e.to_string(),
    })?;
    Ok((cert_pem, key_pem))
}

/// The pair as rustls signs with it: a PEM certificate chain and a PEM
/// private key (PKCS#8, PKCS#1 or SEC1) that matches its first certificate.
fn certified_key(
    provider: &rustls::crypto::CryptoProvider,
    cert_path: &Path,
    cert_pem: &[u8],
    key_path: &Path,
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Certs {
            path: cert_path.display().to_string(),
            error: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCerts {
            path: cert_path.display().to_string(),
        });
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::Key {
        path: key_path.display().to_string(),
        error: e.to_string(),
    })?;
    CertifiedKey::from_der(certs, key, provider).map_err(|e| TlsError::Config(e.to_string()))
}
