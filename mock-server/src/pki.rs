//! The test PKI: a local CA, the hub's server certificate and office client certificates, including
//! the broken variants the hub must refuse (expired, not yet valid, signed by another CA, revoked,
//! wrong key usage, 代理人証明書).
//!
//! Everything lives under one directory (default `certs/`, see `certs/README.md`):
//!
//! ```text
//! ca/ca.pem ca.key crl.pem revoked.txt   the test CA, its CRL and the revoked serials
//! other-ca/ca.pem ca.key                 an unrelated CA (for the "other-ca" variant)
//! server/server.pem server.key           the hub's certificate for localhost / 127.0.0.1
//! offices/<office>/<name>.pem <name>.key office client certificates
//! ```
//!
//! An office certificate's subject carries the office number as CN and the certificate kind as OU
//! (the real subject layout is not public: decision D-HUB-CERT-SUBJECT). Keys are ECDSA P-256,
//! serials are random 128-bit numbers and validity is explicit (engineering.md: rcgen defaults are
//! a dummy CN, 1975–4096 and a key-derived serial). Keys are written with mode 0600.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use careplan_spec::OfficeNumber;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SanType, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};

/// What went wrong while making or reading test certificates.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("failed to {action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("failed to generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("no test CA in {0}: run `cpkit certs init` first")]
    NoCa(PathBuf),
    #[error("{path} already exists; pass --force to replace it")]
    Exists { path: PathBuf },
    #[error("unknown certificate {what} {value:?}; expected one of {expected}")]
    Unknown {
        what: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("failed to read the certificate {path}: {reason}")]
    Parse { path: PathBuf, reason: String },
}

/// The kinds of client certificate an office may hold (exchange.md §1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertKind {
    /// 介護保険証明書 (the e-claim certificate, reused).
    KaigoHoken,
    /// 介護DX証明書 (旧称: 請求委任事業所用ケアプラン証明書).
    CareplanDx,
    /// 代理人証明書: refused by the hub.
    Dairinin,
    /// 障害総合支援証明書: refused by the hub.
    Shogai,
}

impl CertKind {
    pub const ALL: [CertKind; 4] = [
        Self::KaigoHoken,
        Self::CareplanDx,
        Self::Dairinin,
        Self::Shogai,
    ];
    const EXPECTED: &'static str = "kaigo-hoken, careplan-dx, dairinin, shogai";

    pub fn tag(self) -> &'static str {
        match self {
            Self::KaigoHoken => "kaigo-hoken",
            Self::CareplanDx => "careplan-dx",
            Self::Dairinin => "dairinin",
            Self::Shogai => "shogai",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Self::KaigoHoken => "介護保険証明書",
            Self::CareplanDx => "介護DX証明書（旧称：請求委任事業所用ケアプラン証明書）",
            Self::Dairinin => "代理人証明書",
            Self::Shogai => "障害総合支援証明書",
        }
    }

    /// Whether the exchange accepts this kind for login (FAQ: only 介護保険証明書 and the
    /// ケアプラン／介護DX証明書).
    pub fn accepted(self) -> bool {
        matches!(self, Self::KaigoHoken | Self::CareplanDx)
    }
}

impl fmt::Display for CertKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

impl FromStr for CertKind {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        Self::ALL
            .into_iter()
            .find(|k| k.tag() == s)
            .ok_or_else(|| PkiError::Unknown {
                what: "kind",
                value: s.to_owned(),
                expected: Self::EXPECTED,
            })
    }
}

/// How an issued certificate is (deliberately) broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    Valid,
    Expired,
    NotYetValid,
    /// Signed by an unrelated CA the hub does not trust.
    OtherCa,
    /// Valid, then listed in the CA's CRL.
    Revoked,
    /// Extended key usage serverAuth only (no clientAuth).
    WrongKeyUsage,
}

impl Variant {
    pub const ALL: [Variant; 6] = [
        Self::Valid,
        Self::Expired,
        Self::NotYetValid,
        Self::OtherCa,
        Self::Revoked,
        Self::WrongKeyUsage,
    ];
    const EXPECTED: &'static str =
        "valid, expired, not-yet-valid, other-ca, revoked, wrong-key-usage";

    pub fn tag(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::Expired => "expired",
            Self::NotYetValid => "not-yet-valid",
            Self::OtherCa => "other-ca",
            Self::Revoked => "revoked",
            Self::WrongKeyUsage => "wrong-key-usage",
        }
    }
}

impl FromStr for Variant {
    type Err = PkiError;
    fn from_str(s: &str) -> Result<Self, PkiError> {
        Self::ALL
            .into_iter()
            .find(|k| k.tag() == s)
            .ok_or_else(|| PkiError::Unknown {
                what: "variant",
                value: s.to_owned(),
                expected: Self::EXPECTED,
            })
    }
}

/// Paths of one certificate and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A PKI directory.
#[derive(Debug, Clone)]
pub struct Pki {
    root: PathBuf,
}

const ORG: &str = "cpkit test PKI";

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PkiError {
    let path = path.to_path_buf();
    move |error| PkiError::Io {
        action,
        path,
        error,
    }
}

fn write(path: &Path, text: &str, secret: bool) -> Result<(), PkiError> {
    if let Some(dir) = path.parent() {
        // The folder holds private keys: private whatever the umask.
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(io("create", dir))?;
    }
    // Write next to the target and rename, so a reader never sees half a key. The mode is set at
    // creation (a key is never readable by others, not even for a moment) and again after the
    // write, so that a permissive umask cannot widen it: keys 0600, certificates and CRLs 0644.
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    let mode = if secret { 0o600 } else { 0o644 };
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = secret;
    {
        use std::io::Write as _;
        let mut file = options.open(&tmp).map_err(io("write", &tmp))?;
        file.write_all(text.as_bytes()).map_err(io("write", &tmp))?;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode)).map_err(io("chmod", &tmp))?;
    }
    fs::rename(&tmp, path).map_err(io("rename", path))
}

fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system random source is available");
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte
    SerialNumber::from_slice(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn ca_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, ORG);
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.key_identifier_method = KeyIdMethod::Sha256;
    params
}

const CA_NAME: &str = "cpkit test CA (ケアプランデータ連携 mock)";
const OTHER_CA_NAME: &str = "cpkit unrelated CA (not trusted by the hub)";

impl Pki {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn ca_cert(&self) -> PathBuf {
        self.root.join("ca/ca.pem")
    }

    pub fn crl(&self) -> PathBuf {
        self.root.join("ca/crl.pem")
    }

    pub fn server(&self) -> CertFiles {
        CertFiles {
            cert: self.root.join("server/server.pem"),
            key: self.root.join("server/server.key"),
        }
    }

    /// The files of an office certificate called `name` (default `client`).
    pub fn office(&self, office: &OfficeNumber, name: &str) -> CertFiles {
        let dir = self.root.join("offices").join(office.as_str());
        CertFiles {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
        }
    }

    /// The folder where a PC keeps the keys the hub issued to its terminals of an office
    /// (`offices/<office>/terminals/`, D-HUB-TERMINAL): `cpkit`'s client commands and the web
    /// console share it.
    pub fn terminal_keys(&self, office: &OfficeNumber) -> PathBuf {
        self.root
            .join("offices")
            .join(office.as_str())
            .join("terminals")
    }

    pub fn is_initialised(&self) -> bool {
        self.ca_cert().exists() && self.server().cert.exists() && self.crl().exists()
    }

    /// Creates the CA, the unrelated CA, an empty CRL and the server certificate. Refuses to
    /// replace an existing CA unless `force`.
    pub fn init(&self, force: bool) -> Result<(), PkiError> {
        if self.ca_cert().exists() && !force {
            return Err(PkiError::Exists {
                path: self.ca_cert(),
            });
        }
        let now = OffsetDateTime::now_utc();
        for (dir, name) in [("ca", CA_NAME), ("other-ca", OTHER_CA_NAME)] {
            let key = KeyPair::generate()?;
            let mut params = ca_params(name);
            params.serial_number = Some(random_serial());
            params.not_before = now - Duration::days(1);
            params.not_after = now + Duration::days(3650);
            let cert = params.self_signed(&key)?;
            write(&self.root.join(dir).join("ca.pem"), &cert.pem(), false)?;
            write(
                &self.root.join(dir).join("ca.key"),
                &key.serialize_pem(),
                true,
            )?;
        }
        write(&self.root.join("ca/revoked.txt"), "", false)?;
        self.write_crl()?;

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, ORG);
        dn.push(DnType::CommonName, "localhost");
        params.distinguished_name = dn;
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into()?),
            SanType::IpAddress([127, 0, 0, 1].into()),
            SanType::IpAddress(std::net::Ipv6Addr::LOCALHOST.into()),
        ];
        params.serial_number = Some(random_serial());
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(825);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let issuer = self.issuer("ca", CA_NAME)?;
        let cert = params.signed_by(&key, &issuer)?;
        let files = self.server();
        write(&files.cert, &cert.pem(), false)?;
        write(&files.key, &key.serialize_pem(), true)?;
        Ok(())
    }

    fn issuer(&self, dir: &str, name: &str) -> Result<Issuer<'static, KeyPair>, PkiError> {
        let key_path = self.root.join(dir).join("ca.key");
        let pem = fs::read_to_string(&key_path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                PkiError::NoCa(self.root.clone())
            } else {
                io("read", &key_path)(e)
            }
        })?;
        let key = KeyPair::from_pem(&pem)?;
        Ok(Issuer::new(ca_params(name), key))
    }

    /// Issues an office client certificate and returns its files. `name` defaults to the variant's
    /// tag for broken variants and to `client` for a valid one.
    pub fn issue(
        &self,
        office: &OfficeNumber,
        kind: CertKind,
        variant: Variant,
        name: Option<&str>,
    ) -> Result<CertFiles, PkiError> {
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, ORG);
        dn.push(DnType::OrganizationalUnitName, kind.tag());
        dn.push(DnType::CommonName, office.as_str());
        params.distinguished_name = dn;
        let serial = random_serial();
        params.serial_number = Some(serial.clone());
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        (params.not_before, params.not_after) = match variant {
            Variant::Expired => (now - Duration::days(400), now - Duration::days(35)),
            Variant::NotYetValid => (now + Duration::days(30), now + Duration::days(400)),
            _ => (now - Duration::days(1), now + Duration::days(365)),
        };
        if variant == Variant::WrongKeyUsage {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        let issuer = if variant == Variant::OtherCa {
            self.issuer("other-ca", OTHER_CA_NAME)?
        } else {
            self.issuer("ca", CA_NAME)?
        };
        let cert = params.signed_by(&key, &issuer)?;
        let default_name = if variant == Variant::Valid {
            "client"
        } else {
            variant.tag()
        };
        let files = self.office(office, name.unwrap_or(default_name));
        write(&files.cert, &cert.pem(), false)?;
        write(&files.key, &key.serialize_pem(), true)?;
        if variant == Variant::Revoked {
            self.revoke_serial(&serial, office)?;
        }
        Ok(files)
    }

    /// Adds a serial to the CRL and rewrites it.
    fn revoke_serial(&self, serial: &SerialNumber, office: &OfficeNumber) -> Result<(), PkiError> {
        let path = self.root.join("ca/revoked.txt");
        let mut text = fs::read_to_string(&path).unwrap_or_default();
        text.push_str(&format!(
            "{} {}\n",
            hex(&serial.to_bytes()),
            office.as_str()
        ));
        write(&path, &text, false)?;
        self.write_crl()
    }

    /// Revokes an issued certificate file (any office certificate PEM).
    pub fn revoke(&self, cert: &Path) -> Result<(), PkiError> {
        let info = read_cert_info(cert)?;
        let office = OfficeNumber::parse(&info.office).ok_or_else(|| PkiError::Parse {
            path: cert.to_path_buf(),
            reason: format!("CN {:?} is not a 10-digit office number", info.office),
        })?;
        self.revoke_serial(&SerialNumber::from_slice(&info.serial), &office)
    }

    fn write_crl(&self) -> Result<(), PkiError> {
        let now = OffsetDateTime::now_utc();
        let listed = fs::read_to_string(self.root.join("ca/revoked.txt")).unwrap_or_default();
        let revoked_certs = listed
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter_map(unhex)
            .map(|bytes| RevokedCertParams {
                serial_number: SerialNumber::from_slice(&bytes),
                revocation_time: now,
                reason_code: Some(RevocationReason::KeyCompromise),
                invalidity_date: None,
            })
            .collect();
        let crl_number = random_serial();
        let params = CertificateRevocationListParams {
            this_update: now - Duration::minutes(5),
            next_update: now + Duration::days(3650),
            crl_number,
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::Sha256,
        };
        let crl = params.signed_by(&self.issuer("ca", CA_NAME)?)?;
        write(&self.crl(), &crl.pem()?, false)
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The file stamp (modification time, size) last read, and the serials it listed.
type CrlState = (
    Option<(std::time::SystemTime, u64)>,
    std::collections::HashSet<String>,
);

/// The serials a CRL file lists, re-read whenever the file changes (size or modification
/// time): the hub asks on every request, so a revocation reaches connections that completed
/// their handshake before it.
#[derive(Debug)]
pub struct CrlWatch {
    path: PathBuf,
    state: std::sync::Mutex<CrlState>,
}

impl CrlWatch {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            state: std::sync::Mutex::new((None, Default::default())),
        }
    }

    /// Whether the serial (lower-case hex of its DER bytes, as [`CertInfo::serial_hex`]) is
    /// revoked. An unreadable CRL keeps the serials last read.
    pub fn is_revoked(&self, serial_hex: &str) -> bool {
        let stamp = fs::metadata(&self.path)
            .ok()
            .and_then(|m| Some((m.modified().ok()?, m.len())));
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if stamp.is_some()
            && stamp != state.0
            && let Some(serials) = fs::read(&self.path).ok().and_then(|b| crl_serials(&b))
        {
            *state = (stamp, serials);
        }
        state.1.contains(serial_hex)
    }
}

/// The revoked serials of a PEM CRL.
fn crl_serials(pem: &[u8]) -> Option<std::collections::HashSet<String>> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem).ok()?;
    let (_, crl) = x509_parser::parse_x509_crl(&pem.contents).ok()?;
    Some(
        crl.iter_revoked_certificates()
            .map(|r| hex(r.raw_serial()))
            .collect(),
    )
}

/// What a certificate says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CertInfo {
    /// The subject CN (an office number for office certificates).
    pub office: String,
    /// The subject OU parsed as a kind, if it is one.
    pub kind: Option<CertKind>,
    #[serde(skip)]
    pub serial: Vec<u8>,
    pub serial_hex: String,
    pub not_before: i64,
    pub not_after: i64,
    pub issuer: String,
}

/// Reads the first certificate of a PEM file.
pub fn read_cert_info(path: &Path) -> Result<CertInfo, PkiError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let der = CertificateDer::from_pem_file(path).map_err(|e| PkiError::Parse {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    cert_info(&der).map_err(|reason| PkiError::Parse {
        path: path.to_path_buf(),
        reason,
    })
}

/// Reads the identity fields of a DER certificate (used by the hub on every connection).
pub fn cert_info(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| e.to_string())?;
    let subject = cert.subject();
    let first = |attrs: Vec<&x509_parser::x509::AttributeTypeAndValue<'_>>| {
        attrs
            .first()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned)
    };
    let office = first(subject.iter_common_name().collect()).unwrap_or_default();
    let kind = first(subject.iter_organizational_unit().collect()).and_then(|t| t.parse().ok());
    let serial = cert.raw_serial().to_vec();
    Ok(CertInfo {
        office,
        kind,
        serial_hex: hex(&serial),
        serial,
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        issuer: cert.issuer().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn office(n: &str) -> OfficeNumber {
        OfficeNumber::parse(n).unwrap()
    }

    #[test]
    fn issued_certificates_carry_office_kind_and_explicit_validity() {
        let dir = tempdir("pki-issue");
        let pki = Pki::new(&dir);
        pki.init(false).unwrap();
        assert!(pki.is_initialised());
        assert!(matches!(pki.init(false), Err(PkiError::Exists { .. })));

        let files = pki
            .issue(
                &office("0100000001"),
                CertKind::CareplanDx,
                Variant::Valid,
                None,
            )
            .unwrap();
        let info = read_cert_info(&files.cert).unwrap();
        assert_eq!(info.office, "0100000001");
        assert_eq!(info.kind, Some(CertKind::CareplanDx));
        assert!(info.not_after > info.not_before);
        assert!(info.not_before > 1_700_000_000, "not rcgen's 1975 default");
        assert_eq!(files.cert.file_name().unwrap(), "client.pem");

        let expired = pki
            .issue(
                &office("0100000001"),
                CertKind::KaigoHoken,
                Variant::Expired,
                None,
            )
            .unwrap();
        let info = read_cert_info(&expired.cert).unwrap();
        assert!(info.not_after < OffsetDateTime::now_utc().unix_timestamp());
        assert_eq!(expired.cert.file_name().unwrap(), "expired.pem");

        let other = pki
            .issue(
                &office("0100000001"),
                CertKind::KaigoHoken,
                Variant::OtherCa,
                None,
            )
            .unwrap();
        assert!(
            read_cert_info(&other.cert)
                .unwrap()
                .issuer
                .contains("unrelated")
        );

        let revoked = pki
            .issue(
                &office("0100000001"),
                CertKind::KaigoHoken,
                Variant::Revoked,
                None,
            )
            .unwrap();
        let serial = read_cert_info(&revoked.cert).unwrap().serial_hex;
        let listed = fs::read_to_string(dir.join("ca/revoked.txt")).unwrap();
        assert!(listed.contains(&serial));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&revoked.key).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "keys are private to the user");
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn kinds_and_variants_parse_from_their_tags() {
        for k in CertKind::ALL {
            assert_eq!(k.tag().parse::<CertKind>().unwrap(), k);
        }
        for v in Variant::ALL {
            assert_eq!(v.tag().parse::<Variant>().unwrap(), v);
        }
        let err = "hd".parse::<CertKind>().unwrap_err().to_string();
        assert!(err.contains("kaigo-hoken"), "{err}");
        assert!(!CertKind::Dairinin.accepted() && CertKind::KaigoHoken.accepted());
    }

    pub(crate) fn tempdir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "cpkit-{tag}-{}-{}",
            std::process::id(),
            OffsetDateTime::now_utc().unix_timestamp_nanos()
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }
}
