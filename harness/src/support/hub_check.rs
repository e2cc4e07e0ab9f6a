//! The exchange's verdict on a send without a network: the mock exchange's own rules
//! ([`careplan_mock_server::Hub::prepare_send`], which checks and stores nothing) on a throwaway
//! store in a temporary folder, with every office the files name registered and licensed. Used by
//! `diagnose` (would the exchange take these files from this client?) and `shrink` (does the
//! scenario's send go through?). Limits, attachment types and the client version that knows V4.1
//! names are the exchange's defaults (docs/exchange.md).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use careplan_mock_server::config::{Config, Licence, OfficeConfig};
use careplan_mock_server::hub::{Destination, SendRequest, Upload};
use careplan_mock_server::store::Session;
use careplan_mock_server::{Hub, HubError};
use careplan_spec::{FileName, OfficeNumber};

/// A hub on a temporary store, removed when dropped.
pub struct HubCheck {
    hub: Option<Hub>,
    dir: PathBuf,
}

/// Why the check could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("failed to open a temporary exchange in {dir}: {message}")]
pub struct HubCheckError {
    pub dir: PathBuf,
    pub message: String,
}

impl HubCheck {
    /// A hub knowing `offices` (number → service types offered).
    pub fn open(offices: &BTreeMap<OfficeNumber, BTreeSet<String>>) -> Result<Self, HubCheckError> {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cpkit-hub-check-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let err = |message: String| HubCheckError {
            dir: dir.clone(),
            message,
        };
        std::fs::create_dir_all(&dir).map_err(|e| err(e.to_string()))?;
        let mut config = Config {
            data: dir.join("exchange"),
            ..Config::default()
        };
        config.limits.password_iterations = 1;
        config.offices = offices
            .iter()
            .map(|(number, types)| OfficeConfig {
                number: number.clone(),
                name: String::new(),
                service_types: types.iter().cloned().collect(),
                licence: Licence::Active,
                licence_until: None,
            })
            .collect();
        let hub = Hub::open(config).map_err(|e| err(e.to_string()))?;
        Ok(Self {
            hub: Some(hub),
            dir,
        })
    }

    /// The hub's configuration (limits, switches).
    pub fn config(&self) -> &Config {
        &self.hub.as_ref().expect("open until dropped").config
    }

    /// Whether the exchange takes a send of `files` from `from` to `to` by a client of
    /// `client_version`.
    pub fn check(
        &self,
        from: &str,
        to: Destination,
        client_version: &str,
        files: &[(&str, &[u8])],
    ) -> Result<(), HubError> {
        let hub = self.hub.as_ref().expect("open until dropped");
        let session = Session {
            user_id: format!("KJ{from}01"),
            office: from.to_owned(),
            terminal: "cpkit-check".to_owned(),
            client_version: client_version.to_owned(),
            expires: i64::MAX,
            // No certificate: the check runs without a connection.
            cert_serial: None,
        };
        let req = SendRequest {
            destinations: vec![to],
            message: String::new(),
            files: files
                .iter()
                .map(|(name, bytes)| Upload {
                    name: (*name).to_owned(),
                    content: Arc::new(bytes.to_vec()),
                })
                .collect(),
            draft: false,
        };
        hub.prepare_send(&session, &req).map(|_| ())
    }
}

impl Drop for HubCheck {
    fn drop(&mut self) {
        // Close the store before removing its folder.
        self.hub.take();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The offices named by a set of file names, with the service types their V4 names give.
pub fn offices_of<'a>(
    names: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<OfficeNumber, BTreeSet<String>> {
    let mut out: BTreeMap<OfficeNumber, BTreeSet<String>> = BTreeMap::new();
    for n in names {
        if let Ok(name) = FileName::parse(n) {
            for p in [&name.sender, &name.receiver] {
                let e = out.entry(p.office.clone()).or_default();
                if let Some(t) = p.service_type() {
                    e.insert(t.as_str().to_owned());
                }
            }
        }
    }
    out
}

/// The destination of a unit: its receiver office and, in V4 names, the service type addressed.
pub fn destination(name: &FileName) -> Destination {
    Destination {
        office: name.receiver.office.as_str().to_owned(),
        service_type: name.receiver.service_type().map(|t| t.as_str().to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    const SIKYU: &str = "UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    const HOSOKU: &str = "UPHOSOKU_202506_0310000100_43_0320000202_15_20250527090000.CSV";

    #[test]
    fn v41_names_pass_a_current_client_and_fail_an_old_one() {
        let names = [PLAN, SIKYU, HOSOKU];
        let check = HubCheck::open(&offices_of(names)).unwrap();
        let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, &b""[..])).collect();
        let to = destination(&FileName::parse(PLAN).unwrap());
        assert!(
            check
                .check("0310000100", to.clone(), "1.2.0", &files)
                .is_ok()
        );
        let e = check
            .check("0310000100", to.clone(), "1.1.2", &files)
            .unwrap_err();
        assert_eq!(e.code.as_str(), "FILE_NAME_FORMAT");
        // A unit missing its 補足 is refused whatever the client.
        let e = check
            .check("0310000100", to, "1.2.0", &files[..2])
            .unwrap_err();
        assert_eq!(e.code.as_str(), "FILE_NAME_FORMAT");
    }

    #[test]
    fn a_zip_attachment_is_refused_and_the_folder_is_removed() {
        let check = HubCheck::open(&offices_of([PLAN])).unwrap();
        let dir = check.dir.clone();
        let to = destination(&FileName::parse(PLAN).unwrap());
        let e = check
            .check("0310000100", to, "1.2.0", &[("plans.zip", b"PK")])
            .unwrap_err();
        assert_eq!(e.code.as_str(), "ATTACHMENT_ZIP");
        drop(check);
        assert!(!dir.exists());
    }
}
