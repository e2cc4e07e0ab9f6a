//! The web console over plain HTTP on loopback, without a browser: who gets in (token, session
//! cookie, CSRF, Host, loopback only), and the operator's whole loop through the forms — act as
//! the care manager, add a V4.1 unit, check it, send it, act as the provider, list and download
//! it — against a real hub (mutual TLS, SQLite) started in-process. The same loop in a real
//! browser is `tests/console_browser.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use careplan_mock_server::client::{Client, Identity, Multipart, TerminalKeys};
use careplan_mock_server::config::{DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::console::{self, ConsoleConfig, ConsoleError, RunningConsole};
use careplan_mock_server::pki::Pki;
use careplan_mock_server::{Config, RunningServer};
use careplan_spec::OfficeNumber;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Bench {
    dir: PathBuf,
    server: RunningServer,
    console: RunningConsole,
}

impl Bench {
    async fn start(tag: &str) -> Self {
        Self::start_with(tag, |_| {}).await
    }

    async fn start_with(tag: &str, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "cpkit-console-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        Pki::new(dir.join("certs")).init(false).unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: dir.join("data"),
            certs: dir.join("certs"),
            ..Config::default()
        };
        config.limits.password_iterations = 1000;
        adjust(&mut config);
        let server = careplan_mock_server::start(config).await.unwrap();
        let console = console::start(ConsoleConfig::default(), server.hub.clone(), server.addr)
            .await
            .unwrap();
        Self {
            dir,
            server,
            console,
        }
    }

    async fn stop(self) {
        self.console.stop().await.unwrap();
        self.server.stop().await.unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One browser: a cookie jar of one cookie and the CSRF value of the last page.
struct Browser {
    addr: SocketAddr,
    cookie: Option<String>,
    csrf: String,
}

impl Browser {
    fn new(console: &RunningConsole) -> Self {
        Self {
            addr: console.addr,
            cookie: None,
            csrf: String::new(),
        }
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Answer {
        let tcp = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.addr.to_string());
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let response = sender
            .send_request(req.body(Full::new(Bytes::from(body))).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let a = self.raw(Method::GET, path, &[], None, Vec::new()).await;
        if let Some(i) = a.text().find("csrf=") {
            self.csrf = a.text()[i + 5..i + 69].to_owned();
        }
        a
    }

    async fn post_form(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let sep = if path.contains('?') { '&' } else { '?' };
        self.raw(
            Method::POST,
            &format!("{path}{sep}csrf={}", self.csrf),
            &[],
            Some("application/x-www-form-urlencoded"),
            body.into_bytes(),
        )
        .await
    }

    async fn licence(&mut self, office: &str, licence: &str, until: &str) {
        let a = self
            .post_form(
                "/registry/licence",
                &[("office", office), ("licence", licence), ("until", until)],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }

    async fn submit(&mut self, to: &str, op: &str) {
        let a = self
            .post_form(
                "/compose/submit",
                &[("to", to), ("message", "5月分"), ("op", op)],
            )
            .await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
    }

    async fn login(&mut self, url: &str) {
        let path = &url[url.find("/login").unwrap()..];
        let a = self.raw(Method::GET, path, &[], None, Vec::new()).await;
        assert_eq!(a.status, StatusCode::SEE_OTHER);
        let set = a.headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        self.cookie = Some(set.split(';').next().unwrap().to_owned());
        let home = self.get("/registry").await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.text());
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn golden(folder: &str) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> =
        std::fs::read_dir(workspace().join("golden").join(folder))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e != "toml"))
            .map(|p| {
                (
                    p.file_name().unwrap().to_str().unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
    files.sort();
    files
}

#[tokio::test]
async fn pages_need_the_token_and_forms_need_the_sessions_csrf_value() {
    let bench = Bench::start("security").await;
    let mut b = Browser::new(&bench.console);
    for path in ["/", "/registry", "/audit", "/audit/live", "/inbox"] {
        let a = b.get(path).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
        assert!(a.text().contains("トークンが必要です"), "{}", a.text());
    }
    let wrong = b
        .raw(Method::GET, "/login?token=00", &[], None, Vec::new())
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    // Assets are public (the refusal page needs its style sheet), pages are not.
    let css = b.get("/assets/console.css").await;
    assert_eq!(css.status, StatusCode::OK);

    b.login(&bench.console.login_url()).await;
    let page = b.get("/registry").await;
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(
        page.headers[header::X_FRAME_OPTIONS],
        HeaderValue::from_static("DENY")
    );

    // A form without the CSRF value, with a wrong one, or from another origin is refused.
    let form = "licence=expired&office=0320000202&until=";
    for (path, headers) in [
        ("/registry/licence", vec![]),
        ("/registry/licence?csrf=00", vec![]),
        (
            &*format!("/registry/licence?csrf={}", b.csrf),
            vec![("origin", "http://evil.example")],
        ),
        (
            &*format!("/registry/licence?csrf={}", b.csrf),
            vec![("sec-fetch-site", "cross-site")],
        ),
    ] {
        let a = b
            .raw(
                Method::POST,
                path,
                &headers,
                Some("application/x-www-form-urlencoded"),
                form.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{path} {headers:?}");
    }
    let office = bench.server.hub.store.office(PROVIDER).unwrap().unwrap();
    assert_eq!(office.licence.tag(), "active", "nothing was changed");

    // Another Host (DNS rebinding) is refused even with the session cookie.
    let mut rebinding = b.raw(Method::GET, "/registry", &[], None, Vec::new()).await;
    assert_eq!(rebinding.status, StatusCode::OK);
    let tcp = tokio::net::TcpStream::connect(bench.console.addr)
        .await
        .unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/registry")
        .header(
            header::HOST,
            format!("evil.example:{}", bench.console.addr.port()),
        )
        .header(header::COOKIE, b.cookie.clone().unwrap())
        .body(Full::new(Bytes::new()))
        .unwrap();
    rebinding.status = sender.send_request(req).await.unwrap().status();
    assert_eq!(rebinding.status, StatusCode::FORBIDDEN);

    // With the value, the licence changes, and the hub judges by it at once.
    let a = b
        .post_form(
            "/registry/licence",
            &[
                ("office", PROVIDER),
                ("licence", "expired"),
                ("until", "2025-03-31"),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let office = bench.server.hub.store.office(PROVIDER).unwrap().unwrap();
    assert_eq!(office.licence.tag(), "expired");
    bench.stop().await;
}

#[tokio::test]
async fn a_non_loopback_address_is_refused_unless_forced() {
    let dir = std::env::temp_dir().join(format!("cpkit-console-remote-{}", std::process::id()));
    Pki::new(dir.join("certs")).init(true).unwrap();
    let config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: dir.join("data"),
        certs: dir.join("certs"),
        ..Config::default()
    };
    let server = careplan_mock_server::start(config).await.unwrap();
    let remote = ConsoleConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        allow_remote: false,
    };
    match console::start(remote, server.hub.clone(), server.addr).await {
        Err(ConsoleError::NotLoopback(addr)) => assert_eq!(addr.port(), 0),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a non-loopback console started"),
    }
    let forced = ConsoleConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        allow_remote: true,
    };
    let c = console::start(forced, server.hub.clone(), server.addr)
        .await
        .unwrap();
    c.stop().await.unwrap();
    server.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_whole_send_receive_download_loop_through_the_forms() {
    let bench = Bench::start("loop").await;
    let mut b = Browser::new(&bench.console);
    b.login(&bench.console.login_url()).await;

    // Pages that need a terminal say so first.
    let a = b.get("/compose").await;
    assert!(a.text().contains("id=\"need-actor\""), "{}", a.text());

    // Act as the care manager: the console issues the office certificate and logs in over TLS.
    b.get("/act").await;
    let a = b
        .post_form(
            "/act/login",
            &[("office", KYOTAKU), ("terminal", "care-pc")],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let act = b.get("/act").await.text();
    assert!(act.contains("ログインしました"), "{act}");
    assert!(act.contains("care-pc"));

    // Add the V4.1 利用票 unit: the spec checks show no findings and one unit.
    let mut form = Multipart::new();
    for (name, bytes) in golden("valid/v4.1/riyohyo-minimal") {
        form.file(&name, &bytes);
    }
    let (ct, body) = form.finish();
    let a = b
        .raw(
            Method::POST,
            &format!("/compose/files?csrf={}", b.csrf),
            &[],
            Some(&ct),
            body,
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER, "{}", a.text());
    let compose = b.get("/compose").await.text();
    assert!(compose.contains("id=\"no-findings\""), "{compose}");
    assert!(compose.contains("UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV"));
    assert!(
        compose.contains("value=\"0320000202\""),
        "the destination comes from the names"
    );

    // The hub's dry run accepts it and stores nothing.
    b.submit(PROVIDER, "check").await;
    let compose = b.get("/compose").await.text();
    assert!(compose.contains("id=\"would-accept\""), "{compose}");
    assert_eq!(bench.server.hub.store.counts().unwrap().sends, 0);

    // A destination whose licence expired is refused in the hub's words.
    b.licence(PROVIDER, "expired", "2025-03-31").await;
    b.submit(PROVIDER, "send").await;
    let compose = b.get("/compose").await.text();
    assert!(
        compose.contains("入力された番号はケアプランデータ連携システムに対応していません"),
        "{compose}"
    );
    assert!(compose.contains("DESTINATION_NOT_SUPPORTED"));
    b.licence(PROVIDER, "active", "2027-03-31").await;

    // Sent for real.
    b.submit(PROVIDER, "send").await;
    let compose = b.get("/compose").await.text();
    assert!(compose.contains("送信しました"), "{compose}");
    assert_eq!(bench.server.hub.store.counts().unwrap().sends, 1);
    let sent = b.get("/outbox").await.text();
    assert!(sent.contains("id=\"sent-1\""), "{sent}");
    let send_page = b.get("/sends/1").await;
    assert_eq!(send_page.status, StatusCode::OK);
    assert!(
        send_page.text().contains("UPSIKYU_202506"),
        "{}",
        send_page.text()
    );
    assert_eq!(b.get("/sends/999").await.status, StatusCode::NOT_FOUND);

    // A draft holding only an attachment, then sent from the outbox.
    let mut form = Multipart::new();
    form.file("連絡.txt", "6月の予定です".as_bytes());
    let (ct, body) = form.finish();
    b.raw(
        Method::POST,
        &format!("/compose/files?csrf={}", b.csrf),
        &[],
        Some(&ct),
        body,
    )
    .await;
    let view = b.get("/compose/file/0").await.text();
    assert!(view.contains("連絡.txt"), "{view}");
    b.submit(PROVIDER, "draft").await;
    let outbox = b.get("/outbox").await.text();
    assert!(outbox.contains("id=\"draft-2\""), "{outbox}");
    let a = b.post_form("/outbox/drafts/2/send", &[]).await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    let outbox = b.get("/outbox").await.text();
    assert!(outbox.contains("id=\"sent-2\""), "{outbox}");

    // The provider lists its inbox on its terminal and takes the item; the claim is visible.
    b.post_form(
        "/act/login",
        &[("office", PROVIDER), ("terminal", "prov-pc")],
    )
    .await;
    let inbox = b.get("/inbox").await.text();
    assert!(inbox.contains("id=\"item-1\""), "{inbox}");
    assert!(inbox.contains("この端末"), "claimed by this terminal");
    let item = bench.server.hub.store.send_by_id(1).unwrap().unwrap();
    assert_eq!(item.claimed_by.as_deref(), Some("prov-pc"));

    // Download one file and the whole unit through the hub, byte for byte.
    let f = &item.send.files[0];
    let got = b.get(&format!("/inbox/1/files/{}", f.id)).await;
    assert_eq!(got.status, StatusCode::OK);
    let original = golden("valid/v4.1/riyohyo-minimal");
    let (_, want) = original.iter().find(|(n, _)| *n == f.name).unwrap();
    assert_eq!(&got.body, want);
    assert!(
        got.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains(&f.name)
    );
    let zip = b.get("/inbox/1/unit").await;
    assert_eq!(&zip.body[..4], b"PK\x03\x04");
    for (name, _) in &original {
        assert!(zip.body.windows(name.len()).any(|w| w == name.as_bytes()));
    }

    // A second terminal of the provider sees the item taken by the first and cannot download it.
    b.post_form(
        "/act/login",
        &[("office", PROVIDER), ("terminal", "prov-pc-2")],
    )
    .await;
    let inbox = b.get("/inbox").await.text();
    assert!(inbox.contains("<code>prov-pc</code>"), "{inbox}");
    assert!(
        !inbox.contains("id=\"dl-1-"),
        "not downloadable from another terminal"
    );

    // Switching the receive mode to shared takes effect at once: the second terminal may download.
    let a = b
        .post_form(
            "/registry/switches",
            &[
                ("receive_mode", "shared"),
                ("check_name_offices", "true"),
                ("refuse_agent_ids", "true"),
                ("v41_names_min_client", "1.2.0"),
                ("attachment_types", "pdf, txt"),
                ("annotate_profile", ""),
            ],
        )
        .await;
    assert_eq!(a.status, StatusCode::SEE_OTHER);
    assert_eq!(
        bench.server.hub.switches().receive_mode,
        careplan_mock_server::config::ReceiveMode::Shared
    );
    let inbox = b.get("/inbox").await.text();
    assert!(inbox.contains("id=\"dl-1-"), "{inbox}");
    let got = b.get(&format!("/inbox/1/files/{}", f.id)).await;
    assert_eq!(&got.body, want);
    // An invalid switch value is refused and changes nothing.
    b.post_form(
        "/registry/switches",
        &[
            ("receive_mode", "first-lister-wins"),
            ("v41_names_min_client", "x.y"),
            ("attachment_types", "pdf"),
        ],
    )
    .await;
    let registry = b.get("/registry").await.text();
    assert!(registry.contains("切替を適用できません"), "{registry}");
    assert_eq!(
        bench.server.hub.switches().receive_mode,
        careplan_mock_server::config::ReceiveMode::Shared
    );

    // A bulk send (several destinations) of an attachment from the provider.
    let mut form = Multipart::new();
    form.file("お知らせ.pdf", b"%PDF-1.4 test");
    let (ct, body) = form.finish();
    b.raw(
        Method::POST,
        &format!("/compose/files?csrf={}", b.csrf),
        &[],
        Some(&ct),
        body,
    )
    .await;
    b.submit(&format!("{KYOTAKU}, 0330000400"), "send").await;
    let compose = b.get("/compose").await.text();
    assert!(compose.contains("送信しました"), "{compose}");
    let bulk = bench.server.hub.store.send_by_id(3).unwrap().unwrap().send;
    assert_eq!(bulk.bulk_id, Some(3));
    assert_eq!(
        bench
            .server
            .hub
            .store
            .send_by_id(4)
            .unwrap()
            .unwrap()
            .send
            .bulk_id,
        Some(3)
    );

    // The audit shows the send with a link to it, and the live view answers with new rows.
    let audit = b.get("/audit?action=send&result=ok").await.text();
    assert!(audit.contains("href=\"&#x2f;sends&#x2f;1\""), "{audit}");
    let refused = b.get("/audit?result=refused").await.text();
    assert!(refused.contains("DESTINATION_NOT_SUPPORTED"), "{refused}");
    let newest = bench
        .server
        .hub
        .store
        .audit_rows(0, 10_000)
        .unwrap()
        .last()
        .unwrap()
        .seq;
    let live = b.get(&format!("/audit/live?after={}", newest - 1)).await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(
        live.text().contains(&format!("id=\"audit-{newest}\"")),
        "{}",
        live.text()
    );
    assert_eq!(
        live.headers["x-audit-seq"].to_str().unwrap(),
        newest.to_string()
    );

    // The stored file's view has the layout's column names.
    let view = b.get(&format!("/files/1/{}", f.id)).await.text();
    assert!(view.contains("保険者番号"), "{view}");

    // The trace bundle comes as a zip with its manifest.
    let export = b
        .raw(
            Method::POST,
            &format!("/audit/export?csrf={}", b.csrf),
            &[],
            None,
            Vec::new(),
        )
        .await;
    assert_eq!(export.status, StatusCode::OK);
    assert!(export.body.windows(13).any(|w| w == b"manifest.json"));

    // English on request.
    b.post_form("/lang", &[("lang", "en"), ("back", "/inbox")])
        .await;
    let inbox = b.get("/inbox").await.text();
    assert!(
        inbox.contains("<html lang=\"en\">") && inbox.contains("Taken by"),
        "{inbox}"
    );
    bench.stop().await;
}

#[tokio::test]
async fn the_live_audit_waits_for_the_next_row() {
    let bench = Bench::start("live").await;
    let mut b = Browser::new(&bench.console);
    b.login(&bench.console.login_url()).await;
    let after = bench
        .server
        .hub
        .store
        .audit_rows(0, 10_000)
        .unwrap()
        .last()
        .map(|r| r.seq)
        .unwrap_or(0);
    let path = format!("/audit/live?after={after}");
    let waiting = b.raw(Method::GET, &path, &[], None, Vec::new());
    let hub = bench.server.hub.clone();
    let append = async move {
        // A row appended while the request waits wakes it.
        tokio::task::yield_now().await;
        hub.store
            .audit(&[careplan_mock_server::store::NewAudit {
                peer: "127.0.0.1:9".into(),
                office: Some(KYOTAKU.into()),
                action: "GET /v1/status".into(),
                status: 200,
                ..Default::default()
            }])
            .unwrap();
    };
    let (answer, ()) = tokio::join!(waiting, append);
    assert!(
        answer
            .text()
            .contains(&format!("id=\"audit-{}\"", after + 1)),
        "{}",
        answer.text()
    );
    bench.stop().await;
}

/// Acts as `office` on `terminal` through the act form; returns the act page after it.
async fn act_as(b: &mut Browser, office: &str, terminal: &str) -> String {
    b.post_form("/act/login", &[("office", office), ("terminal", terminal)])
        .await;
    b.get("/act").await.text()
}

/// A client login of the demo user on `terminal`, as `cpkit` (or another PC) does it.
async fn client_login(url: &str, identity: &Identity, terminal: &str) {
    let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
    Client::new(url, identity)
        .unwrap()
        .login(&user, DEMO_PASSWORD, terminal, "1.2.0")
        .await
        .unwrap();
}

#[tokio::test]
async fn terminal_keys_are_kept_where_cpkit_keeps_them() {
    let mut bench = Bench::start("keys").await;
    let mut b = Browser::new(&bench.console);
    b.login(&bench.console.login_url()).await;
    b.get("/act").await;
    let act = act_as(&mut b, KYOTAKU, "care-pc").await;
    assert!(act.contains("ログインしました"), "{act}");
    // The hub bound the name at this first login; the key is in cpkit's folder, private.
    let pki = Pki::new(bench.dir.join("certs"));
    let office = OfficeNumber::parse(KYOTAKU).unwrap();
    let folder = pki.terminal_keys(&office);
    let hub = careplan_mock_server::client::hub_address(&bench.server.url()).unwrap();
    let key_file = TerminalKeys::in_folder(&folder)
        .key_file(&hub, "care-pc")
        .unwrap();
    assert!(key_file.starts_with(&folder), "{}", key_file.display());
    assert!(key_file.exists(), "{}", key_file.display());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(matches!(
        bench
            .server
            .hub
            .store
            .terminal_key(KYOTAKU, "care-pc")
            .unwrap(),
        Some(Some(_))
    ));

    // `cpkit` on this certificate folder is the same PC: it logs in on the console's terminal,
    // and the console acts as a terminal cpkit registered.
    let url = bench.server.url();
    let files = pki.office(&office, "client");
    let this_pc = Identity::new(pki.ca_cert(), &files.cert, &files.key)
        .with_terminal_keys(TerminalKeys::in_folder(&folder));
    client_login(&url, &this_pc, "care-pc").await;
    client_login(&url, &this_pc, "cpkit-terminal").await;
    let act = act_as(&mut b, KYOTAKU, "cpkit-terminal").await;
    assert!(
        act.contains("端末 cpkit-terminal でログインしました"),
        "{act}"
    );

    // Another PC with a copy of the certificate (its keys its own) registers a name: the console
    // is refused that name in the hub's words, and says where it looked for the key.
    let other_pc = Identity::new(pki.ca_cert(), &files.cert, &files.key);
    client_login(&url, &other_pc, "front-desk").await;
    let act = act_as(&mut b, KYOTAKU, "front-desk").await;
    assert!(act.contains("TERMINAL_REFUSED"), "{act}");
    assert!(act.contains("別のPCで登録されています"), "{act}");
    let shown = folder.display().to_string().replace('/', "&#x2f;");
    assert!(act.contains(&shown), "the folder looked in: {act}");
    let keys = TerminalKeys::in_folder(&folder);
    assert!(!keys.key_file(&hub, "front-desk").unwrap().exists());
    // The registry says which terminals this PC holds the key of.
    let registry = b.get("/registry").await.text();
    for (name, state) in [
        ("care-pc", "このPC"),
        ("cpkit-terminal", "このPC"),
        ("front-desk", "別のPC"),
    ] {
        let at = registry
            .find(&format!("<code>{name}</code>"))
            .unwrap_or_else(|| panic!("{name}: {registry}"));
        let badge: String = registry[at..].chars().take(120).collect();
        assert!(badge.contains(state), "{name}: {badge}");
    }

    // A console started again (a new process on the same folders) is still this PC.
    let again = console::start(
        ConsoleConfig::default(),
        bench.server.hub.clone(),
        bench.server.addr,
    )
    .await
    .unwrap();
    std::mem::replace(&mut bench.console, again)
        .stop()
        .await
        .unwrap();
    let mut b = Browser::new(&bench.console);
    b.login(&bench.console.login_url()).await;
    b.get("/act").await;
    let act = act_as(&mut b, KYOTAKU, "care-pc").await;
    assert!(act.contains("端末 care-pc でログインしました"), "{act}");
    bench.stop().await;
}

/// Reads until the console closes the connection (at most 20 s).
async fn read_to_close(tcp: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tcp.read_to_end(&mut out),
    )
    .await
    .expect("the console closes the connection")
    .ok();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_has_the_hubs_timeouts_and_upload_budget() {
    let bench = Bench::start_with("conn", |c| {
        c.limits.header_timeout_seconds = 1;
        c.limits.body_stall_seconds = 3;
        c.limits.busy_wait_seconds = 1;
        c.limits.max_bytes_in_flight = 64 * 1024;
    })
    .await;
    let addr = bench.console.addr;
    // Headers that never end, and an idle kept-alive connection, are closed.
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /registry HTTP/1.1\r\nHost: 127.0.0.1")
        .await
        .unwrap();
    read_to_close(&mut tcp).await;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(format!("GET /assets/console.css HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let answer = read_to_close(&mut tcp).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    let mut b = Browser::new(&bench.console);
    b.login(&bench.console.login_url()).await;
    b.get("/compose").await;
    let upload = |length: usize, body: &str| {
        format!(
            "POST /compose/files?csrf={} HTTP/1.1\r\nHost: {addr}\r\nCookie: {}\r\n\
             Content-Type: multipart/form-data; boundary=XB\r\nContent-Length: {length}\r\n\r\n{body}",
            b.csrf,
            b.cookie.as_deref().unwrap()
        )
    };
    // An upload that stops holds its declared size of the budget until its body stalls.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(
            upload(
                60_000,
                "--XB\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF",
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    while bench.console.traffic.in_flight_bytes() == 0 {
        tokio::task::yield_now().await;
    }
    // Another upload finds no room within the wait and gets the connection layer's page.
    let mut busy = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = format!("{:-<60000}", "");
    busy.write_all(upload(body.len(), &body).as_bytes())
        .await
        .unwrap();
    let answer = read_until_answered(&mut busy).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("混み合っています"), "{answer}");
    // The stalled upload is given up in the hub's words; nothing is held.
    let answer = read_to_close(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
    assert_eq!(bench.console.traffic.in_flight_bytes(), 0);
    let compose = b.get("/compose").await.text();
    assert!(compose.contains("TIMEOUT"), "{compose}");
    assert!(compose.contains("送信データが途中で止まった"), "{compose}");
    assert!(!compose.contains("a.pdf"), "{compose}");
    bench.stop().await;
}

/// Reads one answer (its head and a body of `Content-Length`), at most 20 s.
async fn read_until_answered(tcp: &mut tokio::net::TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out);
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if out.len() >= end + 4 + length {
                    break;
                }
            }
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(20), read)
        .await
        .expect("the console answers");
    String::from_utf8_lossy(&out).into_owned()
}
