//! What every page shares: `/` (to the registry), `/login` (answered by the security layer),
//! the language switch, the style sheet and the script.

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::{Page, redirect};
use crate::console::Console;
use crate::console::bench::Lang;
use crate::console::security::Visitor;

pub const PAGE: Page = Page {
    id: "common",
    nav: None,
    routes,
};

const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

fn routes(r: Router<Console>) -> Router<Console> {
    r.route("/", get(|| async { redirect("/registry") }))
        .route("/login", get(|| async { StatusCode::UNAUTHORIZED }))
        .route("/lang", post(lang))
        .route("/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "console.css" => (CSS, "text/css; charset=utf-8"),
        "console.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// A path of this console to go back to (never another site).
pub fn local_path(back: &str) -> &str {
    if back.starts_with('/') && !back.starts_with("//") && !back.contains('\\') {
        back
    } else {
        "/"
    }
}

async fn lang(State(c): State<Console>, v: Visitor, Form(form): Form<LangForm>) -> Response {
    if let Some(lang) = Lang::parse(&form.lang) {
        c.bench.desk(&v.sid, |d| d.lang = lang);
    }
    redirect(local_path(&form.back))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn going_back_stays_on_the_console() {
        assert_eq!(local_path("/inbox?x=1"), "/inbox?x=1");
        assert_eq!(local_path("//evil.example/"), "/");
        assert_eq!(local_path("http://evil.example/"), "/");
        assert_eq!(local_path("/\\evil"), "/");
        assert_eq!(local_path(""), "/");
    }
}
