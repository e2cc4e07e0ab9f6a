//! Throughput, latency and memory of the mock exchange.
//!
//! Run: `cargo bench -p careplan-mock-server --bench exchange` (full: about 10 minutes), or with
//! `-- --quick` (a few seconds per part and 20,000 user-months: a smoke run). Options:
//! `--seconds S` per concurrency level (default 5), `--user-months N` (default 1,000,000),
//! `--offices N` (default 15,000), `--skip-month`, `--skip-http`.
//!
//! Part 1 — sends over HTTP: the hub runs in this process on loopback, clients are tasks in the same
//! process (so the 2 cores are shared by both sides). Each client holds one keep-alive connection,
//! logs in once, then sends a three-file 第6表/第7表/補足 unit (the golden `riyohyo-minimal`, with a
//! fresh serial each time) as fast as it is answered. Measured at 1, 8 and 64 concurrent clients:
//! sends per second and p50/p99 latency, once over mutual TLS and once over plain HTTP (the hub's
//! benchmark-only mode), in the same run; the TLS/plain ratio is printed.
//!
//! Part 2 — a simulated national month, through the hub's rules and store without HTTP: `offices`
//! offices (1 in 5 a 居宅介護支援 office), `user-months` users each with one provider. Every care
//! manager sends a plan unit (6表 + 7表 + 補足) per user-month, every provider lists its inbox, downloads
//! every file and sends one 実績 unit per user-month, and every care manager receives them. File
//! contents are unique per user-month (no deduplication flatters the store). Printed: wall time
//! per phase, database size, and resident memory (VmRSS) at 10 %, 50 % and 100 % of the items
//! stored, plus the peak (VmHWM): memory must not grow with the number of stored items.

use std::sync::Arc;
use std::time::{Duration, Instant};

use careplan_mock_server::client::{Client, Identity};
use careplan_mock_server::config::{Config, DEMO_PASSWORD, Licence, OfficeConfig, demo_user_id};
use careplan_mock_server::hub::{Destination, Hub, SendRequest, Upload};
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::store::Session;
use careplan_spec::OfficeNumber;

struct Args {
    seconds: u64,
    user_months: u64,
    offices: u64,
    month: bool,
    http: bool,
}

fn args() -> Args {
    let mut a = Args {
        seconds: 5,
        user_months: 1_000_000,
        offices: 15_000,
        month: true,
        http: true,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        let value = |i: usize| -> u64 {
            argv.get(i + 1)
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", argv[i]))
        };
        match argv[i].as_str() {
            "--quick" => {
                a.seconds = 2;
                a.user_months = 20_000;
                a.offices = 1_500;
            }
            "--seconds" => {
                a.seconds = value(i);
                i += 1;
            }
            "--user-months" => {
                a.user_months = value(i);
                i += 1;
            }
            "--offices" => {
                a.offices = value(i);
                i += 1;
            }
            "--skip-month" => a.month = false,
            "--skip-http" => a.http = false,
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
        i += 1;
    }
    a
}

fn tempdir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("cpkit-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn proc_status(field: &str) -> u64 {
    careplan_mock_server::memory::status_kb(None, field).unwrap_or(0)
}

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";

fn golden_unit() -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/valid/v4.1/riyohyo-minimal");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_str().unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

struct Level {
    clients: usize,
    sends_per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// Runs `clients` concurrent senders for `seconds` against a fresh hub; TLS or plain.
async fn measure(tls: bool, clients: usize, seconds: u64) -> Level {
    let dir = tempdir(if tls { "tls" } else { "plain" });
    let pki = Pki::new(dir.join("certs"));
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data: dir.join("data"),
        certs: dir.join("certs"),
        insecure_plain_http: !tls,
        ..Config::default()
    };
    config.limits.password_iterations = 1000;
    // Every client of a run shares one certificate.
    config.limits.max_connections_per_certificate = 256;
    let identity = if tls {
        pki.init(false).unwrap();
        let files = pki
            .issue(
                &OfficeNumber::parse(KYOTAKU).unwrap(),
                CertKind::KaigoHoken,
                Variant::Valid,
                None,
            )
            .unwrap();
        Identity::new(pki.ca_cert(), files.cert, files.key)
    } else {
        Identity {
            insecure_office: Some(KYOTAKU.to_owned()),
            ..Identity::without_certificate(dir.join("none"))
        }
    };
    let server = careplan_mock_server::start(config).await.unwrap();
    let unit = Arc::new(golden_unit());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let mut client = Client::new(&server.url(), &identity).unwrap();
        let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
        client
            .login(&user, DEMO_PASSWORD, &format!("bench-{c}"), "1.2.0")
            .await
            .unwrap();
        let unit = unit.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let to = [Destination {
                office: PROVIDER.to_owned(),
                service_type: None,
            }];
            let mut n = 0u64;
            while Instant::now() < deadline {
                let serial = format!("2025{:04}{:06}", c, n);
                n += 1;
                let files: Vec<(String, Vec<u8>)> = unit
                    .iter()
                    .map(|(name, b)| (name.replace("20250527090000", &serial), b.clone()))
                    .collect();
                let started = Instant::now();
                client.send(&to, "", &files, false).await.unwrap();
                latencies.push(started.elapsed());
            }
            latencies
        }));
    }
    let started = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    Level {
        clients,
        sends_per_s: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

fn http_part(seconds: u64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "## Part 1 — three-file sends over HTTP, {seconds} s per level (client and hub share the 2 cores)\n"
    );
    println!(
        "| clients | TLS sends/s | TLS p50 ms | TLS p99 ms | plain sends/s | plain p50 ms | plain p99 ms | TLS/plain |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for clients in [1, 8, 64] {
        let tls = rt.block_on(measure(true, clients, seconds));
        let plain = rt.block_on(measure(false, clients, seconds));
        assert_eq!(tls.clients, plain.clients);
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.0} | {:.2} | {:.2} | {:.2} |",
            clients,
            tls.sends_per_s,
            tls.p50_ms,
            tls.p99_ms,
            plain.sends_per_s,
            plain.p50_ms,
            plain.p99_ms,
            tls.sends_per_s / plain.sends_per_s
        );
    }
    println!();
}

/// A synthetic file of about 600 bytes, unique to the user-month.
fn content(kind: &str, user: u64) -> Arc<Vec<u8>> {
    let mut text = String::with_capacity(640);
    for row in 0..6 {
        text.push_str(&format!(
            "202407,131016,{:010},20250420,202506,{kind},{row},1211,0900,1000,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\r\n",
            1_000_000_000 + user
        ));
    }
    Arc::new(text.into_bytes())
}

fn month_part(user_months: u64, offices: u64) {
    let dir = tempdir("month");
    let managers = (offices / 5).max(1);
    let providers = (offices - managers).max(1);
    let office = |i: u64| format!("{:010}", 1_000_000_000u64 + i);
    let mut config = Config {
        data: dir.join("data"),
        ..Config::default()
    };
    config.limits.password_iterations = 1;
    config.offices = (0..managers + providers)
        .map(|i| OfficeConfig {
            number: OfficeNumber::parse(&office(i)).unwrap(),
            name: String::new(),
            service_types: vec![if i < managers { "43" } else { "15" }.to_owned()],
            licence: Licence::Active,
            licence_until: None,
        })
        .collect();
    let started = Instant::now();
    let hub = Hub::open(config).unwrap();
    let seeded = started.elapsed();
    let session = |o: &str| Session {
        user_id: format!("KJ{o}01"),
        office: o.to_owned(),
        terminal: "pc".to_owned(),
        client_version: "1.2.0".to_owned(),
        expires: i64::MAX,
        cert_serial: None,
    };
    let total_items = user_months * 2;
    let mut stored = 0u64;
    let mut rss_marks = Vec::new();
    let mut mark = |stored: u64| {
        for (pct, label) in [(10, "10 %"), (50, "50 %"), (100, "100 %")] {
            if stored == total_items * pct / 100 {
                rss_marks.push((label, proc_status("VmRSS:")));
            }
        }
    };
    let provider_of = |user: u64| managers + (user * 7919) % providers;
    let manager_of = |user: u64| user % managers;

    // Phase 1: plans.
    let t1 = Instant::now();
    for user in 0..user_months {
        let (cm, pr) = (office(manager_of(user)), office(provider_of(user)));
        let serial = format!("20250525{:06}", user % 1_000_000);
        let req = SendRequest {
            destinations: vec![Destination {
                office: pr.clone(),
                service_type: None,
            }],
            message: String::new(),
            files: ["UPHOSOKU", "UPPLAN", "UPSIKYU"]
                .iter()
                .map(|k| Upload {
                    name: format!("{k}_202506_{cm}_43_{pr}_15_{serial}.CSV"),
                    content: content(k, user),
                })
                .collect(),
            draft: false,
        };
        hub.send(&session(&cm), &req).unwrap();
        stored += 1;
        mark(stored);
    }
    let plans = t1.elapsed();

    // Phase 2: providers receive every plan and send one 実績 unit per user-month.
    let t2 = Instant::now();
    let mut downloaded = 0u64;
    for p in managers..managers + providers {
        let pr = office(p);
        let s = session(&pr);
        let items = hub.inbox(&s).unwrap();
        for item in &items {
            for f in &item.files {
                downloaded += hub.download(&s, item.id, f.id).unwrap().1.len() as u64;
            }
            let cm = item.from_office.clone();
            let serial = item.serial.clone().unwrap();
            let user = item.id as u64;
            let req = SendRequest {
                destinations: vec![Destination {
                    office: cm.clone(),
                    service_type: None,
                }],
                message: String::new(),
                files: vec![Upload {
                    name: format!("UPJSK_202506_{pr}_15_{cm}_43_{serial}.CSV"),
                    content: content("UPJSK", user),
                }],
                draft: false,
            };
            hub.send(&s, &req).unwrap();
            stored += 1;
            mark(stored);
        }
    }
    let actuals = t2.elapsed();

    // Phase 3: care managers receive the 実績.
    let t3 = Instant::now();
    let mut received = 0u64;
    for m in 0..managers {
        let cm = office(m);
        let s = session(&cm);
        for item in hub.inbox(&s).unwrap() {
            for f in &item.files {
                downloaded += hub.download(&s, item.id, f.id).unwrap().1.len() as u64;
            }
            received += 1;
        }
    }
    let receive = t3.elapsed();
    assert_eq!(received, user_months, "every 実績 reached its care manager");
    let db = std::fs::metadata(hub.store.path())
        .map(|m| m.len())
        .unwrap_or(0)
        + std::fs::metadata(hub.store.path().with_extension("sqlite3-wal"))
            .map(|m| m.len())
            .unwrap_or(0);
    let total = started.elapsed();

    println!(
        "## Part 2 — simulated month: {offices} offices ({managers} 居宅, {providers} providers), {user_months} user-months\n"
    );
    println!("| phase | wall time | items/s |");
    println!("|---|---:|---:|");
    println!("| seed registry | {:.1} s | |", seeded.as_secs_f64());
    println!(
        "| plans sent (3 files each) | {:.1} s | {:.0} |",
        plans.as_secs_f64(),
        user_months as f64 / plans.as_secs_f64()
    );
    println!(
        "| providers receive + send 実績 | {:.1} s | {:.0} |",
        actuals.as_secs_f64(),
        user_months as f64 / actuals.as_secs_f64()
    );
    println!(
        "| care managers receive 実績 | {:.1} s | {:.0} |",
        receive.as_secs_f64(),
        user_months as f64 / receive.as_secs_f64()
    );
    println!("| **total** | **{:.1} s** | |\n", total.as_secs_f64());
    println!(
        "database {:.0} MB; {} MB downloaded",
        db as f64 / 1e6,
        downloaded / 1_000_000
    );
    let marks: Vec<String> = rss_marks
        .iter()
        .map(|(l, kb)| format!("{l} of items: {} MiB", kb / 1024))
        .collect();
    println!("resident memory: {}", marks.join("; "));
    if let (Some(first), Some(last)) = (rss_marks.first(), rss_marks.last()) {
        println!(
            "RSS ratio 100 % / 10 %: {:.2}; peak (VmHWM) {} MiB",
            last.1 as f64 / first.1.max(1) as f64,
            proc_status("VmHWM:") / 1024
        );
    }
    drop(hub);
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let a = args();
    careplan_mock_server::tls::install_provider();
    if a.http {
        http_part(a.seconds);
    }
    if a.month {
        month_part(a.user_months, a.offices);
    }
}
