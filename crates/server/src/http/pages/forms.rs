//! What the fleet pages and their forms share, below the pages that use it: the sign-in, the
//! CSRF token and its hidden field, form fields, the flow of a form that acts on one thing,
//! the error pages of the forms, and the page frame and time format they draw with.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, html};
use subtle::ConstantTimeEq;

use crate::config::Mode;
use crate::http::AppState;
use crate::http::{ApiError, db};
use crate::store::{Store, StoreError};

/// A page in English, as an answer.
pub(crate) fn page(title: &str, body: Markup) -> Html<String> {
    Html(crate::render::html::page(title, body).into_string())
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

/// The `user:password` text of HTTP Basic credentials (RFC 7617: standard base64 alphabet;
/// padding optional, as some clients leave it out); `None` if it is not base64 of UTF-8.
fn basic_credentials(encoded: &str) -> Option<String> {
    use base64::Engine as _;
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    const BASIC: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    String::from_utf8(BASIC.decode(encoded.trim()).ok()?).ok()
}

/// The fleet page is open in demo mode; in production it needs the admin token as the
/// HTTP Basic password (any user name) or as a Bearer token.
///
/// Answers who signed in, for the audit log: the HTTP Basic user name the fleet manager gave
/// (the password is the admin token), or how they signed in when there is no name.
pub(crate) fn fleet_auth(state: &AppState, headers: &HeaderMap) -> Result<String, Box<Response>> {
    if state.config.mode == Mode::Demo {
        return Ok("fleet page (demo mode)".into());
    }
    let (user, given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            if scheme.eq_ignore_ascii_case("basic") {
                let raw = basic_credentials(rest)?;
                let (user, password) = raw.split_once(':')?;
                let user = user.trim();
                let named = !user.is_empty() && user.len() <= 100;
                Some((named.then(|| user.to_string()), password.to_string()))
            } else if scheme.eq_ignore_ascii_case("bearer") {
                Some((None, rest.trim().to_string()))
            } else {
                None
            }
        })
        .unwrap_or_default();
    let real = state.store.secrets().admin_token();
    if !given.is_empty() && bool::from(given.as_bytes().ct_eq(real.as_bytes())) {
        return Ok(match user {
            Some(u) => format!("fleet page: {u}"),
            None => "fleet page (admin token)".into(),
        });
    }
    Err(Box::new(
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"Doorstep fleet\"")],
            page(
                "Sign in",
                html! { h1 { "Sign in with the admin token as password" } },
            ),
        )
            .into_response(),
    ))
}

/// The fleet page's CSRF token, carried by every fleet form as the hidden field `csrf` (the
/// release upload, a multipart form, carries it in its address: see
/// `crate::http::pages::fleet_releases`).
///
/// A keyed hash (under the server's code key) of the admin token: another site cannot
/// read or guess it, so a page there cannot make a signed-in fleet manager's browser post a
/// fleet form; it needs no session store; and it changes when the admin token is rotated.
pub(crate) fn csrf_token(state: &AppState) -> String {
    let secrets = state.store.secrets();
    hex::encode(secrets.mac(&[b"doorstep fleet csrf v1", secrets.admin_token().as_bytes()]))
}

/// The hidden field that carries the CSRF token in a fleet form.
pub(crate) fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// Whether an `application/x-www-form-urlencoded` body (or the upload form's query string)
/// carries the right `csrf` field (the first one; compared in constant time).
fn csrf_ok(state: &AppState, form: &[u8]) -> bool {
    let given = form_value(form, "csrf").unwrap_or_default();
    let real = csrf_token(state);
    !given.is_empty() && bool::from(given.as_bytes().ct_eq(real.as_bytes()))
}

/// The first value of `name` in an `application/x-www-form-urlencoded` body, decoded.
pub(crate) fn form_value(form: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(form).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}

/// A fleet form's gate: who signed in (for the audit log), when `csrf_source` (the form, or the
/// upload form's query string) carries the page's CSRF token; else the sign-in page or the
/// refusal.
pub(crate) fn signed_form(
    state: &AppState,
    headers: &HeaderMap,
    csrf_source: &[u8],
) -> Result<String, Box<Response>> {
    let actor = fleet_auth(state, headers)?;
    if !csrf_ok(state, csrf_source) {
        return Err(Box::new(csrf_refused()));
    }
    Ok(actor)
}

/// The answer to a fleet form post without the right CSRF token (403 `forbidden`).
fn csrf_refused() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        doorstep_protocol::wire::ErrorCode::Forbidden,
        "this form did not come from the fleet page, or the page is out of date (the admin \
         token was rotated); reload the fleet page and send the form again",
    )
    .into_response()
}

/// A fleet-page form that acts on one thing by its id (accept a phone's chain, revoke a phone,
/// a new code for a locked stop): signed in, CSRF token right, id well formed; `action` runs
/// with who signed in, for the audit log, then the page is shown again at `back`. The outbox
/// is woken, as an action may have queued a message (a new code to the customer).
pub(crate) async fn fleet_action<I: std::str::FromStr + Send + 'static>(
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Bytes,
    what: &str,
    back: &str,
    action: fn(&Store, I, &str, i64) -> Result<(), StoreError>,
) -> Response {
    let actor = match signed_form(&state, &headers, &body) {
        Ok(actor) => actor,
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
    fn basic_credentials_are_base64_with_or_without_padding() {
        assert_eq!(
            basic_credentials("ZmxlZXQ6czNjcmV0").as_deref(),
            Some("fleet:s3cret")
        );
        assert_eq!(basic_credentials(" YTpiYw== ").as_deref(), Some("a:bc"));
        assert_eq!(basic_credentials("YTpiYw").as_deref(), Some("a:bc"));
        assert_eq!(basic_credentials("YTpi*w=="), None, "not base64");
        assert_eq!(basic_credentials("/w=="), None, "not UTF-8");
    }

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
