//! One office during a scenario ([`OfficeRun`]): its declaration, its software, its exchange
//! identity, and the files that moved through it (exported and not yet sent, last exported,
//! fetched and not yet imported, last fetched, last imported, every file sent to it). Steps move
//! files between these; assertions read them.

use std::collections::BTreeMap;

use careplan_mock_server::client::Identity;
use careplan_spec::{OfficeNumber, ServiceTypeCode};

use crate::scenario::{OfficeSpec, Step};
use crate::software::{Software, StoredFile};

pub(super) struct OfficeRun {
    pub spec: OfficeSpec,
    pub number: OfficeNumber,
    pub software: Box<dyn Software>,
    /// The exchange's answer to a product that sends by itself (judged by the next `send`).
    pub self_sent: Option<Result<String, String>>,
    pub identity: Identity,
    /// Exported and not yet sent.
    pub pending: Vec<StoredFile>,
    pub last_export: Vec<StoredFile>,
    /// Fetched and not yet imported.
    pub unimported: Vec<StoredFile>,
    pub last_received: Vec<StoredFile>,
    pub last_imported: Vec<StoredFile>,
    /// Every file sent to this office, by name (for `unchanged`).
    pub sent_to_me: BTreeMap<String, Vec<u8>>,
}

impl OfficeRun {
    pub fn new(
        spec: OfficeSpec,
        number: OfficeNumber,
        software: Box<dyn Software>,
        identity: Identity,
    ) -> Self {
        Self {
            spec,
            number,
            software,
            self_sent: None,
            identity,
            pending: Vec::new(),
            last_export: Vec::new(),
            unimported: Vec::new(),
            last_received: Vec::new(),
            last_imported: Vec::new(),
            sent_to_me: BTreeMap::new(),
        }
    }

    pub fn first_type(&self) -> Option<ServiceTypeCode> {
        self.spec
            .service_types
            .first()
            .and_then(|t| ServiceTypeCode::parse(t))
    }

    /// The step's terminal, else the office's first, else `pc1`.
    pub fn terminal(&self, step: &Step) -> String {
        step.terminal
            .clone()
            .or_else(|| self.spec.terminals.first().cloned())
            .unwrap_or_else(|| "pc1".to_owned())
    }
}

pub(super) fn index_of(offices: &[OfficeRun], id: &str) -> Option<usize> {
    offices.iter().position(|o| o.spec.id == id)
}
