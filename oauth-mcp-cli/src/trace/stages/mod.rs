//! The flow, one module per stage. Each stage runs its steps and yields a
//! typed value the next stage starts from:
//! [`discovery`] → [`client`] → [`code`] → [`tokens`] → [`mcp`] and
//! [`refresh`].

pub(crate) mod client;
pub(crate) mod code;
pub(crate) mod discovery;
pub(crate) mod mcp;
pub(crate) mod refresh;
pub(crate) mod tokens;
