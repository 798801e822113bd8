use std::io::BufRead;
use std::process::{Command, Stdio};

#[test]
fn the_demo_command_seeds_a_route_and_prints_the_enrollment_qr() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_doorstep-server"))
        .args([
            "demo",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--date",
            "2026-11-25",
            "--data-dir",
        ])
        .arg(dir.path().join("demo"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(stdout).lines().take(200) {
        let line = line.unwrap();
        let done = line.starts_with("  DS0000000012");
        lines.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = lines.join("\n");
    assert!(
        text.contains("doorstep://enroll?server=http://127.0.0.1:"),
        "{text}"
    );
    assert!(
        text.contains('█') || text.contains('▀') || text.contains('▄'),
        "a QR is drawn"
    );
    assert_eq!(text.matches("\n  DS00000000").count(), 12, "{text}");

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
        24,
        "a Code 128 and a QR per parcel"
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
    for cmd in ["serve", "demo", "enroll", "labels", "rotate-token-key"] {
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
