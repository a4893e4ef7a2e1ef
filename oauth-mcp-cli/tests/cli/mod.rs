//! The test modules and their shared helpers ([`support`]).

mod examples;
mod keys;
mod misconfigured;
mod store;
mod support;
mod ts_sdk;
