//! A file shown as a table ([`crate::console::fileview`]): a stored file of any send
//! (`/files/{send}/{file}`, read from the store without claiming anything, with its original
//! bytes downloadable) or a file of the send being composed (`/compose/file/{i}`).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use super::{Page, PageError, PageResult, attachment, blocking, render};
use crate::console::Console;
use crate::console::bridge;
use crate::console::fileview::{self, FileTable};
use crate::console::security::Visitor;

pub const PAGE: Page = Page {
    id: "file",
    nav: None,
    routes,
};

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/files/{send}/{file}", get(stored))
        .route("/files/{send}/{file}/raw", get(raw))
        .route("/compose/file/{i}", get(composed))
}

#[derive(Serialize)]
struct View {
    table: FileTable,
    raw: Option<String>,
    back: Option<String>,
}

async fn stored(
    State(c): State<Console>,
    v: Visitor,
    uri: Uri,
    Path((send, file)): Path<(i64, i64)>,
) -> PageResult {
    let table = blocking(&c, move |c| {
        Ok(bridge::stored_file(c, send, file)?.map(|(name, bytes)| fileview::table(&name, &bytes)))
    })
    .await?
    .ok_or(PageError::NotFound)?;
    let view = View {
        table,
        raw: Some(format!("/files/{send}/{file}/raw")),
        back: Some(format!("/sends/{send}")),
    };
    render(&c, &v, &uri, PAGE.id, "file.html", view)
}

async fn raw(State(c): State<Console>, Path((send, file)): Path<(i64, i64)>) -> Response {
    match blocking(&c, move |c| bridge::stored_file(c, send, file)).await {
        Ok(Some((name, bytes))) => attachment(&name, "application/octet-stream", bytes),
        Ok(None) => PageError::NotFound.into_response(),
        Err(e) => PageError::Hub(e).into_response(),
    }
}

async fn composed(
    State(c): State<Console>,
    v: Visitor,
    uri: Uri,
    Path(i): Path<usize>,
) -> PageResult {
    let draft = c
        .bench
        .desk(&v.sid, |d| d.compose.files.get(i).cloned())
        .ok_or(PageError::NotFound)?;
    let table = tokio::task::spawn_blocking(move || fileview::table(&draft.name, &draft.content))
        .await
        .map_err(|e| PageError::Render(e.to_string()))?;
    let view = View {
        table,
        raw: None,
        back: Some("/compose".to_owned()),
    };
    render(&c, &v, &uri, PAGE.id, "file.html", view)
}
