//! The console's Today page (issue 19 item 2): the day's stops by state and each courier's
//! progress and last known position, as the map's JSON, as the page's table and as the route
//! lists without JavaScript — all three equal to what the store holds; the operator's map tiles
//! with Range requests; the console's static files; the pages' Content-Security-Policy.

use doorstep_protocol::wire::{EventStatus, ExceptionReason, Verification};
use doorstep_server::DemoParcel;
use doorstep_server::domain::accounts::Role;
use serde_json::Value;

use crate::helpers::*;

/// A demo parcel whose stop holds no other parcel (its state is the stop's).
fn alone<'a>(app: &'a TestApp, label: &str) -> &'a DemoParcel {
    let p = app.parcel(label);
    let on_stop = app
        .seed
        .parcels
        .iter()
        .filter(|q| q.stop_id == p.stop_id)
        .count();
    assert_eq!(on_stop, 1, "{label} is alone on its stop");
    p
}

/// The stop feature of `stop` in the map's JSON.
fn feature<'j>(json: &'j Value, stop: &str) -> &'j Value {
    json["stops"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["stop"] == stop)
        .unwrap_or_else(|| panic!("stop {stop} is on the map: {json}"))
}

/// The text of cell `field` in courier `courier`'s row of the page's progress table.
fn cell(html: &str, courier: &str, field: &str) -> String {
    let row = html
        .split(&format!("data-courier=\"{courier}\""))
        .nth(1)
        .expect("the courier's row")
        .split("</tr>")
        .next()
        .unwrap();
    let start = row
        .find(&format!("data-field=\"{field}\">"))
        .unwrap_or_else(|| panic!("a {field} cell: {row}"))
        + format!("data-field=\"{field}\">").len();
    row[start..start + row[start..].find('<').unwrap()].to_string()
}

#[tokio::test]
async fn todays_map_table_and_route_list_show_what_the_store_holds() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let mut device = app.device().await;
    let courier = app.seed.courier_id.to_string();

    // Delivered, where the phone was half an hour ago: the courier's last known position.
    let done = alone(&app, "low value");
    let ev = record_at_time(
        &mut device,
        done,
        delivered(Verification::NotRequired),
        (52.3701, 4.8901),
        MORNING_MS - 30 * 60_000,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    // Not at home, later, without a position: moved to the next day, failed today.
    let not_home = alone(&app, "no code: neighbour");
    let ev = device.record(
        not_home,
        failed(ExceptionReason::NotHome),
        MORNING_MS - 10 * 60_000,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    // Locked by wrong codes, and on its way back (as the store records them).
    let locked = alone(&app, "shipper requires");
    app.query(&format!(
        "UPDATE parcels SET status = 'locked' WHERE id = '{}'",
        locked.parcel_id
    ))
    .await;
    let back = alone(&app, "age-restricted");
    app.query(&format!(
        "UPDATE parcels SET status = 'returning' WHERE id = '{}'",
        back.parcel_id
    ))
    .await;

    // The demo courier's stops (the seed's parcels), and one more on Second Courier's route,
    // whose address has no position.
    let ours = {
        let mut s: Vec<_> = app.seed.parcels.iter().map(|p| p.stop_id).collect();
        s.sort();
        s.dedup();
        s.len()
    };
    let all = ours + 1;

    // The map's data.
    let r = get_as(&app, &cookie, &format!("/fleet/today.json?date={DATE}")).await;
    assert_eq!(r.status(), 200);
    let json: Value = r.json().await.unwrap();
    assert_eq!(json["date"], DATE);
    assert_eq!(json["stops"]["type"], "FeatureCollection");
    assert_eq!(
        json["stops"]["features"].as_array().unwrap().len(),
        ours,
        "every stop with a position is on the map, the one without is not"
    );
    for (p, state) in [
        (done, "delivered"),
        (not_home, "failed"),
        (locked, "locked"),
        (back, "returning"),
    ] {
        let f = feature(&json, &p.stop_id.to_string());
        assert_eq!(f["properties"]["state"], state, "{}: {f}", p.label);
    }
    let others: Vec<&Value> = json["stops"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            ![done, not_home, locked, back]
                .iter()
                .any(|p| f["properties"]["stop"] == p.stop_id.to_string())
        })
        .collect();
    assert!(
        others
            .iter()
            .all(|f| f["properties"]["state"] == "to_deliver"),
        "the rest are still to deliver: {others:?}"
    );
    let positions = json["positions"]["features"].as_array().unwrap();
    assert_eq!(
        positions.len(),
        1,
        "one courier has a known position: {positions:?}"
    );
    assert_eq!(positions[0]["properties"]["courier"], courier.as_str());
    assert_eq!(
        positions[0]["geometry"]["coordinates"],
        serde_json::json!([4.8901, 52.3701]),
        "longitude first, as GeoJSON has it"
    );
    assert_eq!(positions[0]["properties"]["age"], "30 min");
    let row = json["couriers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == courier.as_str())
        .expect("the demo courier's row");
    assert_eq!(row["done"], 1);
    assert_eq!(row["failed"], 2, "failed and returning");
    assert_eq!(row["left"], ours - 3, "to deliver and locked");
    assert_eq!(row["last_record"], "failed, 10 min ago");
    assert_eq!(row["position"], "known, 30 min old");
    let second = json["couriers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Second Courier")
        .expect("the other courier's row");
    assert_eq!(
        (&second["done"], &second["left"]),
        (&Value::from(0), &Value::from(1))
    );
    assert_eq!(second["position"], "unknown");

    // The page's table says the same, with the tiles' counts.
    let html = text_as(&app, &cookie, &format!("/fleet?date={DATE}")).await;
    assert_eq!(cell(&html, &courier, "done"), "1");
    assert_eq!(cell(&html, &courier, "failed"), "2");
    assert_eq!(cell(&html, &courier, "left"), (ours - 3).to_string());
    assert_eq!(cell(&html, &courier, "last_record"), "failed, 10 min ago");
    assert_eq!(cell(&html, &courier, "position"), "known, 30 min old");
    assert!(
        html.contains(&format!("data-count=\"all\">{all}<")),
        "{html}"
    );
    assert!(html.contains("data-count=\"delivered\">1<"));
    assert!(html.contains("data-count=\"locked\">1<"));
    assert!(
        html.contains(&format!("data-data=\"/fleet/today.json?date={DATE}\"")),
        "the map reads the same day"
    );
    assert!(
        !html.contains("data-tiles"),
        "no tiles configured: the world basemap"
    );
    assert!(
        html.contains("1 stop has no position"),
        "the stop without a position is named"
    );

    // Without JavaScript: the courier's stops in route order, each with its state.
    let list = text_as(
        &app,
        &cookie,
        &format!("/fleet/today/{courier}?date={DATE}"),
    )
    .await;
    let rows: Vec<&str> = list.split("<tr data-stop=\"").skip(1).collect();
    assert_eq!(rows.len(), ours, "{list}");
    for (p, state) in [
        (done, "delivered"),
        (not_home, "failed"),
        (locked, "locked"),
    ] {
        let row = rows
            .iter()
            .find(|r| r.starts_with(&p.stop_id.to_string()))
            .unwrap();
        assert!(row.contains(&format!("data-state=\"{state}\"")), "{row}");
        assert!(
            row.contains(&format!("/fleet/parcels/{}", p.parcel_id)),
            "{row}"
        );
    }
    let sequence: Vec<i64> = rows
        .iter()
        .map(|r| {
            let s = r.find("<td class=\"num\">").unwrap() + "<td class=\"num\">".len();
            r[s..s + r[s..].find('<').unwrap()].parse().unwrap()
        })
        .collect();
    assert!(
        sequence.windows(2).all(|w| w[0] < w[1]),
        "in route order: {sequence:?}"
    );
}

#[tokio::test]
async fn a_wrong_day_or_courier_gets_a_page_that_says_so_and_the_signed_out_get_the_sign_in() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let r = get_as(&app, &cookie, "/fleet?date=yesterday").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("YYYY-MM-DD"));
    let r = get_as(&app, &cookie, "/fleet/today.json?date=2026-13-45").await;
    assert_eq!(r.status(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "bad_request");
    let r = get_as(&app, &cookie, "/fleet/today/no-such-courier").await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("no such courier"));
    let r = get_as(&app, &cookie, "/fleet?day=2026-11-25").await;
    assert_eq!(
        r.status(),
        400,
        "an unknown parameter is refused, not ignored"
    );

    for path in ["/fleet", "/fleet/today.json"] {
        let r = browser().get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 303, "{path}");
        assert!(header(&r, "location").starts_with("/fleet/sign-in"));
    }
}

#[tokio::test]
async fn the_operators_map_tiles_are_served_with_range_requests() {
    let dir = tempfile::tempdir().unwrap();
    let tiles = dir.path().join("region.pmtiles");
    let mut bytes = b"PMTiles\x03".to_vec();
    bytes.extend((0..4096u32).map(|i| (i % 251) as u8));
    std::fs::write(&tiles, &bytes).unwrap();
    let path = tiles.clone();
    let app = spawn_app_with(move |c| c.map_tiles = Some(path)).await;

    let r = app
        .client
        .get(app.url("/map/tiles.pmtiles"))
        .header("range", "bytes=100-227")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        header(&r, "content-range"),
        format!("bytes 100-227/{}", bytes.len())
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &bytes[100..228]);

    let html = app.get_text("/fleet").await;
    assert!(html.contains("data-tiles=\"/map/tiles.pmtiles\""), "{html}");
    assert!(html.contains("<script src=\"/assets/console/pmtiles.js\""));

    // Without tiles: a 404 that says how to add them.
    let plain = spawn_app().await;
    let r = plain
        .client
        .get(plain.url("/map/tiles.pmtiles"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("--map-tiles"));
}

#[tokio::test]
async fn a_map_tiles_file_that_is_not_pmtiles_stops_the_server_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("region.mbtiles");
    std::fs::write(&wrong, b"SQLite format 3\0 and more").unwrap();
    let mut config = doorstep_server::ServerConfig::demo(dir.path().join("data"));
    config.map_tiles = Some(wrong);
    let Err(err) = doorstep_server::open(config).await else {
        panic!("a file that is not PMTiles is refused");
    };
    let said = err.to_string();
    assert!(
        said.contains("is not a PMTiles archive") && said.contains("pmtiles extract"),
        "{said}"
    );

    let mut config = doorstep_server::ServerConfig::demo(dir.path().join("data2"));
    config.map_tiles = Some(dir.path().join("missing.pmtiles"));
    let Err(err) = doorstep_server::open(config).await else {
        panic!("a missing file is refused");
    };
    let said = err.to_string();
    assert!(said.contains("missing.pmtiles"), "{said}");
}

#[tokio::test]
async fn the_consoles_files_are_served_cached_and_gzipped_and_every_page_has_a_strict_csp() {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/assets/console/today.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    assert!(header(&r, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&r, "cache-control"), "public, max-age=3600");
    let etag = header(&r, "etag").to_string();
    assert!(
        r.text().await.unwrap().contains("setWorkerUrl"),
        "the Today page's script, as built from ui/console/today.ts"
    );
    let r = app
        .client
        .get(app.url("/assets/console/today.js"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304, "unchanged: not sent again");

    // A client that leaves answers as they came (reqwest decompresses gzip itself, and drops
    // the header, when another crate of the workspace turns its gzip feature on).
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let r = raw
        .get(app.url("/assets/console/maplibre-gl-csp.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{:?}", r.headers());
    assert_eq!(header(&r, "content-encoding"), "gzip", "{:?}", r.headers());
    let css = app.get_text("/assets/console.css").await;
    assert!(css.contains("--delivered"), "the one style sheet");
    let r = app
        .client
        .get(app.url("/assets/../Cargo.toml"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = app
        .client
        .get(app.url("/assets/console/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let p = app.parcel("low value");
    for path in [
        "/fleet",
        "/fleet/inbox",
        "/fleet/phones",
        p.customer_url.as_str(),
    ] {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            app.url(path)
        };
        let r = app.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}: {:?}", r.headers());
        let csp = header(&r, "content-security-policy").to_string();
        assert!(csp.starts_with("default-src 'self'"), "{path}: {csp}");
        let html = r.text().await.unwrap();
        assert!(
            !html.contains("<style") && !html.contains(" style="),
            "{path}: no inline style"
        );
        assert!(
            html.contains("<link rel=\"stylesheet\" href=\"/assets/console.css\">"),
            "{path}"
        );
    }
}
