//! The ledger from a journal written by the agent's own core (the journal exactly as `run`
//! writes it), and from raw lines of contract 1.1 types written into it directly (as an
//! agent that acts on them journals them).

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use rusqlite::params;
use serde_json::{json, Value};
use tempfile::TempDir;

use super::*;
use crate::config::Config;
use crate::daemon::core::{Core, Input};
use crate::event::Event;
use nursery_testkit::{ev as kit, Roster};

const DAY: &str = "2026-03-02";

/// The kit's 向日葵 roster without its room reader and its counted nurse, with four
/// infants born 2025-06-15 (band 1:3) and a sleep-check reader in the infant room.
fn config() -> (Config, TempDir) {
    let roster = Roster::sunflower()
        .without("toddler-reader")
        .without("s-nurse")
        .timezone("Asia/Shanghai")
        .children("infant", &["2025-06-15"; 4])
        .raw(
            "\n[[readers]]\nid = \"infant-sleep\"\npurpose = \"sleep_check\"\nroom = \"infant\"\n",
        );
    let mut cfg: Config = toml::from_str(&roster.toml()).expect("test config parses");
    let dir = tempfile::tempdir().unwrap();
    cfg.storage.dir = dir.path().to_path_buf();
    (cfg, dir)
}

fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `HH:MM[:SS]` on 2026-03-02 in Shanghai; a full RFC 3339 time is taken as is.
fn local(s: &str) -> DateTime<FixedOffset> {
    let full = if s.contains('T') {
        s.to_string()
    } else if s.len() == 5 {
        format!("{DAY}T{s}:00+08:00")
    } else {
        format!("{DAY}T{s}+08:00")
    };
    DateTime::parse_from_rfc3339(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn at(s: &str) -> DateTime<Utc> {
    local(s).with_timezone(&Utc)
}

/// One event line at `time` with the fields of `body`.
fn line(time: &str, mut body: Value) -> String {
    body["ts"] = json!(local(time).to_rfc3339());
    body.to_string()
}

fn attend(time: &str, person: &str, action: &str) -> String {
    kit::attendance(local(time), person, action, None, None)
}

fn pick_up(time: &str, child: &str, by: &str) -> String {
    kit::pick_up(local(time), child, by)
}

/// Runs the agent's core from `start`, feeding `lines` at their own times, then lets the
/// rules' clock run on to `until`.
fn drive(cfg: &Config, start: &str, lines: &[String], until: &str) -> Core {
    let mut core = Core::open(cfg, |_, _| at(start)).unwrap().core;
    feed(&mut core, lines, until);
    core
}

fn feed(core: &mut Core, lines: &[String], until: &str) {
    for text in lines {
        let now = Event::parse(text)
            .ok()
            .and_then(|e| e.utc())
            .or(core.engine().clock())
            .unwrap();
        let input = Input::Line {
            text: text.clone(),
            resume: None,
        };
        core.ingest(vec![input], now).unwrap();
    }
    core.ingest_and_settle(vec![], at(until), at(until))
        .unwrap();
}

/// Journals `body` as an event row at `time`, the way an agent that knows its type does.
fn journal_raw(core: &Core, time: &str, body: Value) {
    let text = line(time, body);
    core.journal()
        .connection()
        .execute(
            "INSERT INTO events (ts, ts_ms, body) VALUES (?1, ?2, ?3)",
            params![local(time).to_rfc3339(), at(time).timestamp_millis(), text],
        )
        .unwrap();
}

fn ledger_of(cfg: &Config, core: &Core, day: &str) -> Ledger {
    build(cfg, core.journal().connection(), date(day)).unwrap()
}

fn child<'l>(l: &'l Ledger, id: &str) -> &'l ChildDay {
    l.children.iter().find(|c| c.child.id == id).unwrap()
}

#[test]
fn each_child_has_their_arrival_departure_and_who_collected_them() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "07:00",
        &[
            attend("07:40", "s-01", "check_in"),
            attend("07:41", "s-02", "check_in"),
            attend("07:45", "c-01", "check_in"),
            attend("08:10", "c-02", "check_in"),
            pick_up("16:50", "c-01", "g-01"),
            // g-02 is not c-02's guardian (the kit gives every child g-01).
            pick_up("17:05", "c-02", "g-02"),
        ],
        "17:30",
    );
    let l = ledger_of(&cfg, &core, DAY);
    let c1 = child(&l, "c-01");
    assert_eq!(c1.child.name.as_deref(), Some("孩子1"));
    assert_eq!(c1.stays.len(), 1);
    let s = &c1.stays[0];
    assert_eq!(s.arrived, Some(local("07:45")));
    assert_eq!(s.left, Some(local("16:50")));
    assert_eq!(s.room, "infant");
    assert_eq!(
        s.collected_by.as_ref().and_then(|p| p.name.as_deref()),
        Some("李女士")
    );
    assert_eq!(s.authorized, Some(true));
    let c2 = &child(&l, "c-02").stays[0];
    assert_eq!(
        c2.collected_by.as_ref().map(|p| p.id.as_str()),
        Some("g-02")
    );
    assert_eq!(c2.authorized, Some(false), "g-02 is not a guardian of c-02");
    // c-03 never came and was not reported absent; still listed, with no stay.
    assert!(child(&l, "c-03").stays.is_empty());
    assert_eq!(l.children.len(), 4, "every child on the roster");
    // Staff checked in, who are on duty, in roster order; the cook never came.
    let staff: Vec<&str> = l.staff.iter().map(|s| s.staff.id.as_str()).collect();
    assert_eq!(staff, ["s-01", "s-02"]);
    assert_eq!(l.staff[0].stays[0].arrived, Some(local("07:40")));
    assert_eq!(
        l.staff[0].stays[0].left, None,
        "still in at the end of the record"
    );
    assert_eq!(l.unreadable, 0);

    let rows = &tables::sections(&l)[0].tables[0].rows;
    let c2_row = rows.iter().find(|r| r[1] == "c-02").unwrap();
    assert_eq!(c2_row[5], "陈先生");
    assert!(c2_row[6].contains("非监护人"), "{c2_row:?}");
}

#[test]
fn a_staff_badge_at_the_attendance_reader_checks_in_then_out() {
    let (cfg, _dir) = config();
    let badge = |time: &str| {
        line(
            time,
            json!({"type": "badge", "reader": "kiosk", "card": "10002"}),
        )
    };
    let core = drive(&cfg, "07:00", &[badge("07:30"), badge("12:00")], "13:00");
    let l = ledger_of(&cfg, &core, DAY);
    assert_eq!(l.staff.len(), 1);
    let s = &l.staff[0];
    assert_eq!(s.staff.name.as_deref(), Some("李老师"));
    assert_eq!(s.stays.len(), 1);
    assert_eq!(s.stays[0].arrived, Some(local("07:30")));
    assert_eq!(s.stays[0].left, Some(local("12:00")));
}

#[test]
fn health_checks_absences_and_presence_are_read_from_their_contract_shape() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "2026-03-01T18:00:00+08:00",
        &[
            attend("07:40", "s-01", "check_in"),
            attend("07:45", "c-01", "check_in"),
        ],
        "18:00",
    );
    // Reported the evening before, for the day; and one for the next day, not shown.
    journal_raw(
        &core,
        "2026-03-01T19:00:00+08:00",
        json!({"type": "absence", "person": "c-02", "date": DAY, "reason": "sick"}),
    );
    journal_raw(
        &core,
        "07:00",
        json!({"type": "absence", "person": "c-03", "date": "2026-03-03", "reason": "personal"}),
    );
    journal_raw(
        &core,
        "07:50",
        json!({"type": "health_check", "person": "c-01", "celsius": 36.6, "result": "pass"}),
    );
    journal_raw(
        &core,
        "14:30",
        json!({"type": "health_check", "person": "c-01", "celsius": 37.8, "result": "refer", "by": "s-01"}),
    );
    journal_raw(
        &core,
        "10:00",
        json!({"type": "presence", "person": "s-01", "state": "break"}),
    );
    journal_raw(
        &core,
        "10:15",
        json!({"type": "presence", "person": "s-01", "state": "on_duty"}),
    );
    // Not the contract's shape: counted, not guessed at.
    journal_raw(
        &core,
        "11:00",
        json!({"type": "health_check", "person": "c-01", "result": 5}),
    );
    let l = ledger_of(&cfg, &core, DAY);

    assert_eq!(l.absences.len(), 1, "{:?}", l.absences);
    assert_eq!(l.absences[0].child.id, "c-02");
    assert_eq!(l.absences[0].reason, "sick");
    assert_eq!(
        l.absences[0].reported_at,
        local("2026-03-01T19:00:00+08:00")
    );
    assert_eq!(child(&l, "c-02").absence.as_deref(), Some("sick"));
    assert_eq!(
        child(&l, "c-03").absence,
        None,
        "its absence is for another day"
    );

    let checks: Vec<(Option<f64>, &str)> = l
        .health_checks
        .iter()
        .map(|h| (h.celsius, h.result.as_str()))
        .collect();
    assert_eq!(checks, [(Some(36.6), "pass"), (Some(37.8), "refer")]);
    assert_eq!(
        l.health_checks[1]
            .by
            .as_ref()
            .and_then(|p| p.name.as_deref()),
        Some("王老师")
    );
    assert_eq!(l.unreadable, 1, "the malformed health check is counted");

    let s1 = l.staff.iter().find(|s| s.staff.id == "s-01").unwrap();
    assert_eq!(
        s1.presence,
        [
            (local("10:00"), "break".to_string()),
            (local("10:15"), "on_duty".to_string())
        ]
    );

    let rows = &tables::sections(&l)[0].tables;
    let arrivals = &rows[0].rows;
    let c2 = arrivals.iter().find(|r| r[1] == "c-02").unwrap();
    assert_eq!(c2[7], "缺勤 (absent): 因病 (sick)");
    let c3 = arrivals.iter().find(|r| r[1] == "c-03").unwrap();
    assert!(c3[7].starts_with("未到园"), "{c3:?}");
    assert_eq!(rows[1].rows[1][3], "37.8");
    assert_eq!(rows[1].rows[1][4], "需复查 (refer)");
}

#[test]
fn an_alert_shows_its_raise_acknowledgement_disposition_with_its_note_and_resolve() {
    let (cfg, _dir) = config();
    let mut lines = vec![attend("08:00", "s-01", "check_in")];
    for c in 1..=4 {
        lines.push(attend("08:01", &format!("c-0{c}"), "check_in"));
    }
    let mut core = drive(&cfg, "07:00", &lines, "08:10");
    let (id, ..) = core
        .engine()
        .open_alerts()
        .into_iter()
        .find(|(_, ty, ..)| *ty == crate::alert::AlertType::RatioBreach)
        .expect("one caregiver for four infants");
    feed(
        &mut core,
        &[
            line(
                "08:12",
                json!({"type": "acknowledge", "alert_id": id, "by": "s-01"}),
            ),
            line(
                "08:15",
                json!({"type": "disposition", "alert_id": id, "by": "s-01", "action": "escalated", "note": "已请园长<调配>人手, \"急\""}),
            ),
            attend("08:20", "s-02", "check_in"),
        ],
        "09:00",
    );
    let l = ledger_of(&cfg, &core, DAY);
    let a = l
        .alerts
        .iter()
        .find(|a| a.alert_type == "ratio_breach")
        .unwrap();
    assert_eq!(a.subject_name.as_deref(), Some("乳儿班"));
    assert_eq!(a.raised, Some(local("08:02:00")), "08:01 + the 60 s grace");
    assert_eq!(a.acknowledged.len(), 1);
    assert_eq!(a.acknowledged[0].0, local("08:12"));
    assert_eq!(a.acknowledged[0].1.name.as_deref(), Some("王老师"));
    assert_eq!(a.dispositions.len(), 1);
    assert_eq!(a.dispositions[0].action, "escalated");
    assert_eq!(
        a.dispositions[0].note.as_deref(),
        Some("已请园长<调配>人手, \"急\"")
    );
    assert_eq!(a.resolved, Some(local("08:20")));
    assert!(a.details.contains("required=2"), "{}", a.details);

    // On paper: the note, escaped in HTML, quoted in CSV.
    let page = html::render(&l, "");
    assert!(page.contains("已请园长&lt;调配&gt;人手, &quot;急&quot;"));
    assert!(!page.contains("<调配>"));
    let sheet = csv::render(&l);
    assert!(
        sheet.contains("\"已请园长<调配>人手, \"\"急\"\"\""),
        "{sheet}"
    );
}

#[test]
fn naps_and_sleep_checks_are_listed_with_who_checked_by_page_and_by_badge() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "07:00",
        &[
            attend("08:00", "s-01", "check_in"),
            attend("08:00", "s-02", "check_in"),
            attend("08:01", "c-01", "check_in"),
            line(
                "12:30",
                json!({"type": "nap", "room": "infant", "action": "start"}),
            ),
            line(
                "12:40",
                json!({"type": "sleep_check", "room": "infant", "by": "s-01"}),
            ),
            line(
                "12:52",
                json!({"type": "badge", "reader": "infant-sleep", "card": "10002"}),
            ),
            line(
                "14:30",
                json!({"type": "nap", "room": "infant", "action": "end"}),
            ),
        ],
        "15:00",
    );
    let l = ledger_of(&cfg, &core, DAY);
    assert_eq!(
        l.naps,
        [Nap {
            room: "infant".into(),
            start: Some(local("12:30")),
            end: Some(local("14:30")),
        }]
    );
    let checks: Vec<(DateTime<FixedOffset>, Option<&str>)> = l
        .sleep_checks
        .iter()
        .map(|s| (s.at, s.by.name.as_deref()))
        .collect();
    assert_eq!(
        checks,
        [
            (local("12:40"), Some("王老师")),
            (local("12:52"), Some("李老师"))
        ]
    );
}

#[test]
fn a_date_the_journal_holds_nothing_for_is_an_error_that_says_what_it_holds() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "07:00",
        &[attend("08:00", "s-01", "check_in")],
        "09:00",
    );
    drop(core);
    let err = from_storage(&cfg, date("2026-03-05")).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LedgerError::NoData { .. }), "{text}");
    assert!(text.contains("2026-03-05"), "{text}");
    assert!(
        text.contains("2026-03-02"),
        "names the days it holds: {text}"
    );
    assert!(from_storage(&cfg, date(DAY)).is_ok());
}

#[test]
fn no_journal_at_all_is_an_error_naming_where_it_was_looked_for() {
    let (mut cfg, dir) = config();
    cfg.storage.dir = dir.path().join("never-ran");
    let text = from_storage(&cfg, date(DAY)).unwrap_err().to_string();
    assert!(text.contains("never-ran"), "{text}");
}

#[test]
fn certificates_print_with_their_expiry_and_an_expired_one_is_marked() {
    let (mut cfg, _dir) = config();
    let s01 = cfg.staff.iter_mut().find(|s| s.id == "s-01").unwrap();
    s01.certificates = vec![
        crate::config::Certificate {
            kind: crate::config::CertificateKind::Health,
            expires: date("2026-03-01"),
        },
        crate::config::Certificate {
            kind: crate::config::CertificateKind::Caregiver,
            expires: date(DAY),
        },
    ];
    let core = drive(
        &cfg,
        "07:00",
        &[attend("08:00", "s-01", "check_in")],
        "09:00",
    );
    let l = ledger_of(&cfg, &core, DAY);
    assert_eq!(
        l.staff[0].certificates,
        Some(vec![
            Certificate {
                kind: "health".into(),
                expires: date("2026-03-01"),
            },
            Certificate {
                kind: "caregiver".into(),
                expires: date(DAY),
            },
        ]),
        "read from the roster"
    );
    let staff_table = |l: &Ledger| tables::sections(l)[1].tables[0].rows[0][7].clone();
    assert_eq!(
        staff_table(&l),
        "健康合格证 (health) 至 2026-03-01 (已过期 EXPIRED); 保育员证 (caregiver) 至 2026-03-02 (有效 valid)"
    );
}

#[test]
fn the_html_is_one_a4_page_per_section_with_headers_that_repeat_and_no_script() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "07:00",
        &[attend("08:00", "c-01", "check_in")],
        "09:00",
    );
    let page = html::render(&ledger_of(&cfg, &core, DAY), "");
    assert!(page.contains("@page { size: A4"));
    assert!(page.contains("thead { display: table-header-group; }"));
    assert!(page.contains("section + section { break-before: page"));
    assert_eq!(page.matches("<section>").count(), 4);
    assert!(page
        .contains("幼儿出入园及接送 <span class=\"en\">Arrivals, departures and pick-ups</span>"));
    assert!(page.contains("<td>孩子1</td>"));
    assert!(
        !page.contains("<script"),
        "nothing runs on the printed page"
    );
    assert!(!page.contains("http"), "self-contained: no external asset");
}

#[test]
fn the_csv_has_a_bom_crlf_line_ends_and_a_title_row_per_table() {
    let (cfg, _dir) = config();
    let core = drive(
        &cfg,
        "07:00",
        &[attend("08:00", "c-01", "check_in")],
        "09:00",
    );
    let sheet = csv::render(&ledger_of(&cfg, &core, DAY));
    assert!(sheet.starts_with("\u{feff}托育机构每日台账 Daily ledger,"));
    assert!(
        !sheet.replace("\r\n", "").contains('\n'),
        "every line ends in CRLF"
    );
    for title in [
        "晨午检 Health checks",
        "缺勤登记 Absences",
        "午睡巡查 Sleep checks",
    ] {
        assert!(sheet.contains(title), "{title}");
    }
    assert!(sheet.contains("孩子1,c-01,乳儿班,08:00:00,未离园 (still in),,,出勤 (present)\r\n"));
}
