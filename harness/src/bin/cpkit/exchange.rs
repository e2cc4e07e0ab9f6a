//! The mock exchange's commands: `cpkit certs …`, `cpkit serve`, the client commands `send`,
//! `inbox` and `fetch`, and `cpkit trace export`. Glue only: the logic lives in
//! `careplan-mock-server`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use careplan_mock_server::client::{CLIENT_VERSION, Client, ClientError, Identity, TerminalKeys};
use careplan_mock_server::config::{ApiShape, Config, DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant, read_cert_info};
use careplan_spec::OfficeNumber;
use clap::{Args, Subcommand};

/// The PKI folder option, the same on every command.
#[derive(Args, Clone)]
pub struct PkiDir {
    /// PKI folder: ca/ (the test CA and its CRL), server/, offices/<office>/ (client
    /// certificates and this PC's terminal keys).
    #[arg(
        long = "certs",
        visible_alias = "dir",
        default_value = "certs",
        env = "CPKIT_CERTS"
    )]
    pub certs: PathBuf,
}

#[derive(Subcommand)]
pub enum CertsCommand {
    /// Create the test CA, an unrelated CA, an empty CRL and the server certificate for localhost.
    Init {
        #[command(flatten)]
        pki: PkiDir,
        /// Replace an existing PKI (every certificate issued from it stops working).
        #[arg(long)]
        force: bool,
    },
    /// Issue an office client certificate (CN = office number, OU = kind).
    Issue {
        #[command(flatten)]
        pki: PkiDir,
        /// The 10-digit office number (事業所番号).
        #[arg(long)]
        office: String,
        /// kaigo-hoken (介護保険証明書), careplan-dx (介護DX証明書), dairinin (代理人, refused), shogai (refused).
        #[arg(long, default_value = "kaigo-hoken")]
        kind: String,
        /// valid, expired, not-yet-valid, other-ca, revoked, wrong-key-usage.
        #[arg(long, default_value = "valid")]
        variant: String,
        /// File name stem under certs/offices/<office>/ (default: client, or the variant's name).
        #[arg(long)]
        name: Option<String>,
        /// Replace the office's existing certificate of this name (the old one keeps working
        /// until it is revoked).
        #[arg(long)]
        force: bool,
    },
    /// Revoke an issued certificate (the running hub re-reads the CRL).
    Revoke {
        #[command(flatten)]
        pki: PkiDir,
        /// The certificate file to revoke, e.g. certs/offices/0310000100/client.pem.
        cert: PathBuf,
    },
    /// Show the office certificates under the PKI folder.
    Show {
        #[command(flatten)]
        pki: PkiDir,
    },
}

/// `--certs DIR` when the folder is not the default (so that printed commands work as pasted).
fn certs_flag(dir: &Path) -> String {
    if dir == Path::new("certs") {
        String::new()
    } else {
        format!(" --certs {}", shell_word(&dir.display().to_string()))
    }
}

/// A word as a POSIX shell reads it back (quoted only when it has to be).
fn shell_word(text: &str) -> String {
    if !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b))
    {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// How to run this `cpkit` again from the same folder: `cpkit` when that is what was typed (on
/// PATH), else the path it was started by (e.g. `target/release/cpkit` after `cargo build`).
fn program() -> String {
    let arg0 = std::env::args().next().unwrap_or_default();
    if arg0.contains('/') {
        shell_word(&arg0)
    } else {
        "cpkit".to_owned()
    }
}

pub use careplan_harness::plural::plural;

pub fn certs(command: CertsCommand) -> Result<()> {
    let cpkit = program();
    match command {
        CertsCommand::Init { pki, force } => {
            let dir = pki.certs;
            Pki::new(&dir).init(force)?;
            println!("test PKI created in {}", dir.display());
            println!("  CA:     {}", Pki::new(&dir).ca_cert().display());
            println!("  server: {}", Pki::new(&dir).server().cert.display());
            println!(
                "next: {cpkit} certs issue{} --office 0310000100",
                certs_flag(&dir)
            );
        }
        CertsCommand::Issue {
            pki,
            office,
            kind,
            variant,
            name,
            force,
        } => {
            let dir = pki.certs;
            let number = parse_office(&office)?;
            let kind: CertKind = kind.parse()?;
            let variant: Variant = variant.parse()?;
            let pki = Pki::new(&dir);
            let stem = name.clone().unwrap_or_else(|| {
                if variant == Variant::Valid {
                    "client".to_owned()
                } else {
                    variant.tag().to_owned()
                }
            });
            let existing = pki.office(&number, &stem);
            if existing.cert.exists() && !force {
                bail!(
                    "office {office} already has a certificate at {}; `--force` replaces it (the old one keeps working until `cpkit certs revoke`)",
                    existing.cert.display()
                );
            }
            let files = pki.issue(&number, kind, variant, name.as_deref())?;
            println!(
                "issued {} ({}, {}) for office {office}",
                files.cert.display(),
                kind.label_ja(),
                variant.tag()
            );
            println!("  key: {} (never commit it)", files.key.display());
            println!(
                "next: {cpkit} inbox{} --office {office}   (or send: {cpkit} send{} --office {office} --to OFFICE FILES…)",
                certs_flag(&dir),
                certs_flag(&dir)
            );
        }
        CertsCommand::Revoke { pki, cert } => {
            let dir = pki.certs;
            Pki::new(&dir).revoke(&cert)?;
            println!(
                "revoked {}; the CRL is {}",
                cert.display(),
                Pki::new(&dir).crl().display()
            );
        }
        CertsCommand::Show { pki } => {
            let dir = pki.certs;
            let offices = dir.join("offices");
            let mut rows = Vec::new();
            for entry in std::fs::read_dir(&offices)
                .with_context(|| format!("failed to read {}", offices.display()))?
            {
                let folder = entry?.path();
                for file in std::fs::read_dir(&folder)? {
                    let path = file?.path();
                    if path.extension().is_some_and(|e| e == "pem") {
                        rows.push((path.clone(), read_cert_info(&path)?));
                    }
                }
            }
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            for (path, info) in rows {
                let state = if info.not_after < now {
                    "EXPIRED"
                } else if info.not_before > now {
                    "NOT YET VALID"
                } else {
                    "valid dates"
                };
                println!(
                    "{}  office {}  kind {}  {}  ({} left)",
                    path.display(),
                    info.office,
                    info.kind.map(|k| k.tag()).unwrap_or("?"),
                    state,
                    plural(
                        usize::try_from((info.not_after - now).div_euclid(86_400)).unwrap_or(0),
                        "day",
                        "days"
                    )
                );
            }
        }
    }
    Ok(())
}

fn parse_office(text: &str) -> Result<OfficeNumber> {
    OfficeNumber::parse(text)
        .with_context(|| format!("{text:?} is not a 10-digit office number (事業所番号)"))
}

#[derive(Args)]
pub struct ServeArgs {
    /// Configuration file (TOML; see docs/exchange.md). Without one: built-in defaults and the
    /// demo registry.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Data folder (the SQLite database), overriding the configuration.
    #[arg(long)]
    data: Option<PathBuf>,
    /// PKI folder, overriding the configuration.
    #[arg(long, env = "CPKIT_CERTS")]
    certs: Option<PathBuf>,
    /// Listen address, overriding the configuration (e.g. 127.0.0.1:0 for a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Interface shape: v1 (the current exchange) or 2027 (the announced 介護保険資格確認等WEBサービス
    /// care-plan API), overriding the configuration.
    #[arg(long, value_parser = ["v1", "2027"])]
    api: Option<String>,
    /// Serve the web console on a second, loopback-only port (on by default without --config).
    #[arg(long, conflicts_with = "no_console")]
    console: bool,
    /// Do not serve the web console.
    #[arg(long)]
    no_console: bool,
    /// The console's address (loopback only unless --console-allow-remote; port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    console_listen: std::net::SocketAddr,
    /// Allow a non-loopback console address: whoever reaches it with the token acts as every office.
    #[arg(long)]
    console_allow_remote: bool,
    /// What the terminal shows: error, warn, info (one line per request, the default), debug,
    /// trace, or directives such as `info,cpkit::request=warn`; overrides RUST_LOG.
    #[arg(long)]
    log_level: Option<String>,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// The log filter of `cpkit serve`: `--log-level`, else `RUST_LOG`, else `info`.
fn log_filter(given: Option<&str>) -> Result<tracing_subscriber::filter::Targets> {
    let env = std::env::var("RUST_LOG")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let (text, from) = match (given, env.as_deref()) {
        (Some(g), _) => (g, "--log-level"),
        (None, Some(e)) => (e, "RUST_LOG"),
        (None, None) => ("info", "the default"),
    };
    text.parse()
        .with_context(|| format!("{from} {text:?} is not a log level (error, warn, info, debug, trace) or a list of TARGET=LEVEL directives"))
}

/// The demo send unit (golden/valid/v4.1/riyohyo-minimal), written next to the database so
/// that the printed `cpkit send` works from any folder.
const DEMO_UNIT: &[(&str, &[u8])] = &[
    (
        "UPHOSOKU_202506_0310000100_43_0320000202_15_20250527090000.CSV",
        include_bytes!(
            "../../../../golden/valid/v4.1/riyohyo-minimal/UPHOSOKU_202506_0310000100_43_0320000202_15_20250527090000.CSV"
        ),
    ),
    (
        "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV",
        include_bytes!(
            "../../../../golden/valid/v4.1/riyohyo-minimal/UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV"
        ),
    ),
    (
        "UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV",
        include_bytes!(
            "../../../../golden/valid/v4.1/riyohyo-minimal/UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV"
        ),
    ),
];

fn write_demo_unit(data: &Path) -> Result<PathBuf> {
    let dir = data.join("demo-unit");
    std::fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for (name, bytes) in DEMO_UNIT {
        let path = dir.join(name);
        if !path.exists() {
            std::fs::write(&path, bytes)
                .with_context(|| format!("failed to write {}", path.display()))?;
        }
    }
    Ok(dir)
}

/// Waits for Ctrl-C or (on Unix) SIGTERM; both stop the hub the same graceful way.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                tokio::signal::ctrl_c().await.ok();
                "Ctrl-C"
            }
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await.ok();
        "Ctrl-C"
    }
}

pub fn serve(args: ServeArgs) -> Result<()> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = log_filter(args.log_level.as_deref())?;
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::TRACE)
        .with_writer(std::io::stderr)
        .finish()
        .with(filter)
        .try_init();
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(d) = args.data {
        config.data = d;
    }
    if let Some(c) = args.certs {
        config.certs = c;
    }
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let Some(api) = args.api.as_deref() {
        config.api = match api {
            "2027" => ApiShape::Api2027,
            _ => ApiShape::V1,
        };
    }
    let pki = Pki::new(&config.certs);
    if !config.insecure_plain_http && !pki.is_initialised() {
        pki.init(false)
            .with_context(|| format!("failed to create a dev PKI in {}", config.certs.display()))?;
        println!("created a dev PKI in {}", config.certs.display());
    }
    let demo = config.offices.is_empty();
    let console = (args.console || args.config.is_none()) && !args.no_console;
    let console_config = careplan_mock_server::console::ConsoleConfig {
        listen: args.console_listen,
        allow_remote: args.console_allow_remote,
    };
    let cpkit = program();
    runtime()?.block_on(async move {
        let server = careplan_mock_server::start(config).await?;
        let console = if console {
            let running = careplan_mock_server::console::start(
                console_config,
                server.hub.clone(),
                server.addr,
            )
            .await?;
            Some(running)
        } else {
            None
        };
        let hub = &server.hub.config;
        println!("mock exchange listening on {}", server.url());
        if hub.api == ApiShape::Api2027 {
            println!(
                "  interface:    2027 care-plan API (mock-server/openapi-2027.json); one-time passwords go to {}",
                hub.data.join("otp-outbox.jsonl").display()
            );
        }
        println!("  data:         {}", server.hub.store.path().display());
        println!("  CA:           {}", pki.ca_cert().display());
        println!("  office certs: {}/offices/<office>/", hub.certs.display());
        if demo {
            println!(
                "  demo registry: 0310000100 (居宅 43) → 0320000202 (15), 0320000201 (11+15), …; user KJ<office>01, password {DEMO_PASSWORD}"
            );
        }
        let url = if server.url() == "https://127.0.0.1:8443" {
            String::new()
        } else {
            format!(" --url {}", server.url())
        };
        let certs = certs_flag(&hub.certs);
        if hub.api == ApiShape::V1 {
            println!("next, in a second terminal in this folder:");
            println!("  {cpkit} certs issue{certs} --office 0310000100");
            println!("  {cpkit} certs issue{certs} --office 0320000202");
            let files = if demo {
                shell_word(&write_demo_unit(&hub.data)?.display().to_string())
            } else {
                "FILES…".to_owned()
            };
            println!("  {cpkit} send{url}{certs} --office 0310000100 --to 0320000202 {files}");
            println!("  {cpkit} fetch{url}{certs} --office 0320000202 --out received/");
        } else {
            println!("the 2027 interface is described in docs/exchange.md (cpkit send/inbox/fetch speak v1)");
        }
        if let Some(c) = &console {
            println!("console (open in a browser; the token is valid until this process stops):");
            println!("  {}", c.login_url());
        }
        println!("stop with Ctrl-C (or SIGTERM)");
        let signal = stop_signal().await;
        println!("stopping ({signal}): finishing open requests");
        if let Some(c) = console {
            c.stop().await?;
        }
        server.stop().await?;
        println!("stopped");
        anyhow::Ok(())
    })
}

/// Exit codes of `send`, `inbox` and `fetch` (docs/exchange.md): 0 done, 1 the exchange (or
/// `fetch`, for a received item) refused, 2 usage or local I/O, 3 the exchange could not be
/// reached or the TLS connection failed.
pub const EXIT_REFUSED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_CONNECTION: u8 = 3;

/// The exit code of a failed command: by the first client error or refusal in its chain.
pub fn exit_code(e: &anyhow::Error) -> u8 {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<ClientError>() {
            return if c.is_refusal() {
                EXIT_REFUSED
            } else if c.is_connection() {
                EXIT_CONNECTION
            } else {
                EXIT_USAGE
            };
        }
        if cause.downcast_ref::<ItemRefused>().is_some() {
            return EXIT_REFUSED;
        }
        if let Some(f) = cause.downcast_ref::<ItemsFailed>() {
            return f.code;
        }
    }
    EXIT_USAGE
}

/// `fetch` refused a received item itself (a hostile name, bytes that do not match).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ItemRefused(String);

/// Some items of a `fetch` failed; the others were written.
#[derive(Debug, thiserror::Error)]
#[error(
    "{failed} could not be fetched (named above); the others were written, and running the same fetch again retries only those"
)]
struct ItemsFailed {
    failed: String,
    code: u8,
}

/// How a client command reaches the exchange.
#[derive(Args, Clone)]
pub struct ClientArgs {
    /// The exchange's URL (https:// only).
    #[arg(long, default_value = "https://localhost:8443", env = "CPKIT_URL")]
    url: String,
    #[command(flatten)]
    pki: PkiDir,
    /// KJ user ID (default: the demo user KJ<office>01).
    #[arg(long)]
    user: Option<String>,
    /// Password (default: the demo password).
    #[arg(long, env = "CPKIT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// This terminal's name: receiving and the sent/draft lists are per terminal. The hub binds
    /// a name to the PC that used it first (its key is kept under offices/<office>/terminals/).
    #[arg(long, env = "CPKIT_TERMINAL", default_value = "cpkit-terminal")]
    terminal: String,
    /// The client version to report (older than 1.2.0: V4.1 names are refused).
    #[arg(long, default_value = CLIENT_VERSION)]
    client_version: String,
    /// Certificate name under offices/<office>/ (default client).
    #[arg(long, default_value = "client")]
    cert_name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

impl ClientArgs {
    fn certs(&self) -> &Path {
        &self.pki.certs
    }

    /// The flags that reach the same exchange again (for printed next steps).
    fn flags(&self) -> String {
        let mut out = String::new();
        if self.url != "https://localhost:8443" {
            out.push_str(&format!(" --url {}", shell_word(&self.url)));
        }
        out.push_str(&certs_flag(self.certs()));
        if self.terminal != "cpkit-terminal" {
            out.push_str(&format!(" --terminal {}", shell_word(&self.terminal)));
        }
        out
    }

    async fn login(&self, office: &OfficeNumber) -> Result<Client> {
        let pki = Pki::new(self.certs());
        let files = pki.office(office, &self.cert_name);
        if !files.cert.exists() {
            bail!(
                "no certificate for office {office} at {} (run `cpkit certs issue{} --office {office}`)",
                files.cert.display(),
                certs_flag(self.certs())
            );
        }
        let keys = TerminalKeys::in_folder(pki.terminal_keys(office));
        let identity = Identity::new(pki.ca_cert(), files.cert, files.key).with_terminal_keys(keys);
        let mut client = Client::new(&self.url, &identity)?;
        let user = self.user.clone().unwrap_or_else(|| demo_user_id(office));
        let password = self.password.as_deref().unwrap_or(DEMO_PASSWORD);
        client
            .login(&user, password, &self.terminal, &self.client_version)
            .await
            .with_context(|| format!("failed to log in as {user} for office {office}"))?;
        Ok(client)
    }

    /// The offices given, or every office with a certificate (a terminal holding several
    /// offices' certificates receives all of their data).
    fn offices(&self, given: &[String]) -> Result<Vec<OfficeNumber>> {
        if !given.is_empty() {
            return given.iter().map(|o| parse_office(o)).collect();
        }
        let dir = self.certs().join("offices");
        let mut out = BTreeSet::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("failed to read {}", dir.display()))?
        {
            let entry = entry?;
            if let Some(o) = entry.file_name().to_str().and_then(OfficeNumber::parse)
                && entry
                    .path()
                    .join(format!("{}.pem", self.cert_name))
                    .exists()
            {
                out.insert(o);
            }
        }
        if out.is_empty() {
            bail!("no office certificates in {}", dir.display());
        }
        Ok(out.into_iter().collect())
    }
}

#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The sending office (its certificate is used).
    #[arg(long)]
    office: String,
    /// Destination office, optionally with its service type (0320000201:11). Repeat for 一括送信.
    #[arg(long, required = true)]
    to: Vec<String>,
    /// Message text.
    #[arg(long, default_value = "")]
    message: String,
    /// Store as a draft on this terminal instead of sending.
    #[arg(long)]
    draft: bool,
    /// Files, or folders whose files are all attached.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
}

fn collect_files(paths: &[PathBuf]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for path in paths {
        let mut add = |p: &Path| -> Result<()> {
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .with_context(|| format!("{} has no UTF-8 file name", p.display()))?
                .to_owned();
            let bytes =
                std::fs::read(p).with_context(|| format!("failed to read {}", p.display()))?;
            files.push((name, bytes));
            Ok(())
        };
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("failed to read {}", path.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<std::io::Result<_>>()?;
            entries.sort();
            for p in entries.iter().filter(|p| p.is_file()) {
                add(p)?;
            }
        } else {
            add(path)?;
        }
    }
    Ok(files)
}

pub fn send(args: SendArgs) -> Result<()> {
    let office = parse_office(&args.office)?;
    let files = collect_files(&args.paths)?;
    let destinations: Vec<Destination> = args.to.iter().map(|t| Destination::parse(t)).collect();
    runtime()?.block_on(async {
        let mut client = args.client.login(&office).await?;
        let receipt = client
            .send(&destinations, &args.message, &files, args.draft)
            .await
            .context("the send was refused")?;
        if args.client.json {
            println!("{}", serde_json::to_string_pretty(&receipt)?);
            return Ok(());
        }
        for d in &receipt.deliveries {
            println!(
                "{} #{} → {}{}: {}{}",
                if receipt.draft { "draft" } else { "sent" },
                d.id,
                d.to_office,
                d.to_type
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default(),
                plural(d.files.len(), "file", "files"),
                d.unit
                    .as_deref()
                    .map(|u| format!(
                        ", send unit {u} serial {}",
                        d.serial.as_deref().unwrap_or("?")
                    ))
                    .unwrap_or_default()
            );
            for f in &d.files {
                println!("  {f}");
            }
            if let Some(a) = &d.annotations {
                let n = |k: &str| a[k].as_u64().unwrap_or(0) as usize;
                println!(
                    "  annotations ({}): {}, {}",
                    a["profile"].as_str().unwrap_or("?"),
                    plural(n("errors"), "error", "errors"),
                    plural(n("warnings"), "warning", "warnings")
                );
            }
        }
        let flags = args.client.flags();
        let cpkit = program();
        if receipt.draft {
            println!("next: the draft waits on this terminal (cpkit's drafts are sent with the v1 API: POST /v1/drafts/{{id}}/send)");
        } else if let Some(d) = receipt.deliveries.first() {
            println!(
                "next: the receiver fetches it with its own certificate: {cpkit} fetch{flags} --office {} --out received/",
                d.to_office
            );
        }
        Ok(())
    })
}

#[derive(Args)]
pub struct InboxArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Offices to list (repeatable); default every office with a certificate in --certs.
    #[arg(long)]
    office: Vec<String>,
}

pub fn inbox(args: InboxArgs) -> Result<()> {
    let offices = args.client.offices(&args.office)?;
    runtime()?.block_on(async {
        let mut all = Vec::new();
        for office in &offices {
            let mut client = args.client.login(office).await?;
            let items = client.inbox().await?;
            all.push((office.to_string(), items));
        }
        if args.client.json {
            let map: serde_json::Map<String, serde_json::Value> = all
                .into_iter()
                .map(|(o, items)| (o, serde_json::to_value(items).expect("items serialise")))
                .collect();
            println!("{}", serde_json::to_string_pretty(&map)?);
            return Ok(());
        }
        for (office, items) in all {
            println!("office {office}: {}", plural(items.len(), "item", "items"));
            for item in items {
                println!(
                    "  #{} from {}{} serial {} unit {}{}",
                    item.id,
                    item.from_office,
                    item.from_type
                        .as_deref()
                        .map(|t| format!(" ({t})"))
                        .unwrap_or_default(),
                    item.serial.as_deref().unwrap_or("-"),
                    item.unit.as_deref().unwrap_or("-"),
                    if item.message.is_empty() {
                        String::new()
                    } else {
                        format!(" — {}", item.message)
                    }
                );
                for f in &item.files {
                    println!(
                        "    [{}] {} ({})",
                        f.id,
                        f.name,
                        plural(f.size as usize, "byte", "bytes")
                    );
                }
            }
        }
        Ok(())
    })
}

#[derive(Args)]
pub struct FetchArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// Offices to fetch for (repeatable); default every office with a certificate in --certs.
    #[arg(long)]
    office: Vec<String>,
    /// Folder to write into: <out>/<office>/<serial>_<id>/<file> (name order is import order).
    /// Items already there (by ID) are skipped, so the same fetch can run again.
    #[arg(long)]
    out: PathBuf,
    /// Only these items (IDs from `cpkit inbox`).
    #[arg(long = "id")]
    ids: Vec<i64>,
    /// Download items already in --out again and replace their folders.
    #[arg(long)]
    overwrite: bool,
}

/// What fetch writes itself in an item folder. Both names start with a dot, which the hub never
/// accepts in an upload name (and fetch refuses to write), so they never collide with a file.
const MESSAGE_FILE: &str = ".message.txt";
const ITEM_FILE: &str = ".cpkit-item.json";

/// The item folders already under `<out>/<office>`, by item ID (the last `_` segment of a folder's
/// name; folders of earlier versions, `<order>_<serial>_<id>`, are recognised too).
fn fetched_items(dir: &Path) -> Result<std::collections::BTreeMap<i64, PathBuf>> {
    let mut items = std::collections::BTreeMap::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(items),
        Err(e) => return Err(e).with_context(|| format!("failed to read {}", dir.display())),
    };
    for entry in entries {
        let entry = entry.with_context(|| format!("failed to read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !entry.path().is_dir() {
            continue;
        }
        if name.starts_with(".partial-") {
            // A fetch that stopped half-way: its item is fetched again.
            std::fs::remove_dir_all(entry.path())
                .with_context(|| format!("failed to remove {}", entry.path().display()))?;
            continue;
        }
        if let Some(id) = name
            .rsplit_once('_')
            .and_then(|(_, id)| id.parse::<i64>().ok())
        {
            items.insert(id, entry.path());
        }
    }
    Ok(items)
}

/// Downloads one item into a hidden folder and renames it into place when whole: an item
/// folder is there completely or not at all.
async fn fetch_item(
    client: &mut Client,
    office_dir: &Path,
    target: &Path,
    item: &careplan_mock_server::store::SendEntry,
) -> Result<()> {
    let partial = office_dir.join(format!(".partial-{}", item.id));
    if partial.exists() {
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("failed to remove {}", partial.display()))?;
    }
    std::fs::create_dir_all(&partial)
        .with_context(|| format!("failed to create {}", partial.display()))?;
    let result = async {
        if !item.message.is_empty() {
            write_new(&partial.join(MESSAGE_FILE), item.message.as_bytes())?;
        }
        for f in &item.files {
            careplan_mock_server::hub::check_upload_name(&f.name)
                .map_err(|e| ItemRefused(format!("refusing to write {:?}: {e}", f.name)))?;
            let bytes = client.download(item.id, f.id).await?;
            if careplan_mock_server::store::sha256_hex(&bytes) != f.sha256 {
                return Err(ItemRefused(format!(
                    "{}: downloaded bytes do not match the listed SHA-256",
                    f.name
                ))
                .into());
            }
            write_new(&partial.join(&f.name), &bytes)?;
        }
        write_new(
            &partial.join(ITEM_FILE),
            serde_json::to_string_pretty(item)?.as_bytes(),
        )?;
        if target.exists() {
            std::fs::remove_dir_all(target)
                .with_context(|| format!("failed to replace {}", target.display()))?;
        }
        std::fs::rename(&partial, target)
            .with_context(|| format!("failed to move the item into {}", target.display()))
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&partial);
    }
    result
}

/// The folder an item is written to under `<out>/<office>`: its 連番 and its ID, zero-padded, so
/// that name order is import order (ascending ファイル連番, then arrival) whenever and in whatever
/// order the items were fetched (D-HUB-FETCH). Items without a 連番 (a message alone) sort last.
fn item_folder(item: &careplan_mock_server::store::SendEntry) -> String {
    match item.serial.as_deref() {
        Some(serial) if serial.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{serial:0>14}_{:010}", item.id)
        }
        Some(serial) => format!("{serial}_{:010}", item.id),
        None => format!("message_{:010}", item.id),
    }
}

/// What one `fetch` did, office by office: printed as it goes, or gathered for `--json`.
#[derive(Default, serde::Serialize)]
struct FetchOffice {
    fetched: Vec<serde_json::Value>,
    skipped: Vec<i64>,
    failed: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub fn fetch(args: FetchArgs) -> Result<()> {
    let offices = args.client.offices(&args.office)?;
    let json = args.client.json;
    runtime()?.block_on(async {
        let mut failed = 0usize;
        let mut code = 0u8;
        let mut report = std::collections::BTreeMap::<String, FetchOffice>::new();
        let mut fail = |what: String, e: &anyhow::Error| {
            if !json {
                eprintln!("cpkit: error: {what}: {e:#}");
            }
            failed += 1;
            code = code.max(exit_code(e));
        };
        for office in &offices {
            let log = report.entry(office.to_string()).or_default();
            let listed = match args.client.login(office).await {
                Ok(mut client) => match client.inbox().await {
                    Ok(items) => Ok((client, items)),
                    Err(e) => Err(anyhow::Error::from(e)),
                },
                Err(e) => Err(e),
            };
            let (mut client, mut items) = match listed {
                Ok(listed) => listed,
                Err(e) => {
                    fail(format!("office {office}"), &e);
                    log.error = Some(format!("{e:#}"));
                    continue;
                }
            };
            items.retain(|i| args.ids.is_empty() || args.ids.contains(&i.id));
            // Receivers import per 連番 in ascending order (S4 §2.5).
            items.sort_by(|a, b| a.serial.cmp(&b.serial).then(a.id.cmp(&b.id)));
            let office_dir = args.out.join(office.as_str());
            std::fs::create_dir_all(&office_dir)
                .with_context(|| format!("failed to create {}", office_dir.display()))?;
            let present = fetched_items(&office_dir)?;
            for item in &items {
                let target = match present.get(&item.id) {
                    Some(_) if !args.overwrite => {
                        log.skipped.push(item.id);
                        continue;
                    }
                    Some(dir) => dir.clone(),
                    None => office_dir.join(item_folder(item)),
                };
                match fetch_item(&mut client, &office_dir, &target, item).await {
                    Ok(()) => {
                        if !json {
                            println!(
                                "office {office}: #{} from {} → {} ({})",
                                item.id,
                                item.from_office,
                                target.display(),
                                plural(item.files.len(), "file", "files")
                            );
                            if !item.message.is_empty() {
                                println!("  message: {}", item.message);
                            }
                        }
                        log.fetched.push(serde_json::json!({
                            "id": item.id,
                            "from_office": item.from_office,
                            "serial": item.serial,
                            "folder": target,
                            "files": item.files.iter().map(|f| &f.name).collect::<Vec<_>>(),
                            "message": item.message,
                        }));
                    }
                    Err(e) => {
                        fail(format!("office {office}: item #{}", item.id), &e);
                        log.failed
                            .push(serde_json::json!({ "id": item.id, "error": format!("{e:#}") }));
                    }
                }
            }
            if json {
                continue;
            }
            let mut summary = format!(
                "office {office}: {} fetched",
                plural(log.fetched.len(), "item", "items")
            );
            if !log.skipped.is_empty() {
                summary.push_str(&format!(
                    ", {} already in {} (skipped; --overwrite fetches them again)",
                    plural(log.skipped.len(), "item", "items"),
                    office_dir.display()
                ));
            }
            println!("{summary}");
        }
        if json {
            let doc = serde_json::json!({ "out": args.out, "offices": report });
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        if failed > 0 {
            return Err(ItemsFailed {
                failed: plural(failed, "item or office", "items or offices"),
                code,
            }
            .into());
        }
        if !json {
            println!(
                "next: import the item folders in name order (ascending ファイル連番); check them first with `{} validate {}`",
                program(),
                shell_word(&args.out.display().to_string())
            );
        }
        Ok(())
    })
}

fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("failed to write {}", path.display()))
}

#[derive(Subcommand)]
pub enum TraceCommand {
    /// Write the replay bundle: trace.jsonl, sends.jsonl and the stored files (secrets redacted).
    Export {
        /// The hub's data folder.
        #[arg(long, default_value = ".cpkit/exchange")]
        data: PathBuf,
        /// A new (or empty) folder for the bundle.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn trace(command: TraceCommand) -> Result<()> {
    match command {
        TraceCommand::Export { data, out } => {
            if !data.join("exchange.sqlite3").exists() {
                bail!("no exchange database in {}", data.display());
            }
            let store = careplan_mock_server::store::Store::open(&data)?;
            let summary = careplan_mock_server::trace::export(&store, &out)?;
            println!(
                "wrote {}: {}, {}, {}",
                out.display(),
                plural(summary.audit_rows, "audit row", "audit rows"),
                plural(summary.sends, "send", "sends"),
                plural(summary.files, "file", "files")
            );
            Ok(())
        }
    }
}
