//! The console's accounts on the web: sign-in and sign-out, the first owner's setup link, and
//! the owner's accounts page (add a user, disable or enable one, reset a password).
//!
//! A session is a random token in an `HttpOnly`, `SameSite=Strict` cookie (`Secure` when the
//! server's public address is https), new at every sign-in, stored only as a keyed hash; it
//! ends after two hours without use or twelve after sign-in. Sign-ins are limited per address
//! (the pages' middleware) and per user name (here).

use std::sync::LazyLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{Markup, html};
use tokio::sync::Semaphore;

use crate::domain::accounts::{
    Action, MIN_PASSWORD_CHARS, Role, SESSION_MAX_MS, dummy_hash, user_name, verify_password,
};
use crate::http::middleware::limits::page_too_many;
use crate::http::pages::forms::{
    Console, SESSION_COOKIE, console, csrf_field, error_pages, form_value, format_time, page,
    session_cookie, signed_form,
};
use crate::http::{ApiError, AppState, db};
use crate::ops::accounts::{new_password_hash, new_token};
use crate::store::{StoreError, User};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/fleet/sign-in", get(sign_in_page).post(sign_in))
        .route("/fleet/sign-out", post(sign_out))
        .route("/fleet/setup/{token}", get(setup_page).post(setup))
        .route("/fleet/accounts", get(accounts_page).post(add_user))
        .route("/fleet/accounts/{name}/{change}", post(change_user))
        .layer(axum::middleware::map_response(error_pages))
}

/// At most two password hashes at once (each takes 19 MiB and tens of milliseconds): a burst
/// of sign-ins queues instead of taking the server's memory and cores. Never closed, so a
/// wait for it always ends with a permit (held by the `Result` it is in).
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

/// The bar at the top of every console page: where to go (the pages the user's role may
/// open), who is signed in, and sign-out.
pub(crate) fn signed_in_bar(console: &Console) -> Markup {
    html! {
        header class="bar no-print" {
            a class="brand" href="/fleet" { "Doorstep" }
            nav aria-label="console" {
                ul {
                    li { a href="/fleet" { "Today" } }
                    li { a href="/fleet/inbox" { "Inbox" } }
                    li { a href="/fleet/parcels" { "Parcels" } }
                    li { a href="/fleet/numbers" { "Numbers" } }
                    li { a href="/fleet/phones" { "Phones" } }
                    li {
                        a href=(if console.may(Action::ImportParcels) { "/fleet/import" } else { "/fleet/export" }) {
                            "Import / export"
                        }
                    }
                    @if console.may(Action::Accounts) {
                        li { a href="/fleet/accounts" { "Accounts" } }
                    }
                }
            }
            div class="who" {
                @if console.demo {
                    span { "Demo mode: the console is open to anyone, as the demo owner." }
                } @else {
                    span { "Signed in as " strong { (console.user.name) } " (" (console.user.role) ")" }
                    form method="post" action="/fleet/sign-out" {
                        (csrf_field(&console.csrf))
                        button class="link" { "Sign out" }
                    }
                }
            }
        }
    }
}

/// Whether a form post came from this server's own pages: a browser sends `Origin` with every
/// cross-site post, so one that is neither the server's public address (`public_url`, what a
/// browser behind a reverse proxy sees) nor the `Host` it was sent to is refused (the sign-in
/// and setup forms have no session yet to carry a CSRF token).
fn same_origin(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let public = public_url.trim_end_matches('/');
    origin.eq_ignore_ascii_case(public)
        || origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(host))
}

fn cross_site() -> Response {
    ApiError::new(
        StatusCode::FORBIDDEN,
        doorstep_protocol::wire::ErrorCode::Forbidden,
        "this form was sent from another site (or the server's --public-url is not the address \
         in your browser); open the console at its own address and sign in there",
    )
    .into_response()
}

/// The session cookie for `token` (`Secure` behind https), or the one that clears it.
fn session_cookie_header(state: &AppState, token: Option<&str>) -> HeaderValue {
    let secure = if state.config.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let (value, max_age) = token.map_or(("", 0), |t| (t, SESSION_MAX_MS / 1000));
    let value = format!(
        "{SESSION_COOKIE}={value}; Path=/fleet; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

/// Where to go after signing in: a console address only (never another site).
fn next_page(next: Option<String>) -> String {
    next.filter(|n| {
        (n == "/fleet" || n.starts_with("/fleet/") || n.starts_with("/fleet?"))
            && !n.contains("//")
            && !n.contains('\\')
    })
    .unwrap_or_else(|| "/fleet".into())
}

#[derive(serde::Deserialize)]
struct SignInQuery {
    next: Option<String>,
}

fn sign_in_form(next: &str, name: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in to the console" }
        @if let Some(e) = error {
            p class="warn" role="alert" { (e) }
        }
        form method="post" action="/fleet/sign-in" {
            input type="hidden" name="next" value=(next);
            p { label { "User name " input name="name" value=(name) autocomplete="username" required maxlength="64"; } }
            p { label { "Password " input type="password" name="password" autocomplete="current-password" required maxlength="200"; } }
            p { button { "Sign in" } }
        }
        p { small { "No account yet? Ask the console's owner. Lost your password? An owner can reset it." } }
    }
}

async fn sign_in_page(Query(q): Query<SignInQuery>) -> Response {
    page("Sign in", sign_in_form(&next_page(q.next), "", None)).into_response()
}

/// `POST /fleet/sign-in`: a new session for a right name and password, else 401 with the same
/// words for an unknown name, a wrong password and a disabled account's wrong password.
async fn sign_in(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !same_origin(&headers, &state.config.public_url) {
        return cross_site();
    }
    let next = next_page(form_value(&body, "next"));
    let typed = form_value(&body, "name").unwrap_or_default();
    let password = form_value(&body, "password").unwrap_or_default();
    let refused = |status: StatusCode, message: &str| {
        let mut r = page("Sign in", sign_in_form(&next, &typed, Some(message))).into_response();
        *r.status_mut() = status;
        r
    };
    let Ok(name) = user_name(&typed) else {
        return refused(StatusCode::UNAUTHORIZED, "Wrong user name or password.");
    };
    let by_user = &state.limiters.sign_in_by_user;
    if let Some(wait) = by_user.locked(&name) {
        return page_too_many(
            wait,
            "Too many failed sign-ins for this user.",
            "sign in again",
        );
    }
    let _slot = HASHING.acquire().await;
    let token = new_token(&state.config.random);
    let now = state.now();
    let (n, t) = (name.clone(), token.clone());
    let outcome = db(&state, move |s| {
        let found = s.user_for_sign_in(&n)?;
        let hash = found.as_ref().map_or(dummy_hash(), |(_, h)| h.as_str());
        let right = verify_password(&password, hash);
        match found {
            Some((user, _)) if right && user.disabled_at.is_none() => {
                s.start_session(&user, &t, now)?;
                Ok(Ok(()))
            }
            Some((user, _)) if right => Ok(Err(Some(user))),
            _ => Ok(Err(None)),
        }
    })
    .await;
    match outcome {
        Ok(Ok(())) => {
            let mut r = Redirect::to(&next).into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie_header(&state, Some(&token)),
            );
            r
        }
        Ok(Err(Some(_disabled))) => refused(
            StatusCode::FORBIDDEN,
            "This account is disabled. Ask an owner to enable it.",
        ),
        Ok(Err(None)) => {
            tracing::warn!(user = %name, "failed console sign-in");
            if let Some(wait) = by_user.failed(&name) {
                return page_too_many(
                    wait,
                    "Too many failed sign-ins for this user.",
                    "sign in again",
                );
            }
            refused(StatusCode::UNAUTHORIZED, "Wrong user name or password.")
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /fleet/sign-out`: ends the session and clears the cookie.
async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = signed_form(&state, &headers, &body, Action::View).await {
        return *r;
    }
    if let Some(token) = session_cookie(&headers)
        && let Err(e) = db(&state, move |s| s.end_session(&token)).await
    {
        return e.into_response();
    }
    let mut r = Redirect::to("/fleet/sign-in").into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, session_cookie_header(&state, None));
    r
}

fn new_password_fields() -> Markup {
    html! {
        p { label { "Password (at least " (MIN_PASSWORD_CHARS) " characters) "
            input type="password" name="password" autocomplete="new-password" required minlength=(MIN_PASSWORD_CHARS) maxlength="200"; } }
    }
}

fn setup_used_up() -> Response {
    let mut r = page(
        "Setup link",
        html! {
            h1 { "This setup link does not work" }
            p class="warn" role="alert" {
                "It was used already, it is older than a day, or the console has an owner. \
                 Sign in, or make an owner on the server with "
                code { "doorstep-server user add NAME --role owner" } "."
            }
            p { a href="/fleet/sign-in" { "Sign in" } }
        },
    )
    .into_response();
    *r.status_mut() = StatusCode::UNAUTHORIZED;
    r
}

/// `GET /fleet/setup/{token}`: the first owner's form, while the link is good.
async fn setup_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let now = state.now();
    match db(&state, move |s| s.setup_link_valid(&token, now)).await {
        Ok(true) => page(
            "Set up the console",
            html! {
                h1 { "Make the console's first owner" }
                p { "The owner manages the accounts of everyone else. This link works once." }
                form method="post" {
                    p { label { "User name " input name="name" autocomplete="username" required maxlength="64"; } }
                    (new_password_fields())
                    p { button { "Make the owner and sign in" } }
                }
            },
        )
        .into_response(),
        Ok(false) => setup_used_up(),
        Err(e) => e.into_response(),
    }
}

/// `POST /fleet/setup/{token}`: makes the first owner, uses the link up, signs them in.
async fn setup(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&headers, &state.config.public_url) {
        return cross_site();
    }
    let name = match user_name(&form_value(&body, "name").unwrap_or_default()) {
        Ok(n) => n,
        Err(e) => return unprocessable(e),
    };
    let password = form_value(&body, "password").unwrap_or_default();
    let _slot = HASHING.acquire().await;
    let now = state.now();
    let random = state.config.random.clone();
    let session = new_token(&random);
    let s2 = session.clone();
    let made = db(&state, move |s| {
        if !s.setup_link_valid(&token, now)? {
            return Ok(None);
        }
        let hash = new_password_hash(&password, &random)?;
        let owner = s.first_owner(&token, &name, &hash, now)?;
        s.start_session(&owner, &s2, now)?;
        Ok(Some(owner))
    })
    .await;
    match made {
        Ok(Some(_)) => {
            let mut r = Redirect::to("/fleet/accounts").into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie_header(&state, Some(&session)),
            );
            r
        }
        Ok(None) => setup_used_up(),
        Err(e) => e.into_response(),
    }
}

fn unprocessable(message: String) -> Response {
    ApiError::from(StoreError::Validation(message)).into_response()
}

/// `GET /fleet/accounts`: every user with their role and state, and the owner's forms.
async fn accounts_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let console = match console(&state, &headers, Action::Accounts, Some("/fleet/accounts")).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let users = match db(&state, |s| s.users()).await {
        Ok(u) => u,
        Err(e) => return e.into_response(),
    };
    let csrf = &console.csrf;
    page(
        "Accounts",
        html! {
            (signed_in_bar(&console))
            h1 { "Accounts" }
            p { a href="/fleet" { "Back to the console" } }
            table {
                tr { th { "user" } th { "role" } th { "added" } th { "state" } th { "change" } }
                @for u in &users {
                    (user_row(u, csrf))
                }
            }
            h2 { "Add a user" }
            form method="post" action="/fleet/accounts" {
                (csrf_field(csrf))
                p { label { "User name " input name="name" required maxlength="64" autocomplete="off"; } }
                p { label { "Role " select name="role" {
                    @for r in Role::ALL { option value=(r.as_str()) selected[r == Role::Viewer] { (r.as_str()) } }
                } } }
                (new_password_fields())
                p { button { "Add the user" } }
            }
            h2 { "What each role may do" }
            table {
                tr { th { "may …" } @for r in Role::ALL { th { (r.as_str()) } } }
                @for a in Action::ALL {
                    tr { td { (a.describe()) } @for r in Role::ALL { td { (if r.may(a) { "✓" } else { "" }) } } }
                }
            }
        },
    )
    .into_response()
}

fn user_row(u: &User, csrf: &str) -> Markup {
    let base = format!("/fleet/accounts/{}", u.name);
    html! {
        tr data-user=(u.name) {
            td { (u.name) }
            td { (u.role) }
            td { (format_time(u.created_at / 1000)) }
            td { (if u.disabled_at.is_some() { "disabled" } else { "active" }) }
            td {
                form method="post" action={ (base) (if u.disabled_at.is_some() { "/enable" } else { "/disable" }) } {
                    (csrf_field(csrf))
                    button { (if u.disabled_at.is_some() { "Enable" } else { "Disable (signs them out)" }) }
                }
                details {
                    summary { "Reset the password…" }
                    form method="post" action={ (base) "/password" } {
                        (csrf_field(csrf))
                        (new_password_fields())
                        button { "Set the new password (signs them out)" }
                    }
                }
            }
        }
    }
}

/// `POST /fleet/accounts`: adds a user.
async fn add_user(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let console = match signed_form(&state, &headers, &body, Action::Accounts).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let name = match user_name(&form_value(&body, "name").unwrap_or_default()) {
        Ok(n) => n,
        Err(e) => return unprocessable(e),
    };
    let Some(role) = form_value(&body, "role").and_then(|r| Role::parse(&r)) else {
        return unprocessable("choose a role: owner, admin, dispatcher, depot or viewer".into());
    };
    let password = form_value(&body, "password").unwrap_or_default();
    let _slot = HASHING.acquire().await;
    let random = state.config.random.clone();
    let now = state.now();
    let actor = console.user.actor();
    match db(&state, move |s| {
        let hash = new_password_hash(&password, &random)?;
        s.add_user(&name, role, &hash, &actor, now)
    })
    .await
    {
        Ok(_) => Redirect::to("/fleet/accounts").into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /fleet/accounts/{name}/disable|enable|password`.
async fn change_user(
    State(state): State<AppState>,
    Path((name, change)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let console = match signed_form(&state, &headers, &body, Action::Accounts).await {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let Ok(name) = user_name(&name) else {
        return ApiError::from(StoreError::NotFound("user")).into_response();
    };
    let actor = console.user.actor();
    let now = state.now();
    let done = match change.as_str() {
        "disable" | "enable" => {
            let disabled = change == "disable";
            db(&state, move |s| {
                s.set_user_disabled(&name, disabled, &actor, now)
            })
            .await
        }
        "password" => {
            let password = form_value(&body, "password").unwrap_or_default();
            let _slot = HASHING.acquire().await;
            let random = state.config.random.clone();
            db(&state, move |s| {
                let hash = new_password_hash(&password, &random)?;
                s.set_password(&name, &hash, &actor, now)
            })
            .await
        }
        _ => return ApiError::from(StoreError::NotFound("change")).into_response(),
    };
    match done {
        Ok(()) => Redirect::to("/fleet/accounts").into_response(),
        Err(e) => e.into_response(),
    }
}
