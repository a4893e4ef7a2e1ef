//! Real MCP clients' registration bodies and metadata documents, from
//! public material (`fixtures/clients/*.json`, described in that folder's
//! README), with what each sends at `/authorize` and `/token`.

use serde_json::Value;

/// Every profile file, by name.
const FILES: &[(&str, &str)] = &[
    (
        "chatgpt-cimd",
        include_str!("../fixtures/clients/chatgpt-cimd.json"),
    ),
    (
        "chatgpt-dcr",
        include_str!("../fixtures/clients/chatgpt-dcr.json"),
    ),
    (
        "claude-ai-cimd",
        include_str!("../fixtures/clients/claude-ai-cimd.json"),
    ),
    (
        "claude-ai-dcr",
        include_str!("../fixtures/clients/claude-ai-dcr.json"),
    ),
    (
        "claude-code",
        include_str!("../fixtures/clients/claude-code.json"),
    ),
    ("codex", include_str!("../fixtures/clients/codex.json")),
    ("cursor", include_str!("../fixtures/clients/cursor.json")),
    ("goose", include_str!("../fixtures/clients/goose.json")),
    (
        "mcp-inspector",
        include_str!("../fixtures/clients/mcp-inspector.json"),
    ),
    (
        "vscode-cimd",
        include_str!("../fixtures/clients/vscode-cimd.json"),
    ),
    (
        "vscode-dcr",
        include_str!("../fixtures/clients/vscode-dcr.json"),
    ),
];

/// How a client identifies itself to the authorization server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// RFC 7591 dynamic client registration.
    Dcr,
    /// A Client ID Metadata Document at an https URL.
    Cimd,
}

/// One client's profile.
#[derive(Debug, Clone)]
pub struct ClientProfile {
    /// The file name without `.json`.
    pub name: &'static str,
    /// The whole file.
    pub json: Value,
}

impl ClientProfile {
    /// How it registers.
    pub fn registration(&self) -> Registration {
        match self.json["registration"].as_str() {
            Some("cimd") => Registration::Cimd,
            _ => Registration::Dcr,
        }
    }

    /// The DCR body with `{port}` replaced by `port` (DCR profiles only).
    pub fn registration_body(&self, port: u16) -> Option<Value> {
        let body = self.json.get("registration_body")?;
        serde_json::from_str(&body.to_string().replace("{port}", &port.to_string())).ok()
    }

    /// The metadata document as published (CIMD profiles only).
    pub fn metadata_document(&self) -> Option<&Value> {
        self.json.get("metadata_document")
    }

    /// The metadata document re-homed at `client_id`, as a test serves it
    /// from loopback.
    pub fn metadata_document_at(&self, client_id: &str) -> Option<Value> {
        let mut doc = self.metadata_document()?.clone();
        doc["client_id"] = Value::from(client_id);
        Some(doc)
    }

    /// The redirect URI it sends at `/authorize`, for an ephemeral `port`.
    pub fn authorize_redirect_uri(&self, port: u16) -> String {
        self.json["authorize"]["redirect_uri"]
            .as_str()
            .unwrap_or_default()
            .replace("{port}", &port.to_string())
    }

    /// Its token-endpoint authentication method.
    pub fn token_auth_method(&self) -> &str {
        self.json["token"]["auth_method"].as_str().unwrap_or("none")
    }
}

/// Every profile.
pub fn all() -> Vec<ClientProfile> {
    FILES
        .iter()
        .map(|(name, text)| ClientProfile {
            name,
            json: serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("fixtures/clients/{name}.json is not JSON: {e}")),
        })
        .collect()
}

/// The profile called `name`.
pub fn get(name: &str) -> ClientProfile {
    all()
        .into_iter()
        .find(|p| p.name == name)
        .unwrap_or_else(|| panic!("no client profile `{name}`"))
}
