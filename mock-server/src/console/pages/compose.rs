//! Composing a send as the acting terminal: files dropped or chosen are held by the console and
//! checked by the spec core as `cpkit validate` checks them; "check" runs the hub's own send checks
//! without storing anything; "send" and "save draft" go through the hub's `/v1/sends` (or
//! `/v1/bulk-sends` for several destinations), so a refusal is shown in the hub's own words.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Form, Multipart, Query, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::{Nav, Page, PageResult, actor_of, blocking, need_actor, redirect, render};
use crate::console::Console;
use crate::console::bench::{Draft, Flash, PreviewDelivery, Verdict};
use crate::console::bridge;
use crate::console::checks::{self, Checks};
use crate::console::security::Visitor;
use crate::hub::{Destination, SendRequest, Upload};
use crate::store::Office;

pub const PAGE: Page = Page {
    id: "compose",
    nav: Some(Nav {
        path: "/compose",
        label: "nav.compose",
        key: "3",
    }),
    routes,
};

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/compose", get(show))
        .route(
            "/compose/files",
            // The console enforces its own bound while reading (see `add`).
            post(add).layer(DefaultBodyLimit::disable()),
        )
        .route("/compose/remove", post(remove))
        .route("/compose/clear", post(clear))
        .route("/compose/submit", post(submit))
}

#[derive(Serialize)]
struct View {
    files: bool,
    checks: Checks,
    to: String,
    message: String,
    offices: Vec<Office>,
    accepted: Option<Vec<PreviewDelivery>>,
    refused: Option<Flash>,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri) -> PageResult {
    if actor_of(&c, &v).is_none() {
        return need_actor(&c, &v, &uri, PAGE.id);
    }
    let compose = c.bench.desk(&v.sid, |d| d.compose.clone());
    let files = compose.files.clone();
    let (checks, offices) = blocking(&c, move |c| {
        let named: Vec<(&str, &[u8])> = files
            .iter()
            .map(|f| (f.name.as_str(), f.content.as_slice()))
            .collect();
        Ok((checks::check(&named), bridge::offices(c)?))
    })
    .await?;
    let to = if compose.to.is_empty() {
        let mut receivers: Vec<String> = checks.units.iter().map(|u| u.receiver.clone()).collect();
        receivers.dedup();
        receivers.join(", ")
    } else {
        compose.to.clone()
    };
    let (accepted, refused) = match compose.verdict {
        Some(Verdict::Accepted(d)) => (Some(d), None),
        Some(Verdict::Refused(f)) => (None, Some(f)),
        None => (None, None),
    };
    let view = View {
        files: !compose.files.is_empty(),
        checks,
        to,
        message: compose.message,
        offices,
        accepted,
        refused,
    };
    render(&c, &v, &uri, PAGE.id, "compose.html", view)
}

/// Why an upload could not be read: a body that stalled or trickled (the connection layer's
/// timeout, in the hub's words) or a broken form.
fn unreadable(e: &axum::extract::multipart::MultipartError) -> Flash {
    if let Some(stalled) = crate::conn::stall_refusal(e) {
        return Flash::refusal(&stalled);
    }
    Flash::error(
        format!("アップロードを読めませんでした: {e}"),
        format!("failed to read the upload: {e}"),
    )
}

async fn add(State(c): State<Console>, v: Visitor, mut multipart: Multipart) -> Response {
    let (max_files, max_bytes) = crate::console::upload_bounds(&c.hub.config);
    let mut held = c.bench.desk(&v.sid, |d| d.compose.bytes() as u64);
    let mut added = Vec::new();
    let too_much = || {
        Flash::error(
            format!(
                "コンソールが一度に保持できるのは {max_files} ファイル・{max_bytes} バイトまでです。"
            ),
            format!("the console holds at most {max_files} files and {max_bytes} bytes per send"),
        )
    };
    let outcome: Result<(), Flash> = async {
        while let Some(mut field) = multipart.next_field().await.map_err(|e| unreadable(&e))? {
            if field.name() != Some("file") {
                continue;
            }
            let name = field.file_name().unwrap_or_default().to_owned();
            let mut content = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(|e| unreadable(&e))? {
                held += chunk.len() as u64;
                if held > max_bytes {
                    return Err(too_much());
                }
                content.extend_from_slice(&chunk);
            }
            if name.is_empty() && content.is_empty() {
                continue; // the browser's empty part when no file was chosen
            }
            added.push(Draft {
                name,
                content: std::sync::Arc::new(content),
            });
        }
        Ok(())
    }
    .await;
    let flash = c.bench.desk(&v.sid, |d| {
        if let Err(f) = outcome {
            return Some(f);
        }
        for f in added {
            // A file of the same name replaces the one held.
            d.compose.files.retain(|x| x.name != f.name);
            d.compose.files.push(f);
        }
        d.compose.verdict = None;
        (d.compose.files.len() > max_files).then(|| {
            d.compose.files.truncate(max_files);
            too_much()
        })
    });
    if let Some(f) = flash {
        c.bench.flash(&v.sid, f);
    }
    redirect("/compose")
}

#[derive(Deserialize)]
struct Index {
    i: usize,
}

async fn remove(State(c): State<Console>, v: Visitor, Query(q): Query<Index>) -> Response {
    c.bench.desk(&v.sid, |d| {
        if q.i < d.compose.files.len() {
            d.compose.files.remove(q.i);
            d.compose.verdict = None;
        }
    });
    redirect("/compose")
}

async fn clear(State(c): State<Console>, v: Visitor) -> Response {
    c.bench.desk(&v.sid, |d| d.compose = Default::default());
    redirect("/compose")
}

#[derive(Deserialize)]
struct SubmitForm {
    #[serde(default)]
    to: String,
    #[serde(default)]
    message: String,
    op: String,
}

/// `0320000202, 0320000201:11` → destinations (office, optional service type).
pub fn destinations(text: &str) -> Vec<Destination> {
    text.split([',', ' ', '、', '\n', '\r', '\t'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(Destination::parse)
        .collect()
}

async fn submit(State(c): State<Console>, v: Visitor, Form(f): Form<SubmitForm>) -> Response {
    let Some((_, actor)) = actor_of(&c, &v) else {
        return redirect("/compose");
    };
    let files = c.bench.desk(&v.sid, |d| {
        d.compose.to = f.to.clone();
        d.compose.message = f.message.clone();
        d.compose.files.clone()
    });
    let dests = destinations(&f.to);
    let actor = actor.lock().await;
    match f.op.as_str() {
        "check" => {
            let req = SendRequest {
                destinations: dests,
                message: f.message.clone(),
                files: files
                    .iter()
                    .map(|d| Upload {
                        name: d.name.clone(),
                        content: d.content.clone(),
                    })
                    .collect(),
                draft: false,
            };
            let verdict = match bridge::dry_run(&c, &actor, req).await {
                Ok(d) => Verdict::Accepted(d),
                Err(e) => Verdict::Refused(Flash::refusal(&e)),
            };
            c.bench.desk(&v.sid, |d| d.compose.verdict = Some(verdict));
        }
        op => {
            let draft = op == "draft";
            let payload: Vec<(String, Vec<u8>)> = files
                .iter()
                .map(|d| (d.name.clone(), d.content.as_ref().clone()))
                .collect();
            let mut actor = actor;
            let sent = actor.client.send(&dests, &f.message, &payload, draft).await;
            drop(actor);
            match sent {
                Ok(receipt) => {
                    let mut flash = if draft {
                        Flash::ok("下書きを保存しました。", "draft saved")
                    } else {
                        Flash::ok("送信しました。", "sent")
                    };
                    for d in &receipt.deliveries {
                        flash = flash.link(
                            format!("/sends/{}", d.id),
                            format!(
                                "#{} → {}{} {} {}",
                                d.id,
                                d.to_office,
                                d.to_type
                                    .as_deref()
                                    .map(|t| format!(" ({t})"))
                                    .unwrap_or_default(),
                                d.unit.as_deref().unwrap_or(""),
                                d.serial.as_deref().unwrap_or("")
                            ),
                        );
                    }
                    c.bench.desk(&v.sid, |d| d.compose = Default::default());
                    c.bench.flash(&v.sid, flash);
                }
                Err(e) => {
                    let flash = bridge::client_flash(&e);
                    c.bench.desk(&v.sid, |d| d.compose.verdict = None);
                    c.bench.flash(&v.sid, flash);
                }
            }
        }
    }
    redirect("/compose")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_offices_with_optional_service_types() {
        let d = destinations(" 0320000202, 0320000201:11、0330000400\n");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].office, "0320000202");
        assert_eq!(d[0].service_type, None);
        assert_eq!(d[1].service_type.as_deref(), Some("11"));
        assert_eq!(d[2].office, "0330000400");
        assert!(destinations("  ").is_empty());
    }
}
