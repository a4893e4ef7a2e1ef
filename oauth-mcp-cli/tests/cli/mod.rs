//! The test modules and their shared helpers ([`support`]).

mod examples;
mod json_schema;
mod keys;
mod misconfigured;
mod store;
mod support;
mod ts_sdk;
mod unreachable;
mod upstream;
