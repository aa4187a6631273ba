//! TLS handshake facts: who a server says it is (certificate subject, issuer, names, expiry)
//! and which protocol it speaks, read with rustls (ring). The certificate is recorded, never
//! trusted: a scanner must see self-signed and expired certificates too, so chain validation is
//! skipped, while the handshake's own signatures are still checked.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Ports where TLS is tried before anything else.
pub const TLS_PORTS: [u16; 14] = [
    443, 465, 636, 853, 993, 995, 2376, 4443, 5001, 8006, 8443, 8920, 9443, 10443,
];

/// Records the server's certificate without judging it.
#[derive(Debug)]
struct RecordOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for RecordOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector() -> Option<TlsConnector> {
    static CONNECTOR: OnceLock<Option<TlsConnector>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .ok()?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(RecordOnly(provider)))
                .with_no_client_auth();
            Some(TlsConnector::from(Arc::new(config)))
        })
        .clone()
}

/// How a handshake ended.
#[allow(clippy::large_enum_variant)]
pub enum Handshake {
    /// It worked: the stream and the facts learned.
    Done(TlsStream<TcpStream>, BTreeMap<String, String>),
    /// The peer does not speak TLS (or broke the handshake off).
    Failed,
    /// It did not finish within the limit (a peer that stalls mid-handshake).
    TimedOut,
}

/// Runs a TLS handshake over `tcp`, all of it within `limit` (an overall deadline, not a
/// per-read one: a peer that trickles a partial ServerHello is cut off); the stream and the
/// facts learned (`tls.version`, `tls.subject`, `tls.issuer`, `tls.not_after`, `tls.san`).
pub async fn handshake(tcp: TcpStream, ip: IpAddr, limit: Duration) -> Handshake {
    let Some(connector) = connector() else {
        return Handshake::Failed;
    };
    let tls = match tokio::time::timeout(
        limit,
        connector.connect(ServerName::IpAddress(ip.into()), tcp),
    )
    .await
    {
        Err(_) => return Handshake::TimedOut,
        Ok(Err(_)) => return Handshake::Failed,
        Ok(Ok(tls)) => tls,
    };
    let mut facts = BTreeMap::new();
    {
        let (_, conn) = tls.get_ref();
        if let Some(v) = conn.protocol_version() {
            facts.insert("tls.version".into(), format!("{v:?}").replace('_', "."));
        }
        if let Some(cert) = conn.peer_certificates().and_then(|c| c.first()) {
            facts.extend(certificate_facts(cert.as_ref()));
        }
    }
    Handshake::Done(tls, facts)
}

/// Facts from a DER certificate; empty when it cannot be read. Never panics, whatever the
/// bytes.
pub fn certificate_facts(der: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return out;
    };
    out.insert("tls.subject".into(), cert.subject().to_string());
    out.insert("tls.issuer".into(), cert.issuer().to_string());
    if let Ok(t) = cert.validity().not_after.to_rfc2822() {
        out.insert("tls.not_after".into(), t);
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names: Vec<String> = san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                x509_parser::extensions::GeneralName::IPAddress(b) => match b.len() {
                    4 => Some(IpAddr::from(<[u8; 4]>::try_from(*b).ok()?).to_string()),
                    16 => Some(IpAddr::from(<[u8; 16]>::try_from(*b).ok()?).to_string()),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        if !names.is_empty() {
            out.insert("tls.san".into(), names.join(", "));
        }
    }
    out
}

/// The common name of a subject string (`CN=web.lab.test, O=…` gives `web.lab.test`).
pub fn common_name(subject: &str) -> Option<&str> {
    subject
        .split(", ")
        .find_map(|p| p.strip_prefix("CN="))
        .filter(|c| !c.is_empty())
}

/// Whether a response looks like a TLS server's alert or handshake (a TLS port answered in
/// plain text), or an HTTP server complaining about plain HTTP on its TLS port.
pub fn looks_like_tls(response: &[u8]) -> bool {
    (response.len() >= 3 && matches!(response[0], 0x15 | 0x16) && response[1] == 0x03)
        || String::from_utf8_lossy(&response[..response.len().min(2048)])
            .contains("sent to HTTPS port")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn common_names() {
        assert_eq!(
            common_name("CN=web.lab.test, O=Scanopy"),
            Some("web.lab.test")
        );
        assert_eq!(common_name("O=Scanopy, CN=x"), Some("x"));
        assert_eq!(common_name("O=Scanopy"), None);
    }

    #[test]
    fn tls_answers_in_plain_text() {
        assert!(looks_like_tls(b"\x15\x03\x01\x00\x02\x02\x50"));
        assert!(looks_like_tls(
            b"HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port"
        ));
        assert!(!looks_like_tls(b"HTTP/1.1 200 OK\r\n\r\n"));
    }

    proptest! {
        #[test]
        fn any_certificate_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = certificate_facts(&bytes);
            let _ = looks_like_tls(&bytes);
        }
    }
}
