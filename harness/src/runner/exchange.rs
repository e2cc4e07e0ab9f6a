//! Exchange access for a scenario: the kit's own exchange client acting for the offices. It owns
//! the logged-in sessions (one per office and terminal), what each terminal has already seen of
//! its inbox, the exchange's clock, and the scenario's transcript of every call
//! ([`ExchangeCall`]). Steps ask it to send, list or fetch; judging what came back is theirs.

use std::collections::{BTreeMap, BTreeSet};

use careplan_mock_server::client::{Client, ClientError};
use careplan_mock_server::config::{DEMO_PASSWORD, demo_user_id};
use careplan_mock_server::hub::{Destination, SendReceipt};
use careplan_mock_server::server::RunningServer;

use super::office::OfficeRun;
use crate::outcome::ExchangeCall;
use crate::software::StoredFile;

/// What a `list` or `fetch` saw: the items new on the terminal, their files and messages.
#[derive(Default)]
pub(super) struct Inbox {
    pub items: usize,
    pub files: Vec<StoredFile>,
    pub messages: Vec<String>,
}

/// The scenario's exchange, as the kit's client reaches it.
pub(super) struct Exchange<'a> {
    server: &'a RunningServer,
    url: String,
    /// Logged-in clients per (office id, terminal).
    sessions: BTreeMap<(String, String), Client>,
    /// Inbox items already fetched, per (office id, terminal): `list` and `fetch` report (and
    /// `fetch` downloads) the others. A `list` does not mark them, so `list` then `fetch`
    /// downloads what was listed.
    seen: BTreeMap<(String, String), BTreeSet<i64>>,
    /// The step being run (1-based), for the transcript.
    pub step: usize,
    pub transcript: Vec<ExchangeCall>,
}

impl<'a> Exchange<'a> {
    pub fn new(server: &'a RunningServer) -> Self {
        Self {
            server,
            url: server.url(),
            sessions: BTreeMap::new(),
            seen: BTreeMap::new(),
            step: 0,
            transcript: Vec::new(),
        }
    }

    /// Moves the exchange's clock to `offset` seconds from the real one. Sessions do not outlive a
    /// jump in time: every terminal logs in again.
    pub fn set_clock_offset(&mut self, offset: i64) -> Result<(), String> {
        self.sessions.clear();
        self.server
            .hub
            .set_clock_offset(offset)
            .map_err(|e| e.to_string())
    }

    fn record(&mut self, o: &OfficeRun, terminal: &str, call: &'static str, request: String) {
        self.transcript.push(ExchangeCall {
            step: self.step,
            office: o.spec.id.clone(),
            terminal: terminal.to_owned(),
            call: call.to_owned(),
            request,
            ok: true,
            answer: String::new(),
        });
    }

    /// Completes the last transcript entry with the exchange's answer.
    fn answered<T>(&mut self, result: &Result<T, ClientError>, ok: impl FnOnce(&T) -> String) {
        if let Some(last) = self.transcript.last_mut() {
            match result {
                Ok(v) => last.answer = ok(v),
                Err(e) => {
                    last.ok = false;
                    last.answer = error_text(e);
                }
            }
        }
    }

    /// The logged-in client of a terminal (connects and logs in on first use).
    async fn client(&mut self, o: &OfficeRun, terminal: &str) -> Result<&mut Client, ClientError> {
        let key = (o.spec.id.clone(), terminal.to_owned());
        if !self.sessions.contains_key(&key) {
            let user = demo_user_id(&o.number);
            let version = o.software.client_version();
            self.record(o, terminal, "login", format!("{user} client {version}"));
            let result = async {
                let mut client = Client::new(&self.url, &o.identity)?;
                client
                    .login(&user, DEMO_PASSWORD, terminal, &version)
                    .await?;
                Ok(client)
            }
            .await;
            self.answered(&result, |_| "logged in".to_owned());
            self.sessions.insert(key.clone(), result?);
        }
        Ok(self.sessions.get_mut(&key).expect("inserted above"))
    }

    /// Sends files to one destination in one send.
    pub async fn send(
        &mut self,
        o: &OfficeRun,
        terminal: &str,
        destination: &Destination,
        message: &str,
        files: &[(String, Vec<u8>)],
    ) -> Result<SendReceipt, ClientError> {
        let client = self.client(o, terminal).await?;
        let result = client
            .send(std::slice::from_ref(destination), message, files, false)
            .await;
        let names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
        self.record(
            o,
            terminal,
            "send",
            format!("to {}: {}", destination.office, names.join(", ")),
        );
        self.answered(&result, |r| {
            r.deliveries
                .iter()
                .map(|d| format!("send {} → {}", d.id, d.to_office))
                .collect::<Vec<_>>()
                .join(", ")
        });
        result
    }

    /// Lists the inbox of a terminal and keeps the items new on it; with `fetch`, downloads their
    /// files and marks them seen.
    pub async fn inbox(
        &mut self,
        o: &OfficeRun,
        terminal: &str,
        fetch: bool,
    ) -> Result<Inbox, ClientError> {
        let key = (o.spec.id.clone(), terminal.to_owned());
        let mut seen = self.seen.get(&key).cloned().unwrap_or_default();
        let client = self.client(o, terminal).await?;
        let listed = client.inbox().await;
        self.record(o, terminal, "inbox", String::new());
        self.answered(&listed, |items| {
            let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
            format!("items {}", ids.join(", "))
        });
        let mut items = listed?;
        // The inbox keeps its history; a step is about the items new on this terminal.
        items.retain(|i| seen.insert(i.id));
        let messages = items.iter().map(|i| i.message.clone()).collect();
        let mut files = Vec::new();
        if fetch {
            for item in &items {
                for f in &item.files {
                    let client = self.client(o, terminal).await?;
                    let bytes = client.download(item.id, f.id).await;
                    self.record(
                        o,
                        terminal,
                        "download",
                        format!("item {} file {} {}", item.id, f.id, f.name),
                    );
                    self.answered(&bytes, |b| {
                        let digest = ring::digest::digest(&ring::digest::SHA256, b);
                        let hex: String = digest.as_ref()[..8]
                            .iter()
                            .map(|x| format!("{x:02x}"))
                            .collect();
                        format!("{} bytes, sha256 {hex}…", b.len())
                    });
                    files.push(StoredFile {
                        name: f.name.clone(),
                        bytes: bytes?,
                    });
                }
            }
            self.seen.insert(key, seen);
        }
        Ok(Inbox {
            items: items.len(),
            files,
            messages,
        })
    }
}

/// The text of an exchange error that `expect.error` is matched against.
pub(super) fn error_text(e: &ClientError) -> String {
    match e.refusal() {
        Some(h) => format!("{} {} {}", h.code.as_str(), h.message_ja, h.message_en),
        None => e.to_string(),
    }
}

/// Whether a client error is the kit's own trouble (no connection, unreadable credentials, an
/// answer the client does not understand) rather than the exchange refusing.
pub(super) fn kit_side(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Url(_)
            | ClientError::Credentials { .. }
            | ClientError::Connect { .. }
            | ClientError::Protocol { .. }
    )
}
