//! Setting up a scenario: a fresh test PKI, the hub's registry (offices, users, licences), the
//! offices' certificates, the mock exchange on 127.0.0.1:0 with its clock on the scenario's day,
//! and one software per office.

use std::path::Path;

use careplan_mock_server::client::Identity;
use careplan_mock_server::config::{
    Config, DEMO_PASSWORD, Licence, OfficeConfig, PasswordState, UserConfig, demo_user_id,
};
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::server::RunningServer;
use careplan_spec::OfficeNumber;

use super::RunOptions;
use super::clock::{exchange_start, resolve_until};
use super::office::OfficeRun;
use super::sut::{HubAccess, software_for};
use crate::outcome::CertificateUse;
use crate::scenario::Scenario;

/// Sets up the exchange and offices of a scenario, or says why not.
pub(super) async fn set_up(
    s: &Scenario,
    work: &Path,
    options: &RunOptions,
    today: time::Date,
) -> Result<(RunningServer, Vec<OfficeRun>, i64), String> {
    let pki = Pki::new(work.join("pki"));
    pki.init(true)
        .map_err(|e| format!("failed to create the test PKI: {e}"))?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        data: work.join("exchange"),
        certs: work.join("pki"),
        ..Config::default()
    };
    config.limits.password_iterations = 1_000;
    if let Some(mode) = s.file.exchange.receive_mode {
        config.switches.receive_mode = mode;
    }
    let mut offices = Vec::new();
    let mut pending = Vec::new();
    for o in &s.file.offices {
        let spec = o.get_ref().clone();
        let number = OfficeNumber::parse(&spec.number)
            .ok_or_else(|| format!("office {}: bad number {}", spec.id, spec.number))?;
        if spec.licence != "unregistered" {
            let licence = Licence::from_tag(&spec.licence)
                .ok_or_else(|| format!("office {}: bad licence {}", spec.id, spec.licence))?;
            let until = match &spec.licence_until {
                Some(t) => Some(
                    resolve_until(t, today)
                        .ok_or_else(|| format!("office {}: bad licence_until {t}", spec.id))?,
                ),
                None if licence == Licence::Expired => resolve_until("-1d", today),
                None => Some("2099-12-31".to_owned()),
            };
            config.offices.push(OfficeConfig {
                number: number.clone(),
                name: spec.name.clone(),
                service_types: spec.service_types.clone(),
                licence,
                licence_until: until,
            });
            config.users.push(UserConfig {
                id: demo_user_id(&number),
                office: number.clone(),
                password: DEMO_PASSWORD.to_owned(),
                state: spec
                    .password
                    .as_deref()
                    .and_then(PasswordState::from_tag)
                    .unwrap_or_default(),
                agent: false,
            });
        }
        let identity = if spec.certificate == "none" {
            Identity::without_certificate(pki.ca_cert())
        } else {
            let variant: Variant = spec.certificate.parse().map_err(|e| format!("{e}"))?;
            let kind: CertKind = spec.certificate_kind.parse().map_err(|e| format!("{e}"))?;
            let files = pki
                .issue(&number, kind, variant, Some(&spec.id))
                .map_err(|e| format!("failed to issue the certificate of {}: {e}", spec.id))?;
            Identity::new(pki.ca_cert(), files.cert, files.key)
        };
        pending.push((spec, number, identity));
    }
    let server = careplan_mock_server::start(config)
        .await
        .map_err(|e| format!("failed to start the mock exchange: {e}"))?;
    let access = HubAccess {
        server: &server,
        pki: &pki,
    };
    for (spec, number, identity) in pending {
        let software = software_for(&spec, &number, options.sut.as_ref(), work, &access)?;
        offices.push(OfficeRun::new(spec, number, software, identity));
    }
    // The hub's clock starts on the scenario's first day (licences, passwords and sessions are
    // judged on it); certificates keep the real clock, which TLS checks.
    let start = exchange_start(today).unix_timestamp();
    let offset = start - time::OffsetDateTime::now_utc().unix_timestamp();
    server
        .hub
        .set_clock_offset(offset)
        .map_err(|e| format!("failed to set the exchange's clock: {e}"))?;
    Ok((server, offices, offset))
}

/// The certificate an office presents, as a replay bundle records it: its fingerprint (SHA-256 of
/// the DER bytes) and serial, beside the scenario's variant and kind.
pub(super) fn certificate_use(o: &OfficeRun) -> CertificateUse {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject as _;
    let (sha256, serial) = o
        .identity
        .client
        .as_ref()
        .and_then(|(cert, _)| CertificateDer::from_pem_file(cert).ok())
        .map(|der| {
            let digest = ring::digest::digest(&ring::digest::SHA256, &der);
            let serial = careplan_mock_server::pki::cert_info(&der)
                .map(|i| i.serial_hex)
                .unwrap_or_default();
            (hex(digest.as_ref()), serial)
        })
        .unwrap_or_default();
    CertificateUse {
        office: o.spec.id.clone(),
        number: o.number.as_str().to_owned(),
        variant: o.spec.certificate.clone(),
        kind: o.spec.certificate_kind.clone(),
        sha256,
        serial,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
