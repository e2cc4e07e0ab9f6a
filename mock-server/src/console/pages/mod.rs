//! The console's pages. Each module owns one page (its routes, its view model, its template) and
//! exposes it as a [`Page`]; [`PAGES`] is the one list the router is built from, and the pages
//! with a [`Nav`] entry form the navigation bar in that order.
//!
//! Pages reach the hub only through [`super::bridge`] and the acting terminal's client
//! ([`super::bench::Actor`]); the helpers here render a page with the shared frame (language,
//! CSRF value, navigation, the terminal acted as, messages).

pub mod act;
pub mod audit;
pub mod common;
pub mod compose;
pub mod files;
pub mod inbox;
pub mod outbox;
pub mod registry;
pub mod sends;

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::Console;
use super::bench::{Actor, ActorKey};
use super::security::Visitor;
use crate::error::HubError;

/// A navigation entry.
pub struct Nav {
    pub path: &'static str,
    /// Text key of the label.
    pub label: &'static str,
    /// Access key (Alt+key, or Alt+Shift+key in some browsers).
    pub key: &'static str,
}

/// One page: an id, its navigation entry (if it has one) and its routes.
pub struct Page {
    pub id: &'static str,
    pub nav: Option<Nav>,
    pub routes: fn(Router<Console>) -> Router<Console>,
}

/// Every page, in navigation order.
pub const PAGES: &[Page] = &[
    common::PAGE,
    registry::PAGE,
    act::PAGE,
    compose::PAGE,
    outbox::PAGE,
    inbox::PAGE,
    audit::PAGE,
    sends::PAGE,
    files::PAGE,
];

#[derive(Serialize)]
struct NavView {
    id: &'static str,
    path: &'static str,
    label: &'static str,
    key: &'static str,
}

/// Who the console acts as, for the page frame.
#[derive(Serialize)]
struct ActorView {
    office: String,
    office_name: String,
    terminal: String,
    user: String,
}

/// A failure while building a page.
#[derive(Debug)]
pub enum PageError {
    Hub(HubError),
    Render(String),
    NotFound,
    BadRequest(String),
}

impl From<HubError> for PageError {
    fn from(e: HubError) -> Self {
        Self::Hub(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let templates = super::render::Templates::new().ok();
        let (status, ja, en) = match &self {
            Self::Hub(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                e.message_ja.clone(),
                e.message_en.clone(),
            ),
            Self::Render(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "ページを表示できませんでした。".to_owned(),
                e.clone(),
            ),
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "ページが見つかりません。".to_owned(),
                "no such page".to_owned(),
            ),
            Self::BadRequest(e) => (
                StatusCode::BAD_REQUEST,
                "要求の形式に誤りがあります。".to_owned(),
                e.clone(),
            ),
        };
        let body = templates
            .map(|t| t.error(status.as_u16(), &ja, &en))
            .unwrap_or_else(|| format!("{status}: {en}"));
        (status, Html(body)).into_response()
    }
}

pub type PageResult = Result<Response, PageError>;

/// Runs store work on the blocking pool.
pub async fn blocking<T: Send + 'static>(
    c: &Console,
    f: impl FnOnce(&Console) -> Result<T, HubError> + Send + 'static,
) -> Result<T, HubError> {
    let c = c.clone();
    crate::api::blocking(move || f(&c)).await
}

/// A download: the bytes with their name (RFC 5987, as the hub's own downloads).
pub fn attachment(name: &str, content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static(content_type),
            ),
            (
                header::CONTENT_DISPOSITION,
                crate::api::content_disposition(name),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// `303 See Other` to a path of the console.
pub fn redirect(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response()
}

/// The terminal this browser session acts as, if it still is logged in.
pub fn actor_of(c: &Console, v: &Visitor) -> Option<(ActorKey, Arc<tokio::sync::Mutex<Actor>>)> {
    let key = c.bench.desk(&v.sid, |d| d.actor.clone())?;
    let actor = c.bench.actor(&key)?;
    Some((key, actor))
}

/// Renders a page inside the shared frame.
pub fn render(
    c: &Console,
    v: &Visitor,
    uri: &Uri,
    page: &str,
    template: &str,
    data: impl Serialize,
) -> PageResult {
    let (lang, actor, flashes) = c.bench.desk(&v.sid, |d| {
        (d.lang, d.actor.clone(), std::mem::take(&mut d.flashes))
    });
    let actor = actor
        .filter(|k| c.bench.actor(k).is_some())
        .map(|k| ActorView {
            office_name: c
                .hub
                .store
                .office(&k.office)
                .ok()
                .flatten()
                .map(|o| o.name)
                .unwrap_or_default(),
            office: k.office,
            terminal: k.terminal,
            user: k.user,
        });
    let nav: Vec<NavView> = PAGES
        .iter()
        .filter_map(|p| {
            p.nav.as_ref().map(|n| NavView {
                id: p.id,
                path: n.path,
                label: n.label,
                key: n.key,
            })
        })
        .collect();
    let ctx = minijinja::context! {
        lang => lang.tag(),
        csrf => v.csrf.clone(),
        nav => Value::from(Serde(&nav)),
        active => page,
        title => format!("title.{page}"),
        actor => Value::from(Serde(&actor)),
        flashes => Value::from(Serde(&flashes)),
        path => uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".to_owned()),
        hub_url => c.hub_url.clone(),
        version => env!("CARGO_PKG_VERSION"),
        page => Value::from(Serde(&data)),
    };
    let html = c
        .templates
        .render(template, ctx)
        .map_err(PageError::Render)?;
    Ok(Html(html).into_response())
}

/// The page shown when a page needs a terminal and none is chosen.
pub fn need_actor(c: &Console, v: &Visitor, uri: &Uri, page: &str) -> PageResult {
    render(c, v, uri, page, "need_actor.html", ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_named_by_value_in_templates_exist() {
        use crate::config::{Licence, PasswordState, ReceiveMode};
        let has = super::super::i18n::has;
        for l in [
            Licence::None,
            Licence::Applied,
            Licence::Active,
            Licence::Expired,
        ] {
            assert!(has(&format!("licence.{}", l.tag())), "{l:?}");
        }
        for p in [
            PasswordState::Active,
            PasswordState::Temporary,
            PasswordState::Expired,
        ] {
            assert!(has(&format!("password.{}", p.tag())), "{p:?}");
        }
        for m in [ReceiveMode::FirstListerWins, ReceiveMode::Shared] {
            let tag = serde_json::to_value(m).unwrap();
            assert!(has(&format!("mode.{}", tag.as_str().unwrap())), "{m:?}");
        }
        for c in ["valid", "expired", "not-yet-valid", "revoked", "other-ca"] {
            assert!(has(&format!("cert.{c}")), "{c}");
        }
        for k in [
            "result.any",
            "result.ok",
            "result.refused",
            "state.draft",
            "state.sent",
        ] {
            assert!(has(k), "{k}");
        }
        for (a, _) in audit::ACTIONS {
            assert!(has(&format!("action.{a}")), "{a}");
        }
    }

    #[test]
    fn page_ids_are_unique_and_every_nav_entry_has_a_title_and_label() {
        let mut ids = std::collections::BTreeSet::new();
        for p in PAGES {
            assert!(ids.insert(p.id), "duplicate page {}", p.id);
            if let Some(n) = &p.nav {
                assert!(super::super::i18n::has(n.label), "{}", n.label);
                assert!(
                    super::super::i18n::has(&format!("title.{}", p.id)),
                    "title.{}",
                    p.id
                );
            }
        }
    }
}
