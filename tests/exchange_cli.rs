//! The mock exchange through the real `cpkit` binary: `cpkit serve` in its own process, the client
//! commands in others. Includes the crash test: the server is SIGKILLed in the middle of a
//! concurrent send loop, restarted on the same data, and must have lost no acknowledged send and
//! show no partial one.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use careplan_mock_server::client::{Client, Identity};
use careplan_mock_server::config::{DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::hub::Destination;
use careplan_spec::OfficeNumber;

const KYOTAKU: &str = "0310000100";
const PROVIDER: &str = "0320000202";
const PROVIDER_2SVC: &str = "0320000201";

fn cpkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpkit"))
        .args(args)
        .output()
        .expect("failed to run cpkit")
}

fn ok(o: Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "cpkit failed: {}\n{out}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cpkit-xcli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn join(&self, p: &str) -> String {
        self.0.join(p).to_str().unwrap().to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `cpkit serve` process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    /// What it printed before waiting for a stop signal (URL, folders, next steps).
    banner: Vec<String>,
    /// Its log on standard error, as it arrives.
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(dir: &TempDir) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &TempDir, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cpkit"))
            .args([
                "serve",
                "--data",
                &dir.join("data"),
                "--certs",
                &dir.join("certs"),
                "--listen",
                "127.0.0.1:0",
            ])
            .args(extra)
            .current_dir(&dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = Vec::new();
        let mut url = None;
        loop {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("cpkit serve stopped: {:?}", log.lock().unwrap()))
                .unwrap();
            if let Some(u) = line.strip_prefix("mock exchange listening on ") {
                url = Some(u.trim().to_owned());
            }
            let last = line.starts_with("stop with");
            banner.push(line);
            if last {
                break;
            }
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self {
            child,
            url: url.expect("cpkit serve printed its URL"),
            banner,
            log,
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL on Unix
        self.child.wait().unwrap();
    }

    /// Waits until its log has a line containing all of `words` (at most 20 s).
    fn wait_for_log(&self, words: &[&str]) -> String {
        for _ in 0..2000 {
            if let Some(l) = self
                .log
                .lock()
                .unwrap()
                .iter()
                .find(|l| words.iter().all(|w| l.contains(w)))
            {
                return l.clone();
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!(
            "no log line with {words:?}: {:#?}",
            self.log.lock().unwrap()
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn issue(dir: &TempDir, office: &str) {
    ok(cpkit(&[
        "certs",
        "issue",
        "--certs",
        &dir.join("certs"),
        "--office",
        office,
    ]));
}

#[test]
fn serve_on_defaults_then_issue_send_list_and_fetch_from_another_terminal() {
    let dir = TempDir::new();
    let server = Server::start(&dir);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    for office in [KYOTAKU, PROVIDER, PROVIDER_2SVC] {
        issue(&dir, office);
    }
    let certs = dir.join("certs");
    let client = |extra: &[&str]| {
        let mut args = vec![extra[0], "--url", &server.url, "--certs", &certs];
        args.extend_from_slice(&extra[1..]);
        cpkit(&args)
    };
    let unit = workspace().join("golden/valid/v4.1/riyohyo-minimal");
    let out = ok(client(&[
        "send",
        "--office",
        KYOTAKU,
        "--to",
        PROVIDER,
        "--message",
        "6月分",
        unit.to_str().unwrap(),
    ]));
    assert!(out.contains("send unit kyotaku-riyohyo"), "{out}");
    let rich = workspace().join("golden/valid/v4.1/riyohyo-rich");
    let unit_11: Vec<String> = std::fs::read_dir(&rich)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.contains(&format!("{PROVIDER_2SVC}_11"))
        })
        .map(|p| p.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(unit_11.len(), 3);
    let mut args = vec!["send", "--office", KYOTAKU, "--to", PROVIDER_2SVC];
    args.extend(unit_11.iter().map(String::as_str));
    ok(client(&args));

    // One terminal holding both providers' certificates lists both offices' items.
    let listed = ok(client(&["inbox", "--terminal", "shared-pc"]));
    assert!(
        listed.contains(&format!("office {PROVIDER}: 1 item\n")),
        "{listed}"
    );
    assert!(
        listed.contains(&format!("office {PROVIDER_2SVC}: 1 item\n")),
        "{listed}"
    );
    // The office's other terminal sees nothing (first lister wins) ...
    let other = ok(client(&[
        "inbox",
        "--office",
        PROVIDER,
        "--terminal",
        "other-pc",
    ]));
    assert!(other.contains("0 items"), "{other}");
    // ... and the first terminal fetches the bytes unchanged, in import order.
    let out_dir = dir.join("received");
    ok(client(&[
        "fetch",
        "--office",
        PROVIDER,
        "--terminal",
        "shared-pc",
        "--out",
        &out_dir,
    ]));
    let item_dir = std::fs::read_dir(Path::new(&out_dir).join(PROVIDER))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        item_dir
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("20250527090000_")
    );
    for f in std::fs::read_dir(&unit).unwrap() {
        let f = f.unwrap().path();
        let got = std::fs::read(item_dir.join(f.file_name().unwrap())).unwrap();
        assert_eq!(got, std::fs::read(&f).unwrap());
    }
    assert_eq!(
        std::fs::read_to_string(item_dir.join(".message.txt")).unwrap(),
        "6月分"
    );
    // Fetching again is harmless: what is there is skipped, nothing is overwritten.
    let again = ok(client(&[
        "fetch",
        "--office",
        PROVIDER,
        "--terminal",
        "shared-pc",
        "--out",
        &out_dir,
    ]));
    assert!(
        again.contains("0 items fetched, 1 item already in"),
        "{again}"
    );

    // A refusal names the rule and the message the field knows; exit code 1 (refused).
    let refused = client(&[
        "send",
        "--office",
        KYOTAKU,
        "--to",
        "0399999999",
        unit.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("DESTINATION_NOT_SUPPORTED"), "{err}");
    assert!(
        err.contains("入力された番号はケアプランデータ連携システムに対応していません"),
        "{err}"
    );

    let bundle = dir.join("bundle");
    let out = ok(cpkit(&[
        "trace",
        "export",
        "--data",
        &dir.join("data"),
        "--out",
        &bundle,
    ]));
    assert!(out.contains("2 sends, 6 files"), "{out}");
    drop(server);
}

#[test]
fn a_killed_server_loses_no_acknowledged_send_and_shows_no_partial_one() {
    let dir = TempDir::new();
    let server = Server::start(&dir);
    issue(&dir, KYOTAKU);
    issue(&dir, PROVIDER);
    let certs = Path::new(&dir.join("certs")).to_path_buf();
    let identity = |office: &str| {
        Identity::new(
            certs.join("ca/ca.pem"),
            certs.join(format!("offices/{office}/client.pem")),
            certs.join(format!("offices/{office}/client.key")),
        )
    };
    let unit_dir = workspace().join("golden/valid/v4.1/riyohyo-minimal");
    let mut originals: Vec<(String, Vec<u8>)> = std::fs::read_dir(&unit_dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_str().unwrap().to_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    originals.sort();
    let originals = Arc::new(originals);
    let with_serial = move |serial: &str| -> Vec<(String, Vec<u8>)> {
        originals
            .iter()
            .map(|(n, b)| (n.replace("20250527090000", serial), b.clone()))
            .collect()
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let acked: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    rt.block_on(async {
        let mut tasks = Vec::new();
        for worker in 0..4u32 {
            let mut client = Client::new(&server.url, &identity(KYOTAKU)).unwrap();
            let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
            client
                .login(&user, DEMO_PASSWORD, &format!("pc-{worker}"), "1.2.0")
                .await
                .unwrap();
            let acked = acked.clone();
            let with_serial = with_serial.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..10_000u32 {
                    let serial = format!("2025{:02}{:08}", 1 + worker, i);
                    let to = [Destination {
                        office: PROVIDER.to_owned(),
                        service_type: None,
                    }];
                    match client.send(&to, "", &with_serial(&serial), false).await {
                        Ok(r) => acked.lock().unwrap().push((r.ids[0], serial)),
                        Err(_) => break, // the server is gone
                    }
                }
            }));
        }
        // Let the loop run, then kill the server while requests are in flight.
        while acked.lock().unwrap().len() < 60 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        server.kill();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 60);

    let server = Server::start(&dir);
    rt.block_on(async {
        let mut provider = Client::new(&server.url, &identity(PROVIDER)).unwrap();
        let user = demo_user_id(&OfficeNumber::parse(PROVIDER).unwrap());
        provider
            .login(&user, DEMO_PASSWORD, "pc", "1.2.0")
            .await
            .unwrap();
        let items = provider.inbox().await.unwrap();
        for (id, serial) in &acked {
            assert!(
                items.iter().any(|i| i.id == *id),
                "acknowledged send {id} ({serial}) was lost"
            );
        }
        // Every stored send is whole: three files whose bytes are the originals.
        for item in &items {
            assert_eq!(item.files.len(), 3, "send {} is partial", item.id);
            let serial = item.serial.clone().unwrap();
            let expected = with_serial(&serial);
            for f in &item.files {
                let bytes = provider.download(item.id, f.id).await.unwrap();
                let want = &expected.iter().find(|(n, _)| *n == f.name).unwrap().1;
                assert_eq!(&bytes, want, "{} of send {}", f.name, item.id);
            }
        }
        assert!(items.len() >= acked.len());
    });
    drop(server);
}

/// Runs a command line as `cpkit serve` printed it, from the server's folder.
fn pasted(dir: &TempDir, line: &str) -> Output {
    let words: Vec<&str> = line.split_whitespace().collect();
    Command::new(words[0])
        .args(&words[1..])
        .current_dir(&dir.0)
        .output()
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn the_next_steps_serve_prints_work_when_pasted() {
    let dir = TempDir::new();
    let server = Server::start(&dir);
    let start = server
        .banner
        .iter()
        .position(|l| l.starts_with("next, in a second terminal"))
        .expect("next steps");
    let steps: Vec<&String> = server.banner[start + 1..]
        .iter()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert_eq!(steps.len(), 4, "{:#?}", server.banner);
    for step in &steps {
        let out = pasted(&dir, step);
        assert!(
            out.status.success(),
            "{step}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        // Each client command says what to do next.
        assert!(text.contains("next: "), "{step}: {text}");
    }
    let received = dir.0.join("received").join(PROVIDER);
    let item = std::fs::read_dir(&received)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read_dir(&item).unwrap().count(),
        4,
        "three files and the item record"
    );
    // One line per request on the serve terminal: office, terminal, action, result.
    let line = server.wait_for_log(&[
        "office 0310000100",
        "terminal cpkit-terminal",
        "POST /v1/sends",
        "200",
    ]);
    assert!(line.contains("cpkit::request"), "{line}");
}

#[test]
fn fetch_runs_again_into_the_same_folder_and_one_bad_item_does_not_block_the_rest() {
    let dir = TempDir::new();
    let server = Server::start(&dir);
    issue(&dir, KYOTAKU);
    issue(&dir, PROVIDER);
    let certs = dir.join("certs");
    let client = |extra: &[&str]| {
        let mut args = vec![extra[0], "--url", &server.url, "--certs", &certs];
        args.extend_from_slice(&extra[1..]);
        cpkit(&args)
    };
    // An attachment named message.txt, with a message: the hub's own name must not collide.
    let unit = workspace().join("golden/valid/v4.1/riyohyo-minimal");
    let attachment = Path::new(&dir.join("message.txt")).to_path_buf();
    std::fs::write(&attachment, "添付のメモ").unwrap();
    ok(client(&[
        "send",
        "--office",
        KYOTAKU,
        "--to",
        PROVIDER,
        "--message",
        "6月分",
        unit.to_str().unwrap(),
        attachment.to_str().unwrap(),
    ]));
    let out = dir.join("received");
    let fetch = |extra: &[&str]| {
        let mut args = vec!["fetch", "--office", PROVIDER, "--out", out.as_str()];
        args.extend_from_slice(extra);
        client(&args)
    };
    let first = ok(fetch(&[]));
    assert!(first.contains("1 item fetched"), "{first}");
    let office_dir = Path::new(&out).join(PROVIDER);
    let item = std::fs::read_dir(&office_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read_to_string(item.join("message.txt")).unwrap(),
        "添付のメモ"
    );
    assert_eq!(
        std::fs::read_to_string(item.join(".message.txt")).unwrap(),
        "6月分"
    );
    // Again: nothing new, nothing fails.
    let again = ok(fetch(&[]));
    assert!(
        again.contains("0 items fetched, 1 item already in"),
        "{again}"
    );
    // Two new items; the first of them cannot be written (its folder's place is taken).
    for serial in ["20250527090001", "20250527090002"] {
        let files: Vec<String> = std::fs::read_dir(&unit)
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let renamed = Path::new(&dir.join(serial)).join(
                    p.file_name()
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .replace("20250527090000", serial),
                );
                std::fs::create_dir_all(renamed.parent().unwrap()).unwrap();
                std::fs::copy(&p, &renamed).unwrap();
                renamed.to_str().unwrap().to_owned()
            })
            .collect();
        let mut args = vec!["send", "--office", KYOTAKU, "--to", PROVIDER];
        args.extend(files.iter().map(String::as_str));
        ok(client(&args));
    }
    std::fs::write(office_dir.join(".partial-2"), "in the way").unwrap();
    let partly = fetch(&[]);
    assert_eq!(partly.status.code(), Some(2), "a local write failure");
    let text = String::from_utf8_lossy(&partly.stdout);
    assert!(
        text.contains("#3 from"),
        "the item after the bad one was written: {text}"
    );
    let err = String::from_utf8_lossy(&partly.stderr);
    assert!(err.contains("item #2"), "{err}");
    // Once the obstacle is gone, the next run fetches only what is missing.
    std::fs::remove_file(office_dir.join(".partial-2")).unwrap();
    let rest = ok(fetch(&[]));
    assert!(
        rest.contains("1 item fetched, 2 items already in"),
        "{rest}"
    );
    let mut names: Vec<String> = std::fs::read_dir(&office_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Name order is import order (ascending 連番), although #2 was written after #3.
    assert_eq!(
        names,
        [
            "20250527090000_0000000001",
            "20250527090001_0000000002",
            "20250527090002_0000000003"
        ],
        "{names:?}"
    );
    // --json: one document saying what was fetched, skipped and failed.
    let listed = ok(fetch(&["--json", "--id", "3", "--overwrite"]));
    let doc: serde_json::Value = serde_json::from_str(&listed)
        .unwrap_or_else(|e| panic!("fetch --json printed no JSON ({e}): {listed}"));
    let office = &doc["offices"][PROVIDER];
    assert_eq!(office["fetched"][0]["id"], 3, "{doc}");
    assert_eq!(office["fetched"][0]["serial"], "20250527090002", "{doc}");
    assert!(
        office["fetched"][0]["folder"]
            .as_str()
            .unwrap()
            .ends_with("20250527090002_0000000003"),
        "{doc}"
    );
    assert_eq!(office["skipped"], serde_json::json!([]), "{doc}");
    assert_eq!(office["failed"], serde_json::json!([]), "{doc}");
    let again = ok(fetch(&["--json"]));
    let doc: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        doc["offices"][PROVIDER]["skipped"],
        serde_json::json!([1, 2, 3]),
        "{doc}"
    );
    // --overwrite fetches everything again into the same folders.
    let all = ok(fetch(&["--overwrite"]));
    assert!(all.contains("3 items fetched"), "{all}");
    assert_eq!(std::fs::read_dir(&office_dir).unwrap().count(), 3);
}

#[test]
fn client_commands_have_distinct_exit_codes_and_clear_messages() {
    let dir = TempDir::new();
    let server = Server::start(&dir);
    issue(&dir, KYOTAKU);
    let certs = dir.join("certs");
    let unit = workspace().join("golden/valid/v4.1/riyohyo-minimal");
    let send = |url: &str, to: &str| {
        cpkit(&[
            "send",
            "--url",
            url,
            "--certs",
            &certs,
            "--office",
            KYOTAKU,
            "--to",
            to,
            unit.to_str().unwrap(),
        ])
    };
    // 1: the exchange refused.
    assert_eq!(send(&server.url, "0399999999").status.code(), Some(1));
    // 3: nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let o = send(&format!("https://127.0.0.1:{closed}"), PROVIDER);
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("is `cpkit serve` running?"), "{err}");
    assert_eq!(err.matches("refused").count(), 1, "the OS text once: {err}");
    assert!(!err.contains("os error"), "{err}");
    // 2: usage — including a plain http:// URL, which gets the https:// to use.
    let o = send(&server.url.replace("https://", "http://"), PROVIDER);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("use {}", server.url)), "{err}");
    assert_eq!(cpkit(&["send", "--office", KYOTAKU]).status.code(), Some(2));
    // certs issue does not replace an office's certificate unless told to.
    let again = cpkit(&["certs", "issue", "--certs", &certs, "--office", KYOTAKU]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    ok(cpkit(&[
        "certs", "issue", "--dir", &certs, "--office", KYOTAKU, "--force",
    ]));
}

#[test]
fn a_second_serve_on_the_same_data_is_refused_and_sigterm_stops_gracefully() {
    let dir = TempDir::new();
    let first = Server::start(&dir);
    let second = Command::new(env!("CARGO_BIN_EXE_cpkit"))
        .args([
            "serve",
            "--data",
            &dir.join("data"),
            "--certs",
            &dir.join("certs"),
            "--listen",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(2));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(
        err.contains(&format!("PID {}", first.child.id())) && err.contains("--data"),
        "{err}"
    );
    let mut first = first;
    let term = Command::new("kill")
        .args(["-TERM", &first.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = first.child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM stops like Ctrl-C");
    // The folder is free again.
    let third = Server::start(&dir);
    drop(third);
}

/// Keys, certificates and the PKI folder keep their modes whatever the umask (a fresh probe found
/// a 0777 folder and 0666 CA files under `umask 000`).
#[test]
fn the_pki_is_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new();
    let certs = dir.join("certs");
    let script = format!(
        "umask 000 && {bin} certs init --certs {certs} && {bin} certs issue --certs {certs} --office 0310000100",
        bin = env!("CARGO_BIN_EXE_cpkit"),
    );
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut checked = 0;
    let mut stack = vec![PathBuf::from(&certs)];
    while let Some(p) = stack.pop() {
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        if p.is_dir() {
            assert_eq!(mode, 0o700, "{}", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let key = p.to_string_lossy().contains("key");
            assert_eq!(mode, if key { 0o600 } else { 0o644 }, "{}", p.display());
        }
        checked += 1;
    }
    assert!(checked > 6, "{checked} paths");
}

/// A listing piped into a reader that stops early ends quietly (a fresh probe found `certs show |
/// head` panicking with exit 101 in most runs).
#[test]
fn a_listing_into_a_closed_pipe_ends_without_a_panic() {
    let dir = TempDir::new();
    let certs = dir.join("certs");
    ok(cpkit(&["certs", "init", "--certs", &certs]));
    for n in 0..8 {
        let office = format!("03100001{n:02}");
        ok(cpkit(&[
            "certs", "issue", "--certs", &certs, "--office", &office,
        ]));
    }
    let script = format!(
        "for i in 1 2 3 4 5 6; do {bin} certs show --certs {certs} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}; done",
        bin = env!("CARGO_BIN_EXE_cpkit"),
    );
    let out = Command::new("bash").args(["-c", &script]).output().unwrap();
    let codes = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    for code in codes.split_whitespace() {
        // 0 when the listing fitted the pipe before it closed, 141 (SIGPIPE) otherwise.
        assert!(matches!(code, "0" | "141"), "exit {code}: {codes}");
    }
}

fn status_kb(pid: u32, field: &str) -> u64 {
    careplan_mock_server::memory::status_kb(Some(pid), field).unwrap_or(0)
}

#[cfg(target_os = "linux")]
#[test]
fn concurrent_large_uploads_hold_a_bounded_amount_and_give_it_back() {
    // 16 concurrent sends of 10 MB against an upload budget of 8 MiB: the hub holds at most one
    // upload at a time (each takes the whole budget), so its peak may grow by a few copies of one
    // send, not by the 160 MB sent at once, and once the burst is over it is back near idle.
    const MB: u64 = 1024 * 1024;
    let dir = TempDir::new();
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        format!(
            "[limits]\nmax_bytes_in_flight = {}\nmax_connections_per_certificate = 64\npassword_iterations = 1000\nbusy_wait_seconds = 600\n",
            8 * MB
        ),
    )
    .unwrap();
    let server = Server::start_with(&dir, &["--config", &config, "--no-console"]);
    issue(&dir, KYOTAKU);
    let certs = Path::new(&dir.join("certs")).to_path_buf();
    let identity = Identity::new(
        certs.join("ca/ca.pem"),
        certs.join(format!("offices/{KYOTAKU}/client.pem")),
        certs.join(format!("offices/{KYOTAKU}/client.key")),
    );
    let pid = server.child.id();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (idle, peak, after) = rt.block_on(async {
        let user = demo_user_id(&OfficeNumber::parse(KYOTAKU).unwrap());
        let mut clients = Vec::new();
        for t in 0..16 {
            let mut c = Client::new(&server.url, &identity).unwrap();
            c.login(&user, DEMO_PASSWORD, &format!("pc-{t}"), "1.2.0")
                .await
                .unwrap();
            clients.push(c);
        }
        let idle = status_kb(pid, "VmRSS:");
        let pdf = Arc::new(vec![(
            String::from("資料.pdf"),
            vec![b'%'; (10 * MB) as usize],
        )]);
        let tasks: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                let pdf = pdf.clone();
                tokio::spawn(async move {
                    let to = [Destination {
                        office: PROVIDER.to_owned(),
                        service_type: None,
                    }];
                    c.send(&to, "", &pdf, false).await.map(drop)
                })
            })
            .collect();
        for (i, t) in tasks.into_iter().enumerate() {
            if let Err(e) = t.await.unwrap() {
                panic!("send {i} failed: {e}");
            }
        }
        let peak = status_kb(pid, "VmHWM:");
        // What is given back is given back shortly after the last answer.
        let mut after = status_kb(pid, "VmRSS:");
        for _ in 0..30 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            after = after.min(status_kb(pid, "VmRSS:"));
        }
        (idle, peak, after)
    });
    let (idle_mb, peak_mb, after_mb) = (idle / 1024, peak / 1024, after / 1024);
    eprintln!("hub resident memory: idle {idle_mb} MB, peak {peak_mb} MB, after {after_mb} MB");
    assert!(idle > 0, "no /proc figures for the hub");
    // One send is held as read (SQLite writes it into its blob in place), plus buffers: 3 × one
    // send is the bound (before: 6–7 ×, and all of it still held after).
    assert!(
        peak_mb <= idle_mb + 30,
        "the peak grew by {} MB for uploads held one at a time (idle {idle_mb} MB)",
        peak_mb - idle_mb
    );
    assert!(
        after_mb <= idle_mb + 16,
        "the hub still holds {} MB after the uploads (idle {idle_mb} MB)",
        after_mb - idle_mb
    );
}
