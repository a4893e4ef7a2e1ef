//! Shared by the upstream tests.

use oauth_mcp_battery::cookie_browser::Page;
use oauth_mcp_core::upstream::CallbackParams;

/// The oauth-mcp callback URL the tests register at the providers
/// (nothing listens there: the redirect to it is only inspected).
pub(crate) const CALLBACK: &str = "http://127.0.0.1:5555/upstream/callback";

/// The parameters of a provider's redirect to [`CALLBACK`].
pub(crate) fn callback_params(page: &Page) -> CallbackParams {
    let back = page
        .location
        .as_ref()
        .filter(|_| page.is_redirect())
        .unwrap_or_else(|| {
            panic!(
                "no redirect from {} ({}): {}",
                page.url, page.status, page.body
            )
        });
    assert!(back.as_str().starts_with(CALLBACK), "redirect to {back}");
    CallbackParams::from_query(back.query().unwrap_or(""))
}
