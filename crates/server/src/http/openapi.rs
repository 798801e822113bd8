//! The OpenAPI 3.1 document of the JSON API, derived from the code with `utoipa`:
//!
//! - the wire types carry `utoipa::ToSchema` (doorstep-protocol's `openapi` feature);
//! - each handler under `/v1` and `/.well-known` carries `#[utoipa::path]` with its request,
//!   its answers and every error it can give ([`ErrorBody`] per status);
//! - [`crate::http::router`] registers each of those routes from its annotation (utoipa-axum's
//!   `routes!`), so a route and its description are written once.
//!
//! This module adds what belongs to no single handler: the security schemes, the answers the
//! middleware can give on any route (408, 503, 415 for a body in another coding than gzip,
//! and 400 for a bad `X-Forwarded-For` behind a trusted proxy), and the webhooks the server
//! sends to shippers (OpenAPI 3.1 `webhooks`, with their `X-Doorstep-Signature` header).
//!
//! The HTML pages (the customer page `/c/…`, the fleet page `/fleet…`, the QA pages `/dev/…`)
//! are not part of the JSON API and stay out of the document.

use std::sync::Arc;

use axum::Extension;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use doorstep_protocol::wire::{ErrorBody, WebhookEvent, WebhookPayload};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, ParameterBuilder};
use utoipa::openapi::path::{ParameterIn, PathItem};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, Response as ApiResponse, ResponseBuilder,
    Type,
};
use utoipa::{OpenApi, ToSchema};

/// The document's fixed parts; [`crate::api`] adds the paths.
#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "Doorstep dispatch server",
        description = "The JSON API of a Doorstep dispatch server: the courier app's calls \
            (device token), the shipper's (API key) and the fleet manager's (admin token). \
            Every error is `{ \"code\": \"...\", \"message\": \"...\" }` with a stable `code`. \
            The HTML pages (customer page `/c/...`, fleet page `/fleet`, QA pages `/dev/...`) \
            are not part of this API and are not described here."
    ),
    modifiers(&SecuritySchemes),
    components(schemas(ErrorBody, WebhookPayload, WebhookEvent)),
    tags(
        (name = "device", description = "The courier app, with the device token from enrollment"),
        (name = "shipper", description = "A shipper's system, with its API key"),
        (name = "admin", description = "The fleet manager, with the admin token"),
        (name = "public", description = "No credentials")
    )
)]
pub struct ApiDoc;

/// The three credentials, all `Authorization: Bearer`.
struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(description))
                    .build(),
            )
        };
        components.add_security_scheme(
            "device",
            bearer("The device token (`dsd_...`) a phone gets at enrollment."),
        );
        components.add_security_scheme(
            "shipper",
            bearer("The shipper's API key (`dsk_...`), shown once when the shipper is created."),
        );
        components.add_security_scheme(
            "admin",
            bearer("The fleet's admin token (in the data directory's secrets)."),
        );
        components.add_security_scheme(
            "release",
            bearer(
                "A release token (`dsr_...`, `doorstep-server release token`): it can publish \
                 releases and nothing else.",
            ),
        );
    }
}

/// Descriptions of error answers that several handlers share, for their `#[utoipa::path]`.
pub(crate) mod errors {
    /// 400 of a strict JSON body.
    pub const BAD_JSON: &str = "`bad_request`: the body is not valid JSON, or has an unknown \
        field, a missing field or a value of the wrong type";
    /// 400 of a strict JSON body holding a delivery code.
    pub const BAD_JSON_CODE: &str = "`bad_request`: the body is not valid JSON, or has an \
        unknown field, a missing field or a value of the wrong type; `code_format`: the code is \
        not digits with a valid check digit";
    /// 413 of a JSON body.
    pub const TOO_LARGE: &str = "`payload_too_large`: the body is larger than the server accepts";
    /// 415 of a JSON body.
    pub const NOT_JSON: &str =
        "`bad_request`: the body was not sent with `Content-Type: application/json`";
    /// 401 of the device token (a revoked phone too).
    pub const NO_DEVICE: &str = "`unauthorized`: no or unknown device token; `device_revoked`: \
        the phone was removed from the fleet";
    /// 401 of the device token on sync (a revoked phone may still send its records).
    pub const NO_DEVICE_SYNC: &str = "`unauthorized`: no or unknown device token";
    /// 401 of the shipper key.
    pub const NO_SHIPPER: &str = "`unauthorized`: no or unknown shipper API key";
    /// 401 of the admin token.
    pub const NO_ADMIN: &str = "`unauthorized`: no or wrong admin token";
    /// 429 of a phone's own rate limit.
    pub const DEVICE_RATE: &str =
        "`rate_limited`: too many requests from this phone; retry after `Retry-After` seconds";
    /// 400 of a path parameter.
    pub const BAD_PATH: &str = "`bad_request`: a path segment is not UTF-8";
    /// 400 of the `date` query.
    pub const BAD_DATE: &str = "`bad_request`: the query string is invalid (an unknown \
        parameter); `validation_failed`: `date` is not `YYYY-MM-DD`";
}

/// The served document, serialised once.
#[derive(Clone, Debug)]
pub struct Document(Arc<[u8]>);

impl Document {
    /// Completes the paths that `api::router` collected and serialises the document.
    pub fn new(mut doc: utoipa::openapi::OpenApi) -> Self {
        for item in doc.paths.paths.values_mut() {
            for op in operations(item) {
                add_middleware_answers(op);
            }
        }
        let mut value = serde_json::to_value(&doc).expect("the document is plain data");
        // utoipa 5's `OpenApi` has no field for OpenAPI 3.1's `webhooks`: the operations are
        // built with its types all the same and put in next to `paths`.
        value["webhooks"] = serde_json::to_value(webhooks()).expect("plain data");
        Self(serde_json::to_vec(&value).expect("plain data").into())
    }

    /// The JSON text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        &mut item.get,
        &mut item.put,
        &mut item.post,
        &mut item.delete,
        &mut item.options,
        &mut item.head,
        &mut item.patch,
        &mut item.trace,
    ]
    .into_iter()
    .filter_map(Option::as_mut)
}

fn error_response(description: &str) -> ApiResponse {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

/// What the middleware in front of every route can answer: `limits::bound_requests` (408,
/// 503), `limits::client_address` (400) and `limits::request_encoding` (415). A status the
/// handler documents already gets the middleware's reason added to its description.
fn add_middleware_answers(op: &mut Operation) {
    let answers = [
        (
            "400",
            "`bad_request`: the last `X-Forwarded-For` entry is not an IP address (only when \
             the server trusts the header behind a reverse proxy)",
        ),
        (
            "408",
            "`unavailable`: the request (its body included) took longer than the server's \
             request timeout; retry, with a smaller batch on a slow connection",
        ),
        (
            "415",
            "`bad_request`: the body came in a content coding other than gzip (see the \
             answer's `Accept-Encoding`)",
        ),
        (
            "503",
            "`unavailable`: too many requests in flight, or storage busy; retry (after \
             `Retry-After` seconds when given)",
        ),
    ];
    let responses = &mut op.responses.responses;
    for (status, reason) in answers {
        match responses.get_mut(status) {
            Some(RefOr::T(r)) => r.description = format!("{} — or {reason}", r.description),
            Some(RefOr::Ref(_)) => {}
            None => {
                responses.insert(status.into(), RefOr::T(error_response(reason)));
            }
        }
    }
}

/// The webhooks a shipper with a `webhook_url` receives: one `POST` per parcel and event.
fn webhooks() -> std::collections::BTreeMap<&'static str, PathItem> {
    let events = [
        (
            WebhookEvent::Delivered,
            "A parcel was delivered",
            "Sent when a delivery record of the parcel is accepted.",
        ),
        (
            WebhookEvent::Failed,
            "A delivery attempt failed",
            "Sent when a failed attempt (not home, refused, ...) is recorded.",
        ),
        (
            WebhookEvent::Disputed,
            "A record of the parcel was refused",
            "Sent when the server refuses a record of the parcel for good (`reject_code` \
             says why); a person should look at it.",
        ),
    ];
    events
        .into_iter()
        .map(|(event, summary, description)| {
            let op = OperationBuilder::new()
                .operation_id(Some(format!("webhook_{}", event.as_str().replace('.', "_"))))
                .summary(Some(summary))
                .description(Some(format!(
                    "{description} The server POSTs the JSON body to the shipper's \
                     `webhook_url`, signed with the shipper's webhook secret, and retries \
                     with a growing delay until the receiver answers 2xx (redirects are not \
                     followed; each try waits 10 s at most)."
                )))
                .parameter(
                    ParameterBuilder::new()
                        .name("X-Doorstep-Signature")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::True)
                        .description(Some(
                            "`t=<unix seconds>,v1=<hex HMAC-SHA256(webhook_secret, \"<t>.<body>\")>`, \
                             made at each try. Check it in constant time over the raw body and \
                             refuse a `t` older than 5 minutes.",
                        ))
                        .schema(Some(
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .pattern(Some("^t=[0-9]+,v1=[0-9a-f]{64}$")),
                        )),
                )
                .parameter(
                    ParameterBuilder::new()
                        .name("X-Doorstep-Event")
                        .parameter_in(ParameterIn::Header)
                        .required(Required::True)
                        .description(Some("The event's name, as in the body's `event`."))
                        .schema(Some(Ref::from_schema_name(WebhookEvent::name()))),
                )
                .request_body(Some(
                    RequestBodyBuilder::new()
                        .required(Some(Required::True))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name(WebhookPayload::name())))
                                .build(),
                        )
                        .build(),
                ))
                .response(
                    "2XX",
                    ResponseBuilder::new()
                        .description("Received; any other answer is a failed try, retried later"),
                )
                .build();
            (event.as_str(), PathItem::new(HttpMethod::Post, op))
        })
        .collect()
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "public",
    responses((
        status = 200,
        description = "This OpenAPI 3.1 document",
        body = Object,
        content_type = "application/json"
    ))
)]
pub async fn serve(Extension(doc): Extension<Document>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        doc.as_bytes().to_vec(),
    )
        .into_response()
}
