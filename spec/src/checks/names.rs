//! File names: the findings a parsed name carries by itself — extension case, sender equal to
//! receiver, a ファイル連番 that is no date-time, the withdrawn V4.0 shape, UPKIHON's month segment,
//! service types unknown or outside the exchange, V4-only kinds in V3 shape. (A name that does not
//! parse at all is the validator's NAME001/NAME011, raised before any family runs.)

use crate::codes;
use crate::filename::FileName;
use crate::finding::Finding;
use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::version::SpecVersion;

use super::{Family, Hook};

pub static FAMILY: Family = Family {
    id: "names",
    summary: "what a parsed file name says by itself: extension, offices, 連番, shape, service types",
    rules: &[
        RuleId::NameMalformed,
        RuleId::NameLowercaseExtension,
        RuleId::NameSameOffice,
        RuleId::NameSerialNotDateTime,
        RuleId::NameV40Shape,
        RuleId::NameKihonMonth,
        RuleId::NameUnknownServiceType,
        RuleId::NameServiceTypeNotLinked,
    ],
    hooks: &[Hook::Name(check_name)],
    covers: super::no_columns,
};

/// Name-level findings of a parsed name.
fn check_name(name: &FileName, sink: &mut Sink) {
    if !name.kind.is_image() && name.extension != "CSV" {
        sink.push(Finding::new(RuleId::NameLowercaseExtension).arg("found", &name.extension));
    }
    if name.sender.office == name.receiver.office {
        sink.push(Finding::new(RuleId::NameSameOffice).arg("office", &name.sender.office));
    }
    if !name.serial.is_valid_datetime() {
        sink.push(Finding::new(RuleId::NameSerialNotDateTime).arg("serial", &name.serial));
    }
    if name.shape == SpecVersion::V40 {
        sink.push(Finding::new(RuleId::NameV40Shape));
    }
    if name.kind == FileKind::UpKihon && name.month.is_some() {
        sink.push(Finding::new(RuleId::NameKihonMonth));
    }
    for (party, party_ja, p) in [
        ("sender", "送信元の", &name.sender),
        ("receiver", "送信先の", &name.receiver),
    ] {
        let Some(stype) = p.service_type() else {
            continue;
        };
        match codes::service_type(stype.as_str()) {
            None => sink.push(
                Finding::new(RuleId::NameUnknownServiceType)
                    .arg("party", party)
                    .arg("party_ja", party_ja)
                    .arg("code", stype),
            ),
            Some(t) if !t.linked => sink.push(
                Finding::new(RuleId::NameServiceTypeNotLinked)
                    .arg("code", stype)
                    .arg("name", &t.name),
            ),
            Some(_) => {}
        }
    }
    if !name.kind.exists_in(name.shape) {
        sink.push(
            Finding::new(RuleId::NameMalformed)
                .arg("segment", "file kind prefix")
                .arg("segment_ja", "ファイル種別（接頭辞）")
                .arg("found", name.kind.prefix())
                .arg(
                    "reason",
                    format!(
                        "{} exists only from V4 on, but the name has the V3 shape",
                        name.kind.prefix()
                    ),
                )
                .arg(
                    "expected",
                    crate::filename::template(name.kind, SpecVersion::V41),
                ),
        );
    }
}
