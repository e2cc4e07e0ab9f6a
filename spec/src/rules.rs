//! The rule catalogue: every check the kit makes, with a stable ID, a default severity
//! (error = MUST, warning = SHOULD or a reading where vendors differ, info), a title and a message in
//! Japanese and English, the clause or layout row it comes from, and an example of a violation with
//! its fix (shown by `cpkit explain`).
//!
//! IDs never change meaning once released; a retired rule keeps its ID reserved. Messages are
//! templates: `{name}` is replaced by the finding's argument of that name (see [`crate::Finding`]).
//! Profiles (`data/profiles.toml`) may change a rule's severity, never its meaning.

use serde::{Serialize, Serializer};

use crate::severity::Severity;

/// What part of the standard a rule belongs to; JUnit reports group test cases by family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Encoding,
    Csv,
    Name,
    Record,
    Field,
    Version,
    File,
    Equipment,
    Totals,
    Numbering,
    CrossFile,
    Unit,
    Date,
    Time,
    Limits,
    Office,
    Condition,
    Role,
}

impl Family {
    pub fn label(self) -> &'static str {
        match self {
            Self::Encoding => "encoding",
            Self::Csv => "csv",
            Self::Name => "name",
            Self::Record => "record",
            Self::Field => "field",
            Self::Version => "version",
            Self::File => "file",
            Self::Equipment => "equipment",
            Self::Totals => "totals",
            Self::Numbering => "numbering",
            Self::CrossFile => "cross_file",
            Self::Unit => "unit",
            Self::Date => "date",
            Self::Time => "time",
            Self::Limits => "limits",
            Self::Office => "office",
            Self::Condition => "condition",
            Self::Role => "role",
        }
    }
}

/// One rule of the catalogue.
#[derive(Debug)]
pub struct Rule {
    pub rule: RuleId,
    pub id: &'static str,
    pub severity: Severity,
    pub family: Family,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    pub message_ja: &'static str,
    pub message_en: &'static str,
    /// Clause or layout row: keys of SUMMARY.md §0 (`L4 Lnnn`, `S4 Lnnn`, `V3 pN`) or a decision in
    /// docs/decisions.md (`D-…`).
    pub reference: &'static str,
    pub example: &'static str,
    pub fix: &'static str,
}

macro_rules! rules {
    ($( $konst:ident { $id:literal, $sev:ident, $fam:ident,
        $title_ja:literal, $title_en:literal,
        $msg_ja:literal, $msg_en:literal,
        ref $reference:literal, ex $example:literal, fix $fix:literal } )*) => {
        /// Identifies a rule; `RuleId::X.rule()` gives its catalogue entry.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum RuleId { $($konst),* }

        /// Every rule, in catalogue order.
        pub static RULES: &[Rule] = &[ $( Rule {
            rule: RuleId::$konst,
            id: $id,
            severity: Severity::$sev,
            family: Family::$fam,
            title_ja: $title_ja,
            title_en: $title_en,
            message_ja: $msg_ja,
            message_en: $msg_en,
            reference: $reference,
            example: $example,
            fix: $fix,
        } ),* ];
    };
}

impl RuleId {
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }

    pub fn id(self) -> &'static str {
        self.rule().id
    }

    /// Looks a rule up by its ID, case-insensitively.
    pub fn from_id(id: &str) -> Option<Self> {
        RULES
            .iter()
            .find(|r| r.id.eq_ignore_ascii_case(id))
            .map(|r| r.rule)
    }
}

impl Serialize for RuleId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

rules! {
    // ---------------------------------------------------------------- encoding
    EncInvalidByte { "ENC001", Error, Encoding,
        "MS932として不正なバイト", "invalid MS932 byte sequence",
        "バイト列 {bytes} はShift-JIS（MS932）として不正です", "byte sequence {bytes} is not valid Shift-JIS (MS932)",
        ref "L4 L9-11; S4 L721-725", ex "a UTF-8 file, or a byte 0xFF in a name field", fix "write the file in MS932 (Windows-31J)" }
    EncUnassigned { "ENC002", Error, Encoding,
        "MS932に文字が割り当てられていない符号", "code point not assigned in MS932",
        "{bytes} はMS932で文字が割り当てられていない符号です", "{bytes} is a well-formed pair that MS932 assigns no character to",
        ref "L4 L9-11", ex "bytes 0x85 0x40 (row 9 is empty in CP932)", fix "replace the character with a valid MS932 character" }
    EncUserDefined { "ENC003", Error, Encoding,
        "外字が使われている", "user-defined character (外字)",
        "外字（{bytes}）は使用できません", "user-defined (外字) character {bytes} is not allowed",
        ref "L4 L9-11; S4 L721-725", ex "a name typed with a vendor's private 外字 font, bytes 0xF0 0x40", fix "convert the 外字 to a standard MS932 character (e.g. 髙 → 高)" }
    EncNecSpecial { "ENC004", Warning, Encoding,
        "NEC特殊文字", "NEC special character",
        "NEC特殊文字「{char}」（{bytes}）はJIS X 0208にない文字です。受信側で表示できない場合があります", "NEC special character {char} ({bytes}) is outside JIS X 0208; some receivers cannot show it",
        ref "L4 L9-11; D-ENC-EXT", ex "丸数字 ① in 課題 text", fix "write (1) or １ instead; profile strict makes this an error" }
    EncIbmExtension { "ENC005", Warning, Encoding,
        "IBM拡張文字", "IBM extension character",
        "IBM拡張文字「{char}」（{bytes}）は受信側で表示できない場合があります", "IBM extension character {char} ({bytes}) may not be shown by receivers",
        ref "L4 L9-11; D-ENC-EXT", ex "髙 (0xFBFC) in a user name", fix "use the JIS X 0208 form (高) where the user agrees; profile strict makes this an error" }
    EncBom { "ENC006", Error, Encoding,
        "BOM付きファイル", "byte order mark",
        "ファイル先頭にUTF-8のBOMがあります", "the file starts with a UTF-8 byte order mark",
        ref "L4 L9-11; D-CSV-BOM", ex "EF BB BF at offset 0", fix "write MS932 without a BOM" }
    EncLooksUtf8 { "ENC007", Error, Encoding,
        "UTF-8で書かれたファイル", "file is UTF-8, not MS932",
        "ファイルはUTF-8として読めます。Shift-JIS（MS932）で出力してください", "the file decodes as UTF-8; the standard requires Shift-JIS (MS932)",
        ref "L4 L9-11; S4 L721-725", ex "an export written by a web application in UTF-8", fix "encode the export as MS932" }
    EncControl { "ENC008", Warning, Encoding,
        "制御文字", "control character",
        "項目に制御文字 {char} が含まれています", "the field contains the control character {char}",
        ref "L4 L128-129", ex "a TAB or NUL in a free-text field", fix "remove control characters (line breaks inside quoted free text are allowed)" }

    // ---------------------------------------------------------------- csv
    CsvUnterminatedQuote { "CSV001", Error, Csv,
        "閉じていない引用符", "unterminated quoted field",
        "ここで始まった \"…\" が閉じられていません（ファイル末尾まで1項目として読まれます）", "the quoted field opened here is never closed (the rest of the file is read as one field)",
        ref "L4 L128-129", ex "\"support plan,2", fix "close the quote; double quotes inside text as \"\"" }
    CsvStrayQuote { "CSV002", Error, Csv,
        "引用符で囲まれていない項目の中の \"", "quote inside an unquoted field",
        "引用符で始まらない項目に \" があります", "a \" appears in a field that does not start with one",
        ref "L4 L128-129", ex "say \"hi\" written without surrounding quotes", fix "enclose the field in \"\" and double the inner quotes: \"say \"\"hi\"\"\"" }
    CsvTextAfterQuote { "CSV003", Error, Csv,
        "閉じ引用符の後の文字", "text after a closing quote",
        "閉じ引用符の後、区切り文字の前に文字があります", "characters follow the closing quote before the next comma",
        ref "L4 L128-129", ex "\"abc\"def", fix "double the quote inside the text: \"abc\"\"def\"" }
    CsvLineEnding { "CSV004", Warning, Csv,
        "改行コードがCRLFでない", "line ending is not CRLF",
        "レコードの区切りが {found} です（CRLFが一般的です）", "records end with {found}; CRLF is the de-facto separator",
        ref "D-CSV-EOL", ex "a file written on Linux with LF only", fix "end every record with CR LF" }
    CsvMixedLineEndings { "CSV005", Warning, Csv,
        "改行コードの混在", "mixed line endings",
        "改行コードが混在しています（最初は {first}、ここは {found}）", "line endings are mixed (first {first}, here {found})",
        ref "D-CSV-EOL", ex "CRLF records followed by LF records", fix "use CRLF throughout" }
    CsvBlankLine { "CSV006", Warning, Csv,
        "空行", "blank line",
        "空行があります（レコードとして扱われません）", "blank line (not treated as a record)",
        ref "D-CSV-BLANK", ex "an empty line between records or several at the end", fix "remove blank lines" }
    CsvNoFinalNewline { "CSV007", Info, Csv,
        "最終行に改行がない", "no line break after the last record",
        "最終レコードの後に改行がありません", "the last record is not followed by a line break",
        ref "D-CSV-EOL", ex "…,1 at the very end of the file", fix "end the last record with CR LF as well" }
    CsvEmptyFile { "CSV008", Error, Csv,
        "レコードがない", "no records",
        "ファイルにレコードがありません", "the file contains no records",
        ref "L4 L21; D-CSV-EMPTY", ex "a 0-byte UPJSK for a month without actuals", fix "send no file, or a deletion file, instead of an empty one" }
    CsvOversize { "CSV009", Error, Csv,
        "項目またはレコードが大きすぎる", "field or record too large",
        "{what} が上限（{limit}）を超えています。超えた部分は読み飛ばしました", "{what} exceeds the limit ({limit}); the excess was skipped",
        ref "D-CSV-LIMITS", ex "a free-text field of several megabytes, or a binary file", fix "check that the file is a CSV of the standard" }

    // ---------------------------------------------------------------- names
    NameMalformed { "NAME001", Error, Name,
        "ファイル名の形式誤り", "malformed file name",
        "ファイル名の「{segment_ja}」が誤っています（{found}）: {reason}。正しい形式: {expected}", "the {segment} of the file name is wrong ({found}): {reason}. Expected: {expected}",
        ref "L4 L13-17 and each layout's ファイル名規約", ex "UPPLAN_201913_0300000100_43_0300000005_11_20191025200201.CSV", fix "follow the name rule of the kind, e.g. UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV" }
    NameLowercaseExtension { "NAME002", Warning, Name,
        "拡張子が小文字", "lower-case extension",
        "拡張子が .{found} です。規約は .CSV（大文字）", "the extension is .{found}; the rule says .CSV",
        ref "L4 L15-17; D-NAME-EXT", ex "UPJSK_…_20191025200201.csv", fix "write .CSV" }
    NameSameOffice { "NAME003", Error, Name,
        "送信元と送信先が同じ事業所番号", "sender and receiver have the same office number",
        "送信元と送信先の事業所番号が同じです（{office}）", "sender and receiver office numbers are the same ({office})",
        ref "exchange.md §1.5 (FAQ); S4 L413-433", ex "UPPLAN_202504_0300000100_43_0300000100_11_….CSV", fix "an office with several services under one number cannot exchange with itself through the hub" }
    NameSerialNotDateTime { "NAME004", Error, Name,
        "ファイル連番が日時でない", "serial is not a date-time",
        "ファイル連番 {serial} は有効な日時（YYYYMMDDHHMMSS）ではありません", "serial {serial} is not a valid date and time YYYYMMDDHHMMSS",
        ref "L4 L13-17; D-SERIAL", ex "…_20191325990000.CSV", fix "use the creation time of the send unit" }
    NameV40Shape { "NAME005", Warning, Name,
        "4.0版のファイル名形式", "V4.0 name shape",
        "4.0版の3桁コードを使ったファイル名です。4.1版ではサービス種類コード（2桁）に変更されました", "the name uses the withdrawn V4.0 3-character code; V4.1 uses a 2-character service type",
        ref "L4 L1929; S4 L78-82; D-NAME-40", ex "UP1KYO_0300000100_430_0300000005_110_….CSV", fix "write the 2-character service type" }
    NameKihonMonth { "NAME006", Warning, Name,
        "利用者基本情報の年月セグメント", "month segment on UPKIHON",
        "UPKIHONのファイル名に年月（000000）が入っています。レイアウトの規約には年月はありません", "the UPKIHON name carries a 000000 month segment, which the layout's rule does not have",
        ref "S4 L660-662 vs L4 L702; SUMMARY §8.3; D-NAME-KIHON", ex "UPKIHON_000000_123456789_43_…", fix "drop the _000000 segment" }
    NameUnknownServiceType { "NAME007", Error, Name,
        "不明なサービス種類コード", "unknown service type in name",
        "ファイル名の{party}サービス種類コード {code} は介護保険のサービス種類コードではありません", "the {party} service type {code} in the name is not a known service type",
        ref "L4 L13-17; S4 L168-272", ex "…_0300000100_99_…", fix "write the service type of the office (e.g. 43 居宅介護支援, 11 訪問介護)" }
    NameServiceTypeNotLinked { "NAME008", Warning, Name,
        "連携対象外のサービス種類", "service type not covered by the exchange",
        "ファイル名のサービス種類 {code}（{name}）は連携対象外です", "service type {code} ({name}) in the name is outside the exchange's scope",
        ref "S4 L168-272", ex "…_0300000005_41_… (特定福祉用具販売)", fix "only linked service types exchange plans" }
    NameIdentifiedFromContent { "NAME009", Info, Name,
        "内容からファイル種別を判定", "kind identified from content",
        "ファイル名から種別を判定できないため、内容から {kind}（{version}）と判定しました", "the name does not identify the file, so it was identified from its content as {kind} ({version})",
        ref "D-IDENTIFY", ex "a file renamed to plan.csv", fix "keep the standard's file name when storing or forwarding files" }
    NameUnidentified { "NAME010", Error, Name,
        "ファイル種別を判定できない", "file cannot be identified",
        "ファイル名からも内容からも種別を判定できません（{reason}）", "neither the name nor the content identifies the file ({reason})",
        ref "D-IDENTIFY", ex "an unrelated CSV", fix "check that the file is an export of the standard" }

    NameNoRule { "NAME011", Error, Name,
        "ファイル名が規約に従っていない", "file name follows no name rule",
        "ファイル名 {found} は標準仕様のファイル名規約に従っていません（内容からは {kind}: 正しい形式 {expected}）", "the file name {found} follows no name rule of the standard (its content is {kind}; expected {expected})",
        ref "L4 L13-17 and each layout's ファイル名規約; D-IDENTIFY", ex "plan.csv holding 第6表 records", fix "name the file by its kind's rule; receivers and the hub judge files by name" }

    // ---------------------------------------------------------------- records
    RecColumnCount { "REC001", Error, Record,
        "項目数の誤り", "wrong number of columns",
        "項目数が {found} です。{kind}（{version}）は {expected} 項目{hint}", "the record has {found} columns; {kind} ({version}) has {expected}{hint}",
        ref "each layout table; SUMMARY §4, §7", ex "a 22-column V3 6表 record in a V4.1-named file", fix "write every column of the layout, empty where there is no value" }
    RecHeaderRow { "REC002", Error, Record,
        "見出し行", "header row",
        "見出し行のようなレコードがあります。標準仕様のCSVに見出し行はありません", "this record looks like a header row; the standard's files have none",
        ref "L4 L1391-1437; SUMMARY §2", ex "CSVバージョン,保険者番号,…", fix "write data records only" }

    // ---------------------------------------------------------------- fields
    FldRequired { "FLD001", Error, Field,
        "必須項目が空", "required field is empty",
        "必須項目「{field}」が空です", "required field {field} is empty",
        ref "layout column 必須", ex "UPPLAN without サービスコード", fix "fill the field" }
    FldTooLong { "FLD002", Error, Field,
        "項目長超過", "field too long",
        "「{field}」は {max} 文字までです（{actual} 文字）", "{field} allows at most {max} characters ({actual} found)",
        ref "layout column 項目長; D-LEN-CHARS", ex "a 7-digit 単位数 in 6表 (項目長 6)", fix "shorten the value; lengths are counted in characters" }
    FldFormat { "FLD003", Error, Field,
        "書式の誤り", "wrong format",
        "「{field}」の値 {value} は {expected} の書式ではありません", "{field} value {value} does not have the format {expected}",
        ref "layout column 書式", ex "サービス利用日 2025/04/01 instead of 20250401", fix "write the value in the layout's format" }
    FldCode { "FLD004", Error, Field,
        "コード値の誤り", "value not in code table",
        "「{field}」の値 {value} はコード表にありません（{codes}）", "{field} value {value} is not in its code table ({codes})",
        ref "L4 L1844-1897; layout column 書式", ex "計画書区分 13", fix "use a code of the table" }
    FldTextUnquoted { "FLD005", Error, Field,
        "フリーテキストが引用符で囲まれていない", "free text not quoted",
        "フリーテキスト「{field}」が \"\" で囲まれていません", "free-text field {field} is not enclosed in \"\"",
        ref "L4 L128-129 (note under every table)", ex "…,訪問介護ステーション,… for サービス事業所名", fix "enclose every non-empty free-text field in \"\"" }
    FldQuotedNonText { "FLD006", Warning, Field,
        "フリーテキスト以外が引用符付き", "non-text field quoted",
        "フリーテキストでない「{field}」が引用符で囲まれています", "{field} is not free text but is quoted",
        ref "L4 L128-129; D-QUOTE-NONTEXT", ex "\"202407\" as CSVバージョン", fix "write codes, numbers and dates bare" }
    FldUnusedNotEmpty { "FLD007", Warning, Field,
        "使用しない項目に値", "unused field has a value",
        "「{field}」は「※使用しない」項目ですが値 {value} があります", "{field} is marked 「※使用しない」 but holds {value}",
        ref "L4 L125, L212, L285-288, L484, L690", ex "識別子 = 1", fix "leave the field empty" }
    FldNegative { "FLD008", Warning, Field,
        "負の数", "negative number",
        "「{field}」が負の数 {value} です（減算行で使われることがありますが、仕様に記載はありません）", "{field} is negative ({value}); used for 減算 rows by some vendors, not stated in the spec",
        ref "SUMMARY §9; D-NEGATIVE", ex "単位数 -50 on a 同一建物減算 row", fix "check with the receiver" }
    FldServiceNotLinked { "FLD009", Error, Field,
        "連携対象外のサービス", "service type outside the exchange",
        "「{field}」{value} のサービス種類 {code}（{name}）は連携対象外です。このサービスのレコードは生成しません", "{field} {value} has service type {code} ({name}), which is outside the exchange: such records are not written",
        ref "S4 L447-463; D-NOT-LINKED", ex "a 41 特定福祉用具販売 row in 6表", fix "omit rows of non-linked service types" }
    FldRange { "FLD010", Error, Field,
        "範囲外の値", "value out of range",
        "「{field}」の値 {value} は {min}〜{max} の範囲外です", "{field} value {value} is outside {min}..{max}",
        ref "layout column 書式", ex "課題ＮＯ 0", fix "number from 1" }
    FldRequiredInferred { "FLD012", Warning, Field,
        "必須と推定される項目が空", "field inferred as required is empty",
        "「{field}」が空です（レイアウト定義書の必須の印の数から必須と推定される項目）", "{field} is empty; the layout's required marks, counted, make it required",
        ref "SUMMARY §4 (?); D-REQ-INFERRED", ex "UPPLAN without プラン担当者名", fix "fill the field; profile strict makes this an error" }
    FldFixedValue { "FLD013", Error, Field,
        "固定値の誤り", "fixed value not set",
        "「{field}」は {fixed} を固定で設定します（{value}）", "{field} is fixed to {fixed} ({value} found)",
        ref "L4 L684; D-SIKYU-34", ex "第7表 事業所コード empty or the provider's number", fix "write the fixed value" }
    FldUnknownServiceType { "FLD011", Error, Field,
        "不明なサービス種類", "unknown service type",
        "「{field}」の値 {value} のサービス種類 {code} は存在しません", "{field} value {value}: service type {code} does not exist",
        ref "S4 L168-272", ex "サービスコード 991111", fix "use a code of the current サービスコード表" }

    // ---------------------------------------------------------------- versions
    VerUnknown { "VER001", Error, Version,
        "不明なCSVバージョン", "unknown CSV version",
        "CSVバージョン {value} は受け付けられません（受付: 202208, 202407）", "CSV version {value} is not accepted (accepted: 202208, 202407)",
        ref "L4 L1898-1935; SUMMARY §1.1", ex "201910 (historical) or 202401", fix "write 202407 for V4.1 files, 202208 for V3 files" }
    VerKnownWrong { "VER002", Error, Version,
        "誤ったCSVバージョン値", "known wrong CSV version",
        "CSVバージョン {value} は誤りです: {why_ja}", "CSV version {value} is wrong: {why_en}",
        ref "L4 L1927-1929; SUMMARY §1.1", ex "202410", fix "write 202407" }
    VerLegacy { "VER003", Error, Version,
        "撤回された4.0版の値", "withdrawn V4.0 value",
        "CSVバージョン 202504 は4.0版の値で、4.1版で 202407 に変更されました。4.1版の形式のファイル名には使えません", "CSV version 202504 is the V4.0 value, replaced by 202407 in V4.1; it does not go with a V4.1-shaped name",
        ref "L4 L1927-1929; S4 L78-82; D-VER-202504", ex "202504 records in UPPLAN_202505_…_43_…_11_….CSV", fix "write 202407" }
    VerMixed { "VER004", Error, Version,
        "1ファイル内でCSVバージョンが混在", "mixed CSV versions in one file",
        "このファイルは {first} で始まりますが、このレコードは {value} です", "the file started with {first} but this record has {value}",
        ref "L4 L24 (repeated in every table)", ex "202208 and 202407 records in one UPPLAN", fix "one file, one version" }
    VerNameMismatch { "VER005", Error, Version,
        "ファイル名の形式とCSVバージョンの不一致", "CSV version does not fit the name shape",
        "CSVバージョン {value} は {shape} 形式のファイル名と合いません", "CSV version {value} does not fit a {shape}-shaped file name",
        ref "SUMMARY §7; D-VER-NAME", ex "202208 records in UPPLAN_202505_…_43_…_11_….CSV", fix "write V4.1 names with 202407 and V3 names with 202208" }
    VerNotYetApplicable { "VER006", Error, Version,
        "適用前のCSVバージョン", "version not yet in force",
        "CSVバージョン {value} は {from} 以降のサービス提供分から適用です（対象年月 {month}）", "CSV version {value} applies from service month {from} (this file: {month})",
        ref "L4 L25; L4 L1898-1935", ex "202407 for service month 202503", fix "use 202208 for months before 202504" }
    VerSuperseded { "VER007", Warning, Version,
        "旧バージョンの使用", "superseded version",
        "対象年月 {month} のサービス提供分には {current} が適用されます（このファイル: {value}）", "service month {month} falls under CSV version {current} (this file: {value})",
        ref "L4 L25; L4 L1898-1935; D-VER-TRANSITION", ex "202208 for service month 202506", fix "move to V4.1 (202407)" }

    VerLegacyV40 { "VER008", Warning, Version,
        "4.0版の形式のファイルの202504", "202504 in a V4.0-shaped file",
        "CSVバージョン 202504 は撤回された4.0版の値です（4.0版の形式のファイル名のため警告）。4.1版では 202407 です", "CSV version 202504 is the withdrawn V4.0 value (a warning, as the name has the V4.0 shape); V4.1 writes 202407",
        ref "L4 L1927-1929; S4 L78-82; D-VER-202504", ex "202504 in UPPLAN_202505_…_430_…_110_….CSV", fix "write V4.1 names and 202407" }

    // ---------------------------------------------------------------- file-level content
    FileSeveralMonths { "FILE001", Error, File,
        "複数のサービス提供年月", "several service months in one file",
        "このファイルは {first} の情報ですが、このレコードは {value} です（1ファイル1年月）", "the file holds {first} but this record is for {value} (one month per file)",
        ref "L4 L352-354, L507-509, L555-556", ex "UPPLAN with 202504 and 202505 records", fix "write one file per service month" }
    FileMonthMismatch { "FILE002", Error, File,
        "ファイル名とレコードの年月の不一致", "record month differs from the name",
        "レコードの「{field}」{value} がファイル名の年月 {month} と一致しません", "record {field} {value} differs from the month {month} in the file name",
        ref "L4 L343-346, L352-354", ex "UPPLAN_202504_… holding 対象年月 202505", fix "name the file after the month it holds" }
    FileHosokuLink { "FILE003", Error, File,
        "利用者補足情報の紐づけ誤り", "利用者補足情報 linkage wrong",
        "{detail_ja}", "{detail_en}",
        ref "L4 L13-17, L4 L28-31 (No.4), L4 L127 (No.63)", ex "UPHOSOKU_000000_… with 対象年月 202504", fix "1表/2表 補足: name 000000, No.63 000000, No.4 = 計画作成日; 6表/7表 補足: name and No.63 = month, No.4 = 00000000" }

    FileNotJpeg { "FILE004", Error, File,
        "JPEGでない画像ファイル", "image is not a JPEG",
        "家族構成画像ファイルがJPEG形式ではありません", "the family image file is not a JPEG",
        ref "L4 L826-831", ex "a PNG renamed to UPKIHON_IMAGE_…_0001.jpg", fix "save the image as JPEG" }

    // ---------------------------------------------------------------- 福祉用具
    EqpCodeMissing { "EQP001", Error, Equipment,
        "福祉用具のTAIS・届出コードがない", "equipment row without TAIS or 届出 code",
        "福祉用具貸与（{code}）の行には「TAISコード」か「福祉用具届出コード」が必要です", "a 福祉用具貸与 row (type {code}) needs a TAISコード or a 福祉用具届出コード",
        ref "L4 L428-440; L4 L604-618", ex "サービスコード 171001 with both codes empty", fix "write the product's TAIS code, or its 届出 code when it has none" }
    EqpCodeOnOtherService { "EQP002", Warning, Equipment,
        "福祉用具以外にTAIS・届出コード", "TAIS or 届出 code on another service",
        "福祉用具貸与でない行（{code}）に「{field}」があります", "{field} is set on a row that is not 福祉用具貸与 (type {code})",
        ref "L4 L428-440", ex "TAIS code on a 訪問介護 row", fix "leave equipment codes empty on other services" }

    // ---------------------------------------------------------------- 7表 totals
    TotMissingGrandTotal { "TOT001", Error, Totals,
        "全合計行（999999）がない", "grand total row missing",
        "利用者 {user} の第7表に全合計行（サービスコード 999999）がありません", "table 7 of user {user} has no grand total row (サービスコード 999999)",
        ref "L4 L590-600", ex "a 7表 with service rows only", fix "add the 999999 row with office 9999999999" }
    TotGrandTotalOffice { "TOT002", Error, Totals,
        "全合計行の事業所コード", "grand total office code",
        "全合計行のサービス事業所コードは 9999999999 です（{value}）", "the grand total row's office code must be 9999999999 ({value})",
        ref "L4 L580-586", ex "999999 row with the provider's own number", fix "write 9999999999" }
    TotSummaryUnits { "TOT003", Error, Totals,
        "小計・合計行の単位数", "units on a summary row",
        "小計・全合計行（{value}）の「単位数」は 0 です（{units}）", "単位数 on a summary row ({value}) must be 0 ({units})",
        ref "L4 L620-628", ex "11AAAA row with 単位数 3000", fix "put the totals in the total columns and 0 in 単位数" }
    TotMissingSubtotal { "TOT004", Error, Totals,
        "種類別小計（AAAA）がない", "type subtotal missing",
        "サービス種類 {code} に複数のサービスコード行がありますが、小計行 {code}AAAA がありません（利用者 {user}）", "service type {code} has several code rows but no {code}AAAA subtotal (user {user})",
        ref "L4 L590-600", ex "two 11xxxx rows and no 11AAAA", fix "add the 区分支給限度対象の種類別小計 row" }
    TotOrphanSubtotal { "TOT005", Warning, Totals,
        "対応する行のない小計", "subtotal without rows",
        "小計行 {value} のサービス種類にサービスコード行がありません（利用者 {user}）", "subtotal {value} has no service rows of its type (user {user})",
        ref "L4 L590-600", ex "15AAAA with no 15xxxx rows", fix "remove the subtotal or add the rows" }
    TotSummaryNotNull { "TOT006", Error, Totals,
        "小計・合計行の空固定項目に値", "value in a column fixed empty on summary rows",
        "小計・全合計行（{code}）の「{field}」は空（Null）固定です（{value}）", "{field} is fixed empty (Null) on summary rows ({code}); found {value}",
        ref "L4 L636-640", ex "11AAAA row with 割引後単位数 3000", fix "leave 割引後率 and 割引後単位数 empty on subtotal and grand-total rows" }
    TotLimitOutsideSubtotal { "TOT007", Error, Totals,
        "区分支給限度対象外の小計に給付管理単位数", "給付管理単位数 on a subtotal outside the limit",
        "区分支給限度対象外の種類別小計（{code}）の「{field}」は空（Null）固定です（{value}）", "{field} is fixed empty on the 区分支給限度対象外 subtotal {code} ({value})",
        ref "L4 L590-600; L4 L646-652", ex "15EEEE with 給付管理単位数 40", fix "leave 給付管理単位数 empty for services outside the 区分支給限度" }
    TotLimitOutsideType { "TOT008", Warning, Totals,
        "区分支給限度外のサービスに給付管理単位数", "給付管理単位数 on a service outside the limit",
        "サービス種類 {code}（{name}）は区分支給限度基準額の対象外のため「{field}」は空（Null）です（{value}）", "service type {code} ({name}) is outside the 区分支給限度, so {field} is empty ({value})",
        ref "L4 L646-652; D-LIMIT-TYPES", ex "a 31 居宅療養管理指導 row with 給付管理単位数", fix "leave 給付管理単位数 empty" }
    TotRowAmount { "TOT009", Warning, Totals,
        "サービス単位金額が単位数×回数でない", "サービス単位金額 is not units × times",
        "「{field}」{value} が 単位数 {units} × 回数／日数 {times} = {expected} と一致しません", "{field} {value} differs from units {units} × times {times} = {expected}",
        ref "L4 L600-646; D-BILLING", ex "単位数 258, 回数 8, サービス単位金額 2000", fix "write the product of the (discounted) units and the count" }
    TotGrandTotalSum { "TOT010", Warning, Totals,
        "全合計が行の合計と一致しない", "grand total differs from the rows it sums",
        "全合計行の「{field}」{value} が各行の合計 {expected} と一致しません（利用者 {user}）", "the grand total's {field} {value} differs from the sum of the rows, {expected} (user {user})",
        ref "L4 L590-600; D-BILLING", ex "999999 row with 費用総額 10000 while the subtotals add up to 9800", fix "sum the subtotal rows (or the code rows of types without a subtotal)" }
    TotSubtotalSum { "TOT012", Warning, Totals,
        "種類別小計が行の合計と一致しない", "subtotal differs from the rows it sums",
        "種類別小計（{code}）の「{field}」{value} がサービス種類 {stype} の各行の合計 {expected} と一致しません（利用者 {user}）", "subtotal {code}'s {field} {value} differs from the sum of type {stype}'s rows, {expected} (user {user})",
        ref "L4 L590-600; D-BILLING", ex "15AAAA サービス単位金額 7335 while the 15xxxx rows add up to 6560", fix "recompute the subtotal from its rows" }
    TotBilling { "TOT011", Warning, Totals,
        "請求額の計算が合わない", "billing arithmetic does not add up",
        "「{field}」{value} が {formula} = {expected} と一致しません", "{field} {value} differs from {formula} = {expected}",
        ref "L4 L660-672; D-BILLING", ex "費用総額 20000 for 1770 units at 11.40 (20178)", fix "費用総額 = 区分支給限度基準内単位数 × 単位数単価 (rounded down), 請求額 = 費用総額 × 給付率 / 100 (rounded down), 利用者負担 = 費用総額 − 請求額" }

    // ---------------------------------------------------------------- 2表 numbering
    PlnDuplicateNumber { "PLN001", Warning, Numbering,
        "第2表の番号の重複", "duplicate table-2 numbering",
        "計画 {plan} で 課題ＮＯ {issue}・援助目標ＮＯ {goal}・援助内容ＮＯ {item} が重複しています（最初は {first_line} 行目）", "plan {plan} repeats 課題ＮＯ {issue} / 援助目標ＮＯ {goal} / 援助内容ＮＯ {item} (first on line {first_line})",
        ref "L4 L1438-1443; SUMMARY §4.4 (?); D-PLN-UNIQUE", ex "two rows numbered 1/1/1 in one plan", fix "number 援助内容 consecutively within each goal" }
    PlnDuplicateYoboNumber { "PLN002", Warning, Numbering,
        "支援計画の番号の重複", "duplicate 予防 支援計画 numbering",
        "計画 {plan} で 課題ＮＯ {issue}・支援計画ＮＯ {goal}・利用サービスＮＯ {item} が重複しています（最初は {first_line} 行目）", "plan {plan} repeats 課題ＮＯ {issue} / 支援計画ＮＯ {goal} / 利用サービスＮＯ {item} (first on line {first_line})",
        ref "L4 L1836-1839; D-PLN-UNIQUE", ex "two UPYOBO_SUB rows numbered 1/1/1 in one plan", fix "number 支援計画 within a 課題 and 利用サービス within a 支援計画 in sequence" }

    // ---------------------------------------------------------------- dates and times
    DatOutsideMonth { "DAT001", Error, Date,
        "サービス利用日が対象年月の外", "service day outside the service month",
        "「{field}」{value} は対象年月 {month} の日付ではありません", "{field} {value} is not a day of the service month {month}",
        ref "L4 L384-386; L4 L352-354", ex "UPPLAN for 202506 with サービス利用日 20250701", fix "write each day in the file of its own month" }
    DatMaskDayMissing { "DAT002", Error, Date,
        "日割対象日に月にない日", "日割 mask marks a day the month lacks",
        "「{field}」の {day} 日目が 1 ですが、{month} は {days} 日までです", "{field} marks day {day}, but {month} has {days} days",
        ref "L4 L388-394", ex "a 31-day mask ending in 1 for June", fix "mark only days of the service month" }
    DatMaskEmpty { "DAT003", Warning, Date,
        "日割対象日に1がない", "日割 mask marks no day",
        "「{field}」に 1 の日がありません。日割以外は空（Null）とします", "{field} marks no day; it is left empty when the service is not 日割",
        ref "L4 L388-394", ex "0000000000000000000000000000000", fix "leave 日割対象日 empty, or mark the days" }
    DatOrder { "DAT004", Warning, Date,
        "期間の開始日が終了日より後", "period starts after it ends",
        "「{field}」{value} が「{other}」{other_value} より後です", "{field} {value} is after {other} {other_value}",
        ref "D-DATE-ORDER", ex "認定有効期間開始日 20260101, 認定有効期間終了日 20250101", fix "check the two dates" }
    TimNoTimeOneSide { "TIM001", Warning, Time,
        "開始・終了の一方だけが9999", "only one of start and end is 9999",
        "「{field}」は {value} ですが「{other}」は {other_value} です。時間表示の無いサービスは両方 9999 です", "{field} is {value} but {other} is {other_value}; a service without a time has 9999 in both",
        ref "L4 L398-402; D-TIME-9999", ex "サービス開始時刻 9999, サービス終了時刻 1000", fix "write 9999 in both, or two real times" }

    // ---------------------------------------------------------------- 明細判別コード
    EqpDetailOnOtherService { "EQP003", Error, Equipment,
        "福祉用具貸与以外の行に明細判別コード", "明細判別コード on a row other than 福祉用具貸与",
        "サービス種類 {code} の行に「{field}」{value} があります。福祉用具貸与以外は空（Null）です", "{field} {value} is set on a row of service type {code}; it is empty (Null) except on 福祉用具貸与 rows",
        ref "L4 L452-460", ex "明細判別コード 1 on a 訪問介護 row", fix "leave 明細判別コード empty on other services" }
    EqpDetailNumbering { "EQP004", Error, Equipment,
        "明細判別コードで明細が区別されていない", "items not told apart by 明細判別コード",
        "利用者 {user} の {service} {units} 単位に明細の異なる行が {count} 行ありますが、「{field}」が {detail} です（1からの連番で区別します）", "user {user} has {count} rows of {service} at {units} units for different items, but {field} is {detail} (number them 1, 2, 3…)",
        ref "L4 L452-460", ex "two 171007 手すり貸与 300-unit rows (居室 and 廊下) both without 明細判別コード", fix "number the items 1, 2, 3… in 明細判別コード" }
    EqpDetailSequence { "EQP005", Error, Equipment,
        "明細判別コードが1からの連番でない", "明細判別コード not numbered from 1",
        "利用者 {user} の {service} {units} 単位の「{field}」が {found} です（1からの連番 {expected}）", "{field} of user {user}'s {service} at {units} units is {found} (numbers from 1: {expected})",
        ref "L4 L452-460", ex "明細判別コード 2 and 3 with no 1", fix "number from 1 without gaps" }

    // ---------------------------------------------------------------- 補足 サービス種類別限度額 枠
    HskFrameGap { "HSK001", Error, Limits,
        "限度額管理の枠が1枠から順に設定されていない", "limit frames not filled from 枠1 in order",
        "{frame}枠に値がありますが、{gap}枠が空です。サービス種類別限度額管理の枠は１枠から順番に設定します", "frame {frame} is filled but frame {gap} is empty; the frames are filled from frame 1 in order",
        ref "L4 L56-66", ex "１サービス種類コード empty, ２サービス種類コード 15", fix "move the frames up so that they start at 枠1" }
    HskFrameWithoutType { "HSK002", Warning, Limits,
        "サービス種類コードのない限度額の枠", "limit frame without a service type",
        "{frame}枠に単位数がありますが「{field}」が空です", "frame {frame} holds units but {field} is empty",
        ref "L4 L56-66; D-HOSOKU-FRAMES", ex "２支給限度基準額 5000 with ２サービス種類コード empty", fix "write the frame's サービス種類コード" }
    HskShortStayType { "HSK003", Error, Limits,
        "短期入所療養介護の枠のサービス種類コード", "短期入所療養介護 frame type",
        "「{field}」が {value} です。短期入所療養介護の場合は 22（短期入所療養介護（介護老人保健施設））を設定します", "{field} is {value}; 短期入所療養介護 frames are written as 22",
        ref "L4 L56-66", ex "１サービス種類コード 2A", fix "write 22" }
    HskShortStayTypeYobo { "HSK004", Warning, Limits,
        "介護予防短期入所療養介護の枠のサービス種類コード", "介護予防短期入所療養介護 frame type",
        "「{field}」が {value} です。短期入所療養介護を22に揃える規定にならい、介護予防短期入所療養介護は 25 を設定します", "{field} is {value}; by analogy with the rule that writes 短期入所療養介護 as 22, 介護予防短期入所療養介護 is written as 25",
        ref "L4 L56-66; D-HOSOKU-FRAMES", ex "１サービス種類コード 2B", fix "write 25" }

    // ---------------------------------------------------------------- office numbers
    OfcUpdater { "OFC001", Error, Office,
        "更新業者コードの誤り", "更新業者コード is not the named office",
        "「{field}」{value} は{whom_ja}（{expected}）ではありません", "{field} {value} is not {whom} ({expected})",
        ref "L4 L124; L4 L210; L4 L284-287; L4 L482; L4 L688", ex "UPPLAN 予定 with 更新業者コード = the provider's number", fix "write the number of the office the layout names" }
    OfcOther { "OFC002", Warning, Office,
        "事業所番号の項目が想定の事業所でない", "office column is not the expected office",
        "「{field}」{value} は{whom_ja}（{expected}）ではありません", "{field} {value} is not {whom} ({expected})",
        ref "D-OFFICE-COLUMNS", ex "UPPLAN プラン担当業者コード different from the sending care-manager office", fix "check which office the column names" }
    OfcProviderNumber { "OFC003", Error, Office,
        "居宅支援事業者番号の項目にサービス事業者の番号", "a provider's number where a care-manager office's is required",
        "「{field}」{value} はこのファイルのサービス事業者の番号です。書式は居宅支援事業者番号で、{whom_ja}（{expected}）を記入します", "{field} {value} is the number of this file's service provider; the column's 書式 is 居宅支援事業者番号: {whom} ({expected})",
        ref "L4 L367; L4 L172; L4 L123; L4 L686; D-OFFICE-COLUMNS", ex "UPPLAN プラン担当業者コード holding the receiving 訪問介護 office", fix "write the care-manager office's number" }

    // ---------------------------------------------------------------- conditional requirements
    CndRequired { "CND001", Error, Condition,
        "条件付きの必須項目が空", "conditionally required field is empty",
        "「{if_field}」が {if_value} のため「{field}」が必要です: {quote}", "{field} is required because {if_field} is {if_value}: {quote}",
        ref "L4 L725-733 (see the rule's data row)", ex "UPKIHON 相談方法 03 with 相談方法(その他の内容) empty", fix "fill the field the layout asks for" }
    CndExpected { "CND002", Warning, Condition,
        "条件から想定される項目が空", "field expected by the form is empty",
        "「{if_field}」が {if_value} ですが「{field}」が空です（{why_ja}）", "{if_field} is {if_value} but {field} is empty ({why})",
        ref "D-CONDITIONS", ex "1表 生活援助中心型の算定理由 3 (その他) with その他理由 empty", fix "fill the field" }

    // ---------------------------------------------------------------- who sends what
    RolSenderType { "ROL001", Warning, Role,
        "送信元・送信先のサービス種類が種別に合わない", "service type does not fit who sends the kind",
        "{kind} は{direction_ja}ですが、{party_ja}のサービス種類が {code}（{name}）です", "{kind} goes {direction}, but the {party}'s service type is {code} ({name})",
        ref "S4 L278-300; S4 L480-506; D-ROLES", ex "UPPLAN sent by a 15 通所介護 office", fix "send 予定 and 計画書 from the care-manager office, 実績 from the service office" }
    RelUnrelatedUser { "REL001", Warning, Role,
        "送信先に関係のない利用者", "user unrelated to the receiving office",
        "利用者 {user} には送信先 {receiver} のサービスがありません（送信先に関係ない利用者は送信しません）", "user {user} has no service of the receiving office {receiver} (users unrelated to the receiver are not sent)",
        ref "S4 L465-478; S4 L597-608; D-RELEVANCE", ex "a 6表 for office X holding a user served only by office Y", fix "send each office only the users it serves" }

    // ---------------------------------------------------------------- cross-file keys
    XrfPlanWithoutTable1 { "XRF001", Error, CrossFile,
        "第1表のない計画", "plan table without table 1",
        "{kind} の計画キー {key} に対応する第1表がこの送信単位にありません", "{kind} plan key {key} has no table 1 record in this send unit",
        ref "S4 L346-383; SUMMARY §6.1", ex "UP2KYO for a 計画作成日 the UP1KYO does not have", fix "send 1表, 2表, 3表 and 補足 of the same plan together" }
    XrfTable1WithoutHosoku { "XRF002", Error, CrossFile,
        "利用者補足情報のない第1表", "table 1 without 利用者補足情報",
        "第1表 {key} に対応する利用者補足情報（No.4 = 計画作成日）がありません", "table 1 {key} has no 利用者補足情報 record (No.4 = its 計画作成日)",
        ref "S4 L346-383; L4 L1353", ex "UP1KYO user missing from UPHOSOKU_000000", fix "write one 補足 record per plan" }
    XrfSikyuWithoutPlan { "XRF003", Error, CrossFile,
        "第6表のない第7表", "table 7 without table 6",
        "第7表の利用者 {key} が第6表にありません", "table 7 user {key} is not in table 6",
        ref "S4 L389-393; SUMMARY §6.1", ex "UPSIKYU rows for a user the UPPLAN lacks", fix "send 6表 and 7表 of the same users" }
    XrfPlanWithoutHosoku { "XRF004", Error, CrossFile,
        "利用者補足情報のない第6表", "table 6 without 利用者補足情報",
        "第6表の利用者 {key} の利用者補足情報がありません", "table 6 user {key} has no 利用者補足情報 record",
        ref "S4 L389-393; L4 L1528-1625", ex "UPPLAN user missing from UPHOSOKU_202504", fix "write a 補足 record (No.63 = month, No.4 = 00000000) per user" }
    XrfPlanWithoutSikyu { "XRF005", Error, CrossFile,
        "第7表のない第6表", "table 6 without table 7",
        "第6表の利用者 {key} の第7表がありません", "table 6 user {key} has no table 7 rows",
        ref "S4 L413-433; SUMMARY §6.2", ex "a UPPLAN user with no UPSIKYU rows", fix "write the 7表 rows (at least the 999999 total)" }
    XrfSubWithoutParent { "XRF006", Error, CrossFile,
        "親ファイルのない別表", "annex without its parent",
        "{kind} のキー {key} に対応する {parent} がこの送信単位にありません", "{kind} key {key} has no {parent} record in this send unit",
        ref "S4 L582-620; L4 L885-974, L4 L1201-1276", ex "UPKIHON_SUB1 for a 相談日 the UPKIHON lacks", fix "send the annexes with their parent" }
    XrfImageMissing { "XRF007", Error, CrossFile,
        "家族構成画像ファイルがない", "family image missing",
        "利用者基本情報が参照する画像 {value} がこの送信単位にありません", "the image {value} named by 利用者基本情報 is not in this send unit",
        ref "L4 L826-831", ex "No.62 names …_0001.jpg but only _0002 was sent", fix "send every referenced image with the same 連番" }
    XrfOrphanHosoku { "XRF008", Warning, CrossFile,
        "対応する帳票のない利用者補足情報", "利用者補足情報 without its form",
        "利用者補足情報 {key} に対応する{parent}がありません", "利用者補足情報 {key} has no matching {parent}",
        ref "S4 L346-393", ex "a 補足 record for a user not in the 6表", fix "send 補足 only for users of the unit" }
    XrfSikyuServiceWithoutPlan { "XRF009", Warning, CrossFile,
        "第6表にないサービスの第7表の行", "table 7 service without table 6 rows",
        "第7表の利用者 {user} の {office} {service} に対応する第6表の行がありません", "table 7 has {service} of {office} for user {user}, which table 6 lacks",
        ref "S4 L389-393; S4 L447-463; D-TABLES-6-7", ex "a 7表 row 151215 whose 6表 has no 151215 day", fix "write 6表 and 7表 from the same plan" }
    XrfSikyuTimes { "XRF010", Warning, CrossFile,
        "第7表の回数が第6表と一致しない", "table 7 count differs from table 6",
        "利用者 {user} の {office} {service}: 第7表の回数／日数 {sikyu} と第6表の回数 {plan} が一致しません", "user {user}, {service} of {office}: table 7 counts {sikyu}, table 6 {plan}",
        ref "S4 L389-393; D-TABLES-6-7", ex "7表 回数／日数 8 for a service planned on 9 days", fix "count the 6表 days (times) of the service" }
    XrfPlanServiceWithoutSikyu { "XRF011", Warning, CrossFile,
        "第7表にない第6表のサービス", "table 6 service without a table 7 row",
        "第6表の利用者 {user} の {office} {service} が第7表にありません", "table 6 has {service} of {office} for user {user}, which table 7 lacks",
        ref "S4 L389-393; S4 L447-463; D-TABLES-6-7", ex "a 6表 service 155051 missing from 7表", fix "write every planned service in 7表" }

    // ---------------------------------------------------------------- send units
    UnitCombination { "UNIT001", Error, Unit,
        "送信単位の組み合わせ誤り", "files do not form a send unit",
        "連番 {serial} のファイル（{kinds}）は標準仕様の送信単位になっていません{hint}", "the files of serial {serial} ({kinds}) do not form a send unit of the standard{hint}",
        ref "S4 L413-433; S4 L642-663; V3 p9", ex "UPPLAN and UPSIKYU without UPHOSOKU", fix "send 6表 + 7表 + 補足, or 1表 + 2表 (+3表) + 補足, each with one 連番" }
    UnitDuplicateKind { "UNIT002", Error, Unit,
        "送信単位内の同種ファイルの重複", "same kind twice in a send unit",
        "連番 {serial} に {kind} が2つあります", "serial {serial} contains two {kind} files",
        ref "S4 L413-433; L4 L19; D-UNIT-FOLDER", ex "two UPPLAN files with one 連番", fix "one file per kind, partner and 連番" }
    UnitMixedShapes { "UNIT003", Error, Unit,
        "送信単位内で版が混在", "mixed versions in a send unit",
        "連番 {serial} のファイルの版が混在しています（{shapes}）", "the files of serial {serial} mix versions ({shapes})",
        ref "S4 L413-433; SUMMARY §7", ex "UPPLAN in V4.1 shape, UPHOSOKU in V3 shape", fix "write every file of a unit in one version" }
    UnitMonthMismatch { "UNIT004", Error, Unit,
        "送信単位内で年月が異なる", "months differ within a send unit",
        "連番 {serial} のファイルの年月が一致しません（{months}）", "the files of serial {serial} are for different months ({months})",
        ref "S4 L413-433", ex "UPPLAN_202504 with UPHOSOKU_202505", fix "6表, 7表 and 補足 of one unit share one month" }
    UnitServiceTypeMismatch { "UNIT005", Error, Unit,
        "送信単位内でサービス種類が異なる", "service types differ within a send unit",
        "連番 {serial} のファイルのサービス種類が一致しません（{types}）", "the files of serial {serial} name different service types ({types})",
        ref "L4 L893-898, L4 L938-943, L4 L1209-1214", ex "UPKIHON_SUB1 with other service types than its UPKIHON", fix "annexes reuse the parent's name segments" }
    UnitUnplaced { "UNIT006", Error, Unit,
        "送信単位に入れられないファイル", "file that belongs to no send unit",
        "{file} はファイル名から連番・送信元・送信先が読めないため、送信単位として判定できません{hint}", "{file} cannot be judged with a send unit: its name gives no 連番, sender or receiver{hint}",
        ref "S4 L413-433; D-IDENTIFY", ex "plan.csv beside UPSIKYU_… and UPHOSOKU_… files", fix "give the file its standard name with the unit's 連番" }
}

/// Replaces `{name}` in `template` with the value of that argument.
pub fn render(template: &str, args: &[(&'static str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let key = &after[..close];
                match args.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(key);
                        out.push('}');
                    }
                }
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The placeholders a template uses.
pub fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        out.push(&after[..close]);
        rest = &after[close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_unique_and_in_enum_order() {
        let mut seen = HashSet::new();
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.rule as usize, i);
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert_eq!(RuleId::from_id(r.id), Some(r.rule));
            assert!(
                !r.reference.is_empty() && !r.example.is_empty() && !r.fix.is_empty(),
                "{}",
                r.id
            );
        }
    }

    #[test]
    fn both_languages_use_the_same_placeholders() {
        for r in RULES {
            let mut ja = placeholders(r.message_ja);
            let mut en = placeholders(r.message_en);
            ja.sort();
            en.sort();
            ja.dedup();
            en.dedup();
            // The Japanese text may use a *_ja variant of an English placeholder and vice versa.
            let norm = |v: Vec<&str>| {
                v.into_iter()
                    .map(|p| p.trim_end_matches("_ja").trim_end_matches("_en").to_owned())
                    .collect::<HashSet<_>>()
            };
            assert_eq!(norm(ja), norm(en), "{}", r.id);
        }
    }

    #[test]
    fn decisions_referenced_by_rules_exist() {
        let doc = include_str!("../../docs/decisions.md");
        for r in RULES {
            for part in r.reference.split([';', ' ', ',']) {
                if part.starts_with("D-") {
                    assert!(
                        doc.contains(&format!("### {part} ")),
                        "{} cites {part}, which docs/decisions.md lacks",
                        r.id
                    );
                }
            }
        }
    }

    #[test]
    fn render_fills_known_placeholders_only() {
        let got = render(
            "{field} is {max} ({missing})",
            &[("field", "単位数".into()), ("max", "6".into())],
        );
        assert_eq!(got, "単位数 is 6 ({missing})");
    }
}
