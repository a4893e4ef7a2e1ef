//! The signing-key lifecycle rule, sans-IO: given the key records, the time
//! and a [`KeySchedule`], what to do next. Storage, key generation and
//! sealing happen around it (see [`crate::token::managed`]); every replica
//! and the `oauth-mcp keys` command apply this one rule.
//!
//! A key's life, with the default schedule:
//!
//! 1. **published**: created and put in the JWKS, not signing yet. It waits
//!    [`KeySchedule::publish_lead`] (1 day), longer than any resource
//!    server caches the JWKS, so every resource server knows the key before
//!    the first token signed with it arrives.
//! 2. **active**: signs new tokens, for [`KeySchedule::rotation_period`]
//!    (30 days). A successor is published `publish_lead` before the period
//!    ends, and activated when it ends; activating it retires this key in the
//!    same store write.
//! 3. **retired**: no longer signs, still in the JWKS until every token it
//!    signed has expired: access-token lifetime plus a leeway (5 minutes)
//!    after it retired.
//! 4. **removed** from the store and the JWKS.
//!
//! The first key of an empty store is created active at once (no resource
//! server can know any key yet). The JWKS is served with `Cache-Control:
//! max-age` [`KeySchedule::jwks_max_age`], at most half the publish lead, so
//! that caches honouring it fetch every successor well before it signs.

use std::time::Duration;

use crate::error::ConfigError;
use crate::events::AuditEvent;
use crate::store::keys::{KeyChange, KeyPhase, SigningKeyRecord};

const DAY: i64 = 24 * 3600;

/// When keys rotate and how long they stay published. Validate it once at
/// start-up with [`KeySchedule::validate`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeySchedule {
    rotation_period: Option<i64>,
    publish_lead: i64,
    token_lifetime: i64,
    leeway: i64,
    max_jwks_cache: i64,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl KeySchedule {
    /// The default schedule for access tokens living `access_token_ttl`:
    /// rotate every 30 days, publish successors 1 day ahead, keep retired
    /// keys for the token lifetime plus 5 minutes, JWKS cached at most 1 hour.
    pub fn new(access_token_ttl: Duration) -> Self {
        Self {
            rotation_period: Some(30 * DAY),
            publish_lead: DAY,
            token_lifetime: secs(access_token_ttl),
            leeway: 300,
            max_jwks_cache: 3600,
        }
    }

    /// How long a key signs before its successor takes over (default 30 days).
    pub fn rotation_period(mut self, period: Duration) -> Self {
        self.rotation_period = Some(secs(period));
        self
    }

    /// Never rotate on a schedule: the key signs until an operator rotates
    /// it (`oauth-mcp keys rotate`).
    pub fn without_scheduled_rotation(mut self) -> Self {
        self.rotation_period = None;
        self
    }

    /// How long a successor is published before it signs (default 1 day).
    /// Make it longer than the JWKS cache of every resource server that
    /// does not refetch on an unknown `kid`.
    pub fn publish_lead(mut self, lead: Duration) -> Self {
        self.publish_lead = secs(lead);
        self
    }

    /// Extra time a retired key stays published after the last token it
    /// signed expired (default 5 minutes): covers clock skew, validators'
    /// `exp` leeway and replicas that have not yet re-read the key set.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = secs(leeway);
        self
    }

    /// Upper bound of the JWKS `Cache-Control: max-age` (default 1 hour).
    pub fn max_jwks_cache(mut self, max: Duration) -> Self {
        self.max_jwks_cache = secs(max);
        self
    }

    /// Checks the schedule; the error names the field and the fix.
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.token_lifetime <= 0 {
            return Err(ConfigError::new(
                "access_token_ttl",
                "must be at least one second",
            ));
        }
        if self.publish_lead <= 0 {
            return Err(ConfigError::new(
                "key_publish_lead",
                "must be at least one second: a key must be in the JWKS before it signs",
            ));
        }
        if let Some(period) = self.rotation_period
            && period <= self.publish_lead
        {
            return Err(ConfigError::new(
                "key_rotation_period",
                format!(
                    "{period} s is not longer than the publish lead ({} s); make the period longer or the lead shorter",
                    self.publish_lead
                ),
            ));
        }
        if self.leeway < 0 || self.max_jwks_cache < 0 {
            return Err(ConfigError::new(
                "key_leeway",
                "the leeway and the JWKS cache bound must not be negative",
            ));
        }
        Ok(self)
    }

    /// The rotation period in seconds (`None`: no scheduled rotation).
    pub fn rotation_period_secs(&self) -> Option<i64> {
        self.rotation_period
    }

    /// The publish lead in seconds.
    pub fn publish_lead_secs(&self) -> i64 {
        self.publish_lead
    }

    /// How long a retired key stays published: access-token lifetime plus
    /// leeway, in seconds.
    pub fn retire_grace(&self) -> i64 {
        self.token_lifetime.saturating_add(self.leeway)
    }

    /// The JWKS `Cache-Control: max-age` that fits the schedule: half the
    /// publish lead, at most [`KeySchedule::max_jwks_cache`]. A cache that
    /// honours it sees every successor at least half a lead before it signs.
    pub fn jwks_max_age(&self) -> i64 {
        (self.publish_lead / 2).min(self.max_jwks_cache).max(0)
    }

    /// The JWKS `Cache-Control` header value.
    pub fn jwks_cache_control(&self) -> String {
        format!("public, max-age={}", self.jwks_max_age())
    }
}

/// One lifecycle step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyStep {
    /// Make a new key and publish it; if `activate`, it signs at once.
    Create {
        /// Active at once (no key can sign, or an immediate rotation).
        activate: bool,
    },
    /// The key starts signing.
    Activate {
        /// The key.
        kid: String,
    },
    /// The key stops signing and stays published until `remove_after`.
    Retire {
        /// The key.
        kid: String,
        /// When it may leave the JWKS.
        remove_after: i64,
    },
    /// The key leaves the store and the JWKS.
    Remove {
        /// The key.
        kid: String,
    },
}

/// What [`plan_maintenance`] decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPlan {
    /// Steps due now, to be written as one store write. After writing them,
    /// plan again: a step may make the next one due.
    pub steps: Vec<KeyStep>,
    /// The next time something becomes due, if nothing changes meanwhile
    /// (`None`: nothing scheduled).
    pub next_due: Option<i64>,
}

/// Why an operator's request cannot be planned.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPlanRefusal {
    /// No key with this `kid`.
    #[error("no signing key with kid {0} in the store")]
    UnknownKid(String),
    /// A successor is already published.
    #[error(
        "key {kid} is already published as the successor and becomes active at {activates_at} (Unix time); rotate immediately to activate it now"
    )]
    SuccessorPending {
        /// The successor.
        kid: String,
        /// When maintenance will activate it.
        activates_at: i64,
    },
}

fn active(keys: &[SigningKeyRecord]) -> Vec<&SigningKeyRecord> {
    let mut v: Vec<_> = keys
        .iter()
        .filter(|k| k.phase() == KeyPhase::Active)
        .collect();
    // Newest activation first; the kid breaks ties so every replica agrees.
    v.sort_by(|a, b| {
        b.activated_at
            .cmp(&a.activated_at)
            .then_with(|| a.kid.cmp(&b.kid))
    });
    v
}

/// The key that signs: the active key (the most recently activated one,
/// should a store hold several).
pub fn signing_key(keys: &[SigningKeyRecord]) -> Option<&SigningKeyRecord> {
    active(keys).into_iter().next()
}

fn oldest_published(keys: &[SigningKeyRecord]) -> Option<&SigningKeyRecord> {
    keys.iter()
        .filter(|k| k.phase() == KeyPhase::Published)
        .min_by(|a, b| {
            a.published_at
                .cmp(&b.published_at)
                .then_with(|| a.kid.cmp(&b.kid))
        })
}

/// When a retired key may leave the JWKS: at its `remove_after`, but never
/// before this schedule's grace after it retired (an operator tool that
/// assumed a shorter token lifetime must not cut tokens short).
fn removal_time(k: &SigningKeyRecord, schedule: &KeySchedule) -> i64 {
    let grace_end = k
        .retired_at
        .unwrap_or(0)
        .saturating_add(schedule.retire_grace());
    k.remove_after.map_or(grace_end, |r| r.max(grace_end))
}

/// The scheduled lifecycle: what is due at `now` for these keys.
pub fn plan_maintenance(keys: &[SigningKeyRecord], now: i64, schedule: &KeySchedule) -> KeyPlan {
    let mut steps = Vec::new();
    let mut due = Vec::new();
    for k in keys.iter().filter(|k| k.phase() == KeyPhase::Retired) {
        let at = removal_time(k, schedule);
        if at <= now {
            steps.push(KeyStep::Remove { kid: k.kid.clone() });
        } else {
            due.push(at);
        }
    }
    let active = active(keys);
    // More than one active key (a store edited by hand): keep the newest.
    for extra in active.iter().skip(1) {
        steps.push(KeyStep::Retire {
            kid: extra.kid.clone(),
            remove_after: now.saturating_add(schedule.retire_grace()),
        });
    }
    let successor = oldest_published(keys);
    match (active.first(), successor) {
        // Nothing signs: the oldest published key (known longest) takes
        // over at once, or a new key is made active.
        (None, Some(s)) => steps.push(KeyStep::Activate { kid: s.kid.clone() }),
        (None, None) => steps.push(KeyStep::Create { activate: true }),
        (Some(current), Some(s)) => {
            let at = s.published_at.saturating_add(schedule.publish_lead);
            if at <= now {
                steps.push(KeyStep::Activate { kid: s.kid.clone() });
                steps.push(KeyStep::Retire {
                    kid: current.kid.clone(),
                    remove_after: now.saturating_add(schedule.retire_grace()),
                });
            } else {
                due.push(at);
            }
        }
        (Some(current), None) => {
            if let Some(period) = schedule.rotation_period {
                let at = current
                    .activated_at
                    .unwrap_or(now)
                    .saturating_add(period)
                    .saturating_sub(schedule.publish_lead);
                if at <= now {
                    steps.push(KeyStep::Create { activate: false });
                } else {
                    due.push(at);
                }
            }
        }
    }
    KeyPlan {
        steps,
        next_due: due.into_iter().min(),
    }
}

/// An operator's rotation. Scheduled (`immediate` false): publish a
/// successor now; maintenance activates it after the publish lead.
/// Immediate: the successor (the published one, else a new key) signs now
/// and the active key retires now; resource servers that cache the JWKS
/// and do not refetch on an unknown `kid` may refuse new tokens until their
/// cache expires.
pub fn plan_rotation(
    keys: &[SigningKeyRecord],
    now: i64,
    schedule: &KeySchedule,
    immediate: bool,
) -> Result<Vec<KeyStep>, KeyPlanRefusal> {
    let active = active(keys);
    let successor = oldest_published(keys);
    if !immediate {
        if let Some(s) = successor {
            return Err(KeyPlanRefusal::SuccessorPending {
                kid: s.kid.clone(),
                activates_at: s.published_at.saturating_add(schedule.publish_lead),
            });
        }
        return Ok(vec![KeyStep::Create {
            activate: active.is_empty(),
        }]);
    }
    let mut steps = vec![match successor {
        Some(s) => KeyStep::Activate { kid: s.kid.clone() },
        None => KeyStep::Create { activate: true },
    }];
    steps.extend(active.iter().map(|k| KeyStep::Retire {
        kid: k.kid.clone(),
        remove_after: now.saturating_add(schedule.retire_grace()),
    }));
    Ok(steps)
}

/// An operator's retirement of `kid`: it stops signing now (an active key
/// hands over to the published successor, else to a new key, at once) and
/// leaves the JWKS once its tokens have expired; with `remove_now` it
/// leaves the JWKS at once, so the tokens it signed stop validating (for a
/// compromised key). A published key that never signed is removed; an
/// already retired key is left alone unless `remove_now`.
pub fn plan_retirement(
    keys: &[SigningKeyRecord],
    kid: &str,
    now: i64,
    schedule: &KeySchedule,
    remove_now: bool,
) -> Result<Vec<KeyStep>, KeyPlanRefusal> {
    let key = keys
        .iter()
        .find(|k| k.kid == kid)
        .ok_or_else(|| KeyPlanRefusal::UnknownKid(kid.to_owned()))?;
    let remove = KeyStep::Remove {
        kid: kid.to_owned(),
    };
    Ok(match key.phase() {
        KeyPhase::Published => vec![remove],
        KeyPhase::Retired if remove_now => vec![remove],
        KeyPhase::Retired => Vec::new(),
        KeyPhase::Active => {
            let others_active = active(keys).iter().any(|k| k.kid != kid);
            let mut steps = Vec::new();
            if !others_active {
                steps.push(match oldest_published(keys) {
                    Some(s) => KeyStep::Activate { kid: s.kid.clone() },
                    None => KeyStep::Create { activate: true },
                });
            }
            steps.push(if remove_now {
                remove
            } else {
                KeyStep::Retire {
                    kid: kid.to_owned(),
                    remove_after: now.saturating_add(schedule.retire_grace()),
                }
            });
            steps
        }
    })
}

/// The store changes for `steps` at `now`. `new_key` makes the record of a
/// fresh key (created and published at `now`, not active); `Create` steps
/// call it once each.
pub fn changes_for<E>(
    steps: &[KeyStep],
    keys: &[SigningKeyRecord],
    now: i64,
    mut new_key: impl FnMut() -> Result<SigningKeyRecord, E>,
) -> Result<Vec<KeyChange>, E> {
    let activated_at = |kid: &str| {
        keys.iter()
            .find(|k| k.kid == kid)
            .and_then(|k| k.activated_at)
    };
    steps
        .iter()
        .map(|step| {
            Ok(match step {
                KeyStep::Create { activate } => {
                    let mut record = new_key()?;
                    record.activated_at = activate.then_some(now);
                    KeyChange::Insert(record)
                }
                KeyStep::Activate { kid } => KeyChange::SetLifecycle {
                    kid: kid.clone(),
                    activated_at: Some(now),
                    retired_at: None,
                    remove_after: None,
                },
                KeyStep::Retire { kid, remove_after } => KeyChange::SetLifecycle {
                    kid: kid.clone(),
                    activated_at: activated_at(kid),
                    retired_at: Some(now),
                    remove_after: Some(*remove_after),
                },
                KeyStep::Remove { kid } => KeyChange::Remove { kid: kid.clone() },
            })
        })
        .collect()
}

/// A key lifecycle event, as written to the audit log (target
/// `oauth_mcp::audit`, field `event` = [`KeyEventKind::as_str`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// What happened.
    pub kind: KeyEventKind,
    /// To which key.
    pub kid: String,
    /// When (Unix time).
    pub at: i64,
    /// For `key.retired`: when the key leaves the JWKS.
    pub remove_after: Option<i64>,
}

impl KeyEvent {
    /// This step as an audit event ([`crate::events`]), caused by `cause`
    /// (`schedule`, `rotate`, `retire`).
    pub fn audit<'a>(&'a self, cause: &'a str) -> AuditEvent<'a> {
        let (kid, at) = (self.kid.as_str(), self.at);
        match self.kind {
            KeyEventKind::Created => AuditEvent::KeyCreated { kid, at, cause },
            KeyEventKind::Published => AuditEvent::KeyPublished { kid, at, cause },
            KeyEventKind::Activated => AuditEvent::KeyActivated { kid, at, cause },
            KeyEventKind::Retired => AuditEvent::KeyRetired {
                kid,
                at,
                remove_after: self.remove_after.unwrap_or(at),
                cause,
            },
            KeyEventKind::Removed => AuditEvent::KeyRemoved { kid, at, cause },
        }
    }
}

/// The kinds of [`KeyEvent`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEventKind {
    /// `key.created`.
    Created,
    /// `key.published`.
    Published,
    /// `key.activated`.
    Activated,
    /// `key.retired`.
    Retired,
    /// `key.removed`.
    Removed,
}

impl KeyEventKind {
    /// The audit event name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "key.created",
            Self::Published => "key.published",
            Self::Activated => "key.activated",
            Self::Retired => "key.retired",
            Self::Removed => "key.removed",
        }
    }
}

/// The lifecycle events that writing `changes` over `before` amounts to,
/// in order.
pub fn events_for(changes: &[KeyChange], before: &[SigningKeyRecord], now: i64) -> Vec<KeyEvent> {
    let event = |kind, kid: &str, remove_after| KeyEvent {
        kind,
        kid: kid.to_owned(),
        at: now,
        remove_after,
    };
    let mut out = Vec::new();
    for change in changes {
        match change {
            KeyChange::Insert(r) => {
                out.push(event(KeyEventKind::Created, &r.kid, None));
                out.push(event(KeyEventKind::Published, &r.kid, None));
                if r.activated_at.is_some() {
                    out.push(event(KeyEventKind::Activated, &r.kid, None));
                }
            }
            KeyChange::SetLifecycle {
                kid,
                activated_at,
                retired_at,
                remove_after,
            } => {
                let old = before.iter().find(|k| &k.kid == kid);
                if activated_at.is_some() && old.is_none_or(|o| o.activated_at.is_none()) {
                    out.push(event(KeyEventKind::Activated, kid, None));
                }
                if retired_at.is_some() && old.is_none_or(|o| o.retired_at.is_none()) {
                    out.push(event(KeyEventKind::Retired, kid, *remove_after));
                }
            }
            KeyChange::Remove { kid } => out.push(event(KeyEventKind::Removed, kid, None)),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
