//! Token revocation (RFC 7009).

use crate::error::OAuthError;
use crate::events::AuditEvent;
use crate::grant::ClientAuthEndpoint;
use crate::params::Params;
use crate::secret::hash_secret;
use crate::server::AuthServer;

impl AuthServer {
    /// POST /revoke (RFC 7009): revokes the grant behind a refresh or access
    /// token of the authenticated client. Unknown tokens succeed silently.
    pub async fn revoke(&self, body: &[u8], authorization: Option<&str>) -> Result<(), OAuthError> {
        let form = Params::parse(body);
        let client = self
            .authenticate_client(ClientAuthEndpoint::Revoke, &form, authorization)
            .await?
            .client;
        let token = form.required("token")?;
        let grant_id = match self.store.get_refresh(&hash_secret(token)).await? {
            Some(r) => Some(r.grant_id),
            None => self
                .uncached_validator()
                .validate_signed(token)
                .await
                .ok()
                .and_then(|(_, gid)| gid),
        };
        if let Some(gid) = grant_id
            && let Some(g) = self.store.get_grant(&gid).await?
            && g.client_id == client.client_id
        {
            self.revoke_grant(&gid).await?;
            AuditEvent::TokenRevoked {
                client_id: &client.client_id,
                grant_id: &gid,
            }
            .emit();
        }
        Ok(())
    }
}
