//! A throwaway certificate authority made for one test, and server certificates signed
//! by it: valid, expired, or for another name. PEM files live in a temporary directory
//! removed with the [`TestCa`].

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::{Duration, OffsetDateTime};

/// A CA that exists only for this test.
pub struct TestCa {
    issuer: Issuer<'static, KeyPair>,
    cert_pem: String,
    dir: tempfile::TempDir,
}

/// Which kind of server certificate to issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    /// Valid from an hour ago for a day.
    Current,
    /// Ended yesterday.
    Expired,
}

/// PEM files of a server certificate and its key.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestCa {
    /// A new CA named `name` (shown in certificate errors).
    pub fn new(name: &str) -> TestCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        let dir = tempfile::tempdir().expect("temp dir");
        let ca = TestCa { issuer: Issuer::new(params, key), cert_pem: cert.pem(), dir };
        std::fs::write(ca.ca_file(), &ca.cert_pem).expect("write CA");
        ca
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate's file (what `SSL_CERT_FILE` or `--ca-file` points at).
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The directory the files are written to.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Issues a server certificate for `names` (DNS names or IP literals), written as
    /// `<file>.pem` and `<file>.key` in [`TestCa::dir`].
    pub fn issue(&self, file: &str, names: &[&str], validity: Validity) -> ServerCert {
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names).expect("server params");
        params.distinguished_name.push(DnType::CommonName, file);
        let now = OffsetDateTime::now_utc();
        (params.not_before, params.not_after) = match validity {
            Validity::Current => (now - Duration::hours(1), now + Duration::days(1)),
            Validity::Expired => (now - Duration::days(30), now - Duration::days(1)),
        };
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("server certificate");
        let out =
            ServerCert { cert: self.dir().join(format!("{file}.pem")), key: self.dir().join(format!("{file}.key")) };
        std::fs::write(&out.cert, cert.pem()).expect("write certificate");
        std::fs::write(&out.key, key.serialize_pem()).expect("write key");
        out
    }
}
