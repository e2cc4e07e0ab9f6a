//! The mock exchange's commands: `cpkit certs …`, `cpkit serve`, the client commands `send`,
//! `inbox` and `fetch`, and `cpkit trace export`. Glue only: the logic lives in
//! `careplan-mock-server`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use careplan_mock_server::client::{CLIENT_VERSION, Client, Identity};
use careplan_mock_server::config::{ApiShape, Config, DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant, read_cert_info};
use careplan_spec::OfficeNumber;
use clap::{Args, Subcommand};

#[derive(Subcommand)]
pub enum CertsCommand {
    /// Create the test CA, an unrelated CA, an empty CRL and the server certificate for localhost.
    Init {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        /// Replace an existing PKI (every certificate issued from it stops working).
        #[arg(long)]
        force: bool,
    },
    /// Issue an office client certificate (CN = office number, OU = kind).
    Issue {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
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
    },
    /// Revoke an issued certificate (the running hub re-reads the CRL).
    Revoke {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
        cert: PathBuf,
    },
    /// Show the office certificates under the PKI directory.
    Show {
        #[arg(long, default_value = "certs")]
        dir: PathBuf,
    },
}

pub fn certs(command: CertsCommand) -> Result<()> {
    match command {
        CertsCommand::Init { dir, force } => {
            Pki::new(&dir).init(force)?;
            println!("test PKI created in {}", dir.display());
            println!("  CA:     {}", Pki::new(&dir).ca_cert().display());
            println!("  server: {}", Pki::new(&dir).server().cert.display());
            println!("next: cpkit certs issue --office 0310000100");
        }
        CertsCommand::Issue {
            dir,
            office,
            kind,
            variant,
            name,
        } => {
            let number = parse_office(&office)?;
            let kind: CertKind = kind.parse()?;
            let variant: Variant = variant.parse()?;
            let files = Pki::new(&dir).issue(&number, kind, variant, name.as_deref())?;
            println!(
                "issued {} ({}, {}) for office {office}",
                files.cert.display(),
                kind.label_ja(),
                variant.tag()
            );
            println!("  key: {} (never commit it)", files.key.display());
        }
        CertsCommand::Revoke { dir, cert } => {
            Pki::new(&dir).revoke(&cert)?;
            println!(
                "revoked {}; the CRL is {}",
                cert.display(),
                Pki::new(&dir).crl().display()
            );
        }
        CertsCommand::Show { dir } => {
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
                    "{}  office {}  kind {}  {}  ({} days left)",
                    path.display(),
                    info.office,
                    info.kind.map(|k| k.tag()).unwrap_or("?"),
                    state,
                    (info.not_after - now).div_euclid(86_400)
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
    #[arg(long)]
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
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

pub fn serve(args: ServeArgs) -> Result<()> {
    let _ = tracing_subscriber::fmt()
        .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
        .with_writer(std::io::stderr)
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
        let url = if server.addr.port() == 8443 {
            String::new()
        } else {
            format!(" --url {}", server.url())
        };
        if hub.api == ApiShape::V1 {
            println!("next, in a second terminal:");
            println!(
                "  cpkit certs issue --office 0310000100 && cpkit certs issue --office 0320000202"
            );
            println!(
                "  cpkit send{url} --office 0310000100 --to 0320000202 golden/valid/v4.1/riyohyo-minimal"
            );
            println!("  cpkit fetch{url} --office 0320000202 --out received/");
        } else {
            println!("the 2027 interface is described in docs/exchange.md (cpkit send/inbox/fetch speak v1)");
        }
        if let Some(c) = &console {
            println!("console (open in a browser; the token is valid until this process stops):");
            println!("  {}", c.login_url());
        }
        tokio::signal::ctrl_c().await.ok();
        println!("stopping");
        if let Some(c) = console {
            c.stop().await?;
        }
        server.stop().await?;
        anyhow::Ok(())
    })
}

/// How a client command reaches the exchange.
#[derive(Args, Clone)]
pub struct ClientArgs {
    /// The exchange's URL.
    #[arg(long, default_value = "https://localhost:8443", env = "CPKIT_URL")]
    url: String,
    /// PKI folder holding ca/ca.pem and offices/<office>/client.pem.
    #[arg(long, default_value = "certs")]
    certs: PathBuf,
    /// KJ user ID (default: the demo user KJ<office>01).
    #[arg(long)]
    user: Option<String>,
    /// Password (default: the demo password).
    #[arg(long, env = "CPKIT_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// This terminal's name: receiving and the sent/draft lists are per terminal.
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
    async fn login(&self, office: &OfficeNumber) -> Result<Client> {
        let pki = Pki::new(&self.certs);
        let files = pki.office(office, &self.cert_name);
        if !files.cert.exists() {
            bail!(
                "no certificate for office {office} at {} (run `cpkit certs issue --office {office}`)",
                files.cert.display()
            );
        }
        let identity = Identity::new(pki.ca_cert(), files.cert, files.key);
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
        let dir = self.certs.join("offices");
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
                "{} #{} → {}{}: {} file(s){}",
                if receipt.draft { "draft" } else { "sent" },
                d.id,
                d.to_office,
                d.to_type
                    .as_deref()
                    .map(|t| format!(" ({t})"))
                    .unwrap_or_default(),
                d.files.len(),
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
                println!(
                    "  annotations ({}): {} error(s), {} warning(s)",
                    a["profile"], a["errors"], a["warnings"]
                );
            }
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
            println!("office {office}: {} item(s)", items.len());
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
                    println!("    [{}] {} ({} bytes)", f.id, f.name, f.size);
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
    /// Folder to write into: <out>/<office>/<import order>_<serial>_<id>/<file> (never overwrites).
    #[arg(long)]
    out: PathBuf,
    /// Only these items (IDs from `cpkit inbox`).
    #[arg(long = "id")]
    ids: Vec<i64>,
}

pub fn fetch(args: FetchArgs) -> Result<()> {
    let offices = args.client.offices(&args.office)?;
    runtime()?.block_on(async {
        for office in &offices {
            let mut client = args.client.login(office).await?;
            let mut items = client.inbox().await?;
            items.retain(|i| args.ids.is_empty() || args.ids.contains(&i.id));
            // Receivers import per 連番 in ascending order (S4 §2.5).
            items.sort_by(|a, b| a.serial.cmp(&b.serial).then(a.id.cmp(&b.id)));
            for (n, item) in items.iter().enumerate() {
                let dir = args.out.join(office.as_str()).join(format!(
                    "{:03}_{}_{}",
                    n + 1,
                    item.serial.as_deref().unwrap_or("message"),
                    item.id
                ));
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
                if !item.message.is_empty() {
                    write_new(&dir.join("message.txt"), item.message.as_bytes())?;
                }
                for f in &item.files {
                    let bytes = client.download(item.id, f.id).await?;
                    let digest = careplan_mock_server::store::sha256_hex(&bytes);
                    if digest != f.sha256 {
                        bail!(
                            "{}: downloaded bytes do not match the listed SHA-256",
                            f.name
                        );
                    }
                    careplan_mock_server::hub::check_upload_name(&f.name)
                        .map_err(|e| anyhow::anyhow!("refusing to write {:?}: {e}", f.name))?;
                    write_new(&dir.join(&f.name), &bytes)?;
                }
                println!(
                    "office {office}: #{} from {} → {} ({} file(s))",
                    item.id,
                    item.from_office,
                    dir.display(),
                    item.files.len()
                );
            }
            if items.is_empty() {
                println!("office {office}: nothing to fetch");
            }
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
        .with_context(|| {
            format!(
                "failed to create {} (it must not exist yet)",
                path.display()
            )
        })?;
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
                "wrote {}: {} audit row(s), {} send(s), {} file(s)",
                out.display(),
                summary.audit_rows,
                summary.sends,
                summary.files
            );
            Ok(())
        }
    }
}
