//! The acting terminal's sent items and drafts, as the hub lists them (`/v1/sent`, `/v1/drafts`);
//! a draft can be sent or deleted from here (`/v1/drafts/{id}/send`, `DELETE /v1/drafts/{id}`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Serialize;

use super::{Nav, Page, PageResult, actor_of, need_actor, redirect, render};
use crate::console::Console;
use crate::console::bench::Flash;
use crate::console::bridge::client_flash;
use crate::console::security::Visitor;
use crate::store::SendEntry;

pub const PAGE: Page = Page {
    id: "outbox",
    nav: Some(Nav {
        path: "/outbox",
        label: "nav.outbox",
        key: "4",
    }),
    routes,
};

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/outbox", get(show))
        .route("/outbox/drafts/{id}/{op}", post(draft))
}

#[derive(Serialize)]
struct View {
    sent: Vec<SendEntry>,
    drafts: Vec<SendEntry>,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri) -> PageResult {
    let Some((_, actor)) = actor_of(&c, &v) else {
        return need_actor(&c, &v, &uri, PAGE.id);
    };
    let mut actor = actor.lock().await;
    let listed = async {
        let mut sent = actor.client.sent().await?;
        let mut drafts = actor.client.drafts().await?;
        sent.reverse();
        drafts.reverse();
        Ok::<_, crate::client::ClientError>((sent, drafts))
    }
    .await;
    drop(actor);
    let view = match listed {
        Ok((sent, drafts)) => View { sent, drafts },
        Err(e) => {
            c.bench.flash(&v.sid, client_flash(&e));
            View {
                sent: Vec::new(),
                drafts: Vec::new(),
            }
        }
    };
    render(&c, &v, &uri, PAGE.id, "outbox.html", view)
}

async fn draft(
    State(c): State<Console>,
    v: Visitor,
    Path((id, op)): Path<(i64, String)>,
) -> Response {
    let Some((_, actor)) = actor_of(&c, &v) else {
        return redirect("/outbox");
    };
    let mut actor = actor.lock().await;
    let done = match op.as_str() {
        "send" => actor.client.send_draft(id).await,
        "delete" => actor.client.delete_draft(id).await,
        _ => return redirect("/outbox"),
    };
    drop(actor);
    let flash = match (done, op.as_str()) {
        (Ok(()), "send") => Flash::ok(
            format!("下書き #{id} を送信しました。"),
            format!("draft #{id} sent"),
        )
        .link(format!("/sends/{id}"), format!("#{id}")),
        (Ok(()), _) => Flash::ok(
            format!("下書き #{id} を削除しました。"),
            format!("draft #{id} deleted"),
        ),
        (Err(e), _) => client_flash(&e),
    };
    c.bench.flash(&v.sid, flash);
    redirect("/outbox")
}
