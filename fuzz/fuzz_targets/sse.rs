//! The CLI's server-sent events reader (`drain_sse_events`), as the tracer
//! feeds it: whatever arrived so far, in chunks.
//!
//! Input: the first byte seeds the chunk sizes; the rest (lossy UTF-8) is
//! the stream.
//!
//! Checked: the events and the rest left over do not depend on how the
//! stream was cut into chunks (a separator split across two reads still
//! ends its event); what is left holds no complete event; every event came
//! from `data:` lines of the stream.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_mcp_cli::fuzzing::drain_sse_events;
use oauth_mcp_fuzz::text;

fuzz_target!(|data: &[u8]| {
    let Some((&seed, rest)) = data.split_first() else {
        return;
    };
    let stream = text(rest);

    let mut whole = stream.clone();
    let all = drain_sse_events(&mut whole);
    let mut again = whole.clone();
    assert!(drain_sse_events(&mut again).is_empty() && again == whole);

    let mut buf = String::new();
    let mut events = Vec::new();
    let mut chars = stream.chars().peekable();
    let mut n = seed as usize;
    while chars.peek().is_some() {
        n = n.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let take = 1 + (n >> 16) % 16;
        buf.extend(chars.by_ref().take(take));
        events.extend(drain_sse_events(&mut buf));
    }
    assert_eq!(events, all, "chunked reading differs from reading at once");
    assert_eq!(buf, whole);
    for e in &all {
        for line in e.split('\n') {
            assert!(stream.contains(line));
        }
    }
});
