//! Upload names: which file names the hub accepts, and when two names are the same file.
//!
//! A name travels to a receiver that writes it into a folder, usually on Windows, often after
//! a conversion to CP932 (whose best-fit mapping turns `¥` into `\`) or a Unicode normalisation
//! (which turns `／` into `/` and `ＣＯＮ` into `CON`). The hub refuses every name that such a
//! receiver could turn into a path, a device or something that looks unlike what it is
//! (decision D-HUB-NAMES):
//!
//! * empty, longer than [`MAX_UPLOAD_NAME_CHARS`] characters or 255 bytes;
//! * control characters, invisible and bidirectional formatting characters (zero-width
//!   characters, the BOM, U+202E …), line and paragraph separators, private-use characters
//!   (外字) and U+FFFD (the sign of a name that was already mis-decoded);
//! * path separators and their look-alikes (`/ \ : ¥ ₩ ／ ＼ ∕ ∖ ⁄ …`), `..` and one-dot
//!   look-alikes (`․ ． ‥ …`), a leading `.`, a trailing `.` or space;
//! * the characters Windows forbids (`< > " | ? *`);
//! * Windows device names (`CON PRN AUX NUL COM0–9 LPT0–9 CONIN$ CONOUT$`, also with superscript
//!   digits) with any extension (`CON.txt`, `nul.tar.gz`, `COM1 .pdf`).
//!
//! Every check runs on the name as sent and on its NFKC form, so that a full-width or
//! compatibility spelling of a refused name is refused too. Two names of one send are the same
//! file when their NFKC forms are equal ignoring case ([`same_file_key`]), as on NTFS.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Code, HubError};

/// The longest upload name, in characters.
pub const MAX_UPLOAD_NAME_CHARS: usize = 120;

/// Characters that separate folders somewhere, or turn into a separator after a CP932 best-fit
/// conversion or a normalisation.
const SEPARATORS: &[char] = &[
    '/', '\\', ':', '\u{A5}',   // ¥ → \ under CP932 best-fit
    '\u{20A9}', // ₩ → \ under the Korean code page
    '\u{FF0F}', // ／
    '\u{FF3C}', // ＼
    '\u{2215}', // ∕
    '\u{2216}', // ∖
    '\u{2044}', // ⁄
    '\u{29F8}', // ⧸
    '\u{29F9}', // ⧹
    '\u{FE68}', // ﹨
    '\u{FF1A}', // ：
    '\u{A789}', // ꞉
];

/// Characters that look like one or more dots (`..` in disguise).
const DOTS: &[char] = &[
    '\u{2024}', // ․ one dot leader
    '\u{2025}', // ‥
    '\u{2026}', // …
    '\u{FF0E}', // ．
    '\u{FE52}', // ﹒
    '\u{0701}', // ܁
    '\u{0702}', // ܂
];

/// Whether a character is invisible, changes the direction of the text around it, or has no
/// agreed glyph: a name holding one does not show what it is.
pub(crate) fn is_hidden(c: char) -> bool {
    matches!(c,
        '\u{00AD}'                      // soft hyphen
        | '\u{034F}'                    // combining grapheme joiner
        | '\u{061C}'                    // Arabic letter mark
        | '\u{115F}' | '\u{1160}'       // Hangul fillers
        | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'       // Mongolian variation selectors, vowel separator
        | '\u{200B}'..='\u{200F}'       // zero-width space, joiners, LRM, RLM
        | '\u{2028}'..='\u{202E}'       // line/paragraph separators, LRE … RLO
        | '\u{2060}'..='\u{206F}'       // word joiner, invisible operators, LRI … PDI
        | '\u{3164}' | '\u{FFA0}'       // Hangul fillers
        | '\u{FE00}'..='\u{FE0F}'       // variation selectors
        | '\u{FEFF}'                    // BOM / zero-width no-break space
        | '\u{FFF0}'..='\u{FFFD}'       // interlinear annotations, object replacement, U+FFFD
        | '\u{1D173}'..='\u{1D17A}'     // musical formatting
        | '\u{E0000}'..='\u{E0FFF}'     // tags, variation selectors supplement
        | '\u{E000}'..='\u{F8FF}'       // private use (外字)
        | '\u{F0000}'..='\u{10FFFF}'    // supplementary private use
    )
}

/// Whether a name's stem is a Windows device name (`CON.txt` opens the console).
fn is_device(name: &str) -> bool {
    // Windows looks at the part before the first dot, trailing spaces removed.
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    let upper = stem.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "CON" | "PRN" | "AUX" | "NUL" | "CONIN$" | "CONOUT$" | "CLOCK$"
    ) {
        return true;
    }
    let (Some(head), Some(tail)) = (upper.get(..3), upper.get(3..)) else {
        return false;
    };
    matches!(head, "COM" | "LPT")
        && tail.chars().count() == 1
        && tail
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '¹' | '²' | '³'))
}

/// Refuses names that could escape a folder, name a device, hide characters or overflow a
/// receiver's file system; the refusal says which rule the name breaks.
pub fn check_upload_name(name: &str) -> Result<(), HubError> {
    let refuse = |why_ja: &str, why_en: &str| {
        Err(HubError::new(
            Code::HostileFileName,
            format!("ファイル名が不正です（{why_ja}）。"),
            format!("refused file name: {why_en}"),
        )
        .file(name.escape_debug().to_string()))
    };
    if name.is_empty() {
        return refuse("空です", "empty");
    }
    if name.chars().count() > MAX_UPLOAD_NAME_CHARS || name.len() > 255 {
        return refuse(
            &format!("{MAX_UPLOAD_NAME_CHARS}文字を超えています"),
            &format!("longer than {MAX_UPLOAD_NAME_CHARS} characters"),
        );
    }
    let normalised: String = name.nfkc().collect();
    for form in [name, normalised.as_str()] {
        if form.chars().any(char::is_control) {
            return refuse("制御文字を含みます", "contains a control character");
        }
        if let Some(c) = form.chars().find(|&c| is_hidden(c)) {
            return refuse(
                &format!(
                    "見えない文字・書字方向の制御文字・外字（U+{:04X}）を含みます",
                    c as u32
                ),
                &format!(
                    "contains U+{:04X}, an invisible, bidirectional-control or private-use character",
                    c as u32
                ),
            );
        }
        if let Some(c) = form.chars().find(|c| SEPARATORS.contains(c)) {
            return refuse(
                &format!("フォルダの区切りになる文字「{c}」を含みます"),
                &format!("contains {c:?}, which separates folders on a receiver"),
            );
        }
        if form == "." || form.contains("..") || form.contains(DOTS) {
            return refuse(
                "「..」またはそれに見える文字を含みます",
                "contains '..' or a character that looks like dots",
            );
        }
        if form.starts_with('.') || form.ends_with(['.', ' ']) {
            return refuse(
                "先頭が「.」または末尾が「.」・空白です",
                "starts with '.' or ends with '.' or a space",
            );
        }
        if form.contains(['<', '>', '"', '|', '?', '*']) {
            return refuse(
                "Windowsで使えない文字を含みます",
                "contains a character Windows forbids in file names",
            );
        }
        if is_device(form) {
            return refuse(
                "Windowsの予約デバイス名（CON・NUL・COM1など）です",
                "is a Windows device name (CON, NUL, COM1, …), whatever its extension",
            );
        }
    }
    Ok(())
}

/// The key under which two names of one send are the same file: NFKC, then case-folded (as
/// NTFS compares names), then NFKC again (folding can un-normalise).
pub fn same_file_key(name: &str) -> String {
    let folded = name.nfkc().collect::<String>().to_lowercase();
    folded.nfkc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn refused(name: &str) {
        let e = check_upload_name(name).expect_err(name);
        assert_eq!(e.code, Code::HostileFileName, "{name:?}");
    }

    #[test]
    fn hostile_names_are_refused_with_the_reason() {
        for bad in [
            "",
            "../UPPLAN.CSV",
            "a/b.CSV",
            "a\\b.CSV",
            "UP\u{0}PLAN.CSV",
            "x\r\ny.txt",
            ".hidden",
            "trailing.",
            "C:evil.txt",
            "a|b.txt",
        ] {
            refused(bad);
        }
        refused(&format!("{}.txt", "a".repeat(200)));
        check_upload_name("UPPLAN_202505_0310000100_43_0320000201_11_20250428100000.CSV").unwrap();
        check_upload_name("介護計画 (説明).pdf").unwrap();
        check_upload_name("ケアプラン（６月分）.pdf").unwrap();
    }

    #[test]
    fn windows_look_alikes_and_invisible_characters_are_refused() {
        for bad in [
            "a¥b.txt", // ¥ is \ after CP932 best-fit
            "a₩b.txt",
            "計画／６月.pdf",
            "計画＼６月.pdf",
            "a∕b.pdf",
            "a∖b.pdf",
            "a⁄b.pdf",
            "․․∕etc.txt",
            "a．．b.pdf",
            "a‥b.pdf",
            "説明….pdf",
            "議事録：6月.pdf",
            "invoice\u{202E}fdp.exe.txt", // right-to-left override
            "a\u{200B}b.pdf",             // zero-width space
            "a\u{200D}b.pdf",
            "\u{FEFF}plan.pdf", // BOM
            "a\u{2066}b\u{2069}.pdf",
            "外字\u{E000}.pdf",
            "mojibake\u{FFFD}.pdf",
            "line\u{2028}sep.pdf",
        ] {
            refused(bad);
        }
    }

    #[test]
    fn device_names_are_refused_with_any_extension_and_spelling() {
        for bad in [
            "CON.txt",
            "con.pdf",
            "NUL",
            "nul.tar.gz.txt",
            "Aux.pdf",
            "PRN.jpg",
            "COM1.pdf",
            "lpt9.txt",
            "COM¹.pdf",
            "COM1 .pdf",
            "ＣＯＮ.txt", // full-width: CON after NFKC
            "CONIN$.txt",
        ] {
            refused(bad);
        }
        for fine in [
            "CONTACT.pdf",
            "COM10.pdf",
            "nullable.txt",
            "auxiliary.pdf",
            "COMA.pdf",
            "ab€.txt",
        ] {
            check_upload_name(fine).unwrap_or_else(|e| panic!("{fine}: {e}"));
        }
    }

    #[test]
    fn names_are_the_same_file_ignoring_case_and_width() {
        assert_eq!(same_file_key("Plan.PDF"), same_file_key("plan.pdf"));
        assert_eq!(same_file_key("ｐｌａｎ.pdf"), same_file_key("PLAN.pdf"));
        assert_eq!(same_file_key("ｶﾞ.pdf"), same_file_key("ガ.pdf"));
        assert_ne!(same_file_key("plan1.pdf"), same_file_key("plan2.pdf"));
    }
}
