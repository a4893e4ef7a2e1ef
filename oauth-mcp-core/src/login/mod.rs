//! Who the person is and what they see: user authentication (argon2
//! passwords from a [`UserStore`], or your own [`Authenticator`]) in this
//! module; the pages behind the [`LoginUi`] seam, the default templated
//! pages and their branding in submodules.

mod branding;
mod colour;
mod default_ui;
mod ui;

pub use branding::Branding;
pub use default_ui::DefaultLoginUi;
pub use ui::{
    ClientView, ConsentView, DEFAULT_CSP, ErrorView, LoginUi, LoginView, RequestId, ScopeView,
};

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use async_trait::async_trait;

use crate::error::StoreError;
use crate::secret::Secret;
use crate::store::{User, UserStore};

/// Checks a user's credentials.
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// The subject (`sub`) of the user, or `None` if the credentials are wrong.
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<String>, StoreError>;
}

/// Hashes a password with argon2id (default parameters) into a PHC string.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Other(format!("password hashing failed: {e}")))
}

/// A user record with an argon2 hash of `password`.
pub fn new_user(username: &str, password: &str) -> Result<User, StoreError> {
    Ok(User {
        username: username.to_owned(),
        subject: username.to_owned(),
        password_hash: hash_password(password)?,
    })
}

/// Authenticates against a [`UserStore`] with argon2. Unknown users cost the
/// same as wrong passwords, so timing does not reveal which names exist.
pub struct StoreAuthenticator {
    users: Arc<dyn UserStore>,
    dummy_hash: String,
}

impl std::fmt::Debug for StoreAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreAuthenticator")
    }
}

impl StoreAuthenticator {
    /// An authenticator over `users`.
    pub fn new(users: Arc<dyn UserStore>) -> Result<Self, StoreError> {
        Ok(Self {
            users,
            dummy_hash: hash_password("dummy password for timing equalisation")?,
        })
    }
}

#[async_trait]
impl Authenticator for StoreAuthenticator {
    async fn authenticate(
        &self,
        username: &str,
        password: &Secret,
    ) -> Result<Option<String>, StoreError> {
        let user = self.users.get_user(username).await?;
        let (hash, subject) = match &user {
            Some(u) => (u.password_hash.clone(), Some(u.subject.clone())),
            None => (self.dummy_hash.clone(), None),
        };
        let password = password.clone();
        // argon2 takes tens of milliseconds: keep it off the async workers.
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.secret().as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|e| StoreError::Other(format!("password check failed: {e}")))?;
        Ok(if ok { subject } else { None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn argon2_login() {
        let store = Arc::new(MemoryStore::new());
        store
            .put_user(new_user("alice", "correct horse").unwrap())
            .await
            .unwrap();
        let auth = StoreAuthenticator::new(store).unwrap();
        assert_eq!(
            auth.authenticate("alice", &"correct horse".into())
                .await
                .unwrap()
                .as_deref(),
            Some("alice")
        );
        assert_eq!(
            auth.authenticate("alice", &"wrong".into()).await.unwrap(),
            None
        );
        assert_eq!(
            auth.authenticate("bob", &"correct horse".into())
                .await
                .unwrap(),
            None
        );
    }
}
