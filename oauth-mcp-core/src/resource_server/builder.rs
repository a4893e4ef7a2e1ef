//! [`ResourceServerBuilder`]: every value of a resource server, checked
//! once by `build` — resource, authorization servers, validator, scopes —
//! so that a disagreement refuses to start, naming the value and the fix.

use std::sync::Arc;

use super::operations::OperationScopes;
use super::template::UriTemplate;
use super::{Inner, ResourceServer};
use crate::config::{parse_scopes, require_subset};
use crate::discovery::protected_resource_metadata_path;
use crate::error::ConfigError;
use crate::metadata::ProtectedResourceMetadata;
use crate::net::is_loopback;
use crate::resource::ResourceUri;
use crate::scope::{OFFLINE_ACCESS, ScopeHierarchy, ScopeImplication, ScopeSet};
use crate::server::AuthServer;
use crate::token_cache::TokenCacheConfig;
use crate::validate::TokenValidator;

/// What an embedded authorization server contributes to its resource server.
#[derive(Clone)]
struct Embedded {
    issuer: String,
    known_resources: Vec<ResourceUri>,
    endpoint_paths: Vec<String>,
    default_scopes: ScopeSet,
    server: AuthServer,
    /// True while the validator is still the server's local validator.
    own_validator: bool,
}

/// Builds a [`ResourceServer`]; [`ResourceServerBuilder::build`] validates
/// everything once and names the value to fix.
#[must_use]
#[derive(Clone)]
pub struct ResourceServerBuilder {
    resource: String,
    authorization_servers: Vec<String>,
    validator: Option<Arc<dyn TokenValidator>>,
    scopes_supported: Option<Vec<String>>,
    required_scopes: Vec<String>,
    challenge_scopes: Option<Vec<String>>,
    tool_scopes: Vec<(String, Vec<String>)>,
    resource_scopes: Vec<(String, Vec<String>)>,
    prompt_scopes: Vec<(String, Vec<String>)>,
    implication: Option<Arc<dyn ScopeImplication>>,
    resource_name: Option<String>,
    max_body_bytes: usize,
    allow_insecure_http: bool,
    embedded: Option<Embedded>,
    /// `Some(None)`: no cache; `None`: the validator's own choice.
    token_cache: Option<Option<TokenCacheConfig>>,
}

impl std::fmt::Debug for ResourceServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceServerBuilder")
            .field("resource", &self.resource)
            .field("authorization_servers", &self.authorization_servers)
            .finish_non_exhaustive()
    }
}

impl ResourceServer {
    /// A resource server at `resource` (the MCP endpoint's canonical URL,
    /// e.g. `https://mcp.example.com/mcp`) trusting an external authorization
    /// server: name it with [`ResourceServerBuilder::authorization_server`]
    /// and give the matching [`ResourceServerBuilder::validator`].
    pub fn builder(resource: impl Into<String>) -> ResourceServerBuilder {
        ResourceServerBuilder {
            resource: resource.into(),
            authorization_servers: Vec::new(),
            validator: None,
            scopes_supported: None,
            required_scopes: Vec::new(),
            challenge_scopes: None,
            tool_scopes: Vec::new(),
            resource_scopes: Vec::new(),
            prompt_scopes: Vec::new(),
            implication: None,
            resource_name: None,
            max_body_bytes: 64 * 1024,
            allow_insecure_http: false,
            embedded: None,
            token_cache: None,
        }
    }

    /// The resource server of an embedded authorization server: its MCP
    /// endpoint as resource, its issuer as the one authorization server, its
    /// local validator, scopes, name and body limit. Add the required and
    /// per-operation scopes, then `build`.
    pub fn for_auth_server(server: &AuthServer) -> ResourceServerBuilder {
        let cfg = server.config();
        let mut b = Self::builder(cfg.resource().as_str())
            .authorization_server(cfg.issuer())
            .validator(server.local_validator())
            .scopes_supported(cfg.scopes_supported().iter())
            .resource_name(cfg.server_name())
            .max_body_bytes(cfg.max_body_bytes());
        b.embedded = Some(Embedded {
            issuer: cfg.issuer().to_owned(),
            known_resources: cfg.resources().known().to_vec(),
            endpoint_paths: crate::http::OAuthHttp::new(server.clone()).paths(),
            default_scopes: cfg.default_scopes.clone(),
            server: server.clone(),
            own_validator: true,
        });
        b
    }
}

fn err(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::new(field, reason)
}

impl ResourceServerBuilder {
    /// Trusts tokens from this issuer (listed in the metadata's
    /// `authorization_servers`, exactly as its own metadata states it).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// How tokens are validated. The validator's issuer and audience, when it
    /// reports them, must agree with this configuration.
    pub fn validator(mut self, validator: impl TokenValidator + 'static) -> Self {
        self.validator = Some(Arc::new(validator));
        self.set_own_validator(false);
        self
    }

    /// [`ResourceServerBuilder::validator`] for a shared validator.
    pub fn shared_validator(mut self, validator: Arc<dyn TokenValidator>) -> Self {
        self.validator = Some(validator);
        self.set_own_validator(false);
        self
    }

    fn set_own_validator(&mut self, own: bool) {
        if let Some(e) = &mut self.embedded {
            e.own_validator = own;
        }
    }

    /// The limits of the validated-token cache of an embedded authorization
    /// server's validator (on by default with [`TokenCacheConfig::default`]).
    /// A validator given with [`ResourceServerBuilder::validator`] has its
    /// own cache settings (e.g. [`crate::validate::LocalJwtValidator::with_token_cache`],
    /// `RemoteJwksBuilder::token_cache`).
    pub fn token_cache(mut self, config: TokenCacheConfig) -> Self {
        self.token_cache = Some(Some(config));
        self
    }

    /// No validated-token cache for the embedded authorization server's
    /// validator: every request is validated in full (signature, claims,
    /// and a store lookup for revocation).
    pub fn without_token_cache(mut self) -> Self {
        self.token_cache = Some(None);
        self
    }

    /// The scopes this resource understands, listed in its metadata (default:
    /// every scope named by the required and per-operation scopes).
    pub fn scopes_supported<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.scopes_supported = Some(s.into_iter().map(Into::into).collect());
        self
    }

    /// Scopes every request to the MCP endpoint needs.
    pub fn required_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.required_scopes = s.into_iter().map(Into::into).collect();
        self
    }

    /// The scopes a bare 401 challenge asks for (default: the required
    /// scopes, plus the embedded server's default scopes).
    pub fn challenge_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, s: I) -> Self {
        self.challenge_scopes = Some(s.into_iter().map(Into::into).collect());
        self
    }

    /// Scopes a `tools/call` of `tool` needs (403 `insufficient_scope` otherwise).
    pub fn tool_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tool: impl Into<String>,
        s: I,
    ) -> Self {
        self.tool_scopes
            .push((tool.into(), s.into_iter().map(Into::into).collect()));
        self
    }

    /// Scopes a `resources/read` of `uri` needs; `uri` may be an RFC 6570
    /// template (`repo://{owner}/{repo}`, `file:///{+path}`). A URI matching
    /// several entries needs all their scopes.
    pub fn resource_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        uri: impl Into<String>,
        s: I,
    ) -> Self {
        self.resource_scopes
            .push((uri.into(), s.into_iter().map(Into::into).collect()));
        self
    }

    /// Scopes a `prompts/get` of `prompt` needs.
    pub fn prompt_scopes<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        prompt: impl Into<String>,
        s: I,
    ) -> Self {
        self.prompt_scopes
            .push((prompt.into(), s.into_iter().map(Into::into).collect()));
        self
    }

    /// The scope hierarchy (default: each scope satisfies only itself).
    pub fn scope_hierarchy(mut self, rule: impl ScopeImplication + 'static) -> Self {
        self.implication = Some(Arc::new(rule));
        self
    }

    /// The `resource_name` in the metadata.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// The largest body read for per-operation scopes (default 64 KiB).
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.max_body_bytes = n;
        self
    }

    /// Allow an `http://` resource on a non-loopback host (tokens then cross
    /// the network in clear text).
    pub fn dangerously_allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    fn parse_resource(&self) -> Result<ResourceUri, ConfigError> {
        let resource =
            ResourceUri::parse(&self.resource).map_err(|e| err("resource", e.to_string()))?;
        if resource.as_str() != self.resource {
            return Err(err(
                "resource",
                format!(
                    "`{}` is not in canonical form; write `{resource}` (lower-case host, no default port, no trailing slash): tokens carry the canonical form as audience",
                    self.resource
                ),
            ));
        }
        let url = resource.to_url();
        if url.query().is_some() {
            return Err(err(
                "resource",
                format!("`{resource}` must not have a query"),
            ));
        }
        if url.scheme() == "http" && !is_loopback(&url) && !self.allow_insecure_http {
            return Err(err(
                "resource",
                format!(
                    "`{resource}` uses http on a non-loopback host; serve the MCP endpoint over https, or call dangerously_allow_insecure_http() for a test network"
                ),
            ));
        }
        let path = resource.path();
        if path.is_empty() || path.starts_with("/.well-known/") {
            return Err(err(
                "resource",
                format!(
                    "`{resource}` needs a path of its own (e.g. `/mcp`) outside `/.well-known/`, where its metadata lives"
                ),
            ));
        }
        Ok(resource)
    }

    fn check_authorization_servers(&self) -> Result<(), ConfigError> {
        if self.authorization_servers.is_empty() {
            return Err(err(
                "authorization_servers",
                "name at least one authorization server (its issuer identifier) with authorization_server(..): clients find where to log in through it",
            ));
        }
        for iss in &self.authorization_servers {
            let ok = url::Url::parse(iss).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host_str().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if !ok || iss.ends_with('/') {
                return Err(err(
                    "authorization_servers",
                    format!(
                        "`{iss}` is not an issuer identifier: an http(s) URL without query, fragment or trailing slash (RFC 8414 §2)"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_validator(
        &self,
        v: &dyn TokenValidator,
        resource: &ResourceUri,
    ) -> Result<(), ConfigError> {
        if let Some(aud) = v.audience()
            && aud != resource
        {
            return Err(err(
                "validator",
                format!(
                    "the validator accepts tokens for `{aud}`, but this resource is `{resource}`; every token would be refused. Build the validator with `{resource}` as audience"
                ),
            ));
        }
        if let Some(iss) = v.issuer()
            && !self.authorization_servers.iter().any(|a| a == iss)
        {
            return Err(err(
                "validator",
                format!(
                    "the validator trusts issuer `{iss}`, which is not among this resource's authorization servers ({}); clients would log in at one server and present tokens from another. Make them the same issuer identifier",
                    self.authorization_servers.join(", ")
                ),
            ));
        }
        Ok(())
    }

    fn operation_scopes(&self) -> Result<OperationScopes, ConfigError> {
        let mut ops = OperationScopes::default();
        for (tool, s) in &self.tool_scopes {
            ops.tools
                .insert(tool.clone(), parse_scopes("tool_scopes", s)?);
        }
        for (uri, s) in &self.resource_scopes {
            let scopes = parse_scopes("resource_scopes", s)?;
            if uri.contains('{') || uri.contains('}') {
                let t = UriTemplate::parse(uri).map_err(|e| err("resource_scopes", e))?;
                ops.templates.push((t, scopes));
            } else {
                ops.resources.insert(uri.clone(), scopes);
            }
        }
        for (prompt, s) in &self.prompt_scopes {
            ops.prompts
                .insert(prompt.clone(), parse_scopes("prompt_scopes", s)?);
        }
        ops.every = ScopeSet::from_scopes(ops.all().flat_map(ScopeSet::iter).map(str::to_owned));
        Ok(ops)
    }

    /// Validates everything and builds the resource server. Refuses to
    /// start, naming the value and the fix, when the resource, the
    /// authorization servers, the validator and the scopes disagree.
    pub fn build(mut self) -> Result<ResourceServer, ConfigError> {
        let resource = self.parse_resource()?;
        self.check_authorization_servers()?;
        if let Some(cache) = self.token_cache.clone() {
            match &self.embedded {
                Some(e) if e.own_validator => {
                    self.validator = Some(Arc::new(e.server.local_validator_with_cache(cache)));
                }
                _ => {
                    return Err(err(
                        "token_cache",
                        "the validated-token cache is set on the validator you gave (e.g. LocalJwtValidator::with_token_cache, RemoteJwksBuilder::token_cache, IntrospectionValidator::with_token_cache); token_cache(..) and without_token_cache() apply only to the embedded authorization server's own validator",
                    ));
                }
            }
        }
        let validator = self.validator.clone().ok_or_else(|| {
            err(
                "validator",
                "no token validator: give one with validator(..) (RemoteJwksValidator, IntrospectionValidator, or your own TokenValidator)",
            )
        })?;
        self.check_validator(validator.as_ref(), &resource)?;
        let path = resource.path();
        if let Some(e) = &self.embedded {
            if !e.known_resources.contains(&resource) {
                return Err(err(
                    "resource",
                    format!(
                        "`{resource}` is not a resource the authorization server `{}` issues tokens for; add it with additional_resource(..)",
                        e.issuer
                    ),
                ));
            }
            if e.endpoint_paths.contains(&path) {
                return Err(err(
                    "resource",
                    format!(
                        "the MCP endpoint path `{path}` is also an endpoint of the authorization server; serve MCP on its own path (e.g. `/mcp`)"
                    ),
                ));
            }
        }

        let required = parse_scopes("required_scopes", &self.required_scopes)?;
        let operations = self.operation_scopes()?;
        let named = || {
            required
                .iter()
                .chain(operations.all().flat_map(ScopeSet::iter))
                .map(str::to_owned)
        };
        let supported = match &self.scopes_supported {
            Some(s) => parse_scopes("scopes_supported", s)?,
            None => ScopeSet::from_scopes(named()),
        };
        require_subset(
            "required_scopes",
            "every request needs",
            &required,
            &supported,
        )?;
        for (tool, s) in &operations.tools {
            require_subset(
                "tool_scopes",
                &format!("tool `{tool}` needs"),
                s,
                &supported,
            )?;
        }
        for (uri, s) in &operations.resources {
            require_subset(
                "resource_scopes",
                &format!("resource `{uri}` needs"),
                s,
                &supported,
            )?;
        }
        for (t, s) in &operations.templates {
            let what = format!("resources matching `{}` need", t.as_str());
            require_subset("resource_scopes", &what, s, &supported)?;
        }
        for (prompt, s) in &operations.prompts {
            require_subset(
                "prompt_scopes",
                &format!("prompt `{prompt}` needs"),
                s,
                &supported,
            )?;
        }
        let challenge_scopes = match &self.challenge_scopes {
            Some(c) => {
                let c = parse_scopes("challenge_scopes", c)?;
                require_subset("challenge_scopes", "the challenge asks for", &c, &supported)?;
                c
            }
            None => {
                let defaults = self.embedded.as_ref().map(|e| e.default_scopes.clone());
                ScopeSet::from_scopes(
                    required
                        .iter()
                        .chain(defaults.iter().flat_map(ScopeSet::iter))
                        .map(str::to_owned),
                )
            }
        }
        .without(OFFLINE_ACCESS);
        if self.max_body_bytes < 1024 {
            return Err(err("max_body_bytes", "must be at least 1024"));
        }

        let url = resource.to_url();
        let metadata_path = protected_resource_metadata_path(&path);
        let metadata_url = format!("{}{metadata_path}", url.origin().ascii_serialization());
        let mut metadata_paths = vec![metadata_path];
        metadata_paths.push("/.well-known/oauth-protected-resource".to_owned());
        metadata_paths.dedup();
        let metadata = ProtectedResourceMetadata::new(
            resource.as_str(),
            self.authorization_servers.iter().map(String::as_str),
            supported.iter(),
            self.resource_name.as_deref(),
        );
        Ok(ResourceServer {
            inner: Arc::new(Inner {
                resource,
                path,
                metadata,
                metadata_url,
                metadata_paths,
                validator,
                required,
                operations,
                implication: self
                    .implication
                    .unwrap_or_else(|| Arc::new(ScopeHierarchy::new())),
                challenge_scopes,
                max_body: self.max_body_bytes,
            }),
        })
    }
}
