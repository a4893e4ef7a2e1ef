//! Captures the audit events (`target: "oauth_mcp::audit"`) a test provokes,
//! so refusals can be checked for the reason they log.
//!
//! One global subscriber serves the whole test binary and hands each event
//! to the log of the thread that emitted it. (A per-test `set_default`
//! subscriber is not enough: `tracing` caches per call site whether anyone
//! listens, and a test running at the same time without a subscriber can
//! turn a call site off for everyone.)

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, Once};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// One event: its fields, values rendered as text (strings unquoted).
pub(crate) type AuditEvent = BTreeMap<String, String>;

/// The events captured while the guard returned by [`capture`] lives, on
/// this thread (use a current-thread runtime).
#[derive(Clone, Default)]
pub(crate) struct AuditLog(Arc<Mutex<Vec<AuditEvent>>>);

impl AuditLog {
    /// Every captured event named `name` (its `event` field).
    pub(crate) fn named(&self, name: &str) -> Vec<AuditEvent> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.get("event").is_some_and(|n| n == name))
            .cloned()
            .collect()
    }

    /// The one event named `name`; panics unless there is exactly one.
    pub(crate) fn one(&self, name: &str) -> AuditEvent {
        let mut found = self.named(name);
        assert_eq!(
            found.len(),
            1,
            "expected one `{name}` audit event, got {found:?}"
        );
        found.remove(0)
    }
}

thread_local! {
    static CURRENT: RefCell<Option<AuditLog>> = const { RefCell::new(None) };
}

struct Capture;

struct Fields<'a>(&'a mut AuditEvent);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

impl<S: Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if event.metadata().target() != "oauth_mcp::audit" {
            return;
        }
        CURRENT.with(|current| {
            if let Some(log) = current.borrow().as_ref() {
                let mut fields = AuditEvent::new();
                event.record(&mut Fields(&mut fields));
                log.0.lock().unwrap().push(fields);
            }
        });
    }
}

/// Stops capturing on this thread when dropped.
pub(crate) struct CaptureGuard;

impl Drop for CaptureGuard {
    fn drop(&mut self) {
        CURRENT.with(|current| current.borrow_mut().take());
    }
}

/// Starts capturing audit events on this thread until the guard drops.
pub(crate) fn capture() -> (AuditLog, CaptureGuard) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("no other global subscriber in this test binary");
    });
    let log = AuditLog::default();
    CURRENT.with(|current| *current.borrow_mut() = Some(log.clone()));
    (log, CaptureGuard)
}
