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
}

#[test]
fn every_command_has_help() {
    for cmd in ["serve", "demo", "enroll", "labels"] {
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
