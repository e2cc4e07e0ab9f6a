//! The exchange's behaviour, independent of HTTP: who may log in, what a send may contain, where it
//! goes and who may read it. The HTTP layers (`api`, `api2027`) translate requests into calls here
//! and [`HubError`]s into responses; the benchmark's simulated month calls it directly.
//!
//! The hub checks names, never contents: files are stored and delivered byte for byte. Which
//! names form a send unit is the spec core's [`careplan_spec::check_units`], fed with names only.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use careplan_spec::units::UnitReport;
use careplan_spec::{FileName, FileReport, OfficeNumber, Options, Profile, Severity, check_units};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use crate::config::{
    Config, Licence, PasswordState, ReceiveMode, Switches, parse_date, parse_version,
};
use crate::error::{Code, HubError, MSG_DESTINATION, MSG_FILE_NAME_FORMAT};
use crate::pki::CertKind;
use crate::store::{self, NewFile, NewSend, Office, SendEntry, Session, Store, User, sha256_hex};

/// Who is calling, as the TLS layer established it.
#[derive(Debug, Clone, Serialize)]
pub struct Caller {
    /// The office number from the client certificate.
    pub office: String,
    /// The certificate kind (None when the OU is not a known kind).
    pub kind: Option<CertKind>,
    /// Certificate expiry (Unix seconds); None on plain-HTTP benchmark connections.
    pub cert_not_after: Option<i64>,
    pub cert_serial: Option<String>,
}

/// `POST /v1/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    pub user_id: String,
    pub password: String,
    /// The terminal (PC) name; first-lister-wins and the sent/draft lists are per terminal.
    pub terminal: String,
    /// The client application's version, e.g. `1.2.0`.
    pub client_version: String,
    /// The key the hub issued to this terminal at its first login (D-HUB-TERMINAL); required
    /// once the terminal has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoginResponse {
    pub token: String,
    pub office: String,
    pub terminal: String,
    /// Unix seconds.
    pub expires_at: i64,
    pub notices: Vec<String>,
    /// Issued at the terminal's first login only: the client keeps it and presents it at every
    /// later login of this terminal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_key: Option<String>,
}

/// A login whose every check passed (password, state, licence, terminal key), not yet turned
/// into a session: the 2027 shape opens the session only after the one-time password.
#[derive(Debug, Clone)]
pub struct VerifiedLogin {
    pub session: Session,
    terminal_key: Option<String>,
}

/// The longest terminal name, in characters.
pub const MAX_TERMINAL_CHARS: usize = 64;

/// One upload.
#[derive(Debug, Clone)]
pub struct Upload {
    pub name: String,
    pub content: Arc<Vec<u8>>,
}

/// A destination office and, optionally, the service type addressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    pub office: String,
    #[serde(default)]
    pub service_type: Option<String>,
}

impl Destination {
    /// `OFFICE` or `OFFICE:TYPE` (as forms and the command line give it).
    pub fn parse(text: &str) -> Self {
        match text.split_once(':') {
            Some((o, t)) => Self {
                office: o.trim().to_owned(),
                service_type: Some(t.trim().to_owned()),
            },
            None => Self {
                office: text.trim().to_owned(),
                service_type: None,
            },
        }
    }
}

/// A send, a bulk send (several destinations) or a draft.
#[derive(Debug, Clone)]
pub struct SendRequest {
    pub destinations: Vec<Destination>,
    pub message: String,
    pub files: Vec<Upload>,
    pub draft: bool,
}

/// What a stored send returns.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SendReceipt {
    pub ids: Vec<i64>,
    pub draft: bool,
    /// One per destination: the unit matched and the files routed there.
    pub deliveries: Vec<DeliveryReceipt>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    pub id: i64,
    pub to_office: String,
    pub to_type: Option<String>,
    pub unit: Option<String>,
    pub serial: Option<String>,
    pub files: Vec<String>,
    pub annotations: Option<serde_json::Value>,
}

/// `GET /v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub office: String,
    pub office_name: String,
    pub service_types: Vec<String>,
    pub licence: Licence,
    pub licence_until: Option<String>,
    pub certificate_kind: Option<String>,
    pub certificate_kind_ja: Option<String>,
    pub certificate_not_after: Option<i64>,
    pub certificate_days_left: Option<i64>,
    pub notices: Vec<String>,
    pub server_version: String,
    pub v41_names_min_client: String,
    pub receive_mode: ReceiveMode,
    pub max_file_bytes: u64,
    pub max_send_bytes: u64,
    pub max_files: usize,
    pub now: i64,
}

/// The exchange.
pub struct Hub {
    pub config: Config,
    pub store: Store,
    /// Counters of the connection layer (bytes in flight, refused handshakes).
    pub traffic: Arc<crate::conn::Traffic>,
    rng: SystemRandom,
    /// The CRL, asked on every request (a revoked certificate's open connections stop).
    crl: crate::pki::CrlWatch,
    /// A user no ID has: unknown IDs cost the same password hashing as known ones.
    decoy: User,
    /// Seconds added to the system clock (persisted as the setting `clock_offset_seconds`).
    clock_offset: AtomicI64,
    /// The behaviour switches in force: `config.switches` at start, changed by the console.
    switches: RwLock<Switches>,
}

/// Why the hub could not start.
#[derive(Debug, thiserror::Error)]
pub enum HubOpenError {
    #[error(transparent)]
    Store(#[from] store::StoreOpenError),
    #[error("failed to seed the registry: {0}")]
    Seed(#[from] store::StoreError),
    #[error("failed to start: {0}")]
    Random(String),
}

const PASSWORD_DIGEST: ring::pbkdf2::Algorithm = ring::pbkdf2::PBKDF2_HMAC_SHA256;

/// The SHA-256 the store keeps of a session token or a terminal key.
pub(crate) fn token_hash(token: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, token.as_bytes())
        .as_ref()
        .to_vec()
}

fn is_kj_id(id: &str) -> bool {
    id.len() == 14 && id.starts_with("KJ") && id[2..].bytes().all(|b| b.is_ascii_digit())
}

/// The lower-case extension of a name, if it has one.
fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty()).then(|| ext.to_ascii_lowercase())
}

/// What an uploaded file is.
#[derive(Debug, Clone, PartialEq)]
enum Class {
    /// A file of the standard (CSV, or the 利用者基本情報 family JPEG).
    Standard(Box<FileName>),
    Attachment,
}

pub use crate::names::{MAX_UPLOAD_NAME_CHARS, check_upload_name};

/// Terminal names are shown in lists, logs and the trace: 1–64 characters, none of them a
/// control, invisible or bidirectional-formatting character, no leading or trailing space.
fn check_terminal_name(name: &str) -> Result<(), HubError> {
    let count = name.chars().count();
    if name.trim().is_empty() || count > MAX_TERMINAL_CHARS {
        return Err(HubError::bad_request(format!(
            "terminal must be 1–{MAX_TERMINAL_CHARS} characters"
        )));
    }
    if name.trim() != name {
        return Err(HubError::bad_request(
            "terminal must not start or end with a space",
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| c.is_control() || crate::names::is_hidden(c))
    {
        return Err(HubError::bad_request(format!(
            "terminal must not contain control or invisible characters (found U+{:04X})",
            c as u32
        )));
    }
    Ok(())
}

fn terminal_refused(terminal: &str, presented: bool) -> HubError {
    HubError::new(
        Code::TerminalRefused,
        format!(
            "端末名「{terminal}」は別のPCで登録されています。このPCの端末名でログインしてください（端末キーは最初のログイン時にクライアントのフォルダに保存されます）。"
        ),
        format!(
            "terminal {terminal:?} is registered to another PC ({}): log in with this PC's own terminal name (a terminal's key is issued at its first login and kept in the client's folder)",
            if presented { "the terminal key does not match" } else { "no terminal key was presented" }
        ),
    )
    .detail(serde_json::json!({
        "terminal": terminal,
        "reason": if presented { "terminal_key_wrong" } else { "terminal_key_missing" },
    }))
}

fn name_error(file: &str, en: impl Into<String>) -> HubError {
    HubError::new(Code::FileNameFormat, MSG_FILE_NAME_FORMAT, en).file(file)
}

impl Hub {
    /// Opens the store and seeds the registry: from the configuration when it has offices (the
    /// configuration wins on every start), else the demo registry on first start.
    pub fn open(config: Config) -> Result<Self, HubOpenError> {
        let store = Store::open(&config.data)?;
        let clock_offset = store
            .setting("clock_offset_seconds")?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let crl = crate::pki::CrlWatch::new(crate::pki::Pki::new(&config.certs).crl());
        let mut hub = Self {
            switches: RwLock::new(config.switches.clone()),
            crl,
            traffic: Arc::default(),
            config,
            store,
            rng: SystemRandom::new(),
            decoy: User {
                id: String::new(),
                office: String::new(),
                salt: Vec::new(),
                hash: Vec::new(),
                state: PasswordState::Active,
                agent: false,
                failures: 0,
                locked: false,
            },
            clock_offset: AtomicI64::new(clock_offset),
        };
        let decoy_password = hub
            .random_hex()
            .map_err(|e| HubOpenError::Random(e.message_en))?;
        hub.decoy = hub.new_user("", "", &decoy_password, PasswordState::Active, false);
        let (offices, users) = if hub.config.offices.is_empty() {
            if hub.store.is_empty_registry()? {
                Config::demo_registry()
            } else {
                (Vec::new(), Vec::new())
            }
        } else {
            (hub.config.offices.clone(), hub.config.users.clone())
        };
        for o in &offices {
            hub.store.upsert_office(&Office {
                number: o.number.as_str().to_owned(),
                name: o.name.clone(),
                licence: o.licence,
                licence_until: o.licence_until.clone(),
                service_types: o.service_types.clone(),
            })?;
        }
        for u in &users {
            let user = hub.new_user(&u.id, u.office.as_str(), &u.password, u.state, u.agent);
            hub.store.upsert_user(&user)?;
        }
        // What this start runs with, for a replay of the trace (`trace::export`).
        let settings = serde_json::json!({
            "api": hub.config.api,
            "limits": hub.config.limits,
            "switches": hub.config.switches,
        });
        hub.store
            .set_setting(crate::trace::SETTINGS_KEY, &settings.to_string())?;
        Ok(hub)
    }

    /// A user record with a freshly salted password hash.
    pub fn new_user(
        &self,
        id: &str,
        office: &str,
        password: &str,
        state: PasswordState,
        agent: bool,
    ) -> User {
        let mut salt = vec![0u8; 16];
        self.rng.fill(&mut salt).expect("system randomness");
        let mut hash = vec![0u8; 32];
        ring::pbkdf2::derive(
            PASSWORD_DIGEST,
            self.iterations(),
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        User {
            id: id.to_owned(),
            office: office.to_owned(),
            salt,
            hash,
            state,
            agent,
            failures: 0,
            locked: false,
        }
    }

    fn iterations(&self) -> std::num::NonZeroU32 {
        std::num::NonZeroU32::new(self.config.limits.password_iterations.max(1))
            .expect("at least one iteration")
    }

    /// The hub's clock (Unix seconds): the system clock plus the offset a scenario may set.
    pub fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// Moves the hub's clock: `now()` becomes the system time plus `seconds` (kept across
    /// restarts). Scenarios use it to reach licence, password and token expiry.
    pub fn set_clock_offset(&self, seconds: i64) -> Result<(), HubError> {
        self.store
            .set_setting("clock_offset_seconds", &seconds.to_string())?;
        self.clock_offset.store(seconds, Ordering::Relaxed);
        Ok(())
    }

    /// The behaviour switches in force now.
    pub fn switches(&self) -> Switches {
        self.switches
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the switches (in memory; the configuration's switches apply again at the next
    /// start). Refuses values the configuration check would refuse.
    pub fn set_switches(&self, switches: Switches) -> Result<(), String> {
        let mut check = self.config.clone();
        check.switches = switches.clone();
        check.offices.clear();
        check.users.clear();
        check.check()?;
        *self.switches.write().unwrap_or_else(|p| p.into_inner()) = switches;
        Ok(())
    }

    /// Whether a licence is in force today.
    fn licence_active(&self, office: &Office) -> bool {
        if office.licence != Licence::Active {
            return false;
        }
        let Some(until) = office.licence_until.as_deref().and_then(parse_date) else {
            return true;
        };
        let today = time::OffsetDateTime::from_unix_timestamp(self.now())
            .map(|t| t.date())
            .unwrap_or(until);
        today <= until
    }

    /// Checks the certificate's kind and office; returns the caller's office.
    pub fn check_caller(&self, caller: &Caller) -> Result<Office, HubError> {
        if let Some(serial) = &caller.cert_serial
            && self.crl.is_revoked(serial)
        {
            self.store.end_certificate_sessions(serial)?;
            return Err(HubError::new(
                Code::CertRevoked,
                "この電子証明書は失効しています。新しい証明書をインストールしてください。",
                "this connection's client certificate was revoked: install a new one",
            ));
        }
        match caller.kind {
            Some(kind) if kind.accepted() => {}
            other => {
                let label = other.map(CertKind::label_ja).unwrap_or("種別不明の証明書");
                return Err(HubError::new(
                    Code::CertKindRefused,
                    format!(
                        "{label}はケアプランデータ連携システムでは利用できません。介護保険証明書または介護DX証明書をインストールしてください。"
                    ),
                    format!(
                        "certificate kind {} is not accepted; use a 介護保険証明書 (kaigo-hoken) or 介護DX証明書 (careplan-dx)",
                        other.map(CertKind::tag).unwrap_or("unknown")
                    ),
                ));
            }
        }
        self.store.office(&caller.office)?.ok_or_else(|| {
            HubError::new(
                Code::OfficeNotRegistered,
                format!(
                    "事業所番号{}はケアプランデータ連携システムに登録されていません。",
                    caller.office
                ),
                format!(
                    "office {} (from the client certificate) is not registered with the exchange",
                    caller.office
                ),
            )
        })
    }

    fn licence_error(office: &Office) -> HubError {
        let until = office.licence_until.clone().unwrap_or_default();
        let (ja, en) = match office.licence {
            Licence::None => (
                "ライセンスの利用申請がありません。利用状況Webサイトから利用申請してください。"
                    .to_owned(),
                "the office has no licence; apply for one first".to_owned(),
            ),
            Licence::Applied => (
                "ライセンスは申請中です。利用開始までお待ちください。".to_owned(),
                "the licence application is pending".to_owned(),
            ),
            _ => (
                format!(
                    "ライセンスの有効期限（{until}）が切れています。ライセンスを更新してください。"
                ),
                format!("the licence expired ({until}); renew it"),
            ),
        };
        HubError::new(Code::LicenceInactive, ja, en).detail(serde_json::json!({
            "licence": office.licence.tag(),
            "licence_until": office.licence_until,
        }))
    }

    /// Logs a user in on a terminal: [`Hub::verify_login`], then [`Hub::open_session`].
    pub fn login(&self, caller: &Caller, req: &LoginRequest) -> Result<LoginResponse, HubError> {
        let verified = self.verify_login(caller, req)?;
        self.open_session(&verified)
    }

    /// Every check of a login, in an order that tells an unknown ID from a wrong password only
    /// to someone who knows the password: same code, message and detail, and the same
    /// password-hashing work for both.
    pub fn verify_login(
        &self,
        caller: &Caller,
        req: &LoginRequest,
    ) -> Result<VerifiedLogin, HubError> {
        let office = self.check_caller(caller)?;
        let lock_after = self.config.limits.login_failures_before_lock;
        let failed = || {
            HubError::new(
                Code::LoginFailed,
                "ユーザIDまたはパスワードが正しくありません。",
                "wrong user ID or password",
            )
            .detail(serde_json::json!({ "lock_after": lock_after }))
        };
        check_terminal_name(&req.terminal)?;
        if parse_version(&req.client_version).is_none() {
            return Err(HubError::bad_request("client_version must look like 1.2.0"));
        }
        if self.switches().refuse_agent_ids && req.user_id.starts_with("HD") {
            return Err(Self::agent_refused());
        }
        if !is_kj_id(&req.user_id) {
            return Err(failed().detail(serde_json::json!({
                "lock_after": lock_after,
                "hint": "user IDs are KJ followed by 12 digits (14 characters)"
            })));
        }
        // Unknown IDs and IDs of other offices fail like a wrong password, after the same work.
        let user = match self.store.user(&req.user_id)? {
            Some(u) if u.office == office.number => u,
            _ => {
                let _ = self.password_matches(&self.decoy, &req.password);
                return Err(failed());
            }
        };
        if user.locked {
            return Err(Self::locked());
        }
        if !self.password_matches(&user, &req.password) {
            let (_, locked) = self.store.login_failed(&user.id, lock_after)?;
            return Err(if locked { Self::locked() } else { failed() });
        }
        self.store.password_succeeded(&user.id)?;
        if user.agent {
            return Err(Self::agent_refused());
        }
        match user.state {
            PasswordState::Active => {}
            PasswordState::Temporary => {
                return Err(HubError::new(
                    Code::PasswordTemporary,
                    "仮パスワードではログインできません。電子請求受付システムにKJから始まるIDでログインし、パスワードを変更してから再度ログインしてください。",
                    "a temporary password cannot log in: change it in 電子請求受付システム first",
                ));
            }
            PasswordState::Expired => {
                return Err(HubError::new(
                    Code::PasswordExpired,
                    "パスワードの有効期限が切れています。電子請求受付システムでパスワードを変更してから再度ログインしてください。",
                    "the password expired: change it in 電子請求受付システム first",
                ));
            }
        }
        if !self.licence_active(&office) {
            return Err(Self::licence_error(&office));
        }
        // A terminal bound to a key takes only that key (checked again when the session opens).
        if let Some(Some(key)) = self.store.terminal_key(&office.number, &req.terminal)?
            && req.terminal_key.as_deref().map(token_hash) != Some(key)
        {
            return Err(terminal_refused(&req.terminal, req.terminal_key.is_some()));
        }
        Ok(VerifiedLogin {
            session: Session {
                user_id: user.id,
                office: office.number,
                terminal: req.terminal.clone(),
                client_version: req.client_version.clone(),
                expires: self.now() + self.config.limits.session_minutes * 60,
                cert_serial: caller.cert_serial.clone(),
            },
            terminal_key: req.terminal_key.clone(),
        })
    }

    /// Opens the session of a verified login: binds a new terminal to a fresh key (returned
    /// once, in [`LoginResponse::terminal_key`]) and stores the session.
    pub fn open_session(&self, verified: &VerifiedLogin) -> Result<LoginResponse, HubError> {
        let token = self.random_hex()?;
        let new_key = self.random_hex()?;
        let mut session = verified.session.clone();
        let now = self.now();
        session.expires = now + self.config.limits.session_minutes * 60;
        let presented = verified.terminal_key.as_deref().map(token_hash);
        let binding = self.store.login_succeeded(
            &token_hash(&token),
            &session,
            now,
            presented.as_deref(),
            &token_hash(&new_key),
        )?;
        let terminal_key = match binding {
            store::TerminalBinding::Issued => Some(new_key),
            store::TerminalBinding::Matched => None,
            store::TerminalBinding::Refused => {
                return Err(terminal_refused(
                    &session.terminal,
                    verified.terminal_key.is_some(),
                ));
            }
        };
        Ok(LoginResponse {
            token,
            office: session.office,
            terminal: session.terminal,
            expires_at: session.expires,
            notices: self.config.notices.clone(),
            terminal_key,
        })
    }

    fn password_matches(&self, user: &User, password: &str) -> bool {
        ring::pbkdf2::verify(
            PASSWORD_DIGEST,
            self.iterations(),
            &user.salt,
            password.as_bytes(),
            &user.hash,
        )
        .is_ok()
    }

    /// 32 random bytes as hex (tokens, terminal keys).
    fn random_hex(&self) -> Result<String, HubError> {
        let mut raw = [0u8; 32];
        self.rng
            .fill(&mut raw)
            .map_err(|_| HubError::internal("no system randomness"))?;
        Ok(raw.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A session's user may still use it: not locked since it opened (the 2027 shape keeps its
    /// tokens in memory and asks here on every call).
    pub fn check_session_user(&self, session: &Session) -> Result<(), HubError> {
        match self.store.user(&session.user_id)? {
            Some(u) if !u.locked => Ok(()),
            _ => Err(Self::locked()),
        }
    }

    fn agent_refused() -> HubError {
        HubError::new(
            Code::AgentIdRefused,
            "代理人のIDではケアプランデータ連携システムにログインできません。事業所のKJから始まるIDを使用してください。",
            "代理人 (agent) IDs cannot log in; use the office's own KJ ID",
        )
    }

    fn locked() -> HubError {
        HubError::new(
            Code::AccountLocked,
            "ログインに続けて失敗したため、このIDはロックされています。",
            "the ID is locked after repeated failed logins",
        )
    }

    /// Resolves a bearer token for this caller.
    pub fn session(&self, caller: &Caller, token: Option<&str>) -> Result<Session, HubError> {
        let invalid = || {
            HubError::new(
                Code::SessionInvalid,
                "ログインしてください（セッションが無効か期限切れです）。",
                "log in first: the session token is missing, unknown or expired",
            )
        };
        let token = token.ok_or_else(invalid)?;
        let session = self
            .store
            .session(&token_hash(token))?
            .ok_or_else(invalid)?;
        if session.expires < self.now() {
            return Err(invalid());
        }
        if session.office == caller.office && session.cert_serial != caller.cert_serial {
            return Err(HubError::new(
                Code::SessionInvalid,
                "このセッションは別の証明書で開始されています。ログインし直してください。",
                "the session was opened with another certificate: log in again",
            ));
        }
        if session.office != caller.office {
            return Err(HubError::new(
                Code::SessionOfficeMismatch,
                "このセッションは別の事業所の証明書で開始されています。",
                format!(
                    "the session belongs to office {}, but this connection's certificate is office {}",
                    session.office, caller.office
                ),
            ));
        }
        Ok(session)
    }

    /// Checks a destination: registered, licensed, offering the service type, not oneself.
    fn check_destination(&self, from: &str, dest: &Destination) -> Result<Office, HubError> {
        if dest.office == from {
            return Err(HubError::new(
                Code::OwnOffice,
                "同一事業所番号の事業所間では送受信できません。",
                format!("cannot send to one's own office number {from}"),
            ));
        }
        let unsupported = |why: &str| {
            HubError::new(
                Code::DestinationNotSupported,
                MSG_DESTINATION,
                why.to_owned(),
            )
            .detail(serde_json::json!({"office": dest.office, "service_type": dest.service_type}))
        };
        if OfficeNumber::parse(&dest.office).is_none() {
            return Err(unsupported(
                "the destination is not a 10-digit office number",
            ));
        }
        let office = self
            .store
            .office(&dest.office)?
            .ok_or_else(|| unsupported("the destination office is not registered"))?;
        if !self.licence_active(&office) {
            return Err(unsupported(&format!(
                "the destination's licence is {}",
                if office.licence == Licence::Active {
                    "expired"
                } else {
                    office.licence.tag()
                }
            )));
        }
        if let Some(t) = &dest.service_type
            && !office.service_types.contains(t)
        {
            return Err(unsupported(&format!(
                "the destination does not offer service type {t} (it offers {})",
                office.service_types.join(", ")
            )));
        }
        Ok(office)
    }

    /// Checks one upload's name before its content is read: not hostile, and of a type the hub
    /// takes (a name of the standard by its extension, or an allowed attachment). Returns whether
    /// it is a file of the standard (whose name is parsed later, with the whole send).
    pub fn check_upload(&self, name: &str) -> Result<bool, HubError> {
        check_upload_name(name)?;
        let ext = extension(name).unwrap_or_default();
        if ext == "csv"
            || (matches!(ext.as_str(), "jpg" | "jpeg") && name.starts_with("UPKIHON_IMAGE"))
        {
            return Ok(true);
        }
        let attachment_types = self.switches().attachment_types;
        match ext.as_str() {
            "zip" | "lzh" | "7z" | "rar" | "gz" | "tar" => Err(HubError::new(
                Code::AttachmentZip,
                "圧縮ファイル（zip等）は添付できません。展開して、標準仕様の送信単位に従ったファイルを添付してください。",
                "compressed archives (zip, …) cannot be attached: unpack them and attach the files of one send unit",
            )
            .file(name)),
            "doc" | "docx" | "docm" | "xls" | "xlsx" | "xlsm" | "ppt" | "pptx" | "pptm" => {
                Err(HubError::new(
                    Code::AttachmentOffice,
                    "Word・Excel・PowerPointのファイルは添付できません。PDFに変換して添付してください。",
                    "Word, Excel and PowerPoint files cannot be attached: convert them to PDF",
                )
                .file(name))
            }
            e if attachment_types.iter().any(|a| a == e) => Ok(false),
            _ => Err(HubError::new(
                Code::AttachmentType,
                format!(
                    "この種類のファイルは添付できません（添付できるのは {} と標準仕様のCSVです）。",
                    attachment_types.join("・")
                ),
                format!(
                    "this file type cannot be attached (allowed: {} and the standard's CSV files)",
                    attachment_types.join(", ")
                ),
            )
            .file(name)),
        }
    }

    /// Classifies and checks every upload's name; the names of the standard are parsed. Two
    /// names are the same file when they are equal after NFKC, ignoring case (D-HUB-NAMES).
    fn classify(&self, files: &[Upload], session: &Session) -> Result<Vec<Class>, HubError> {
        let mut seen = std::collections::BTreeMap::new();
        let switches = self.switches();
        let min_client = parse_version(&switches.v41_names_min_client);
        let client = parse_version(&session.client_version);
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let standard = self.check_upload(&f.name)?;
            if let Some(first) = seen.insert(crate::names::same_file_key(&f.name), f.name.as_str())
            {
                return Err(HubError::new(
                    Code::DuplicateFileName,
                    "同じ名前のファイルが複数添付されています（大文字・小文字や全角・半角の違いは同じ名前とみなします）。",
                    format!(
                        "the same file name is attached twice ({first:?} and {:?} are one name on a receiver's file system)",
                        f.name
                    ),
                )
                .file(&f.name));
            }
            if !standard {
                out.push(Class::Attachment);
                continue;
            }
            let name = FileName::parse(&f.name).map_err(|e| {
                name_error(&f.name, e.to_string()).detail(serde_json::json!({
                    "segment": e.segment,
                    "found": e.found,
                    "reason": e.reason,
                    "expected": e.expected,
                }))
            })?;
            if name.shape == careplan_spec::SpecVersion::V41 && client < min_client {
                return Err(name_error(
                    &f.name,
                    format!(
                        "this client ({}) predates V4.1 file names (needs {} or later)",
                        session.client_version, switches.v41_names_min_client
                    ),
                ));
            }
            out.push(Class::Standard(Box::new(name)));
        }
        Ok(out)
    }

    /// Checks that the standard files routed to one destination form exactly one send unit.
    fn check_unit(names: &[&FileName], files: &[&Upload]) -> Result<Option<UnitReport>, HubError> {
        if names.is_empty() {
            return Ok(None);
        }
        let reports: Vec<FileReport> = names
            .iter()
            .zip(files)
            .map(|(n, f)| FileReport::from_name(&f.name, (*n).clone()))
            .collect();
        let mut units = check_units(&reports, Options::default());
        if units.len() > 1 {
            let serials: BTreeSet<String> = units.iter().map(|u| u.serial.to_string()).collect();
            return Err(name_error(
                &files[units[1].files[0]].name,
                format!(
                    "one send carries one send unit (one ファイル連番 and one sender/receiver); found {} groups ({})",
                    units.len(),
                    serials.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let unit = units
            .pop()
            .expect("at least one named file makes one group");
        let errors: Vec<_> = unit
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        if let Some(first) = errors.first() {
            return Err(name_error(
                first.file.as_deref().unwrap_or(&files[0].name),
                first.message_en(),
            )
            .detail(serde_json::json!({
                "findings": errors.iter().map(|f| f.to_json(Some(unit.serial.as_str()))).collect::<Vec<_>>()
            })));
        }
        Ok(Some(unit))
    }

    /// Runs every check of a send and returns what to store (one entry per destination).
    pub fn prepare_send(
        &self,
        session: &Session,
        req: &SendRequest,
    ) -> Result<Vec<(NewSend, Vec<String>)>, HubError> {
        let limits = &self.config.limits;
        if req.destinations.is_empty() {
            return Err(HubError::bad_request("no destination office given"));
        }
        if req.files.is_empty() && req.message.trim().is_empty() {
            return Err(HubError::new(
                Code::EmptySend,
                "送信するファイルまたはメッセージがありません。",
                "nothing to send: no files and no message",
            ));
        }
        if req.files.len() > limits.max_files {
            return Err(HubError::new(
                Code::TooManyFiles,
                format!("添付できるファイルは{}個までです。", limits.max_files),
                format!("at most {} files per send", limits.max_files),
            ));
        }
        if req.message.chars().count() > limits.max_message_chars {
            return Err(HubError::new(
                Code::MessageTooLong,
                format!("メッセージは{}文字までです。", limits.max_message_chars),
                format!(
                    "the message is longer than {} characters",
                    limits.max_message_chars
                ),
            ));
        }
        let mut total = 0u64;
        for f in &req.files {
            total += f.content.len() as u64;
            if f.content.len() as u64 > limits.max_file_bytes {
                return Err(HubError::file_too_large(limits.max_file_bytes, &f.name));
            }
        }
        if total > limits.max_send_bytes {
            return Err(HubError::new(
                Code::TooLarge,
                format!(
                    "送信全体の大きさが上限（{}バイト）を超えています。",
                    limits.max_send_bytes
                ),
                format!("the send is larger than {} bytes", limits.max_send_bytes),
            ));
        }

        let from = self
            .store
            .office(&session.office)?
            .ok_or_else(|| HubError::internal("the session's office vanished from the registry"))?;
        if !self.licence_active(&from) {
            return Err(Self::licence_error(&from));
        }
        let mut dests = BTreeSet::new();
        for d in &req.destinations {
            if !dests.insert(&d.office) {
                return Err(HubError::bad_request(format!(
                    "destination {} is given twice",
                    d.office
                )));
            }
            self.check_destination(&from.number, d)?;
        }

        let classes = self.classify(&req.files, session)?;
        let switches = self.switches();
        let check_offices = switches.check_name_offices;
        // Route the standard files: by the receiver in their names when names are checked.
        let mut routed: Vec<Vec<usize>> = vec![Vec::new(); req.destinations.len()];
        for (i, class) in classes.iter().enumerate() {
            match class {
                Class::Standard(name) if check_offices => {
                    if name.sender.office.as_str() != from.number {
                        return Err(name_error(
                            &req.files[i].name,
                            format!(
                                "the name's sender office {} is not the sending office {}",
                                name.sender.office, from.number
                            ),
                        ));
                    }
                    let Some(d) = req
                        .destinations
                        .iter()
                        .position(|d| d.office == name.receiver.office.as_str())
                    else {
                        return Err(name_error(
                            &req.files[i].name,
                            format!(
                                "the name's receiver office {} is not a destination of this send ({})",
                                name.receiver.office,
                                req.destinations
                                    .iter()
                                    .map(|d| d.office.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    };
                    let dest = &req.destinations[d];
                    if let (Some(want), Some(named)) =
                        (&dest.service_type, name.receiver.service_type())
                        && named.as_str() != want
                    {
                        return Err(name_error(
                            &req.files[i].name,
                            format!(
                                "the name addresses service type {named}, but this send goes to {}'s service type {want}",
                                dest.office
                            ),
                        ));
                    }
                    routed[d].push(i);
                }
                // Attachments, and standard files when names are not compared with offices, go to
                // every destination.
                Class::Standard(_) | Class::Attachment => routed.iter_mut().for_each(|r| r.push(i)),
            }
        }

        let profile = switches
            .annotate_profile
            .as_deref()
            .and_then(Profile::named);
        let mut out = Vec::with_capacity(req.destinations.len());
        for (d, dest) in req.destinations.iter().enumerate() {
            let (names, files): (Vec<&FileName>, Vec<&Upload>) = routed[d]
                .iter()
                .filter_map(|&i| match &classes[i] {
                    Class::Standard(n) => Some((n.as_ref(), &req.files[i])),
                    Class::Attachment => None,
                })
                .unzip();
            let unit = Self::check_unit(&names, &files)?;
            let from_type = names
                .first()
                .and_then(|n| n.sender.service_type())
                .map(|t| t.as_str().to_owned());
            let to_type = dest.service_type.clone().or_else(|| {
                names
                    .first()
                    .and_then(|n| n.receiver.service_type())
                    .map(|t| t.as_str().to_owned())
            });
            let annotations = profile.map(|p| annotate(p, &files));
            let new_files: Vec<NewFile> = routed[d]
                .iter()
                .map(|&i| NewFile {
                    name: req.files[i].name.clone(),
                    sha256: sha256_hex(&req.files[i].content),
                    content: req.files[i].content.clone(),
                })
                .collect();
            let file_names = new_files.iter().map(|f| f.name.clone()).collect();
            out.push((
                NewSend {
                    draft: req.draft,
                    from_office: from.number.clone(),
                    from_type,
                    to_office: dest.office.clone(),
                    to_type,
                    terminal: session.terminal.clone(),
                    user_id: session.user_id.clone(),
                    message: req.message.clone(),
                    unit: unit.as_ref().and_then(|u| u.unit.map(str::to_owned)),
                    serial: unit.as_ref().map(|u| u.serial.to_string()),
                    annotations: annotations.map(|a| a.to_string()),
                    files: new_files,
                },
                file_names,
            ));
        }
        Ok(out)
    }

    /// Checks and stores a send (or bulk send, or draft).
    pub fn send(&self, session: &Session, req: &SendRequest) -> Result<SendReceipt, HubError> {
        let prepared = self.prepare_send(session, req)?;
        let sends: Vec<NewSend> = prepared.iter().map(|(s, _)| s.clone()).collect();
        let ids = self.store.insert_sends(&sends, self.now())?;
        Ok(SendReceipt {
            draft: req.draft,
            deliveries: prepared
                .into_iter()
                .zip(&ids)
                .map(|((s, files), &id)| DeliveryReceipt {
                    id,
                    to_office: s.to_office,
                    to_type: s.to_type,
                    unit: s.unit,
                    serial: s.serial,
                    files,
                    annotations: s.annotations.and_then(|a| serde_json::from_str(&a).ok()),
                })
                .collect(),
            ids,
        })
    }

    pub fn inbox(&self, session: &Session) -> Result<Vec<SendEntry>, HubError> {
        Ok(self.store.inbox(
            &session.office,
            &session.terminal,
            self.switches().receive_mode,
            self.now(),
        )?)
    }

    pub fn outgoing(&self, session: &Session, drafts: bool) -> Result<Vec<SendEntry>, HubError> {
        Ok(self
            .store
            .list_outgoing(&session.office, &session.terminal, drafts)?)
    }

    pub fn send_draft(&self, session: &Session, id: i64) -> Result<(), HubError> {
        if self
            .store
            .send_draft(id, &session.office, &session.terminal, self.now())?
        {
            Ok(())
        } else {
            Err(HubError::not_found())
        }
    }

    pub fn delete_draft(&self, session: &Session, id: i64) -> Result<(), HubError> {
        if self
            .store
            .delete_draft(id, &session.office, &session.terminal)?
        {
            Ok(())
        } else {
            Err(HubError::not_found())
        }
    }

    pub fn download(
        &self,
        session: &Session,
        send_id: i64,
        file_id: i64,
    ) -> Result<(String, Vec<u8>), HubError> {
        self.store
            .received_file(
                &session.office,
                &session.terminal,
                self.switches().receive_mode,
                send_id,
                file_id,
            )?
            .ok_or_else(HubError::not_found)
    }

    pub fn status(&self, caller: &Caller) -> Result<Status, HubError> {
        let office = self.check_caller(caller)?;
        let now = self.now();
        let switches = self.switches();
        Ok(Status {
            licence: if office.licence == Licence::Active && !self.licence_active(&office) {
                Licence::Expired
            } else {
                office.licence
            },
            office: office.number,
            office_name: office.name,
            service_types: office.service_types,
            licence_until: office.licence_until,
            certificate_kind: caller.kind.map(|k| k.tag().to_owned()),
            certificate_kind_ja: caller.kind.map(|k| k.label_ja().to_owned()),
            certificate_not_after: caller.cert_not_after,
            certificate_days_left: caller.cert_not_after.map(|t| (t - now).div_euclid(86_400)),
            notices: self.config.notices.clone(),
            server_version: env!("CARGO_PKG_VERSION").to_owned(),
            v41_names_min_client: switches.v41_names_min_client,
            receive_mode: switches.receive_mode,
            max_file_bytes: self.config.limits.max_file_bytes,
            max_send_bytes: self.config.limits.max_send_bytes,
            max_files: self.config.limits.max_files,
            now,
        })
    }
}

/// The spec core's findings on a destination's standard files (never blocking).
fn annotate(profile: &'static Profile, files: &[&Upload]) -> serde_json::Value {
    let options = Options {
        profile,
        ..Options::default()
    };
    let reports: Vec<FileReport> = files
        .iter()
        .map(|f| careplan_spec::validate_bytes(&f.name, &f.name, &f.content, options))
        .collect();
    let units = check_units(&reports, options);
    let findings: Vec<_> = reports
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| f.to_json(None)))
        .chain(units.iter().flat_map(|u| {
            u.findings
                .iter()
                .map(|f| f.to_json(Some(u.serial.as_str())))
        }))
        .collect();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    serde_json::json!({
        "profile": profile.name,
        "errors": count(Severity::Error),
        "warnings": count(Severity::Warning),
        "findings": findings.iter().take(100).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kj_ids_are_kj_and_twelve_digits() {
        assert!(is_kj_id("KJ031000010001"));
        assert!(!is_kj_id("KJ03100001001"));
        assert!(!is_kj_id("HD031000010001"));
        assert!(!is_kj_id("KJ03100001000X"));
    }

    #[test]
    fn extensions_are_lower_case_and_need_a_stem() {
        assert_eq!(extension("A.CSV").as_deref(), Some("csv"));
        assert_eq!(extension(".zip"), None);
        assert_eq!(extension("noext"), None);
    }
}
