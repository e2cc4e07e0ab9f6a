//! The `api = "2027"` shape of the mock exchange over real mutual TLS on loopback: login with a
//! one-time password read from the OTP outbox, access and refresh token lifetimes on the hub clock,
//! a V4.1 unit sent as base64 JSON and received byte for byte, business errors as HTTP 200, one
//! destination per send, the interface version in the URL, and the OpenAPI document. Each test
//! starts its own hub on an ephemeral port with its own PKI and database in a temporary folder.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use careplan_mock_server::api2027;
use careplan_mock_server::client::{Client, Identity};
use careplan_mock_server::config::{ApiShape, DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::{Config, RunningServer};
use careplan_spec::OfficeNumber;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";
const OTHER_PROVIDER: &str = "0320000500";

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn tempdir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cpkit-exchange2027-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The tokens of one completed login.
struct Tokens {
    access: String,
    refresh: String,
}

struct Hub {
    dir: PathBuf,
    pki: Pki,
    server: RunningServer,
    /// The terminal keys the hub issued, per office and terminal (what each PC's client keeps).
    keys: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
}

impl Hub {
    async fn start(tag: &str) -> Self {
        Self::start_with(tag, |_| {}).await
    }

    async fn start_with(tag: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempdir(tag);
        let pki = Pki::new(dir.join("certs"));
        pki.init(false).unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: dir.join("data"),
            certs: dir.join("certs"),
            api: ApiShape::Api2027,
            ..Config::default()
        };
        config.limits.password_iterations = 1000;
        tweak(&mut config);
        let server = careplan_mock_server::start(config).await.unwrap();
        Self {
            dir,
            pki,
            server,
            keys: Default::default(),
        }
    }

    fn client(&self, office: &str) -> Client {
        let files = self
            .pki
            .issue(
                &OfficeNumber::parse(office).unwrap(),
                CertKind::KaigoHoken,
                Variant::Valid,
                Some("kaigo-hoken-valid"),
            )
            .unwrap();
        let id = Identity::new(self.pki.ca_cert(), files.cert, files.key);
        Client::new(&self.server.url(), &id).unwrap()
    }

    /// Moves the hub clock to `seconds` after the real time.
    fn set_clock(&self, seconds: i64) {
        self.server.hub.set_clock_offset(seconds).unwrap();
    }

    /// The OTP "emailed" for a challenge: its line in the outbox.
    fn outbox_line(&self, challenge_id: &str) -> Value {
        let text =
            std::fs::read_to_string(self.dir.join("data").join(api2027::OTP_OUTBOX)).unwrap();
        text.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|v| v["otp_challenge_id"] == challenge_id)
            .unwrap_or_else(|| panic!("no OTP for {challenge_id} in {text}"))
    }

    /// Step 1: user ID and password; returns the challenge ID.
    async fn password_step(&self, c: &mut Client, office: &str, terminal: &str) -> String {
        let user = demo_user_id(&OfficeNumber::parse(office).unwrap());
        let key = self
            .keys
            .lock()
            .unwrap()
            .get(&(office.to_owned(), terminal.to_owned()))
            .cloned();
        let (status, body) = call(
            c,
            Method::POST,
            "/api/v1/auth/login",
            Some(json!({
                "user_id": user, "password": DEMO_PASSWORD, "terminal": terminal, "terminal_key": key,
            })),
        )
        .await;
        assert_eq!(
            (status, &body["result"]),
            (StatusCode::OK, &json!("ok")),
            "{body}"
        );
        assert_eq!(body["otp_delivery"], "email");
        body["otp_challenge_id"].as_str().unwrap().to_owned()
    }

    /// Both login steps; the client keeps the access token.
    async fn login(&self, office: &str, terminal: &str) -> (Client, Tokens) {
        let mut c = self.client(office);
        let challenge = self.password_step(&mut c, office, terminal).await;
        let otp = self.outbox_line(&challenge)["otp"]
            .as_str()
            .unwrap()
            .to_owned();
        let (status, body) = otp_step(&mut c, &challenge, &otp).await;
        assert_eq!(
            (status, &body["result"]),
            (StatusCode::OK, &json!("ok")),
            "{body}"
        );
        assert_eq!(body["access_expires_in"], 3600);
        assert_eq!(body["refresh_expires_in"], 28800);
        if let Some(key) = body["terminal_key"].as_str() {
            self.keys
                .lock()
                .unwrap()
                .insert((office.to_owned(), terminal.to_owned()), key.to_owned());
        }
        let tokens = Tokens {
            access: body["access_token"].as_str().unwrap().to_owned(),
            refresh: body["refresh_token"].as_str().unwrap().to_owned(),
        };
        c.set_token(Some(tokens.access.clone()));
        (c, tokens)
    }

    async fn stop(self) {
        self.server.stop().await.unwrap();
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

/// One JSON request: status and parsed body.
async fn call(
    c: &mut Client,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let (content_type, bytes) = match body {
        Some(b) => (Some("application/json"), serde_json::to_vec(&b).unwrap()),
        None => (None, Vec::new()),
    };
    let (status, bytes) = c.request(method, path, content_type, bytes).await.unwrap();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{path}: {e}: {}", String::from_utf8_lossy(&bytes)));
    (status, value)
}

async fn otp_step(c: &mut Client, challenge: &str, otp: &str) -> (StatusCode, Value) {
    let token = c.token().map(str::to_owned);
    c.set_token(None);
    let out = call(
        c,
        Method::POST,
        "/api/v1/auth/otp",
        Some(json!({ "otp_challenge_id": challenge, "otp": otp })),
    )
    .await;
    c.set_token(token);
    out
}

async fn refresh(c: &mut Client, refresh_token: &str) -> (StatusCode, Value) {
    call(
        c,
        Method::POST,
        "/api/v1/auth/refresh",
        Some(json!({ "refresh_token": refresh_token })),
    )
    .await
}

/// Asserts a refusal: HTTP status, `result: "error"` and the code; returns the error object.
#[track_caller]
fn refusal(answer: &(StatusCode, Value), status: StatusCode, code: &str) -> Value {
    let (got, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body["result"], "error", "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    body["error"].clone()
}

/// The files of the golden V4.1 unit 0310000100 → 0320000202.
fn golden_unit() -> Vec<(String, Vec<u8>)> {
    let dir = workspace().join("golden/valid/v4.1/riyohyo-minimal");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_str().unwrap().to_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn send_body(to_office: Value, message: &str, files: &[(String, Vec<u8>)]) -> Value {
    json!({
        "to_office": to_office,
        "message": message,
        "files": files
            .iter()
            .map(|(name, bytes)| json!({ "name": name, "content_base64": BASE64.encode(bytes) }))
            .collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v41_unit_travels_from_otp_login_to_the_receiver_byte_for_byte() {
    let hub = Hub::start("deliver").await;
    let (mut cm, cm_tokens) = hub.login(KYOTAKU, "cm-pc").await;
    let files = golden_unit();
    let (status, receipt) = call(
        &mut cm,
        Method::POST,
        "/api/careplan/v1/send",
        Some(send_body(json!(PROVIDER), "6月分の利用票です", &files)),
    )
    .await;
    assert_eq!(
        (status, &receipt["result"]),
        (StatusCode::OK, &json!("ok")),
        "{receipt}"
    );
    assert_eq!(receipt["to_office"], PROVIDER);
    assert_eq!(receipt["to_service_type"], "15");
    assert_eq!(receipt["unit"], "kyotaku-riyohyo");
    assert_eq!(receipt["files"].as_array().unwrap().len(), 3);

    let (mut provider, provider_tokens) = hub.login(PROVIDER, "provider-pc").await;
    let (status, received) = call(
        &mut provider,
        Method::GET,
        "/api/careplan/v1/received",
        None,
    )
    .await;
    assert_eq!(
        (status, &received["result"]),
        (StatusCode::OK, &json!("ok")),
        "{received}"
    );
    let items = received["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["id"], receipt["id"]);
    assert_eq!(item["from_office"], KYOTAKU);
    assert_eq!(item["message"], "6月分の利用票です");
    let got = item["files"].as_array().unwrap();
    assert_eq!(got.len(), files.len());
    for f in got {
        let name = f["name"].as_str().unwrap();
        let bytes = BASE64
            .decode(f["content_base64"].as_str().unwrap())
            .unwrap();
        let original = &files.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(&bytes, original, "{name} is delivered unchanged");
        assert_eq!(f["size"], original.len());
        assert_eq!(
            f["sha256"],
            careplan_mock_server::store::sha256_hex(original)
        );
    }
    // `after` skips what the terminal already has.
    let after = format!("/api/careplan/v1/received?after={}", item["id"]);
    let (_, again) = call(&mut provider, Method::GET, &after, None).await;
    assert_eq!(again["items"], json!([]));
    // First lister wins (the hub's default receive mode): another terminal sees nothing.
    let (mut other_pc, _) = hub.login(PROVIDER, "provider-laptop").await;
    let (_, other) = call(
        &mut other_pc,
        Method::GET,
        "/api/careplan/v1/received",
        None,
    )
    .await;
    assert_eq!(other["items"], json!([]));

    let (_, sent) = call(&mut cm, Method::GET, "/api/careplan/v1/sent", None).await;
    let sent = sent["items"].as_array().unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["id"], item["id"]);
    assert!(sent[0]["files"][0].get("content_base64").is_none());

    // The OTP email names user and office; the audit trail holds no secret.
    let challenge = hub
        .password_step(&mut hub.client(KYOTAKU), KYOTAKU, "cm-pc")
        .await;
    let line = hub.outbox_line(&challenge);
    assert_eq!(line["office"], KYOTAKU);
    assert_eq!(
        line["user_id"],
        demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap())
    );
    let otp = line["otp"].as_str().unwrap();
    assert!(
        otp.len() == 6 && otp.bytes().all(|b| b.is_ascii_digit()),
        "{otp}"
    );
    assert!(line["at"].is_i64());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let audit = serde_json::to_string(&hub.server.hub.store.audit_rows(0, 1000).unwrap()).unwrap();
    assert!(audit.contains("POST /api/careplan/v1/send"));
    for secret in [
        DEMO_PASSWORD,
        otp,
        &cm_tokens.access,
        &cm_tokens.refresh,
        &provider_tokens.access,
        &challenge,
    ] {
        assert!(!audit.contains(secret), "the audit holds a secret");
    }
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_reused_expired_and_locked_otps_are_refused() {
    // The account's own lock (wrong OTPs across challenges) is tested below; here it stays away.
    let hub = Hub::start_with("otp", |c| c.limits.login_failures_before_lock = 20).await;
    let mut c = hub.client(KYOTAKU);

    // A wrong OTP is a business error; the right one still works, once.
    let challenge = hub.password_step(&mut c, KYOTAKU, "pc").await;
    let otp = hub.outbox_line(&challenge)["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = if otp == "000000" { "000001" } else { "000000" };
    let e = refusal(
        &otp_step(&mut c, &challenge, wrong).await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_wrong");
    assert_eq!(e["detail"]["failures"], 1);
    let (status, body) = otp_step(&mut c, &challenge, &otp).await;
    assert_eq!(
        (status, &body["result"]),
        (StatusCode::OK, &json!("ok")),
        "{body}"
    );
    let e = refusal(
        &otp_step(&mut c, &challenge, &otp).await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_used");

    // A challenge of another office's certificate is unknown here.
    let mut intruder = hub.client(PROVIDER);
    let challenge = hub.password_step(&mut c, KYOTAKU, "pc-2").await;
    let otp = hub.outbox_line(&challenge)["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = refusal(
        &otp_step(&mut intruder, &challenge, &otp).await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_challenge_unknown");

    // Five wrong answers lock the challenge, even for the right OTP afterwards.
    for n in 1..=5 {
        let e = refusal(
            &otp_step(&mut c, &challenge, "abcdef").await,
            StatusCode::OK,
            "LOGIN_FAILED",
        );
        let want = if n < 5 { "otp_wrong" } else { "otp_locked" };
        assert_eq!(e["detail"]["reason"], want, "attempt {n}");
    }
    let e = refusal(
        &otp_step(&mut c, &challenge, &otp).await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_locked");

    // An OTP lives five minutes on the hub clock.
    let challenge = hub.password_step(&mut c, KYOTAKU, "pc-3").await;
    let otp = hub.outbox_line(&challenge)["otp"]
        .as_str()
        .unwrap()
        .to_owned();
    hub.set_clock(301);
    let e = refusal(
        &otp_step(&mut c, &challenge, &otp).await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_expired");

    // Password failures are business errors too, with the hub's own code.
    let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
    let answer = call(
        &mut c,
        Method::POST,
        "/api/v1/auth/login",
        Some(json!({ "user_id": user, "password": "wrong", "terminal": "pc" })),
    )
    .await;
    refusal(&answer, StatusCode::OK, "LOGIN_FAILED");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_last_60_minutes_and_refresh_tokens_8_hours() {
    let hub = Hub::start("tokens").await;
    let (mut c, tokens) = hub.login(KYOTAKU, "cm-pc").await;
    let sent = "/api/careplan/v1/sent";

    hub.set_clock(59 * 60);
    let (status, _) = call(&mut c, Method::GET, sent, None).await;
    assert_eq!(status, StatusCode::OK);
    hub.set_clock(61 * 60);
    let e = refusal(
        &call(&mut c, Method::GET, sent, None).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "access_token_expired");

    let (status, body) = refresh(&mut c, &tokens.refresh).await;
    assert_eq!(
        (status, &body["result"]),
        (StatusCode::OK, &json!("ok")),
        "{body}"
    );
    assert_eq!(body["access_expires_in"], 3600);
    assert_eq!(body["refresh_expires_in"], 8 * 3600 - 61 * 60);
    c.set_token(body["access_token"].as_str().map(str::to_owned));
    let (status, _) = call(&mut c, Method::GET, sent, None).await;
    assert_eq!(status, StatusCode::OK);

    hub.set_clock(8 * 3600 - 60);
    let (status, body) = refresh(&mut c, &tokens.refresh).await;
    assert_eq!(
        (status, &body["result"]),
        (StatusCode::OK, &json!("ok")),
        "{body}"
    );
    c.set_token(body["access_token"].as_str().map(str::to_owned));
    let (status, _) = call(&mut c, Method::GET, sent, None).await;
    assert_eq!(status, StatusCode::OK);

    hub.set_clock(8 * 3600 + 60);
    let e = refusal(
        &refresh(&mut c, &tokens.refresh).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "refresh_token_expired");
    let e = refusal(
        &refresh(&mut c, "not-a-token").await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "refresh_token_unknown");

    // Tokens are bound to the office of the certificate they were issued to.
    hub.set_clock(0);
    let (_, fresh) = hub.login(KYOTAKU, "cm-pc").await;
    let mut stolen = hub.client(PROVIDER);
    stolen.set_token(Some(fresh.access));
    let e = refusal(
        &call(&mut stolen, Method::GET, sent, None).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "office_mismatch");
    stolen.set_token(None);
    let e = refusal(
        &call(&mut stolen, Method::GET, sent, None).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "access_token_missing");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn business_errors_are_http_200_with_an_error_object() {
    let hub = Hub::start("business").await;
    let (mut cm, _) = hub.login(KYOTAKU, "cm-pc").await;
    let files = golden_unit();
    let answer = call(
        &mut cm,
        Method::POST,
        "/api/careplan/v1/send",
        Some(send_body(json!("0399999999"), "", &files)),
    )
    .await;
    let e = refusal(&answer, StatusCode::OK, "DESTINATION_NOT_SUPPORTED");
    assert_eq!(
        e["message_ja"],
        "入力された番号はケアプランデータ連携システムに対応していません"
    );
    assert!(e["message_en"].is_string());
    assert!(e.get("file").is_some() && e.get("detail").is_some(), "{e}");

    // A unit addressed to another office than the destination: the file-name error, with the file.
    let answer = call(
        &mut cm,
        Method::POST,
        "/api/careplan/v1/send",
        Some(send_body(json!(OTHER_PROVIDER), "", &files)),
    )
    .await;
    let e = refusal(&answer, StatusCode::OK, "FILE_NAME_FORMAT");
    assert!(e["file"].is_string(), "{e}");

    // Nothing was stored; the audit keeps the business code with HTTP 200.
    assert_eq!(hub.server.hub.store.counts().unwrap().sends, 0);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let rows = hub.server.hub.store.audit_rows(0, 1000).unwrap();
    assert!(rows.iter().any(|r| r.status == 200
        && r.code.as_deref() == Some("DESTINATION_NOT_SUPPORTED")
        && r.action == "POST /api/careplan/v1/send"));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_takes_exactly_one_destination() {
    let hub = Hub::start("one-destination").await;
    let (mut cm, _) = hub.login(KYOTAKU, "cm-pc").await;
    let files = golden_unit();
    let list = send_body(json!([PROVIDER, OTHER_PROVIDER]), "", &files);
    let e = refusal(
        &call(&mut cm, Method::POST, "/api/careplan/v1/send", Some(list)).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    assert!(
        e["message_en"]
            .as_str()
            .unwrap()
            .contains("exactly one office"),
        "{e}"
    );
    let mut bulk = send_body(json!(PROVIDER), "", &files);
    bulk["to_offices"] = json!([OTHER_PROVIDER]);
    refusal(
        &call(&mut cm, Method::POST, "/api/careplan/v1/send", Some(bulk)).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    let mut broken = send_body(json!(PROVIDER), "", &files);
    broken["files"][0]["content_base64"] = json!("not base64!");
    let e = refusal(
        &call(&mut cm, Method::POST, "/api/careplan/v1/send", Some(broken)).await,
        StatusCode::BAD_REQUEST,
        "BAD_REQUEST",
    );
    assert_eq!(e["file"], files[0].0.as_str());
    assert_eq!(hub.server.hub.store.counts().unwrap().sends, 0);
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_interface_versions_and_routes_are_404_system_errors() {
    let hub = Hub::start("versions").await;
    let (mut cm, _) = hub.login(KYOTAKU, "cm-pc").await;
    for (method, path) in [
        (Method::GET, "/api/careplan/v2/sent"),
        (Method::GET, "/api/careplan/v0/received"),
        (Method::POST, "/api/careplan/2027/send"),
        (Method::GET, "/api/careplan/v1/inbox"),
        (Method::GET, "/v1/inbox"),
        (Method::DELETE, "/api/careplan/v1/sent"),
    ] {
        let body = (method == Method::POST).then(|| json!({}));
        refusal(
            &call(&mut cm, method, path, body).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
    }
    let e = refusal(
        &call(&mut cm, Method::GET, "/api/careplan/v2/sent", None).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    );
    assert_eq!(e["detail"]["supported"], json!(["v1"]));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_matches_the_router() {
    let doc: Value = serde_json::from_str(api2027::OPENAPI).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "https://127.0.0.1:8443");
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
    let routed: BTreeSet<(String, String)> = api2027::routes()
        .into_iter()
        .map(|(m, p, _)| (m.to_owned(), p.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    // Every code this shape can answer is documented (v1's office mismatch and 405 are not used:
    // here they are SESSION_INVALID with a reason, and 404).
    let codes = doc["components"]["schemas"]["Error"]["properties"]["code"]["enum"].to_string();
    for code in careplan_mock_server::Code::ALL {
        let code = code.as_str();
        if !["SESSION_OFFICE_MISMATCH", "METHOD_NOT_ALLOWED"].contains(&code) {
            assert!(codes.contains(code), "{code} is not documented");
        }
    }

    // Every documented route answers (never the router's fallback), and the document is served.
    let hub = Hub::start("openapi").await;
    let (mut c, _) = hub.login(KYOTAKU, "pc").await;
    for (method, path) in &routed {
        let path = path.replace("{ifver}", "v1");
        let method: Method = method.to_uppercase().parse().unwrap();
        let body = if method == Method::POST {
            b"{}".to_vec()
        } else {
            Vec::new()
        };
        let (_, bytes) = c
            .request(method, &path, Some("application/json"), body)
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&bytes).unwrap();
        assert_ne!(
            answer["error"]["message_en"], "no such endpoint",
            "{path}: {answer}"
        );
    }
    let (status, served) = call(&mut c, Method::GET, "/api/openapi.json", None).await;
    assert_eq!((status, served), (StatusCode::OK, doc));
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_2027_shape_refuses_tls_1_2() {
    let hub = Hub::start("tls13").await;
    let office = OfficeNumber::parse(KYOTAKU).unwrap();
    let files = hub
        .pki
        .issue(&office, CertKind::KaigoHoken, Variant::Valid, None)
        .unwrap();
    let handshake = |versions: &'static [&'static rustls::SupportedProtocolVersion]| {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(
            rustls_pki_types::CertificateDer::pem_file_iter(hub.pki.ca_cert())
                .unwrap()
                .map(Result::unwrap),
        );
        use rustls_pki_types::pem::PemObject;
        let chain = rustls_pki_types::CertificateDer::pem_file_iter(&files.cert)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(&files.key).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .unwrap();
        let addr = hub.server.addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect("localhost".try_into().unwrap(), tcp)
                .await
                .map(|s| s.get_ref().1.protocol_version())
        }
    };
    static TLS13: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];
    static TLS12: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
    let tls13 = handshake(&TLS13).await.unwrap();
    assert_eq!(tls13, Some(rustls::ProtocolVersion::TLSv1_3));
    let tls12 = handshake(&TLS12).await;
    assert!(tls12.is_err(), "TLS 1.2 must be refused: {tls12:?}");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_otps_count_per_user_across_challenges_and_lock_the_account() {
    let hub = Hub::start_with("otp-guessing", |c| c.limits.login_failures_before_lock = 4).await;
    // A session opened earlier ends when the account locks.
    let (mut open, _) = hub.login(KYOTAKU, "cm-pc").await;
    let sent = "/api/careplan/v1/sent";
    assert_eq!(
        call(&mut open, Method::GET, sent, None).await.0,
        StatusCode::OK
    );
    let mut c = hub.client(KYOTAKU);
    // Two wrong answers on each of two fresh challenges: a new challenge does not start a new count.
    let mut last = Value::Null;
    for terminal in ["guess-1", "guess-2"] {
        let challenge = hub.password_step(&mut c, KYOTAKU, terminal).await;
        for _ in 0..2 {
            last = otp_step(&mut c, &challenge, "999999x").await.1;
        }
    }
    assert_eq!(last["error"]["code"], "ACCOUNT_LOCKED", "{last}");
    // Locked: even the password step is refused, and the earlier tokens stopped working.
    let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
    let answer = call(
        &mut c,
        Method::POST,
        "/api/v1/auth/login",
        Some(json!({ "user_id": user, "password": DEMO_PASSWORD, "terminal": "guess-3" })),
    )
    .await;
    refusal(&answer, StatusCode::OK, "ACCOUNT_LOCKED");
    let e = refusal(
        &call(&mut open, Method::GET, sent, None).await,
        StatusCode::UNAUTHORIZED,
        "SESSION_INVALID",
    );
    assert_eq!(e["detail"]["reason"], "account_locked");
    hub.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_challenges_are_rate_limited_per_user() {
    let hub = Hub::start("otp-rate").await;
    let mut c = hub.client(KYOTAKU);
    let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
    let mut open = Vec::new();
    for n in 0..api2027::OTP_CHALLENGES_PER_USER {
        open.push(hub.password_step(&mut c, KYOTAKU, &format!("pc-{n}")).await);
    }
    let answer = call(
        &mut c,
        Method::POST,
        "/api/v1/auth/login",
        Some(json!({ "user_id": user, "password": DEMO_PASSWORD, "terminal": "pc-x" })),
    )
    .await;
    refusal(&answer, StatusCode::OK, "RATE_LIMITED");
    // Once the open challenges expire (and are removed), a login issues a new one.
    hub.set_clock(api2027::OTP_SECONDS + 1);
    hub.password_step(&mut c, KYOTAKU, "pc-x").await;
    let e = refusal(
        &otp_step(&mut c, &open[0], "000000").await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_expired");
    // Unused challenges do not stay: a while after expiry they are gone from the hub's memory.
    hub.set_clock(api2027::OTP_SECONDS + api2027::FORGET_AFTER_SECONDS + 1);
    let e = refusal(
        &otp_step(&mut c, &open[0], "000000").await,
        StatusCode::OK,
        "LOGIN_FAILED",
    );
    assert_eq!(e["detail"]["reason"], "otp_challenge_unknown");
    hub.stop().await;
}
