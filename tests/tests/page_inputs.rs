//! Arming a panic button for a test press on the staff page (issue 15.2,
//! `POST /api/inputs/{id}/test`): only a logged-in member of staff, only a panic button,
//! only one whose contact this board reads. A wired input needs its GPIO chip at start, and
//! this machine has none (no gpio-sim), so the armed answer (200 with `window_s`) is
//! checked on the emulated board (`scripts/board`, its lab driver arms `panic-office` on
//! the page); here, the refusals, and that an input whose chip is missing stops the agent
//! at start rather than leaving a button that cannot be read.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nursery_agent_tests::agent::binary;
use nursery_agent_tests::page::{roster, Nursery, PIN};

const JSON: (&str, &str) = ("Content-Type", "application/json");

/// A panic button and a fire relay, both virtual (no `contact`).
const INPUTS: &str =
    "[[inputs]]\nid = \"panic-office\"\nname = \"办公室一键报警\"\nkind = \"panic\"\n\n\
                      [[inputs]]\nid = \"fire-panel\"\nkind = \"fire\"\n";

#[test]
fn arming_a_test_press_refuses_an_unknown_input_a_fire_input_and_a_button_without_a_contact() {
    let n = Nursery::start_with(|r| r.raw(INPUTS));
    let view = n.request("GET", "/api/view", &[], None).json();
    let wired: Vec<(String, bool)> = view["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["id"].as_str().unwrap().into(),
                i["wired"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        wired,
        [("panic-office".into(), false), ("fire-panel".into(), false)],
        "{view}"
    );

    let path = "/api/inputs/panic-office/test";
    let r = n.request("POST", path, &[JSON], Some(b"{}"));
    assert_eq!(r.status, 401, "without a session: {}", r.body);
    let (cookie, csrf) = n.login("s-01", PIN);
    let r = n.request("POST", path, &[JSON, ("Cookie", &cookie)], Some(b"{}"));
    assert_eq!(r.status, 403, "without the CSRF token: {}", r.body);
    let auth = [
        JSON,
        ("Cookie", cookie.as_str()),
        ("X-CSRF-Token", csrf.as_str()),
    ];

    let r = n.request("POST", "/api/inputs/panic-kitchen/test", &auth, Some(b"{}"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert_eq!(r.json()["error"], "no input with id `panic-kitchen`");

    let r = n.request("POST", "/api/inputs/fire-panel/test", &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "{}", r.body);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("fire input") && error.contains("only panic buttons"),
        "{error}"
    );

    let r = n.request("POST", path, &auth, Some(b"{}"));
    assert_eq!(r.status, 409, "{}", r.body);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        error.contains("no contact on this board") && error.contains("\"test\": true"),
        "{error}"
    );
}

#[test]
fn a_panic_button_wired_to_a_missing_gpio_chip_stops_the_agent_at_start_naming_the_chip() {
    let dir = tempfile::tempdir().unwrap();
    let chip = dir.path().join("gpiochip-none");
    let wired = format!(
        "[[inputs]]\nid = \"panic-office\"\nkind = \"panic\"\n\
         contact = {{ gpiochip = \"{}\", line = 5, normally = \"open\" }}\n",
        chip.display()
    );
    let config = roster(dir.path()).raw(&wired).write(dir.path());
    let mut child = Command::new(binary())
        .args(["run", "--config", config.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > end {
            let _ = child.kill();
            panic!("the agent kept running with an unreadable panic button");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("gpiochip-none"), "{err}");
}
