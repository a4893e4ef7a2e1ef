//! The local JWT validator: tokens this library issued, checked with the
//! keys this process holds.

use std::sync::Arc;

use async_trait::async_trait;
use serde::Deserialize;

use super::cached::{self, ContextCache, HitPolicy, RevocationHub, RevocationSync};
use super::{AuthContext, Identity, TokenRejection, TokenValidator, jwt};
use crate::clock::SharedClock;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;
use crate::store::TokenStore;
use crate::token::KeyRing;
use crate::token_cache::TokenCacheConfig;

#[derive(Deserialize)]
struct RawClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<serde_json::Value>,
    exp: Option<i64>,
    nbf: Option<i64>,
    jti: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    gid: Option<String>,
}

/// Validates JWT access tokens signed by keys this process holds: signature,
/// `typ`, `iss`, `aud` (this resource, after canonicalisation), `exp`/`nbf`
/// with a small leeway, and optionally that the grant was not revoked.
///
/// Validated tokens are cached (on by default, see [`TokenCacheConfig`];
/// [`LocalJwtValidator::without_token_cache`] turns it off): the same token
/// again costs no signature check and no store lookup, until its `exp`, the
/// cache's TTL, or a revocation — at once when the [`crate::AuthServer`]
/// of this validator revokes it, and within 1 s when another instance
/// sharing the store does (see [`crate::validate::MAX_STALENESS`]). Clones
/// share the cache.
#[derive(Clone)]
pub struct LocalJwtValidator {
    keys: KeyRing,
    issuer: String,
    audience: ResourceUri,
    leeway: i64,
    clock: SharedClock,
    revocations: Option<Arc<dyn TokenStore>>,
    cache_config: Option<TokenCacheConfig>,
    cache: Option<Arc<Cache>>,
}

/// The cache of a validator and, with a revocation check, its link to the
/// store's revocation feed.
struct Cache {
    tokens: Arc<ContextCache>,
    sync: Option<RevocationSync>,
}

impl std::fmt::Debug for LocalJwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalJwtValidator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl LocalJwtValidator {
    /// A validator for tokens from `issuer` meant for `audience`, signed
    /// by `keys` (a [`crate::token::KeySet`], an `Arc` of one, or a
    /// [`KeyRing`] that follows the store's keys).
    pub fn new(
        keys: impl Into<KeyRing>,
        issuer: impl Into<String>,
        audience: ResourceUri,
        clock: SharedClock,
    ) -> Self {
        let mut v = Self {
            keys: keys.into(),
            issuer: issuer.into(),
            audience,
            leeway: 30,
            clock,
            revocations: None,
            cache_config: Some(TokenCacheConfig::default()),
            cache: None,
        };
        v.rebuild_cache();
        v
    }

    fn rebuild_cache(&mut self) {
        self.cache = self.cache_config.as_ref().map(|cfg| {
            Arc::new(Cache {
                tokens: cached::new_cache(cfg),
                sync: self.revocations.clone().map(RevocationSync::new),
            })
        });
    }

    /// Caches validated tokens within `config`'s limits (the default is
    /// [`TokenCacheConfig::default`]).
    pub fn with_token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.cache_config = Some(config);
        self.rebuild_cache();
        self
    }

    /// Validates every token in full, every time (signature, claims and,
    /// with a revocation check, a store lookup).
    pub fn without_token_cache(mut self) -> Self {
        self.cache_config = None;
        self.rebuild_cache();
        self
    }

    /// Tokens held in the cache now (0 without one).
    pub fn cached_tokens(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.tokens.entry_count())
    }

    /// Lets `hub` drop this validator's cached tokens of a grant at once.
    pub(crate) fn notified_by(self, hub: &RevocationHub) -> Self {
        if let Some(c) = &self.cache {
            hub.register(&c.tokens);
        }
        self
    }

    /// Clock-skew allowance for `exp` and `nbf`, in seconds (default 30).
    pub fn with_leeway(mut self, secs: i64) -> Self {
        self.leeway = secs;
        self
    }

    /// Also refuse tokens whose grant this store knows to be revoked (code
    /// replay, refresh-token reuse, revocation). Costs one store lookup per
    /// token not in the cache; cached tokens follow the store's revocation
    /// feed (see the type's documentation).
    pub fn with_revocation_check(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.revocations = Some(store);
        self.rebuild_cache();
        self
    }

    /// Checks everything but revocation with the keys in use now;
    /// synchronous, so a key this process has not loaded yet is unknown
    /// (see [`LocalJwtValidator::validate_signed`]).
    pub fn validate_sync(
        &self,
        token: &str,
    ) -> Result<(AuthContext, Option<String>), TokenRejection> {
        let header = jwt::header(token)?;
        jwt::check_typ(header.typ.as_deref(), false)?;
        let kid = header.kid.clone().unwrap_or_default();
        let keys = self.keys.current();
        let key = keys
            .find(&kid)
            .ok_or_else(|| TokenRejection::UnknownKey(kid.clone()))?;
        if header.alg != key.algorithm().jwt_alg() {
            return Err(TokenRejection::Algorithm(format!("{:?}", header.alg)));
        }
        let c: RawClaims = jwt::verified_claims(token, key.decoding(), header.alg)?;
        jwt::check_claims(
            &jwt::ClaimView {
                iss: c.iss.as_deref(),
                aud: c.aud.as_ref(),
                exp: c.exp,
                nbf: c.nbf,
            },
            &self.issuer,
            &self.audience,
            self.clock.now(),
            self.leeway,
        )?;
        let sub = c.sub.ok_or(TokenRejection::MissingClaim("sub"))?;
        let exp = c.exp.unwrap_or_default();
        Ok((
            AuthContext::validated(Identity {
                subject: sub,
                client_id: c.client_id.unwrap_or_default(),
                scopes: ScopeSet::parse(c.scope.as_deref().unwrap_or("")).unwrap_or_default(),
                audience: self.audience.as_str().to_owned(),
                issuer: self.issuer.clone(),
                expires_at: exp,
                token_id: c.jti,
            }),
            c.gid,
        ))
    }
}

impl LocalJwtValidator {
    /// Checks everything but revocation, following the store's keys: the
    /// key set is refreshed when its interval has passed, and re-read when
    /// the token names a key not loaded yet (another replica, or an
    /// operator, may just have activated it). Returns the grant id too.
    pub async fn validate_signed(
        &self,
        token: &str,
    ) -> Result<(AuthContext, Option<String>), TokenRejection> {
        self.keys.refresh_if_due().await;
        match self.validate_sync(token) {
            Err(TokenRejection::UnknownKey(kid)) if self.keys.reload_for_kid(&kid).await => {
                self.validate_sync(token)
            }
            other => other,
        }
    }
}

impl LocalJwtValidator {
    /// Refuses a token whose grant the store knows to be revoked.
    async fn check_grant(&self, grant_id: Option<&str>) -> Result<(), TokenRejection> {
        if let (Some(store), Some(gid)) = (&self.revocations, grant_id) {
            match store.get_grant(gid).await {
                Ok(Some(g)) if g.revoked => return Err(TokenRejection::Revoked),
                // A grant this store never saw (another instance with its own
                // store, or before a restart of a memory store) is not revoked
                // here; the signature, issuer, audience and expiry still hold.
                Ok(_) => {}
                Err(e) => return Err(TokenRejection::Unavailable(e.to_string())),
            }
        }
        Ok(())
    }
}

#[async_trait]
impl TokenValidator for LocalJwtValidator {
    async fn validate(&self, token: &str) -> Result<AuthContext, TokenRejection> {
        let Some(cache) = &self.cache else {
            let (ctx, gid) = self.validate_signed(token).await?;
            self.check_grant(gid.as_deref()).await?;
            return Ok(ctx);
        };
        let policy = match &cache.sync {
            Some(sync) => sync.hit_policy(&cache.tokens).await,
            None => HitPolicy::Serve,
        };
        let now = self.clock.now();
        if policy != HitPolicy::Bypass
            && let Some((ctx, grant_id)) = cache.tokens.get_with_grant(token, now)
        {
            if policy == HitPolicy::AskStore {
                self.check_grant(grant_id.as_deref()).await?;
            }
            return Ok(ctx);
        }
        let ticket = cache.tokens.ticket();
        let (ctx, gid) = self.validate_signed(token).await?;
        self.check_grant(gid.as_deref()).await?;
        cached::remember(&cache.tokens, token, &ctx, gid.as_deref(), now, ticket);
        Ok(ctx)
    }

    fn validate_now(&self, token: &[u8]) -> Option<AuthContext> {
        let cache = self.cache.as_ref()?;
        if cache
            .sync
            .as_ref()
            .is_some_and(|s| !s.serve_without_waiting())
        {
            return None;
        }
        cache.tokens.get(token, self.clock.now())
    }

    fn issuer(&self) -> Option<&str> {
        Some(&self.issuer)
    }

    fn audience(&self) -> Option<&ResourceUri> {
        Some(&self.audience)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, SystemClock};
    use crate::token::{KeySet, MintRequest, SigningAlgorithm, SigningKey, TokenSigner};

    const ISS: &str = "https://as.example";

    fn setup(alg: SigningAlgorithm) -> (TokenSigner, LocalJwtValidator, ManualClock) {
        let keys = Arc::new(KeySet::new(SigningKey::generate(alg).unwrap()));
        let clock = ManualClock::new();
        let aud = ResourceUri::parse("https://mcp.example/mcp").unwrap();
        let v = LocalJwtValidator::new(keys.clone(), ISS, aud, Arc::new(clock.clone()));
        (TokenSigner::new(keys, ISS), v, clock)
    }

    fn mint(s: &TokenSigner, aud: &str, now: i64) -> String {
        let scope = ScopeSet::parse("mcp").unwrap();
        s.mint(&MintRequest {
            subject: "alice",
            client_id: "c1",
            scope: &scope,
            audience: &ResourceUri::parse(aud).unwrap(),
            grant_id: None,
            now,
            ttl: 300,
        })
        .unwrap()
        .0
    }

    #[test]
    fn sign_and_verify_both_algorithms() {
        for alg in [SigningAlgorithm::Es256, SigningAlgorithm::EdDsa] {
            let (s, v, clock) = setup(alg);
            let t = mint(&s, "https://mcp.example/mcp", clock.now());
            let (ctx, _) = v.validate_sync(&t).unwrap();
            assert_eq!(&*ctx.subject, "alice");
            assert_eq!(&*ctx.client_id, "c1");
            assert!(ctx.scopes.contains("mcp"));
        }
    }

    #[test]
    fn audience_is_canonical_but_strict() {
        let (s, v, clock) = setup(SigningAlgorithm::Es256);
        assert!(
            v.validate_sync(&mint(&s, "https://MCP.example:443/mcp/", clock.now()))
                .is_ok()
        );
        let e = v
            .validate_sync(&mint(&s, "https://as.example", clock.now()))
            .unwrap_err();
        assert!(matches!(e, TokenRejection::WrongAudience { .. }), "{e:?}");
    }

    #[test]
    fn expiry_with_leeway() {
        let (s, v, clock) = setup(SigningAlgorithm::Es256);
        let t = mint(&s, "https://mcp.example/mcp", clock.now());
        clock.advance(300 + 29);
        assert!(v.validate_sync(&t).is_ok());
        clock.advance(2);
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::Expired(_)
        ));
        let future = mint(&s, "https://mcp.example/mcp", clock.now() + 3600);
        assert_eq!(
            v.validate_sync(&future).unwrap_err(),
            TokenRejection::NotYetValid
        );
    }

    #[test]
    fn foreign_key_wrong_issuer_and_garbage_are_refused() {
        let (_, v, clock) = setup(SigningAlgorithm::Es256);
        let (other, _, _) = setup(SigningAlgorithm::Es256);
        let t = mint(&other, "https://mcp.example/mcp", clock.now());
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::UnknownKey(_)
        ));
        let foreign_iss = TokenSigner::new(v.keys.current(), "https://evil.example");
        let t = mint(&foreign_iss, "https://mcp.example/mcp", SystemClock.now());
        assert!(matches!(
            v.validate_sync(&t).unwrap_err(),
            TokenRejection::WrongIssuer { .. }
        ));
        assert!(matches!(
            v.validate_sync("a.b.c").unwrap_err(),
            TokenRejection::Malformed(_)
        ));
    }
}
