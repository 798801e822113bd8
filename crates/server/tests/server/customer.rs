//! The customer's side: the choices on the customer's page within the policy, their way to the
//! courier's manifest, the shipper's webhook and the proof timeline, "when is it coming", the
//! near message, the delivery calendar, and bad links and abuse.

use std::time::Duration;

use doorstep_protocol::wire::{ExceptionReason, Manifest, ManifestStop, Verification};
use doorstep_protocol::{ParcelId, StopId};
use doorstep_server::domain::calendar::Calendar;
use doorstep_server::{Clock, Rate};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::helpers::*;
use super::outbox::{check_signature, receiver, wait_for_hooks};

const DAY_MS: i64 = 86_400_000;

/// The page's path of a demo parcel.
fn page_of(p: &doorstep_server::DemoParcel) -> String {
    p.customer_url[p.customer_url.find("/c/").unwrap()..].to_string()
}

/// The revision the page's forms carry.
fn rev_on(html: &str) -> String {
    let start = html.find("name=\"rev\" value=\"").expect("a choice form") + 18;
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

impl TestApp {
    /// Opens the customer's page and posts one of its forms (`rev` from the page).
    async fn choose(&self, page: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let html = self.get_text(page).await;
        let rev = rev_on(&html);
        self.post_choice(page, fields, &rev).await
    }

    async fn post_choice(
        &self,
        page: &str,
        fields: &[(&str, &str)],
        rev: &str,
    ) -> (StatusCode, String) {
        let mut body = form_urlencoded::Serializer::new(String::new());
        body.append_pair("rev", rev);
        for (k, v) in fields {
            body.append_pair(k, v);
        }
        let r = self
            .client
            .post(self.url(page))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.finish())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.text().await.unwrap())
    }

    async fn live(&self, page: &str) -> Value {
        let r = self
            .client
            .get(self.url(&format!("{page}/live.json")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

fn stop_in(m: &Manifest, stop: StopId) -> Option<&ManifestStop> {
    m.stops.iter().find(|s| s.stop_id == stop)
}

/// A calendar of `weekdays` closed on the days of `closed` (a closed-days file's text).
fn calendar(weekdays: &str, closed: &str) -> Calendar {
    Calendar::new(weekdays, Calendar::parse_closed(closed, "test").unwrap()).unwrap()
}

/// The day before the demo route: every choice is open.
async fn the_day_before(tweak: impl FnOnce(&mut doorstep_server::ServerConfig)) -> TestApp {
    let app = spawn_app_with(tweak).await;
    app.clock.set_ms(MORNING_MS - DAY_MS);
    app
}

#[tokio::test]
async fn a_neighbour_reaches_the_couriers_manifest_the_audit_log_and_the_proof_timeline() {
    let app = the_day_before(|_| {}).await;
    let p = app.parcel("code + photo: high value").clone();
    let page = page_of(&p);
    let html = app.get_text(&page).await;
    // A valuable parcel needs the code: a neighbour may be given it, nobody at a safe place
    // or pickup point would have it.
    assert!(html.contains("data-form=\"neighbour\""), "{html}");
    assert!(html.contains("nobody there would have it"), "{html}");
    assert!(html.contains("pass it on to them"));

    let (status, html) = app
        .choose(
            &page,
            &[
                ("choice", "neighbour"),
                ("neighbour_name", "Ana Ruiz"),
                ("house", "14"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Saved."), "{html}");
    assert!(html.contains("Ana Ruiz, 14"));

    let device = app.device().await;
    let m = device.manifest(DATE).await;
    let stop = stop_in(&m, p.stop_id).expect("the stop is on the route");
    let choice = stop.customer.as_ref().expect("the customer's choice");
    assert_eq!(
        choice.method,
        Some(doorstep_protocol::wire::DeliveryMethod::Neighbour)
    );
    assert_eq!(choice.place.as_deref(), Some("Ana Ruiz, 14"));
    let parcel = &stop.parcels[0];
    assert_eq!(
        parcel.method,
        doorstep_protocol::wire::DeliveryMethod::Neighbour
    );
    // The policy asked again: a neighbour signs (the built-in rule).
    let neighbour = parcel
        .methods
        .iter()
        .find(|m| m.method == doorstep_protocol::wire::DeliveryMethod::Neighbour)
        .unwrap();
    assert!(neighbour.signature_required && neighbour.code_required);

    let audit = app
        .query("SELECT actor, action, subject FROM audit_log WHERE action LIKE 'customer.%'")
        .await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].get::<_, String>(0).unwrap(), "customer");
    assert_eq!(audit[0].get::<_, String>(1).unwrap(), "customer.neighbour");
    assert_eq!(
        audit[0].get::<_, String>(2).unwrap(),
        p.parcel_id.to_string()
    );
    let proof = text_as(
        &app,
        &app.session().await,
        &format!("/fleet/parcels/{}", p.parcel_id),
    )
    .await;
    assert!(proof.contains("customer.neighbour"), "{proof}");
    assert!(proof.contains("neighbour: Ana Ruiz, 14"), "{proof}");
}

#[tokio::test]
async fn age_restricted_goods_offer_no_neighbour_or_safe_place_and_say_why() {
    let app = the_day_before(|_| {}).await;
    let p = app.parcel("age-restricted").clone();
    let page = page_of(&p);
    let html = app.get_text(&page).await;
    let why = "age-restricted goods are handed only to you, in person, with an ID check.";
    assert_eq!(
        html.matches(why).count(),
        2,
        "neighbour and safe place: {html}"
    );
    let (status, html) = app
        .choose(
            &page,
            &[
                ("choice", "neighbour"),
                ("neighbour_name", "Ana"),
                ("house", "1"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(html.contains(why));
    let device = app.device().await;
    let m = device.manifest(DATE).await;
    assert!(stop_in(&m, p.stop_id).unwrap().customer.is_none());
}

#[tokio::test]
async fn a_safe_place_comes_from_the_shippers_list_and_the_policy_asks_for_its_photo() {
    let app = the_day_before(|_| {}).await;
    let p = app.parcel("no code: safe place").clone();
    let page = page_of(&p);
    let html = app.get_text(&page).await;
    assert!(html.contains("name=\"safe_place\""), "{html}");
    let (status, html) = app
        .choose(
            &page,
            &[("choice", "safe_place"), ("safe_place", "in the bin")],
        )
        .await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("That place is not on the list"));

    let listed = {
        let start = html.find("name=\"safe_place\" value=\"").unwrap() + 25;
        html[start..start + html[start..].find('"').unwrap()].to_string()
    };
    let (status, _) = app
        .choose(&page, &[("choice", "safe_place"), ("safe_place", &listed)])
        .await;
    assert_eq!(status, 200);
    let m = app.device().await.manifest(DATE).await;
    let stop = stop_in(&m, p.stop_id).unwrap();
    assert_eq!(
        stop.customer.as_ref().unwrap().place.as_deref(),
        Some(listed.as_str())
    );
    let safe = stop.parcels[0]
        .methods
        .iter()
        .find(|m| m.method == doorstep_protocol::wire::DeliveryMethod::SafePlace)
        .expect("the safe place is offered at the door");
    assert!(safe.photo_required, "the built-in rule asks for a photo");
}

#[tokio::test]
async fn a_customer_can_ask_for_the_parcel_in_person_when_the_sender_planned_a_safe_place() {
    let app = the_day_before(|_| {}).await;
    let p = app.parcel("no code: safe place").clone();
    let page = page_of(&p);
    let html = app.get_text(&page).await;
    assert!(
        html.contains("Leave it in a safe place (as the sender planned)"),
        "{html}"
    );
    let (status, html) = app.choose(&page, &[("choice", "in_person")]).await;
    assert_eq!(status, 200, "{html}");
    assert!(
        html.contains("Your choice: <strong>Into my own hands</strong>"),
        "{html}"
    );
    let m = app.device().await.manifest(DATE).await;
    let stop = stop_in(&m, p.stop_id).unwrap();
    assert_eq!(
        stop.customer.as_ref().unwrap().method,
        Some(doorstep_protocol::wire::DeliveryMethod::HandToRecipient)
    );
    assert_eq!(
        stop.parcels[0].method,
        doorstep_protocol::wire::DeliveryMethod::HandToRecipient
    );
}

#[tokio::test]
async fn a_pickup_point_comes_from_the_fleets_list_and_a_fleet_without_one_says_so() {
    let none = the_day_before(|_| {}).await;
    let p = none.parcel("no code: low value").clone();
    let html = none.get_text(&page_of(&p)).await;
    assert!(
        html.contains("this delivery service has no pickup points."),
        "{html}"
    );
    let (status, _) = none
        .choose(
            &page_of(&p),
            &[
                ("choice", "pickup_point"),
                ("pickup_point", "kiosk-central"),
            ],
        )
        .await;
    assert_eq!(status, 422);

    let app = the_day_before(|c| {
        c.customers.pickup_points = doorstep_server::demo_pickup_points();
    })
    .await;
    let p = app.parcel("no code: low value").clone();
    let (status, _) = app
        .choose(
            &page_of(&p),
            &[("choice", "pickup_point"), ("pickup_point", "nowhere")],
        )
        .await;
    assert_eq!(status, 422, "an id that is not the fleet's");
    let (status, html) = app
        .choose(
            &page_of(&p),
            &[
                ("choice", "pickup_point"),
                ("pickup_point", "kiosk-central"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{html}");
    let m = app.device().await.manifest(DATE).await;
    let choice = stop_in(&m, p.stop_id).unwrap().customer.clone().unwrap();
    assert_eq!(
        choice.place.as_deref(),
        Some("Kiosk Central, 1 Station Road")
    );
}

#[tokio::test]
async fn another_day_skips_the_weekend_and_closed_days_and_sends_a_code_for_that_day() {
    // The route is on Wednesday 2026-11-25; Friday the 27th is closed.
    let app = the_day_before(|c| {
        c.customers.calendar = calendar("mon-sat", "2026-11-27 Closed");
    })
    .await;
    let p = app.parcel("code + photo: high value").clone();
    let page = page_of(&p);
    let html = app.get_text(&page).await;
    for (day, offered) in [
        ("2026-11-26", true),
        ("2026-11-27", false),
        ("2026-11-28", true),
        ("2026-11-29", false),
        ("2026-11-30", true),
        ("2026-12-01", true),
        ("2026-12-02", true),
        ("2026-12-03", false),
    ] {
        assert_eq!(
            html.contains(&format!("option value=\"{day}\"")),
            offered,
            "{day}"
        );
    }
    let (status, _) = app
        .choose(&page, &[("choice", "day"), ("day", "2026-11-29")])
        .await;
    assert_eq!(status, 422, "a Sunday is refused");
    let (status, html) = app
        .choose(&page, &[("choice", "day"), ("day", "2026-11-30")])
        .await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Monday 30 November"), "{html}");

    let device = app.device().await;
    assert!(stop_in(&device.manifest(DATE).await, p.stop_id).is_none());
    assert!(stop_in(&device.manifest("2026-11-30").await, p.stop_id).is_some());
    // A code for the new day reached the customer; the old one ended.
    let code = app.code_from_dev_outbox(p.stop_id, 1).await;
    assert_ne!(Some(&code), p.code.as_ref());
    let ended = app
        .query(&format!(
            "SELECT ended_by FROM codes WHERE stop_id = '{}' AND superseded_at IS NOT NULL",
            p.stop_id
        ))
        .await;
    assert_eq!(ended[0].get::<_, String>(0).unwrap(), "rescheduled");
    // The new code works on the new day.
    app.clock.set_ms(MORNING_MS + 5 * DAY_MS);
    let answer = device.verify(p.parcel_id, &code).await;
    assert_eq!(answer["result"], "verified", "{answer}");
}

#[tokio::test]
async fn instructions_are_bounded_and_reach_the_courier_as_text() {
    let app = the_day_before(|_| {}).await;
    let p = app.parcel("no code: low value").clone();
    let page = page_of(&p);
    let long = "x".repeat(301);
    let (status, html) = app
        .choose(
            &page,
            &[("choice", "instructions"), ("instructions", &long)],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        html.contains("Instructions for the courier: at most 300 characters."),
        "{html}"
    );
    let text = "<b>Gate code 4711</b>, ring twice";
    let (status, html) = app
        .choose(&page, &[("choice", "instructions"), ("instructions", text)])
        .await;
    assert_eq!(status, 200);
    assert!(!html.contains("<b>Gate"), "markup is escaped");
    assert!(html.contains("&lt;b&gt;Gate code 4711&lt;/b&gt;"));
    let m = app.device().await.manifest(DATE).await;
    let choice = stop_in(&m, p.stop_id).unwrap().customer.clone().unwrap();
    assert_eq!(choice.instructions.as_deref(), Some(text));
    assert_eq!(choice.method, None, "instructions alone leave the method");
}

#[tokio::test]
async fn a_replayed_form_changes_nothing_twice_and_one_webhook_is_signed_and_sent() {
    let (url, seen) = receiver(vec![StatusCode::OK]).await;
    let app = the_day_before(|_| {}).await;
    let shipper = app.hooked_shipper(&url).await;
    let created = app
        .create_parcel(
            shipper["api_key"].as_str().unwrap(),
            json!({
            "barcode": "PREF-1",
            "recipient": { "name": "Mary Jackson", "email": "mary@example.com" },
            "address": "Prinsengracht 7",
            "postal_code": "1011",
            "method": "hand_to_recipient",
            "delivery_date": DATE,
            "courier_id": app.seed.courier_id,
            "reschedule_days": 2,
            }),
        )
        .await;
    let page = created["customer_url"].as_str().unwrap();
    let page = page[page.find("/c/").unwrap()..].to_string();
    let html = app.get_text(&page).await;
    assert_eq!(
        html.matches("<option value=\"2026-").count(),
        2,
        "the shipper's limit: 2 days"
    );
    let rev = rev_on(&html);
    let form = [
        ("choice", "neighbour"),
        ("neighbour_name", "Ana"),
        ("house", "3"),
    ];
    let (first, _) = app.post_choice(&page, &form, &rev).await;
    let (again, html) = app.post_choice(&page, &form, &rev).await;
    assert_eq!((first, again), (StatusCode::OK, StatusCode::CONFLICT));
    assert!(html.contains("nothing was changed"), "{html}");

    wait_for_hooks(&app, &seen, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.clock.advance_ms(5_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hooks = seen.lock().unwrap().clone();
    assert_eq!(hooks.len(), 1, "one change, one webhook");
    let (_, headers, body) = &hooks[0];
    check_signature(
        shipper["webhook_secret"].as_str().unwrap(),
        headers,
        body,
        app.clock.now_ms() / 1000,
    )
    .unwrap();
    let payload: Value = serde_json::from_str(body).unwrap();
    assert_eq!(payload["event"], "parcel.preference_changed");
    assert_eq!(payload["preference"]["method"], "neighbour");
    assert_eq!(payload["preference"]["place"], "Ana, 3");
    assert_eq!(payload["barcode"], "PREF-1");
    let audit = app
        .query("SELECT COUNT(*) FROM audit_log WHERE actor = 'customer'")
        .await;
    assert_eq!(audit[0].get::<_, i64>(0).unwrap(), 1);
}

#[tokio::test]
async fn choices_close_when_the_courier_is_near_or_at_the_door() {
    let app = spawn_app().await;
    let device = app.device().await;
    let m = device.manifest(DATE).await;
    // On the day, before any record: the first stops are too near.
    let first = m.stops[0].stop_id;
    let p = app
        .seed
        .parcels
        .iter()
        .find(|p| p.stop_id == first)
        .unwrap()
        .clone();
    let html = app.get_text(&page_of(&p)).await;
    assert!(
        html.contains("Too late to change: your stop is next"),
        "{html}"
    );
    assert!(!html.contains("data-form="), "no forms once closed");
    let (status, html) = app
        .post_choice(
            &page_of(&p),
            &[("choice", "instructions"), ("instructions", "hi")],
            "0",
        )
        .await;
    assert_eq!(status, 409);
    assert!(html.contains("Too late to change"));

    // A later stop is open, until the courier checks its code at the door.
    let p = app.parcel("code: pickup point, recipient asked").clone();
    let position = m.stops.iter().position(|s| s.stop_id == p.stop_id).unwrap();
    assert!(
        position > 2,
        "the demo route has the parcel after its third stop"
    );
    assert!(
        app.get_text(&page_of(&p))
            .await
            .contains("data-form=\"neighbour\"")
    );
    device.verify(p.parcel_id, p.code.as_deref().unwrap()).await;
    let html = app.get_text(&page_of(&p)).await;
    assert!(html.contains("already at your door"), "{html}");
}

#[tokio::test]
async fn the_window_and_stops_before_yours_follow_the_couriers_records() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let m = device.manifest(DATE).await;
    let last = m.stops.last().unwrap();
    let p = app
        .seed
        .parcels
        .iter()
        .find(|p| p.stop_id == last.stop_id)
        .unwrap()
        .clone();
    let page = page_of(&p);
    let total = m.stops.len() - 1;
    let live = app.live(&page).await;
    assert_eq!(
        live["before"],
        format!("{total} stops before yours."),
        "{live}"
    );
    assert!(
        live["window"]
            .as_str()
            .unwrap()
            .starts_with("Expected between ")
    );
    assert!(live["when"].as_str().unwrap().contains("today"));
    let html = app.get_text(&page).await;
    assert!(html.contains(&format!("{total} stops before yours.")));
    // Nothing about other customers or where the courier is.
    assert!(
        !html.contains("Grace Hopper") && !html.contains("52.3"),
        "{html}"
    );

    // The courier tries the first two stops (nobody home): two fewer before yours.
    for stop in &m.stops[..2] {
        let ids: Vec<ParcelId> = stop.parcels.iter().map(|x| x.parcel_id).collect();
        app.clock.advance_ms(10 * 60_000);
        let ev = device.event(
            stop.stop_id,
            &ids,
            failed(ExceptionReason::NotHome),
            app.clock.now_ms(),
        );
        device.sync_one(ev).await;
    }
    let live = app.live(&page).await;
    assert_eq!(
        live["before"],
        format!("{} stops before yours.", total - 2),
        "{live}"
    );
}

#[tokio::test]
async fn the_near_message_goes_once_when_the_courier_is_three_stops_away() {
    let app = the_day_before(|_| {}).await;
    let mut device = app.device().await;
    let m = device.manifest(DATE).await;
    // A stop with an email address at the end of the route.
    let p = app.parcel("code: pickup point, recipient asked").clone();
    let position = m.stops.iter().position(|s| s.stop_id == p.stop_id).unwrap();
    let (status, _) = app
        .choose(&page_of(&p), &[("choice", "notify_near"), ("notify", "on")])
        .await;
    assert_eq!(status, 200);
    app.clock.set_ms(MORNING_MS);
    let near = || async {
        let n = app
            .query("SELECT COUNT(*) FROM outbox WHERE subject LIKE 'Your delivery is near%'")
            .await;
        n[0].get::<_, i64>(0).unwrap() as usize
    };
    let mut sent = Vec::new();
    for stop in &m.stops[..position] {
        let ids: Vec<ParcelId> = stop.parcels.iter().map(|x| x.parcel_id).collect();
        let ev = device.event(
            stop.stop_id,
            &ids,
            failed(ExceptionReason::NotHome),
            app.clock.now_ms(),
        );
        device.sync_one(ev).await;
        sent.push(near().await);
    }
    // Sent when at most 3 stops were left before it, and only once.
    let expected: Vec<usize> = (1..=position)
        .map(|done| usize::from(position - done <= 3))
        .collect();
    assert_eq!(sent.iter().max(), Some(&1), "{sent:?}");
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn a_reattempt_goes_to_the_next_delivery_day_across_a_holiday_and_the_weekend() {
    // Wednesday the 25th; Thursday and Friday closed; no Saturday deliveries.
    let app = spawn_app_with(|c| {
        c.customers.calendar = calendar("mon-fri", "2026-11-26 Thanksgiving\n2026-11-27\n");
    })
    .await;
    let p = app.parcel("no code: low value").clone();
    let mut device = app.device().await;
    let ev = device.record(&p, failed(ExceptionReason::NotHome), MORNING_MS);
    device.sync_one(ev).await;
    let view = app
        .admin_get(&format!("/v1/admin/parcels/{}", p.parcel_id))
        .await;
    assert_eq!(view["delivery_date"], "2026-11-30", "{view}");
    assert_eq!(view["status"], "pending");

    // A parcel with a code: its new code is valid to the end of Monday, the new day.
    let c = app.parcel("code + photo: high value").clone();
    let ev = device.record(&c, failed(ExceptionReason::NotHome), MORNING_MS);
    device.sync_one(ev).await;
    let view = app
        .admin_get(&format!("/v1/admin/parcels/{}", c.parcel_id))
        .await;
    assert_eq!(view["delivery_date"], "2026-11-30", "{view}");
    // 2026-12-01T00:00:00Z, the end of Monday 30 November in the fleet's zone (UTC).
    assert_eq!(view["code_expires_at"], 1_796_083_200, "{view}");
}

#[tokio::test]
async fn bad_links_get_a_clear_page_in_the_browsers_language_and_change_nothing() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/c/0123456789abcdef01234567"))
        .header("accept-language", "es-ES,es;q=0.9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("Este enlace no funciona"));
    let (status, html) = app
        .post_choice(
            "/c/0123456789abcdef01234567",
            &[("choice", "in_person")],
            "0",
        )
        .await;
    assert_eq!(status, 404);
    assert!(html.contains("This link does not work"));

    // Delivered: no code, no QR, no choices.
    let p = app.parcel("no code: low value").clone();
    let mut device = app.device().await;
    let ev = device.record(&p, delivered(Verification::NotRequired), MORNING_MS);
    device.sync_one(ev).await;
    let html = app.get_text(&page_of(&p)).await;
    assert!(html.contains("Delivered. Thank you!"), "{html}");
    assert!(!html.contains("data-token") && !html.contains("<form"));
    let (status, _) = app
        .post_choice(
            &page_of(&p),
            &[("choice", "instructions"), ("instructions", "x")],
            "0",
        )
        .await;
    assert_eq!(status, 409);

    // A code parcel, delivered: the code is never shown again.
    let c = app.parcel("code + photo: high value").clone();
    assert!(app.get_text(&page_of(&c)).await.contains("data-token"));

    // Two weeks after the day the link expires.
    app.clock.set_ms(MORNING_MS + 15 * DAY_MS);
    let r = app.client.get(app.url(&page_of(&c))).send().await.unwrap();
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("This link has expired"));
}

#[tokio::test]
async fn choices_are_rate_limited_per_link() {
    let app = the_day_before(|c| {
        c.limits.customer_choices_per_link = Rate {
            per_sec: 1.0 / 3600.0,
            burst: 2,
        };
    })
    .await;
    let p = app.parcel("no code: low value").clone();
    let page = page_of(&p);
    for _ in 0..2 {
        let (status, _) = app
            .choose(
                &page,
                &[("choice", "instructions"), ("instructions", "ring")],
            )
            .await;
        assert_eq!(status, 200);
    }
    let (status, html) = app
        .choose(
            &page,
            &[("choice", "instructions"), ("instructions", "ring")],
        )
        .await;
    assert_eq!(status, 429);
    // The customer's own page, with the limit's words in their language.
    assert!(html.contains("Too many changes"), "{html}");
    assert!(html.contains("data-form=\"instructions\""), "{html}");
    // Another customer's link is not held up.
    let other = app.parcel("code + photo: high value").clone();
    let (status, _) = app
        .choose(
            &page_of(&other),
            &[("choice", "instructions"), ("instructions", "ring")],
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_spanish_customer_reads_every_word_in_spanish() {
    let app = the_day_before(|c| {
        c.customers.pickup_points = doorstep_server::demo_pickup_points();
    })
    .await;
    let p = app.parcel("two parcels, one stop").clone();
    let html = app.get_text(&page_of(&p)).await;
    assert!(
        html.contains("lang=\"es\""),
        "the demo has a Spanish customer: {html}"
    );
    for word in [
        "Cómo lo entregamos",
        "Dejarlo a un vecino",
        "Otro día",
        "Instrucciones para el repartidor",
    ] {
        assert!(html.contains(word), "{word}");
    }
    for word in Lang::En.customer_words().all().iter().map(|(_, w)| *w) {
        assert!(
            !html.contains(&format!(">{word}<")),
            "English on a Spanish page: {word}"
        );
    }
}

use doorstep_server::domain::messages::Lang;
