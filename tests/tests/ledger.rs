//! The daily ledger (台账) through the real binary: the daemon journals a morning, then
//! `nursery-agent report` prints it (CSV for Excel/WPS, HTML to print), and the staff page
//! serves it to logged-in staff only.

use std::time::{Duration, Instant};

use nursery_agent_tests::agent::{run, status};
use nursery_agent_tests::page::{Nursery, PIN};
use nursery_testkit::ev;

const LIMIT: Duration = Duration::from_secs(20);

/// A morning: the caregiver and four babies in (a ratio breach at once: grace 0 s), then
/// 小明 collected by her guardian 张女士. Returns the local date of the agent's clock.
fn morning(n: &Nursery) -> String {
    n.cause_ratio_breach();
    n.wait_for_alert("ratio_breach", LIMIT);
    n.feed(&[ev::pick_up(ev::NOW, "c-01", "g-01")]);
    let config = n.dir.path().join("agent.toml");
    let end = Instant::now() + LIMIT;
    loop {
        let s = status(&config);
        let in_room = s["occupancy"]["infant"]
            .as_array()
            .map(|a| a.iter().any(|p| p == "c-01"))
            .unwrap_or(true);
        if !in_room {
            return s["clock"].as_str().unwrap()[..10].to_string();
        }
        assert!(Instant::now() < end, "c-01 never checked out: {s}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn report(n: &Nursery, date: &str, format: &str) -> (i32, Vec<u8>, String) {
    let config = n.dir.path().join("agent.toml");
    let out = std::process::Command::new(nursery_agent_tests::agent::binary())
        .args(["report", "--config", config.to_str().unwrap()])
        .args(["--date", date, "--format", format])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn report_prints_the_days_pick_ups_and_alerts_from_the_journal_the_daemon_wrote_as_csv_for_excel() {
    let n = Nursery::start();
    let date = morning(&n);

    // While the daemon runs: the report only reads.
    let (code, bytes, err) = report(&n, &date, "csv");
    assert_eq!(code, 0, "{err}");
    assert!(
        bytes.starts_with(&[0xEF, 0xBB, 0xBF]),
        "UTF-8 byte-order mark first, for Excel"
    );
    let csv = String::from_utf8(bytes).expect("UTF-8");
    assert!(
        !csv.replace("\r\n", "").contains('\n'),
        "CRLF line ends only"
    );
    let row = csv
        .split("\r\n")
        .find(|l| l.starts_with("小明,c-01,"))
        .unwrap_or_else(|| panic!("no row for 小明:\n{csv}"));
    let fields: Vec<&str> = row.split(',').collect();
    assert_eq!(fields[5], "张女士", "collected by: {row}");
    assert_eq!(fields[6], "是 (yes)", "a guardian: {row}");
    // The babies still in are in, 小红 among them.
    assert!(csv.contains("\r\n小红,c-02,乳儿班,"), "{csv}");
    // The breach, its details quoted (they hold commas), in Chinese and English.
    let alert = csv
        .split("\r\n")
        .find(|l| l.contains("师幼比不足 (staff ratio breached)"))
        .unwrap_or_else(|| panic!("no ratio breach row:\n{csv}"));
    assert!(
        alert.contains(",\"children=4, required=2, staff=1\","),
        "{alert}"
    );
    assert!(alert.contains("乳儿班 (infant)"), "{alert}");

    // The same day as a page to print.
    let (code, page, err) = report(&n, &date, "html");
    assert_eq!(code, 0, "{err}");
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with("<!doctype html>"));
    assert!(page.contains("@page { size: A4"));
    assert!(page.contains("<td>张女士</td>"));

    // A day the journal does not hold: said, with what it holds, and a failure status.
    let (code, out, err) = report(&n, "2001-01-01", "csv");
    assert_eq!(code, 1, "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("holds nothing on 2001-01-01") && err.contains(&date),
        "{err}"
    );
}

#[test]
fn report_refuses_a_date_that_does_not_exist_and_a_storage_dir_with_no_journal() {
    let dir = tempfile::tempdir().unwrap();
    let config = nursery_agent_tests::page::write_config(dir.path());
    let cfg = config.to_str().unwrap();
    let (st, out, err) = run(&["report", "--config", cfg, "--date", "2026-02-30"]);
    assert_eq!(st.code(), Some(2), "{err}");
    assert!(out.is_empty());
    assert!(
        err.contains("--date") && err.contains("2026-02-30"),
        "{err}"
    );

    let (st, out, err) = run(&["report", "--config", cfg, "--date", "2026-03-02"]);
    assert_eq!(st.code(), Some(1), "{err}");
    assert!(out.is_empty());
    let state = dir.path().join("state");
    assert!(err.contains(&state.display().to_string()), "{err}");
}

#[test]
fn the_ledger_page_is_for_logged_in_staff_only_and_is_the_printable_page() {
    let n = Nursery::start();
    let date = morning(&n);
    let path = format!("/ledger?date={date}");

    let anon = n.request("GET", &path, &[], None);
    assert_eq!(anon.status, 401, "{}", anon.body);
    assert!(anon.body.contains("请先"), "{}", anon.body);
    assert!(!anon.body.contains("小明"), "no names without a session");
    let anon_csv = n.request("GET", &format!("/ledger.csv?date={date}"), &[], None);
    assert_eq!(anon_csv.status, 401);

    let (cookie, _csrf) = n.login("s-01", PIN);
    let auth = [("Cookie", cookie.as_str())];
    let page = n.request("GET", &path, &auth, None);
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(
        csp.contains("style-src 'unsafe-inline'") && !csp.contains("script-src"),
        "inline style, no script: {csp}"
    );
    assert!(page.body.contains("<td>张女士</td>"), "{}", page.body);
    assert!(page.body.contains("href=\"/ledger.csv?date="), "a CSV link");
    // Without a date: today on the agent's clock, the same day here.
    let today = n.request("GET", "/ledger", &auth, None);
    assert_eq!(today.status, 200);
    assert!(today.body.contains(&format!("日期 Date: {date}")));

    let bad = n.request("GET", "/ledger?date=2026-13-01", &auth, None);
    assert_eq!(bad.status, 400, "{}", bad.body);
    let none = n.request("GET", "/ledger?date=2001-01-01", &auth, None);
    assert_eq!(none.status, 404, "{}", none.body);

    let csv = n.request("GET", &format!("/ledger.csv?date={date}"), &auth, None);
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}'));
    assert!(csv
        .header("content-disposition")
        .unwrap()
        .contains(&format!("ledger-{date}.csv")));

    // The rest of the page keeps its strict policy.
    let index = n.request("GET", "/", &[], None);
    assert!(index
        .header("content-security-policy")
        .unwrap()
        .contains("style-src 'self'"));
    assert!(index.body.contains("id=\"ledger-link\""));
}

#[test]
fn a_health_check_recorded_on_the_staff_page_names_who_checked_in_the_ledger() {
    let n = Nursery::start();
    let date = morning(&n);
    let (cookie, csrf) = n.login("s-01", PIN);
    let auth = [
        ("Content-Type", "application/json"),
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];
    let r = n.request(
        "POST",
        "/api/children/c-02/health-check",
        &auth,
        Some(br#"{"celsius":36.6,"result":"pass"}"#),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let (code, bytes, err) = report(&n, &date, "csv");
    assert_eq!(code, 0, "{err}");
    let csv = String::from_utf8(bytes).unwrap();
    let row = csv
        .split("\r\n")
        .find(|l| l.contains(",小红,c-02,36.6,"))
        .unwrap_or_else(|| panic!("no health check row for 小红:\n{csv}"));
    assert!(
        row.ends_with(",王老师"),
        "检查人 Checked by is who was logged in: {row}"
    );
}
