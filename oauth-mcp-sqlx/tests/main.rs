//! The integration tests of oauth-mcp-sqlx, one binary (all but `statements.rs`, below):
//!
//! - `sqlite`: the core's conformance kit on a SQLite file and on
//!   `sqlite::memory:`, persistence across reconnects, URL handling,
//!   periodic cleanup.
//! - `postgres`: the conformance kit on PostgreSQL (`OAUTH_MCP_TEST_POSTGRES_URL`
//!   or a private server; fails loudly when there is neither).
//! - `race`: one code redeemed by 200 token requests at once, on a SQLite
//!   file and on PostgreSQL: exactly one winner, every time.
//! - `keys`: signing keys raced by two pools on SQLite and PostgreSQL;
//!   sealed keys across a reconnect; a server on an SQL store needs a
//!   key-encryption key (or the opt-out named as dangerous).
//! - `upstream`: the core's upstream-login conformance kit on both databases.
//! - `outage`: a private PostgreSQL server stopped and started again under a
//!   live store and HTTP layer.
//! - `pending`: the store's total of live pending requests, counted at
//!   most once a second by each of two stores on one database, SQLite file
//!   and PostgreSQL.
//! - `durability`: which writes of a login flow wait for the disk on
//!   PostgreSQL (in-flight login state does not), observed by row triggers.
//!
//! `statements.rs` (a code exchange and a refresh each run one statement
//! on PostgreSQL, read from sqlx's statement log) is a binary of its own:
//! its thread-local `tracing` subscriber missed events while other tests
//! ran sqlx on other threads.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "suite/common.rs"]
mod common;
#[path = "suite/durability.rs"]
mod durability;
#[path = "suite/keys.rs"]
mod keys;
#[path = "suite/outage.rs"]
mod outage;
#[path = "suite/pending.rs"]
mod pending;
#[path = "suite/postgres.rs"]
mod postgres;
#[path = "suite/race.rs"]
mod race;
#[path = "suite/sqlite.rs"]
mod sqlite;
#[path = "suite/upstream.rs"]
mod upstream;
