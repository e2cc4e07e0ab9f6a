//! The audit trail: every request the hub answered (and the sampled refused TLS handshakes), newest
//! first, filterable by office, action and result, each row linked to the sends and files it
//! concerns and listing the findings of a refusal. New rows appear without reloading: the page's
//! script asks `/audit/live` for rows after the newest it shows, and that request waits for the
//! store to append one. The trace bundle (`cpkit trace export`) can be exported from here.

use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::value::{Serde, Value};
use serde::{Deserialize, Serialize};

use super::{Nav, Page, PageResult, attachment, blocking, redirect, render};
use crate::console::Console;
use crate::console::bench::Flash;
use crate::console::bridge;
use crate::console::checks::FindingView;
use crate::console::render::jst_ms;
use crate::console::security::Visitor;
use crate::store::AuditEntry;
use crate::store::operator::{AuditQuery, AuditResult};

pub const PAGE: Page = Page {
    id: "audit",
    nav: Some(Nav {
        path: "/audit",
        label: "nav.audit",
        key: "6",
    }),
    routes,
};

/// Rows shown per page and per live answer.
const ROWS: i64 = 200;
/// How long a live request waits for a new row before answering with none.
const LIVE_WAIT: Duration = Duration::from_secs(25);

/// The action filter: name and `LIKE` pattern on the audited action.
pub const ACTIONS: &[(&str, &str)] = &[
    ("login", "POST %login%"),
    ("send", "POST %sends"),
    ("inbox", "GET /v1/inbox"),
    ("download", "GET /v1/inbox/%/files/%"),
    ("drafts", "% /v1/drafts%"),
    ("sent", "GET /v1/sent"),
    ("status", "GET /v1/status"),
    ("tls", "TLS handshake"),
];

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/audit", get(show))
        .route("/audit/live", get(live))
        .route("/audit/export", post(export))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct Filter {
    #[serde(default)]
    office: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    result: String,
    #[serde(default, skip_serializing)]
    before: Option<i64>,
    #[serde(default, skip_serializing)]
    after: Option<i64>,
}

impl Filter {
    fn query(&self) -> AuditQuery {
        AuditQuery {
            office: (!self.office.is_empty()).then(|| self.office.clone()),
            action_like: ACTIONS
                .iter()
                .find(|(name, _)| *name == self.action)
                .map(|(_, like)| (*like).to_owned()),
            result: match self.result.as_str() {
                "ok" => AuditResult::Ok,
                "refused" => AuditResult::Refused,
                _ => AuditResult::Any,
            },
            after: self.after,
            before: self.before,
            limit: ROWS,
        }
    }

    /// The filter as a query string (values are office numbers and fixed names).
    fn query_string(&self) -> String {
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        format!(
            "office={}&action={}&result={}",
            enc(&self.office),
            enc(&self.action),
            enc(&self.result)
        )
    }
}

#[derive(Debug, Clone, Serialize)]
struct Link {
    href: String,
    label: String,
}

/// One audit row as shown.
#[derive(Debug, Clone, Serialize)]
struct Row {
    seq: i64,
    time: String,
    office: Option<String>,
    terminal: Option<String>,
    user: Option<String>,
    action: String,
    status: u16,
    ok: bool,
    code: Option<String>,
    message_ja: Option<String>,
    message_en: Option<String>,
    file: Option<String>,
    links: Vec<Link>,
    findings: Vec<FindingView>,
    note: Option<String>,
}

fn row(e: AuditEntry) -> Row {
    let d = e.detail.as_ref();
    let text = |k: &str| {
        d.and_then(|d| d.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let mut links = Vec::new();
    let send_link = |id: i64, label: String| Link {
        href: format!("/sends/{id}"),
        label,
    };
    if let Some(deliveries) = d
        .and_then(|d| d.get("deliveries"))
        .and_then(|v| v.as_array())
    {
        for x in deliveries {
            if let Some(id) = x.get("id").and_then(|v| v.as_i64()) {
                let s = |k: &str| x.get(k).and_then(|v| v.as_str()).unwrap_or("");
                links.push(send_link(
                    id,
                    format!("#{id} → {} {} {}", s("to"), s("unit"), s("serial")),
                ));
            }
        }
    }
    if let Some(items) = d.and_then(|d| d.get("items")).and_then(|v| v.as_array()) {
        for id in items.iter().filter_map(|v| v.as_i64()) {
            links.push(send_link(id, format!("#{id}")));
        }
    }
    if let (Some(send), Some(file)) = (
        d.and_then(|d| d.get("send")).and_then(|v| v.as_i64()),
        d.and_then(|d| d.get("file")).and_then(|v| v.as_i64()),
    ) {
        links.push(Link {
            href: format!("/files/{send}/{file}"),
            label: format!("#{send} / file {file}"),
        });
    }
    if let Some(id) = d.and_then(|d| d.get("draft")).and_then(|v| v.as_i64()) {
        links.push(send_link(id, format!("#{id}")));
    }
    let note = text("reason").or_else(|| text("client_version").map(|v| format!("client {v}")));
    Row {
        seq: e.seq,
        time: jst_ms(e.at_ms),
        ok: e.status < 400,
        office: e.office,
        terminal: e.terminal,
        user: e.user_id,
        action: e.action,
        status: e.status,
        code: e.code,
        message_ja: text("message_ja"),
        message_en: text("message_en"),
        file: text("file"),
        findings: FindingView::list_in(d.and_then(|d| d.get("detail"))),
        links,
        note,
    }
}

#[derive(Serialize)]
struct View {
    filter: Filter,
    offices: Vec<crate::store::Office>,
    actions: Vec<&'static str>,
    rows: Vec<Row>,
    after: i64,
    live_url: String,
    older: Option<String>,
}

async fn show(
    State(c): State<Console>,
    v: Visitor,
    uri: Uri,
    Query(filter): Query<Filter>,
) -> PageResult {
    let mut filter = filter;
    filter.after = None;
    let q = filter.query();
    let (rows, offices) = blocking(&c, move |c| {
        Ok((bridge::audit(c, &q)?, bridge::offices(c)?))
    })
    .await?;
    let rows: Vec<Row> = rows.into_iter().map(row).collect();
    let after = rows.first().map(|r| r.seq).unwrap_or(0);
    let older = (rows.len() as i64 == ROWS)
        .then(|| {
            rows.last()
                .map(|r| format!("/audit?{}&before={}", filter.query_string(), r.seq))
        })
        .flatten();
    let live_url = if filter.before.is_some() {
        String::new()
    } else {
        format!("/audit/live?{}", filter.query_string())
    };
    let view = View {
        actions: ACTIONS.iter().map(|(n, _)| *n).collect(),
        filter,
        offices,
        rows,
        after,
        live_url,
        older,
    };
    render(&c, &v, &uri, PAGE.id, "audit.html", view)
}

/// Answers with the rows after `after` that match the filter, newest first, as soon as there
/// are some (or with none after [`LIVE_WAIT`]); `X-Audit-Seq` is the newest sequence number sent.
async fn live(State(c): State<Console>, v: Visitor, Query(filter): Query<Filter>) -> Response {
    let after = filter.after.unwrap_or(0);
    let mut filter = filter;
    filter.before = None;
    filter.after = Some(after);
    // Subscribe before reading, so a row appended in between wakes the wait below.
    let mut appended = bridge::watch_audit(&c);
    let mut stopping = c.stopping.clone();
    let deadline = tokio::time::Instant::now() + LIVE_WAIT;
    let rows = loop {
        let q = filter.query();
        let rows = match blocking(&c, move |c| bridge::audit(c, &q)).await {
            Ok(r) => r,
            Err(e) => return super::PageError::Hub(e).into_response(),
        };
        if !rows.is_empty() || *stopping.borrow() {
            break rows;
        }
        tokio::select! {
            changed = appended.changed() => if changed.is_err() { break rows },
            _ = tokio::time::sleep_until(deadline) => break rows,
            _ = stopping.changed() => break rows,
        }
    };
    let newest = rows.iter().map(|r| r.seq).max().unwrap_or(after);
    let mut rows: Vec<Row> = rows.into_iter().map(row).collect();
    rows.reverse();
    let lang = c.bench.desk(&v.sid, |d| d.lang);
    let html = c.templates.render(
        "audit_rows.html",
        minijinja::context! {
            lang => lang.tag(),
            page => minijinja::context! { rows => Value::from(Serde(&rows)) },
        },
    );
    match html {
        Ok(html) => {
            let mut response = Html(html).into_response();
            if let Ok(v) = HeaderValue::from_str(&newest.to_string()) {
                response.headers_mut().insert("x-audit-seq", v);
            }
            response
        }
        Err(e) => super::PageError::Render(e).into_response(),
    }
}

async fn export(State(c): State<Console>, v: Visitor) -> Response {
    let c2 = c.clone();
    let done = tokio::task::spawn_blocking(move || bridge::export_trace(&c2))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    match done {
        Ok(export) => {
            let folder = export.folder.display().to_string();
            let summary = format!(
                "{} audit row(s), {} send(s), {} file(s)",
                export.summary.audit_rows, export.summary.sends, export.summary.files
            );
            c.bench.flash(
                &v.sid,
                Flash::ok(
                    format!("トレースを {folder} に書き出しました（{summary}）。"),
                    format!("trace bundle written to {folder} ({summary})"),
                ),
            );
            match export.zip {
                Some(zip) => {
                    let name = export
                        .folder
                        .file_name()
                        .map(|n| format!("cpkit-{}.zip", n.to_string_lossy()))
                        .unwrap_or_else(|| "cpkit-trace.zip".to_owned());
                    attachment(&name, "application/zip", zip)
                }
                None => redirect("/audit"),
            }
        }
        Err(e) => {
            c.bench.flash(
                &v.sid,
                Flash::error(
                    format!("トレースを書き出せませんでした: {e}"),
                    format!("failed to export the trace: {e}"),
                ),
            );
            redirect("/audit")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, status: u16, detail: serde_json::Value) -> AuditEntry {
        AuditEntry {
            seq: 7,
            at_ms: 1_000,
            peer: "127.0.0.1:1".into(),
            office: Some("0310000100".into()),
            terminal: Some("PC-1".into()),
            user_id: None,
            action: action.into(),
            status,
            code: None,
            detail: Some(detail),
        }
    }

    #[test]
    fn a_send_links_to_what_it_stored() {
        let r = row(entry(
            "POST /v1/sends",
            200,
            serde_json::json!({"ids": [3], "deliveries": [{"id": 3, "to": "0320000202", "unit": "riyohyo", "serial": "20250527090000", "files": ["A.CSV"]}]}),
        ));
        assert!(r.ok);
        assert_eq!(r.links[0].href, "/sends/3");
        assert!(r.links[0].label.contains("0320000202"));
    }

    #[test]
    fn a_refusal_shows_the_hubs_words_and_its_findings() {
        let rule = careplan_spec::RuleId::from_id("UNIT001").unwrap();
        let finding =
            serde_json::to_value(careplan_spec::Finding::new(rule).to_json(Some("20250527090000")))
                .unwrap();
        let r = row(entry(
            "POST /v1/sends",
            400,
            serde_json::json!({
                "message_ja": "添付ファイル名の形式に誤りがあります。",
                "message_en": "bad",
                "file": "A.CSV",
                "detail": {"findings": [finding]}
            }),
        ));
        assert!(!r.ok);
        assert_eq!(
            r.message_ja.as_deref(),
            Some("添付ファイル名の形式に誤りがあります。")
        );
        assert_eq!(r.findings[0].rule, "UNIT001");
        assert_eq!(r.file.as_deref(), Some("A.CSV"));
    }

    #[test]
    fn downloads_link_to_the_file_and_filters_name_actions() {
        let r = row(entry(
            "GET /v1/inbox/3/files/9",
            200,
            serde_json::json!({"send": 3, "file": 9}),
        ));
        assert_eq!(r.links[0].href, "/files/3/9");
        let f = Filter {
            action: "send".into(),
            result: "refused".into(),
            ..Filter::default()
        };
        let q = f.query();
        assert_eq!(q.action_like.as_deref(), Some("POST %sends"));
        assert_eq!(q.result, AuditResult::Refused);
        assert_eq!(f.query_string(), "office=&action=send&result=refused");
    }
}
