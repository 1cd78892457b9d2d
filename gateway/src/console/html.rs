//! The console's page frame (header, navigation, logout button, footer), HTML escaping, and the
//! headers every console answer carries (a strict Content-Security-Policy: only this gateway's
//! own scripts, styles and media; no framing; no caching of pages that show call data).

use super::session::Session;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   media-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A console page: `body` inside the frame. With a session the navigation and the logout form
/// are shown.
pub fn page(status: StatusCode, title: &str, session_opt: Option<&Session>, body: &str) -> HttpResponse {
    let nav = match session_opt {
        Some(session) => format!(
            r#"<nav aria-label="Main"><ul>
<li><a href="/console/calls">Calls</a></li>
<li><a href="/console/calls/new">Place a call</a></li>
<li><a href="/console/campaigns">Campaigns</a></li>
<li><a href="/console/campaigns/new">Upload a campaign</a></li>
</ul>
<form method="post" action="/console/logout" class="logout">{}<button type="submit">Log out</button></form>
</nav>"#,
            csrf_field(session)
        ),
        None => String::new(),
    };
    let html = format!(
        r##"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · gym-call-agent</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header><p class="brand"><a href="/console/calls">gym-call-agent</a></p>{nav}</header>
<main id="main">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"##,
        title = escape(title),
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header(("Content-Security-Policy", CSP))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"))
        .body(html)
}

/// The hidden field every form post of a session carries.
pub fn csrf_field(session: &Session) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(&session.csrf_token))
}

/// A 303 redirect (after a form post, or to the login page).
pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header(("Location", location)).insert_header(("Cache-Control", "no-store")).finish()
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_text_is_escaped() {
        assert_eq!(
            escape(r#"<script>"a" & 'b'</script>"#),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
