//! The console's accounts (issue 19 item 1): every action tried by every role, sessions that
//! expire and end, disabled users, the first owner's setup link, and the audit log's names.

use doorstep_server::domain::accounts::{Action, Role};

use crate::helpers::{
    PASSWORD, TestApp, add_user, browser, csrf_from, fleet_app, get_as, header, post_as, sign_in,
    signed_in_as, text_as,
};

/// An action as a browser sends it: (method, path, form body without the CSRF field).
fn request(app: &TestApp, action: Action, role: Role) -> (&'static str, String, String) {
    let none = uuid::Uuid::now_v7();
    match action {
        Action::View => ("GET", "/fleet".into(), String::new()),
        Action::EnrollPhone => (
            "POST",
            "/fleet/enroll".into(),
            format!("courier_id={}", app.seed.courier_id),
        ),
        Action::NewCode => (
            "POST",
            format!("/fleet/stops/{none}/new-code"),
            String::new(),
        ),
        Action::AssignUnexpected => (
            "POST",
            format!("/fleet/unexpected/{none}/assign"),
            String::new(),
        ),
        Action::ImportParcels => ("GET", "/fleet/import".into(), String::new()),
        Action::AcceptChain => (
            "POST",
            format!("/fleet/devices/{none}/accept-chain"),
            String::new(),
        ),
        Action::RevokePhone => (
            "POST",
            format!("/fleet/devices/{none}/revoke"),
            String::new(),
        ),
        Action::Releases => (
            "POST",
            "/fleet/releases/android/minimum".into(),
            "minimum=1.0.0".into(),
        ),
        Action::Accounts => (
            "POST",
            "/fleet/accounts".into(),
            format!("name=made-by-{role}&role=viewer&password=a+long+enough+password"),
        ),
    }
}

async fn audit_count(app: &TestApp) -> usize {
    let store = app.server.open_store().await.unwrap();
    tokio::task::spawn_blocking(move || store.audit_log(10_000).unwrap().len())
        .await
        .unwrap()
}

#[tokio::test]
async fn every_role_tries_every_action_and_a_forbidden_one_gets_a_403_page_and_changes_nothing() {
    let app = fleet_app().await;
    for role in Role::ALL {
        let cookie = signed_in_as(&app, &format!("the-{role}"), role).await;
        let page = get_as(&app, &cookie, "/fleet/phones").await;
        assert_eq!(page.status(), 200, "{role} sees the console");
        let html = page.text().await.unwrap();
        assert!(
            html.contains(&format!("the-{role}</strong> ({role})")),
            "who is signed in: {html}"
        );
        assert_eq!(
            html.contains("action=\"/fleet/enroll\""),
            role.may(Action::EnrollPhone),
            "{role}: the enroll form is shown only to a role that may use it"
        );
        assert_eq!(
            html.contains("href=\"/fleet/accounts\""),
            role == Role::Owner
        );
        let csrf = csrf_from(&html);
        for action in Action::ALL {
            let (method, path, form) = request(&app, action, role);
            let before = audit_count(&app).await;
            let r = if method == "GET" {
                browser().get(app.url(&path))
            } else {
                browser()
                    .post(app.url(&path))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(format!("csrf={csrf}&{form}"))
            }
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
            let status = r.status();
            let body = r.text().await.unwrap();
            if role.may(action) {
                assert!(
                    status != 403 && status != 401,
                    "{role} may {action:?}: {status} {body}"
                );
            } else {
                assert_eq!(status, 403, "{role} may not {action:?}: {body}");
                let needs: Vec<&str> = action.roles().iter().map(|r| r.as_str()).collect();
                assert!(
                    body.contains(&format!("data-needs=\"{}\"", needs.join(" "))),
                    "{body}"
                );
                assert!(body.contains(&action.who_may()), "says who may: {body}");
                assert!(body.contains("Nothing was changed"), "{body}");
                assert_eq!(
                    audit_count(&app).await,
                    before,
                    "{role} {action:?} changed nothing"
                );
            }
        }
    }
    // Only the owner's account form made a user.
    let store = app.server.open_store().await.unwrap();
    let users = tokio::task::spawn_blocking(move || store.users().unwrap())
        .await
        .unwrap();
    let made: Vec<&str> = users
        .iter()
        .filter(|u| u.name.starts_with("made-by-"))
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(made, ["made-by-owner"]);
}

#[tokio::test]
async fn a_session_ends_after_two_idle_hours_twelve_in_all_or_at_sign_out() {
    let app = fleet_app().await;
    add_user(&app, "dora", Role::Dispatcher).await;
    let r = post_as(
        &app,
        "",
        "/fleet/sign-in",
        &[("name", "dora"), ("password", PASSWORD)],
    )
    .await;
    let set = header(&r, "set-cookie").to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/fleet"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = set.split(';').next().unwrap().to_string();

    // Used every hour and a half, it lives; twelve hours after sign-in, it ends.
    for _ in 0..7 {
        app.clock.advance_ms(90 * 60 * 1000);
        assert_eq!(get_as(&app, &cookie, "/fleet").await.status(), 200);
    }
    app.clock.advance_ms(90 * 60 * 1000);
    let r = get_as(&app, &cookie, "/fleet").await;
    assert_eq!(r.status(), 303);
    assert!(header(&r, "location").starts_with("/fleet/sign-in"));

    // Idle for two hours: gone.
    let cookie = sign_in(&app, "dora", PASSWORD).await.unwrap();
    app.clock.advance_ms(2 * 3600 * 1000);
    assert_eq!(get_as(&app, &cookie, "/fleet").await.status(), 303);

    // Signed out: the old cookie no longer opens anything, and a form post says to sign in.
    let cookie = sign_in(&app, "dora", PASSWORD).await.unwrap();
    let csrf = csrf_from(&get_as(&app, &cookie, "/fleet").await.text().await.unwrap());
    let r = post_as(&app, &cookie, "/fleet/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    assert_eq!(get_as(&app, &cookie, "/fleet").await.status(), 303);
    let courier = app.seed.courier_id.to_string();
    let r = post_as(
        &app,
        &cookie,
        "/fleet/enroll",
        &[("csrf", &csrf), ("courier_id", &courier)],
    )
    .await;
    assert_eq!(r.status(), 401);
    assert!(r.text().await.unwrap().contains("Nothing was changed"));
}

#[tokio::test]
async fn another_sessions_csrf_token_is_refused() {
    let app = fleet_app().await;
    let a = signed_in_as(&app, "ann", Role::Admin).await;
    let b = signed_in_as(&app, "ben", Role::Admin).await;
    let csrf_a = csrf_from(&text_as(&app, &a, "/fleet").await);
    let csrf_b = csrf_from(&text_as(&app, &b, "/fleet").await);
    assert_ne!(csrf_a, csrf_b, "a token per session");
    let courier = app.seed.courier_id.to_string();
    let enroll = |csrf: String| {
        let (app, a, courier) = (&app, &a, &courier);
        async move {
            post_as(
                app,
                a,
                "/fleet/enroll",
                &[("csrf", &csrf), ("courier_id", courier)],
            )
            .await
            .status()
        }
    };
    assert_eq!(enroll(csrf_b).await, 403);
    assert_eq!(enroll(csrf_a).await, 200);
}

#[tokio::test]
async fn a_disabled_user_is_signed_out_at_once_and_the_last_owner_stays() {
    let app = fleet_app().await;
    let owner = app.session().await;
    let eve = signed_in_as(&app, "eve", Role::Dispatcher).await;
    let owner_page = text_as(&app, &owner, "/fleet/accounts").await;
    assert!(owner_page.contains("data-user=\"eve\""), "{owner_page}");
    let csrf = csrf_from(&owner_page);
    let post = |path: &'static str, form: Vec<(&'static str, &'static str)>| {
        let (app, owner, csrf) = (&app, &owner, &csrf);
        async move {
            let mut form = form;
            form.push(("csrf", csrf));
            post_as(app, owner, path, &form).await
        }
    };
    let r = post("/fleet/accounts/eve/disable", vec![]).await;
    assert_eq!(r.status(), 303);
    let r = get_as(&app, &eve, "/fleet").await;
    assert_eq!(r.status(), 303, "eve's session ended");
    let r = sign_in(&app, "eve", PASSWORD).await.unwrap_err();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("disabled"));
    // A wrong password for a disabled user reads as any wrong password.
    assert_eq!(
        sign_in(&app, "eve", "not her password")
            .await
            .unwrap_err()
            .status(),
        401
    );

    // The only owner cannot disable themselves; nothing changes.
    let r = post("/fleet/accounts/alice/disable", vec![]).await;
    assert_eq!(r.status(), 409);
    assert!(r.text().await.unwrap().contains("only owner"));
    // A new password signs eve out and is the one that works.
    post("/fleet/accounts/eve/enable", vec![]).await;
    let r = post("/fleet/accounts/eve/password", vec![("password", "short")]).await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("at least 12"));
    post(
        "/fleet/accounts/eve/password",
        vec![("password", "a brand new password")],
    )
    .await;
    assert_eq!(
        sign_in(&app, "eve", PASSWORD).await.unwrap_err().status(),
        401
    );
    sign_in(&app, "eve", "a brand new password").await.unwrap();

    let store = app.server.open_store().await.unwrap();
    let audit = tokio::task::spawn_blocking(move || store.audit_log(100).unwrap())
        .await
        .unwrap();
    for what in ["user_disabled", "user_enabled", "password_reset"] {
        assert!(
            audit
                .iter()
                .any(|a| a.action == what && a.actor == "alice (owner)" && a.subject == "eve"),
            "{what} by alice: {audit:?}"
        );
    }
}

#[tokio::test]
async fn the_setup_link_makes_the_first_owner_once() {
    let app = fleet_app().await;
    let store = app.server.open_store().await.unwrap();
    let config = app.server.config.clone();
    let link = tokio::task::spawn_blocking(move || {
        doorstep_server::ops::accounts::setup_link(&store, &config)
    })
    .await
    .unwrap()
    .unwrap()
    .expect("no user yet: a link");
    let path = &link[link.find("/fleet/setup/").unwrap()..];
    assert_eq!(get_as(&app, "", path).await.status(), 200);
    // A post from another site is refused before anything happens.
    let form = [("name", "Olga"), ("password", "the owner's long password")];
    let r = browser()
        .post(app.url(path))
        .header("origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // Behind a reverse proxy the Host is the proxy's backend; the browser's Origin is the
    // server's public address, which is taken.
    let public = app
        .server
        .config
        .public_url
        .trim_end_matches('/')
        .to_string();
    let r = browser()
        .post(app.url(path))
        .header("origin", &public)
        .header("host", "doorstep-backend.internal:8080")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "from {public}");
    assert!(header(&r, "set-cookie").starts_with("doorstep_session="));
    let r = post_as(&app, "", path, &form).await;
    assert_eq!(r.status(), 401, "used up");
    assert_eq!(get_as(&app, "", path).await.status(), 401);
    sign_in(&app, "olga", "the owner's long password")
        .await
        .unwrap();
    // With a user, no new link is made.
    let store = app.server.open_store().await.unwrap();
    let config = app.server.config.clone();
    let again = tokio::task::spawn_blocking(move || {
        doorstep_server::ops::accounts::setup_link(&store, &config)
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(again, None);
}
