//! The customer's page, `/c/{public_ref}` (the link in the code message): the delivery, its
//! code and QR until the parcels are delivered, when the courier comes (refreshed by
//! `/c/{ref}/live.json` without a reload), and the choices the policy allows until the courier
//! is near — each a small form posted back to the page. Every word is in the customer's
//! language; the page works without JavaScript.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Json, Redirect, Response};
use axum::routing::get;
use doorstep_protocol::wire::{DeliveryMethod, MAX_INSTRUCTIONS_CHARS, ParcelStatus};
use maud::{Markup, html};

use crate::domain::customer::{
    ChoiceOutcome, MAX_HOUSE_CHARS, MAX_NEIGHBOUR_NAME_CHARS, MAX_SAFE_PLACE_CHARS, Refusal,
    parse_form,
};
use crate::domain::customer_words::CustomerWords;
use crate::domain::messages::Lang;
use crate::http::error::retry_after;
use crate::http::middleware::limiters::Wait;
use crate::http::{AppState, db};
use crate::render::html::{page_in_with, qr};
use crate::store::{CustomerPage, CustomerView};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/c/{public_ref}", get(customer_page).post(customer_choice))
        .route("/c/{public_ref}/live.json", get(live))
}

/// A link is 24 hex digits; anything longer is not one of ours.
const MAX_REF_LEN: usize = 64;

/// The language for a page without a stop (a bad link): the browser's first choice.
fn browser_lang(headers: &HeaderMap) -> Lang {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(Lang::for_tag)
        .unwrap_or_default()
}

/// The page behind a link; `with_token`: with the QR's freshly signed token (a page that is
/// shown), or without (the live part's refresh).
async fn load_page(
    state: &AppState,
    public_ref: String,
    with_token: bool,
) -> Result<CustomerPage, Response> {
    if public_ref.len() > MAX_REF_LEN {
        return Ok(CustomerPage::Unknown);
    }
    let now = state.now();
    db(state, move |s| {
        if with_token {
            s.customer_page(&public_ref, now)
        } else {
            s.customer_status(&public_ref, now)
        }
    })
    .await
    .map_err(IntoResponse::into_response)
}

async fn load(state: &AppState, public_ref: String) -> Result<CustomerPage, Response> {
    load_page(state, public_ref, true).await
}

/// `GET /c/{ref}`.
async fn customer_page(
    State(state): State<AppState>,
    Path(public_ref): Path<String>,
    headers: HeaderMap,
) -> Response {
    match load(&state, public_ref.clone()).await {
        Ok(page) => render(&state, &public_ref, page, &headers, None),
        Err(r) => r,
    }
}

/// `POST /c/{ref}`: one of the page's forms. The answer is the page again, in the customer's
/// language, with what became of the change on top (a replayed form carries an old revision
/// and changes nothing). A link that stopped working meanwhile gets its page (not found,
/// expired); too many changes get the page with the limit's words and `Retry-After`.
async fn customer_choice(
    State(state): State<AppState>,
    Path(public_ref): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fields: Vec<(String, String)> = form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let rev: i64 = fields
        .iter()
        .find(|(k, _)| k == "rev")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(-1);
    enum Done {
        Form(crate::domain::customer::FormError),
        Limited(Wait),
        Changed(ChoiceOutcome),
        Gone,
    }
    let done = match parse_form(&fields) {
        Err(e) => Done::Form(e),
        Ok(choice) => match state.limiters.customer_choices_per_link.check(&public_ref) {
            Err(wait) => Done::Limited(wait),
            Ok(()) => {
                let (now, key) = (state.now(), public_ref.clone());
                match db(&state, move |s| s.customer_choice(&key, rev, &choice, now)).await {
                    Ok(o) => Done::Changed(o),
                    Err(e) if e.status() == StatusCode::NOT_FOUND => Done::Gone,
                    Err(e) => return e.into_response(),
                }
            }
        },
    };
    // The page as it is now, rendered once.
    let page = match load(&state, public_ref.clone()).await {
        Ok(CustomerPage::Page(p)) => p,
        Ok(other) => return render(&state, &public_ref, other, &headers, None),
        Err(r) => return r,
    };
    let words = page.language.customer_words();
    let (status, notice, wait) = match done {
        Done::Form(e) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Notice::Error(words.form_error(e)),
            None,
        ),
        Done::Limited(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            Notice::Error(words.too_many.into()),
            Some(wait),
        ),
        Done::Changed(outcome) => {
            let status = match outcome {
                ChoiceOutcome::Saved => StatusCode::OK,
                ChoiceOutcome::Stale | ChoiceOutcome::Closed(_) | ChoiceOutcome::DayTaken => {
                    StatusCode::CONFLICT
                }
                _ => StatusCode::UNPROCESSABLE_ENTITY,
            };
            let text = words.outcome(&outcome);
            let notice = match outcome {
                ChoiceOutcome::Saved => Notice::Saved(text),
                _ => Notice::Error(text),
            };
            (status, notice, None)
        }
        // Gone between the page and the form, and back since: show it as it is.
        Done::Gone => (
            StatusCode::CONFLICT,
            Notice::Error(words.stale.into()),
            None,
        ),
    };
    let mut r = with_status(
        status,
        render(
            &state,
            &public_ref,
            CustomerPage::Page(page),
            &headers,
            Some(notice),
        ),
    );
    if let Some(wait) = wait {
        retry_after(r.headers_mut(), wait.secs());
    }
    r
}

/// What the page's live part shows, for `live.json`.
#[derive(Debug, serde::Serialize)]
struct Live {
    /// "Your delivery comes today, …".
    when: String,
    /// "Expected between 10:15 and 11:15.", on the day.
    window: Option<String>,
    /// "3 stops before yours.", on the day.
    before: Option<String>,
    /// Why choices can no longer change, once they cannot.
    closed: Option<String>,
    /// Every parcel delivered.
    delivered: bool,
}

/// `GET /c/{ref}/live.json`: the live part of the page, refreshed by the page's script.
async fn live(State(state): State<AppState>, Path(public_ref): Path<String>) -> Response {
    let page = match load_page(&state, public_ref, false).await {
        Ok(CustomerPage::Page(p)) => p,
        Ok(_) => return StatusCode::NOT_FOUND.into_response(),
        Err(r) => return r,
    };
    let words = page.language.customer_words();
    let (window, before) = live_lines(&state, &page, &words);
    (
        [(header::CACHE_CONTROL, "no-store")],
        Json(Live {
            when: words.comes_on(&page.delivery_date, page.delivery_date == page.today),
            window,
            before,
            closed: page.open.err().map(|c| words.closed(c)),
            delivered: page.delivered,
        }),
    )
        .into_response()
}

fn live_lines(
    state: &AppState,
    page: &CustomerView,
    words: &CustomerWords,
) -> (Option<String>, Option<String>) {
    let tz = &state.config.time_zone;
    let window = page
        .window
        .map(|w| words.window(&tz.clock_time(w.from_ms), &tz.clock_time(w.to_ms)));
    let before = page.progress.map(|p| words.stops_before(p.stops_before));
    (window, before)
}

enum Notice {
    Saved(String),
    Error(String),
}

fn with_status(status: StatusCode, mut r: Response) -> Response {
    if r.status() == StatusCode::OK {
        *r.status_mut() = status;
    }
    r
}

fn render(
    state: &AppState,
    public_ref: &str,
    page: CustomerPage,
    headers: &HeaderMap,
    notice: Option<Notice>,
) -> Response {
    let (status, lang, title, body) = match page {
        CustomerPage::Page(p) => {
            let words = p.language.customer_words();
            let title = p.language.customer_page().title;
            let body = page_body(state, public_ref, &p, &words, notice);
            (StatusCode::OK, p.language, title, body)
        }
        CustomerPage::Moved(to) => return Redirect::to(&format!("/c/{to}")).into_response(),
        CustomerPage::Unknown => {
            let lang = browser_lang(headers);
            let w = lang.customer_words();
            let body = html! { h1 { (w.unknown_title) } p { (w.unknown_text) } };
            (StatusCode::NOT_FOUND, lang, w.unknown_title, body)
        }
        CustomerPage::Expired(lang) => {
            let w = lang.customer_words();
            let body = html! { h1 { (w.expired_title) } p { (w.expired_text) } };
            (StatusCode::GONE, lang, w.expired_title, body)
        }
    };
    let doc = page_in_with(
        lang.as_str(),
        title,
        &["/assets/customer.css"],
        &["/assets/console/customer.js"],
        body,
    );
    (
        status,
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(doc.into_string()),
    )
        .into_response()
}

fn page_body(
    state: &AppState,
    public_ref: &str,
    p: &CustomerView,
    w: &CustomerWords,
    notice: Option<Notice>,
) -> Markup {
    let code_words = p.language.customer_page();
    let (window, before) = live_lines(state, p, w);
    let today = p.delivery_date == p.today;
    let action = format!("/c/{public_ref}");
    html! {
        h1 { (code_words.title) }
        p { (code_words.for_whom(&p.recipient_name, &p.address, &w.date(&p.delivery_date))) }
        @match notice {
            Some(Notice::Saved(t)) => p class="notice" role="status" data-notice { (t) },
            Some(Notice::Error(t)) => p class="error" role="alert" data-notice { (t) },
            None => {},
        }
        section aria-labelledby="when" data-live=(format!("/c/{public_ref}/live.json")) {
            h2 id="when" { (w.when) }
            @if p.delivered {
                p class="done" data-live-delivered { (w.delivered) }
            } @else {
                p data-live-when { (w.comes_on(&p.delivery_date, today)) }
                @if let Some(t) = &window { p data-live-window { strong { (t) } } }
                @if let Some(t) = &before { p data-live-before aria-live="polite" { (t) } }
            }
        }
        section aria-labelledby="parcels" {
            h2 id="parcels" { (w.parcels) }
            ul class="parcels" {
                @for parcel in &p.parcels {
                    li {
                        strong { (parcel.barcode) }
                        @if let Some(d) = &parcel.description { " " (d) }
                        @if parcel.status == ParcelStatus::Delivered { " — " (w.delivered) }
                    }
                }
            }
        }
        @if p.code_required && !p.delivered {
            section aria-label="code" {
                p class="warn" { (code_words.give_only_to_courier) }
                @match &p.token {
                    Some(token) => {
                        figure class="qr" { (qr(token, 260)) figcaption { (code_words.show_to_courier) } }
                        details { summary { (code_words.qr_text) } code data-token { (token) } }
                    }
                    None => @if p.open.is_ok() { p { (code_words.expired) } },
                }
            }
        } @else if !p.delivered {
            p { (code_words.no_code) }
        }
        @if !p.delivered {
            section aria-labelledby="choices" {
                h2 id="choices" { (w.choices) }
                p data-current {
                    (w.current_choice) " "
                    strong { (current(p, w)) }
                }
                @if let Some(text) = &p.choice.instructions {
                    p { (w.instructions) ": " q data-instructions { (text) } }
                }
                @match p.open {
                    Err(closed) => p class="warn" data-closed { (w.closed(closed)) },
                    Ok(()) => (choice_forms(&action, p, w)),
                }
            }
        }
    }
}

fn current(p: &CustomerView, w: &CustomerWords) -> String {
    let name = |m: DeliveryMethod| match m {
        DeliveryMethod::Neighbour => w.neighbour,
        DeliveryMethod::SafePlace => w.safe_place,
        DeliveryMethod::PickupPoint => w.pickup_point,
        DeliveryMethod::HandToRecipient => w.in_person,
    };
    match (p.choice.method, &p.choice.place) {
        (Some(m), Some(place)) => format!("{} — {place}", name(m)),
        (Some(m), None) => name(m).to_string(),
        (None, _) if p.planned == DeliveryMethod::HandToRecipient => w.as_planned.to_string(),
        (None, _) => format!("{} {}", name(p.planned), w.sender_planned),
    }
}

fn refused(w: &CustomerWords, r: Refusal) -> Markup {
    html! { p class="refused" data-refused { strong { (w.not_available) } " " (w.refusal(r)) } }
}

fn choice_forms(action: &str, p: &CustomerView, w: &CustomerWords) -> Markup {
    let rev = p.rev.to_string();
    let hidden = |choice: &str| {
        html! {
            input type="hidden" name="choice" value=(choice);
            input type="hidden" name="rev" value=(rev);
        }
    };
    html! {
        @if p.choice.method.unwrap_or(p.planned) != DeliveryMethod::HandToRecipient {
            form method="post" action=(action) data-choice="in_person" {
                (hidden("in_person"))
                button { (w.in_person_button) }
            }
        }
        fieldset data-form="neighbour" {
            legend { (w.neighbour) }
            @match p.refusal(DeliveryMethod::Neighbour) {
                Some(r) => (refused(w, r)),
                None => form method="post" action=(action) {
                    (hidden("neighbour"))
                    label { (w.neighbour_name) input name="neighbour_name" required maxlength=(MAX_NEIGHBOUR_NAME_CHARS) autocomplete="off"; }
                    label { (w.house) input name="house" required maxlength=(MAX_HOUSE_CHARS) autocomplete="off"; }
                    @if p.code_required { p class="hint" { (w.pass_code_on) } }
                    button { (w.neighbour_button) }
                },
            }
        }
        fieldset data-form="safe_place" {
            legend { (w.safe_place) }
            @match p.refusal(DeliveryMethod::SafePlace) {
                Some(r) => (refused(w, r)),
                None => form method="post" action=(action) {
                    (hidden("safe_place"))
                    @if p.safe_places.is_empty() {
                        label { (w.safe_place_describe) input name="safe_place_other" required maxlength=(MAX_SAFE_PLACE_CHARS); }
                    } @else {
                        @for (i, place) in p.safe_places.iter().enumerate() {
                            label class="radio" { input type="radio" name="safe_place" value=(place) required checked[i == 0]; " " (place) }
                        }
                    }
                    button { (w.safe_place_button) }
                },
            }
        }
        fieldset data-form="pickup_point" {
            legend { (w.pickup_point) }
            @match p.refusal(DeliveryMethod::PickupPoint) {
                Some(r) => (refused(w, r)),
                None => form method="post" action=(action) {
                    (hidden("pickup_point"))
                    label { (w.pickup_point)
                        select name="pickup_point" {
                            @for point in &p.pickup_points {
                                option value=(point.id) { (point.place()) }
                            }
                        }
                    }
                    button { (w.pickup_point_button) }
                },
            }
        }
        fieldset data-form="day" {
            legend { (w.other_day) }
            @if p.other_days.is_empty() {
                (refused(w, Refusal::NoOtherDay))
            } @else {
                form method="post" action=(action) {
                    (hidden("day"))
                    label { (w.day_label)
                        select name="day" {
                            @for day in &p.other_days { option value=(day) { (w.date(day)) } }
                        }
                    }
                    button { (w.other_day_button) }
                }
            }
        }
        fieldset data-form="instructions" {
            legend { (w.instructions) }
            form method="post" action=(action) {
                (hidden("instructions"))
                label { (w.instructions)
                    textarea name="instructions" rows="3" maxlength=(MAX_INSTRUCTIONS_CHARS) aria-describedby="instructions-hint" {
                        (p.choice.instructions.as_deref().unwrap_or(""))
                    }
                }
                p class="hint" id="instructions-hint" { (w.instructions_hint) " " (w.at_most(MAX_INSTRUCTIONS_CHARS)) }
                button { (w.instructions_button) }
            }
        }
        @if p.reachable {
            fieldset data-form="notify_near" {
                legend { (w.notify) }
                form method="post" action=(action) {
                    (hidden("notify_near"))
                    label class="radio" { input type="checkbox" name="notify" checked[p.notify_near]; " " (w.notify_label) }
                    button { (w.notify_button) }
                }
            }
        }
    }
}
