//! The dashboard's Programs panel in real headless Chromium (tests/browser/programs.mjs): an
//! instance's state, pid and last output lines, and its Stop/Start buttons (issue 28).

mod programs_support;
mod support;

use std::path::Path;
use std::time::Duration;

use programs_support::*;
use support::*;

#[test]
fn the_programs_panel_shows_states_and_output_and_its_buttons_work() {
    let browser_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        browser_dir.join("node_modules/playwright-core").exists(),
        "run `npm ci` in tests/browser (scripts/test.sh does) and install Debian's chromium"
    );
    let c = Consumer::new();
    // A line of markup in the output: shown as text.
    let script = c.dir.write(
        "hostile.sh",
        "echo '<img src=x onerror=alert(1)>'; exec sh \"$(dirname \"$0\")/consumer.sh\"\n",
    );
    let config = format!(
        "[programs.messenger-worker]\ncommand = \"sh {}\"\nenvironment = {{ CTL = \"{}\" }}\nstartsecs = 0\n",
        script.display(),
        c.ctl().display()
    );
    let d = Daemon::start_embedded(&config, None, &[]);
    wait_state(
        &d,
        "messenger-worker:00",
        "RUNNING",
        Duration::from_secs(15),
    );
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let shots = target.join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("dashboard-programs.png");
    let out = std::process::Command::new("node")
        .arg(browser_dir.join("programs.mjs"))
        .arg(base(&d))
        .arg("messenger-worker:00")
        .arg(&shot)
        .output()
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser run failed:\n{stdout}\n{stderr}\ndaemon log:\n{}",
        d.log()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(
        result["overflow"].as_i64().map(|o| o <= 2),
        Some(true),
        "{stdout}"
    );
    assert_eq!(instance(&d, "messenger-worker:00")["state"], "RUNNING");
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "a real screenshot"
    );
}
