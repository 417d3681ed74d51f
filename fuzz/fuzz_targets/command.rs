#![no_main]
//! See `nursery_agent_fuzz::checks::command` for what must hold.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nursery_agent_fuzz::checks::command(data));
