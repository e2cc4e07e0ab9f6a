//! The hub's configuration (`cpkit serve --config FILE`): where it listens and stores, its limits,
//! the switches for behaviours the field reports but no primary source confirms ([B]/[G] in
//! `../shared/domain/exchange.md`), and the office registry it starts with.
//!
//! Every field has a default, so an empty file (or no file) is a working configuration; with no
//! registry at all the hub seeds the demo registry of [`Config::demo_registry`].

use std::net::SocketAddr;
use std::path::PathBuf;

use careplan_spec::{OfficeNumber, ServiceTypeCode};
use serde::{Deserialize, Serialize};

/// What went wrong reading a configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("failed to read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// How an office's inbox is consumed by its terminals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiveMode {
    /// The first terminal that lists the inbox takes the items; other terminals never see them
    /// (field report [B], decision D-HUB-RECEIVE).
    #[default]
    FirstListerWins,
    /// Every terminal of the office sees every item.
    Shared,
}

/// Which HTTP interface the hub serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApiShape {
    /// The current exchange as a client application sees it (`/v1/…`).
    #[default]
    #[serde(rename = "v1")]
    V1,
    /// The care-plan API announced for the 介護保険資格確認等WEBサービス (planned 2027): REST/JSON
    /// under `/api/…`, login with ID/password plus a one-time password, 60-minute access and
    /// 8-hour refresh tokens, business errors as HTTP 200 (see `api2027`).
    #[serde(rename = "2027")]
    Api2027,
}

/// Sizes and counts the hub enforces. The real limits are unknown (exchange.md §1.5); these are
/// deliberately ordinary values.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    pub max_file_bytes: u64,
    pub max_send_bytes: u64,
    pub max_files: usize,
    pub max_message_chars: usize,
    pub login_failures_before_lock: u32,
    pub session_minutes: i64,
    /// PBKDF2 iterations for stored passwords (a mock: low enough to seed thousands of users).
    pub password_iterations: u32,
    /// A request's headers must arrive within this many seconds; an idle kept-alive connection
    /// is closed after as long (D-HUB-CONNECTIONS).
    pub header_timeout_seconds: u64,
    /// A request body that sends nothing for this long is refused (`TIMEOUT`).
    pub body_stall_seconds: u64,
    /// After its first `body_stall_seconds`, a request body must have averaged at least this
    /// many bytes per second, or it is refused `TIMEOUT` (0: no minimum).
    pub min_body_bytes_per_second: u64,
    /// Open connections one client certificate may hold at once.
    pub max_connections_per_certificate: usize,
    /// Request-body bytes the hub buffers at once across all connections; further uploads
    /// wait their turn.
    pub max_bytes_in_flight: u64,
    /// How long an upload waits for its turn before it is answered `BUSY`.
    pub busy_wait_seconds: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 10 * 1024 * 1024,
            max_send_bytes: 30 * 1024 * 1024,
            max_files: 50,
            max_message_chars: 1000,
            login_failures_before_lock: 5,
            session_minutes: 8 * 60,
            password_iterations: 10_000,
            header_timeout_seconds: 30,
            body_stall_seconds: 30,
            min_body_bytes_per_second: 1024,
            max_connections_per_certificate: 16,
            max_bytes_in_flight: 128 * 1024 * 1024,
            busy_wait_seconds: 30,
        }
    }
}

/// Behaviours behind named switches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    pub receive_mode: ReceiveMode,
    /// The names' sender and receiver office numbers must be the sending office and the destination
    /// ([G] exchange.md §1.6: the check is on names, "prefix set + shared 連番 + office numbers").
    pub check_name_offices: bool,
    /// Attachments other than the standard CSV/JPEG files, by lower-case extension ([B]).
    pub attachment_types: Vec<String>,
    /// The oldest client version that knows V4.1 file names; older clients get the file-name error
    /// on V4.1 names ([B]: the field reports old clients refusing 4.1 names).
    pub v41_names_min_client: String,
    /// Refuse `HD…` (代理人) user IDs ([B]).
    pub refuse_agent_ids: bool,
    /// When set, each send is annotated with the spec core's findings under this profile
    /// (never blocking: the hub forwards files unchanged).
    pub annotate_profile: Option<String>,
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            receive_mode: ReceiveMode::default(),
            check_name_offices: true,
            attachment_types: ["pdf", "jpeg", "jpg", "png", "gif", "txt"]
                .map(str::to_owned)
                .to_vec(),
            v41_names_min_client: "1.2.0".to_owned(),
            refuse_agent_ids: true,
            annotate_profile: None,
        }
    }
}

/// Licence state of an office (exchange.md §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Licence {
    None,
    Applied,
    Active,
    Expired,
}

impl Licence {
    pub fn tag(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Applied => "applied",
            Self::Active => "active",
            Self::Expired => "expired",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        [Self::None, Self::Applied, Self::Active, Self::Expired]
            .into_iter()
            .find(|l| l.tag() == tag)
    }
}

/// One office of the registry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeConfig {
    pub number: OfficeNumber,
    #[serde(default)]
    pub name: String,
    pub service_types: Vec<String>,
    pub licence: Licence,
    /// `YYYY-MM-DD`, the last day of the licence.
    #[serde(default)]
    pub licence_until: Option<String>,
}

/// Password state of a user (exchange.md §1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PasswordState {
    #[default]
    Active,
    Temporary,
    Expired,
}

impl PasswordState {
    pub fn tag(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Temporary => "temporary",
            Self::Expired => "expired",
        }
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        [Self::Active, Self::Temporary, Self::Expired]
            .into_iter()
            .find(|l| l.tag() == tag)
    }
}

/// One login ID.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// `KJ` + 12 digits (or an `HD…` 代理人 ID, which the hub refuses).
    pub id: String,
    pub office: OfficeNumber,
    pub password: String,
    #[serde(default)]
    pub state: PasswordState,
    /// A 代理人 ID (refused even when its prefix is KJ).
    #[serde(default)]
    pub agent: bool,
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// Where the database lives (`exchange.sqlite3`).
    pub data: PathBuf,
    /// The test PKI directory (see `certs/README.md`).
    pub certs: PathBuf,
    pub api: ApiShape,
    /// Serve plain HTTP and take the office from the `X-Cpkit-Office` header. For benchmarks
    /// only; never the default.
    pub insecure_plain_http: bool,
    pub limits: Limits,
    pub switches: Switches,
    /// Notices shown by `/v1/status`.
    pub notices: Vec<String>,
    pub offices: Vec<OfficeConfig>,
    pub users: Vec<UserConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8443".parse().expect("a valid socket address"),
            data: PathBuf::from(".cpkit/exchange"),
            certs: PathBuf::from("certs"),
            api: ApiShape::default(),
            insecure_plain_http: false,
            limits: Limits::default(),
            switches: Switches::default(),
            notices: Vec::new(),
            offices: Vec::new(),
            users: Vec::new(),
        }
    }
}

/// The password every demo user starts with (printed by `cpkit serve`).
pub const DEMO_PASSWORD: &str = "demo-pass-1";

/// The demo user ID of an office: `KJ` + the office number + `01`.
pub fn demo_user_id(office: &OfficeNumber) -> String {
    format!("KJ{}01", office.as_str())
}

impl Config {
    pub fn load(path: &std::path::Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let config: Config = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        config.check().map_err(|message| ConfigError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(config)
    }

    /// Cross-field checks serde cannot express.
    pub fn check(&self) -> Result<(), String> {
        for o in &self.offices {
            for t in &o.service_types {
                if ServiceTypeCode::parse(t).is_none() {
                    return Err(format!(
                        "office {}: service type {t:?} is not a 2-character サービス種類コード",
                        o.number
                    ));
                }
            }
            if let Some(d) = &o.licence_until
                && parse_date(d).is_none()
            {
                return Err(format!(
                    "office {}: licence_until {d:?} is not YYYY-MM-DD",
                    o.number
                ));
            }
        }
        for u in &self.users {
            if !self.offices.iter().any(|o| o.number == u.office) {
                return Err(format!(
                    "user {}: office {} is not in [[offices]]",
                    u.id, u.office
                ));
            }
        }
        if let Some(p) = &self.switches.annotate_profile
            && careplan_spec::Profile::named(p).is_none()
        {
            return Err(format!("switches.annotate_profile: unknown profile {p:?}"));
        }
        if parse_version(&self.switches.v41_names_min_client).is_none() {
            return Err("switches.v41_names_min_client must look like 1.2.0".to_owned());
        }
        Ok(())
    }

    /// The registry seeded when the configuration has none: the offices of the golden corpus
    /// (a 居宅介護支援 office, providers with one and two services, a 地域包括支援センター), an office
    /// whose licence expired, one that only applied, and demo users (one per office; the 居宅 office
    /// also has a temporary-password user and a 代理人 ID).
    pub fn demo_registry() -> (Vec<OfficeConfig>, Vec<UserConfig>) {
        let office = |n: &str, name: &str, types: &[&str], licence: Licence| OfficeConfig {
            number: OfficeNumber::parse(n).expect("demo office numbers are valid"),
            name: name.to_owned(),
            service_types: types.iter().map(|t| (*t).to_owned()).collect(),
            licence,
            licence_until: Some(
                if licence == Licence::Expired {
                    "2025-03-31"
                } else {
                    "2027-03-31"
                }
                .to_owned(),
            ),
        };
        let offices = vec![
            office(
                "0310000100",
                "デモ居宅介護支援事業所",
                &["43"],
                Licence::Active,
            ),
            office(
                "0320000201",
                "デモ訪問・通所介護事業所（同一番号2サービス）",
                &["11", "15"],
                Licence::Active,
            ),
            office(
                "0320000202",
                "デモ通所介護事業所",
                &["15", "A5"],
                Licence::Active,
            ),
            office(
                "0320000300",
                "デモ福祉用具貸与事業所",
                &["17", "67"],
                Licence::Active,
            ),
            office(
                "0320000500",
                "デモ通所介護第二事業所",
                &["15"],
                Licence::Active,
            ),
            office(
                "0330000400",
                "デモ地域包括支援センター",
                &["46"],
                Licence::Active,
            ),
            office(
                "0320000900",
                "デモ事業所（ライセンス期限切れ）",
                &["11"],
                Licence::Expired,
            ),
            office(
                "0320000901",
                "デモ事業所（利用申請中）",
                &["11"],
                Licence::Applied,
            ),
        ];
        let mut users: Vec<UserConfig> = offices
            .iter()
            .map(|o| UserConfig {
                id: demo_user_id(&o.number),
                office: o.number.clone(),
                password: DEMO_PASSWORD.to_owned(),
                state: PasswordState::Active,
                agent: false,
            })
            .collect();
        let kyotaku = offices[0].number.clone();
        users.push(UserConfig {
            id: format!("KJ{}02", kyotaku.as_str()),
            office: kyotaku.clone(),
            password: DEMO_PASSWORD.to_owned(),
            state: PasswordState::Temporary,
            agent: false,
        });
        users.push(UserConfig {
            id: format!("HD{}01", kyotaku.as_str()),
            office: kyotaku,
            password: DEMO_PASSWORD.to_owned(),
            state: PasswordState::Active,
            agent: true,
        });
        (offices, users)
    }
}

/// `YYYY-MM-DD` → days since the Unix epoch.
pub fn parse_date(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &format).ok()
}

/// `1.2.0` → `[1, 2, 0]`.
pub fn parse_version(text: &str) -> Option<Vec<u32>> {
    let parts: Option<Vec<u32>> = text.trim().split('.').map(|p| p.parse().ok()).collect();
    parts.filter(|p| !p.is_empty() && p.len() <= 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_is_the_default_configuration() {
        let config: Config = toml::from_str("").unwrap();
        assert_eq!(config.listen.port(), 8443);
        assert_eq!(config.switches.receive_mode, ReceiveMode::FirstListerWins);
        config.check().unwrap();
    }

    #[test]
    fn office_numbers_stay_strings_with_leading_zeros() {
        let config: Config = toml::from_str(
            r#"
            [[offices]]
            number = "0100000001"
            service_types = ["11"]
            licence = "active"
            "#,
        )
        .unwrap();
        assert_eq!(config.offices[0].number.as_str(), "0100000001");
        let err = toml::from_str::<Config>(
            "[[offices]]\nnumber = 100000001\nservice_types = []\nlicence = \"active\"\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("number"), "{err}");
    }

    #[test]
    fn users_must_belong_to_a_registered_office() {
        let config: Config = toml::from_str(
            "[[users]]\nid = \"KJ000000000001\"\noffice = \"0100000001\"\npassword = \"x\"\n",
        )
        .unwrap();
        assert!(config.check().unwrap_err().contains("not in [[offices]]"));
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(parse_version("1.10.0") > parse_version("1.2.0"));
        assert_eq!(parse_version("x"), None);
    }
}
