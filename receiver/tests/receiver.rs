//! The receiver against a real mosquitto and a real PostgreSQL, with a test publisher
//! standing in for an agent (it answers `resend` as contract section 12 says, which the
//! agent of this branch does not do yet).

mod common;

use std::time::Duration;

use common::*;
use nursery_agent_tests::broker::{Broker, Collector};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_envelope_is_stored_once_a_redelivery_is_counted_and_a_seq_with_another_id_is_kept_as_a_conflict(
) {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let mut rx = Receiver::start(
        broker.port,
        &db,
        &["--grace", "1h", "--http", "127.0.0.1:0"],
    );
    let stand = Stand::start(broker.port, "f-once").await;
    stand.status("online").await;
    stand.alerts(1..=3).await;
    stand.send(&stand.alert(2, "a-2")).await; // a QoS 1 redelivery
    stand.send(&stand.alert(3, "someone-else")).await; // same seq, other id
    stand
        .raw(
            "telemetry",
            json!({"open_alerts":0,"rooms":[],"ts":"2026-03-02T09:00:00+08:00"}).to_string(),
            false,
        )
        .await;
    stand
        .raw(
            "telemetry",
            json!({"open_alerts":1,"rooms":[],"ts":"2026-03-02T09:01:00+08:00"}).to_string(),
            false,
        )
        .await;
    stand.raw("alerts", "{\"schema\":", false).await;
    let mut bad = stand.alert(4, "a-4");
    bad["seq"] = json!("4");
    stand.send(&bad).await;

    let f = wait_report(&db, "f-once", LIMIT, |f| {
        f["telemetry"] == 2 && f["rejected"] == 2 && f["conflicts"] == 1 && f["duplicates"] == 1
    })
    .await;
    assert_eq!(f["stored"], 3, "{f:#}");
    assert_eq!(f["last_seq"], 3, "{f:#}");
    assert_eq!(f["state"], "online", "{f:#}");
    assert_eq!(ranges(&f["gaps_open"]), vec![], "{f:#}");
    assert_eq!(f["missing"], 0);

    // The first id stays; the other one is kept beside it, and so is each rejected payload
    // with why.
    let c = db.client().await;
    let ids: Vec<(i64, String)> = c
        .query(
            "SELECT seq, id FROM envelopes WHERE facility = 'f-once' ORDER BY seq",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        ids,
        vec![(1, "a-1".into()), (2, "a-2".into()), (3, "a-3".into())]
    );
    let conflict = c
        .query_one("SELECT seq, stored_id, received_id FROM conflicts", &[])
        .await
        .unwrap();
    assert_eq!(
        (
            conflict.get::<_, i64>(0),
            conflict.get::<_, String>(1),
            conflict.get::<_, String>(2)
        ),
        (3, "a-3".into(), "someone-else".into())
    );
    let errors: Vec<String> = c
        .query("SELECT error FROM rejected ORDER BY n", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(errors[0].contains("not JSON"), "{errors:?}");
    assert!(errors[1].contains("`seq` is not an integer"), "{errors:?}");

    // The same report as text and over HTTP.
    let text = report_text(&db);
    assert!(text.contains("f-once"), "{text}");
    assert!(text.contains("state          online"), "{text}");
    assert!(text.contains("last seq       3"), "{text}");
    assert!(text.contains("gaps open      none (0 missing)"), "{text}");
    assert!(
        text.contains("duplicates 1, conflicts 1, rejected 2, telemetry 2"),
        "{text}"
    );
    let line = rx.wait_for_line("http http://", LIMIT);
    let addr = line
        .trim_start_matches("http http://")
        .trim_end_matches("/report")
        .to_string();
    let served: serde_json::Value =
        serde_json::from_str(&tokio::task::block_in_place(|| http_get(&addr, "/report"))).unwrap();
    assert_eq!(facility(&served, "f-once")["stored"], 3, "{served:#}");
    let served_text = tokio::task::block_in_place(|| http_get(&addr, "/report?format=text"));
    assert!(served_text.contains("last seq       3"), "{served_text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hole_is_asked_for_once_on_the_commands_topic_and_the_resent_messages_fill_it() {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let wire = Collector::start(broker.port, "childcare/v1/f-hole/commands").await;
    let mut rx = Receiver::start(
        broker.port,
        &db,
        &["--grace", "1s", "--resend-timeout", "1h"],
    );
    let stand = Stand::start(broker.port, "f-hole").await;
    stand.status("online").await;
    stand.alerts([1, 2, 3, 6]).await;

    let seen = wire.wait_until(LIMIT, |s| !s.is_empty()).await;
    let cmd = seen[0].json();
    assert_eq!(cmd["command"], "resend", "{cmd}");
    assert_eq!(
        (cmd["from_seq"].as_i64(), cmd["to_seq"].as_i64()),
        (Some(4), Some(5)),
        "{cmd}"
    );
    let id = cmd["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty() && id.len() <= 128, "{id}");

    // One request outstanding per facility: nothing more while it waits for an answer.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(commands(&wire).len(), 1, "{:?}", commands(&wire));
    let f = facility(&tokio::task::block_in_place(|| report(&db)), "f-hole");
    assert_eq!(ranges(&f["gaps_open"]), vec![(4, 5)], "{f:#}");
    assert_eq!(f["missing"], 2);
    assert_eq!(f["last_resend"]["command_id"], id.as_str(), "{f:#}");
    assert_eq!(
        f["last_resend"]["outcome"],
        serde_json::Value::Null,
        "{f:#}"
    );

    // The agent answers as the contract says, and publishes the range again, original ids.
    stand
        .send(&stand.result(7, &id, json!({"ok":true,"from_seq":4,"to_seq":5})))
        .await;
    stand.alerts([4, 5]).await;
    rx.wait_for_line(&format!("filled f-hole 4-5 {id}"), LIMIT);
    let f = wait_report(&db, "f-hole", LIMIT, |f| f["stored"] == 7).await;
    assert_eq!(ranges(&f["gaps_open"]), vec![], "{f:#}");
    assert_eq!(f["last_seq"], 7);
    assert_eq!(f["last_resend"]["outcome"], "filled", "{f:#}");
    assert_eq!(f["last_resend"]["answer"]["ok"], true, "{f:#}");
    assert_eq!(f["resends_sent"], 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(commands(&wire).len(), 1, "nothing asked once filled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_agent_no_longer_holds_is_marked_unrecoverable_and_not_asked_for_again() {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let wire = Collector::start(broker.port, "childcare/v1/f-old/commands").await;
    let mut rx = Receiver::start(
        broker.port,
        &db,
        &["--grace", "0s", "--resend-timeout", "3s"],
    );
    let stand = Stand::start(broker.port, "f-old").await;
    stand.status("online").await;
    stand.alerts([1, 10]).await;

    let seen = wire.wait_until(LIMIT, |s| !s.is_empty()).await;
    let cmd = seen[0].json();
    assert_eq!(
        (cmd["from_seq"].as_i64(), cmd["to_seq"].as_i64()),
        (Some(2), Some(9)),
        "{cmd}"
    );
    let id = cmd["id"].as_str().unwrap().to_string();
    stand
        .send(&stand.result(
            11,
            &id,
            json!({"ok":true,"from_seq":6,"to_seq":9,"oldest_held":6}),
        ))
        .await;
    stand.alerts(6..=9).await;
    rx.wait_for_line(&format!("filled f-old 2-9 {id}"), LIMIT);
    let f = facility(&tokio::task::block_in_place(|| report(&db)), "f-old");
    assert_eq!(ranges(&f["gaps_open"]), vec![], "{f:#}");
    assert_eq!(f["missing"], 0);
    let lost = f["unrecoverable"].as_array().unwrap();
    assert_eq!(lost.len(), 1, "{f:#}");
    assert_eq!(
        (lost[0]["from"].as_i64(), lost[0]["to"].as_i64()),
        (Some(2), Some(5))
    );
    assert!(
        lost[0]["reason"]
            .as_str()
            .unwrap()
            .contains("oldest held: 6"),
        "{f:#}"
    );
    // Longer than the request timeout: the lost range is not asked for again.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(commands(&wire).len(), 1, "{:?}", commands(&wire));
    let text = report_text(&db);
    assert!(
        text.contains("unrecoverable  2-5: no longer held by the agent (oldest held: 6)"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_gap_is_asked_for_in_bounded_pieces_an_unanswered_request_is_retried_and_an_offline_facility_is_left_alone(
) {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let wire = Collector::start(broker.port, "childcare/v1/f-long/commands").await;
    let mut rx = Receiver::start(
        broker.port,
        &db,
        &[
            "--grace",
            "0s",
            "--resend-timeout",
            "2s",
            "--max-range",
            "10",
            "--max-attempts",
            "2",
        ],
    );
    let stand = Stand::start(broker.port, "f-long").await;
    stand.status("online").await;
    stand.alerts([1, 100]).await;

    // Two requests for 2-11 (a new id each time), then it is given up and 12-21 is asked.
    let seen = wire
        .wait_until(Duration::from_secs(30), |s| s.len() >= 3)
        .await;
    let asked: Vec<(i64, i64, String)> = seen
        .iter()
        .map(|m| {
            let v = m.json();
            (
                v["from_seq"].as_i64().unwrap(),
                v["to_seq"].as_i64().unwrap(),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!((asked[0].0, asked[0].1), (2, 11), "{asked:?}");
    assert_eq!((asked[1].0, asked[1].1), (2, 11), "{asked:?}");
    assert_ne!(asked[0].2, asked[1].2, "a retry is a new command id");
    assert_eq!((asked[2].0, asked[2].1), (12, 21), "{asked:?}");
    rx.wait_for_line(
        &format!("timed out f-long 2-11 {} (attempt 2)", asked[1].2),
        LIMIT,
    );
    let f = facility(&tokio::task::block_in_place(|| report(&db)), "f-long");
    let lost = f["unrecoverable"].as_array().unwrap();
    assert_eq!(
        (lost[0]["from"].as_i64(), lost[0]["to"].as_i64()),
        (Some(2), Some(11)),
        "{f:#}"
    );
    assert_eq!(lost[0]["reason"], "not resent after 2 requests");
    assert_eq!(ranges(&f["gaps_open"]), vec![(12, 99)], "{f:#}");

    // Offline (the last will): no new request until it is back.
    stand.status("offline").await;
    wait_report(&db, "f-long", LIMIT, |f| f["state"] == "offline").await;
    tokio::time::sleep(Duration::from_secs(3)).await; // the outstanding one times out
    let before = commands(&wire).len();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(commands(&wire).len(), before, "asked an offline facility");
    stand.status("online").await;
    wire.wait_until(LIMIT, |s| s.len() > before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_recorded_and_after_the_last_attempt_the_gap_is_unrecoverable_with_the_agent_s_reason(
) {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let wire = Collector::start(broker.port, "childcare/v1/f-no/commands").await;
    let _rx = Receiver::start(
        broker.port,
        &db,
        &[
            "--grace",
            "0s",
            "--resend-timeout",
            "2s",
            "--max-attempts",
            "2",
        ],
    );
    let stand = Stand::start(broker.port, "f-no").await;
    stand.status("online").await;
    stand.alerts([1, 3]).await;
    for n in 1..=2 {
        let seen = wire.wait_until(LIMIT, |s| s.len() >= n).await;
        let id = seen[n - 1].json()["id"].as_str().unwrap().to_string();
        let seq = 3 + n as i64; // the results take seqs 4 and 5
        stand
            .send(&stand.result(seq, &id, json!({"ok":false,"error":"unknown command"})))
            .await;
    }
    let f = wait_report(&db, "f-no", LIMIT, |f| {
        !f["unrecoverable"].as_array().unwrap().is_empty()
    })
    .await;
    let lost = &f["unrecoverable"][0];
    assert_eq!(
        (lost["from"].as_i64(), lost["to"].as_i64()),
        (Some(2), Some(2)),
        "{f:#}"
    );
    assert_eq!(lost["reason"], "refused 2 times, last: unknown command");
    assert_eq!(f["last_resend"]["outcome"], "refused");
    assert_eq!(f["last_resend"]["answer"]["error"], "unknown command");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(commands(&wire).len(), 2, "{:?}", commands(&wire));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_receivers_in_one_shared_subscription_group_split_the_messages_and_store_each_once() {
    let broker = Broker::start();
    let db = TestDb::create().await;
    let a = Receiver::start(
        broker.port,
        &db,
        &["--share-group", "platform", "--client-id", "rx-a"],
    );
    let b = Receiver::start(
        broker.port,
        &db,
        &["--share-group", "platform", "--client-id", "rx-b"],
    );
    let stand = Stand::start(broker.port, "f-shared").await;
    stand.alerts(1..=200).await;
    let f = wait_report(&db, "f-shared", LIMIT, |f| f["stored"] == 200).await;
    assert_eq!(ranges(&f["gaps_open"]), vec![]);
    assert_eq!(
        f["duplicates"], 0,
        "a shared subscription delivers each message to one"
    );
    let by: Vec<(String, i64)> = db
        .client()
        .await
        .query(
            "SELECT receiver, count(*) FROM envelopes GROUP BY receiver ORDER BY receiver",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(by.len(), 2, "both receivers stored some: {by:?}");
    assert!(
        by.iter().all(|(_, n)| *n >= 20),
        "the load is split: {by:?}"
    );
    drop((a, b));
}
