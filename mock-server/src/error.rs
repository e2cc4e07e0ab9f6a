//! The hub's refusals: a stable code, an HTTP status, and a message in Japanese and English, with
//! the file concerned when there is one. Clients, the harness and the trace all key on the code.

use serde::{Deserialize, Serialize};

/// Stable refusal codes (documented in `docs/exchange.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    /// No client certificate on a plain-HTTP (benchmark) connection.
    CertRequired,
    /// 代理人証明書 or 障害総合支援証明書.
    CertKindRefused,
    /// The certificate's office is not in the registry.
    OfficeNotRegistered,
    /// The caller's own licence is not active.
    LicenceInactive,
    LoginFailed,
    PasswordTemporary,
    PasswordExpired,
    AccountLocked,
    AgentIdRefused,
    /// Missing, unknown or expired session token.
    SessionInvalid,
    /// The token belongs to another office's certificate.
    SessionOfficeMismatch,
    /// The terminal name is bound to another PC's terminal key (D-HUB-TERMINAL).
    TerminalRefused,
    /// The connection's certificate was revoked after its handshake.
    CertRevoked,
    /// Too many open connections with one client certificate.
    TooManyConnections,
    /// Too many login challenges in a short time (2027 shape).
    RateLimited,
    /// The hub holds as many uploads as it buffers at once; retry.
    Busy,
    /// The request body stalled.
    Timeout,
    /// The path exists but not with this method.
    MethodNotAllowed,
    /// 「入力された番号はケアプランデータ連携システムに対応していません」.
    DestinationNotSupported,
    OwnOffice,
    /// 「添付ファイル名の形式に誤りがあります。…」.
    FileNameFormat,
    AttachmentZip,
    AttachmentOffice,
    AttachmentType,
    HostileFileName,
    DuplicateFileName,
    TooLarge,
    TooManyFiles,
    MessageTooLong,
    EmptySend,
    NotFound,
    BadRequest,
    Internal,
}

impl Code {
    /// Every code (the OpenAPI documents are checked against it).
    pub const ALL: &[Code] = &[
        Self::CertRequired,
        Self::CertKindRefused,
        Self::OfficeNotRegistered,
        Self::LicenceInactive,
        Self::LoginFailed,
        Self::PasswordTemporary,
        Self::PasswordExpired,
        Self::AccountLocked,
        Self::AgentIdRefused,
        Self::SessionInvalid,
        Self::SessionOfficeMismatch,
        Self::TerminalRefused,
        Self::CertRevoked,
        Self::TooManyConnections,
        Self::RateLimited,
        Self::Busy,
        Self::Timeout,
        Self::MethodNotAllowed,
        Self::DestinationNotSupported,
        Self::OwnOffice,
        Self::FileNameFormat,
        Self::AttachmentZip,
        Self::AttachmentOffice,
        Self::AttachmentType,
        Self::HostileFileName,
        Self::DuplicateFileName,
        Self::TooLarge,
        Self::TooManyFiles,
        Self::MessageTooLong,
        Self::EmptySend,
        Self::NotFound,
        Self::BadRequest,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CertRequired => "CERT_REQUIRED",
            Self::CertKindRefused => "CERT_KIND_REFUSED",
            Self::OfficeNotRegistered => "OFFICE_NOT_REGISTERED",
            Self::LicenceInactive => "LICENCE_INACTIVE",
            Self::LoginFailed => "LOGIN_FAILED",
            Self::PasswordTemporary => "PASSWORD_TEMPORARY",
            Self::PasswordExpired => "PASSWORD_EXPIRED",
            Self::AccountLocked => "ACCOUNT_LOCKED",
            Self::AgentIdRefused => "AGENT_ID_REFUSED",
            Self::SessionInvalid => "SESSION_INVALID",
            Self::SessionOfficeMismatch => "SESSION_OFFICE_MISMATCH",
            Self::TerminalRefused => "TERMINAL_REFUSED",
            Self::CertRevoked => "CERT_REVOKED",
            Self::TooManyConnections => "TOO_MANY_CONNECTIONS",
            Self::RateLimited => "RATE_LIMITED",
            Self::Busy => "BUSY",
            Self::Timeout => "TIMEOUT",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::DestinationNotSupported => "DESTINATION_NOT_SUPPORTED",
            Self::OwnOffice => "OWN_OFFICE",
            Self::FileNameFormat => "FILE_NAME_FORMAT",
            Self::AttachmentZip => "ATTACHMENT_ZIP",
            Self::AttachmentOffice => "ATTACHMENT_OFFICE",
            Self::AttachmentType => "ATTACHMENT_TYPE",
            Self::HostileFileName => "HOSTILE_FILE_NAME",
            Self::DuplicateFileName => "DUPLICATE_FILE_NAME",
            Self::TooLarge => "TOO_LARGE",
            Self::TooManyFiles => "TOO_MANY_FILES",
            Self::MessageTooLong => "MESSAGE_TOO_LONG",
            Self::EmptySend => "EMPTY_SEND",
            Self::NotFound => "NOT_FOUND",
            Self::BadRequest => "BAD_REQUEST",
            Self::Internal => "INTERNAL",
        }
    }

    /// The HTTP status of the v1 interface.
    pub fn status(self) -> u16 {
        match self {
            Self::CertRequired | Self::SessionInvalid | Self::LoginFailed => 401,
            Self::CertKindRefused
            | Self::OfficeNotRegistered
            | Self::LicenceInactive
            | Self::PasswordTemporary
            | Self::PasswordExpired
            | Self::AccountLocked
            | Self::AgentIdRefused
            | Self::SessionOfficeMismatch
            | Self::TerminalRefused
            | Self::CertRevoked => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed => 405,
            Self::Timeout => 408,
            Self::RateLimited => 429,
            Self::TooManyConnections | Self::Busy => 503,
            Self::TooLarge => 413,
            Self::Internal => 500,
            _ => 400,
        }
    }
}

/// The message the field reports for a bad attachment combination ([B] exchange.md §1.10).
pub const MSG_FILE_NAME_FORMAT: &str =
    "添付ファイル名の形式に誤りがあります。標準仕様の送信単位に従ったファイルを添付してください。";
/// The message the field reports for an unregistered destination ([B] exchange.md §1.10).
pub const MSG_DESTINATION: &str = "入力された番号はケアプランデータ連携システムに対応していません";

/// A refusal.
#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{} ({}): {message_ja} / {message_en}{}", code.as_str(), status, file.as_deref().map(|f| format!(" [file {f}]")).unwrap_or_default())]
pub struct HubError {
    pub code: Code,
    pub status: u16,
    pub message_ja: String,
    pub message_en: String,
    /// The file the refusal is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Structured detail (e.g. the unit findings, the name segment that is wrong).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

impl HubError {
    pub fn new(code: Code, ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code,
            status: code.status(),
            message_ja: ja.into(),
            message_en: en.into(),
            file: None,
            detail: None,
        }
    }

    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(detail);
        self
    }

    pub fn internal(what: impl std::fmt::Display) -> Self {
        Self::new(
            Code::Internal,
            "模擬連携基盤の内部エラーです。",
            format!("internal error of the mock exchange: {what}"),
        )
    }

    pub fn not_found() -> Self {
        Self::new(
            Code::NotFound,
            "指定されたデータは見つかりません。",
            "no such item for this office and terminal",
        )
    }

    /// A path the interface does not have.
    pub fn no_endpoint() -> Self {
        Self::new(
            Code::NotFound,
            "そのようなAPIはありません。",
            "no such endpoint",
        )
    }

    /// One file over the per-file limit.
    pub fn file_too_large(limit: u64, file: impl Into<String>) -> Self {
        Self::new(
            Code::TooLarge,
            format!("ファイルの大きさが上限（{limit}バイト）を超えています。"),
            format!("the file is larger than {limit} bytes"),
        )
        .file(file)
    }

    pub fn bad_request(en: impl Into<String>) -> Self {
        Self::new(Code::BadRequest, "要求の形式に誤りがあります。", en)
    }
}

impl From<crate::store::StoreError> for HubError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}
