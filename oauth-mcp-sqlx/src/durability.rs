//! Which PostgreSQL writes wait for the disk.
//!
//! A commit normally waits until its WAL record is flushed to disk
//! (`synchronous_commit = on`). On the test machine that wait was about
//! 0.7 ms of a 0.9 ms single-row write, and a login flow commits five times.
//! The writes below record **in-flight login state** only, so they commit
//! without that wait (`synchronous_commit = off` for their own transaction;
//! PostgreSQL's WAL writer flushes them within a few hundred milliseconds):
//!
//! - storing a pending authorization request (`GET /authorize`),
//! - counting a login attempt on it (`POST /authorize`),
//! - taking it into an authorization code (`POST /authorize`),
//! - a rate-limit bucket's hit (failed logins, per username),
//! - storing an in-flight upstream login (the redirect to the identity
//!   provider).
//!
//! If the PostgreSQL server itself crashes (or fails over) within that
//! window, the last of these writes are lost, never half-applied: a user in
//! the middle of a login sees "unknown or expired request" and starts
//! again, a code handed out just before is refused at `/token` (the client
//! starts the flow again), and a login-attempt or rate-limit count may be a
//! few hits short. The database stays consistent: WAL is replayed in order,
//! and a durable commit flushes every earlier record with its own, so a
//! durable write never survives without the in-flight state it followed.
//!
//! Everything a client or user keeps across logins commits durably, as
//! before: registrations, spending a code and storing its grant and refresh
//! token, refresh rotation, revocations, signing keys, consents, sessions
//! and upstream tokens. A crash can therefore never bring back a spent code
//! or a rotated-out refresh token.
//!
//! The setting is made inside the statement (`set_config(…, true)`, local to
//! its transaction), so it needs no extra round trip, applies to nothing
//! else on the connection, and works through a transaction-pooling proxy.
//! SQLite statements do not carry it.

/// A condition that is always true and, once evaluated, makes the
/// statement's transaction commit without waiting for the WAL flush (see
/// the module docs). Put it where the row to write must pass it (the
/// `WHERE` of an `UPDATE`, `DELETE` or `INSERT … SELECT`), so that no row is
/// written without it having been evaluated. PostgreSQL only.
macro_rules! async_commit {
    () => {
        "set_config('synchronous_commit', 'off', true) = 'off'"
    };
}
pub(crate) use async_commit;
