//! The operator's bench: per browser session a [`Desk`] (language, the office and terminal it acts
//! as, the send being composed, messages for the next page), and the logged-in terminals
//! ([`Actor`]s), each a real client of the hub holding its session token. Both are bounded.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::checks::FindingView;
use crate::client::Client;
use crate::error::HubError;
use crate::hub::Caller;

/// Logged-in terminals kept at most; the oldest login goes first.
pub const MAX_ACTORS: usize = 64;

/// The page language.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    pub fn tag(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ja" => Some(Self::Ja),
            "en" => Some(Self::En),
            _ => None,
        }
    }
}

/// Who the console acts as: an office, one of its users, a terminal name and a certificate file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ActorKey {
    pub office: String,
    pub user: String,
    pub terminal: String,
    /// The certificate's file stem under `certs/offices/<office>/` (`client`, `expired`, …).
    pub cert: String,
    pub client_version: String,
}

/// A terminal logged in to the hub.
pub struct Actor {
    pub key: ActorKey,
    pub client: Client,
    pub caller: Caller,
    pub office_name: String,
}

/// A message shown once on the next page (the outcome of a form).
#[derive(Debug, Clone, Serialize, Default)]
pub struct Flash {
    /// `ok`, `error` or `info`.
    pub kind: &'static str,
    pub ja: String,
    pub en: String,
    /// The hub's refusal code, when the hub refused.
    pub code: Option<String>,
    pub file: Option<String>,
    pub findings: Vec<FindingView>,
    /// (href, label) pairs: what the action created.
    pub links: Vec<(String, String)>,
}

impl Flash {
    pub fn ok(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            kind: "ok",
            ja: ja.into(),
            en: en.into(),
            ..Self::default()
        }
    }

    pub fn error(ja: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            kind: "error",
            ja: ja.into(),
            en: en.into(),
            ..Self::default()
        }
    }

    /// A refusal of the hub, in its own words.
    pub fn refusal(e: &HubError) -> Self {
        Self {
            kind: "error",
            ja: e.message_ja.clone(),
            en: e.message_en.clone(),
            code: Some(e.code.as_str().to_owned()),
            file: e.file.clone(),
            findings: FindingView::list_in(e.detail.as_ref()),
            links: Vec::new(),
        }
    }

    pub fn link(mut self, href: impl Into<String>, label: impl Into<String>) -> Self {
        self.links.push((href.into(), label.into()));
        self
    }
}

/// A file added to the send being composed.
#[derive(Debug, Clone)]
pub struct Draft {
    pub name: String,
    pub content: Arc<Vec<u8>>,
}

/// The hub's verdict on the composed send (a dry run of its checks; nothing stored).
#[derive(Debug, Clone, Serialize)]
pub enum Verdict {
    /// One entry per destination: office, unit, serial, files routed there.
    Accepted(Vec<PreviewDelivery>),
    Refused(Flash),
}

#[derive(Debug, Clone, Serialize)]
pub struct PreviewDelivery {
    pub to_office: String,
    pub to_type: Option<String>,
    pub unit: Option<String>,
    pub serial: Option<String>,
    pub files: Vec<String>,
}

/// The send being composed.
#[derive(Debug, Clone, Default)]
pub struct Compose {
    pub files: Vec<Draft>,
    pub to: String,
    pub message: String,
    pub verdict: Option<Verdict>,
}

impl Compose {
    pub fn bytes(&self) -> usize {
        self.files.iter().map(|f| f.content.len()).sum()
    }
}

/// One browser session's state.
#[derive(Debug, Default)]
pub struct Desk {
    pub lang: Lang,
    pub actor: Option<ActorKey>,
    pub flashes: Vec<Flash>,
    pub compose: Compose,
}

#[derive(Default)]
struct Actors {
    clock: u64,
    map: BTreeMap<ActorKey, (u64, Arc<tokio::sync::Mutex<Actor>>)>,
}

/// Every desk and every logged-in terminal.
#[derive(Default)]
pub struct Bench {
    desks: Mutex<HashMap<String, Desk>>,
    actors: Mutex<Actors>,
}

impl Bench {
    /// Runs `f` on a session's desk (created on first use).
    pub fn desk<R>(&self, sid: &str, f: impl FnOnce(&mut Desk) -> R) -> R {
        let mut desks = self.desks.lock().unwrap_or_else(|p| p.into_inner());
        f(desks.entry(sid.to_owned()).or_default())
    }

    /// Drops a session's desk (its browser session was forgotten).
    pub fn forget(&self, sid: &str) {
        self.desks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(sid);
    }

    pub fn flash(&self, sid: &str, flash: Flash) {
        self.desk(sid, |d| d.flashes.push(flash));
    }

    pub fn actor(&self, key: &ActorKey) -> Option<Arc<tokio::sync::Mutex<Actor>>> {
        let actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        actors.map.get(key).map(|(_, a)| a.clone())
    }

    /// Keeps a logged-in terminal (replacing one with the same key).
    pub fn put_actor(&self, actor: Actor) {
        let mut actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        actors.clock += 1;
        let now = actors.clock;
        if actors.map.len() >= MAX_ACTORS
            && !actors.map.contains_key(&actor.key)
            && let Some(oldest) = actors
                .map
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone())
        {
            actors.map.remove(&oldest);
        }
        actors.map.insert(
            actor.key.clone(),
            (now, Arc::new(tokio::sync::Mutex::new(actor))),
        );
    }

    pub fn remove_actor(&self, key: &ActorKey) {
        self.actors
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .remove(key);
    }

    /// Every logged-in terminal, by office, user and terminal.
    pub fn actor_keys(&self) -> Vec<ActorKey> {
        let actors = self.actors.lock().unwrap_or_else(|p| p.into_inner());
        actors.map.keys().cloned().collect()
    }
}
