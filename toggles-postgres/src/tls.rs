//! TLS for the store's connections, as libpq's `sslmode` and `sslrootcert` ask: what a managed
//! database (RDS with `force_ssl`, Cloud SQL, Neon) requires, written the way its documentation
//! writes it.
//!
//! | `sslmode` | encrypted | certificate checked |
//! |---|---|---|
//! | `disable` | no | — |
//! | `prefer` (the default) | if the server offers it | no |
//! | `require` | yes | no; against `sslrootcert` if one is given (as libpq does) |
//! | `verify-ca` | yes | signed by a trusted root |
//! | `verify-full` | yes | signed by a trusted root, for the host connected to |
//!
//! `sslrootcert` is a PEM file of the roots to trust (a provider's CA bundle), or `system` for
//! the operating system's store, which is also what `verify-ca` and `verify-full` trust when
//! `sslrootcert` is not given. The driver's own parser knows only `disable`, `prefer` and
//! `require`, and no `sslrootcert`, so both are taken out of the connection string here.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use postgres::config::SslMode as DriverMode;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio_postgres_rustls::MakeRustlsConnect;

/// How a connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// The roots a certificate is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Roots {
    /// A PEM file.
    File(PathBuf),
    /// The operating system's store.
    System,
}

/// What a connection string asks of TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tls {
    pub(crate) mode: SslMode,
    pub(crate) roots: Option<Roots>,
}

impl Tls {
    /// The mode the driver is told: it encrypts or not; the checking is this module's.
    pub(crate) fn driver_mode(&self) -> DriverMode {
        match self.mode {
            SslMode::Disable => DriverMode::Disable,
            SslMode::Prefer => DriverMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => DriverMode::Require,
        }
    }

    /// How much of a server's certificate is checked: libpq's `require` with a root given is
    /// `verify-ca`.
    fn check(&self) -> SslMode {
        match (self.mode, &self.roots) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        }
    }

    /// The connector the driver encrypts with, checking certificates as asked.
    pub(crate) fn connector(&self) -> Result<MakeRustlsConnect, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let config = match self.check() {
            SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Unchecked(provider)))
                .with_no_client_auth(),
            check => {
                let roots = Arc::new(self.roots()?);
                let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
                    .build()
                    .map_err(|e| format!("TLS: {e}"))?;
                if check == SslMode::VerifyFull {
                    builder.with_webpki_verifier(webpki).with_no_client_auth()
                } else {
                    builder
                        .dangerous()
                        .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
                        .with_no_client_auth()
                }
            }
        };
        Ok(MakeRustlsConnect::new(config))
    }

    fn roots(&self) -> Result<RootCertStore, String> {
        let mut store = RootCertStore::empty();
        match self.roots.as_ref().unwrap_or(&Roots::System) {
            Roots::File(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(format!(
                        "sslrootcert {}: no certificate in it",
                        path.display()
                    ));
                }
            }
            Roots::System => {
                let found = rustls_native_certs::load_native_certs();
                let (added, _) = store.add_parsable_certificates(found.certs);
                if added == 0 {
                    return Err(
                        "sslrootcert=system: the operating system's store holds no certificate; give `sslrootcert=/path/to/ca.pem`"
                            .to_owned(),
                    );
                }
            }
        }
        Ok(store)
    }
}

/// Takes `sslmode` and `sslrootcert` out of `connection` — libpq's `key=value` pairs or a
/// `postgres://` URL — and returns the rest, for the driver, with what they ask.
pub(crate) fn split(connection: &str) -> Result<(String, Tls), String> {
    let is_url = connection.starts_with("postgres://") || connection.starts_with("postgresql://");
    let (rest, pairs) = if is_url {
        split_url(connection)?
    } else {
        split_pairs(connection)?
    };
    let mut tls = Tls {
        mode: SslMode::Prefer,
        roots: None,
    };
    for (key, value) in pairs {
        match key.as_str() {
            "sslmode" => {
                tls.mode = match value.as_str() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(format!(
                            "`sslmode={other}` is not one of disable, prefer, require, verify-ca, verify-full"
                        ))
                    }
                }
            }
            _ => {
                tls.roots = Some(match value.as_str() {
                    "system" => Roots::System,
                    path => Roots::File(PathBuf::from(path)),
                });
            }
        }
    }
    Ok((rest, tls))
}

fn ours(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

type Pairs = Vec<(String, String)>;

/// `postgres://…?a=1&sslmode=verify-full` → `postgres://…?a=1`, and the pairs taken out.
fn split_url(url: &str) -> Result<(String, Pairs), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), Vec::new()));
    };
    let mut kept = Vec::new();
    let mut taken = Vec::new();
    for param in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| format!("`{param}` is not UTF-8 once decoded"))
        };
        let key = decode(key)?;
        if ours(&key) {
            taken.push((key, decode(value)?));
        } else {
            kept.push(param);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, taken))
}

/// `host=db sslmode=verify-full` → `host=db`, and the pairs taken out. A value is a run of
/// characters other than white space, or single-quoted with `\'` and `\\` inside (libpq's rules).
fn split_pairs(text: &str) -> Result<(String, Pairs), String> {
    let bytes = text.as_bytes();
    let mut rest = String::new();
    let mut taken = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i] != b'=' && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let key = &text[start..i];
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(format!("`{key}` has no `=` and value"));
        }
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'\'' {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Err(format!("the value of `{key}` has no closing quote")),
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') if i + 1 < bytes.len() => {
                        let escaped = text[i + 1..].chars().next().expect("a character");
                        value.push(escaped);
                        i += 1 + escaped.len_utf8();
                    }
                    Some(_) => {
                        let c = text[i..].chars().next().expect("a character");
                        value.push(c);
                        i += c.len_utf8();
                    }
                }
            }
        } else {
            let from = i;
            while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            value.push_str(&text[from..i]);
        }
        if ours(key) {
            taken.push((key.to_owned(), value));
        } else {
            if !rest.is_empty() {
                rest.push(' ');
            }
            rest.push_str(&text[start..i]);
        }
    }
    Ok((rest, taken))
}

/// Checks nothing of the certificate but the handshake's own signatures: libpq's `prefer` and
/// `require`, which encrypt against eavesdropping but not against a server in the middle.
struct Unchecked(Arc<CryptoProvider>);

impl fmt::Debug for Unchecked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Unchecked")
    }
}

impl ServerCertVerifier for Unchecked {
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
        verify_tls12_signature(
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
        verify_tls13_signature(
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

/// libpq's `verify-ca`: the chain must lead to a trusted root, whatever host it names.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(mode: SslMode, roots: Option<Roots>) -> Tls {
        Tls { mode, roots }
    }

    #[test]
    fn takes_the_tls_settings_out_of_key_value_pairs() {
        let (rest, got) = split(
            "host=db.example.com sslmode=verify-full  user = 'app user' sslrootcert='/etc/ssl/rds ca.pem' dbname=app",
        )
        .unwrap();
        assert_eq!(rest, "host=db.example.com user = 'app user' dbname=app");
        assert_eq!(
            got,
            tls(
                SslMode::VerifyFull,
                Some(Roots::File("/etc/ssl/rds ca.pem".into()))
            )
        );
        let (rest, got) = split("host=127.0.0.1 password='it\\'s'").unwrap();
        assert_eq!(rest, "host=127.0.0.1 password='it\\'s'");
        assert_eq!(got, tls(SslMode::Prefer, None));
        let (rest, _) = split("password='\\é\\\\' sslmode=require").unwrap();
        assert_eq!(
            rest, "password='\\é\\\\'",
            "an escaped character of any width"
        );
        assert!(split("host=db sslmode=sometimes").is_err());
        assert!(split("host='db").is_err());
    }

    #[test]
    fn takes_the_tls_settings_out_of_a_url() {
        let (rest, got) = split(
            "postgres://app:secret@db.example.com:5432/app?sslmode=verify-ca&application_name=x&sslrootcert=%2Fetc%2Fca.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://app:secret@db.example.com:5432/app?application_name=x"
        );
        assert_eq!(
            got,
            tls(SslMode::VerifyCa, Some(Roots::File("/etc/ca.pem".into())))
        );
        let (rest, got) = split("postgresql://db/app?sslmode=require").unwrap();
        assert_eq!(rest, "postgresql://db/app");
        assert_eq!(got.driver_mode(), DriverMode::Require);
        assert_eq!(got.check(), SslMode::Require);
        let (_, got) = split("postgresql://db/app?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!(
            got.check(),
            SslMode::VerifyCa,
            "libpq's require with a root"
        );
    }

    #[test]
    fn a_missing_root_file_is_a_clear_error() {
        let (_, got) = split("host=db sslmode=verify-full sslrootcert=/no/such/ca.pem").unwrap();
        let err = got.connector().err().unwrap();
        assert!(err.starts_with("sslrootcert /no/such/ca.pem: "), "{err}");
    }
}
