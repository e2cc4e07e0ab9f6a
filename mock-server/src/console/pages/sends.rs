//! One stored send or draft, as the operator sees it in the store: sender, destination, terminal,
//! unit, serial, who took it and when, its files (each linked to its file view), the findings the
//! hub annotated, and the spec core's checks of its files.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::routing::get;
use serde::Serialize;

use super::{Page, PageError, PageResult, blocking, render};
use crate::console::Console;
use crate::console::bridge;
use crate::console::checks::{self, Checks, FindingView};
use crate::console::security::Visitor;
use crate::store::operator::MailboxItem;

pub const PAGE: Page = Page {
    id: "send",
    nav: None,
    routes,
};

fn routes(r: axum::Router<Console>) -> Router<Console> {
    r.route("/sends/{id}", get(show))
}

#[derive(Serialize)]
struct View {
    item: MailboxItem,
    annotations: Vec<FindingView>,
    checks: Checks,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri, Path(id): Path<i64>) -> PageResult {
    let view = blocking(&c, move |c| {
        let Some(item) = bridge::stored_send(c, id)? else {
            return Ok(None);
        };
        let mut files = Vec::new();
        for f in &item.send.files {
            if let Some((name, bytes)) = bridge::stored_file(c, id, f.id)? {
                files.push((name, bytes));
            }
        }
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect();
        Ok(Some(View {
            annotations: FindingView::list_in(item.send.annotations.as_ref()),
            checks: checks::check(&named),
            item,
        }))
    })
    .await?
    .ok_or(PageError::NotFound)?;
    render(&c, &v, &uri, PAGE.id, "send.html", view)
}
