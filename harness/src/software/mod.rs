//! The software an office runs in a scenario: a simulated product ([`persona`]) over the shared
//! care-software state ([`state`]), or the vendor's system under test through an adapter
//! ([`command`]: command lines; [`operator`]: `folder` and `exchange`, a person or a script doing
//! each step). The runner talks to all of them through [`Software`].

pub mod command;
pub mod operator;
pub mod persona;
pub mod rules;
pub mod state;

use careplan_spec::{Month, OfficeNumber, Serial, ServiceTypeCode};
use serde::Serialize;

use persona::Persona;
use state::CareState;

/// A file as it travels: its name and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What a product that receives by itself downloaded.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub files: Vec<StoredFile>,
    /// The messages of the items the files belong to.
    pub messages: Vec<String>,
}

/// What to export: one send unit (one per month when several months are held) for a destination.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// A send-unit id of `spec/data/send_units.toml` (`kyotaku-riyohyo`, `actuals`, …).
    pub unit: String,
    pub to: OfficeNumber,
    /// The destination's service type in V4 names.
    pub to_type: Option<ServiceTypeCode>,
    /// The sender's own service type in V4 names (an office with several types sends per type).
    pub as_type: Option<ServiceTypeCode>,
    pub month: Option<Month>,
    /// The ファイル連番 of the (first) unit.
    pub serial: Serial,
    /// Today as YYYYMMDD (作成年月日 of new records).
    pub today: String,
}

/// One unit a product would not import, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Refusal {
    pub files: Vec<String>,
    pub reason: String,
    /// Rule IDs of the spec core behind the refusal, when there are any.
    pub rules: Vec<String>,
}

/// What an import did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    pub imported: Vec<String>,
    pub refused: Vec<Refusal>,
    pub warnings: Vec<String>,
    /// The product's account of what it did (personas: their journal; SUTs: their output).
    pub journal: Vec<String>,
}

/// Why a product did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SoftwareError {
    /// The product declined, with its own message (a persona's documented behaviour, or a SUT
    /// command that exited with a failure).
    #[error("{0}")]
    Refused(String),
    /// The adapter or the kit failed (a command that could not be started or timed out).
    #[error("{0}")]
    Failed(String),
}

/// An office's software as the runner drives it.
pub trait Software {
    /// `persona reference-v4`, `sut command (my-product)` …
    fn label(&self) -> String;
    /// The exchange client version the office runs.
    fn client_version(&self) -> String;
    /// Gives the product data entered by the office itself (fixture files it "wrote").
    fn load(&mut self, files: &[StoredFile]) -> Result<String, SoftwareError>;
    fn import(&mut self, files: &[StoredFile]) -> Result<ImportReport, SoftwareError>;
    fn export(&mut self, request: &ExportRequest) -> Result<Vec<StoredFile>, SoftwareError>;
    /// Records the month's actuals as planned (a provider's work between plan and 実績).
    fn record_actuals(&mut self, month: Option<Month>) -> Result<String, SoftwareError>;
    /// Whether the product talks to the exchange itself (the `exchange` adapter): its export is
    /// its own send, and it receives by itself ([`Software::receive`]).
    fn sends_itself(&self) -> bool {
        false
    }
    /// Receives by itself and returns what it downloaded with the messages of those items;
    /// `None` when the kit fetches for it.
    fn receive(&mut self) -> Option<Result<Received, SoftwareError>> {
        None
    }
    /// Changes the office's own data, when the kit can (personas only: a SUT's data is changed by
    /// its operator, so `None`).
    fn edit(&mut self, edit: &state::Edit) -> Option<Result<String, SoftwareError>>;
    /// The product's internal state, when the kit can see it (personas only).
    fn state(&self) -> Option<&CareState>;
}

/// A persona running in the kit's process.
#[derive(Debug, Clone)]
pub struct PersonaSoftware {
    pub persona: Persona,
    pub state: CareState,
}

impl PersonaSoftware {
    pub fn new(persona: Persona, office: &OfficeNumber, service_type: &ServiceTypeCode) -> Self {
        Self {
            persona,
            state: CareState::new(office, service_type),
        }
    }
}

impl Software for PersonaSoftware {
    fn label(&self) -> String {
        format!("persona {}", self.persona.name)
    }

    fn client_version(&self) -> String {
        self.persona.client_version.to_owned()
    }

    fn load(&mut self, files: &[StoredFile]) -> Result<String, SoftwareError> {
        let n = self.state.load(files, &self.persona)?;
        Ok(format!("{} files entered as {n} documents", files.len()))
    }

    fn import(&mut self, files: &[StoredFile]) -> Result<ImportReport, SoftwareError> {
        let before = self.state.journal.len();
        let mut report = self.state.import(files, &self.persona);
        report.journal = self.state.journal[before..].to_vec();
        Ok(report)
    }

    fn export(&mut self, request: &ExportRequest) -> Result<Vec<StoredFile>, SoftwareError> {
        let files = self.state.export(request, &self.persona)?;
        if self.persona.zips_exports {
            let name = format!("{}_{}.zip", request.unit, request.serial);
            return Ok(vec![StoredFile {
                name,
                bytes: careplan_mock_server::zip::store(
                    files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())),
                ),
            }]);
        }
        Ok(files)
    }

    fn record_actuals(&mut self, month: Option<Month>) -> Result<String, SoftwareError> {
        let n = self.state.record_actuals(month, &self.persona)?;
        Ok(format!("actuals recorded for {n} plans"))
    }

    fn edit(&mut self, edit: &state::Edit) -> Option<Result<String, SoftwareError>> {
        Some(
            self.state
                .edit(edit)
                .map(|n| format!("{n} {} records changed", edit.kind)),
        )
    }

    fn state(&self) -> Option<&CareState> {
        Some(&self.state)
    }
}
