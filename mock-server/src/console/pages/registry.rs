//! The registry page: offices with their service types, licence (changeable), certificates and
//! expiry, terminals and users with lock-outs (unlockable); the field-reported behaviour switches;
//! issuing a certificate of any kind and variant from the test PKI.

use axum::Router;
use axum::extract::{Form, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use careplan_spec::OfficeNumber;
use serde::{Deserialize, Serialize};

use super::{Nav, Page, PageResult, blocking, redirect, render};
use crate::config::{Licence, ReceiveMode, Switches, parse_date};
use crate::console::Console;
use crate::console::bench::Flash;
use crate::console::bridge::{self, Registry};
use crate::console::security::Visitor;
use crate::pki::{CertKind, Variant};

pub const PAGE: Page = Page {
    id: "registry",
    nav: Some(Nav {
        path: "/registry",
        label: "nav.registry",
        key: "1",
    }),
    routes,
};

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/registry", get(show))
        .route("/registry/licence", post(licence))
        .route("/registry/lock", post(lock))
        .route("/registry/switches", post(switches))
        .route("/registry/certs", post(issue))
}

#[derive(Serialize)]
struct View {
    registry: Registry,
    licences: Vec<&'static str>,
    profiles: Vec<String>,
    kinds: Vec<(&'static str, &'static str)>,
    variants: Vec<&'static str>,
}

async fn show(State(c): State<Console>, v: Visitor, uri: Uri) -> PageResult {
    let registry = blocking(&c, bridge::registry).await?;
    let view = View {
        registry,
        licences: [
            Licence::None,
            Licence::Applied,
            Licence::Active,
            Licence::Expired,
        ]
        .map(Licence::tag)
        .to_vec(),
        profiles: careplan_spec::Profile::all()
            .iter()
            .map(|p| p.name.clone())
            .collect(),
        kinds: CertKind::ALL.map(|k| (k.tag(), k.label_ja())).to_vec(),
        variants: Variant::ALL.map(Variant::tag).to_vec(),
    };
    render(&c, &v, &uri, PAGE.id, "registry.html", view)
}

#[derive(Deserialize)]
struct LicenceForm {
    office: String,
    licence: String,
    #[serde(default)]
    until: String,
}

async fn licence(State(c): State<Console>, v: Visitor, Form(f): Form<LicenceForm>) -> Response {
    let flash = match Licence::from_tag(&f.licence) {
        None => Flash::error(
            format!("ライセンスの状態 {} は不明です。", f.licence),
            format!("unknown licence state {}", f.licence),
        ),
        Some(_) if !f.until.is_empty() && parse_date(&f.until).is_none() => Flash::error(
            format!("期限 {} は YYYY-MM-DD ではありません。", f.until),
            format!("the date {} is not YYYY-MM-DD", f.until),
        ),
        Some(licence) => {
            let (office, until) = (f.office.clone(), f.until.clone());
            let done = blocking(&c, move |c| {
                bridge::set_licence(
                    c,
                    &office,
                    licence,
                    (!until.is_empty()).then_some(until.as_str()),
                )
            })
            .await;
            match done {
                Ok(true) => Flash::ok(
                    format!(
                        "事業所 {} のライセンスを「{}」にしました。",
                        f.office,
                        crate::console::i18n::text("ja", &format!("licence.{}", licence.tag()))
                    ),
                    format!("office {} licence set to {}", f.office, licence.tag()),
                ),
                Ok(false) => Flash::error(
                    format!("事業所 {} は登録されていません。", f.office),
                    format!("office {} is not registered", f.office),
                ),
                Err(e) => Flash::refusal(&e),
            }
        }
    };
    c.bench.flash(&v.sid, flash);
    redirect(&format!("/registry#office-{}", f.office))
}

#[derive(Deserialize)]
struct LockForm {
    user: String,
    locked: String,
}

async fn lock(State(c): State<Console>, v: Visitor, Form(f): Form<LockForm>) -> Response {
    let locked = f.locked == "true";
    let user = f.user.clone();
    let flash = match blocking(&c, move |c| bridge::set_lock(c, &user, locked)).await {
        Ok(true) if locked => Flash::ok(
            format!("{} をロックしました。", f.user),
            format!("{} is locked", f.user),
        ),
        Ok(true) => Flash::ok(
            format!(
                "{} のロックを解除しました（失敗回数も0に戻しました）。",
                f.user
            ),
            format!("{} is unlocked (failures reset)", f.user),
        ),
        Ok(false) => Flash::error(
            format!("ユーザ {} は登録されていません。", f.user),
            format!("no user {}", f.user),
        ),
        Err(e) => Flash::refusal(&e),
    };
    c.bench.flash(&v.sid, flash);
    redirect("/registry")
}

#[derive(Deserialize)]
struct SwitchForm {
    receive_mode: String,
    #[serde(default)]
    check_name_offices: Option<String>,
    #[serde(default)]
    refuse_agent_ids: Option<String>,
    v41_names_min_client: String,
    attachment_types: String,
    #[serde(default)]
    annotate_profile: String,
}

async fn switches(State(c): State<Console>, v: Visitor, Form(f): Form<SwitchForm>) -> Response {
    let receive_mode = match f.receive_mode.as_str() {
        "shared" => ReceiveMode::Shared,
        _ => ReceiveMode::FirstListerWins,
    };
    let switches = Switches {
        receive_mode,
        check_name_offices: f.check_name_offices.is_some(),
        attachment_types: f
            .attachment_types
            .split([',', ' ', '、'])
            .map(|t| t.trim().trim_start_matches('.').to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect(),
        v41_names_min_client: f.v41_names_min_client.trim().to_owned(),
        refuse_agent_ids: f.refuse_agent_ids.is_some(),
        annotate_profile: (!f.annotate_profile.is_empty()).then(|| f.annotate_profile.clone()),
    };
    let flash = match bridge::set_switches(&c, switches) {
        Ok(()) => Flash::ok(
            "切替を適用しました。次の要求から有効です。",
            "switches applied; they take effect from the next request",
        ),
        Err(e) => Flash::error(format!("切替を適用できません: {e}"), e),
    };
    c.bench.flash(&v.sid, flash);
    redirect("/registry#switches-h")
}

#[derive(Deserialize)]
struct IssueForm {
    office: String,
    kind: String,
    variant: String,
}

async fn issue(State(c): State<Console>, v: Visitor, Form(f): Form<IssueForm>) -> Response {
    let parsed = OfficeNumber::parse(&f.office)
        .ok_or_else(|| format!("{} is not a 10-digit office number", f.office))
        .and_then(|o| {
            let kind: CertKind = f
                .kind
                .parse()
                .map_err(|e: crate::pki::PkiError| e.to_string())?;
            let variant: Variant = f
                .variant
                .parse()
                .map_err(|e: crate::pki::PkiError| e.to_string())?;
            Ok((o, kind, variant))
        });
    let flash = match parsed {
        Err(e) => Flash::error(format!("証明書を発行できません: {e}"), e),
        Ok((office, kind, variant)) => {
            let c2 = c.clone();
            let done = tokio::task::spawn_blocking(move || {
                bridge::issue_certificate(&c2, &office, kind, variant)
            })
            .await;
            match done {
                Ok(Ok(files)) => Flash::ok(
                    format!(
                        "{}（{}、{}）を発行しました: {}",
                        f.office,
                        kind.label_ja(),
                        variant.tag(),
                        files.cert.display()
                    ),
                    format!(
                        "issued {} ({}, {}): {}",
                        f.office,
                        kind.tag(),
                        variant.tag(),
                        files.cert.display()
                    ),
                ),
                Ok(Err(e)) => Flash::error(format!("証明書を発行できません: {e}"), e.to_string()),
                Err(e) => Flash::error(format!("証明書を発行できません: {e}"), e.to_string()),
            }
        }
    };
    c.bench.flash(&v.sid, flash);
    redirect(&format!("/registry#office-{}", f.office))
}
