//! The served OpenAPI document against the routes the server really has.
//!
//! The JSON API's routes are registered from their handlers' `#[utoipa::path]` annotations
//! (`routes!` in `api.rs`), so they are described by construction. A route added the plain
//! axum way (`.route("/v1/...", ...)`) would not be: the source scan below finds every such
//! call in `src/` and fails unless its path is described, or is one of the HTML pages that
//! stay out of the document on purpose.

use std::collections::BTreeSet;
use std::path::Path;

use doorstep_protocol::wire::{DeliveryMethod, PreferenceChange, WebhookEvent, WebhookPayload};
use doorstep_protocol::{EventId, ParcelId};
use serde_json::Value;

use crate::helpers::spawn_app;

/// Path prefixes of the server-rendered HTML pages (customer page, fleet page, QA pages), the
/// console's static files and map tiles (`/assets/`, `/map/`), and
/// `/`, which redirects to the fleet page, and `/install/`, where a phone's browser that
/// scanned the install QR is sent on to the build: not the JSON API, so not in the document.
const HTML_PAGES: [&str; 6] = ["/c/", "/fleet", "/dev/", "/install/", "/assets/", "/map/"];

fn is_html_page(path: &str) -> bool {
    path == "/" || HTML_PAGES.iter().any(|p| path.starts_with(p))
}

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

async fn served_document() -> Value {
    let app = spawn_app().await;
    let r = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

/// The (method, path) pairs of the document; `*` for a route that takes every method.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if METHODS.contains(&method.as_str()) {
                out.insert((method.clone(), path.clone()));
            }
        }
    }
    out
}

/// A route registration found in the source: file:line, path, methods (`*`: any).
#[derive(Debug)]
struct SourceRoute {
    at: String,
    path: Option<String>,
    methods: BTreeSet<String>,
}

/// Every `.route(`, `.route_service(`, `.nest(` and `.nest_service(` call in `dir`.
fn routes_in_source(dir: &Path, out: &mut Vec<SourceRoute>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            routes_in_source(&path, out);
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for call in [".route(", ".route_service(", ".nest(", ".nest_service("] {
            for (start, _) in text.match_indices(call) {
                let args = &text[start + call.len()..];
                let line = text[..start].lines().count();
                let at = format!("{}:{line}", path.display());
                let args_end = closing_paren(args);
                let trimmed = args[..args_end].trim_start();
                let literal = trimmed
                    .strip_prefix('"')
                    .and_then(|rest| rest.split_once('"'))
                    .map(|(p, _)| p.to_string());
                let methods = if call == ".route(" {
                    let after = literal.as_ref().map_or("", |p| &trimmed[p.len() + 2..]);
                    METHODS
                        .iter()
                        .filter(|m| {
                            after.match_indices(&format!("{m}(")).any(|(i, _)| {
                                i == 0 || !after.as_bytes()[i - 1].is_ascii_alphanumeric()
                            })
                        })
                        .map(|m| m.to_string())
                        .collect()
                } else {
                    BTreeSet::from(["*".to_string()])
                };
                out.push(SourceRoute {
                    at,
                    path: literal,
                    methods,
                });
            }
        }
    }
}

/// Where the call whose arguments start at `text` closes.
fn closing_paren(text: &str) -> usize {
    let mut depth = 1;
    let mut in_string = false;
    let mut prev = '\0';
    for (i, c) in text.char_indices() {
        match c {
            '"' if prev != '\\' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
        prev = c;
    }
    text.len()
}

#[tokio::test]
async fn every_route_of_the_json_api_is_in_the_openapi_document() {
    let doc = served_document().await;
    let described = documented(&doc);
    let mut found = Vec::new();
    routes_in_source(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    // The scan sees the HTML pages' routes, so it would see a JSON route added the same way.
    assert!(
        found.len() >= 5,
        "the source scan found too few routes: {found:?}"
    );
    let mut problems = Vec::new();
    for route in &found {
        let Some(path) = &route.path else {
            problems.push(format!(
                "{}: the route's path is not a string literal, so this test cannot check it",
                route.at
            ));
            continue;
        };
        if is_html_page(path) {
            continue;
        }
        if route.methods.is_empty() {
            problems.push(format!("{}: no method found for {path}", route.at));
        }
        for method in &route.methods {
            let ok = if method == "*" {
                described.iter().any(|(_, p)| p == path)
            } else {
                described.contains(&(method.clone(), path.clone()))
            };
            if !ok {
                problems.push(format!(
                    "{}: {} {path} is not in the OpenAPI document; register it with \
                     `routes!(handler)` and a `#[utoipa::path]` on the handler (or, for an \
                     HTML page, under one of {HTML_PAGES:?})",
                    route.at,
                    method.to_uppercase()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_operation_in_the_openapi_document_is_served() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let operations = documented(&doc);
    assert!(operations.len() >= 20, "{operations:?}");
    for (method, path) in operations {
        let concrete = path
            .replace("{sha256}", &"0".repeat(64))
            .replace("{id}", "00000000-0000-0000-0000-000000000000");
        let r = app
            .client
            .request(method.to_uppercase().parse().unwrap(), app.url(&concrete))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        let unrouted = status == 405 || (status == 404 && body["message"] == "no such endpoint");
        assert!(
            !unrouted,
            "{method} {path} is documented but not served: {status} {body}"
        );
    }
}

#[tokio::test]
async fn every_error_answer_in_the_openapi_document_is_the_error_body() {
    let doc = served_document().await;
    let schemes = &doc["components"]["securitySchemes"];
    for name in ["device", "shipper", "admin"] {
        assert_eq!(schemes[name]["type"], "http", "{name}");
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            let at = format!("{} {path}", method.to_uppercase());
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{at} has no success answer"
            );
            for status in ["400", "408", "415", "503"] {
                assert!(responses.contains_key(status), "{at} lacks {status}");
            }
            for (status, response) in responses {
                if status.as_str() < "400" {
                    continue;
                }
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{at} {status}"
                );
            }
            if let Some(security) = op["security"].as_array() {
                assert!(responses.contains_key("401"), "{at} needs credentials: 401");
                for requirement in security {
                    for scheme in requirement.as_object().unwrap().keys() {
                        assert!(schemes.get(scheme).is_some(), "{at}: scheme {scheme}");
                    }
                }
            }
        }
    }
    let codes = &doc["components"]["schemas"]["ErrorCode"]["enum"];
    assert!(codes.as_array().unwrap().contains(&"code_format".into()));
}

#[tokio::test]
async fn every_schema_reference_in_the_openapi_document_resolves() {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let doc = served_document().await;
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 50);
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("unexpected reference {r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} does not resolve"
        );
    }
    // The request types have their fields, and refuse unknown ones as the server does.
    let enroll = &doc["components"]["schemas"]["EnrollRequest"];
    assert_eq!(enroll["additionalProperties"], false);
    assert!(enroll["properties"]["device_public_key"].is_object());
}

#[tokio::test]
async fn the_openapi_document_describes_the_webhooks_and_their_signature_header() {
    let doc = served_document().await;
    let payload = WebhookPayload {
        event: WebhookEvent::Disputed,
        parcel_id: ParcelId::new_v7(1, [1; 10]),
        barcode: "DS1".into(),
        event_id: EventId::new_v7(2, [2; 10]),
        occurred_at_ms: 3,
        reject_code: None,
        preference: Some(PreferenceChange {
            method: DeliveryMethod::Neighbour,
            place: Some("Ana, 14".into()),
            delivery_date: "2026-12-08".into(),
            has_instructions: false,
        }),
    };
    let sent = serde_json::to_value(&payload).unwrap();
    let schema = &doc["components"]["schemas"]["WebhookPayload"];
    let described: BTreeSet<&String> = schema["properties"].as_object().unwrap().keys().collect();
    let on_the_wire: BTreeSet<&String> = sent.as_object().unwrap().keys().collect();
    assert_eq!(described, on_the_wire);
    for event in [
        WebhookEvent::Delivered,
        WebhookEvent::Failed,
        WebhookEvent::Disputed,
    ] {
        let op = &doc["webhooks"][event.as_str()]["post"];
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/WebhookPayload",
            "{}",
            event.as_str()
        );
        let signature = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "X-Doorstep-Signature")
            .unwrap_or_else(|| panic!("{} has no signature header", event.as_str()));
        assert_eq!(signature["in"], "header");
        assert_eq!(signature["required"], true);
        assert_eq!(
            serde_json::to_value(event).unwrap(),
            Value::String(event.as_str().into())
        );
    }
}
