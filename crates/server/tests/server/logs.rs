use doorstep_protocol::wire::Verification;

use crate::helpers::{MORNING_MS, captured_logs, delivered, spawn_app, wrong_code};

#[tokio::test]
async fn the_log_never_contains_a_code_or_a_token() {
    let app = spawn_app().await;
    let mut device = app.device().await;
    let mut secrets: Vec<String> = vec![
        device.token.clone(),
        app.seed.admin_token.clone(),
        app.seed.shipper_api_key.clone(),
    ];
    for p in app.seed.parcels.iter().filter(|p| p.code.is_some()) {
        let code = p.code.clone().unwrap();
        device.verify(p.parcel_id, &wrong_code(&code)).await;
        device.verify(p.parcel_id, &code).await;
        secrets.push(wrong_code(&code));
        secrets.push(code);
    }
    let p = app.parcel("pickup point");
    let html = app
        .client
        .get(&p.customer_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = html.find("<code data-token>").unwrap() + "<code data-token>".len();
    let token = html[start..start + html[start..].find("</code>").unwrap()].to_string();
    let ev = device.event(
        p.stop_id,
        &[p.parcel_id],
        delivered(Verification::Token {
            token: doorstep_protocol::HandoverToken::from_text(&token),
        }),
        MORNING_MS,
    );
    device.sync(&[ev]).await;
    secrets.push(token);
    app.code_from_dev_outbox(p.stop_id, 1).await;

    let logs = captured_logs();
    assert!(
        logs.contains("code checked"),
        "the log captured the server's requests"
    );
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret leaked into the log");
    }
}
