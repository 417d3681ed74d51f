//! nursery-agent: on-device safety rules, a durable journal and a regulator uplink for
//! nurseries caring for children under three (托育机构).
//!
//! Data flows sensors → journal → rules → alerts / outbox → uplink; the configuration and
//! the command line sit at the edge. See the README for the whole picture.

pub mod alarm;
pub mod alert;
pub mod clock;
pub mod config;
pub mod console;
pub mod daemon;
pub mod dashboard;
pub mod event;
pub mod hw;
pub mod input;
pub mod journal;
pub mod ledger;
pub mod live;
pub mod localtime;
pub mod names;
pub mod operations;
pub mod outbox;
pub mod pin;
pub mod presets;
pub mod replay;
pub mod rules;
pub mod simulate;
pub mod status;
pub mod summary;
pub mod uplink;
pub mod wallclock;
pub mod wire;
