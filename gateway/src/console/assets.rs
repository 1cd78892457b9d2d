//! The console's stylesheet and script, compiled into the gateway and served from it (no CDN,
//! so the console works offline).

use actix_web::{web, HttpResponse};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

/// `GET /console/assets/{name}`: `console.css` or `console.js` (no login needed: they hold no data).
pub async fn serve(name: web::Path<String>) -> HttpResponse {
    let (content_type, body) = match name.as_str() {
        "console.css" => ("text/css; charset=utf-8", CSS),
        "console.js" => ("text/javascript; charset=utf-8", JS),
        _ => return HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("no such asset"),
    };
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=300"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body)
}
