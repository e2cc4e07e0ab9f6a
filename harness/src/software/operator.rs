//! The `folder` and `exchange` SUT adapters: a person (or a script driving a GUI product) does
//! each step in the product, and the kit waits.
//!
//! For every step the kit makes a folder `<dir>/<NNN>-<action>/` holding `REQUEST.toml` (what to
//! do, machine-readable) and, for load and import, the files in `in/`; it prints what to do and
//! waits, showing the time, until the operator creates `DONE` (or `REFUSED` holding the product's
//! message, when the product would not do it). Exported files go to `out/`.
//!
//! With `folder`, files travel through those folders. With `exchange`, the product talks to the
//! mock exchange itself with its own certificate and KJ ID (given in `REQUEST.toml`; the
//! certificate folder is `certs/` in the office's work folder): an export is the product's own
//! send, which the kit reads back from the exchange's store, and a fetch is the product's own
//! download, which the kit reads back from the exchange's audit log.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use careplan_mock_server::hub::Hub;
use careplan_spec::Month;
use serde::{Deserialize, Serialize};

use super::state::CareState;
use super::{ExportRequest, ImportReport, Refusal, Software, SoftwareError, StoredFile};

/// `[folder]` / `[exchange]` of a SUT configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorConfig {
    /// Where the step folders go (default: the office's work folder).
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// How long to wait for the operator at each step.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// folder: the exchange client version the kit reports when it sends for the product (with
    /// `exchange` the product's own client reports its version).
    #[serde(default = "default_client")]
    pub client_version: String,
}

fn default_timeout() -> u64 {
    900
}

fn default_client() -> String {
    "1.2.0".to_owned()
}

/// What the operator is asked to do (written as `REQUEST.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Request {
    /// load, import, export, record-actuals, fetch.
    pub action: String,
    /// What to do, in words.
    pub instruction: String,
    pub office: String,
    pub service_type: String,
    #[serde(default)]
    pub unit: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub to_type: String,
    #[serde(default)]
    pub as_type: String,
    /// YYYYMM or empty.
    #[serde(default)]
    pub month: String,
    #[serde(default)]
    pub serial: String,
    #[serde(default)]
    pub today: String,
    /// exchange: how the product reaches the mock exchange.
    #[serde(default)]
    pub exchange: Option<ExchangeAccess>,
    /// edit: the change to make.
    #[serde(default)]
    pub edit: Option<EditRequest>,
}

/// A change of the office's own data (`edit` steps).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EditRequest {
    pub kind: String,
    /// `保険者番号/被保険者番号`, or empty for every user.
    pub user: String,
    /// Records whose columns have these values.
    #[serde(rename = "where")]
    pub matching: std::collections::BTreeMap<String, String>,
    /// Columns to set.
    pub set: std::collections::BTreeMap<String, String>,
    /// Remove the matching records instead.
    pub remove: bool,
}

/// The product's access to the mock exchange.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExchangeAccess {
    pub url: String,
    pub user_id: String,
    pub password: String,
    /// A PKI folder (`ca/ca.pem`, `offices/<office>/client.pem` and `.key`), as `cpkit send
    /// --certs` reads it.
    pub certs: PathBuf,
}

/// The exchange side of the `exchange` adapter: the hub to read back from.
pub struct ExchangeLink {
    pub hub: Arc<Hub>,
    pub access: ExchangeAccess,
    /// Audit rows already read for refused sends and for downloads, and sends already read.
    refusals_seen: i64,
    downloads_seen: i64,
    sends_seen: i64,
}

impl ExchangeLink {
    pub fn new(hub: Arc<Hub>, access: ExchangeAccess) -> Self {
        Self {
            hub,
            access,
            refusals_seen: 0,
            downloads_seen: 0,
            sends_seen: 0,
        }
    }
}

/// How files travel.
pub enum Channel {
    Folder,
    Exchange(Box<ExchangeLink>),
}

/// A product driven by an operator.
pub struct OperatorSut {
    name: String,
    config: OperatorConfig,
    office: String,
    service_type: String,
    dir: PathBuf,
    channel: Channel,
    steps: usize,
}

/// How a step ended.
enum Answer {
    Done(String),
    Refused(String),
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> SoftwareError {
    SoftwareError::Failed(format!("failed to {what} {}: {e}", path.display()))
}

impl OperatorSut {
    pub fn new(
        name: &str,
        config: OperatorConfig,
        office: &str,
        service_type: &str,
        work: PathBuf,
        channel: Channel,
    ) -> Result<Self, SoftwareError> {
        let dir = config.dir.clone().unwrap_or(work);
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create", &dir, e))?;
        Ok(Self {
            name: name.to_owned(),
            config,
            office: office.to_owned(),
            service_type: service_type.to_owned(),
            dir,
            channel,
            steps: 0,
        })
    }

    fn request(&self, action: &str, instruction: String) -> Request {
        Request {
            action: action.to_owned(),
            instruction,
            office: self.office.clone(),
            service_type: self.service_type.clone(),
            exchange: match &self.channel {
                Channel::Exchange(link) => Some(link.access.clone()),
                Channel::Folder => None,
            },
            ..Request::default()
        }
    }

    /// Writes the request (and the files for `in/`), prompts, and waits for DONE or REFUSED.
    fn ask(
        &mut self,
        request: &Request,
        files: &[StoredFile],
    ) -> Result<(PathBuf, Answer), SoftwareError> {
        self.steps += 1;
        let step = self
            .dir
            .join(format!("{:03}-{}", self.steps, request.action));
        let _ = std::fs::remove_dir_all(&step);
        let input = step.join("in");
        let output = step.join("out");
        for d in [&input, &output] {
            std::fs::create_dir_all(d).map_err(|e| io_err("create", d, e))?;
        }
        for f in files {
            let p = input.join(&f.name);
            std::fs::write(&p, &f.bytes).map_err(|e| io_err("write", &p, e))?;
        }
        let text = toml::to_string(request)
            .map_err(|e| SoftwareError::Failed(format!("failed to write REQUEST.toml: {e}")))?;
        let req_path = step.join("REQUEST.toml");
        std::fs::write(&req_path, text).map_err(|e| io_err("write", &req_path, e))?;
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "\n┌ {} — office {} ({})\n│ {}\n│ folder: {}\n└ when finished, create {} (or {} with the product's message)",
            self.name,
            self.office,
            request.action,
            request.instruction,
            step.display(),
            step.join("DONE").display(),
            step.join("REFUSED").display(),
        );
        drop(err);
        let started = Instant::now();
        let timeout = Duration::from_secs(self.config.timeout_seconds);
        let mut last_note = Instant::now();
        loop {
            for (marker, refused) in [("DONE", false), ("REFUSED", true)] {
                let p = step.join(marker);
                if p.exists() {
                    let text = std::fs::read_to_string(&p)
                        .unwrap_or_default()
                        .trim()
                        .to_owned();
                    return Ok((
                        step,
                        if refused {
                            Answer::Refused(text)
                        } else {
                            Answer::Done(text)
                        },
                    ));
                }
            }
            if started.elapsed() >= timeout {
                return Err(SoftwareError::Failed(format!(
                    "the operator did not finish {} within {} s (no DONE or REFUSED in {})",
                    request.action,
                    self.config.timeout_seconds,
                    step.display()
                )));
            }
            if last_note.elapsed() >= Duration::from_secs(10) {
                eprintln!(
                    "  … waiting for {} ({} s of {} s)",
                    step.join("DONE").display(),
                    started.elapsed().as_secs(),
                    self.config.timeout_seconds
                );
                last_note = Instant::now();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn read_out(step: &Path) -> Result<Vec<StoredFile>, SoftwareError> {
        let dir = step.join("out");
        let mut out = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(|e| io_err("read", &dir, e))? {
            let e = e.map_err(|e| io_err("read", &dir, e))?;
            if e.path().is_file() {
                out.push(StoredFile {
                    name: e.file_name().to_string_lossy().into_owned(),
                    bytes: std::fs::read(e.path()).map_err(|x| io_err("read", &e.path(), x))?,
                });
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The product's sends stored since the last look, or its refused sends (exchange adapter).
    fn read_back_send(
        link: &mut ExchangeLink,
        office: &str,
    ) -> Result<Vec<StoredFile>, SoftwareError> {
        // The exchange answers a send after its commit, but writes its audit row just after.
        std::thread::sleep(Duration::from_millis(300));
        let mut files = Vec::new();
        let mut newest = link.sends_seen;
        let seen = link.sends_seen;
        for_each_send(link, |entry, contents| {
            if entry.id > seen && entry.from_office == office && entry.state == "sent" {
                newest = newest.max(entry.id);
                files.extend(contents.iter().map(|(name, bytes)| StoredFile {
                    name: name.clone(),
                    bytes: bytes.clone(),
                }));
            }
        })?;
        link.sends_seen = newest;
        let mut cursor = link.refusals_seen;
        let refusals = Self::audit_since(link, &mut cursor, office, |action, status| {
            action.starts_with("POST /v1/") && action.contains("send") && status >= 400
        })?;
        link.refusals_seen = cursor;
        if files.is_empty() {
            return Err(SoftwareError::Refused(match refusals.last() {
                Some(r) => r.clone(),
                None => "the product reported DONE, but the exchange holds no new send from it"
                    .to_owned(),
            }));
        }
        Ok(files)
    }

    /// Audit rows of the office since the last look that match, as text (code and detail).
    fn audit_since(
        link: &ExchangeLink,
        cursor: &mut i64,
        office: &str,
        wanted: impl Fn(&str, u16) -> bool,
    ) -> Result<Vec<String>, SoftwareError> {
        let rows = link.hub.store.audit_rows(*cursor, 100_000).map_err(|e| {
            SoftwareError::Failed(format!("failed to read the exchange's audit log: {e}"))
        })?;
        let mut out = Vec::new();
        for r in rows {
            *cursor = (*cursor).max(r.seq);
            if r.office.as_deref() == Some(office) && wanted(&r.action, r.status) {
                // Code, then the messages as the client showed them, then the request.
                let d = r.detail.unwrap_or_default();
                let text = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                out.push(format!(
                    "{} {} {} ({})",
                    r.code.unwrap_or_default(),
                    text("message_ja"),
                    text("message_en"),
                    r.action
                ));
            }
        }
        Ok(out)
    }

    /// The files the product downloaded since the last look (exchange adapter), with the
    /// messages of the items they belong to.
    fn read_back_downloads(
        link: &mut ExchangeLink,
        office: &str,
    ) -> Result<(Vec<StoredFile>, Vec<String>), SoftwareError> {
        // Audit rows are written just after each answer.
        std::thread::sleep(Duration::from_millis(300));
        let mut cursor = link.downloads_seen;
        let downloads = Self::audit_since(link, &mut cursor, office, |action, status| {
            action.starts_with("GET /v1/inbox/") && action.contains("/files/") && status == 200
        })?;
        link.downloads_seen = cursor;
        let mut wanted: Vec<(i64, i64)> = Vec::new();
        for d in &downloads {
            // "… (GET /v1/inbox/{send}/files/{file})"
            let path = d
                .rsplit_once("(GET ")
                .map(|(_, p)| p.trim_end_matches(')'))
                .unwrap_or("");
            let parts: Vec<&str> = path.split('/').collect();
            if let (Some(s), Some(f)) = (parts.get(3), parts.get(5))
                && let (Ok(s), Ok(f)) = (s.parse(), f.parse())
                && !wanted.contains(&(s, f))
            {
                wanted.push((s, f));
            }
        }
        let mut files = Vec::new();
        let mut messages = Vec::new();
        for_each_send(link, |entry, contents| {
            if wanted.iter().any(|(s, _)| *s == entry.id) {
                messages.push(entry.message.clone());
            }
            for (file, (name, bytes)) in entry.files.iter().zip(contents) {
                if wanted.contains(&(entry.id, file.id)) {
                    files.push(StoredFile {
                        name: name.clone(),
                        bytes: bytes.clone(),
                    });
                }
            }
        })?;
        Ok((files, messages))
    }
}

/// Every send the exchange stored, with its files' contents.
fn for_each_send(
    link: &ExchangeLink,
    mut f: impl FnMut(&careplan_mock_server::store::SendEntry, &[(String, Vec<u8>)]),
) -> Result<(), SoftwareError> {
    let failed =
        |e: String| SoftwareError::Failed(format!("failed to read the exchange's sends: {e}"));
    link.hub
        .store
        .for_each_send(|entry, contents| {
            f(entry, contents);
            Ok(())
        })
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| failed(e.to_string()))
}

fn month_text(m: Option<Month>) -> String {
    m.map(|m| format!("{:04}{:02}", m.year(), m.month()))
        .unwrap_or_default()
}

impl Software for OperatorSut {
    fn label(&self) -> String {
        match self.channel {
            Channel::Folder => format!("sut folder ({})", self.name),
            Channel::Exchange(_) => format!("sut exchange ({})", self.name),
        }
    }

    fn client_version(&self) -> String {
        self.config.client_version.clone()
    }

    fn load(&mut self, files: &[StoredFile]) -> Result<String, SoftwareError> {
        let r = self.request(
            "load",
            format!(
                "enter the data of the {} files in in/ into the product as the office's own",
                files.len()
            ),
        );
        match self.ask(&r, files)? {
            (_, Answer::Done(t)) => Ok(t),
            (_, Answer::Refused(t)) => Err(SoftwareError::Refused(t)),
        }
    }

    fn import(&mut self, files: &[StoredFile]) -> Result<ImportReport, SoftwareError> {
        let instruction = match self.channel {
            Channel::Folder => format!(
                "import the {} received files in in/ into the product",
                files.len()
            ),
            Channel::Exchange(_) => {
                "import what the product received from the exchange (the files are also in in/)"
                    .to_owned()
            }
        };
        let r = self.request("import", instruction);
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        Ok(match self.ask(&r, files)? {
            (_, Answer::Done(t)) => ImportReport {
                imported: names,
                journal: t.lines().map(str::to_owned).collect(),
                ..ImportReport::default()
            },
            (_, Answer::Refused(t)) => ImportReport {
                refused: vec![Refusal {
                    files: names,
                    rules: super::command::rules_named(&t),
                    reason: if t.is_empty() {
                        "the product refused the import".to_owned()
                    } else {
                        t
                    },
                }],
                ..ImportReport::default()
            },
        })
    }

    fn export(&mut self, request: &ExportRequest) -> Result<Vec<StoredFile>, SoftwareError> {
        let what = format!(
            "the {} unit for office {}{}{}",
            request.unit,
            request.to,
            request
                .to_type
                .map(|t| format!(" ({t})"))
                .unwrap_or_default(),
            request
                .month
                .map(|m| format!(" for {m}"))
                .unwrap_or_default()
        );
        let instruction = match self.channel {
            Channel::Folder => format!("export {what} into out/"),
            Channel::Exchange(_) => format!("export {what} and send it through the exchange"),
        };
        let mut r = self.request("export", instruction);
        r.unit = request.unit.clone();
        r.to = request.to.as_str().to_owned();
        r.to_type = request
            .to_type
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        r.as_type = request
            .as_type
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        r.month = month_text(request.month);
        r.serial = request.serial.as_str().to_owned();
        r.today = request.today.clone();
        let office = self.office.clone();
        match self.ask(&r, &[])? {
            (_, Answer::Refused(t)) => Err(SoftwareError::Refused(t)),
            (step, Answer::Done(_)) => match &mut self.channel {
                Channel::Folder => Self::read_out(&step),
                Channel::Exchange(link) => Self::read_back_send(link, &office),
            },
        }
    }

    fn record_actuals(&mut self, month: Option<Month>) -> Result<String, SoftwareError> {
        let mut r = self.request(
            "record-actuals",
            format!(
                "record the actuals of {} as planned",
                month
                    .map(|m| m.to_string())
                    .unwrap_or("every month".to_owned())
            ),
        );
        r.month = month_text(month);
        match self.ask(&r, &[])? {
            (_, Answer::Done(t)) => Ok(t),
            (_, Answer::Refused(t)) => Err(SoftwareError::Refused(t)),
        }
    }

    fn sends_itself(&self) -> bool {
        matches!(self.channel, Channel::Exchange(_))
    }

    fn receive(&mut self) -> Option<Result<super::Received, SoftwareError>> {
        if !self.sends_itself() {
            return None;
        }
        let r = self.request(
            "fetch",
            "receive the new items from the exchange (受信一覧) and download their files"
                .to_owned(),
        );
        let office = self.office.clone();
        Some(match self.ask(&r, &[]) {
            Err(e) => Err(e),
            Ok((_, Answer::Refused(t))) => Err(SoftwareError::Refused(t)),
            Ok((_, Answer::Done(_))) => match &mut self.channel {
                Channel::Exchange(link) => Self::read_back_downloads(link, &office)
                    .map(|(files, messages)| super::Received { files, messages }),
                Channel::Folder => Ok(super::Received::default()),
            },
        })
    }

    fn edit(&mut self, edit: &super::state::Edit) -> Option<Result<String, SoftwareError>> {
        let fmt = |m: &std::collections::BTreeMap<String, String>| {
            m.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";")
        };
        let mut r = self.request(
            "edit",
            format!(
                "change the office's own {} data{}: {}",
                edit.kind,
                edit.user
                    .as_ref()
                    .map(|u| format!(" of user {u}"))
                    .unwrap_or_default(),
                if edit.remove {
                    format!("remove the records where {}", fmt(&edit.matching))
                } else {
                    format!("set {} where {}", fmt(&edit.set), fmt(&edit.matching))
                }
            ),
        );
        r.edit = Some(EditRequest {
            kind: edit.kind.prefix().to_owned(),
            user: edit.user.clone().unwrap_or_default(),
            matching: edit.matching.clone(),
            set: edit.set.clone(),
            remove: edit.remove,
        });
        Some(match self.ask(&r, &[]) {
            Err(e) => Err(e),
            Ok((_, Answer::Done(t))) => Ok(t),
            Ok((_, Answer::Refused(t))) => Err(SoftwareError::Refused(t)),
        })
    }

    fn state(&self) -> Option<&CareState> {
        None
    }
}
