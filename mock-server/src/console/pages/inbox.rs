//! The acting office's 受信一覧. Opening it lists the inbox through the hub as this terminal
//! (`/v1/inbox`: in first-lister-wins mode that takes every item nobody took yet), then shows every
//! item delivered to the office with the terminal that took it and when, so first-lister-wins is
//! visible. Files are downloaded through the hub as this terminal, one by one or the whole unit
//! as a zip.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use serde::Serialize;

use super::{Nav, Page, PageResult, actor_of, attachment, blocking, need_actor, redirect, render};
use crate::config::ReceiveMode;
use crate::console::Console;
use crate::console::bridge::{self, client_flash};
use crate::console::security::Visitor;
use crate::store::SendEntry;

pub const PAGE: Page = Page {
    id: "inbox",
    nav: Some(Nav {
        path: "/inbox",
        label: "nav.inbox",
        key: "5",
    }),
    routes,
};

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/inbox", get(show))
        .route("/inbox/{send}/files/{file}", get(download))
        .route("/inbox/{send}/unit", get(download_unit))
}

#[derive(Serialize)]
struct Item {
    send: SendEntry,
    from_name: String,
    claimed_by: Option<String>,
    claimed_at: Option<i64>,
    mine: bool,
    readable: bool,
}

#[derive(Serialize)]
struct View {
    mode: ReceiveMode,
    items: Vec<Item>,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri) -> PageResult {
    let Some((key, actor)) = actor_of(&c, &v) else {
        return need_actor(&c, &v, &uri, PAGE.id);
    };
    let listed = actor.lock().await.client.inbox().await;
    if let Err(e) = listed {
        c.bench.flash(&v.sid, client_flash(&e));
    }
    let mode = c.hub.switches().receive_mode;
    let office = key.office.clone();
    let (mailbox, offices) = blocking(&c, move |c| {
        Ok((bridge::mailbox(c, &office)?, bridge::offices(c)?))
    })
    .await?;
    let items = mailbox
        .into_iter()
        .map(|m| {
            let mine = m.claimed_by.as_deref() == Some(key.terminal.as_str());
            Item {
                from_name: offices
                    .iter()
                    .find(|o| o.number == m.send.from_office)
                    .map(|o| o.name.clone())
                    .unwrap_or_default(),
                readable: mode == ReceiveMode::Shared || mine,
                mine,
                claimed_by: m.claimed_by,
                claimed_at: m.claimed_at,
                send: m.send,
            }
        })
        .collect();
    render(&c, &v, &uri, PAGE.id, "inbox.html", View { mode, items })
}

async fn download(
    State(c): State<Console>,
    v: Visitor,
    Path((send, file)): Path<(i64, i64)>,
) -> Response {
    let Some((_, actor)) = actor_of(&c, &v) else {
        return redirect("/inbox");
    };
    let got = actor.lock().await.client.download(send, file).await;
    match got {
        Ok(bytes) => {
            let name = blocking(&c, move |c| bridge::stored_file(c, send, file))
                .await
                .ok()
                .flatten()
                .map(|(n, _)| n)
                .unwrap_or_else(|| format!("{send}-{file}"));
            attachment(&name, "application/octet-stream", bytes)
        }
        Err(e) => {
            c.bench.flash(&v.sid, client_flash(&e));
            redirect("/inbox")
        }
    }
}

async fn download_unit(State(c): State<Console>, v: Visitor, Path(send): Path<i64>) -> Response {
    let Some((_, actor)) = actor_of(&c, &v) else {
        return redirect("/inbox");
    };
    let Ok(Some(item)) = blocking(&c, move |c| bridge::stored_send(c, send)).await else {
        c.bench.flash(
            &v.sid,
            client_flash(&crate::client::ClientError::Refused(
                crate::error::HubError::not_found(),
            )),
        );
        return redirect("/inbox");
    };
    let mut actor = actor.lock().await;
    let mut files = Vec::new();
    for f in &item.send.files {
        match actor.client.download(send, f.id).await {
            Ok(bytes) => files.push((f.name.clone(), bytes)),
            Err(e) => {
                drop(actor);
                c.bench.flash(&v.sid, client_flash(&e));
                return redirect("/inbox");
            }
        }
    }
    drop(actor);
    let zip = crate::zip::store(files.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    let name = format!(
        "{}_{}.zip",
        item.send.serial.as_deref().unwrap_or("unit"),
        send
    );
    attachment(&name, "application/zip", zip)
}
