//! The console's texts in Japanese (shown first) and English: one table, looked up by key from
//! the templates (`t("key")`). The hub's refusals and the spec core's findings are not here: they
//! come with their own Japanese and English wording.

/// Key, Japanese, English.
pub const TEXTS: &[(&str, &str, &str)] = &[
    (
        "app.name",
        "ケアプランデータ連携 模擬基盤コンソール",
        "Care-plan exchange mock console",
    ),
    ("app.skip", "本文へ移動", "Skip to content"),
    (
        "app.footer",
        "操作対象の模擬基盤:",
        "Driving the mock exchange at",
    ),
    ("nav.label", "ページ", "Pages"),
    ("nav.registry", "登録情報", "Registry"),
    ("nav.act", "操作する事業所", "Act as"),
    ("nav.compose", "送信", "Send"),
    ("nav.outbox", "送信済み・下書き", "Sent & drafts"),
    ("nav.inbox", "受信一覧", "Inbox"),
    ("nav.audit", "監査ログ", "Audit trail"),
    (
        "title.registry",
        "登録情報（事業所・証明書・端末・ユーザ・切替）",
        "Registry: offices, certificates, terminals, users, switches",
    ),
    (
        "title.act",
        "操作する事業所と端末",
        "Act as an office and terminal",
    ),
    ("title.compose", "送信データの作成", "Compose a send"),
    ("title.outbox", "送信済み・下書き", "Sent items and drafts"),
    ("title.inbox", "受信一覧", "Inbox (受信一覧)"),
    ("title.audit", "監査ログ", "Audit trail"),
    ("title.send", "送信データ", "Send"),
    ("title.file", "ファイルの内容", "File contents"),
    ("actor.as", "操作中", "Acting as"),
    (
        "actor.none",
        "操作する事業所が未選択です",
        "Not acting as any office yet",
    ),
    ("actor.terminal", "端末", "Terminal"),
    ("flash.file", "ファイル", "File"),
    ("f.severity", "重大度", "Severity"),
    ("f.rule", "ルール", "Rule"),
    ("f.at", "位置", "Where"),
    ("f.field", "項目", "Field"),
    ("f.message", "内容", "Message"),
    (
        "checks.title",
        "仕様チェック（cpkit validate と同じ）",
        "Spec checks (as cpkit validate)",
    ),
    ("checks.errors", "エラー", "errors"),
    ("checks.warnings", "警告", "warnings"),
    ("checks.units", "送信単位", "Send units"),
    ("checks.serial", "ファイル連番", "Serial"),
    ("checks.route", "送信元 → 送信先", "From → to"),
    ("checks.unit", "送信単位", "Send unit"),
    ("checks.order", "取込順", "Import order"),
    ("checks.files", "ファイル", "Files"),
    (
        "checks.no_unit",
        "送信単位の組合せになっていません",
        "not a valid send unit",
    ),
    ("checks.none", "指摘はありません。", "No findings."),
    (
        "registry.intro",
        "模擬基盤のデータベースに登録された内容です。ライセンスや切替を変更すると、次の要求からハブの判定に反映されます。",
        "What the mock exchange's database holds. Changes to a licence or a switch apply to the hub's next decision.",
    ),
    ("registry.offices", "事業所", "Offices"),
    ("registry.office", "事業所", "Office"),
    ("registry.services", "サービス種類", "Service types"),
    ("registry.licence", "ライセンス", "Licence"),
    ("registry.until", "期限", "until"),
    ("registry.change", "変更", "Change"),
    ("registry.certs", "証明書", "Certificates"),
    ("registry.expires", "有効期限", "expires"),
    ("registry.days", "日", "days"),
    (
        "registry.no_certs",
        "証明書なし（操作時に発行）",
        "none (issued when acting)",
    ),
    ("registry.terminals", "端末", "Terminals"),
    ("registry.users", "ユーザ", "Users"),
    ("registry.agent", "代理人ID", "agent ID"),
    ("registry.locked", "ロック中", "locked"),
    ("registry.failures", "失敗", "failures"),
    ("registry.lock", "ロック", "Lock"),
    ("registry.unlock", "ロック解除", "Unlock"),
    (
        "registry.switches",
        "現場で報告された動作の切替",
        "Switches for field-reported behaviours",
    ),
    (
        "registry.switches_intro",
        "一次資料で確認できない動作（exchange.md の [B]/[G]）の切替です。変更は再起動まで有効です。",
        "Behaviours no primary source confirms ([B]/[G] in exchange.md). Changes last until the next start.",
    ),
    ("registry.apply", "適用", "Apply"),
    (
        "registry.issue",
        "証明書の発行（テストPKI）",
        "Issue a certificate (test PKI)",
    ),
    ("registry.kind", "種類", "Kind"),
    ("registry.variant", "状態", "Variant"),
    ("registry.issue_button", "発行", "Issue"),
    ("licence.none", "未申請", "none"),
    ("licence.applied", "申請中", "applied"),
    ("licence.active", "有効", "active"),
    ("licence.expired", "期限切れ", "expired"),
    ("terminal.this-pc", "このPC", "this PC"),
    ("terminal.other-pc", "別のPC", "another PC"),
    ("terminal.unbound", "キー未発行", "no key yet"),
    ("cert.valid", "有効", "valid"),
    ("cert.expired", "期限切れ", "expired"),
    ("cert.not-yet-valid", "有効期間前", "not yet valid"),
    ("cert.revoked", "失効", "revoked"),
    ("cert.other-ca", "別の認証局", "other CA"),
    ("password.active", "有効", "active"),
    ("password.temporary", "仮パスワード", "temporary"),
    ("password.expired", "パスワード期限切れ", "password expired"),
    (
        "mode.first-lister-wins",
        "先に一覧を開いた端末が取得（first-lister-wins）",
        "the first terminal to list takes the items (first-lister-wins)",
    ),
    ("mode.shared", "全端末で共有", "shared by every terminal"),
    ("sw.receive_mode", "受信のしかた", "Receive mode"),
    (
        "sw.check_name_offices",
        "ファイル名の事業所番号を送信元・送信先と照合",
        "Check the office numbers in file names",
    ),
    (
        "sw.refuse_agent_ids",
        "代理人ID（HD…）を拒否",
        "Refuse agent IDs (HD…)",
    ),
    (
        "sw.v41_names_min_client",
        "V4.1のファイル名を扱える最低クライアント版",
        "Oldest client that knows V4.1 names",
    ),
    (
        "sw.attachment_types",
        "添付できる拡張子（カンマ区切り）",
        "Attachment extensions (comma-separated)",
    ),
    (
        "sw.annotate_profile",
        "送信に仕様チェック結果を付記",
        "Annotate sends with findings",
    ),
    ("sw.no_annotation", "付記しない", "no annotation"),
    (
        "act.intro",
        "コンソールはテストPKIを持っているので、どの事業所・端末としても模擬基盤に（相互TLSで本物の /v1 インタフェース経由で）ログインできます。",
        "The console holds the test PKI, so it can log in to the mock exchange as any office and terminal (over mutual TLS, through the real /v1 interface).",
    ),
    ("act.quick", "事業所を選ぶ", "Pick an office"),
    ("act.user", "ユーザID", "User ID"),
    ("act.as_this", "この事業所として操作", "Act as this office"),
    (
        "act.custom",
        "ユーザ・端末・証明書を指定してログイン",
        "Log in with a chosen user, terminal and certificate",
    ),
    ("act.password", "パスワード", "Password"),
    (
        "act.password_hint",
        "空欄なら設定ファイルのパスワード",
        "blank: the configured password",
    ),
    ("act.client_version", "クライアントの版", "Client version"),
    ("act.cert", "証明書", "Certificate"),
    ("act.login", "ログイン", "Log in"),
    ("act.actors", "ログイン中の端末", "Logged-in terminals"),
    ("act.switch", "切り替え", "Switch"),
    ("act.forget", "ログアウト", "Log out"),
    (
        "act.no_actors",
        "まだログインしている端末はありません。",
        "No terminal is logged in yet.",
    ),
    (
        "act.needed",
        "先に、操作する事業所と端末を選んでください。",
        "Choose the office and terminal to act as first.",
    ),
    (
        "compose.intro",
        "ファイルをここにドロップするか選んで追加すると、送信前に仕様チェックの結果が表示されます。「事前確認」はハブの判定を保存せずに実行します。",
        "Drop or choose files: the spec checks appear before sending. “Check” runs the hub's own checks without storing anything.",
    ),
    ("compose.files", "ファイル", "Files"),
    (
        "compose.drop",
        "ファイルをここにドロップ、または選択:",
        "Drop files here, or choose:",
    ),
    ("compose.add", "追加", "Add"),
    ("compose.name", "ファイル名", "File name"),
    ("compose.kind", "種類", "Kind"),
    ("compose.records", "レコード", "records"),
    ("compose.size", "バイト", "Bytes"),
    (
        "compose.identified",
        "内容から判別",
        "identified from content",
    ),
    (
        "compose.attachment",
        "添付ファイル（標準仕様のファイルではありません）",
        "attachment (not a file of the standard)",
    ),
    ("compose.remove", "外す", "Remove"),
    ("compose.clear", "すべて外す", "Remove all"),
    (
        "compose.empty",
        "ファイルはまだありません。",
        "No files yet.",
    ),
    ("compose.send", "送信", "Send"),
    ("compose.to", "送信先の事業所番号", "Destination office"),
    (
        "compose.to_hint",
        "事業所番号、または 番号:サービス種類。複数をカンマで区切ると一括送信です。",
        "An office number, or NUMBER:SERVICE-TYPE. Several, comma-separated, make a bulk send.",
    ),
    ("compose.message", "メッセージ", "Message"),
    ("compose.check", "事前確認", "Check"),
    ("compose.send_button", "送信", "Send"),
    ("compose.draft", "下書き保存", "Save draft"),
    (
        "compose.verdict",
        "ハブの事前確認（保存されていません）",
        "The hub's check (nothing stored)",
    ),
    (
        "compose.would_accept",
        "この内容ならハブは受け付けます。",
        "The hub would accept this send.",
    ),
    ("compose.no_unit", "ファイルなし", "no files"),
    (
        "outbox.sent",
        "送信済み（この端末）",
        "Sent from this terminal",
    ),
    (
        "outbox.drafts",
        "下書き（この端末）",
        "Drafts on this terminal",
    ),
    ("outbox.none", "ありません。", "None."),
    ("outbox.to", "送信先", "To"),
    ("outbox.when", "日時", "When"),
    ("outbox.bulk", "一括送信", "bulk"),
    ("outbox.send_draft", "送信", "Send"),
    ("outbox.delete_draft", "削除", "Delete"),
    (
        "inbox.intro",
        "この端末で受信一覧を開くと、ハブの受信のしかたに従ってデータを取得します。受信のしかた:",
        "Opening the inbox on this terminal takes items as the hub's receive mode says. Receive mode:",
    ),
    ("inbox.received", "受信日時", "Received"),
    ("inbox.from", "送信元", "From"),
    ("inbox.claimed", "取得した端末", "Taken by"),
    ("inbox.this_terminal", "この端末", "this terminal"),
    ("inbox.unclaimed", "未取得", "not taken"),
    ("inbox.view", "内容", "view"),
    (
        "inbox.download_unit",
        "送信単位をまとめてダウンロード（zip）",
        "Download the whole unit (zip)",
    ),
    (
        "inbox.none",
        "この事業所宛てのデータはありません。",
        "Nothing was sent to this office.",
    ),
    ("audit.office", "事業所", "Office"),
    ("audit.action", "操作", "Action"),
    ("audit.result", "結果", "Result"),
    ("audit.all", "すべて", "all"),
    ("audit.filter", "絞り込み", "Filter"),
    (
        "audit.export",
        "トレースを書き出す（zip）",
        "Export the trace bundle (zip)",
    ),
    (
        "audit.export_hint",
        "cpkit trace export と同じ内容です。",
        "The same bundle as cpkit trace export.",
    ),
    (
        "audit.live_on",
        "新しい記録を自動で表示しています。",
        "New entries appear as they happen.",
    ),
    (
        "audit.live_off",
        "自動更新は停止中です（再読み込みで最新になります）。",
        "Live updates are paused (reload for the latest).",
    ),
    ("audit.time", "日時（JST）", "Time (JST)"),
    ("audit.status", "状態", "Status"),
    ("audit.detail", "詳細", "Detail"),
    ("audit.older", "さらに古い記録", "Older entries"),
    ("action.login", "ログイン", "login"),
    ("action.send", "送信・一括送信", "send and bulk send"),
    ("action.inbox", "受信一覧", "inbox list"),
    ("action.download", "ダウンロード", "download"),
    ("action.drafts", "下書き", "drafts"),
    ("action.sent", "送信済み一覧", "sent list"),
    ("action.status", "状態確認", "status"),
    ("action.tls", "TLSハンドシェイク", "TLS handshake"),
    ("result.any", "すべて", "all"),
    ("result.ok", "成功", "accepted"),
    ("result.refused", "拒否", "refused"),
    ("state.draft", "下書き", "draft"),
    ("state.sent", "送信済み", "sent"),
    (
        "send.annotations",
        "ハブが付記した仕様チェック結果",
        "Findings the hub annotated",
    ),
    (
        "file.raw",
        "元のバイト列をダウンロード",
        "Download the original bytes",
    ),
    ("file.back", "戻る", "Back"),
    (
        "file.file_findings",
        "ファイル全体への指摘",
        "Findings about the whole file",
    ),
    (
        "file.legend",
        "見えない文字の表示:",
        "Invisible characters:",
    ),
    ("file.fullwidth_space", "全角空白", "full-width space"),
    ("file.space", "半角空白", "space"),
    ("file.quoted", "\"\" で囲まれた項目", "quoted field"),
    ("file.bad", "指摘のある項目", "field with a finding"),
    ("file.record", "レコード", "Record"),
    (
        "file.hidden",
        "表示していないレコード:",
        "Records not shown:",
    ),
];

/// The text for a key in a language (`ja` or `en`); the key itself when it is unknown.
pub fn text<'a>(lang: &str, key: &'a str) -> &'a str {
    match TEXTS.iter().find(|(k, _, _)| *k == key) {
        Some((_, ja, en)) => {
            if lang == "en" {
                en
            } else {
                ja
            }
        }
        None => key,
    }
}

pub fn has(key: &str) -> bool {
    TEXTS.iter().any(|(k, _, _)| *k == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_both_languages_are_written() {
        let mut seen = std::collections::BTreeSet::new();
        for (k, ja, en) in TEXTS {
            assert!(seen.insert(*k), "duplicate key {k}");
            assert!(!ja.is_empty() && !en.is_empty(), "{k}");
        }
        assert_eq!(text("ja", "nav.inbox"), "受信一覧");
        assert_eq!(text("en", "nav.inbox"), "Inbox");
        assert_eq!(text("en", "no.such.key"), "no.such.key");
    }
}
