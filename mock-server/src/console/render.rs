//! The console's templates (minijinja, compiled into the binary, HTML auto-escaped, strict about
//! undefined values) and the helpers they call: `t("key")` for a text in the page's language,
//! `tt(ja, en)` to pick one of two given texts, and the `jst` filter for times.

use minijinja::value::Value;
use minijinja::{Environment, State, UndefinedBehavior};

use super::i18n;
use super::security::Refusal;

/// Every template: name and source.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("flash.html", include_str!("templates/flash.html")),
    ("findings.html", include_str!("templates/findings.html")),
    ("checks.html", include_str!("templates/checks.html")),
    ("need_actor.html", include_str!("templates/need_actor.html")),
    ("registry.html", include_str!("templates/registry.html")),
    ("act.html", include_str!("templates/act.html")),
    ("compose.html", include_str!("templates/compose.html")),
    ("outbox.html", include_str!("templates/outbox.html")),
    (
        "sends_table.html",
        include_str!("templates/sends_table.html"),
    ),
    ("inbox.html", include_str!("templates/inbox.html")),
    ("audit.html", include_str!("templates/audit.html")),
    ("audit_rows.html", include_str!("templates/audit_rows.html")),
    ("send.html", include_str!("templates/send.html")),
    ("file.html", include_str!("templates/file.html")),
    ("refused.html", include_str!("templates/refused.html")),
    ("error.html", include_str!("templates/error.html")),
];

/// The offset shown for times: Japan Standard Time (the exchange serves Japan).
const JST: time::UtcOffset = match time::UtcOffset::from_hms(9, 0, 0) {
    Ok(o) => o,
    Err(_) => time::UtcOffset::UTC,
};

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` in JST.
pub fn jst(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| t.to_offset(JST))
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]"
            ))
            .ok()
        })
        .unwrap_or_default()
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS.mmm` in JST.
pub fn jst_ms(ms: i64) -> String {
    format!("{}.{:03}", jst(ms.div_euclid(1000)), ms.rem_euclid(1000))
}

fn lang_of(state: &State) -> String {
    state
        .lookup("lang")
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "ja".to_owned())
}

/// The compiled templates.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        env.add_function("t", |state: &State, key: &str| -> String {
            i18n::text(&lang_of(state), key).to_owned()
        });
        env.add_function("tt", |state: &State, ja: &str, en: &str| -> String {
            if lang_of(state) == "en" && !en.is_empty() {
                en.to_owned()
            } else {
                ja.to_owned()
            }
        });
        env.add_filter("jst", |v: Value| -> String {
            v.as_i64().map(jst).unwrap_or_default()
        });
        Ok(Self { env })
    }

    pub fn render(&self, name: &str, ctx: Value) -> Result<String, String> {
        self.env
            .get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(|e| {
                let mut text = format!("{e}");
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(&format!(": {s}"));
                    source = s.source();
                }
                format!("failed to render {name}: {text}")
            })
    }

    /// The page answered when a request is refused before reaching a page (both languages).
    pub fn refused(&self, why: Refusal) -> String {
        let (ja_title, en_title, ja, en) = match why {
            Refusal::NoToken => (
                "トークンが必要です",
                "A token is required",
                "このコンソールを使うには、cpkit serve が起動時に表示したURL（?token=… 付き）を開いてください。",
                "Open the URL (with ?token=…) that cpkit serve printed at start-up to use this console.",
            ),
            Refusal::Csrf => (
                "この操作は受け付けられません",
                "This request was refused",
                "コンソール自身のページからの操作ではありません（CSRF確認）。ページを開き直してから操作してください。",
                "The request did not come from the console's own page (CSRF check). Reload the page and try again.",
            ),
            Refusal::Host => (
                "このアドレスでは開けません",
                "Wrong address",
                "コンソールは 127.0.0.1 / localhost の表示されたポートでのみ開けます。",
                "The console answers only on 127.0.0.1 / localhost at the port it printed.",
            ),
        };
        self.render(
            "refused.html",
            minijinja::context! { ja_title, en_title, ja, en },
        )
        .unwrap_or_else(|e| e)
    }

    /// A bilingual error page.
    pub fn error(&self, status: u16, ja: &str, en: &str) -> String {
        self.render("error.html", minijinja::context! { status, ja, en })
            .unwrap_or_else(|e| e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_compiles_and_every_text_key_exists() {
        Templates::new().unwrap();
        for (name, source) in TEMPLATES {
            for quote in ['"', '\''] {
                let open = format!("t({quote}");
                let mut rest = *source;
                while let Some(i) = rest.find(&open) {
                    let tail = &rest[i + 3..];
                    let end = tail.find(quote).unwrap();
                    let key = &tail[..end];
                    // Keys built in the template (`"licence." ~ x`) end with a dot.
                    if !key.ends_with('.') {
                        assert!(i18n::has(key), "{name}: no text for {key:?}");
                    }
                    rest = &tail[end..];
                }
            }
        }
    }

    #[test]
    fn text_is_escaped() {
        let t = Templates::new().unwrap();
        let html = t.error(500, "<script>alert(1)</script>", "a & b");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "{html}");
        assert!(html.contains("a &amp; b"));
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn times_are_shown_in_japan_standard_time() {
        assert_eq!(jst(0), "1970-01-01 09:00:00");
        assert_eq!(jst_ms(1_500), "1970-01-01 09:00:01.500");
    }
}
