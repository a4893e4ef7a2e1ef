//! PostgreSQL for tests (cargo feature `testing`): a private, throw-away
//! server, or the one named by an environment variable.
//!
//! [`TestPostgres::start`] runs a PostgreSQL server of its own, from the
//! server binaries of a system installation (`initdb`, `pg_ctl`, `postgres`,
//! found under `/usr/lib/postgresql/*/bin`, the newest version first, or in
//! the directory named by [`BIN_DIR_ENV`]). It lives in a fresh temporary
//! directory, listens on a free port of `127.0.0.1` only (its Unix socket is
//! in that directory too), trusts every local connection, and is stopped and
//! deleted when the value is dropped. When the tests run as root, the server
//! runs as the `postgres` OS user (`runuser -u postgres`), as PostgreSQL
//! refuses to run as root. Install the binaries with
//! `apt-get install postgresql` (Debian/Ubuntu); the system cluster need not
//! be running.
//!
//! [`postgres_for_tests`] is what a test usually wants: the database named by
//! [`URL_ENV`] (`OAUTH_MCP_TEST_POSTGRES_URL`) if it is set, otherwise a
//! fresh database on a private server shared by the tests of the process
//! ([`TestPostgres::shared`]). Without either it **panics** with
//! instructions: a PostgreSQL test never passes silently.
//!
//! ```no_run
//! # #[tokio::main(flavor = "multi_thread")]
//! # async fn main() {
//! use oauth_mcp_sqlx::{SqlStore, testing::postgres_for_tests};
//! let pg = postgres_for_tests().await;
//! let store = SqlStore::connect(pg.url()).await.unwrap();
//! # let _ = store;
//! # }
//! ```

// Test scaffolding: it reports trouble by panicking where the docs say so.
#![allow(clippy::panic)]

use std::fmt;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// The environment variable naming an existing PostgreSQL database to test
/// against, e.g. `postgres://postgres:postgres@127.0.0.1:5432/postgres`.
/// When set, [`postgres_for_tests`] uses it instead of a private server.
pub const URL_ENV: &str = "OAUTH_MCP_TEST_POSTGRES_URL";

/// The environment variable naming a directory holding `initdb`, `pg_ctl`
/// and `postgres`, when they are not under `/usr/lib/postgresql/*/bin`.
pub const BIN_DIR_ENV: &str = "OAUTH_MCP_TEST_POSTGRES_BIN";

/// How to get PostgreSQL for the tests, for error messages.
pub const INSTALL_HINT: &str = "PostgreSQL is needed for these tests. Install the server \
    binaries (`apt-get install postgresql` on Debian/Ubuntu; the tests run a private server \
    from /usr/lib/postgresql/*/bin, or from the directory in OAUTH_MCP_TEST_POSTGRES_BIN), \
    or point OAUTH_MCP_TEST_POSTGRES_URL at a database \
    (postgres://user:password@127.0.0.1:5432/db).";

/// Why a private PostgreSQL server could not be started or controlled.
#[derive(Debug, Clone)]
pub struct TestPostgresError(String);

impl fmt::Display for TestPostgresError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TestPostgresError {}

impl TestPostgresError {
    /// The message, followed by [`INSTALL_HINT`] unless it already has it.
    pub fn with_hint(&self) -> String {
        if self.0.contains(INSTALL_HINT) {
            self.0.clone()
        } else {
            format!("{}\n{INSTALL_HINT}", self.0)
        }
    }
}

fn err(msg: impl Into<String>) -> TestPostgresError {
    TestPostgresError(msg.into())
}

/// A private PostgreSQL server in a temporary directory; stopped and
/// deleted on drop. See the [module docs](self).
#[derive(Debug)]
pub struct TestPostgres {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres_user: bool,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);
static SHARED: Mutex<Weak<TestPostgres>> = Mutex::new(Weak::new());

/// The PostgreSQL superuser name of a private server.
pub const SUPERUSER: &str = "postgres";

impl TestPostgres {
    /// Finds the directory with `initdb`, `pg_ctl` and `postgres`:
    /// [`BIN_DIR_ENV`], else the newest `/usr/lib/postgresql/<version>/bin`.
    pub fn find_bin_dir() -> Option<PathBuf> {
        let has_all = |d: &Path| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| d.join(b).is_file())
        };
        if let Some(d) = std::env::var_os(BIN_DIR_ENV).map(PathBuf::from) {
            return has_all(&d).then_some(d);
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let v = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
                let bin = e.path().join("bin");
                has_all(&bin).then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions.pop().map(|(_, d)| d)
    }

    /// Starts a private server (blocking, a few seconds: `initdb` then
    /// `pg_ctl start`, which waits until the server accepts connections).
    /// In async code, this is fine in a `multi_thread` test; or call it
    /// through `tokio::task::spawn_blocking`.
    pub fn start() -> Result<TestPostgres, TestPostgresError> {
        let bin = Self::find_bin_dir().ok_or_else(|| {
            err(format!(
                "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found. {INSTALL_HINT}"
            ))
        })?;
        let as_postgres_user = running_as_root();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let root = std::env::temp_dir().join(format!(
            "oauth-mcp-pg-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(root.join("sock"))
            .map_err(|e| err(format!("cannot create {}: {e}", root.display())))?;
        // From here on, drop cleans up.
        let mut pg = TestPostgres {
            root,
            bin,
            port: 0,
            as_postgres_user,
        };
        if as_postgres_user {
            let out = Command::new("chown")
                .arg("-R")
                .arg(format!("{SUPERUSER}:"))
                .arg(&pg.root)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| err(format!("cannot run chown: {e}")))?;
            check(
                &out,
                "chown (as root, the server runs as the `postgres` user; does that user exist? it comes with `apt-get install postgresql`)",
            )?;
        }
        let data = pg.data_dir();
        let out = pg
            .pg_command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output()
            .map_err(|e| err(format!("cannot run initdb: {e}")))?;
        check(&out, "initdb")?;
        // A free port can be taken by someone else before the server binds
        // it: try a few.
        let mut last = err("no attempt");
        for _ in 0..5 {
            pg.port = free_port()?;
            match pg.start_server() {
                Ok(()) => return Ok(pg),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The process-wide shared private server: started by the first caller,
    /// kept while any returned handle lives, stopped after the last one is
    /// dropped (a later call starts a new one).
    pub fn shared() -> Result<Arc<TestPostgres>, TestPostgresError> {
        let mut slot = SHARED
            .lock()
            .map_err(|_| err("shared TestPostgres lock poisoned"))?;
        if let Some(pg) = slot.upgrade() {
            return Ok(pg);
        }
        let pg = Arc::new(Self::start()?);
        *slot = Arc::downgrade(&pg);
        Ok(pg)
    }

    /// The port it listens on (on `127.0.0.1`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `database` on this server, as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The temporary directory holding the data directory, the socket and
    /// the server log (`postgres.log`).
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The server log so far, for diagnostics.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.root.join("postgres.log")).unwrap_or_default()
    }

    /// Creates a database named `name` (letters, digits and `_`) and returns
    /// its URL. Retries briefly (at most ~10 s) while the server is starting.
    pub async fn create_database(&self, name: &str) -> Result<String, TestPostgresError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(err(format!("invalid database name `{name}`")));
        }
        let admin = self.url("postgres");
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut conn = loop {
            match PgConnection::connect(&admin).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    return Err(err(format!(
                        "cannot connect to the private PostgreSQL on port {}: {e}\n{}",
                        self.port,
                        self.log()
                    )));
                }
            }
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut conn)
            .await
            .map_err(|e| err(format!("CREATE DATABASE {name}: {e}")))?;
        let _ = conn.close().await;
        Ok(self.url(name))
    }

    /// Stops the server (`pg_ctl stop -m fast`: open connections are cut),
    /// waiting at most 30 s. The data stays; [`TestPostgres::restart`]
    /// starts it again on the same port.
    pub fn stop(&self) -> Result<(), TestPostgresError> {
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "fast", "-w", "-t", "30", "stop"])
            .output()
            .map_err(|e| err(format!("cannot run pg_ctl: {e}")))?;
        check(&out, "pg_ctl stop")
    }

    /// Starts a stopped server again, on the same port.
    pub fn restart(&self) -> Result<(), TestPostgresError> {
        self.start_server()
    }

    fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    fn start_server(&self) -> Result<(), TestPostgresError> {
        let opts = format!(
            "-p {} -k '{}' -c listen_addresses=127.0.0.1 -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.root.join("sock").display()
        );
        let out = self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.root.join("postgres.log"))
            .args(["-w", "-t", "30", "-o", &opts, "start"])
            .output()
            .map_err(|e| err(format!("cannot run pg_ctl: {e}")))?;
        check(&out, "pg_ctl start").map_err(|e| err(format!("{e}\nserver log:\n{}", self.log())))
    }

    /// A command running the PostgreSQL binary `name`, as the `postgres`
    /// user when we are root, in the temporary directory (the server
    /// user may not be allowed into the current one).
    fn pg_command(&self, name: &str) -> Command {
        let exe = self.bin.join(name);
        let mut cmd = if self.as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", SUPERUSER, "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        };
        cmd.current_dir(&self.root)
            .stdin(Stdio::null())
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGPORT")
            .env_remove("PGHOST");
        cmd
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let _ = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "-w", "-t", "30", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

fn check(out: &Output, what: &str) -> Result<(), TestPostgresError> {
    if out.status.success() {
        Ok(())
    } else {
        Err(err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

fn free_port() -> Result<u16, TestPostgresError> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| err(format!("cannot find a free port: {e}")))
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL database for a test: see [`postgres_for_tests`].
#[derive(Debug)]
pub struct TestDatabase {
    url: String,
    server: Option<Arc<TestPostgres>>,
    /// For a database created on the server of [`URL_ENV`]: the URL to
    /// drop it through.
    drop_via: Option<(String, String)>,
}

impl TestDatabase {
    /// The database URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The private server, if the database is on one (not when it came from
    /// [`URL_ENV`]).
    pub fn server(&self) -> Option<&Arc<TestPostgres>> {
        self.server.as_ref()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((admin, name)) = self.drop_via.take() else {
            return;
        };
        // Best effort, on a thread of its own: drop may run inside a runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = PgConnection::connect(&admin).await {
                    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

fn unique_db_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "oauth_mcp_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// `url` with its database name replaced by `database`.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// A PostgreSQL database for a test, fresh and empty where possible, so
/// that tests running in parallel (and the conformance kit's far-future
/// `purge_expired`) cannot disturb each other:
///
/// - if [`URL_ENV`] is set: a new database created through that URL and
///   dropped when the returned value is dropped; if the user may not create
///   databases, the database of the URL itself (shared; a note goes to
///   stderr);
/// - otherwise a new database on the process's shared private server
///   ([`TestPostgres::shared`]), which lives as long as the returned value
///   (and any other handle on it).
///
/// # Panics
///
/// When neither is available, with instructions ([`INSTALL_HINT`]): a
/// PostgreSQL test must never pass silently.
pub async fn postgres_for_tests() -> TestDatabase {
    let name = unique_db_name();
    if let Ok(url) = std::env::var(URL_ENV)
        && !url.trim().is_empty()
    {
        let created = async {
            let mut conn = PgConnection::connect(&url).await?;
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                .execute(&mut conn)
                .await?;
            conn.close().await
        }
        .await;
        return match created {
            Ok(()) => TestDatabase {
                url: with_database(&url, &name),
                server: None,
                drop_via: Some((url, name)),
            },
            Err(e) => {
                eprintln!(
                    "note: cannot create a test database through {URL_ENV} ({e}); \
                     using its database as is"
                );
                TestDatabase {
                    url,
                    server: None,
                    drop_via: None,
                }
            }
        };
    }
    let server = match tokio::task::spawn_blocking(TestPostgres::shared).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => panic!(
            "\n\n*** cannot start a private PostgreSQL server: {}\n\n",
            e.with_hint()
        ),
        Err(e) => panic!("starting PostgreSQL panicked: {e}"),
    };
    let url = match server.create_database(&name).await {
        Ok(url) => url,
        Err(e) => panic!("\n\n*** {e}\n\n"),
    };
    TestDatabase {
        url,
        server: Some(server),
        drop_via: None,
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/db?sslmode=disable", "t1"),
            "postgres://u:p@h:5432/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
        assert_eq!(with_database("postgresql://h/", "t1"), "postgresql://h/t1");
    }
}
