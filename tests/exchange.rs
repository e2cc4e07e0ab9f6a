//! The mock exchange over real mutual TLS on loopback: certificates, login, send rules, isolation
//! between offices, first-lister-wins under concurrency, hostile uploads, drafts and bulk sends,
//! the trace export and the OpenAPI document. Each test starts its own hub on an ephemeral port
//! with its own PKI and database in a temporary folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use careplan_mock_server::client::{Client, ClientError, Identity};
use careplan_mock_server::config::{DEMO_PASSWORD, ReceiveMode, demo_user_id};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::{Code, Config, RunningServer};
use careplan_spec::OfficeNumber;

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";
const PROVIDER_2SVC: &str = "0320000201";
const OTHER_PROVIDER: &str = "0320000500";
const EXPIRED: &str = "0320000900";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cpkit-exchange-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

struct Hub {
    dir: PathBuf,
    pki: Pki,
    server: RunningServer,
}

impl Hub {
    async fn start(tag: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempdir(tag);
        let pki = Pki::new(dir.join("certs"));
        pki.init(false).unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: dir.join("data"),
            certs: dir.join("certs"),
            ..Config::default()
        };
        config.limits.password_iterations = 1000;
        tweak(&mut config);
        let server = careplan_mock_server::start(config).await.unwrap();
        Self { dir, pki, server }
    }

    fn identity(&self, office: &str, kind: CertKind, variant: Variant) -> Identity {
        let files = self
            .pki
            .issue(
                &OfficeNumber::parse(office).unwrap(),
                kind,
                variant,
                Some(&format!("{}-{}", kind.tag(), variant.tag())),
            )
            .unwrap();
        Identity::new(self.pki.ca_cert(), files.cert, files.key)
    }

    fn client(&self, office: &str) -> Client {
        let id = self.identity(office, CertKind::KaigoHoken, Variant::Valid);
        Client::new(&self.server.url(), &id).unwrap()
    }

    async fn login(&self, office: &str, terminal: &str) -> Client {
        self.login_as(office, terminal, "1.2.0").await
    }

    async fn login_as(&self, office: &str, terminal: &str, version: &str) -> Client {
        let mut c = self.client(office);
        let user = demo_user_id(&OfficeNumber::parse(office).unwrap());
        c.login(&user, DEMO_PASSWORD, terminal, version)
            .await
            .unwrap();
        c
    }

    fn counts(&self) -> careplan_mock_server::store::Counts {
        self.server.hub.store.counts().unwrap()
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// The files of a golden folder, optionally with another serial.
fn unit(folder: &str, serial: Option<&str>) -> Vec<(String, Vec<u8>)> {
    let dir = workspace().join("golden/valid").join(folder);
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    if let Some(s) = serial {
        for (name, _) in &mut files {
            let (stem, ext) = name.rsplit_once('.').unwrap();
            let (head, _) = stem.rsplit_once('_').unwrap();
            *name = format!("{head}_{s}.{ext}");
        }
    }
    files
}

fn to(office: &str) -> Vec<Destination> {
    vec![Destination {
        office: office.to_owned(),
        service_type: None,
    }]
}

fn refused(result: Result<impl std::fmt::Debug, ClientError>) -> careplan_mock_server::HubError {
    match result {
        Err(ClientError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v41_unit_is_delivered_byte_for_byte_to_the_destination() {
    let hub = Hub::start("deliver", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let files = unit("v4.1/riyohyo-minimal", None);
    let receipt = cm
        .send(&to(PROVIDER), "6月分の利用票です", &files, false)
        .await
        .unwrap();
    assert_eq!(
        receipt.deliveries[0].unit.as_deref(),
        Some("kyotaku-riyohyo")
    );
    assert_eq!(receipt.deliveries[0].to_type.as_deref(), Some("15"));

    let mut provider = hub.login(PROVIDER, "provider-pc").await;
    let inbox = provider.inbox().await.unwrap();
    assert_eq!(inbox.len(), 1);
    let item = &inbox[0];
    assert_eq!(item.from_office, KYOTAKU);
    assert_eq!(item.message, "6月分の利用票です");
    assert_eq!(item.files.len(), 3);
    for f in &item.files {
        let bytes = provider.download(item.id, f.id).await.unwrap();
        let original = &files.iter().find(|(n, _)| *n == f.name).unwrap().1;
        assert_eq!(&bytes, original, "{} is delivered unchanged", f.name);
    }
    let sent = cm.sent().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].id, item.id);

    let status = provider.status().await.unwrap();
    assert_eq!(status.office, PROVIDER);
    assert_eq!(status.certificate_kind.as_deref(), Some("kaigo-hoken"));
    assert!(status.certificate_days_left.unwrap() > 300);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_broken_certificate_is_refused_with_a_clear_error() {
    let hub = Hub::start("certs", |_| {}).await;
    for variant in [
        Variant::Expired,
        Variant::NotYetValid,
        Variant::OtherCa,
        Variant::Revoked,
        Variant::WrongKeyUsage,
    ] {
        let id = hub.identity(PROVIDER, CertKind::KaigoHoken, variant);
        let mut c = Client::new(&hub.server.url(), &id).unwrap();
        match c.status().await {
            Err(ClientError::CertificateRefused { alert, hint }) => {
                assert!(!alert.is_empty() && !hint.is_empty(), "{variant:?}");
            }
            other => panic!("{variant:?}: expected a refused certificate, got {other:?}"),
        }
    }
    // No certificate at all.
    let none = Identity::without_certificate(hub.pki.ca_cert());
    let err = Client::new(&hub.server.url(), &none)
        .unwrap()
        .status()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::CertificateRefused { alert, .. } if alert.contains("CertificateRequired")),
        "{err}"
    );
    // 代理人証明書 and 障害総合支援証明書 pass TLS but the hub refuses them.
    for kind in [CertKind::Dairinin, CertKind::Shogai] {
        let id = hub.identity(PROVIDER, kind, Variant::Valid);
        let e = refused(Client::new(&hub.server.url(), &id).unwrap().status().await);
        assert_eq!(e.code, Code::CertKindRefused);
        assert!(e.message_ja.contains(kind.label_ja()), "{}", e.message_ja);
    }
    // A valid certificate of an office the registry does not know.
    let e = refused(hub.client("0999999999").status().await);
    assert_eq!(e.code, Code::OfficeNotRegistered);

    // The trace says why each handshake failed.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let rows = hub.server.hub.store.audit_rows(0, 1000).unwrap();
    let reasons: Vec<String> = rows
        .iter()
        .filter(|r| r.code.as_deref() == Some("TLS_REFUSED"))
        .map(|r| {
            r.detail.as_ref().unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(reasons.len(), 6, "{reasons:#?}");
    assert!(
        reasons.iter().any(|r| r.contains("expired")),
        "{reasons:#?}"
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("revoked") || r.contains("Revoked")),
        "{reasons:#?}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_follows_the_id_password_and_licence_rules() {
    let hub = Hub::start("login", |c| c.limits.login_failures_before_lock = 3).await;
    let user = demo_user_id(&OfficeNumber::parse(PROVIDER).unwrap());
    let mut c = hub.client(PROVIDER);

    let e = refused(c.login(&user, "wrong", "pc", "1.2.0").await);
    assert_eq!(e.code, Code::LoginFailed);
    // An unknown ID gets exactly the same answer as a wrong password (no failure count).
    let unknown = refused(c.login("KJ032000020299", "wrong", "pc", "1.2.0").await);
    assert_eq!(
        serde_json::to_value(&unknown).unwrap(),
        serde_json::to_value(&e).unwrap()
    );
    assert_eq!(e.detail.as_ref().unwrap()["lock_after"], 3);
    refused(c.login(&user, "wrong", "pc", "1.2.0").await);
    let e = refused(c.login(&user, "wrong", "pc", "1.2.0").await);
    assert_eq!(e.code, Code::AccountLocked);
    let e = refused(c.login(&user, DEMO_PASSWORD, "pc", "1.2.0").await);
    assert_eq!(
        e.code,
        Code::AccountLocked,
        "the right password does not unlock"
    );

    let mut cm = hub.client(KYOTAKU);
    let temporary = format!("KJ{KYOTAKU}02");
    let e = refused(cm.login(&temporary, DEMO_PASSWORD, "pc", "1.2.0").await);
    assert_eq!(e.code, Code::PasswordTemporary);
    assert!(e.message_ja.contains("電子請求受付システム"));
    let e = refused(
        cm.login(&format!("HD{KYOTAKU}01"), DEMO_PASSWORD, "pc", "1.2.0")
            .await,
    );
    assert_eq!(e.code, Code::AgentIdRefused);
    // Another office's ID on this office's certificate fails like a wrong password.
    let other = demo_user_id(&OfficeNumber::parse(OTHER_PROVIDER).unwrap());
    assert_eq!(
        refused(cm.login(&other, DEMO_PASSWORD, "pc", "1.2.0").await).code,
        Code::LoginFailed
    );

    let mut expired = hub.client(EXPIRED);
    let user = demo_user_id(&OfficeNumber::parse(EXPIRED).unwrap());
    let e = refused(expired.login(&user, DEMO_PASSWORD, "pc", "1.2.0").await);
    assert_eq!(e.code, Code::LicenceInactive);
    assert!(e.message_ja.contains("有効期限"), "{}", e.message_ja);

    // No session, no sending.
    let e = refused(hub.client(KYOTAKU).inbox().await);
    assert_eq!(e.code, Code::SessionInvalid);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_follow_the_destination_name_and_attachment_rules() {
    let hub = Hub::start("rules", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let files = unit("v4.1/riyohyo-minimal", None);
    let before = hub.counts();

    let e = refused(cm.send(&to("0399999999"), "", &files, false).await);
    assert_eq!(e.code, Code::DestinationNotSupported);
    assert_eq!(
        e.message_ja,
        "入力された番号はケアプランデータ連携システムに対応していません"
    );
    assert_eq!(
        refused(cm.send(&to(EXPIRED), "", &files, false).await).code,
        Code::DestinationNotSupported
    );
    let wrong_type = vec![Destination {
        office: PROVIDER.to_owned(),
        service_type: Some("11".to_owned()),
    }];
    assert_eq!(
        refused(cm.send(&wrong_type, "", &files, false).await).code,
        Code::DestinationNotSupported
    );
    assert_eq!(
        refused(cm.send(&to(KYOTAKU), "", &files, false).await).code,
        Code::OwnOffice
    );

    // A combination that is not a send unit: 6表 without 7表.
    let partial: Vec<_> = files
        .iter()
        .filter(|(n, _)| !n.starts_with("UPSIKYU"))
        .cloned()
        .collect();
    let e = refused(cm.send(&to(PROVIDER), "", &partial, false).await);
    assert_eq!(e.code, Code::FileNameFormat);
    assert_eq!(
        e.message_ja,
        "添付ファイル名の形式に誤りがあります。標準仕様の送信単位に従ったファイルを添付してください。"
    );
    assert!(e.message_en.contains("UPSIKYU"), "{}", e.message_en);
    // Two units in one send.
    let mut two = files.clone();
    two.extend(unit("v4.1/riyohyo-minimal", Some("20250527090001")));
    assert_eq!(
        refused(cm.send(&to(PROVIDER), "", &two, false).await).code,
        Code::FileNameFormat
    );
    // A name addressed to another office.
    assert_eq!(
        refused(cm.send(&to(OTHER_PROVIDER), "", &files, false).await).code,
        Code::FileNameFormat
    );
    // A misspelt prefix.
    let mut typo = files.clone();
    typo[0].0 = typo[0].0.replace("UPHOSOKU", "UPHOSOK");
    let e = refused(cm.send(&to(PROVIDER), "", &typo, false).await);
    assert_eq!(
        (e.code, e.file.as_deref()),
        (Code::FileNameFormat, Some(typo[0].0.as_str()))
    );

    for (name, code) in [
        ("plans.zip", Code::AttachmentZip),
        ("説明.docx", Code::AttachmentOffice),
        ("tool.exe", Code::AttachmentType),
    ] {
        let mut with = files.clone();
        with.push((name.to_owned(), b"PK\x03\x04".to_vec()));
        let e = refused(cm.send(&to(PROVIDER), "", &with, false).await);
        assert_eq!((e.code, e.file.as_deref()), (code, Some(name)));
    }
    assert_eq!(
        hub.counts(),
        {
            let mut c = before;
            c.audit = hub.counts().audit;
            c
        },
        "refused sends store nothing"
    );

    // An old client does not know V4.1 names, but still sends V3 ones.
    let mut old = hub.login_as(KYOTAKU, "old-pc", "1.1.2").await;
    let e = refused(old.send(&to(PROVIDER), "", &files, false).await);
    assert_eq!(e.code, Code::FileNameFormat);
    assert!(e.message_en.contains("1.1.2"), "{}", e.message_en);
    old.send(&to(PROVIDER), "", &unit("v3/riyohyo-minimal", None), false)
        .await
        .unwrap();

    // A PDF travels with the unit; a message alone is a send too.
    let mut with_pdf = files.clone();
    with_pdf.push(("ケアプラン説明.pdf".to_owned(), b"%PDF-1.4\n".to_vec()));
    let receipt = cm
        .send(&to(PROVIDER), "説明資料を添付します", &with_pdf, false)
        .await
        .unwrap();
    assert_eq!(receipt.deliveries[0].files.len(), 4);
    cm.send(&to(PROVIDER), "電話ください", &[], false)
        .await
        .unwrap();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_can_neither_list_nor_download_another_offices_items() {
    let hub = Hub::start("isolation", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    cm.send(
        &to(PROVIDER),
        "",
        &unit("v4.1/riyohyo-minimal", None),
        false,
    )
    .await
    .unwrap();

    let mut intruder = hub.login(OTHER_PROVIDER, "pc").await;
    assert!(intruder.inbox().await.unwrap().is_empty());
    // Guess every small ID pair.
    for send in 0..5 {
        for file in 0..8 {
            let e = refused(intruder.download(send, file).await);
            assert_eq!(e.code, Code::NotFound);
        }
    }
    // The sender cannot download what it sent through the inbox either.
    assert_eq!(refused(cm.download(1, 1).await).code, Code::NotFound);
    // A token from office B's session does not work on office A's certificate.
    let provider = hub.login(PROVIDER, "pc").await;
    let mut stolen = hub.client(OTHER_PROVIDER);
    stolen.set_token(provider.token().map(str::to_owned));
    assert_eq!(
        refused(stolen.inbox().await).code,
        Code::SessionOfficeMismatch
    );
    // The destination can.
    let mut provider = provider;
    let items = provider.inbox().await.unwrap();
    provider
        .download(items[0].id, items[0].files[0].id)
        .await
        .unwrap();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_lister_wins_delivers_each_item_to_exactly_one_of_32_terminals() {
    let hub = Hub::start("first-lister", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let sends = 40;
    for i in 0..sends {
        let serial = format!("202505270{:05}", 90000 + i);
        cm.send(
            &to(PROVIDER),
            "",
            &unit("v4.1/riyohyo-minimal", Some(&serial)),
            false,
        )
        .await
        .unwrap();
    }
    let mut terminals = Vec::new();
    for t in 0..32 {
        terminals.push(hub.login(PROVIDER, &format!("pc-{t:02}")).await);
    }
    let tasks: Vec<_> = terminals
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
                let mut mine = BTreeSet::new();
                for _ in 0..3 {
                    for item in c.inbox().await.unwrap() {
                        mine.insert(item.id);
                        // A terminal can download what it took.
                        c.download(item.id, item.files[0].id).await.unwrap();
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = BTreeSet::new();
    let mut total = 0;
    for t in tasks {
        let mine = t.await.unwrap();
        total += mine.len();
        all.extend(mine);
    }
    assert_eq!(all.len(), sends, "every item reached a terminal");
    assert_eq!(total, sends, "no item reached two terminals");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_mode_shows_every_item_to_every_terminal() {
    let hub = Hub::start("shared", |c| c.switches.receive_mode = ReceiveMode::Shared).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    cm.send(
        &to(PROVIDER),
        "",
        &unit("v4.1/riyohyo-minimal", None),
        false,
    )
    .await
    .unwrap();
    for t in 0..3 {
        let mut c = hub.login(PROVIDER, &format!("pc-{t}")).await;
        let items = c.inbox().await.unwrap();
        assert_eq!(items.len(), 1);
        c.download(items[0].id, items[0].files[0].id).await.unwrap();
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_oversize_uploads_are_refused_and_nothing_is_stored() {
    let hub = Hub::start("hostile", |c| {
        c.limits.max_file_bytes = 64 * 1024;
        c.limits.max_send_bytes = 128 * 1024;
    })
    .await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let files = unit("v4.1/riyohyo-minimal", None);
    cm.send(&to(PROVIDER), "", &files, false).await.unwrap();
    let before = hub.counts();

    let long = format!("{}.pdf", "あ".repeat(150));
    for name in [
        "../../etc/passwd.txt",
        "..\\..\\boot.ini.txt",
        "sub/dir.pdf",
        "bell\u{7}.txt",
        "nul\u{0}.pdf",
        "new\nline.txt",
        "..",
        long.as_str(),
    ] {
        let mut with = files.clone();
        with.push((name.to_owned(), b"x".to_vec()));
        let err = cm.send(&to(PROVIDER), "", &with, false).await.unwrap_err();
        let e = err.refusal().unwrap_or_else(|| panic!("{name:?}: {err}"));
        assert!(
            matches!(e.code, Code::HostileFileName | Code::BadRequest),
            "{name:?}: {e}"
        );
    }
    // One file over the per-file limit, then a send over the total.
    let mut big = files.clone();
    big.push(("big.pdf".to_owned(), vec![b'%'; 65 * 1024]));
    let e = refused(cm.send(&to(PROVIDER), "", &big, false).await);
    assert_eq!(
        (e.code, e.status, e.file.as_deref()),
        (Code::TooLarge, 413, Some("big.pdf"))
    );
    let mut many = files.clone();
    for i in 0..5 {
        many.push((format!("part{i}.pdf"), vec![b'%'; 60 * 1024]));
    }
    let e = refused(cm.send(&to(PROVIDER), "", &many, false).await);
    assert_eq!((e.code, e.status), (Code::TooLarge, 413));
    let mut after = hub.counts();
    after.audit = before.audit;
    assert_eq!(after, before, "nothing was stored");
    // The connection still works afterwards.
    cm.sent().await.unwrap();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drafts_stay_with_their_terminal_and_bulk_sends_route_units_by_name() {
    let hub = Hub::start("drafts", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let files = unit("v4.1/riyohyo-minimal", None);
    let receipt = cm
        .send(&to(PROVIDER), "下書き", &files, true)
        .await
        .unwrap();
    assert!(receipt.draft);
    let mut provider = hub.login(PROVIDER, "pc").await;
    assert!(
        provider.inbox().await.unwrap().is_empty(),
        "drafts are not delivered"
    );
    let mut other_pc = hub.login(KYOTAKU, "cm-laptop").await;
    assert!(
        other_pc.drafts().await.unwrap().is_empty(),
        "drafts are per terminal"
    );
    assert_eq!(
        refused(other_pc.send_draft(receipt.ids[0]).await).code,
        Code::NotFound
    );
    let drafts = cm.drafts().await.unwrap();
    assert_eq!(drafts.len(), 1);
    cm.send_draft(drafts[0].id).await.unwrap();
    assert_eq!(provider.inbox().await.unwrap().len(), 1);
    let second = cm.send(&to(PROVIDER), "", &files, true).await.unwrap();
    cm.delete_draft(second.ids[0]).await.unwrap();
    assert!(cm.drafts().await.unwrap().is_empty());

    // 一括送信: each provider gets the unit addressed to it, both get the PDF and the message.
    let mut bulk = unit("v4.1/riyohyo-minimal", Some("20250527100000"));
    let mut second_unit = unit("v4.1/riyohyo-minimal", Some("20250527100000"));
    for (name, _) in &mut second_unit {
        *name = name.replace(&format!("{PROVIDER}_15"), &format!("{OTHER_PROVIDER}_15"));
    }
    bulk.extend(second_unit);
    bulk.push(("案内.pdf".to_owned(), b"%PDF-1.4\n".to_vec()));
    let dests = vec![
        Destination {
            office: PROVIDER.to_owned(),
            service_type: Some("15".to_owned()),
        },
        Destination {
            office: OTHER_PROVIDER.to_owned(),
            service_type: None,
        },
    ];
    let receipt = cm.send(&dests, "7月分です", &bulk, false).await.unwrap();
    assert_eq!(receipt.ids.len(), 2);
    for d in &receipt.deliveries {
        assert_eq!(d.files.len(), 4, "{d:?}");
        assert!(
            d.files
                .iter()
                .all(|f| f.ends_with(".pdf") || f.contains(&d.to_office))
        );
    }
    let mut other = hub.login(OTHER_PROVIDER, "pc").await;
    let items = other.inbox().await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].message, "7月分です");
    assert_eq!(items[0].bulk_id, Some(receipt.ids[0]));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_same_number_office_receives_each_service_types_unit() {
    let hub = Hub::start("two-services", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    // The rich golden case has 6/7表 units for both services of office 0320000201.
    let files = unit("v4.1/riyohyo-rich", None);
    let mut by_serial: std::collections::BTreeMap<String, Vec<(String, Vec<u8>)>> =
        Default::default();
    for f in files.into_iter().filter(|(n, _)| n.contains(PROVIDER_2SVC)) {
        let serial = f.0.rsplit_once('_').unwrap().1.to_owned();
        by_serial.entry(serial).or_default().push(f);
    }
    let mut types = BTreeSet::new();
    for unit in by_serial.values() {
        let r = cm.send(&to(PROVIDER_2SVC), "", unit, false).await.unwrap();
        types.insert(r.deliveries[0].to_type.clone().unwrap());
    }
    let mut provider = hub.login(PROVIDER_2SVC, "pc").await;
    let items = provider.inbox().await.unwrap();
    assert_eq!(items.len(), by_serial.len());
    let expected: BTreeSet<String> = ["11", "15"].map(String::from).into();
    assert_eq!(
        types, expected,
        "each service's unit is addressed to its own type"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn annotation_reports_findings_without_blocking() {
    let hub = Hub::start("annotate", |c| {
        c.switches.annotate_profile = Some("strict".to_owned())
    })
    .await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let mut files = unit("v4.1/riyohyo-minimal", None);
    // Break the content (not the name): the hub still forwards it, with the findings attached.
    let plan = files
        .iter_mut()
        .find(|(n, _)| n.starts_with("UPPLAN"))
        .unwrap();
    plan.1.extend_from_slice(b"broken,\"line\r\n");
    let broken = plan.1.clone();
    let receipt = cm.send(&to(PROVIDER), "", &files, false).await.unwrap();
    let notes = receipt.deliveries[0].annotations.as_ref().unwrap();
    assert_eq!(notes["profile"], "strict");
    assert!(notes["errors"].as_u64().unwrap() > 0, "{notes}");
    let mut provider = hub.login(PROVIDER, "pc").await;
    let items = provider.inbox().await.unwrap();
    assert!(items[0].annotations.is_some());
    let f = items[0]
        .files
        .iter()
        .find(|f| f.name.starts_with("UPPLAN"))
        .unwrap();
    assert_eq!(provider.download(items[0].id, f.id).await.unwrap(), broken);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_export_holds_every_request_and_file_and_no_secret() {
    let hub = Hub::start("trace", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    cm.send(
        &to(PROVIDER),
        "",
        &unit("v4.1/riyohyo-minimal", None),
        false,
    )
    .await
    .unwrap();
    refused(
        cm.send(
            &to("0399999999"),
            "",
            &unit("v4.1/riyohyo-minimal", None),
            false,
        )
        .await,
    );
    let token = cm.token().unwrap().to_owned();
    let out = hub.dir.join("bundle");
    let summary = careplan_mock_server::trace::export(&hub.server.hub.store, &out).unwrap();
    assert_eq!((summary.sends, summary.files), (1, 3));
    let trace = std::fs::read_to_string(out.join("trace.jsonl")).unwrap();
    assert!(trace.contains("POST /v1/login"));
    assert!(trace.contains("DESTINATION_NOT_SUPPORTED"));
    let mut all = trace.clone();
    all.push_str(&std::fs::read_to_string(out.join("sends.jsonl")).unwrap());
    // What a replay needs besides: the registry (no password, no hash), clock and settings.
    let state = std::fs::read_to_string(out.join("exchange.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&state).unwrap();
    assert!(
        v["offices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["number"] == PROVIDER && o["licence"] == "active"),
        "{state}"
    );
    let user = &v["users"][0];
    assert!(user["state"].is_string() && user.get("hash").is_none() && user.get("salt").is_none());
    assert_eq!(
        v["settings"]["switches"]["receive_mode"],
        serde_json::to_value(careplan_mock_server::config::Switches::default().receive_mode)
            .unwrap()
    );
    assert!(v["clock_offset_seconds"].is_i64());
    all.push_str(&state);
    assert!(
        !all.contains(DEMO_PASSWORD) && !all.contains(&token),
        "no secrets in the bundle"
    );
    let stored: Vec<_> = std::fs::read_dir(out.join("files/1")).unwrap().collect();
    assert_eq!(stored.len(), 3);
    assert!(
        careplan_mock_server::trace::export(&hub.server.hub.store, &out).is_err(),
        "never overwrites"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let doc: serde_json::Value = serde_json::from_str(careplan_mock_server::api::OPENAPI).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect();
    let routed: BTreeSet<(String, String)> = careplan_mock_server::api::routes()
        .into_iter()
        .map(|(m, p, _)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    // Every error code the hub can return is documented.
    let codes = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"].to_string();
    for code in Code::ALL {
        assert!(codes.contains(code.as_str()), "{code:?} is not documented");
    }

    // And every documented route answers (never the router's fallback).
    let hub = Hub::start("openapi", |_| {}).await;
    let mut c = hub.login(KYOTAKU, "pc").await;
    for (method, path) in &routed {
        let path = path
            .replace("{send_id}", "1")
            .replace("{file_id}", "1")
            .replace("{id}", "1");
        let method: hyper::Method = method.to_uppercase().parse().unwrap();
        let (_, body) = c.request(method, &path, None, Vec::new()).await.unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(!text.contains("no such endpoint"), "{path}: {text}");
    }
    hub.stop().await;
}

// ----- hardening (issue 9) -------------------------------------------------------------------

use careplan_mock_server::client::{TerminalKeys, Timeouts};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A raw TLS connection with an identity (for requests the client would never send).
async fn raw_tls(
    hub: &Hub,
    id: &Identity,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let config = careplan_mock_server::client::tls_config(id).unwrap();
    let tcp = tokio::net::TcpStream::connect(hub.server.addr)
        .await
        .unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect("localhost".try_into().unwrap(), tcp)
        .await
        .unwrap()
}

/// Reads until the server closes the connection (or 20 s pass: a hub that never answers fails
/// the test instead of hanging it).
async fn read_to_close(tls: &mut (impl tokio::io::AsyncRead + Unpin)) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buf = [0u8; 4096];
        loop {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the hub kept the connection open: {}",
        String::from_utf8_lossy(&out)
    );
    String::from_utf8_lossy(&out).into_owned()
}

async fn login_with(hub: &Hub, id: &Identity, office: &str, terminal: &str) -> Client {
    let mut c = Client::new(&hub.server.url(), id).unwrap();
    let user = demo_user_id(&OfficeNumber::parse(office).unwrap());
    c.login(&user, DEMO_PASSWORD, terminal, "1.2.0")
        .await
        .unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_hostile_names_and_case_insensitive_duplicates_are_refused() {
    let hub = Hub::start("names", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    let files = unit("v4.1/riyohyo-minimal", None);
    for name in [
        "a¥b.txt",
        "計画／６月.pdf",
        "a∕b.pdf",
        "․․∕x.txt",
        "a．．b.pdf",
        "invoice\u{202E}fdp.exe.txt",
        "zero\u{200B}width.pdf",
        "\u{FEFF}bom.pdf",
        "CON.txt",
        "nul.tar.gz.pdf",
        "COM1.pdf",
        "ＣＯＮ.txt",
    ] {
        let mut with = files.clone();
        with.push((name.to_owned(), b"%PDF-1.4\n".to_vec()));
        let e = refused(cm.send(&to(PROVIDER), "", &with, false).await);
        assert_eq!(e.code, Code::HostileFileName, "{name:?}: {e}");
    }
    for (a, b) in [("Plan.pdf", "PLAN.PDF"), ("plan.pdf", "ｐｌａｎ.pdf")] {
        let mut with = files.clone();
        with.push((a.to_owned(), b"%PDF-1.4\n".to_vec()));
        with.push((b.to_owned(), b"%PDF-1.4\n".to_vec()));
        let e = refused(cm.send(&to(PROVIDER), "", &with, false).await);
        assert_eq!(
            (e.code, e.file.as_deref()),
            (Code::DuplicateFileName, Some(b))
        );
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_extension_is_refused_before_the_rest_of_the_upload_is_read() {
    let hub = Hub::start("early-type", |_| {}).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let c = login_with(&hub, &id, KYOTAKU, "cm-pc").await;
    let mut tls = raw_tls(&hub, &id).await;
    // Announces 9 MB, sends the first bytes of a zip and then nothing: only a hub that judges
    // the name first can answer.
    let head = format!(
        "POST /v1/sends HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XB\r\nContent-Length: 9000000\r\n\r\n\
         --XB\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{PROVIDER}\r\n\
         --XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"plans.zip\"\r\n\r\nPK\x03\x04",
        c.token().unwrap()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut tls).await;
    assert!(answer.contains("ATTACHMENT_ZIP"), "{answer}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_hold_at_most_the_bytes_in_flight_budget() {
    const MB: u64 = 1024 * 1024;
    let hub = Hub::start("budget", |c| {
        c.limits.max_file_bytes = 3 * MB;
        c.limits.max_send_bytes = 3 * MB;
        c.limits.max_bytes_in_flight = 5 * MB;
        // Sends queue for the budget; a slow machine must not turn the wait into BUSY.
        c.limits.busy_wait_seconds = 600;
    })
    .await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let mut tasks = Vec::new();
    for t in 0..8 {
        let mut c = login_with(&hub, &id, KYOTAKU, &format!("pc-{t}")).await;
        tasks.push(tokio::spawn(async move {
            let pdf = vec![b'%'; (2 * MB) as usize];
            c.send(&to(PROVIDER), "", &[(format!("資料{t}.pdf"), pdf)], false)
                .await
                .map(|_| ())
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        if let Err(e) = t.await.unwrap() {
            panic!("send {i} failed: {e:?}");
        }
    }
    let peak = hub.server.hub.traffic.peak_in_flight_bytes();
    assert!(peak > 0 && peak <= 5 * MB, "peak {peak} bytes in flight");
    assert_eq!(hub.counts().sends, 8);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_ends_open_connections_and_their_sessions() {
    let hub = Hub::start("revoke-open", |_| {}).await;
    let id = hub.identity(PROVIDER, CertKind::KaigoHoken, Variant::Valid);
    let mut c = login_with(&hub, &id, PROVIDER, "pc").await;
    c.inbox().await.unwrap();
    let (cert, _) = id.client.clone().unwrap();
    hub.pki.revoke(&cert).unwrap();
    // The kept-alive connection completed its handshake before the revocation.
    let e = refused(c.inbox().await);
    assert_eq!(e.code, Code::CertRevoked);
    // The hub closed it; a new handshake is refused by TLS.
    assert!(
        matches!(c.inbox().await, Err(ClientError::CertificateRefused { .. })),
        "a revoked certificate cannot connect again"
    );
    // The session does not move to another certificate of the office.
    let mut other = hub.client(PROVIDER);
    other.set_token(c.token().map(str::to_owned));
    assert_eq!(refused(other.inbox().await).code, Code::SessionInvalid);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locking_an_account_ends_its_sessions() {
    let hub = Hub::start("lock-sessions", |c| c.limits.login_failures_before_lock = 2).await;
    let mut open = hub.login(PROVIDER, "front-desk").await;
    open.inbox().await.unwrap();
    let mut attacker = hub.client(PROVIDER);
    let user = demo_user_id(&OfficeNumber::parse(PROVIDER).unwrap());
    refused(attacker.login(&user, "guess-1", "x", "1.2.0").await);
    let e = refused(attacker.login(&user, "guess-2", "x", "1.2.0").await);
    assert_eq!(e.code, Code::AccountLocked);
    assert_eq!(refused(open.inbox().await).code, Code::SessionInvalid);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pc_cannot_take_over_another_terminals_items() {
    let hub = Hub::start("terminal-key", |_| {}).await;
    let mut cm = hub.login(KYOTAKU, "cm-pc").await;
    cm.send(
        &to(PROVIDER),
        "",
        &unit("v4.1/riyohyo-minimal", None),
        false,
    )
    .await
    .unwrap();
    // PC 1 logs in as front-desk first: the hub issues the terminal's key.
    let pc1 = hub.identity(PROVIDER, CertKind::KaigoHoken, Variant::Valid);
    let mut front = Client::new(&hub.server.url(), &pc1).unwrap();
    let user = demo_user_id(&OfficeNumber::parse(PROVIDER).unwrap());
    let first = front
        .login(&user, DEMO_PASSWORD, "front-desk", "1.2.0")
        .await
        .unwrap();
    assert!(first.terminal_key.is_some(), "issued at the first login");
    let items = front.inbox().await.unwrap();
    assert_eq!(items.len(), 1);
    // PC 2 holds a copy of the office certificate (or its own) but not front-desk's key.
    for (n, pc2) in [
        Identity::new(
            pc1.ca.clone(),
            pc1.client.clone().unwrap().0,
            pc1.client.clone().unwrap().1,
        ),
        hub.identity(PROVIDER, CertKind::KaigoHoken, Variant::Valid),
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = Client::new(&hub.server.url(), &pc2).unwrap();
        let e = refused(c.login(&user, DEMO_PASSWORD, "front-desk", "1.2.0").await);
        assert_eq!(e.code, Code::TerminalRefused, "{e}");
        let mut own = login_with(&hub, &pc2, PROVIDER, &format!("billing-pc-{n}")).await;
        assert!(own.inbox().await.unwrap().is_empty());
        let e = refused(own.download(items[0].id, items[0].files[0].id).await);
        assert_eq!(e.code, Code::NotFound);
    }
    // PC 1 keeps its terminal: a later login (a new connection) presents the key it kept.
    let mut again = login_with(&hub, &pc1, PROVIDER, "front-desk").await;
    assert_eq!(again.inbox().await.unwrap().len(), 1);
    // Keys kept in a folder survive the process.
    let folder = hub.dir.join("keys");
    let on_disk = pc1
        .clone()
        .with_terminal_keys(TerminalKeys::in_folder(&folder));
    login_with(&hub, &on_disk, PROVIDER, "受付PC").await;
    let fresh = pc1
        .clone()
        .with_terminal_keys(TerminalKeys::in_folder(&folder));
    login_with(&hub, &fresh, PROVIDER, "受付PC").await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pc_keeps_one_terminal_key_per_hub() {
    // Two hubs on one certificate folder (a rehearsal hub and a second one, say): each binds the
    // same terminal name to a key of its own, and the PC keeps both.
    let a = Hub::start("keys-hub-a", |_| {}).await;
    let data_b = tempdir("keys-hub-b");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: data_b.join("data"),
        certs: a.dir.join("certs"),
        ..Config::default()
    };
    config.limits.password_iterations = 1000;
    let b = careplan_mock_server::start(config).await.unwrap();
    let folder = a.dir.join("pc-keys");
    let pc = a
        .identity(PROVIDER, CertKind::KaigoHoken, Variant::Valid)
        .with_terminal_keys(TerminalKeys::in_folder(&folder));
    let user = demo_user_id(&OfficeNumber::parse(PROVIDER).unwrap());
    for url in [a.server.url(), b.url(), a.server.url(), b.url()] {
        let mut c = Client::new(&url, &pc).unwrap();
        c.login(&user, DEMO_PASSWORD, "front-desk", "1.2.0")
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    b.stop().await.unwrap();
    std::fs::remove_dir_all(&data_b).ok();
    a.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_handshakes_are_counted_and_sampled_not_audited_one_by_one() {
    let hub = Hub::start("sampled", |_| {}).await;
    let expired = hub.identity(PROVIDER, CertKind::KaigoHoken, Variant::Expired);
    for _ in 0..30 {
        let mut c = Client::new(&hub.server.url(), &expired).unwrap();
        assert!(c.status().await.is_err());
    }
    let traffic = &hub.server.hub.traffic;
    for _ in 0..500 {
        if traffic.refused_handshakes() >= 30 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(traffic.refused_handshakes(), 30);
    // The sampled row is appended off the handshake task: wait for it (a loaded CI machine may
    // take a while), then a little longer for any row that should not be there.
    let tls_rows = || -> Vec<_> {
        hub.server
            .hub
            .store
            .audit_rows(0, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.code.as_deref() == Some("TLS_REFUSED"))
            .collect()
    };
    for _ in 0..500 {
        if !tls_rows().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let rows = tls_rows();
    assert_eq!(rows.len(), 1, "one sampled row per reason: {rows:#?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_is_a_json_error_object() {
    let hub = Hub::start("json-errors", |_| {}).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let mut c = login_with(&hub, &id, KYOTAKU, "cm-pc").await;
    let error_of = |(status, body): (hyper::StatusCode, hyper::body::Bytes)| {
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "{status}: not JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        });
        (
            status.as_u16(),
            v["error"]["code"].as_str().unwrap_or("?").to_owned(),
            v,
        )
    };
    let (status, code, _) = error_of(
        c.request(
            hyper::Method::GET,
            "/v1/inbox/abc/files/1",
            None,
            Vec::new(),
        )
        .await
        .unwrap(),
    );
    assert_eq!((status, code.as_str()), (400, "BAD_REQUEST"));
    let (status, code, _) = error_of(
        c.request(hyper::Method::PUT, "/v1/status", None, Vec::new())
            .await
            .unwrap(),
    );
    assert_eq!((status, code.as_str()), (405, "METHOD_NOT_ALLOWED"));
    let big = serde_json::json!({
        "user_id": "KJ031000010001", "password": "x".repeat(100_000),
        "terminal": "pc", "client_version": "1.2.0",
    });
    let (status, code, _) = error_of(
        c.request(
            hyper::Method::POST,
            "/v1/login",
            Some("application/json"),
            serde_json::to_vec(&big).unwrap(),
        )
        .await
        .unwrap(),
    );
    assert_eq!((status, code.as_str()), (413, "TOO_LARGE"));
    // File names: filename* alone, and bytes that are not UTF-8 (Shift_JIS あ).
    for (disposition, reason) in [
        (
            b"filename*=UTF-8''%E3%81%82.pdf".to_vec(),
            "filename_star_only",
        ),
        (
            [b"filename=\"".as_slice(), b"\x82\xa0.pdf\""].concat(),
            "filename_not_utf8",
        ),
    ] {
        let mut body = format!(
            "--XB\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{PROVIDER}\r\n\
             --XB\r\nContent-Disposition: form-data; name=\"file\"; "
        )
        .into_bytes();
        body.extend_from_slice(&disposition);
        body.extend_from_slice(b"\r\n\r\n%PDF-1.4\r\n--XB--\r\n");
        let (status, code, v) = error_of(
            c.request(
                hyper::Method::POST,
                "/v1/sends",
                Some("multipart/form-data; boundary=XB"),
                body,
            )
            .await
            .unwrap(),
        );
        assert_eq!((status, code.as_str()), (400, "BAD_REQUEST"), "{v}");
        assert_eq!(v["error"]["detail"]["reason"], reason, "{v}");
    }
    // The Bearer scheme is case-insensitive.
    let mut tls = raw_tls(&hub, &id).await;
    let request = format!(
        "GET /v1/sent HTTP/1.1\r\nHost: localhost\r\nauthorization: bearer {}\r\nConnection: close\r\n\r\n",
        c.token().unwrap()
    );
    tls.write_all(request.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Terminal names are shown in lists and logs: no control or invisible characters.
    let mut other = hub.client(KYOTAKU);
    let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
    for terminal in ["pc\u{7}", "pc\u{202E}1", "pc\r\nInjected: 1"] {
        let e = refused(other.login(&user, DEMO_PASSWORD, terminal, "1.2.0").await);
        assert_eq!(e.code, Code::BadRequest, "{terminal:?}");
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_headers_bodies_and_idle_connections_are_closed() {
    let hub = Hub::start("stalls", |c| {
        c.limits.header_timeout_seconds = 1;
        c.limits.body_stall_seconds = 1;
    })
    .await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let c = login_with(&hub, &id, KYOTAKU, "cm-pc").await;
    // Headers that never end.
    let mut tls = raw_tls(&hub, &id).await;
    tls.write_all(b"GET /v1/status HTTP/1.1\r\nHost: loc")
        .await
        .unwrap();
    read_to_close(&mut tls).await;
    // An idle kept-alive connection after one answer.
    let mut tls = raw_tls(&hub, &id).await;
    tls.write_all(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut tls).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // A body that stops.
    let mut tls = raw_tls(&hub, &id).await;
    let head = format!(
        "POST /v1/sends HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XB\r\nContent-Length: 5000\r\n\r\n\
         --XB\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\n{PROVIDER}\r\n--XB\r\nContent-Disp",
        c.token().unwrap()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut tls).await;
    assert!(
        answer.contains("408") && answer.contains("TIMEOUT"),
        "{answer}"
    );
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_trickles_below_the_minimum_rate_is_refused() {
    // One byte every 300 ms never stalls for the 1 s of `body_stall_seconds`, so only the
    // minimum rate (`min_body_bytes_per_second`, default 1024 after the first stall period) ends it.
    let hub = Hub::start("trickle", |c| c.limits.body_stall_seconds = 1).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let c = login_with(&hub, &id, KYOTAKU, "cm-pc").await;
    let tls = raw_tls(&hub, &id).await;
    let (mut read, mut write) = tokio::io::split(tls);
    let head = format!(
        "POST /v1/sends HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {}\r\n\
         Content-Type: multipart/form-data; boundary=XB\r\nContent-Length: 100000\r\n\r\n--XB\r\n",
        c.token().unwrap()
    );
    write.write_all(head.as_bytes()).await.unwrap();
    let trickle = tokio::spawn(async move {
        for _ in 0..200 {
            if write.write_all(b"x").await.is_err() || write.flush().await.is_err() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
    });
    let started = std::time::Instant::now();
    let answer = read_to_close(&mut read).await;
    assert!(
        answer.contains("408") && answer.contains("TIMEOUT") && answer.contains("bytes/s"),
        "{answer}"
    );
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
    trickle.abort();
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_over_the_certificates_cap_is_not_held_open() {
    let hub = Hub::start("over-cap", |c| {
        c.limits.max_connections_per_certificate = 1;
        c.limits.header_timeout_seconds = 30;
    })
    .await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let mut first = Client::new(&hub.server.url(), &id).unwrap();
    first.status().await.unwrap();
    // One more connection that sends nothing: closed after a short grace, not the header timeout.
    let mut idle = raw_tls(&hub, &id).await;
    let started = std::time::Instant::now();
    read_to_close(&mut idle).await;
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    // One that asks in time still gets the refusal in the interface's format.
    let mut asking = raw_tls(&hub, &id).await;
    asking
        .write_all(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut asking).await;
    assert!(answer.contains("TOO_MANY_CONNECTIONS"), "{answer}");
    first.status().await.unwrap();
    hub.stop().await;
}

/// Requests HTTP itself cannot parse, with the status hyper gives each.
fn malformed_requests() -> Vec<(&'static str, Vec<u8>, u16)> {
    let long_uri = format!(
        "GET /v1/{} HTTP/1.1\r\nHost: localhost\r\n\r\n",
        "a".repeat(70_000)
    );
    let many_headers = format!(
        "GET /v1/status HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-H{i}: {i}\r\n"))
            .collect::<String>()
    );
    vec![
        ("request line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            "header without a colon",
            b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two Content-Lengths",
            b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello".to_vec(),
            400,
        ),
        (
            "negative Content-Length",
            b"POST /v1/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: -1\r\n\r\n".to_vec(),
            400,
        ),
        ("URI too long", long_uri.into_bytes(), 414),
        ("too many headers", many_headers.into_bytes(), 431),
    ]
}

/// Sends each malformed request on its own connection and checks the answer's status and that
/// its body is the interface's JSON error object with `BAD_REQUEST`.
async fn malformed_requests_get_json(hub: &Hub, id: &Identity, shape: &str) {
    for (what, request, status) in malformed_requests() {
        let mut tls = raw_tls(hub, id).await;
        // The hub may answer and close before a large request is written whole.
        let _ = tls.write_all(&request).await;
        let answer = read_to_close(&mut tls).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(
            head.starts_with(&format!("HTTP/1.1 {status} ")),
            "{what}: {answer}"
        );
        assert!(head.contains("application/json"), "{what}: {head}");
        let v: serde_json::Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{what}: the body is not JSON ({e}): {body:?}"));
        assert_eq!(v["error"]["code"], "BAD_REQUEST", "{what}: {v}");
        assert!(v["error"]["message_en"].is_string(), "{what}: {v}");
        if shape == "2027" {
            assert_eq!(v["result"], "error", "{what}: {v}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_http_cannot_parse_are_answered_with_a_json_error() {
    let hub = Hub::start("framing", |_| {}).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    malformed_requests_get_json(&hub, &id, "v1").await;
    // The same in the 2027 shape's error format.
    let hub27 = Hub::start("framing-2027", |c| {
        c.api = careplan_mock_server::config::ApiShape::Api2027
    })
    .await;
    let id27 = hub27.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    malformed_requests_get_json(&hub27, &id27, "2027").await;
    hub27.stop().await;
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_certificate_holds_a_bounded_number_of_connections() {
    let hub = Hub::start("per-cert", |c| c.limits.max_connections_per_certificate = 2).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let mut a = Client::new(&hub.server.url(), &id).unwrap();
    let mut b = Client::new(&hub.server.url(), &id).unwrap();
    a.status().await.unwrap();
    b.status().await.unwrap();
    let mut third = Client::new(&hub.server.url(), &id).unwrap();
    let e = refused(third.status().await);
    assert_eq!((e.code, e.status), (Code::TooManyConnections, 503));
    // Another certificate of the office is not affected; a closed connection frees its place.
    hub.client(KYOTAKU).status().await.unwrap();
    drop(a);
    let mut ok = false;
    for _ in 0..100 {
        let mut c = Client::new(&hub.server.url(), &id).unwrap();
        if c.status().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "the place of a closed connection is given back");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_gives_up_on_a_hub_that_never_answers() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    let keep = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            open.push(s);
        }
    });
    let hub = Hub::start("silent", |_| {}).await;
    let id = hub.identity(KYOTAKU, CertKind::KaigoHoken, Variant::Valid);
    let mut c = Client::new(&format!("https://{addr}"), &id).unwrap();
    c.set_timeouts(Timeouts {
        connect: std::time::Duration::from_secs(1),
        answer: std::time::Duration::from_secs(1),
    });
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), c.status()).await;
    match answer {
        Ok(Err(e @ ClientError::Timeout { .. })) => assert!(e.is_connection(), "{e}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    keep.abort();
    hub.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let hub = Hub::start("private", |c| {
        c.api = careplan_mock_server::config::ApiShape::V1
    })
    .await;
    hub.login(KYOTAKU, "pc").await;
    let data = hub.dir.join("data");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for f in ["exchange.sqlite3", "exchange.sqlite3-wal", "serve.lock"] {
        assert_eq!(mode(&data.join(f)), 0o600, "{f}");
    }
    // A second hub on the same folder is refused while this one runs.
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: data.clone(),
        certs: hub.dir.join("certs"),
        ..Config::default()
    };
    match careplan_mock_server::start(config).await {
        Err(e) => assert!(e.to_string().contains("in use"), "{e}"),
        Ok(_) => panic!("a second hub started on the same data folder"),
    }
    hub.stop().await;
}
