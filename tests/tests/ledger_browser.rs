//! The daily ledger printed from a real browser: headless Chromium driven by
//! playwright-core (`tests/browser/ledger.mjs`) logs in on the staff page of the real agent,
//! follows the ledger link and prints to PDF; the PDF's text and pages are checked with
//! poppler's `pdftotext` and `pdfinfo`.
//!
//! Needs node and npm (the test runs `npm ci` in `tests/browser` when its `node_modules` is
//! missing), Chromium at `/usr/bin/chromium` (or `$CHROMIUM`) and poppler-utils; scripts/test
//! installs them. It is skipped, loudly, only when node itself is missing. The PDF goes to
//! `<target>/test-output/ledger.pdf`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{self, status};
use nursery_agent_tests::page::{Nursery, PIN};
use nursery_testkit::ev;

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
    exe.ancestors()
        .nth(3)
        .expect("test executable lives in target/<profile>/deps")
        .join("test-output")
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

/// Runs a poppler tool on `pdf`; its stdout (`args` end with `-` where the tool takes an
/// output file).
fn poppler(tool: &str, pdf: &Path, args: &[&str]) -> String {
    let (before, after) = args.split_at(args.iter().position(|a| *a == "-").unwrap_or(args.len()));
    let out = Command::new(tool)
        .args(before)
        .arg(pdf)
        .args(after)
        .output()
        .unwrap_or_else(|e| {
            panic!("{tool} (poppler-utils, which scripts/test installs) did not run: {e}")
        });
    assert!(out.status.success(), "{tool} failed on {}", pdf.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn staff_print_the_daily_ledger_from_the_staff_page_to_an_a4_pdf_with_the_days_names_and_alerts() {
    if !node_available() {
        eprintln!(
            "\n!!!!!!!! SKIPPED ledger_browser: `node` is not installed, so the ledger was NOT \
             printed from a browser. Install nodejs and npm (scripts/test does). !!!!!!!!\n"
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
    let pdf = out.join("ledger.pdf");
    let _ = std::fs::remove_file(&pdf);

    // The morning: a breach (one caregiver, four babies), then 小明 collected by 张女士.
    let nursery = Nursery::start();
    nursery.cause_ratio_breach();
    nursery.wait_for_alert("ratio_breach", Duration::from_secs(20));
    nursery.feed(&[ev::pick_up(ev::NOW, "c-01", "g-01")]);
    let config = nursery.dir.path().join("agent.toml");
    let end = Instant::now() + Duration::from_secs(20);
    let date = loop {
        let s = status(&config);
        let out_now = s["occupancy"]["infant"]
            .as_array()
            .is_some_and(|a| !a.iter().any(|p| p == "c-01"));
        if out_now {
            break s["clock"].as_str().unwrap()[..10].to_string();
        }
        assert!(Instant::now() < end, "c-01 never checked out: {s}");
        std::thread::sleep(Duration::from_millis(50));
    };

    let driver = Command::new("node")
        .arg("ledger.mjs")
        .current_dir(&browser_dir)
        .env(
            "DASHBOARD_URL",
            format!("http://127.0.0.1:{}", nursery.port),
        )
        .env("STAFF", "s-01")
        .env("PIN", PIN)
        .env("DATE", &date)
        .env("OUT_DIR", &out)
        .env("CHROMIUM", &chromium)
        .stderr(Stdio::inherit())
        .output()
        .expect("start node");
    let said = String::from_utf8_lossy(&driver.stdout);
    assert!(
        driver.status.success() && said.contains("DONE "),
        "the browser driver failed ({}): {said}",
        driver.status
    );
    println!("browser: {said}");

    let info = poppler("pdfinfo", &pdf, &[]);
    assert!(info.contains("(A4)"), "an A4 page: {info}");
    let pages: u32 = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count: {info}"));
    assert!(
        pages >= 4,
        "each of the four sections starts a page: {pages} pages"
    );

    let text = poppler("pdftotext", &pdf, &["-layout", "-"]);
    for words in [
        "托育机构每日台账",
        "测试托育园",
        &date,
        "幼儿出入园及接送",
        "小明",
        "张女士",
        "王老师",
        "晨午检",
        "缺勤登记",
        "午睡巡查",
        "师幼比不足",
        "Alerts and dispositions",
        "审核人",
    ] {
        assert!(text.contains(words), "{words:?} not in the PDF:\n{text}");
    }
    // Sections begin pages: the staff section is not on the first page.
    let first_page = text.split('\u{c}').next().unwrap_or_default();
    assert!(first_page.contains("小明"));
    assert!(
        !first_page.contains("教职工在岗及持证"),
        "the staff section starts a new page:\n{first_page}"
    );
    assert!(
        !text.contains("Ctrl+P"),
        "the screen-only form is not printed"
    );
    println!("pdf: {} ({pages} pages)", pdf.display());
}
