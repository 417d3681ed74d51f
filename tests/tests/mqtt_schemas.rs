//! The MQTT interface as documented in `docs/mqtt/` (an AsyncAPI 3 document and JSON Schema
//! draft 2020-12 files), held against what the real binary publishes, so the documents
//! cannot drift from the wire (contract section 12).
//!
//! Every schema is checked twice: as shipped (the envelope closed, bodies open to additive
//! fields, see `docs/mqtt/README.md`), and **strict** — every `"additionalProperties": true`
//! turned to `false` — so that a field the agent sends but the documents do not declare
//! fails here, not at a platform that reads the documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsonschema::{Draft, Retrieve, Uri, Validator};
use nursery_agent::alert::AlertType;
use nursery_agent_tests::agent::{demo_config, wait_for_clock, workspace, Agent};
use nursery_agent_tests::broker::{Broker, Collector, Seen};
use nursery_testkit::ev;
use serde_json::{json, Value};
use tokio::task::block_in_place;

const LIMIT: Duration = Duration::from_secs(60);
/// Where the schema files are said to live while they are compiled: relative `$ref`s
/// between them resolve under it, and [`Files`] serves them from memory.
const BASE: &str = "file:///nursery-agent/docs/mqtt/";
const FACILITY: &str = "310115-0042";
/// A disposition's note (it names a member of staff); it never leaves the device.
const NOTE: &str = "请园长调配李老师到乳儿班";

fn docs() -> PathBuf {
    workspace().join("docs/mqtt")
}

/// Every `docs/mqtt/*.schema.json`, parsed, by file name.
#[derive(Clone)]
struct Files(BTreeMap<String, Value>);

impl Files {
    fn read() -> Files {
        let mut files = BTreeMap::new();
        for entry in std::fs::read_dir(docs()).expect("docs/mqtt/ exists") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".schema.json") {
                let text = std::fs::read_to_string(&path).unwrap();
                let v: Value = serde_json::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
                files.insert(name, v);
            }
        }
        assert!(files.len() >= 9, "the schema files: {:?}", files.keys());
        Files(files)
    }

    /// The same files with every open object closed.
    fn strict(&self) -> Files {
        fn close(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    if m.get("additionalProperties") == Some(&Value::Bool(true)) {
                        m.insert("additionalProperties".into(), Value::Bool(false));
                    }
                    m.values_mut().for_each(close);
                }
                Value::Array(a) => a.iter_mut().for_each(close),
                _ => {}
            }
        }
        let mut files = self.clone();
        files.0.values_mut().for_each(close);
        files
    }

    /// The validator of the file `name`, its references served from these files only.
    fn validator(&self, name: &str) -> Result<Validator, String> {
        let schema = self
            .0
            .get(name)
            .ok_or_else(|| format!("no schema file docs/mqtt/{name}"))?;
        jsonschema::meta::validate(schema)
            .map_err(|e| format!("docs/mqtt/{name} is not a valid JSON Schema: {e}"))?;
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .with_base_uri(format!("{BASE}{name}"))
            .with_retriever(self.clone())
            .build(schema)
            .map_err(|e| format!("docs/mqtt/{name} does not compile: {e}"))
    }
}

impl Retrieve for Files {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let uri = uri.as_str();
        let name = uri.strip_prefix(BASE).unwrap_or(uri);
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("{uri}: not one of the files in docs/mqtt/").into())
    }
}

/// The validators of every file, as shipped and strict.
struct Schemas {
    shipped: BTreeMap<String, Validator>,
    strict: BTreeMap<String, Validator>,
}

impl Schemas {
    fn load() -> Schemas {
        let files = Files::read();
        let strict = files.strict();
        let all = |f: &Files| -> BTreeMap<String, Validator> {
            f.0.keys()
                .map(|n| (n.clone(), f.validator(n).unwrap_or_else(|e| panic!("{e}"))))
                .collect()
        };
        Schemas {
            shipped: all(&files),
            strict: all(&strict),
        }
    }

    /// The errors of `instance` against `name`, as shipped and strict; empty when valid.
    fn errors(&self, name: &str, instance: &Value) -> Vec<String> {
        let mut out = Vec::new();
        for (how, set) in [("", &self.shipped), ("strict: ", &self.strict)] {
            let v = set.get(name).unwrap_or_else(|| panic!("no schema {name}"));
            out.extend(
                v.iter_errors(instance)
                    .map(|e| format!("{how}{e} (at `{}`)", e.instance_path())),
            );
        }
        out
    }
}

/// The schema a message on `topic` must match, and the envelope `kind` when enveloped.
fn schema_of(suffix: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match suffix {
        "status" => ("status.schema.json", None),
        "telemetry" => ("telemetry.schema.json", None),
        "alerts" => ("envelope.schema.json", Some("alert")),
        "summaries/daily" => ("envelope.schema.json", Some("summary")),
        "command-results" => ("envelope.schema.json", Some("command_result")),
        "commands" => ("command.schema.json", None),
        _ => return None,
    })
}

/// What is wrong with one captured message; empty when nothing is.
fn check(schemas: &Schemas, m: &Seen) -> Vec<String> {
    let under_prefix = m.topic.strip_prefix("childcare/v1/");
    let Some((facility, suffix)) = under_prefix.and_then(|t| t.split_once('/')) else {
        return vec!["not under `{topic_prefix}/{facility}/`".into()];
    };
    let Some((schema, kind)) = schema_of(suffix) else {
        return vec!["a topic the AsyncAPI document does not describe".into()];
    };
    let v: Value = match serde_json::from_slice(&m.payload) {
        Ok(v) => v,
        Err(e) => return vec![format!("not JSON: {e}")],
    };
    let mut errors = schemas.errors(schema, &v);
    if let Some(kind) = kind {
        if v["kind"] != kind {
            errors.push(format!("kind {} on a topic for kind `{kind}`", v["kind"]));
        }
        if v["facility"] != facility {
            errors.push(format!("facility {} under {facility}", v["facility"]));
        }
    }
    errors
}

fn configured(dir: &Path, port: u16) -> PathBuf {
    let path = demo_config(dir, 4000.0);
    let mut doc: toml_edit::DocumentMut = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    doc["mqtt"]["enabled"] = toml_edit::value(true);
    doc["mqtt"]["port"] = toml_edit::value(i64::from(port));
    doc["mqtt"]["reconnect_max"] = toml_edit::value("2s");
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

/// The platform's commands of the test: (payload, the command id a result must answer).
fn commands() -> Vec<(Vec<u8>, Option<&'static str>)> {
    vec![
        (
            br#"{"id":"s-1","command":"snapshot"}"#.to_vec(),
            Some("s-1"),
        ),
        (
            br#"{"id":"r-1","command":"resend_summary","date":"2026-03-02"}"#.to_vec(),
            Some("r-1"),
        ),
        (
            br#"{"id":"r-2","command":"resend_summary","date":"2026-3-2"}"#.to_vec(),
            Some("r-2"),
        ),
        (br#"{"id":"u-1","command":"reboot"}"#.to_vec(), Some("u-1")),
        (br#"{"id":"u-2"}"#.to_vec(), Some("u-2")),
        // Contract 1.1 section 12: answered with the range, and the copies published again.
        (
            br#"{"id":"g-1","command":"resend","from_seq":1,"to_seq":3}"#.to_vec(),
            Some("g-1"),
        ),
        (b"{{{ not json".to_vec(), None),
    ]
}

fn answered(seen: &[Seen]) -> BTreeSet<String> {
    seen.iter()
        .filter(|m| m.topic.ends_with("/command-results"))
        .filter_map(|m| m.json()["body"]["command_id"].as_str().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_the_real_agent_publishes_in_a_simulated_day_matches_its_schema() {
    let schemas = Schemas::load();
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let config = configured(dir.path(), broker.port);

    // A simulated day to after the summary (due at close + pickup_grace, 18:15).
    let agent = block_in_place(|| {
        let agent = Agent::start(&config, &[]);
        wait_for_clock(&config, "18:30", LIMIT);
        agent
    });
    platform
        .wait_until(LIMIT, |seen| {
            seen.iter().any(|m| m.topic.ends_with("/summaries/daily"))
        })
        .await;

    let topic = format!("childcare/v1/{FACILITY}/commands");
    let mut expected = BTreeSet::new();
    for (payload, id) in commands() {
        expected.extend(id.map(String::from));
        platform
            .client
            .publish(&topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .await
            .unwrap();
    }
    platform
        .wait_until(LIMIT, |seen| answered(seen).is_superset(&expected))
        .await;

    // SIGKILL: no DISCONNECT, so the broker publishes the last will.
    block_in_place(|| agent.kill9());
    let seen = platform
        .wait_until(LIMIT, |seen| {
            seen.iter()
                .rfind(|m| m.topic.ends_with("/status"))
                .is_some_and(|m| m.json()["state"] == "offline")
        })
        .await;

    let checked: Vec<&Seen> = seen
        .iter()
        .filter(|m| !m.topic.ends_with("/commands"))
        .collect();
    let failures = failures(&schemas, &checked);
    assert!(
        failures.is_empty(),
        "messages that do not match their schema, one example per distinct error:\n{}",
        failures.join("\n")
    );
    coverage(&seen);
}

/// The staff page's one-room nursery (`page::roster`), reporting to a broker on `port`.
fn fed_nursery(dir: &Path, port: u16) -> (PathBuf, PathBuf) {
    let config = nursery_agent_tests::page::roster(dir)
        .set("mqtt", "enabled", true)
        .set("mqtt", "port", i64::from(port))
        .set("mqtt", "reconnect_max", "2s")
        .write(dir);
    let events = dir.join("events.jsonl");
    std::fs::write(&events, "").unwrap();
    (config, events)
}

fn feed(events: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(events)
        .unwrap();
    f.write_all(ev::log(lines).as_bytes()).unwrap();
}

/// The alert transitions seen so far, as (type, state).
fn transitions(seen: &[Seen]) -> BTreeSet<(String, String)> {
    seen.iter()
        .filter(|m| m.topic.ends_with("/alerts"))
        .map(|m| {
            let b = &m.json()["body"];
            (
                b["type"].as_str().unwrap_or("").into(),
                b["state"].as_str().unwrap_or("").into(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fed_alerts_of_the_shapes_the_demo_day_lacks_match_their_schema_on_the_wire() {
    let schemas = Schemas::load();
    let broker = Broker::start();
    let platform = Collector::start(broker.port, "childcare/v1/#").await;
    let dir = tempfile::tempdir().unwrap();
    let (config, events) = fed_nursery(dir.path(), broker.port);
    let mut agent = Agent::start(&config, &["--events", events.to_str().unwrap()]);
    block_in_place(|| agent.wait_for_line("uplink:", LIMIT));

    // One caregiver for four babies: a ratio breach at once (grace 0 s), acknowledged.
    let mut lines = vec![ev::check_in(ev::NOW, "s-01")];
    lines.extend((1..=4).map(|c| ev::check_in(ev::NOW, &format!("c-0{c}"))));
    feed(&events, &lines);
    let breach = platform
        .wait_until(LIMIT, |seen| {
            transitions(seen).contains(&("ratio_breach".into(), "raised".into()))
        })
        .await;
    let id = breach
        .iter()
        .map(Seen::json)
        .find(|m| m["body"]["type"] == "ratio_breach")
        .map(|m| m["body"]["alert_id"].as_str().unwrap().to_string())
        .unwrap();
    feed(
        &events,
        &[
            ev::acknowledge(ev::NOW, &id, "s-01"),
            // What was done about it (一事一反馈), with a note that stays on the device.
            ev::line(
                ev::NOW,
                "disposition",
                &[
                    ("alert_id", json!(id)),
                    ("by", json!("s-01")),
                    ("action", json!("escalated")),
                    ("note", json!(NOTE)),
                ],
            ),
            // A fault, an out-of-range reading, then a good one.
            ev::sensor_fault(ev::NOW, "t-infant", "crc"),
            ev::reading(ev::NOW, "t-infant", 85.0, 45.0),
            ev::reading(ev::NOW, "t-infant", 22.0, 45.0),
            // The only caregiver leaves, another comes, then the first is back.
            ev::check_out(ev::NOW, "s-01"),
            ev::check_in(ev::NOW, "s-02"),
            ev::check_in(ev::NOW, "s-01"),
        ],
    );
    let want: BTreeSet<(String, String)> = [
        ("ratio_breach", "acknowledged"),
        ("ratio_breach", "disposed"),
        ("ratio_breach", "resolved"),
        ("sensor_fault", "raised"),
        ("sensor_fault", "resolved"),
        ("unsupervised_children", "raised"),
        ("unsupervised_children", "resolved"),
    ]
    .iter()
    .map(|(t, s)| (t.to_string(), s.to_string()))
    .collect();
    platform
        .wait_until(LIMIT, |seen| transitions(seen).is_superset(&want))
        .await;
    let exit = block_in_place(|| agent.terminate(Duration::from_secs(10)));
    assert!(exit.success(), "{exit:?}");
    let seen = platform
        .wait_until(LIMIT, |seen| {
            seen.iter()
                .rfind(|m| m.topic.ends_with("/status"))
                .is_some_and(|m| m.json()["state"] == "offline")
        })
        .await;

    let failures = failures(&schemas, &seen.iter().collect::<Vec<_>>());
    assert!(
        failures.is_empty(),
        "messages that do not match their schema, one example per distinct error:\n{}",
        failures.join("\n")
    );

    // The disposition went upstream as a `disposed` transition of the breach with the
    // action code and the staff id only; its note is in no message.
    let disposed: Vec<Value> = seen
        .iter()
        .filter(|m| m.topic.ends_with("/alerts"))
        .map(|m| m.json()["body"].clone())
        .filter(|b| b["state"] == "disposed")
        .collect();
    assert_eq!(disposed.len(), 1, "{disposed:?}");
    assert_eq!(disposed[0]["alert_id"], id.as_str());
    assert_eq!(disposed[0]["type"], "ratio_breach");
    assert_eq!(
        disposed[0]["details"],
        json!({"action": "escalated", "by": "s-01"})
    );
    for m in &seen {
        let payload = String::from_utf8_lossy(&m.payload);
        for part in [NOTE, "调配", "\"note\""] {
            assert!(
                !payload.contains(part),
                "{part:?} on {}: {payload}",
                m.topic
            );
        }
    }
}

/// What is wrong with `seen`, one line per distinct (topic, errors), with how many messages
/// had it and the first of them.
fn failures(schemas: &Schemas, seen: &[&Seen]) -> Vec<String> {
    let mut distinct: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    for m in seen {
        let errors = check(schemas, m);
        if !errors.is_empty() {
            let e = distinct
                .entry((m.topic.clone(), errors.join("\n  ")))
                .or_insert_with(|| (0, String::from_utf8_lossy(&m.payload).into_owned()));
            e.0 += 1;
        }
    }
    distinct
        .into_iter()
        .map(|((topic, errors), (n, first))| {
            format!(
                "{topic} ({n} of {} messages): {first}\n  {errors}",
                seen.len()
            )
        })
        .collect()
}

/// The captured traffic has every kind of message the test means to check.
fn coverage(seen: &[Seen]) {
    let json_on = |suffix: &str| -> Vec<Value> {
        seen.iter()
            .filter(|m| m.topic.ends_with(suffix))
            .map(Seen::json)
            .collect()
    };
    let states: BTreeSet<String> = json_on("/status")
        .iter()
        .filter_map(|s| s["state"].as_str().map(String::from))
        .collect();
    assert_eq!(states, BTreeSet::from(["online".into(), "offline".into()]));
    assert!(json_on("/telemetry").len() >= 10, "telemetry every minute");
    let alerts = json_on("/alerts");
    for state in ["raised", "resolved"] {
        assert!(
            alerts.iter().any(|a| a["body"]["state"] == state),
            "an alert {state}"
        );
    }
    assert!(json_on("/summaries/daily").len() >= 2, "on time and again");
    let results = json_on("/command-results");
    let ok = |v: &Value| v["body"]["ok"] == true;
    assert!(results
        .iter()
        .any(|r| ok(r) && r["body"]["snapshot"].is_object()));
    assert!(results.iter().any(|r| !ok(r)), "refused commands");
}

#[test]
fn the_commands_the_test_sends_are_the_ones_the_schemas_describe() {
    let schemas = Schemas::load();
    for (payload, id) in commands() {
        let Ok(v) = serde_json::from_slice::<Value>(&payload) else {
            continue;
        };
        let errors = schemas.errors("command.schema.json", &v);
        let described = matches!(id, Some("s-1" | "r-1" | "g-1"));
        assert_eq!(errors.is_empty(), described, "{v}: {errors:?}");
    }
}

fn an_alert_envelope() -> Value {
    json!({
        "schema": "nursery-agent/1", "facility": FACILITY, "seq": 12, "id": "A7:raised",
        "kind": "alert", "created_at": "2026-03-02T01:16:00Z",
        "body": {
            "alert_id": "A7", "details": {"children": 4, "required": 2, "staff": 1},
            "severity": "critical", "state": "raised", "subject": "infant",
            "ts": "2026-03-02T09:16:00+08:00", "type": "ratio_breach"
        }
    })
}

#[test]
fn an_envelope_missing_seq_fails_validation_and_the_error_names_it() {
    let schemas = Schemas::load();
    let good = an_alert_envelope();
    assert_eq!(
        schemas.errors("envelope.schema.json", &good),
        Vec::<String>::new()
    );
    let mut bad = good.clone();
    bad.as_object_mut().unwrap().remove("seq");
    let errors = schemas.errors("envelope.schema.json", &bad);
    assert!(
        !errors.is_empty() && errors.iter().all(|e| e.contains("\"seq\"")),
        "{errors:?}"
    );
}

#[test]
fn the_envelope_is_closed_and_a_body_is_open_but_only_to_fields_the_documents_declare() {
    let schemas = Schemas::load();
    let shipped = |name: &str, v: &Value| schemas.shipped[name].is_valid(v);
    let strict = |name: &str, v: &Value| schemas.strict[name].is_valid(v);

    let mut extra_frame = an_alert_envelope();
    extra_frame["priority"] = json!(1);
    assert!(!shipped("envelope.schema.json", &extra_frame));

    let mut extra_body = an_alert_envelope();
    extra_body["body"]["room_name"] = json!("乳儿班");
    assert!(shipped("envelope.schema.json", &extra_body));
    assert!(!strict("envelope.schema.json", &extra_body));

    let mut kind_mismatch = an_alert_envelope();
    kind_mismatch["kind"] = json!("summary");
    assert!(!shipped("envelope.schema.json", &kind_mismatch));
}

#[test]
fn an_unmasked_card_or_a_wrong_severity_fails_the_alert_schema() {
    let schemas = Schemas::load();
    let body = |ty: &str, severity: &str, details: Value| {
        json!({"alert_id": "A1", "details": details, "severity": severity, "state": "raised",
               "subject": "entrance-reader", "ts": "2026-03-02T07:31:05+08:00", "type": ty})
    };
    let valid = |v: &Value| schemas.shipped["alert-transition.schema.json"].is_valid(v);
    assert!(valid(&body(
        "badge_denied",
        "warning",
        json!({"card": "******32"})
    )));
    assert!(!valid(&body(
        "badge_denied",
        "warning",
        json!({"card": "98765432"})
    )));
    assert!(!valid(&body(
        "badge_denied",
        "critical",
        json!({"card": "****"})
    )));
}

#[test]
fn the_alert_schema_knows_every_alert_type_of_the_agent_with_its_severity() {
    let schemas = Schemas::load();
    let alert = &schemas.strict["alert-transition.schema.json"];
    for ty in AlertType::ALL {
        let severity = ty.severity().as_str();
        let other = if severity == "critical" {
            "warning"
        } else {
            "critical"
        };
        let body = |severity: &str| {
            json!({"alert_id": "A1", "details": {"by": "s-01"}, "severity": severity,
                   "state": "acknowledged", "subject": "x", "ts": "2026-03-02T07:31:05+08:00",
                   "type": ty.as_str()})
        };
        let errors: Vec<String> = alert
            .iter_errors(&body(severity))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{ty}: {errors:?}");
        assert!(
            !alert.is_valid(&body(other)),
            "{ty} is {severity}, not {other}"
        );
    }
}

#[test]
fn the_schemas_list_every_alert_state_and_the_summary_counts_every_alert_type() {
    let files = Files::read();
    let alert = &files.0["alert-transition.schema.json"];
    let names = |v: &Value| -> BTreeSet<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("not a list: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    let states = names(&alert["properties"]["state"]["enum"]);
    for s in nursery_agent::alert::AlertState::ALL {
        assert!(
            states.contains(s.as_str()),
            "state {} not in the schema",
            s.as_str()
        );
    }
    let summary = &files.0["daily-summary.schema.json"];
    let counted = names(&summary["properties"]["alerts"]["required"]);
    let agent: BTreeSet<String> = AlertType::ALL.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        counted, agent,
        "the summary has a count for each type the agent knows"
    );
}

/// Every `$ref` in `v`, with the JSON pointer of where it is.
fn refs(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if let (Some(r), "$ref") = (x.as_str(), k.as_str()) {
                    out.push((at.to_string(), r.to_string()));
                }
                refs(x, &format!("{at}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                refs(x, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_asyncapi_document_parses_and_every_schema_it_references_exists_and_compiles() {
    let path = docs().join("asyncapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/mqtt/asyncapi.yaml");
    let doc: Value = serde_norway::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not YAML: {e}", path.display()));
    assert_eq!(doc["asyncapi"], "3.0.0");

    let addresses: BTreeSet<&str> = doc["channels"]
        .as_object()
        .expect("channels")
        .values()
        .filter_map(|c| c["address"].as_str())
        .collect();
    let topics = [
        "status",
        "alerts",
        "summaries/daily",
        "telemetry",
        "commands",
        "command-results",
    ];
    let want: BTreeSet<String> = topics
        .iter()
        .map(|t| format!("{{topic_prefix}}/{{facility}}/{t}"))
        .collect();
    assert_eq!(
        addresses,
        want.iter().map(String::as_str).collect::<BTreeSet<_>>()
    );

    let files = Files::read();
    let mut found = Vec::new();
    refs(&doc, "", &mut found);
    let mut used = BTreeSet::new();
    for (at, r) in &found {
        if let Some(pointer) = r.strip_prefix('#') {
            assert!(
                doc.pointer(pointer).is_some(),
                "{at}: {r} points at nothing"
            );
        } else {
            files
                .validator(r)
                .unwrap_or_else(|e| panic!("asyncapi.yaml {at}: {e}"));
            used.insert(r.clone());
        }
    }
    // Every schema file is part of the document, directly or through another schema.
    for (name, schema) in &files.0 {
        let mut inner = Vec::new();
        refs(schema, "", &mut inner);
        for (at, r) in inner.iter().filter(|(_, r)| !r.starts_with('#')) {
            assert!(files.0.contains_key(r), "{name} {at}: no file {r}");
            used.insert(r.clone());
        }
    }
    let all: BTreeSet<String> = files.0.keys().cloned().collect();
    assert_eq!(
        used, all,
        "schema files the AsyncAPI document never reaches"
    );
}
