//! The diagnosis texts: for every finding its stable id, what was observed,
//! why it matters and how to fix it, one constructor per finding, grouped
//! by the stage that finds it. The steps decide *when*; these say *what*.

pub(crate) mod client;
pub(crate) mod code;
pub(crate) mod discovery;
pub(crate) mod mcp;
pub(crate) mod tokens;
