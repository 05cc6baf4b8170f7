//! Links in mails that change something: unsubscribing, confirming or cancelling an alert.
//! Mail scanners and link previews open every link of a mail, so opening one (`GET`) only
//! shows a small page with a button; the button's `POST` (or a mail client's RFC 8058
//! one-click `POST`) acts.

use actix_web::{HttpRequest, HttpResponse, http::header};
use serde::Serialize;

/// Text in the two languages of the mails.
#[derive(Debug, Clone, Copy)]
pub struct Bilingual {
    pub en: &'static str,
    pub fr: &'static str,
}

/// What a link's page says.
#[derive(Debug, Clone, Copy)]
pub struct LinkPage {
    pub title: Bilingual,
    pub question: Bilingual,
    pub button: Bilingual,
    /// What the page says once the button was pressed.
    pub done: Bilingual,
}

fn page(title: Bilingual, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{} · {}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.5}}\
         button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style></head>\n<body>\n{body}\n</body></html>\n",
        title.en, title.fr
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
        ))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(html)
}

/// The page a `GET` of the link shows: the question and a button that posts `token` back to
/// the same path. `token` must have been verified (it is hex digits and a dot).
pub fn confirmation_page(link: &LinkPage, token: &str) -> HttpResponse {
    let token: String = token
        .chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '.')
        .collect();
    let form = |button: &str| {
        format!(
            "<form method=\"post\" action=\"?token={token}\">\
             <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
             <button type=\"submit\">{button}</button></form>"
        )
    };
    page(
        link.title,
        &format!(
            "<h1>{}</h1><p>{}</p>{}\n<hr>\n<h1 lang=\"fr\">{}</h1><p lang=\"fr\">{}</p>{}",
            link.title.en,
            link.question.en,
            form(link.button.en),
            link.title.fr,
            link.question.fr,
            form(link.button.fr)
        ),
    )
}

/// The answer of the `POST`: a page for a browser (its `Accept` asks for HTML: the button of
/// the page), `outcome` as JSON for anything else (a mail client's one-click request, an app).
pub fn done(req: &HttpRequest, link: &LinkPage, outcome: &impl Serialize) -> HttpResponse {
    let wants_html = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_html {
        page(
            link.title,
            &format!(
                "<h1>{}</h1><p>{}</p>\n<hr>\n<h1 lang=\"fr\">{}</h1><p lang=\"fr\">{}</p>",
                link.title.en, link.done.en, link.title.fr, link.done.fr
            ),
        )
    } else {
        HttpResponse::Ok().json(outcome)
    }
}
