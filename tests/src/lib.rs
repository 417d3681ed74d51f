//! Helpers for the workspace-level integration tests in `tests/tests/`, included one way:
//! `use nursery_agent_tests::{agent, broker, page};`.
//!
//! - [`agent`]: the real `nursery-agent` binary as a process (start, wait for a line,
//!   `kill -9`, SIGTERM, `status`).
//! - [`broker`]: a real broker (Mosquitto, NATS's MQTT gateway or RabbitMQ's MQTT plugin) on
//!   free loopback ports, a subscriber that records, and `per_broker!` to run a scenario on
//!   each.
//! - [`day`]: event lines of the duty tests' day, `replay` of them, an events file.
//! - [`page`]: a one-room nursery fed through `--events`, and a small HTTP/SSE client for
//!   the staff page.
//!
//! Rosters and event lines come from the workspace's one test kit, `nursery-testkit`.

pub mod agent;
pub mod broker;
pub mod day;
pub mod page;
