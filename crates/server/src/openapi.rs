//! The OpenAPI 3.1 document, maintained by hand next to the routes (a derive macro would
//! need annotations on the shared protocol types, which must stay free of HTTP concerns).

use axum::Json;

fn op(summary: &str, auth: Option<&str>, body: Option<&str>, ok: &str) -> serde_json::Value {
    let mut v = serde_json::json!({
        "summary": summary,
        "responses": {
            ok: { "description": "success" },
            "4XX": { "description": "client error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } },
            "503": { "description": "overloaded or storage busy; retry after the Retry-After header", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } } }
        }
    });
    if let Some(a) = auth {
        v["security"] = serde_json::json!([{ a: [] }]);
    }
    if let Some(b) = body {
        v["requestBody"] = serde_json::json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{b}") } } } });
    }
    v
}

/// The document.
pub fn document() -> serde_json::Value {
    let device = Some("device");
    let admin = Some("admin");
    serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "Doorstep dispatch server", "version": env!("CARGO_PKG_VERSION") },
        "paths": {
            "/.well-known/doorstep-keys": { "get": op("Public keys for handover tokens", None, None, "200") },
            "/v1/health": { "get": op("Liveness", None, None, "200") },
            "/v1/devices/enroll": { "post": op("Exchange an enrollment code for a device token", None, Some("EnrollRequest"), "200") },
            "/v1/manifest": { "get": op("The courier's route for a day (?date=YYYY-MM-DD; ETag / If-None-Match → 304)", device, None, "200") },
            "/v1/verify": { "post": op("Check a delivery code (attempts counted per code across devices)", device, Some("VerifyRequest"), "200") },
            "/v1/resend": { "post": op("Send the customer a new code (rate-limited; counter kept)", device, Some("ResendRequest"), "200") },
            "/v1/sync": { "post": op("Store a batch of delivery events exactly once", device, Some("SyncRequest"), "200") },
            "/v1/photos/{sha256}": { "put": op("Upload a proof photo addressed by its SHA-256 (idempotent)", device, None, "200") },
            "/v1/parcels": { "post": op("Create a parcel (policy decides about the code)", Some("shipper"), Some("CreateParcelRequest"), "201") },
            "/v1/parcels/{id}": { "get": op("A parcel with its policy decision and reasons", Some("shipper"), None, "200") },
            "/v1/admin/couriers": { "post": op("Create a courier", admin, Some("CreateCourierRequest"), "201") },
            "/v1/admin/shippers": { "post": op("Create a shipper and its API key", admin, Some("CreateShipperRequest"), "201") },
            "/v1/admin/enrollments": { "post": op("Create a single-use enrollment code", admin, Some("CreateEnrollmentRequest"), "201") },
            "/v1/admin/devices": { "get": op("Enrolled devices", admin, None, "200") },
            "/v1/admin/devices/{id}/revoke": { "post": op("Revoke a device", admin, None, "204") },
            "/v1/admin/devices/{id}/accept-chain": { "post": op("Accept a device's broken record chain as re-anchored (audit-logged); its held records then arrive marked for review", admin, None, "204") },
            "/v1/admin/deliveries": { "get": op("Stored delivery events (?date=)", admin, None, "200") },
            "/v1/admin/outbox": { "get": op("Notification outbox state (no bodies)", admin, None, "200") },
            "/v1/admin/parcels/{id}": { "get": op("Any parcel with its decision", admin, None, "200") },
            "/v1/admin/stops/{id}/new-code": { "post": op("New code and fresh attempt counter for a locked stop", admin, None, "200") },
            "/v1/dev/outbox": { "get": op("Development outbox (demo mode only)", None, None, "200") }
        },
        "components": {
            "securitySchemes": {
                "device": { "type": "http", "scheme": "bearer", "description": "device token from enrollment" },
                "shipper": { "type": "http", "scheme": "bearer", "description": "shipper API key" },
                "admin": { "type": "http", "scheme": "bearer", "description": "fleet admin token" }
            },
            "schemas": {
                "ErrorBody": { "type": "object", "required": ["code", "message"], "properties": {
                    "code": { "type": "string", "enum": ["bad_request", "validation_failed", "unauthorized", "device_revoked", "forbidden", "not_found", "conflict", "payload_too_large", "rate_limited", "enrollment_invalid", "code_format", "code_not_required", "resend_too_soon", "update_required", "internal", "unavailable"] },
                    "message": { "type": "string" } } },
                "EnrollRequest": { "type": "object", "additionalProperties": false, "required": ["enrollment_code", "device_public_key", "app_version", "platform"] },
                "VerifyRequest": { "type": "object", "additionalProperties": false, "required": ["parcel_id", "code"] },
                "ResendRequest": { "type": "object", "additionalProperties": false, "required": ["parcel_id"] },
                "SyncRequest": { "type": "object", "additionalProperties": false, "required": ["app_version", "platform", "events"] },
                "CreateParcelRequest": { "type": "object", "additionalProperties": false, "required": ["barcode", "recipient", "address", "postal_code", "method", "delivery_date"] },
                "CreateCourierRequest": { "type": "object", "additionalProperties": false, "required": ["name"] },
                "CreateShipperRequest": { "type": "object", "additionalProperties": false, "required": ["name"] },
                "CreateEnrollmentRequest": { "type": "object", "additionalProperties": false, "required": ["courier_id"] }
            }
        }
    })
}

/// `GET /v1/openapi.json`.
pub async fn serve() -> Json<serde_json::Value> {
    Json(document())
}
