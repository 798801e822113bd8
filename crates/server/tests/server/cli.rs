use std::io::{BufRead, Read};
use std::path::Path;
use std::process::{Command, Stdio};

fn server() -> Command {
    Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
}

/// Runs `demo` with `extra` arguments on a fresh port until it has printed its route, stops
/// it, and returns what it wrote to stdout and to stderr.
fn run_demo(data_dir: &Path, extra: &[&str]) -> (String, String) {
    let mut child = server()
        .args(["demo", "--port", "0", "--date", "2026-11-25", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    let mut route_lines = None;
    for line in std::io::BufReader::new(stdout).lines().take(200) {
        let line = line.unwrap();
        match &mut route_lines {
            None if line.starts_with("Route for ") => route_lines = Some(0),
            Some(n) => *n += 1,
            None => {}
        }
        lines.push(line);
        if route_lines == Some(12) {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    (lines.join("\n"), err_reader.join().unwrap())
}

#[test]
fn the_demo_command_seeds_a_route_and_prints_the_enrollment_qr() {
    let dir = tempfile::tempdir().unwrap();
    let (text, stderr) = run_demo(&dir.path().join("demo"), &[]);
    assert!(
        text.contains("listening on 127.0.0.1:"),
        "the demo listens on loopback unless told otherwise: {text}"
    );
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert!(
        text.contains("doorstep://enroll?server=http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains('█') || text.contains('▀') || text.contains('▄'),
        "a QR is drawn"
    );
    let route: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Route for 2026-11-25"))
        .skip(1)
        .collect();
    assert_eq!(route.len(), 12, "{text}");
    let mut kinds: Vec<String> = route
        .iter()
        .map(|l| {
            let label = l.split_whitespace().next().unwrap();
            let parsed = doorstep_protocol::Barcode::parse(label).unwrap();
            serde_json::to_value(parsed).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    kinds.sort();
    let mut expected = vec!["opaque", "s10"];
    expected.extend(["sscc"; 10]);
    assert_eq!(
        kinds, expected,
        "the printed route: GS1 SSCCs, one S10, one opaque"
    );

    // The same data directory gives a label sheet and more enrollment codes.
    let labels = dir.path().join("labels.html");
    let out = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
        .args(["labels", "--date", "2026-11-25", "--data-dir"])
        .arg(dir.path().join("demo"))
        .arg("--out")
        .arg(&labels)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&labels).unwrap();
    assert_eq!(
        html.matches("<svg").count(),
        26,
        "a GS1-128 or Code 128 and a QR per parcel (13: the route's and another courier's)"
    );

    let svg = dir.path().join("enroll.svg");
    let out = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
        .args([
            "enroll",
            "--courier",
            "Sam",
            "--public-url",
            "http://192.0.2.1:8080",
            "--data-dir",
        ])
        .arg(dir.path().join("demo"))
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("doorstep://enroll?server=http://192.0.2.1:8080&code="),
        "{printed}"
    );
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
}

#[test]
fn every_command_has_help() {
    for cmd in [
        "serve",
        "demo",
        "enroll",
        "labels",
        "rotate-token-key",
        "revoke-token-key",
        "rotate-admin-token",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
            .args([cmd, "--help"])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("--data-dir"),
            "{cmd}"
        );
    }
}

#[test]
fn a_demo_on_another_address_than_loopback_warns_that_the_fleet_page_and_codes_are_open() {
    let dir = tempfile::tempdir().unwrap();
    let (text, stderr) = run_demo(&dir.path().join("demo"), &["--host", "0.0.0.0"]);
    assert!(text.contains("listening on 0.0.0.0:"), "{text}");
    for said in [
        "WARNING",
        "fleet page",
        "enroll",
        "/dev/outbox",
        "--host 127.0.0.1",
    ] {
        assert!(stderr.contains(said), "the warning says {said:?}: {stderr}");
    }
}

#[test]
fn serve_listens_on_loopback_unless_told_otherwise() {
    let out = server().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("[default: 127.0.0.1:8080]"), "{help}");
}

/// Runs `serve` in production with `public_url` on an address it cannot bind (TEST-NET-1),
/// so it stops either at the public URL check or, past it, at binding.
fn serve_with_public_url(public_url: &str, extra: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = server()
        .args([
            "serve",
            "--listen",
            "192.0.2.1:9",
            "--public-url",
            public_url,
        ])
        .args(extra)
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DOORSTEP_ALLOW_INSECURE_PUBLIC_URL")
        .output()
        .unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn production_serve_refuses_a_public_url_that_is_not_https_unless_allowed() {
    let refused = serve_with_public_url("http://dispatch.example.com", &[]);
    assert!(
        refused.contains("--public-url http://dispatch.example.com is not an https:// address"),
        "{refused}"
    );
    assert!(
        refused.contains("reverse proxy") && refused.contains("--allow-insecure-public-url"),
        "the refusal says what to do: {refused}"
    );
    for (url, extra) in [
        (
            "http://dispatch.example.com",
            &["--allow-insecure-public-url"][..],
        ),
        ("https://dispatch.example.com", &[][..]),
        ("http://127.0.0.1:8080", &[][..]),
    ] {
        let passed = serve_with_public_url(url, extra);
        assert!(
            passed.contains("binding 192.0.2.1:9") && !passed.contains("https://"),
            "{url} {extra:?} passes the check and stops at binding: {passed}"
        );
    }
}

#[test]
fn keys_and_the_admin_token_are_rotated_and_revoked_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let before = doorstep_server::sys::secrets::Secrets::load_or_create(&secrets).unwrap();
    let run = |args: &[&str]| {
        let out = server()
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };

    let (ok, stdout, stderr) = run(&["rotate-admin-token"]);
    assert!(ok, "{stderr}");
    let token = stdout.trim();
    assert!(token.starts_with("dsa_") && token != before.admin_token());
    assert!(stderr.contains("shown only this once"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(secrets.join("admin.token")).unwrap(),
        token
    );
    #[cfg(unix)]
    assert_eq!(crate::helpers::mode_of(&secrets.join("admin.token")), 0o600);

    let old_key = before.key_id().to_string();
    let (ok, stdout, stderr) = run(&["revoke-token-key", "--key-id", &old_key]);
    assert!(ok, "{stderr}");
    let after = doorstep_server::sys::secrets::Secrets::load_or_create(&secrets).unwrap();
    assert_ne!(after.key_id(), before.key_id());
    assert!(
        stdout.contains(&format!(
            "revoked token key {old_key}; the new signing key is {}",
            after.key_id()
        )),
        "{stdout}"
    );

    let (ok, _, stderr) = run(&["revoke-token-key", "--key-id", "0000000g"]);
    assert!(!ok && stderr.contains("8 hex digits"), "{stderr}");

    let missing = dir.path().join("typo");
    let out = server()
        .args(["rotate-admin-token", "--data-dir"])
        .arg(&missing)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "no secrets are made for a wrong --data-dir"
    );
    assert!(!missing.exists());
}

#[test]
fn the_release_commands_publish_stage_and_list_on_the_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = server()
            .arg("release")
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .args(["--public-url", "https://dispatch.example.com"])
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    // A Linux AppImage is an ELF file.
    let build = dir.path().join("doorstep.AppImage");
    std::fs::write(&build, b"\x7fELF\x02\x01\x01 a build").unwrap();
    let (ok, out, err) = run(&[
        "publish",
        "--platform",
        "linux",
        "--version",
        "1.4.0",
        "--rollout",
        "10",
        "--file",
        build.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("published linux 1.4.0 to 10 % of devices"),
        "{out}"
    );
    assert!(
        out.contains("https://dispatch.example.com/v1/releases/files/"),
        "{out}"
    );
    let stored: Vec<_> = std::fs::read_dir(data.join("releases")).unwrap().collect();
    assert_eq!(stored.len(), 1, "one file, no temporary left");

    let (ok, out, _) = run(&[
        "rollout",
        "--platform",
        "linux",
        "--version",
        "1.4.0",
        "--percent",
        "50",
    ]);
    assert!(ok && out.contains("rollout 50 %"), "{out}");
    let (ok, _, err) = run(&[
        "rollout",
        "--platform",
        "linux",
        "--version",
        "1.4.0",
        "--percent",
        "20",
    ]);
    assert!(!ok && err.contains("only grows"), "{err}");
    let (ok, out, _) = run(&["pause", "--platform", "linux", "--version", "1.4.0"]);
    assert!(ok && out.contains("paused"), "{out}");
    // Refusals say what is wrong and publish nothing.
    for (args, words) in [
        (
            vec![
                "publish",
                "--platform",
                "linux",
                "--version",
                "1.4",
                "--url",
                "https://x.example",
            ],
            "SemVer",
        ),
        (
            vec![
                "publish",
                "--platform",
                "linux",
                "--version",
                "1.3.0",
                "--url",
                "https://x.example",
            ],
            "not above",
        ),
        (
            vec![
                "publish",
                "--platform",
                "android",
                "--version",
                "2.0.0",
                "--file",
                build.to_str().unwrap(),
            ],
            "not a zip",
        ),
        (
            vec![
                "publish",
                "--platform",
                "toaster",
                "--version",
                "2.0.0",
                "--url",
                "https://x.example",
            ],
            "unknown platform",
        ),
        (
            vec!["minimum", "--platform", "linux", "--version", "3.0.0"],
            "publish 3.0.0 or later first",
        ),
    ] {
        let (ok, _, err) = run(&args);
        assert!(!ok, "{args:?} was taken");
        assert!(err.contains(words), "{args:?}: {err}");
    }
    let (ok, out, _) = run(&["minimum", "--platform", "linux", "--version", "1.4.0"]);
    assert!(ok && out.contains("linux minimum version: 1.4.0"), "{out}");
    let (ok, out, _) = run(&["list"]);
    assert!(ok, "{out}");
    assert!(out.contains("linux: minimum 1.4.0"), "{out}");
    assert!(
        out.contains("1.4.0") && out.contains("50 % paused"),
        "{out}"
    );
    assert!(!out.contains("1.3.0") && !out.contains("2.0.0"), "{out}");
    let (ok, out, _) = run(&["token", "--label", "ci"]);
    assert!(
        ok && out.lines().last().unwrap().starts_with("dsr_"),
        "{out}"
    );
}

#[test]
fn the_user_commands_add_list_and_disable_console_accounts() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let user = |args: &[&str], stdin: Option<&str>| {
        let mut child = server()
            .arg("user")
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, _, err) = user(
        &["add", "Alice", "--role", "owner", "--password-stdin"],
        Some("short\n"),
    );
    assert!(!ok && err.contains("at least 12"), "{err}");
    let (ok, out, err) = user(
        &["add", "Alice", "--role", "owner", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("added alice (owner)") && !out.contains("password ("),
        "{out}"
    );
    let (ok, out, err) = user(&["add", "bob", "--role", "viewer"], None);
    assert!(ok, "{err}");
    let made = out
        .split("password (shown once")
        .nth(1)
        .expect("a made password is shown");
    assert!(made.trim_start_matches(|c| c != ':').len() > 20, "{out}");
    let (ok, _, err) = user(&["add", "bob", "--role", "admin"], None);
    assert!(!ok && err.contains("already a user named bob"), "{err}");
    let (ok, _, err) = user(&["disable", "alice"], None);
    assert!(!ok && err.contains("only owner"), "{err}");
    let (ok, _, _) = user(&["disable", "bob"], None);
    assert!(ok);
    let (_, out, _) = user(&["list"], None);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines,
        [["alice", "owner", "active"], ["bob", "viewer", "disabled"]]
    );
}

#[test]
fn serve_without_a_console_user_prints_a_one_time_setup_link_on_the_terminal_only() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let mut child = server()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://dispatch.example.com",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read on a thread, so a server that never prints the link fails the test (after a
    // minute) instead of hanging it.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let found = std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|l| {
                l.trim()
                    .strip_prefix("https://dispatch.example.com/fleet/setup/")
                    .map(str::to_string)
            });
        let _ = tx.send(found);
    });
    let link = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .ok()
        .flatten();
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    let token = link.expect("the setup link on standard output");
    assert_eq!(token.len(), 64, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(!log.contains(&token), "the link is not in the log: {log}");
}
