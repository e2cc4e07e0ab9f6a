//! Memory of the hub under concurrent large uploads (issue 9 point 7, D-HUB-CONNECTIONS).
//!
//! Run: `cargo bench -p careplan-mock-server --bench uploads` (48 concurrent sends of 30 MB, the
//! default limits), or `-- --quick` (16 sends of 30 MB). Options: `--sends N`, `--mb M`,
//! `--budget-mb B` (the hub's `limits.max_bytes_in_flight`, default 128).
//!
//! The hub runs in a child process (this binary re-started with `--serve DIR`), so that its
//! memory is not mixed with the clients'. The clients (tasks here) each log in on their own
//! terminal and send one send of M MB (attachments of at most 10 MB each) at the same moment.
//! Printed, from the child's /proc status: resident memory after one small request (the floor),
//! its peak (VmHWM) during the uploads and its resident memory after them (the lowest within 3 s
//! of the last answer) — as ratios to the bytes uploaded at once and to the hub's upload budget.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use careplan_mock_server::client::{Client, Identity};
use careplan_mock_server::config::{Config, DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_spec::OfficeNumber;

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";
const MB: usize = 1024 * 1024;

fn status_kb(pid: u32, field: &str) -> u64 {
    careplan_mock_server::memory::status_kb(Some(pid), field).unwrap_or(0)
}

/// The child: a hub with the default limits but `budget` bytes in flight on a free port; prints
/// its URL, serves until stdin closes.
fn serve(dir: &std::path::Path, budget: u64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data: dir.join("data"),
            certs: dir.join("certs"),
            ..Config::default()
        };
        config.limits.password_iterations = 1000;
        config.limits.max_connections_per_certificate = 1024;
        config.limits.max_bytes_in_flight = budget;
        config.limits.busy_wait_seconds = 600;
        let server = careplan_mock_server::start(config).await.unwrap();
        println!("{}", server.url());
        tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            while std::io::stdin().read_line(&mut line).unwrap_or(0) > 0 {}
        })
        .await
        .unwrap();
        server.stop().await.unwrap();
    });
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = argv.iter().position(|a| a == "--serve") {
        let budget = argv[i + 2].parse().expect("the budget in bytes");
        return serve(std::path::Path::new(&argv[i + 1]), budget);
    }
    let mut sends = 48usize;
    let mut mb = 30usize;
    let mut budget_mb = Config::default().limits.max_bytes_in_flight as usize / MB;
    let mut i = 0;
    while i < argv.len() {
        let value = |i: usize| -> usize {
            argv.get(i + 1)
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{} needs a number", argv[i]))
        };
        match argv[i].as_str() {
            "--quick" => sends = 16,
            "--sends" => {
                sends = value(i);
                i += 1;
            }
            "--mb" => {
                mb = value(i);
                i += 1;
            }
            "--budget-mb" => {
                budget_mb = value(i);
                i += 1;
            }
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
        i += 1;
    }
    careplan_mock_server::tls::install_provider();
    let dir = std::env::temp_dir().join(format!("cpkit-bench-uploads-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pki = Pki::new(dir.join("certs"));
    pki.init(false).unwrap();
    let files = pki
        .issue(
            &OfficeNumber::parse(KYOTAKU).unwrap(),
            CertKind::KaigoHoken,
            Variant::Valid,
            None,
        )
        .unwrap();
    let identity = Identity::new(pki.ca_cert(), files.cert, files.key);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--serve",
            dir.to_str().unwrap(),
            &(budget_mb * MB).to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let url = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let (floor, wall, peak, after) = rt.block_on(async {
        let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
        let mut clients = Vec::new();
        for t in 0..sends {
            let mut c = Client::new(&url, &identity).unwrap();
            c.login(&user, DEMO_PASSWORD, &format!("pc-{t}"), "1.2.0")
                .await
                .unwrap();
            clients.push(c);
        }
        let floor = status_kb(pid, "VmRSS:");
        // One send of `mb` MB: attachments of at most 10 MB (the per-file limit).
        let parts = mb.div_ceil(10);
        let body: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
            (0..parts)
                .map(|p| {
                    let size = (mb * MB / parts).min(10 * MB);
                    (format!("資料{p}.pdf"), vec![b'%'; size])
                })
                .collect(),
        );
        let started = Instant::now();
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                let body = body.clone();
                tokio::spawn(async move {
                    let to = [Destination {
                        office: PROVIDER.to_owned(),
                        service_type: None,
                    }];
                    c.send(&to, "", &body, false).await.map(drop)
                })
            })
            .collect();
        let mut refused = 0;
        for t in tasks {
            if let Err(e) = t.await.unwrap() {
                refused += 1;
                eprintln!("send failed: {e}");
            }
        }
        assert_eq!(refused, 0, "every upload is stored");
        let wall = started.elapsed();
        let peak = status_kb(pid, "VmHWM:");
        let mut after = status_kb(pid, "VmRSS:");
        for _ in 0..30 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            after = after.min(status_kb(pid, "VmRSS:"));
        }
        (floor, wall, peak, after)
    });
    drop(child.stdin.take());
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    let budget_kb = (budget_mb * MB / 1024) as u64;
    let uploaded_kb = (sends * mb * MB / 1024) as u64;
    let grew = peak.saturating_sub(floor);
    println!("uploads: {sends} concurrent sends of {mb} MB over mutual TLS in {wall:.1?}");
    println!(
        "  hub resident memory: floor {} MB, peak {} MB, after {} MB",
        floor / 1024,
        peak / 1024,
        after / 1024
    );
    println!(
        "  peak growth / bytes uploaded at once: {:.3}   peak growth / upload budget ({} MB): {:.2}",
        grew as f64 / uploaded_kb as f64,
        budget_kb / 1024,
        grew as f64 / budget_kb as f64
    );
}
