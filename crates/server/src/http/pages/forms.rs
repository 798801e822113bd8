//! What the console's pages and their forms share, below the pages that use it: who is signed
//! in and what their role allows, the CSRF token and its hidden field, form fields, the flow of
//! a form that acts on one thing, the error pages of the forms, and the page frame and time
//! format they draw with.

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use subtle::ConstantTimeEq;

use crate::config::Mode;
use crate::domain::accounts::{Action, Role};
use crate::http::AppState;
use crate::http::{ApiError, db};
use crate::store::{Store, StoreError, User};

/// A page in English, as an answer.
pub(crate) fn page(title: &str, body: Markup) -> Html<String> {
    Html(crate::render::html::page(title, body).into_string())
}

/// "40 min", "2 h 10 min", "3 days".
pub(crate) fn age_text(secs: i64) -> String {
    let m = secs.max(0) / 60;
    match m {
        0..=59 => format!("{m} min"),
        60..=2879 => format!("{} h {} min", m / 60, m % 60),
        _ => format!("{} days", m / 1440),
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM UTC`.
pub(crate) fn format_time(secs: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map(|t| {
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02} UTC",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute()
            )
        })
        .unwrap_or_default()
}

/// The cookie that carries a console session's token.
pub(crate) const SESSION_COOKIE: &str = "doorstep_session";

/// Who is using the console: the signed-in user (in demo mode, the demo owner), and the CSRF
/// token their forms carry.
#[derive(Debug, Clone)]
pub(crate) struct Console {
    pub(crate) user: User,
    pub(crate) csrf: String,
    /// Demo mode: the console is open to anyone, as the demo owner.
    pub(crate) demo: bool,
}

impl Console {
    /// Whether the user's role allows `action` (pages leave out the forms it does not).
    pub(crate) fn may(&self, action: Action) -> bool {
        self.user.role.may(action)
    }
}

/// The session token in the request's `Cookie` header, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// The CSRF token of a session: a keyed hash (under the server's key) of its token, so another
/// site can neither read nor guess it, and it ends with the session.
pub(crate) fn session_csrf(state: &AppState, token: &str) -> String {
    hex::encode(
        state
            .store
            .secrets()
            .mac(&[b"doorstep console csrf v2", token.as_bytes()]),
    )
}

/// The console's user for a request that does `action`: in demo mode the demo owner; else the
/// user of a live session cookie whose role allows it. Refused: without a session, a page
/// (`back`: its address) goes to the sign-in form and a form post gets a 401 page that says to
/// sign in again; a role that may not gets a 403 page that says who may.
pub(crate) async fn console(
    state: &AppState,
    headers: &HeaderMap,
    action: Action,
    back: Option<&str>,
) -> Result<Console, Box<Response>> {
    let console = if state.config.mode == Mode::Demo {
        let secrets = state.store.secrets();
        Console {
            user: User {
                id: "demo".into(),
                name: "demo".into(),
                role: Role::Owner,
                created_at: 0,
                disabled_at: None,
            },
            csrf: hex::encode(
                secrets.mac(&[b"doorstep fleet csrf v1", secrets.admin_token().as_bytes()]),
            ),
            demo: true,
        }
    } else {
        let user = match session_cookie(headers) {
            Some(token) => {
                let now = state.now();
                let t = token.clone();
                match db(state, move |s| s.session_user(&t, now)).await {
                    Ok(u) => u.map(|u| (u, token)),
                    Err(e) => return Err(Box::new(e.into_response())),
                }
            }
            None => None,
        };
        let Some((user, token)) = user else {
            return Err(Box::new(sign_in_first(back)));
        };
        Console {
            csrf: session_csrf(state, &token),
            user,
            demo: false,
        }
    };
    if !console.may(action) {
        return Err(Box::new(forbidden(&console.user, action)));
    }
    Ok(console)
}

/// No live session: a page goes to the sign-in form (and back after it); a form post is
/// answered 401 with a link to sign in (the form is not replayed: the user sends it again).
fn sign_in_first(back: Option<&str>) -> Response {
    if let Some(back) = back {
        let to = format!(
            "/fleet/sign-in?next={}",
            form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        return axum::response::Redirect::to(&to).into_response();
    }
    let mut r = page(
        "Sign in",
        html! {
            h1 { "Sign in again" }
            p class="warn" role="alert" {
                "You are not signed in, or your session ended (after two hours without use,                  or twelve after signing in). Nothing was changed."
            }
            p { a href="/fleet/sign-in" { "Sign in" } ", then send the form again." }
        },
    )
    .into_response();
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

/// The 403 page: what the user tried, which roles may, and that nothing changed.
pub(crate) fn forbidden(user: &User, action: Action) -> Response {
    let mut r = page(
        "Not allowed",
        html! {
            h1 { "Not allowed" }
            p class="warn" role="alert" data-error-code="forbidden" data-needs=(action.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")) {
                "To " (action.describe()) " you need to be " (action.who_may())
                ". You are signed in as " (user.name) " (" (user.role) "). Nothing was changed;                  ask an owner if your role should change."
            }
            p { a href="/fleet" { "Back to the console" } }
        },
    )
    .into_response();
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}

/// Whether an `application/x-www-form-urlencoded` body (or the upload form's query string)
/// carries `console`'s CSRF token as its `csrf` field (the first one; compared in constant
/// time).
fn csrf_ok(console: &Console, form: &[u8]) -> bool {
    let given = form_value(form, "csrf").unwrap_or_default();
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(console.csrf.as_bytes()))
}

/// A CSV document as a download named `name`.
pub(crate) fn csv_download(name: &str, doc: String) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        doc,
    )
        .into_response()
}

/// The hidden field that carries the CSRF token in a console form.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body, decoded.
pub(crate) fn form_value(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

/// A console form's gate: the signed-in user, when their role allows `action` and
/// `csrf_source` (the form, or the upload form's query string) carries their CSRF token; else
/// the sign-in, 403 or CSRF refusal.
pub(crate) async fn signed_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf_source: &[u8],
    action: Action,
) -> Result<Console, Box<Response>> {
    let console = console(state, headers, action, None).await?;
    if !csrf_ok(&console, csrf_source) {
        return Err(Box::new(csrf_refused()));
    }
    Ok(console)
}

/// [`signed_form`] for a multipart upload, whose CSRF token is in its address (`query`),
/// checked before a byte of the body is read.
pub(crate) async fn signed_upload(
    state: &AppState,
    headers: &HeaderMap,
    query: Option<&str>,
    action: Action,
) -> Result<Console, Box<Response>> {
    signed_form(state, headers, query.unwrap_or("").as_bytes(), action).await
}

/// The answer to a console form post without the right CSRF token (403 `forbidden`).
fn csrf_refused() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        doorstep_protocol::wire::ErrorCode::Forbidden,
        "this form did not come from the fleet page, or the page is out of date (you signed in \
         again since); reload the fleet page and send the form again",
    )
    .into_response()
}

/// What a console form that acts on one thing by its id does ([`fleet_action`]).
pub(crate) struct IdForm<I> {
    /// The thing, for "… not found".
    pub(crate) what: &'static str,
    /// The page shown after it.
    pub(crate) back: &'static str,
    /// What the user's role must allow.
    pub(crate) may: Action,
    /// The store's operation, with who did it and when.
    pub(crate) action: fn(&Store, I, &str, i64) -> Result<(), StoreError>,
}

/// A console form that acts on one thing by its id (accept a phone's chain, revoke a phone,
/// a new code for a locked stop): signed in with a role that `may`, CSRF token right, id well
/// formed; `action` runs with who signed in, for the audit log, then the page is shown again
/// at `back`. The outbox is woken, as an action may have queued a message (a new code to the customer).
pub(crate) async fn fleet_action<I: std::str::FromStr + Send + 'static>(
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    form: IdForm<I>,
) -> Response {
    let IdForm {
        what,
        back,
        may,
        action,
    } = form;
    let actor = match signed_form(&state, &headers, &body, may).await {
        Ok(c) => c.user.actor(),
        Err(r) => return *r,
    };
    let Ok(id) = id.parse::<I>() else {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            doorstep_protocol::wire::ErrorCode::NotFound,
            format!("{what} not found; reload the fleet page"),
        )
        .into_response();
    };
    let now = state.now();
    match db(&state, move |s| action(s, id, &actor, now)).await {
        Ok(()) => {
            state.outbox_wake.notify_one();
            axum::response::Redirect::to(back).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Turns the error answer of a fleet form (the API's JSON `{code, message}`, or an extractor's
/// plain-text rejection) into a page with the message and a Back link, keeping its status and
/// headers (`Retry-After`, ...): a browser shows the fleet manager words, not JSON. Pages
/// (the sign-in 401) and successes pass as they are.
pub(crate) async fn error_pages(response: Response) -> Response {
    let status = response.status();
    let a_page = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !(status.is_client_error() || status.is_server_error()) || a_page {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let (code, message) = match serde_json::from_slice::<doorstep_protocol::wire::ErrorBody>(&bytes)
    {
        Ok(e) => (
            serde_json::to_value(e.code)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            e.message,
        ),
        Err(_) => (String::new(), String::from_utf8_lossy(&bytes).into_owned()),
    };
    let title = if status.is_server_error() {
        "The server could not do that"
    } else {
        "Not done"
    };
    let mut out = page(
        "Not done",
        html! {
            h1 { (title) }
            p class="warn" role="alert" data-error-code=(code) { (message) }
            p { a href="/fleet" { "Back to the fleet page" } }
        },
    )
    .into_response();
    *out.status_mut() = status;
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            out.headers_mut().insert(name.clone(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_decoded_and_the_first_one_counts() {
        let form: &[u8] = b"csrf=ab&minimum=1.4.0%2Bbuild.7&note=a+b&minimum=2.0.0&bad=%zz%4";
        assert_eq!(
            form_value(form, "minimum").as_deref(),
            Some("1.4.0+build.7")
        );
        assert_eq!(form_value(form, "note").as_deref(), Some("a b"));
        assert_eq!(form_value(form, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(form_value(b"empty=", "empty").as_deref(), Some(""));
        assert_eq!(form_value(form, "missing"), None);
    }

    #[test]
    fn the_csrf_field_escapes_its_value() {
        assert_eq!(
            csrf_field("a\"><script>").into_string(),
            "<input type=\"hidden\" name=\"csrf\" value=\"a&quot;&gt;&lt;script&gt;\">"
        );
    }
}
