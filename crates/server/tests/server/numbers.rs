//! The numbers (issue 19 item 5): a demo day delivered by hand — deliveries with and without
//! a code, online and offline, failed attempts, wrong codes, a lock, new codes — and its
//! numbers checked against the values worked out from it; each table against its CSV file;
//! a record synced late into a closed, rolled-up day; ranges the page refuses.

use doorstep_protocol::wire::{
    DeliveryEvent, EventStatus, ExceptionReason, MAX_TYPOS_CAUGHT, Verification,
};
use doorstep_protocol::{DeliveryCode, EventId};
use doorstep_server::domain::accounts::Role;
use serde_json::json;

use crate::helpers::*;

const MINUTE: i64 = 60_000;
const NEXT_DAY: &str = "2026-11-26";

/// The rows of the page's table `id`: its column names (`data-column`), then each row's
/// cells as shown (the total last).
fn table(html: &str, id: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let start = html
        .find(&format!("data-numbers-table=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}: {html}"));
    let t = &html[start..start + html[start..].find("</table>").unwrap()];
    let (head, body) = t.split_at(t.find("</thead>").unwrap());
    let columns = head
        .split("data-column=\"")
        .skip(1)
        .map(|s| unescape(&s[..s.find('"').unwrap()]))
        .collect();
    let rows = body
        .split("<tr")
        .skip(1)
        .map(|tr| {
            let mut cells = Vec::new();
            let mut rest = tr;
            while let Some(at) = rest
                .find("<t")
                .filter(|a| rest[*a..].starts_with("<th") || rest[*a..].starts_with("<td"))
            {
                let open = at + rest[at..].find('>').unwrap() + 1;
                let close = open + rest[open..].find("</t").unwrap();
                cells.push(unescape(&rest[open..close]));
                rest = &rest[close + 4..];
            }
            cells
        })
        .collect();
    (columns, rows)
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The row named `key` of table `id`, as `column → cell`.
fn row(html: &str, id: &str, key: &str) -> std::collections::HashMap<String, String> {
    let (columns, rows) = table(html, id);
    let r = rows
        .into_iter()
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("no row {key} in {id}: {html}"));
    columns.into_iter().zip(r).collect()
}

/// Asserts each `(column, value)` of a row.
fn assert_row(html: &str, id: &str, key: &str, want: &[(&str, &str)]) {
    let got = row(html, id, key);
    for (column, value) in want {
        assert_eq!(
            got.get(*column).map(String::as_str),
            Some(*value),
            "{id}, {key}, {column}: {got:?}"
        );
    }
}

async fn numbers(app: &TestApp, cookie: &str, query: &str) -> String {
    let r = get_as(app, cookie, &format!("/fleet/numbers?{query}")).await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

/// The demo day, delivered: see each step's comment for what it adds to the numbers.
async fn deliver_the_demo_day(app: &TestApp) -> Device {
    let mut device = app.device().await;
    let at = |minutes: i64| MORNING_MS + minutes * MINUTE;

    // A parcel in another postcode area (250), on the demo courier's route, no code.
    let r = app
        .client
        .post(app.url("/v1/parcels"))
        .bearer_auth(&app.seed.shipper_api_key)
        .json(&json!({
            "barcode": "NUMBERS-2500",
            "recipient": { "name": "Katherine Johnson" },
            "address": "Lange Voorhout 1, Den Haag",
            "postal_code": "2500 AB",
            "method": "hand_to_recipient",
            "delivery_date": DATE,
            "courier_id": app.seed.courier_id,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());

    // No code: delivered, synced 2 s later.
    let p1 = app.parcel("no code: low value");
    let ev = device.record(p1, delivered(Verification::NotRequired), at(10));
    app.clock.set_ms(at(10) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // A wrong code, then the right one online: delivered, synced 5 s later.
    let p7 = app.parcel("shipper requires one");
    app.clock.set_ms(at(20));
    let code = p7.code.clone().unwrap();
    assert_eq!(
        device.verify(p7.parcel_id, &wrong_code(&code)).await["result"],
        "wrong"
    );
    let ev = device.delivered_online(p7, &code, at(20) + 30_000).await;
    app.clock.set_ms(at(20) + 35_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // The right code at once, online: right first time; synced 3 minutes later.
    let p12 = app.parcel("pickup point, recipient asked");
    app.clock.set_ms(at(30));
    let ev = device
        .delivered_online(p12, p12.code.as_deref().unwrap(), at(30) + 10_000)
        .await;
    app.clock.set_ms(at(33) + 10_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Two parcels of one stop with a code typed offline: right first time; synced 10
    // minutes later.
    let (p4, p5) = (
        app.parcel("recipient asked for one (stop"),
        app.parcel("second parcel of the same stop (shares"),
    );
    let code = DeliveryCode::parse(p4.code.as_deref().unwrap(), None).unwrap();
    let ev = device.event(
        p4.stop_id,
        &[p4.parcel_id, p5.parcel_id],
        delivered(Verification::OfflineCode { code }),
        at(40),
    );
    app.clock.set_ms(at(50));
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Two parcels of one stop, no code: synced 2 s later.
    let (p10, p11) = (
        app.parcel("two parcels, one stop"),
        app.parcel("no code: second parcel of the same stop"),
    );
    let ev = device.event(
        p10.stop_id,
        &[p10.parcel_id, p11.parcel_id],
        delivered(Verification::NotRequired),
        at(60),
    );
    app.clock.set_ms(at(60) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Not home: the parcel moves to the next day; synced 30 s later.
    let p8 = app.parcel("no code: safe place");
    let ev = device.record(p8, failed(ExceptionReason::NotHome), at(70));
    app.clock.set_ms(at(70) + 30_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Refused: back to the depot (it stays on the day); synced 2 s later.
    let p9 = app.parcel("no code: neighbour");
    let ev = device.record(p9, failed(ExceptionReason::Refused), at(80));
    app.clock.set_ms(at(80) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Five wrong codes lock a stop; the fleet makes a new code for it.
    let p3 = app.parcel("very high value");
    app.clock.set_ms(at(90));
    let wrong = wrong_code(p3.code.as_deref().unwrap());
    for _ in 0..5 {
        device.verify(p3.parcel_id, &wrong).await;
    }
    assert_eq!(
        device.verify(p3.parcel_id, &wrong).await["result"],
        "locked"
    );
    let r = app
        .admin_post(
            &format!("/v1/admin/stops/{}/new-code", p3.stop_id),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);

    // The customer asks for the code again: a new code.
    let p6 = app.parcel("age-restricted");
    let r = device
        .post("/v1/resend", json!({ "parcel_id": p6.parcel_id }))
        .await;
    assert_eq!(r.status(), 200);
    device
}

#[tokio::test]
async fn the_numbers_of_a_day_are_the_values_worked_out_by_hand() {
    let app = fleet_app().await;
    deliver_the_demo_day(&app).await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let html = numbers(&app, &cookie, &format!("from={DATE}&to={DATE}&by=day")).await;

    // 9 parcels had an attempt (p1, p7, p12, p4, p5, p10, p11 delivered; p8, p9 failed).
    assert_row(
        &html,
        "attempts",
        DATE,
        &[
            ("parcels_attempted", "9"),
            ("delivered_first_attempt", "7"),
            ("first_attempt_rate", "77.8"),
            ("delivery_records", "5"),
            ("failed_records", "2"),
        ],
    );
    assert_row(
        &html,
        "failures",
        DATE,
        &[
            ("failed_records", "2"),
            ("not_home", "1"),
            ("refused", "1"),
            ("no_code", "0"),
            ("other", "0"),
        ],
    );
    // 12 demo parcels + Second Courier's + the one in area 250, less p8 (moved to the next
    // day): 13; 7 need a code (p2, p3, p4, p5, p6, p7, p12).
    assert_row(
        &html,
        "codes_needed",
        DATE,
        &[
            ("parcels", "13"),
            ("code_parcels", "7"),
            ("code_share", "53.8"),
            ("reason: recipient opt-in", "3"),
            ("reason: valuable parcel", "2"),
            ("reason: very valuable parcel", "1"),
            ("reason: age-restricted goods", "1"),
            ("reason: shipper requirement", "1"),
        ],
    );
    // Stops with a code: p2, p3, p4+p5, p6, p7, p12. Right first time: p12 (online) and
    // p4+p5 (offline); p7 had a wrong code first. Wrong codes: p7's one and p3's five; p3
    // locked; new codes: p3's from the fleet and p6's resend.
    assert_row(
        &html,
        "code_outcomes",
        DATE,
        &[
            ("code_stops", "6"),
            ("right_first_time", "2"),
            ("right_first_time_rate", "33.3"),
            ("typos_caught", "0"),
            ("wrong_codes", "6"),
            ("lockouts", "1"),
            ("new_codes", "2"),
        ],
    );
    assert_row(
        &html,
        "offline",
        DATE,
        &[
            ("online_code", "2"),
            ("offline_code", "1"),
            ("qr", "0"),
            ("no_code", "2"),
            ("offline_share", "33.3"),
        ],
    );
    // Delays 2, 2, 2, 5, 30, 180, 600 s: the 4th and the 7th of 7.
    assert_row(
        &html,
        "sync",
        DATE,
        &[
            ("records", "7"),
            ("sync_median_s", "5"),
            ("sync_p90_s", "600"),
        ],
    );
    assert_row(
        &html,
        "door",
        DATE,
        &[
            ("handovers_timed", "0"),
            ("door_median_s", ""),
            ("door_p90_s", ""),
        ],
    );
    // The total row of one day is that day.
    assert_eq!(
        row(&html, "attempts", "total")
            .get("parcels_attempted")
            .unwrap(),
        "9"
    );

    // By courier: the Second Courier has one parcel and nothing else.
    let html = numbers(&app, &cookie, &format!("from={DATE}&to={DATE}&by=courier")).await;
    assert_row(
        &html,
        "codes_needed",
        "Second Courier",
        &[("parcels", "1"), ("code_parcels", "0")],
    );
    assert_row(
        &html,
        "codes_needed",
        "Demo Courier",
        &[("parcels", "12"), ("code_parcels", "7")],
    );
    assert_row(
        &html,
        "attempts",
        "Demo Courier",
        &[("parcels_attempted", "9")],
    );

    // By postcode area: 1011 and 1017 are area 101, 2500 AB is 250.
    let html = numbers(&app, &cookie, &format!("from={DATE}&to={DATE}&by=area")).await;
    assert_row(&html, "codes_needed", "250", &[("parcels", "1")]);
    assert_row(&html, "codes_needed", "101", &[("parcels", "12")]);

    // The charts' data: the same numbers, as JSON.
    let start = html
        .find("<script type=\"application/json\" id=\"numbers-data\">")
        .expect("the charts' data")
        + "<script type=\"application/json\" id=\"numbers-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(data["by"], "area");
    let codes = &data["tables"][2];
    assert_eq!(codes["id"], "codes_needed");
    assert_eq!(codes["columns"][0]["name"], "parcels");
    assert_eq!(codes["rows"][0]["key"], "101");
    assert_eq!(codes["rows"][0]["values"][0], 12);
}

#[tokio::test]
async fn each_table_downloads_as_the_csv_the_page_shows() {
    let app = fleet_app().await;
    deliver_the_demo_day(&app).await;
    let cookie = app.session().await;
    for by in ["day", "courier", "area"] {
        let query = format!("from={DATE}&to={NEXT_DAY}&by={by}");
        let html = numbers(&app, &cookie, &query).await;
        for id in [
            "attempts",
            "failures",
            "codes_needed",
            "code_outcomes",
            "door",
            "offline",
            "sync",
        ] {
            let (columns, rows) = table(&html, id);
            let r = get_as(
                &app,
                &cookie,
                &format!("/fleet/numbers.csv?{query}&table={id}"),
            )
            .await;
            let csv = csv_download(r, &format!("numbers-{id}-by-{by}")).await;
            let mut lines = csv.lines();
            assert_eq!(lines.next().unwrap(), columns.join(","), "{id} by {by}");
            let csv_rows: Vec<Vec<String>> = lines
                .map(|l| l.split(',').map(str::to_string).collect())
                .collect();
            assert_eq!(csv_rows, rows, "{id} by {by}");
            assert!(rows.len() >= 2, "{id} by {by}: {rows:?}");
        }
    }
}

#[tokio::test]
async fn a_record_synced_late_changes_the_roll_up_of_its_closed_day() {
    let app = fleet_app().await;
    let mut device = deliver_the_demo_day(&app).await;
    let query = format!("from={DATE}&to={DATE}");

    // The next morning the day is closed: reading it rolls it up.
    app.clock.set_ms(MORNING_MS + 24 * 60 * MINUTE);
    let cookie = signed_in_as(&app, "dora", Role::Dispatcher).await;
    let before = numbers(&app, &cookie, &query).await;
    let rolled = app.query("SELECT day FROM numbers_days").await;
    assert_eq!(rolled.len(), 1);
    assert_eq!(rolled[0].get::<_, String>(0).unwrap(), DATE);
    assert_row(&before, "attempts", DATE, &[("parcels_attempted", "9")]);
    // Read again: from the roll-up, the same page.
    assert_eq!(numbers(&app, &cookie, &query).await, before);

    // A failed attempt at 20:00 on the day, synced at 08:00 the next morning (12 hours later): the
    // customer could not give the code, so p2 moves to the next day.
    let p2 = app.parcel("code + photo: high value");
    let ev = device.record(
        p2,
        failed(ExceptionReason::NoCode),
        MORNING_MS + 12 * 60 * MINUTE,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    assert!(app.query("SELECT day FROM numbers_days").await.is_empty());

    let after = numbers(&app, &cookie, &query).await;
    assert_row(
        &after,
        "attempts",
        DATE,
        &[
            ("parcels_attempted", "10"),
            ("delivered_first_attempt", "7"),
            ("first_attempt_rate", "70.0"),
            ("failed_records", "3"),
        ],
    );
    assert_row(&after, "failures", DATE, &[("no_code", "1")]);
    assert_row(
        &after,
        "codes_needed",
        DATE,
        &[
            ("parcels", "12"),
            ("code_parcels", "6"),
            ("reason: valuable parcel", "1"),
        ],
    );
    assert_row(
        &after,
        "sync",
        DATE,
        &[
            ("records", "8"),
            ("sync_median_s", "5"),
            ("sync_p90_s", "43200"),
        ],
    );
    assert_eq!(app.query("SELECT day FROM numbers_days").await.len(), 1);
}

#[tokio::test]
async fn the_time_at_the_door_and_the_typos_a_phone_reports_reach_the_numbers_and_impossible_ones_do_not()
 {
    let app = fleet_app().await;
    let mut device = app.device().await;
    let at = |minutes: i64| MORNING_MS + minutes * MINUTE;
    // What the phone adds to a record before signing it: when the first parcel was scanned
    // and the typos the check digit caught.
    let with_door_facts = |device: &mut Device, mut ev: DeliveryEvent, first: i64, typos: u32| {
        ev.first_scan_at_ms = Some(first);
        ev.typos_caught = Some(typos);
        ev.sign(&device.key);
        device.last_hash = ev.chain_hash();
        ev
    };

    // No code: 45 s at the door.
    let p1 = app.parcel("no code: low value");
    let ev = device.record(p1, delivered(Verification::NotRequired), at(10));
    let ev = with_door_facts(&mut device, ev, at(10) - 45_000, 0);
    app.clock.set_ms(at(10) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // Two typos caught on the phone, then the right code online: 150 s at the door.
    let p12 = app.parcel("pickup point, recipient asked");
    app.clock.set_ms(at(30));
    let ev = device
        .delivered_online(p12, p12.code.as_deref().unwrap(), at(32))
        .await;
    let ev = with_door_facts(&mut device, ev, at(32) - 150_000, 2);
    let typed = ev.id;
    app.clock.set_ms(at(32) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    // A first scan after the record and a typo count no courier could reach: the handover
    // still counts, the two values are not kept.
    let p8 = app.parcel("no code: safe place");
    let ev = device.record(p8, failed(ExceptionReason::NotHome), at(70));
    let ev = with_door_facts(&mut device, ev, at(70) + 5_000, MAX_TYPOS_CAUGHT + 1);
    let impossible = ev.id;
    app.clock.set_ms(at(70) + 2_000);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    let stored = |id: EventId| {
        let app = &app;
        async move {
            let rows = app
                .query(&format!("SELECT body FROM events WHERE id = '{id}'"))
                .await;
            serde_json::from_str::<serde_json::Value>(&rows[0].get::<_, String>(0).unwrap())
                .unwrap()
        }
    };
    let record = stored(typed).await;
    assert_eq!(record["first_scan_at_ms"], at(32) - 150_000);
    assert_eq!(record["typos_caught"], 2);
    let record = stored(impossible).await;
    assert!(record.get("first_scan_at_ms").is_none(), "{record}");
    assert!(record.get("typos_caught").is_none(), "{record}");

    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let html = numbers(&app, &cookie, &format!("from={DATE}&to={DATE}&by=day")).await;
    assert_row(
        &html,
        "door",
        DATE,
        &[
            ("handovers_timed", "2"),
            ("door_median_s", "45"),
            ("door_p90_s", "120"),
        ],
    );
    assert_row(&html, "code_outcomes", DATE, &[("typos_caught", "2")]);
}

#[tokio::test]
async fn a_range_the_numbers_cannot_cover_is_a_400_page_that_says_why() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    for (query, says) in [
        ("from=2026-11-26&to=2026-11-25", "after it ends"),
        ("from=2025-11-01&to=2026-11-25", "at most 366 days"),
        ("from=2026-11-31&to=2026-12-01", "not a date"),
        (
            "from=2026-11-25&to=2026-11-25&by=week",
            "by day, courier or area",
        ),
    ] {
        let r = get_as(&app, &cookie, &format!("/fleet/numbers?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        assert!(header(&r, "content-type").starts_with("text/html"));
        let html = r.text().await.unwrap();
        assert!(html.contains(says), "{query}: {html}");
        let r = get_as(
            &app,
            &cookie,
            &format!("/fleet/numbers.csv?{query}&table=attempts"),
        )
        .await;
        assert_eq!(r.status(), 400, "{query}");
    }
    let r = get_as(
        &app,
        &cookie,
        &format!("/fleet/numbers.csv?from={DATE}&to={DATE}&table=nope"),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("there is no table"));

    // Without a session: to the sign-in, and back here after it.
    let r = browser()
        .get(app.url("/fleet/numbers"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(header(&r, "location").starts_with("/fleet/sign-in?next="));
    // By default, the last 30 days by day.
    let html = numbers(&app, &cookie, "").await;
    assert!(
        html.contains("30 days, 2026-10-27 to 2026-11-25, by day"),
        "{html}"
    );
}

#[tokio::test]
async fn a_server_rolls_the_closed_days_up_by_itself_so_the_page_never_waits_for_them() {
    let app = fleet_app().await;
    deliver_the_demo_day(&app).await;
    assert!(
        app.query("SELECT day FROM numbers_days").await.is_empty(),
        "today is never rolled up"
    );
    // The next morning, a server starting (as every start does, and every ten minutes) rolls
    // the closed day up before anyone asks for it.
    app.clock.set_ms(MORNING_MS + 24 * 60 * MINUTE);
    let app = app.restart(|_| {}).await;
    let mut rolled = Vec::new();
    // Waits for the background task (however slow the machine), asserting no time.
    for _ in 0..1200 {
        rolled = app.query("SELECT day FROM numbers_days").await;
        if !rolled.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        rolled.len(),
        1,
        "the closed day was rolled up in the background"
    );
    assert_eq!(rolled[0].get::<_, String>(0).unwrap(), DATE);
    let cells = app
        .query(&format!(
            "SELECT COUNT(*) FROM numbers_cells WHERE day = '{DATE}'"
        ))
        .await;
    assert!(cells[0].get::<_, i64>(0).unwrap() > 0, "with its cells");
}
