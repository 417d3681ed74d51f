//! The staff page in a real browser: headless Chromium driven by playwright-core
//! (`tests/browser/dashboard.mjs`) against the real agent binary.
//!
//! Needs node and npm (the test runs `npm ci` in `tests/browser` when its `node_modules`
//! is missing) and Chromium at `/usr/bin/chromium` (or `$CHROMIUM`). It is skipped, loudly,
//! only when node itself is missing. Screenshots go to `<target>/test-output/`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use nursery_agent_tests::agent;
use nursery_agent_tests::page::{Nursery, PIN};

/// Kills the browser driver if the test fails half-way.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `<target>/test-output`, beside `<target>/<profile>/deps/<this test>`.
fn output_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let target = exe
        .ancestors()
        .nth(3)
        .expect("test executable lives in target/<profile>/deps");
    target.join("test-output")
}

fn install_driver(dir: &Path) {
    if dir.join("node_modules/playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .status()
        .expect("npm (comes with node) to run");
    assert!(status.success(), "`npm ci` failed in {}", dir.display());
}

#[test]
fn staff_see_a_ratio_breach_live_and_acknowledge_it_in_a_real_browser() {
    if !node_available() {
        eprintln!(
            "\n!!!!!!!! SKIPPED dashboard_browser: `node` is not installed, so the staff page \
             was NOT tested in a browser. Install nodejs and npm (scripts/test does). !!!!!!!!\n"
        );
        return;
    }
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: `apt-get install chromium` (scripts/test does), or set CHROMIUM"
    );
    let browser_dir = agent::workspace().join("tests/browser");
    install_driver(&browser_dir);
    let out = output_dir();
    std::fs::create_dir_all(&out).unwrap();
    let shot = out.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);

    let nursery = Nursery::start();
    let mut driver = Driver(
        Command::new("node")
            .arg("dashboard.mjs")
            .current_dir(&browser_dir)
            .env(
                "DASHBOARD_URL",
                format!("http://127.0.0.1:{}", nursery.port),
            )
            .env("STAFF", "s-01")
            .env("PIN", PIN)
            .env("OUT_DIR", &out)
            .env("CHROMIUM", &chromium)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start node"),
    );
    let stdout = driver.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut wait_for = |prefix: &str| -> String {
        loop {
            match lines.recv_timeout(Duration::from_secs(90)) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(l) => println!("driver: {l}"),
                Err(_) => {
                    let status = driver.0.try_wait().ok().flatten();
                    panic!("the browser driver never said {prefix} (exit: {status:?}; see stderr)")
                }
            }
        }
    };

    wait_for("READY");
    nursery.cause_ratio_breach();
    let done = wait_for("DONE");
    println!("browser: {done}");
    let status = driver.0.wait().unwrap();
    assert!(status.success(), "the browser driver failed: {status}");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "no screenshot at {}", shot.display());
    println!("screenshot: {}", shot.display());

    // What the browser did is in the journal.
    let h = nursery.request("GET", "/api/history", &[], None).json();
    assert!(
        h["transitions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["type"] == "ratio_breach"
                && t["state"] == "acknowledged"
                && t["details"]["by"] == "s-01"),
        "no acknowledgement journalled: {h}"
    );
    // The two health checks the browser recorded for 小明: the fever, then the normal one.
    let config = nursery.dir.path().join("agent.toml");
    let (st, exported, err) = agent::run(&["export", "--config", config.to_str().unwrap()]);
    assert!(st.success(), "{err}");
    let checks: Vec<serde_json::Value> = exported
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "health_check")
        .collect();
    assert_eq!(checks.len(), 2, "{exported}");
    assert_eq!(checks[0]["person"], "c-01");
    assert_eq!(checks[0]["celsius"], 38.2);
    assert_eq!(checks[0]["result"], "pass");
    assert_eq!(checks[1]["celsius"], 36.7);
}
