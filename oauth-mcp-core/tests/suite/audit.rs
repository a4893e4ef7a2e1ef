//! Captures the audit events (`target: "oauth_mcp::audit"`) a test provokes,
//! so refusals can be checked for the reason they log.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::subscriber::DefaultGuard;
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

struct Capture(AuditLog);

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
        let mut fields = AuditEvent::new();
        event.record(&mut Fields(&mut fields));
        self.0.0.lock().unwrap().push(fields);
    }
}

/// Starts capturing audit events on this thread until the guard drops.
pub(crate) fn capture() -> (AuditLog, DefaultGuard) {
    let log = AuditLog::default();
    let subscriber = tracing_subscriber::registry().with(Capture(log.clone()));
    (log, tracing::subscriber::set_default(subscriber))
}
