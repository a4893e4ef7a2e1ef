//! Entry points for the `cargo fuzz` targets in `fuzz/` (feature `fuzzing`):
//! thin wrappers around the tracer's parsers, which are private to the
//! crate, returning plain types. Not a public API: it follows the parsers.

use serde_json::Value;
use url::Url;

use super::{html, parse, wellknown};

/// A `WWW-Authenticate` challenge: scheme and (lower-cased name, value) params.
pub type Challenge = (String, Vec<(String, String)>);

/// `parse::parse_challenges`, plus each challenge's `is_bearer` and
/// `resource_metadata` as the tracer reads them.
pub fn challenges(value: &str) -> Vec<(Challenge, bool, Option<String>)> {
    parse::parse_challenges(value)
        .into_iter()
        .map(|c| {
            let bearer = c.is_bearer();
            let rm = c.param("resource_metadata").map(str::to_owned);
            ((c.scheme, c.params), bearer, rm)
        })
        .collect()
}

/// `parse::drain_sse_events`.
pub fn drain_sse_events(buf: &mut String) -> Vec<String> {
    parse::drain_sse_events(buf)
}

/// `parse::decode_jwt` as (header, claims), with `parse::audiences`.
pub fn decode_jwt(token: &str) -> Option<(Value, Value, Option<Vec<String>>)> {
    let j = parse::decode_jwt(token)?;
    let aud = parse::audiences(&j.claims);
    Some((j.header, j.claims, aud))
}

/// `parse::same_resource`.
pub fn same_resource(a: &str, b: &str) -> bool {
    parse::same_resource(a, b)
}

/// `parse::canonical`.
pub fn canonical(s: &str) -> String {
    parse::canonical(s)
}

/// `parse::is_loopback`.
pub fn is_loopback(u: &Url) -> bool {
    parse::is_loopback(u)
}

/// `parse::is_redirect_to` and `parse::query_param` of `code`/`state`.
pub fn redirect(location: &Url, redirect_uri: &Url) -> (bool, Option<String>, Option<String>) {
    (
        parse::is_redirect_to(location, redirect_uri),
        parse::query_param(location, "code"),
        parse::query_param(location, "state"),
    )
}

/// `wellknown::protected_resource` and `wellknown::authorization_server`.
pub fn well_known(u: &Url) -> (Vec<String>, Vec<String>) {
    (
        wellknown::protected_resource(u),
        wellknown::authorization_server(u),
    )
}

/// One form as the tracer sees it: action, method, (kind, name, value)
/// fields, whether it has a password input, the user-name field's and the
/// submit button's names, and what it would submit.
#[derive(Debug)]
pub struct Form {
    /// `action`.
    pub action: Option<String>,
    /// `method`, lower-cased.
    pub method: String,
    /// (kind, name, value) of each control.
    pub fields: Vec<(String, String, String)>,
    /// Has a password input.
    pub has_password: bool,
    /// The user-name field's name.
    pub username_field: Option<String>,
    /// The submit button's name.
    pub submit_button: Option<String>,
    /// The filled-in submission.
    pub filled: Vec<(String, String)>,
}

/// `html::parse_forms` and what the tracer does with each form.
pub fn forms(page: &str, username: &str, password: &str) -> Vec<Form> {
    html::parse_forms(page)
        .into_iter()
        .map(|f| Form {
            has_password: f.has_password(),
            username_field: f.username_field().map(|x| x.name.clone()),
            submit_button: f.submit_button().map(|x| x.name.clone()),
            filled: f.fill(Some(username), Some(password)),
            fields: f
                .fields
                .iter()
                .map(|x| (x.kind.clone(), x.name.clone(), x.value.clone()))
                .collect(),
            action: f.action,
            method: f.method,
        })
        .collect()
}

/// `html::visible_text`.
pub fn visible_text(page: &str, max: usize) -> String {
    html::visible_text(page, max)
}

/// `html::error_text`.
pub fn error_text(page: &str) -> Option<String> {
    html::error_text(page)
}
