//! Who sends what (S4 §1.3-§1.4, §2.1, §3.1): 予定, 計画書 and 利用者基本情報 go from the care-manager
//! side (居宅介護支援 43, 介護予防支援 46, 介護予防ケアマネジメント AF, or a service with care managers of
//! its own such as 小規模多機能) to a service office; 実績 goes back. A 委託 居宅介護支援事業所 and its
//! 地域包括支援センター exchange in both directions, so a care-manager type on both ends is accepted
//! when the two types differ. Judged from the service types of a V4 name (D-ROLES).

use crate::codes::{self, Benefit};
use crate::filename::FileName;
use crate::finding::Finding;
use crate::kind::Sender;
use crate::rules::RuleId;
use crate::sink::Sink;

use super::{Family, Hook};

pub static FAMILY: Family = Family {
    id: "roles",
    summary: "the name's service types fit the kind's direction (care manager ↔ service office)",
    rules: &[RuleId::RolSenderType],
    hooks: &[Hook::Name(check_name)],
    covers: super::no_columns,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    CareManager,
    /// A service with care managers of its own.
    Both,
    Service,
}

fn role(code: &str) -> Option<Role> {
    let t = codes::service_type(code)?;
    Some(if t.benefit == Benefit::CareManagement {
        Role::CareManager
    } else if t.care_managers {
        Role::Both
    } else {
        Role::Service
    })
}

fn check_name(name: &FileName, sink: &mut Sink) {
    let (Some(st), Some(rt)) = (name.sender.service_type(), name.receiver.service_type()) else {
        return; // V3 names carry no service types
    };
    let (Some(s), Some(r)) = (role(st.as_str()), role(rt.as_str())) else {
        return; // unknown types are NAME007's
    };
    // 委託: care-manager offices of different types exchange in both directions.
    let entrusted = s == Role::CareManager && r == Role::CareManager && st != rt;
    let from_care_manager = name.kind.info().sender == Sender::CareManager;
    let (bad_party, direction_ja, direction) = if from_care_manager {
        if s == Role::Service {
            (
                Some("sender"),
                "居宅介護支援事業所等からサービス事業所へ送るファイル",
                "from the care manager to the service office",
            )
        } else if r == Role::CareManager && !entrusted {
            (
                Some("receiver"),
                "居宅介護支援事業所等からサービス事業所へ送るファイル",
                "from the care manager to the service office",
            )
        } else {
            (None, "", "")
        }
    } else if s == Role::CareManager && !entrusted {
        (
            Some("sender"),
            "サービス事業所から居宅介護支援事業所等へ送るファイル",
            "from the service office to the care manager",
        )
    } else if r == Role::Service {
        (
            Some("receiver"),
            "サービス事業所から居宅介護支援事業所等へ送るファイル",
            "from the service office to the care manager",
        )
    } else {
        (None, "", "")
    };
    let Some(party) = bad_party else { return };
    let (code, party_ja) = if party == "sender" {
        (st, "送信元")
    } else {
        (rt, "送信先")
    };
    let type_name = codes::service_type(code.as_str())
        .map(|t| t.name.as_str())
        .unwrap_or("");
    sink.push(
        Finding::new(RuleId::RolSenderType)
            .arg("kind", name.kind.prefix())
            .arg("direction", direction)
            .arg("direction_ja", direction_ja)
            .arg("party", party)
            .arg("party_ja", party_ja)
            .arg("code", code)
            .arg("name", type_name),
    );
}
