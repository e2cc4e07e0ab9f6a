//! The system under test and the software of each office: the `--sut` configuration
//! ([`SutConfig`]), and for each office of a scenario its persona, its stand-in, or the SUT through
//! its adapter (`command`, `folder`, `exchange`; the last gets its own certificate folder, URL and
//! KJ ID).

use std::path::{Path, PathBuf};

use careplan_mock_server::config::{DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::pki::Pki;
use careplan_mock_server::server::RunningServer;
use careplan_spec::{OfficeNumber, ServiceTypeCode};
use serde::Deserialize;

use crate::scenario::OfficeSpec;
use crate::software::command::{CommandConfig, CommandSut};
use crate::software::operator::{
    Channel, ExchangeAccess, ExchangeLink, OperatorConfig, OperatorSut,
};
use crate::software::persona::{self, Persona};
use crate::software::{PersonaSoftware, Software};
use crate::suite::Origin;

/// The system under test: `cpkit run --sut FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SutConfig {
    /// The product's name in reports.
    pub name: String,
    /// `command`, `folder` or `exchange` (docs/scenarios.md).
    pub adapter: String,
    #[serde(default)]
    pub command: Option<CommandConfig>,
    #[serde(default)]
    pub folder: Option<OperatorConfig>,
    #[serde(default)]
    pub exchange: Option<OperatorConfig>,
}

/// Why a SUT configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SutConfigError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl SutConfig {
    /// Reads a SUT configuration: a file on disk, or a built-in example of that relative name
    /// (`scenarios/sut/persona-reference-v4.toml`).
    pub fn load(path: &Path) -> Result<Self, SutConfigError> {
        let text = match crate::suite::locate(path) {
            Some(Origin::Builtin(name)) => crate::suite::builtin(&name)
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default(),
            _ => std::fs::read_to_string(path).map_err(|source| SutConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
        };
        let config: SutConfig = toml::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |s| crate::scenario::line_col(&text, s.start));
            SutConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let table = match config.adapter.as_str() {
            "command" => config.command.is_some(),
            // The operator adapters work on their defaults.
            "folder" | "exchange" => true,
            other => {
                return Err(SutConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("adapter {other:?}: expected command, folder or exchange"),
                });
            }
        };
        if !table {
            return Err(SutConfigError::Invalid {
                path: path.to_path_buf(),
                message: "adapter = \"command\" needs a [command] table".to_owned(),
            });
        }
        Ok(config)
    }
}

/// What the `exchange` adapter needs to give a SUT office its own access.
pub(super) struct HubAccess<'a> {
    pub server: &'a RunningServer,
    pub pki: &'a Pki,
}

/// The software of an office: its persona, the SUT through its adapter, or the SUT's stand-in.
pub(super) fn software_for(
    spec: &OfficeSpec,
    number: &OfficeNumber,
    sut: Option<&SutConfig>,
    work: &Path,
    hub: &HubAccess<'_>,
) -> Result<Box<dyn Software>, String> {
    let own_type = spec
        .service_types
        .first()
        .and_then(|t| ServiceTypeCode::parse(t))
        .ok_or_else(|| format!("office {}: no service type", spec.id))?;
    let persona_named = |name: &str| -> Result<Persona, String> {
        let mut p = persona::persona(name)
            .cloned()
            .ok_or_else(|| format!("office {}: unknown persona {name:?}", spec.id))?;
        if let Some(w) = &spec.writes {
            p.writes = careplan_spec::SpecVersion::parse(w)
                .ok_or_else(|| format!("office {}: writes {w:?} is not a version", spec.id))?;
        }
        Ok(p)
    };
    if spec.software == "sut" {
        if let Some(sut) = sut {
            let dir = work.join(format!("sut-{}", spec.id));
            let operator = |c: &Option<OperatorConfig>| {
                let mut c = c.clone().unwrap_or(OperatorConfig {
                    dir: None,
                    timeout_seconds: 900,
                    client_version: "1.2.0".to_owned(),
                });
                // A folder given in the configuration holds one folder per scenario and office.
                c.dir = c.dir.map(|d| {
                    d.join(work.file_name().unwrap_or_default())
                        .join(format!("sut-{}", spec.id))
                });
                c
            };
            let software: Box<dyn Software> = match sut.adapter.as_str() {
                "folder" => Box::new(
                    OperatorSut::new(
                        &sut.name,
                        operator(&sut.folder),
                        number.as_str(),
                        own_type.as_str(),
                        dir,
                        Channel::Folder,
                    )
                    .map_err(|e| e.to_string())?,
                ),
                "exchange" => {
                    let access = exchange_access(spec, number, &dir, hub)?;
                    let link = ExchangeLink::new(hub.server.hub.clone(), access);
                    Box::new(
                        OperatorSut::new(
                            &sut.name,
                            operator(&sut.exchange),
                            number.as_str(),
                            own_type.as_str(),
                            dir,
                            Channel::Exchange(Box::new(link)),
                        )
                        .map_err(|e| e.to_string())?,
                    )
                }
                _ => {
                    let command = sut
                        .command
                        .clone()
                        .ok_or_else(|| "the SUT configuration has no [command] table".to_owned())?;
                    Box::new(
                        CommandSut::new(
                            &sut.name,
                            command,
                            number.as_str(),
                            own_type.as_str(),
                            dir,
                        )
                        .map_err(|e| e.to_string())?,
                    )
                }
            };
            return Ok(software);
        }
        let p = persona_named(spec.stand_in.as_deref().unwrap_or("reference-v4"))?;
        return Ok(Box::new(PersonaSoftware::new(p, number, &own_type)));
    }
    let p = persona_named(&spec.software)?;
    Ok(Box::new(PersonaSoftware::new(p, number, &own_type)))
}

/// Gives a SUT office its own PKI folder (the CA and its certificate, as `cpkit send --certs`
/// reads them), its URL and its KJ ID.
fn exchange_access(
    spec: &OfficeSpec,
    number: &OfficeNumber,
    dir: &Path,
    hub: &HubAccess<'_>,
) -> Result<ExchangeAccess, String> {
    let certs = dir.join("certs");
    let office_dir = certs.join("offices").join(number.as_str());
    std::fs::create_dir_all(certs.join("ca"))
        .map_err(|e| format!("failed to create {}: {e}", certs.display()))?;
    std::fs::create_dir_all(&office_dir)
        .map_err(|e| format!("failed to create {}: {e}", office_dir.display()))?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|e| format!("failed to copy {}: {e}", from.display()))
    };
    copy(&hub.pki.ca_cert(), &certs.join("ca/ca.pem"))?;
    let issued = hub.pki.office(number, &spec.id);
    if issued.cert.exists() {
        copy(&issued.cert, &office_dir.join("client.pem"))?;
        copy(&issued.key, &office_dir.join("client.key"))?;
    }
    Ok(ExchangeAccess {
        url: hub.server.url(),
        user_id: demo_user_id(number),
        password: DEMO_PASSWORD.to_owned(),
        certs,
    })
}
