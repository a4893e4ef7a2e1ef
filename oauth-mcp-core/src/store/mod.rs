//! Storage traits, one per aggregate. Every operation that must be atomic
//! (redeeming a code, rotating a refresh token) is a single trait method, so
//! no caller can get it wrong with a read-then-write.
//!
//! [`MemoryStore`] implements them all for a single process.

#[cfg(feature = "test-kit")]
pub mod conformance;
mod exchange;
pub mod keys;
mod memory;
mod purge;
mod ratelimit;
mod replay;
mod revocations;
pub mod upstream;

pub use exchange::{CodeExchange, RefreshExchange, RefreshSeed, grant_from_code};
pub use keys::{KeyChange, KeySetSnapshot, KeyStore, KeyWrite, SigningKeyRecord};
pub use memory::MemoryStore;
pub use purge::{GuardedLoginAttempt, LoginAttempt, PurgeReport, Retention};
pub use ratelimit::{GcraRule, RateDecision, RateLimitStore, gcra_peek, gcra_step};
pub use replay::ReplayStore;
pub use revocations::{RevocationCursor, RevocationFeed};
pub use upstream::{
    BrowserSession, RememberedConsent, UpstreamFlow, UpstreamStore, UpstreamTokenRecord,
};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::error::StoreError;
use crate::pkce::CodeChallengeMethod;
use crate::resource::ResourceUri;
use crate::scope::ScopeSet;

/// A validated `/authorize` request waiting for the user to log in and consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingAuthorization {
    /// Hash of the unguessable request id carried by the login form.
    pub id_hash: String,
    /// The client.
    pub client_id: String,
    /// The redirect URI to send the result to (as the client sent it).
    pub redirect_uri: String,
    /// True if the client sent `redirect_uri` (then /token must repeat it).
    pub redirect_uri_explicit: bool,
    /// The client's `state`, returned verbatim.
    pub state: Option<String>,
    /// PKCE challenge.
    pub code_challenge: String,
    /// PKCE method.
    pub code_challenge_method: CodeChallengeMethod,
    /// Requested (or default) scopes.
    pub scope: ScopeSet,
    /// Canonical resource (the token's audience).
    pub resource: ResourceUri,
    /// Unix time created.
    pub created_at: i64,
    /// Unix time after which the request is void.
    pub expires_at: i64,
}

/// How many pending authorization requests may wait at once (see
/// [`AuthorizationStore::insert_pending_within`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingCaps {
    /// Live pending requests of one client.
    pub per_client: u32,
    /// Live pending requests in the store.
    pub total: u32,
}

impl PendingCaps {
    /// At most `per_client` per client and `total` in all.
    pub fn new(per_client: u32, total: u32) -> Self {
        Self { per_client, total }
    }
}

/// What [`AuthorizationStore::insert_pending_within`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingInsert {
    /// Stored.
    Stored,
    /// Refused: the client already has [`PendingCaps::per_client`] live requests.
    ClientFull,
    /// Refused: the store already holds [`PendingCaps::total`] live requests.
    TotalFull,
}

/// An issued authorization code, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    /// base64url(SHA-256(code)).
    pub code_hash: String,
    /// The grant this code starts; a replay revokes it.
    pub grant_id: String,
    /// The client the code was issued to.
    pub client_id: String,
    /// The redirect URI used at /authorize.
    pub redirect_uri: String,
    /// True if /authorize had an explicit `redirect_uri`.
    pub redirect_uri_explicit: bool,
    /// PKCE challenge.
    pub code_challenge: String,
    /// PKCE method.
    pub code_challenge_method: CodeChallengeMethod,
    /// Granted scopes.
    pub scope: ScopeSet,
    /// Canonical resource.
    pub resource: ResourceUri,
    /// Authenticated user.
    pub subject: String,
    /// Unix time issued.
    pub issued_at: i64,
    /// Unix time of expiry.
    pub expires_at: i64,
}

/// What a code adds to the pending request it comes from (see
/// [`AuthorizationStore::take_pending_into_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeIssue {
    /// base64url(SHA-256(code)).
    pub code_hash: String,
    /// The grant the code starts.
    pub grant_id: String,
    /// Granted scopes.
    pub scope: ScopeSet,
    /// Authenticated user.
    pub subject: String,
    /// Unix time issued.
    pub issued_at: i64,
    /// Unix time of expiry.
    pub expires_at: i64,
}

impl CodeIssue {
    /// The code for `pending`: its client, redirect URI, PKCE challenge and
    /// resource, with this issue's hash, grant, scopes, subject and times.
    pub fn code_for(self, pending: &PendingAuthorization) -> AuthorizationCode {
        AuthorizationCode {
            code_hash: self.code_hash,
            grant_id: self.grant_id,
            client_id: pending.client_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_explicit: pending.redirect_uri_explicit,
            code_challenge: pending.code_challenge.clone(),
            code_challenge_method: pending.code_challenge_method,
            scope: self.scope,
            resource: pending.resource.clone(),
            subject: self.subject,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
        }
    }
}

/// A stored code, as [`AuthorizationStore::get_code`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// The code's record.
    pub code: AuthorizationCode,
    /// True once it was redeemed.
    pub spent: bool,
}

/// What redeeming a code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeRedemption {
    /// First use: the code is now spent and the grant is stored.
    Redeemed(AuthorizationCode),
    /// The code was already spent: the caller revokes `grant_id`.
    Replayed {
        /// The grant the code started.
        grant_id: String,
    },
    /// No such code.
    NotFound,
}

/// A registration's first token (see
/// [`AuthorizationStore::redeem_code_with_first_token`]): from then on the
/// client has the registration lifetime, not the unused-registration expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstToken {
    /// The client.
    pub client_id: String,
    /// Its expiry from now on (`None`: never).
    pub expires_at: Option<i64>,
}

/// A grant: what one authorization gave one client for one user; every
/// access and refresh token belongs to exactly one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Random id.
    pub grant_id: String,
    /// The client.
    pub client_id: String,
    /// The user.
    pub subject: String,
    /// Granted scopes; refreshes may only narrow them.
    pub scope: ScopeSet,
    /// Canonical resource (audience), inherited by every refresh.
    pub resource: ResourceUri,
    /// Unix time created.
    pub created_at: i64,
    /// Generation of the newest refresh token (see [`decide_rotation`]).
    pub refresh_generation: u64,
    /// True once revoked (replayed code, refresh reuse, revocation request).
    pub revoked: bool,
}

/// A refresh token, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    /// base64url(SHA-256(token)).
    pub token_hash: String,
    /// The grant.
    pub grant_id: String,
    /// Position in the rotation chain.
    pub generation: u64,
    /// Unix time issued.
    pub issued_at: i64,
    /// Unix time of expiry.
    pub expires_at: i64,
}

/// What to do with a presented refresh token of generation `presented`
/// when the grant's newest generation is `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationDecision {
    /// The newest token: issue generation `current + 1`. The presented one
    /// stays usable until a token of the new generation is first used.
    Advance,
    /// The previous token, whose successor has not been used yet (a lost
    /// response, or a concurrent refresh): issue another token of generation
    /// `current`, so no client is ever left without a valid token.
    Sibling,
    /// Older than that: reuse of a rotated token. Revoke the grant.
    Reuse,
}

/// The rotation rule, shared by every store so they cannot disagree.
pub fn decide_rotation(presented: u64, current: u64) -> RotationDecision {
    if presented >= current {
        RotationDecision::Advance
    } else if presented + 1 == current {
        RotationDecision::Sibling
    } else {
        RotationDecision::Reuse
    }
}

/// The result of [`TokenStore::rotate_refresh`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// A new refresh token was stored; here is the grant it belongs to.
    Rotated(Grant),
    /// A rotated-out token was reused: the grant is now revoked.
    Reused {
        /// The revoked grant.
        grant_id: String,
    },
    /// Unknown, expired, or its grant is revoked.
    Invalid,
}

/// Registered clients.
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// Stores a new client; [`StoreError::Duplicate`] if the id exists.
    async fn insert_client(&self, client: Client) -> Result<(), StoreError>;
    /// Looks a client up by id.
    async fn get_client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    /// Replaces a client record (redirect URIs, flags); false if unknown.
    async fn update_client(&self, client: Client) -> Result<bool, StoreError>;
    /// Every client, oldest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;
}

/// Pending authorization requests and authorization codes.
#[async_trait]
pub trait AuthorizationStore: Send + Sync {
    /// Stores a pending request.
    async fn insert_pending(&self, pending: PendingAuthorization) -> Result<(), StoreError>;
    /// Stores a pending request unless, at `now`, its client already has
    /// `caps.per_client` live (unexpired) ones or the store `caps.total`:
    /// then the new request is refused and the waiting ones keep their
    /// place (a flood cannot push out people in the middle of a login).
    /// Concurrent calls may overshoot a cap by at most their number. A
    /// store may reuse a recent count of the total rather than count it on
    /// every call (`oauth-mcp-sqlx` counts at most once per second of
    /// `now`, keeping the count current with its own inserts and takes):
    /// then several processes sharing it may also overshoot by what the
    /// others store before the next count.
    async fn insert_pending_within(
        &self,
        pending: PendingAuthorization,
        caps: PendingCaps,
        now: i64,
    ) -> Result<PendingInsert, StoreError>;
    /// Reads a pending request that has not expired at `now`.
    async fn get_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
    /// Removes and returns a pending request atomically: two concurrent calls
    /// never both get it.
    async fn take_pending(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<PendingAuthorization>, StoreError>;
    /// Stores a new code.
    async fn insert_code(&self, code: AuthorizationCode) -> Result<(), StoreError>;
    /// Takes a pending request as [`AuthorizationStore::take_pending`] does
    /// and stores the code it yields, as one step: the code's client,
    /// redirect URI, PKCE challenge and resource are the taken request's,
    /// the rest is `issue`'s. `None` (and no code stored) if the request is
    /// unknown, expired or already taken; a failure stores no code, and
    /// stores may then leave the request in place.
    ///
    /// The default takes, then inserts (two operations); a database store
    /// can do both in one statement.
    async fn take_pending_into_code(
        &self,
        id_hash: &str,
        now: i64,
        issue: CodeIssue,
    ) -> Result<Option<PendingAuthorization>, StoreError> {
        let Some(pending) = self.take_pending(id_hash, now).await? else {
            return Ok(None);
        };
        self.insert_code(issue.code_for(&pending)).await?;
        Ok(Some(pending))
    }
    /// Reads a code without spending it (expired codes included: the engine
    /// decides about expiry); `None` if unknown or purged.
    async fn get_code(&self, code_hash: &str) -> Result<Option<StoredCode>, StoreError>;
    /// Spends a code and stores the grant it starts, as one step: of many
    /// concurrent calls with one code, exactly one gets
    /// [`CodeRedemption::Redeemed`], and its `grant` (with `refresh`, as
    /// [`TokenStore::insert_grant`] stores them) is stored before any other
    /// call learns that the code is spent ([`CodeRedemption::Replayed`]), so
    /// that revoking the replayed grant revokes the winner's. The winner
    /// needs no second store operation after spending: under load, a code
    /// is either spent with its grant stored, or not spent at all. A spent
    /// code is remembered until it expires.
    ///
    /// A `grant` whose id is already stored fails the whole step with
    /// [`StoreError::Duplicate`] and leaves the code unspent.
    async fn redeem_code(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<CodeRedemption, StoreError>;
    /// [`AuthorizationStore::redeem_code`] that, when the code is redeemed,
    /// also records the client's `first_token` (if the stored client still
    /// awaits it: `awaiting_first_token` cleared, `expires_at` set, nothing
    /// else changed) in the same step. The `bool` says who records it:
    /// `true`, the store (it did, if the code was redeemed and the client
    /// still awaited it); `false`, the caller. The default only redeems and
    /// says `false`: the caller then records the first token with
    /// [`ClientStore::update_client`], after reading the client again.
    async fn redeem_code_with_first_token(
        &self,
        code_hash: &str,
        grant: Grant,
        refresh: Option<RefreshToken>,
        first_token: Option<FirstToken>,
    ) -> Result<(CodeRedemption, bool), StoreError> {
        let _ = first_token;
        Ok((self.redeem_code(code_hash, grant, refresh).await?, false))
    }
    /// A code exchange in one step, if this store can check the request
    /// while it spends the code: when `code_hash` names an unspent code that
    /// `exchange` [matches](CodeExchange::matches), spends it and stores
    /// [`CodeExchange::grant_for`] it (and records `exchange.first_token`)
    /// as [`AuthorizationStore::redeem_code_with_first_token`] does, and
    /// returns the code. `None` changes nothing: the code is unknown, spent
    /// or does not match, or this store does not do it in one step (the
    /// default). The caller then reads the code, checks it and redeems it
    /// as before, so a refusal still says why and a replay still revokes.
    ///
    /// A database store saves the read of the code before its redemption:
    /// one round trip per code exchange.
    async fn exchange_code(
        &self,
        code_hash: &str,
        exchange: &CodeExchange,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let _ = (code_hash, exchange);
        Ok(None)
    }
    /// Counts one login attempt on a pending request, atomically: of
    /// concurrent calls on a request with one attempt left, exactly one is
    /// [`LoginAttempt::Granted`]. A request whose `max_attempts` are used up
    /// is deleted ([`LoginAttempt::Exhausted`]); an unknown or expired one is
    /// [`LoginAttempt::Unknown`].
    async fn consume_login_attempt(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<LoginAttempt, StoreError>;
    /// [`AuthorizationStore::consume_login_attempt`], and with a granted
    /// attempt the request as [`AuthorizationStore::get_pending`] reads it
    /// (`None` if it went in the meantime). The default makes the two calls;
    /// a database store can count and read in one statement.
    async fn consume_login_attempt_reading(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
    ) -> Result<(LoginAttempt, Option<PendingAuthorization>), StoreError> {
        let attempt = self
            .consume_login_attempt(id_hash, max_attempts, now)
            .await?;
        let pending = match attempt {
            LoginAttempt::Granted { .. } => self.get_pending(id_hash, now).await?,
            LoginAttempt::Exhausted | LoginAttempt::Unknown => None,
        };
        Ok((attempt, pending))
    }
    /// [`AuthorizationStore::consume_login_attempt_reading`] in the same
    /// step as the username backoff's check: unless the rate-limit
    /// `bucket` would refuse a request under `rule` at `now_ms` (what
    /// [`RateLimitStore::rate_limit_peek`] answers), counts the attempt and
    /// reads the request; if it would, counts nothing and says how long to
    /// wait. `None` (the default) if this store cannot do both in one
    /// step: the caller then peeks and counts in two. A database store
    /// saves a round trip per login with it.
    async fn consume_login_attempt_unless_backing_off(
        &self,
        id_hash: &str,
        max_attempts: u32,
        now: i64,
        bucket: &str,
        rule: GcraRule,
        now_ms: i64,
    ) -> Result<Option<GuardedLoginAttempt>, StoreError> {
        let _ = (id_hash, max_attempts, now, bucket, rule, now_ms);
        Ok(None)
    }
}

/// Grants and refresh tokens.
#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a grant and its first refresh token (generation 0), if any.
    ///
    /// An id that is already stored fails with [`StoreError::Duplicate`].
    /// An id that was revoked before it was stored (see
    /// [`TokenStore::revoke_grant`]) is stored *revoked*, and `refresh` is
    /// dropped: the call succeeds, but no token of the grant is ever valid.
    async fn insert_grant(
        &self,
        grant: Grant,
        refresh: Option<RefreshToken>,
    ) -> Result<(), StoreError>;
    /// Looks a grant up.
    async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>, StoreError>;
    /// Revokes a grant and every token in it; false if unknown. Revoking an
    /// unknown id must still be remembered (a tombstone, purged like a
    /// revoked grant), so that a later [`TokenStore::insert_grant`] of that
    /// id stores it revoked: a code replayed while its first redemption was
    /// still storing the grant revokes that grant too, and the first
    /// redemption still gets its answer (whose tokens are then revoked).
    /// Neither call waits for the other.
    async fn revoke_grant(&self, grant_id: &str) -> Result<bool, StoreError>;
    /// Looks a refresh token up by hash (expired ones included).
    async fn get_refresh(&self, token_hash: &str) -> Result<Option<RefreshToken>, StoreError>;
    /// [`TokenStore::get_refresh`] and, for a token found,
    /// [`TokenStore::get_grant`] of its grant, as one read. The default
    /// makes the two calls; a database store can join them.
    async fn get_refresh_with_grant(
        &self,
        token_hash: &str,
    ) -> Result<Option<(RefreshToken, Option<Grant>)>, StoreError> {
        let Some(r) = self.get_refresh(token_hash).await? else {
            return Ok(None);
        };
        let g = self.get_grant(&r.grant_id).await?;
        Ok(Some((r, g)))
    }
    /// Rotates atomically: applies [`decide_rotation`] to the presented token
    /// and, unless it is a reuse, stores `new_hash` at the resulting generation.
    async fn rotate_refresh(
        &self,
        presented_hash: &str,
        new_hash: &str,
        now: i64,
        new_expires_at: i64,
    ) -> Result<RotateOutcome, StoreError>;
    /// A refresh in one step, if this store can check the request while it
    /// rotates: when `presented_hash` names a refresh token that has not
    /// expired at `exchange.now`, whose grant is not revoked and
    /// [matches](RefreshExchange::matches), and [`decide_rotation`] advances
    /// it or finds it a sibling, rotates as [`TokenStore::rotate_refresh`]
    /// does (storing `exchange.new_hash`) and returns the grant. `None`
    /// changes nothing: the token is unknown, expired or reused, its grant
    /// revoked or not the request's, or this store does not do it in one
    /// step (the default). The caller then reads the token, checks it and
    /// rotates as before, so a refusal still says why and a reuse still
    /// revokes the grant.
    ///
    /// A database store saves the read of the token before its rotation:
    /// one round trip per refresh.
    async fn refresh_for(
        &self,
        presented_hash: &str,
        exchange: &RefreshExchange,
    ) -> Result<Option<Grant>, StoreError> {
        let _ = (presented_hash, exchange);
        Ok(None)
    }
    /// The grants revoked since `after` (every revocation: [`TokenStore::revoke_grant`]
    /// and a refresh token's reuse in [`TokenStore::rotate_refresh`]), for the
    /// validated-token caches of resource servers sharing this store; with
    /// `after = None`, only where the feed stands now. `Ok(None)` (the
    /// default) means this store keeps no feed: resource servers then ask
    /// [`TokenStore::get_grant`] on every request, cached or not.
    async fn revocations_since(
        &self,
        after: Option<RevocationCursor>,
    ) -> Result<Option<RevocationFeed>, StoreError> {
        let _ = after;
        Ok(None)
    }
}

/// A user of the built-in password login.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name.
    pub username: String,
    /// The token subject (`sub`).
    pub subject: String,
    /// Argon2 PHC string.
    pub password_hash: String,
}

/// Users of the built-in password login.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Looks a user up by login name.
    async fn get_user(&self, username: &str) -> Result<Option<User>, StoreError>;
    /// Adds or replaces a user.
    async fn put_user(&self, user: User) -> Result<(), StoreError>;
}

/// Removal of expired rows.
#[async_trait]
pub trait Cleanup: Send + Sync {
    /// Deletes, as of `now` (Unix seconds): expired pending requests, codes,
    /// refresh tokens, single-use markers, registered clients and
    /// upstream-login records (flows, consents, browser sessions, token
    /// records); rate-limit buckets that are full again; revoked grants and
    /// tombstones, retired refresh tokens and grants without refresh tokens
    /// past their [`Retention`].
    async fn purge(&self, now: i64, retention: &Retention) -> Result<PurgeReport, StoreError>;

    /// [`Cleanup::purge`] with the default [`Retention`]; returns how many
    /// records went.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        Ok(self.purge(now, &Retention::default()).await?.total())
    }
}

/// Everything the authorization server needs from storage.
pub trait Store:
    ClientStore
    + AuthorizationStore
    + TokenStore
    + UserStore
    + ReplayStore
    + Cleanup
    + KeyStore
    + RateLimitStore
    + UpstreamStore
{
}
impl<
    T: ClientStore
        + AuthorizationStore
        + TokenStore
        + UserStore
        + ReplayStore
        + Cleanup
        + KeyStore
        + RateLimitStore
        + UpstreamStore,
> Store for T
{
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_rule() {
        assert_eq!(decide_rotation(0, 0), RotationDecision::Advance);
        assert_eq!(decide_rotation(3, 4), RotationDecision::Sibling);
        assert_eq!(decide_rotation(2, 4), RotationDecision::Reuse);
    }
}
