use super::*;
use crate::store::MemoryStore;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const T0: i64 = 1_800_000_000_000;

fn limiter(
    cfg: RateLimitConfig,
    store: Option<Arc<dyn RateLimitStore>>,
) -> (RateLimiter, RateClock) {
    let clock = RateClock::manual(T0);
    (
        RateLimiter::with_clock(cfg, store, clock.clone()).unwrap(),
        clock,
    )
}

fn two_per_minute() -> RateLimitConfig {
    RateLimitConfig::default()
        .limit(Endpoint::Token, Limit::per_minute(2))
        .client_limit(Endpoint::Token, Limit::per_minute(3))
}

async fn outcome(l: &RateLimiter, e: Endpoint, key: RateKey<'_>) -> Result<(), RateLimited> {
    l.check(e, &key).await.map_err(|e| match e {
        RateLimitError::Limited(l) => l,
        RateLimitError::Store(s) => panic!("store error {s}"),
    })
}

async fn burst_then_wait(l: &RateLimiter, clock: &RateClock) {
    let a = RateKey::address(ip("203.0.113.1"));
    assert!(outcome(l, Endpoint::Token, a).await.is_ok());
    assert!(outcome(l, Endpoint::Token, a).await.is_ok());
    let r = outcome(l, Endpoint::Token, a).await.unwrap_err();
    assert_eq!(
        (r.endpoint, r.scope, r.retry_after, r.retry_after_secs()),
        (
            Endpoint::Token,
            LimitScope::Address,
            Duration::from_secs(30),
            30
        )
    );
    assert!(
        r.description().contains("POST /token") && r.description().contains("retry after 30 s"),
        "{}",
        r.description()
    );
    // Another address and another endpoint have their own buckets.
    assert!(
        outcome(l, Endpoint::Token, RateKey::address(ip("203.0.113.2")))
            .await
            .is_ok()
    );
    assert!(outcome(l, Endpoint::Register, a).await.is_ok());
    clock.advance(Duration::from_millis(29_999));
    assert!(outcome(l, Endpoint::Token, a).await.is_err(), "not yet");
    clock.advance(Duration::from_millis(1));
    assert!(
        outcome(l, Endpoint::Token, a).await.is_ok(),
        "one cell refilled"
    );
    assert!(outcome(l, Endpoint::Token, a).await.is_err());
}

#[tokio::test]
async fn in_process_burst_then_refill() {
    let (l, clock) = limiter(two_per_minute(), None);
    burst_then_wait(&l, &clock).await;
}

#[tokio::test]
async fn shared_store_burst_then_refill() {
    let (l, clock) = limiter(two_per_minute(), Some(Arc::new(MemoryStore::new())));
    burst_then_wait(&l, &clock).await;
}

#[tokio::test]
async fn replicas_sharing_a_store_share_the_limit() {
    let store: Arc<dyn RateLimitStore> = Arc::new(MemoryStore::new());
    let (a, _) = limiter(two_per_minute(), Some(store.clone()));
    let (b, _) = limiter(two_per_minute(), Some(store));
    let from = RateKey::address(ip("198.51.100.1"));
    assert!(outcome(&a, Endpoint::Token, from).await.is_ok());
    assert!(outcome(&b, Endpoint::Token, from).await.is_ok());
    assert!(outcome(&a, Endpoint::Token, from).await.is_err());
    assert!(outcome(&b, Endpoint::Token, from).await.is_err());
    // In process, each replica would have allowed two.
    let (c, _) = limiter(two_per_minute(), None);
    let (d, _) = limiter(two_per_minute(), None);
    for l in [&c, &c, &d, &d] {
        assert!(outcome(l, Endpoint::Token, from).await.is_ok());
    }
}

#[tokio::test]
async fn client_limit_counts_across_addresses() {
    let (l, _) = limiter(
        two_per_minute().limit(Endpoint::Token, Limit::per_minute(100)),
        None,
    );
    for i in 0..3 {
        let key = RateKey::address(ip(&format!("192.0.2.{i}"))).with_client("app");
        assert!(outcome(&l, Endpoint::Token, key).await.is_ok());
    }
    let r = outcome(
        &l,
        Endpoint::Token,
        RateKey::address(ip("192.0.2.9")).with_client("app"),
    )
    .await
    .unwrap_err();
    assert_eq!(r.scope, LimitScope::Client);
    assert!(r.description().contains("by this client"));
    assert!(
        outcome(
            &l,
            Endpoint::Token,
            RateKey::address(ip("192.0.2.9")).with_client("other-app")
        )
        .await
        .is_ok()
    );
}

#[tokio::test]
async fn an_address_refusal_does_not_spend_the_clients_budget() {
    let (l, _) = limiter(two_per_minute(), None);
    let key = RateKey::address(ip("192.0.2.1")).with_client("app");
    for _ in 0..2 {
        assert!(outcome(&l, Endpoint::Token, key).await.is_ok());
    }
    for _ in 0..5 {
        assert_eq!(
            outcome(&l, Endpoint::Token, key).await.unwrap_err().scope,
            LimitScope::Address
        );
    }
    // The client has used 2 of 3.
    let elsewhere = RateKey::address(ip("192.0.2.2")).with_client("app");
    assert!(outcome(&l, Endpoint::Token, elsewhere).await.is_ok());
    assert!(outcome(&l, Endpoint::Token, elsewhere).await.is_err());
}

#[tokio::test]
async fn ipv6_counts_by_slash_64() {
    let (l, _) = limiter(two_per_minute(), None);
    for a in ["2001:db8:1:2::1", "2001:db8:1:2:ffff::9"] {
        assert!(
            outcome(&l, Endpoint::Token, RateKey::address(ip(a)))
                .await
                .is_ok()
        );
    }
    assert!(
        outcome(
            &l,
            Endpoint::Token,
            RateKey::address(ip("2001:db8:1:2::77"))
        )
        .await
        .is_err(),
        "the same /64"
    );
    assert!(
        outcome(&l, Endpoint::Token, RateKey::address(ip("2001:db8:1:3::1")))
            .await
            .is_ok(),
        "another /64"
    );
    assert!(
        outcome(
            &l,
            Endpoint::Token,
            RateKey::address(ip("::ffff:192.0.2.1"))
        )
        .await
        .is_ok()
    );
    assert!(
        outcome(&l, Endpoint::Token, RateKey::address(ip("192.0.2.1")))
            .await
            .is_ok()
    );
    assert!(
        outcome(&l, Endpoint::Token, RateKey::address(ip("192.0.2.1")))
            .await
            .is_err(),
        "IPv4-mapped and plain IPv4 are one address"
    );
}

#[tokio::test]
async fn disabled_endpoints_are_unlimited() {
    let (l, _) = limiter(two_per_minute().dangerously_disable(Endpoint::Token), None);
    let key = RateKey::address(ip("192.0.2.1")).with_client("app");
    for _ in 0..50 {
        assert!(outcome(&l, Endpoint::Token, key).await.is_ok());
    }
    let (l, _) = limiter(RateLimitConfig::default().dangerously_disable_all(), None);
    for e in Endpoint::ALL {
        for _ in 0..1000 {
            assert!(outcome(&l, e, key).await.is_ok());
        }
    }
}

#[tokio::test]
async fn tracked_addresses_are_bounded() {
    let cfg = RateLimitConfig::default()
        .dangerously_disable_all()
        .limit(Endpoint::AuthorizeGet, Limit::per_minute(1))
        .max_tracked_keys(100);
    let (l, clock) = limiter(cfg, None);
    let mut refused = 0;
    for i in 0..1000u32 {
        let a = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
        if outcome(&l, Endpoint::AuthorizeGet, RateKey::address(a))
            .await
            .is_err()
        {
            refused += 1;
        }
    }
    assert!(l.tracked_keys() <= 101, "tracked {}", l.tracked_keys());
    assert_eq!(
        refused,
        1000 - 101,
        "past the cap, new addresses share one bucket"
    );
    // Once the buckets are full again, new addresses get their own.
    clock.advance(Duration::from_secs(121));
    assert!(
        outcome(
            &l,
            Endpoint::AuthorizeGet,
            RateKey::address(ip("192.0.2.200"))
        )
        .await
        .is_ok()
    );
    assert!(
        l.tracked_keys() <= 2,
        "stale buckets swept: {}",
        l.tracked_keys()
    );
}

#[tokio::test]
async fn default_limits_cover_every_endpoint() {
    let cfg = RateLimitConfig::default();
    for e in Endpoint::ALL {
        assert!(cfg.get(e, LimitScope::Address).is_some(), "{e:?}");
    }
    let (l, _) = limiter(cfg, None);
    let key = RateKey::address(ip("192.0.2.1"));
    let mut allowed = 0;
    while outcome(&l, Endpoint::Register, key).await.is_ok() {
        allowed += 1;
        assert!(allowed <= 30);
    }
    assert_eq!(allowed, 30, "30 registrations per 10 minutes");
}

#[test]
fn bad_limits_fail_at_start_up() {
    for (cfg, needle) in [
        (
            RateLimitConfig::default().limit(Endpoint::Token, Limit::per_minute(0)),
            "allows 0 requests",
        ),
        (
            RateLimitConfig::default().limit(
                Endpoint::Register,
                Limit::per_period(5, Duration::from_millis(10)),
            ),
            "between 1 second and 24 hours",
        ),
        (
            RateLimitConfig::default().client_limit(
                Endpoint::Revoke,
                Limit::per_period(5, Duration::from_secs(2 * 86_400)),
            ),
            "between 1 second and 24 hours",
        ),
        (
            RateLimitConfig::default().limit(
                Endpoint::Token,
                Limit::per_period(5000, Duration::from_secs(1)),
            ),
            "more than one request per millisecond",
        ),
        (
            RateLimitConfig::default().max_tracked_keys(0),
            "max_tracked_keys",
        ),
    ] {
        let e = RateLimiter::new(cfg).unwrap_err();
        assert_eq!(e.field, "rate_limits");
        assert!(e.reason.contains(needle), "{}", e.reason);
    }
}

#[test]
fn retry_after_rounds_up() {
    let r = |ms| RateLimited {
        endpoint: Endpoint::Token,
        scope: LimitScope::Address,
        retry_after: Duration::from_millis(ms),
        limit: Limit::per_minute(1),
    };
    assert_eq!(r(0).retry_after_secs(), 1);
    assert_eq!(r(1).retry_after_secs(), 1);
    assert_eq!(r(1000).retry_after_secs(), 1);
    assert_eq!(r(1001).retry_after_secs(), 2);
}

#[test]
fn bucket_names_are_short_and_distinct() {
    let a = bucket_name(
        Endpoint::Token,
        LimitScope::Address,
        &BucketKey::Addr(ip("2001:db8::1")),
    );
    assert_eq!(a, "rl:token:addr:2001:db8::1");
    let long = "x".repeat(10_000);
    let c = bucket_name(
        Endpoint::Token,
        LimitScope::Client,
        &BucketKey::Client(sha256(long.as_bytes())),
    );
    assert!(c.len() < 64, "{c}");
    assert_eq!(
        address_bucket(ip("2001:db8:1:2:3:4:5:6")),
        ip("2001:db8:1:2::")
    );
}
