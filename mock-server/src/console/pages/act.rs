//! Choosing who the console acts as: log a terminal in as an office (its user, password, terminal
//! name, client version and certificate file), switch between logged-in terminals, log one out.
//! The login goes through the hub's `/v1/login`, so its refusals are the hub's.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{Nav, Page, PageResult, blocking, redirect, render};
use crate::client::CLIENT_VERSION;
use crate::console::Console;
use crate::console::bench::{ActorKey, Flash};
use crate::console::bridge;
use crate::console::security::Visitor;
use crate::store::operator::UserState;

pub const PAGE: Page = Page {
    id: "act",
    nav: Some(Nav {
        path: "/act",
        label: "nav.act",
        key: "2",
    }),
    routes,
};

/// The terminal name the quick buttons log in with.
pub const DEFAULT_TERMINAL: &str = "PC-1";

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/act", get(show))
        .route("/act/login", post(login))
        .route("/act/switch", post(switch))
}

#[derive(Serialize)]
struct OfficeChoice {
    number: String,
    name: String,
    service_types: Vec<String>,
    user: Option<String>,
}

#[derive(Serialize)]
struct ActorChoice {
    key: ActorKey,
    current: bool,
}

#[derive(Serialize)]
struct View {
    offices: Vec<OfficeChoice>,
    users: Vec<UserState>,
    actors: Vec<ActorChoice>,
    cert_names: Vec<String>,
    default_terminal: &'static str,
    client_version: &'static str,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri) -> PageResult {
    let (offices, users, cert_names) = blocking(&c, |c| {
        let registry = bridge::registry(c)?;
        let users = c.hub.store.users()?;
        let mut certs: Vec<String> = registry
            .offices
            .iter()
            .flat_map(|o| o.certs.iter().map(|x| x.name.clone()))
            .collect();
        certs.sort();
        certs.dedup();
        let offices = registry
            .offices
            .into_iter()
            .map(|o| OfficeChoice {
                user: bridge::default_user(c, &o.office.number),
                number: o.office.number,
                name: o.office.name,
                service_types: o.office.service_types,
            })
            .collect();
        Ok((offices, users, certs))
    })
    .await?;
    let current = c.bench.desk(&v.sid, |d| d.actor.clone());
    let actors = c
        .bench
        .actor_keys()
        .into_iter()
        .map(|key| ActorChoice {
            current: current.as_ref() == Some(&key),
            key,
        })
        .collect();
    let view = View {
        offices,
        users,
        actors,
        cert_names,
        default_terminal: DEFAULT_TERMINAL,
        client_version: CLIENT_VERSION,
    };
    render(&c, &v, &uri, PAGE.id, "act.html", view)
}

#[derive(Deserialize)]
struct LoginForm {
    office: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    terminal: String,
    #[serde(default)]
    client_version: String,
    #[serde(default)]
    cert: String,
}

fn or(text: &str, default: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        default.to_owned()
    } else {
        t.to_owned()
    }
}

async fn login(State(c): State<Console>, v: Visitor, Form(f): Form<LoginForm>) -> Response {
    let office = f.office.trim().to_owned();
    let user = if f.user.trim().is_empty() {
        let o = office.clone();
        blocking(&c, move |c| Ok(bridge::default_user(c, &o)))
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
    } else {
        f.user.trim().to_owned()
    };
    let key = ActorKey {
        office,
        user,
        terminal: or(&f.terminal, DEFAULT_TERMINAL),
        cert: or(&f.cert, "client"),
        client_version: or(&f.client_version, CLIENT_VERSION),
    };
    match bridge::log_in(&c, key.clone(), Some(f.password)).await {
        Ok(actor) => {
            c.bench.put_actor(actor);
            c.bench.desk(&v.sid, |d| d.actor = Some(key.clone()));
            c.bench.flash(
                &v.sid,
                Flash::ok(
                    format!(
                        "{} として端末 {} でログインしました（ユーザ {}）。",
                        key.office, key.terminal, key.user
                    ),
                    format!(
                        "logged in as office {} on terminal {} (user {})",
                        key.office, key.terminal, key.user
                    ),
                )
                .link("/compose", "送信 / Send")
                .link("/inbox", "受信一覧 / Inbox"),
            );
        }
        Err(flash) => c.bench.flash(&v.sid, flash),
    }
    redirect("/act")
}

#[derive(Deserialize)]
struct SwitchForm {
    office: String,
    user: String,
    terminal: String,
    cert: String,
    client_version: String,
    op: String,
}

async fn switch(State(c): State<Console>, v: Visitor, Form(f): Form<SwitchForm>) -> Response {
    let key = ActorKey {
        office: f.office,
        user: f.user,
        terminal: f.terminal,
        cert: f.cert,
        client_version: f.client_version,
    };
    if f.op == "forget" {
        c.bench.remove_actor(&key);
        c.bench.desk(&v.sid, |d| {
            if d.actor.as_ref() == Some(&key) {
                d.actor = None;
            }
        });
    } else if c.bench.actor(&key).is_some() {
        c.bench.desk(&v.sid, |d| d.actor = Some(key.clone()));
        c.bench.flash(
            &v.sid,
            Flash::ok(
                format!("{} の端末 {} に切り替えました。", key.office, key.terminal),
                format!("now acting as {} on terminal {}", key.office, key.terminal),
            ),
        );
    }
    redirect("/act")
}
