//! The lifecycle rule over simulated months under a `ManualClock`.

use std::collections::{BTreeMap, HashMap};

use super::*;
use crate::clock::{Clock, ManualClock};
use crate::store::keys::{StoredPrivateKey, apply_key_changes};
use crate::token::SigningAlgorithm;

const HOUR: i64 = 3600;

fn schedule() -> KeySchedule {
    KeySchedule::new(Duration::from_secs(HOUR as u64))
        .validate()
        .unwrap()
}

fn record(kid: &str, now: i64) -> SigningKeyRecord {
    SigningKeyRecord {
        kid: kid.to_owned(),
        algorithm: SigningAlgorithm::Es256,
        public_jwk: "{}".into(),
        private_key: StoredPrivateKey::Unencrypted(Vec::new()),
        created_at: now,
        published_at: now,
        activated_at: None,
        retired_at: None,
        remove_after: None,
    }
}

/// A store of records driven by the rule, as a replica's maintenance would.
struct Sim {
    keys: BTreeMap<String, SigningKeyRecord>,
    made: usize,
    events: Vec<KeyEvent>,
}

impl Sim {
    fn new() -> Self {
        Self {
            keys: BTreeMap::new(),
            made: 0,
            events: Vec::new(),
        }
    }

    fn list(&self) -> Vec<SigningKeyRecord> {
        self.keys.values().cloned().collect()
    }

    fn apply(&mut self, steps: &[KeyStep], now: i64) {
        let before = self.list();
        let made = &mut self.made;
        let changes = changes_for(steps, &before, now, || {
            *made += 1;
            Ok::<_, ()>(record(&format!("k{made}"), now))
        })
        .unwrap();
        apply_key_changes(&mut self.keys, &changes).unwrap();
        self.events.extend(events_for(&changes, &before, now));
    }

    /// Runs maintenance to a fixed point; returns the next due time.
    fn maintain(&mut self, now: i64, schedule: &KeySchedule) -> Option<i64> {
        for _ in 0..5 {
            let plan = plan_maintenance(&self.list(), now, schedule);
            if plan.steps.is_empty() {
                return plan.next_due;
            }
            self.apply(&plan.steps, now);
        }
        panic!("maintenance did not settle: {:?}", self.list());
    }

    fn active(&self) -> Vec<&SigningKeyRecord> {
        self.keys
            .values()
            .filter(|k| k.phase() == KeyPhase::Active)
            .collect()
    }

    fn jwks(&self) -> Vec<String> {
        self.keys.keys().cloned().collect()
    }
}

#[test]
fn months_of_scheduled_rotation_never_leave_a_token_unverifiable() {
    let s = schedule();
    let clock = ManualClock::new();
    let start = clock.now();
    let mut sim = Sim::new();
    let max_age = s.jwks_max_age();
    assert!(max_age > 0 && max_age < s.publish_lead_secs());

    // A resource server that caches the JWKS for exactly max-age and never
    // refetches on an unknown kid (the strictest kind).
    let mut rs_cache: Vec<String> = Vec::new();
    let mut rs_fetched: Option<i64> = None;
    // Tokens minted: (kid, exp).
    let mut tokens: Vec<(String, i64)> = Vec::new();
    let validator_leeway = 30;

    let tick = 600;
    let mut steps = 0;
    while clock.now() < start + 200 * DAY {
        let now = clock.now();
        // The resource server refreshes its cache before this tick's
        // maintenance (the worst case: it misses what is published now).
        if rs_fetched.is_none_or(|f| now - f >= max_age) {
            rs_cache = sim.jwks();
            rs_fetched = Some(now);
        }
        let next_due = sim.maintain(now, &s);
        assert!(
            next_due.is_some_and(|d| d > now),
            "something is always scheduled"
        );

        let active = sim.active();
        assert_eq!(active.len(), 1, "exactly one active key at {now}");
        let signer = active[0].clone();
        if sim.made > 1 {
            assert!(
                signer.published_at + s.publish_lead_secs() <= now,
                "a successor signs only after the publish lead"
            );
        }
        // Mint a token and check it verifies at the resource server.
        tokens.push((signer.kid.clone(), now + HOUR));
        if sim.made > 1 || now - start >= max_age {
            assert!(
                rs_cache.contains(&signer.kid),
                "the resource server's cached JWKS lacks the signing key {} at {now}",
                signer.kid
            );
        }
        // Every unexpired token's key is still published.
        let jwks = sim.jwks();
        for (kid, exp) in &tokens {
            if exp + validator_leeway > now {
                assert!(
                    jwks.contains(kid),
                    "key {kid} removed before its token expired"
                );
            }
        }
        assert!(jwks.len() <= 3, "the JWKS stays small: {jwks:?}");
        tokens.retain(|(_, exp)| exp + validator_leeway > now);
        clock.advance(tick);
        steps += 1;
    }
    assert!(steps > 20_000);

    // Six rotations in 200 days (30-day period), each in order.
    let activated = sim
        .events
        .iter()
        .filter(|e| e.kind == KeyEventKind::Activated)
        .count();
    assert_eq!(activated, 7, "{:?}", sim.events);
    let mut seen: HashMap<&str, Vec<(KeyEventKind, i64)>> = HashMap::new();
    for e in &sim.events {
        seen.entry(&e.kid).or_default().push((e.kind, e.at));
    }
    for (kid, evs) in &seen {
        let kinds: Vec<_> = evs.iter().map(|(k, _)| *k).collect();
        let full = [
            KeyEventKind::Created,
            KeyEventKind::Published,
            KeyEventKind::Activated,
            KeyEventKind::Retired,
            KeyEventKind::Removed,
        ];
        assert!(
            full.starts_with(&kinds),
            "{kid}: events out of order {kinds:?}"
        );
        assert!(
            evs.windows(2).all(|w| w[0].1 <= w[1].1),
            "{kid}: times go back"
        );
        if kinds.len() == 5 {
            let t = |k| evs.iter().find(|(x, _)| *x == k).map(|(_, t)| *t).unwrap();
            let (published, activated, retired, removed) = (
                t(KeyEventKind::Published),
                t(KeyEventKind::Activated),
                t(KeyEventKind::Retired),
                t(KeyEventKind::Removed),
            );
            if *kid != "k1" {
                assert!(activated - published >= s.publish_lead_secs());
                assert!(activated - published < s.publish_lead_secs() + tick);
            }
            let period = retired - activated;
            assert!(
                (30 * DAY..30 * DAY + tick).contains(&period),
                "{kid}: active {period} s"
            );
            assert!(removed - retired >= s.retire_grace());
            assert!(removed - retired < s.retire_grace() + tick);
        }
    }
}

#[test]
fn first_key_is_created_active_and_the_plan_says_what_is_next() {
    let s = schedule();
    let now = 1_800_000_000;
    let mut sim = Sim::new();
    assert_eq!(
        plan_maintenance(&[], now, &s).steps,
        vec![KeyStep::Create { activate: true }]
    );
    let next = sim.maintain(now, &s);
    assert_eq!(
        next,
        Some(now + 30 * DAY - DAY),
        "successor due a lead before the period ends"
    );
    let kinds: Vec<_> = sim.events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["key.created", "key.published", "key.activated"]);
    // Without scheduled rotation nothing is ever due.
    let never = s.without_scheduled_rotation();
    assert_eq!(
        plan_maintenance(&sim.list(), now + 400 * DAY, &never),
        KeyPlan::default()
    );
}

#[test]
fn repairs_a_key_set_edited_by_hand() {
    let s = schedule();
    let now = 1_800_000_000;
    let mut a = record("a", now - 10);
    a.activated_at = Some(now - 10);
    let mut b = record("b", now - 5);
    b.activated_at = Some(now - 5);
    // Two active keys: the older one retires.
    let plan = plan_maintenance(&[a.clone(), b.clone()], now, &s);
    assert_eq!(
        plan.steps,
        vec![KeyStep::Retire {
            kid: "a".into(),
            remove_after: now + s.retire_grace()
        }]
    );
    // No active key but a published one: it takes over at once.
    let p = record("p", now - 1);
    let plan = plan_maintenance(std::slice::from_ref(&p), now, &s);
    assert_eq!(plan.steps, vec![KeyStep::Activate { kid: "p".into() }]);
    // A retired key without remove_after goes after the grace.
    let mut r = record("r", now - 100);
    r.activated_at = Some(now - 100);
    r.retired_at = Some(now - 50);
    let plan = plan_maintenance(&[b.clone(), r.clone()], now, &s);
    assert_eq!(plan.next_due, Some(now - 50 + s.retire_grace()));
    // An earlier remove_after (a tool assuming shorter tokens) does not cut
    // this schedule's grace short; a later one is honoured.
    r.remove_after = Some(now - 40);
    let plan = plan_maintenance(&[b.clone(), r.clone()], now, &s);
    assert!(plan.steps.is_empty());
    assert_eq!(plan.next_due, Some(now - 50 + s.retire_grace()));
    r.remove_after = Some(now + 10 * DAY);
    let plan = plan_maintenance(&[b, r], now, &s);
    assert_eq!(plan.next_due, Some(now + 10 * DAY));
}

#[test]
fn operator_rotation_scheduled_and_immediate() {
    let s = schedule();
    let now = 1_800_000_000;
    let mut sim = Sim::new();
    sim.maintain(now, &s);
    let k1 = sim.active()[0].kid.clone();

    // Scheduled: a successor published now, active after the lead.
    let steps = plan_rotation(&sim.list(), now + 10, &s, false).unwrap();
    assert_eq!(steps, vec![KeyStep::Create { activate: false }]);
    sim.apply(&steps, now + 10);
    let k2 = "k2".to_owned();
    assert_eq!(
        plan_rotation(&sim.list(), now + 20, &s, false),
        Err(KeyPlanRefusal::SuccessorPending {
            kid: k2.clone(),
            activates_at: now + 10 + DAY
        })
    );
    assert_eq!(sim.maintain(now + 20, &s), Some(now + 10 + DAY));
    assert_eq!(sim.active()[0].kid, k1);
    sim.maintain(now + 10 + DAY, &s);
    assert_eq!(sim.active()[0].kid, k2);

    // Immediate with no successor: a new key signs now, k2 retires now.
    let t = now + 2 * DAY;
    let steps = plan_rotation(&sim.list(), t, &s, true).unwrap();
    assert_eq!(
        steps,
        vec![
            KeyStep::Create { activate: true },
            KeyStep::Retire {
                kid: k2.clone(),
                remove_after: t + s.retire_grace()
            }
        ]
    );
    sim.apply(&steps, t);
    assert_eq!(sim.active()[0].kid, "k3");
    let retired: Vec<_> = sim
        .events
        .iter()
        .filter(|e| e.kind == KeyEventKind::Retired)
        .collect();
    assert_eq!(
        retired.last().unwrap().remove_after,
        Some(t + s.retire_grace())
    );

    // Immediate with a published successor: the successor takes over.
    sim.apply(
        &plan_rotation(&sim.list(), t + 1, &s, false).unwrap(),
        t + 1,
    );
    let steps = plan_rotation(&sim.list(), t + 2, &s, true).unwrap();
    assert_eq!(steps[0], KeyStep::Activate { kid: "k4".into() });
    sim.apply(&steps, t + 2);
    assert_eq!(sim.active()[0].kid, "k4");
}

#[test]
fn operator_retirement() {
    let s = schedule();
    let now = 1_800_000_000;
    let mut sim = Sim::new();
    sim.maintain(now, &s);
    assert_eq!(
        plan_retirement(&sim.list(), "nope", now, &s, false),
        Err(KeyPlanRefusal::UnknownKid("nope".into()))
    );
    // Retiring the active key hands over to a new key at once.
    let steps = plan_retirement(&sim.list(), "k1", now + 5, &s, false).unwrap();
    assert_eq!(
        steps,
        vec![
            KeyStep::Create { activate: true },
            KeyStep::Retire {
                kid: "k1".into(),
                remove_after: now + 5 + s.retire_grace()
            }
        ]
    );
    sim.apply(&steps, now + 5);
    // Retiring it again changes nothing; with remove_now it goes.
    assert_eq!(
        plan_retirement(&sim.list(), "k1", now + 6, &s, false),
        Ok(vec![])
    );
    assert_eq!(
        plan_retirement(&sim.list(), "k1", now + 6, &s, true),
        Ok(vec![KeyStep::Remove { kid: "k1".into() }])
    );
    // A published key that never signed is simply removed.
    sim.apply(
        &plan_rotation(&sim.list(), now + 7, &s, false).unwrap(),
        now + 7,
    );
    assert_eq!(
        plan_retirement(&sim.list(), "k3", now + 8, &s, false),
        Ok(vec![KeyStep::Remove { kid: "k3".into() }])
    );
    // A compromised active key: the published successor takes over and the
    // key leaves the JWKS at once.
    let steps = plan_retirement(&sim.list(), "k2", now + 9, &s, true).unwrap();
    assert_eq!(
        steps,
        vec![
            KeyStep::Activate { kid: "k3".into() },
            KeyStep::Remove { kid: "k2".into() }
        ]
    );
    sim.apply(&steps, now + 9);
    assert_eq!(sim.jwks(), ["k1", "k3"]);
}

#[test]
fn schedule_validation_names_the_field() {
    let base = KeySchedule::new(Duration::from_secs(3600));
    assert_eq!(base.jwks_max_age(), 3600);
    assert_eq!(base.jwks_cache_control(), "public, max-age=3600");
    assert_eq!(base.retire_grace(), 3900);
    let short = base
        .publish_lead(Duration::from_secs(600))
        .validate()
        .unwrap();
    assert_eq!(
        short.jwks_max_age(),
        300,
        "half the lead when that is shorter"
    );
    let e = base
        .rotation_period(Duration::from_secs(DAY as u64))
        .validate()
        .unwrap_err();
    assert_eq!(e.field, "key_rotation_period");
    assert!(e.reason.contains("publish lead"), "{e}");
    let e = base.publish_lead(Duration::ZERO).validate().unwrap_err();
    assert_eq!(e.field, "key_publish_lead");
    let e = KeySchedule::new(Duration::ZERO).validate().unwrap_err();
    assert_eq!(e.field, "access_token_ttl");
    assert!(base.without_scheduled_rotation().validate().is_ok());
}
