//! Login and logout. The login form takes the gateway's `API_TOKEN` (compared in constant time)
//! and answers with the session cookie; nothing puts the token in a URL. Failed logins are
//! limited per minute; logging out forgets the session.

use super::error::ConsoleError;
use super::html::{escape, page, see_other};
use super::session::{self, Session};
use super::{read_form, require_session, ConsoleState, MAX_FORM_BYTES};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

fn login_form(status: StatusCode, message_opt: Option<&str>) -> HttpResponse {
    let message = message_opt
        .map(|m| format!(r#"<p class="error" role="alert" id="login-error">{}</p>"#, escape(m)))
        .unwrap_or_default();
    let body = format!(
        r#"{message}<form method="post" action="/console/login" class="card narrow">
<p>Log in with the gateway's API token (<code>API_TOKEN</code>).</p>
<label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required maxlength="512"{described}>
<button type="submit">Log in</button>
</form>"#,
        described = if message_opt.is_some() { r#" aria-describedby="login-error""# } else { "" },
    );
    page(status, "Log in", None, &body)
}

/// `GET /console/login`.
pub async fn login_page(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    if state.config.api_token.is_none() {
        return Err(ConsoleError::Disabled);
    }
    if require_session(&state, &console, &request).is_ok() {
        return Ok(see_other("/console/calls"));
    }
    Ok(login_form(StatusCode::OK, None))
}

/// `POST /console/login`: `token=...`.
pub async fn login(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ConsoleError> {
    let Some(api_token) = state.config.api_token.clone() else { return Err(ConsoleError::Disabled) };
    if !session::same_origin(&request, &state.config.public_base_url) {
        return Err(ConsoleError::Forbidden("this form was sent from another site".into()));
    }
    if !console.sessions.may_try_login() {
        return Ok(login_form(
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many failed logins: wait a minute and try again."),
        ));
    }
    let form = read_form(&state, &request, payload, MAX_FORM_BYTES).await?;
    let given = form.get("token").map(|t| t.trim()).unwrap_or_default();
    let right = given.len() == api_token.len()
        && given.bytes().zip(api_token.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
    if !right {
        console.sessions.note_failed_login();
        tracing::warn!("console login with a wrong token");
        return Ok(login_form(StatusCode::UNAUTHORIZED, Some("That is not the API token.")));
    }
    let session = Session::start(&api_token);
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/console/calls"))
        .insert_header(("Set-Cookie", session.set_cookie(&api_token)))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}

/// `POST /console/logout`.
pub async fn logout(
    state: web::Data<AppState>,
    console: web::Data<ConsoleState>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ConsoleError> {
    let (session, _) = super::read_session_form(&state, &console, &request, payload, MAX_FORM_BYTES).await?;
    console.sessions.revoke(&session);
    Ok(HttpResponse::SeeOther()
        .insert_header(("Location", "/console/login"))
        .insert_header(("Set-Cookie", session::removal_cookie()))
        .insert_header(("Cache-Control", "no-store"))
        .finish())
}
