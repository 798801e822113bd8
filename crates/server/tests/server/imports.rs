//! CSV in and out for the console (issue 19 item 7): parcels imported from a file with the
//! shipper API's fields — a preview that stores nothing and lists every row's errors, a
//! confirmation bound to the previewed file, idempotent on the barcode — and the deliveries of
//! a date range exported with their proof. In production mode, signed in.

use doorstep_protocol::wire::{EventStatus, ExceptionReason, Verification};
use doorstep_server::domain::accounts::Role;
use reqwest::multipart::{Form, Part};

use crate::helpers::*;

const HEADER: &str = "shipper,barcode,recipient_name,recipient_phone,address,postal_code,method,\
                      delivery_date,declared_value,currency,shipper_requires_code,description";

/// A file of parcels with barcodes made unique by `tag`.
fn good_file(tag: &str) -> String {
    format!(
        "{HEADER}\n\
         Demo Shop,IMP-{tag}-1,Ada Lovelace,'+31612345678,\"Herengracht 1, Amsterdam\",1015 BA,hand_to_recipient,{DATE},612.00,EUR,true,Laptop\n\
         ,IMP-{tag}-2,Alan Turing,,Prinsengracht 2,1016 GV,neighbour,{DATE},,,false,Books\n"
    )
}

async fn page_csrf(app: &TestApp, cookie: &str) -> String {
    let r = get_as(app, cookie, "/fleet/import").await;
    assert_eq!(r.status(), 200);
    csrf_from(&r.text().await.unwrap())
}

/// Uploads `bytes` with the import page's form: the answer's status and page.
async fn upload(app: &TestApp, cookie: &str, csrf: &str, bytes: Vec<u8>) -> (u16, String) {
    let form = Form::new().part(
        "file",
        Part::bytes(bytes)
            .file_name("parcels.csv")
            .mime_str("text/csv")
            .unwrap(),
    );
    let r = browser()
        .post(app.url(&format!("/fleet/import?csrf={csrf}")))
        .header("cookie", cookie)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// The value of the hidden input `name` of the preview's confirmation form.
fn hidden(html: &str, name: &str) -> String {
    let key = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} field: {html}"))
        + key.len();
    html[start..start + html[start..].find('"').unwrap()].to_string()
}

async fn confirm(app: &TestApp, cookie: &str, fields: &[(&str, String)]) -> (u16, String) {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = post_as(app, cookie, "/fleet/import/confirm", &fields).await;
    (r.status().as_u16(), r.text().await.unwrap())
}

fn confirm_fields(preview: &str) -> Vec<(&'static str, String)> {
    vec![
        ("csrf", hidden(preview, "csrf")),
        ("mac", hidden(preview, "mac")),
        ("file", hidden(preview, "file")),
    ]
}

/// The parcel ids the result page links to, in row order.
fn imported_ids(html: &str) -> Vec<String> {
    html.split("data-result=\"imported\"")
        .skip(1)
        .map(|part| {
            let start = part.find("/fleet/parcels/").unwrap() + "/fleet/parcels/".len();
            part[start..start + 36].to_string()
        })
        .collect()
}

/// Whether the console's search finds a parcel for `q`.
async fn found(app: &TestApp, cookie: &str, q: &str) -> bool {
    let r = get_as(app, cookie, &format!("/fleet/parcels?q={q}")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    html.contains(&format!(">{q}"))
}

#[tokio::test]
async fn a_good_file_is_previewed_then_imported_once() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    let csrf = page_csrf(&app, &cookie).await;
    let file = good_file("a");

    let (status, preview) = upload(&app, &cookie, &csrf, file.clone().into_bytes()).await;
    assert_eq!(status, 200, "{preview}");
    assert!(
        preview.contains("data-new=\"2\"") && preview.contains("data-errors=\"0\""),
        "{preview}"
    );
    assert!(preview.contains("Confirm import of 2 parcels"), "{preview}");
    // The preview stored nothing.
    assert!(!found(&app, &cookie, "IMP-a-1").await);

    let fields = confirm_fields(&preview);
    let (status, result) = confirm(&app, &cookie, &fields).await;
    assert_eq!(status, 200, "{result}");
    assert!(result.contains("data-imported=\"2\""), "{result}");
    let ids = imported_ids(&result);
    assert_eq!(ids.len(), 2, "{result}");
    let first = app
        .admin_get(&format!("/v1/admin/parcels/{}", ids[0]))
        .await;
    assert_eq!(first["barcode"], "IMP-a-1", "{first}");
    assert_eq!(first["decision"]["code_required"], true, "{first}");
    let second = app
        .admin_get(&format!("/v1/admin/parcels/{}", ids[1]))
        .await;
    assert_eq!(second["barcode"], "IMP-a-2", "{second}");
    assert!(found(&app, &cookie, "IMP-a-2").await);
    // Who imported it is on the parcel's timeline.
    let proof = text_as(&app, &cookie, &format!("/fleet/parcels/{}", ids[0])).await;
    assert!(
        proof.contains("imported") && proof.contains("by alice (owner)"),
        "{proof}"
    );

    // The same file again: nothing new, in the preview and in a repeated confirmation.
    let (status, again) = upload(&app, &cookie, &csrf, file.into_bytes()).await;
    assert_eq!(status, 200, "{again}");
    assert!(
        again.contains("data-new=\"0\"") && again.contains("data-already=\"2\""),
        "{again}"
    );
    assert!(again.contains("data-nothing-new"), "{again}");
    assert!(!again.contains("Confirm import"), "{again}");
    let (status, replay) = confirm(&app, &cookie, &fields).await;
    assert_eq!(status, 200, "{replay}");
    assert!(
        replay.contains("data-imported=\"0\"") && replay.contains("data-already=\"2\""),
        "{replay}"
    );
    let search = text_as(&app, &cookie, "/fleet/parcels?q=IMP-a-").await;
    assert!(search.contains(">2 parcels"), "no duplicate: {search}");
}

#[tokio::test]
async fn every_bad_row_is_listed_with_its_field_and_nothing_is_stored() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    let csrf = page_csrf(&app, &cookie).await;
    let file = format!(
        "{HEADER},courier_id\n\
         ,IMP-b-1,Good Row,,Main St 1,1000,neighbour,{DATE},,,false,,\n\
         ,IMP-b-2,Bad Phone,0612,Main St 2,1000,by_drone,{DATE},,,false,,\n\
         ,IMP-b-3,Bad Day,,Main St 3,1000,neighbour,25/11/2026,12.00,,false,,\n\
         Nobody Inc,IMP-b-4,Bad Shipper,,Main St 4,1000,neighbour,{DATE},,,false,,\n\
         ,IMP-b-1,Twice,,Main St 5,1000,neighbour,{DATE},,,false,,\n\
         ,IMP-b-7,No Courier,,Main St 7,1000,neighbour,{DATE},,,false,,{}\n",
        uuid::Uuid::nil()
    );
    let (status, html) = upload(&app, &cookie, &csrf, file.into_bytes()).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("data-import-errors=\"5\""), "{html}");
    assert!(html.contains("Nothing was stored"), "{html}");
    assert!(!html.contains("Confirm import"), "no confirmation: {html}");
    let row = |n: u32| -> &str {
        let start = html
            .find(&format!("data-row=\"{n}\""))
            .unwrap_or_else(|| panic!("row {n}: {html}"));
        &html[start..start + html[start..].find("</tr>").unwrap()]
    };
    assert!(row(2).contains("data-result=\"new\""), "{}", row(2));
    // Every error of a row: the cells that are no API value, and the API's own check.
    assert!(row(3).contains("data-field=\"method\""), "{}", row(3));
    assert!(row(3).contains("by_drone"), "{}", row(3));
    assert!(
        row(3).contains("data-field=\"recipient_phone\""),
        "{}",
        row(3)
    );
    assert!(row(4).contains("data-field=\"currency\""), "{}", row(4));
    assert!(
        row(4).contains("data-field=\"delivery_date\""),
        "{}",
        row(4)
    );
    assert!(row(5).contains("data-field=\"shipper\""), "{}", row(5));
    assert!(row(5).contains("Nobody Inc"), "{}", row(5));
    assert!(
        row(6).contains("data-field=\"barcode\"") && row(6).contains("row 2"),
        "{}",
        row(6)
    );
    // The store's own check: a courier that is not the fleet's.
    assert!(
        row(7).contains("data-field=\"courier_id\"") && row(7).contains("not a courier"),
        "{}",
        row(7)
    );
    assert!(!found(&app, &cookie, "IMP-b-").await);

    // A row the API's own check refuses (the phone), as the API says it.
    let file =
        format!("{HEADER}\n,IMP-b-9,Bad Phone,0612,Main St 2,1000,neighbour,{DATE},,,false,\n");
    let (_, html) = upload(&app, &cookie, &csrf, file.into_bytes()).await;
    assert!(
        html.contains("data-field=\"recipient_phone\"") && html.contains("E.164"),
        "{html}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_parcel_csv_or_too_large_is_refused_clearly() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    let csrf = page_csrf(&app, &cookie).await;

    let (status, html) = upload(
        &app,
        &cookie,
        &csrf,
        b"\x89PNG\r\n\x1a\n\xff\xfe\x00".to_vec(),
    )
    .await;
    assert_eq!(status, 422, "{html}");
    assert!(
        html.contains("not UTF-8") && html.contains("Expected a CSV file"),
        "{html}"
    );
    assert!(
        html.contains("barcode,recipient_name"),
        "says what was expected: {html}"
    );

    let (status, html) = upload(&app, &cookie, &csrf, b"name;street\nAna;Main\n".to_vec()).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("no column barcode"), "{html}");

    let mut big = good_file("big").into_bytes();
    big.resize(5 * 1024 * 1024 + 1, b'\n');
    let (status, html) = upload(&app, &cookie, &csrf, big).await;
    assert_eq!(status, 413, "{html}");
    assert!(html.contains("larger than 5 MiB"), "{html}");
    assert!(!found(&app, &cookie, "IMP-big").await);
}

#[tokio::test]
async fn a_viewer_may_not_import_but_may_export() {
    let app = fleet_app().await;
    let cookie = signed_in_as(&app, "vera", Role::Viewer).await;
    let import = get_as(&app, &cookie, "/fleet/import").await;
    assert_eq!(import.status(), 403);
    assert!(
        import
            .text()
            .await
            .unwrap()
            .contains("an owner, an admin or a dispatcher"),
        "says who may"
    );
    let page = text_as(&app, &cookie, "/fleet/export").await;
    assert!(
        page.contains("action=\"/fleet/export/deliveries.csv\""),
        "{page}"
    );
    assert!(!page.contains("enctype=\"multipart/form-data\""), "{page}");
    assert!(
        page.contains("href=\"/fleet/export\">Import / export"),
        "the nav: {page}"
    );
    let csrf = csrf_from(&page);
    let (status, html) = upload(&app, &cookie, &csrf, good_file("v").into_bytes()).await;
    assert_eq!(status, 403, "{html}");
    assert!(html.contains("import parcels from a CSV file"), "{html}");
    let (status, html) = confirm(
        &app,
        &cookie,
        &[("csrf", csrf), ("mac", "00".into()), ("file", "eA".into())],
    )
    .await;
    assert_eq!(status, 403, "{html}");

    let r = get_as(
        &app,
        &cookie,
        &format!("/fleet/export/deliveries.csv?from={DATE}&to={DATE}"),
    )
    .await;
    csv_download(r, "deliveries-").await;
}

#[tokio::test]
async fn a_confirmation_with_another_file_than_the_previewed_one_is_refused() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    let csrf = page_csrf(&app, &cookie).await;
    let (_, preview) = upload(&app, &cookie, &csrf, good_file("t").into_bytes()).await;
    let mut fields = confirm_fields(&preview);
    use base64::Engine;
    fields[2].1 =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(good_file("evil").as_bytes());
    let (status, html) = confirm(&app, &cookie, &fields).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("not the file that was previewed"), "{html}");
    assert!(!found(&app, &cookie, "IMP-evil").await);
    assert!(!found(&app, &cookie, "IMP-t-").await);

    // Another session's confirmation of the same preview is refused too.
    let other = signed_in_as(&app, "dora", Role::Dispatcher).await;
    let mut fields = confirm_fields(&preview);
    fields[0].1 = page_csrf(&app, &other).await;
    let (status, html) = confirm(&app, &other, &fields).await;
    assert_eq!(status, 422, "{html}");
    assert!(!found(&app, &cookie, "IMP-t-").await);
}

#[tokio::test]
async fn the_deliveries_of_a_range_are_exported_with_their_proof() {
    let app = fleet_app().await;
    let cookie = app.session().await;
    let mut device = app.device().await;
    let handed = app.parcel("no code: low value");
    let ev = device.record(handed, delivered(Verification::NotRequired), MORNING_MS);
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);
    let not_home = app.parcel("no code: neighbour");
    let ev = device.record(
        not_home,
        failed(ExceptionReason::NotHome),
        MORNING_MS + 60_000,
    );
    assert_eq!(device.sync_one(ev).await, EventStatus::Accepted);

    let get = |path: String| {
        let (app, cookie) = (&app, &cookie);
        async move { get_as(app, cookie, &path).await }
    };
    let r = get(format!(
        "/fleet/export/deliveries.csv?from={DATE}&to={DATE}"
    ))
    .await;
    let csv = csv_download(r, "deliveries-").await;
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().unwrap().clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name}: {csv}"))
    };
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    let delivered_row = rows
        .iter()
        .find(|r| &r[col("parcel_id")] == handed.parcel_id.to_string().as_str())
        .unwrap_or_else(|| panic!("the handover: {csv}"));
    assert_eq!(&delivered_row[col("kind")], "delivered");
    assert_eq!(&delivered_row[col("barcode")], handed.barcode.as_str());
    assert_eq!(&delivered_row[col("taken_by")], "R. Ecipient");
    assert_eq!(&delivered_row[col("verification")], "not_required");
    assert_eq!(&delivered_row[col("recorded_utc")], "2026-11-25 08:00:00");
    assert_eq!(&delivered_row[col("delivery_date")], DATE);
    assert_eq!(
        &delivered_row[col("recipient")],
        handed.recipient_name.as_str()
    );
    let failed_row = rows
        .iter()
        .find(|r| &r[col("parcel_id")] == not_home.parcel_id.to_string().as_str())
        .unwrap_or_else(|| panic!("the failed attempt: {csv}"));
    assert_eq!(&failed_row[col("kind")], "failed");
    assert_eq!(&failed_row[col("reason")], "not_home");

    // Another range has none of them.
    let r = get("/fleet/export/deliveries.csv?from=2026-12-01&to=2026-12-31".into()).await;
    assert_eq!(r.status(), 200);
    let other = r.text().await.unwrap();
    assert_eq!(other.lines().count(), 1, "the header only: {other}");

    // Bad ranges: a clear 422.
    for (q, words) in [
        ("from=2026-11-31&to=2026-12-01", "is not a date"),
        ("from=2026-11-25", "give the to day"),
        ("from=2026-12-02&to=2026-12-01", "after it ends"),
        ("from=2026-01-01&to=2026-12-31", "at most 92 days"),
    ] {
        let r = get(format!("/fleet/export/deliveries.csv?{q}")).await;
        assert_eq!(r.status(), 422, "{q}");
        let html = r.text().await.unwrap();
        assert!(html.contains(words), "{q}: {html}");
    }
}
