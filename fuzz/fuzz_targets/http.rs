#![no_main]
//! See `nursery_agent_fuzz::checks::http` for what must hold.

libfuzzer_sys::fuzz_target!(|data: &[u8]| nursery_agent_fuzz::checks::http(data));
