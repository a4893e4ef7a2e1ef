//! What every scenario's summary must show: pages that fit, are accessible
//! and name the client; and the helpers that find pages in a summary.

use serde_json::Value;

use super::CLIENT_NAME;

/// The one page shown is a 400 error page with a visible `#error` that fits
/// its viewport, and the browser was not sent to the client.
pub(super) fn assert_error_page_only(s: &Value) {
    assert_pages_fit(s);
    assert!(
        s["redirect"].is_null(),
        "an unsafe request must not be redirected: {}",
        s["redirect"]
    );
    let p = first_page(s);
    let shot = &p["screenshot"];
    assert_eq!(p["status"], 400, "the error page is a 400 ({shot})");
    assert!(
        p["error"].as_str().is_some_and(|e| !e.is_empty()),
        "no visible #error ({shot})"
    );
}

/// Every form field has a label; every element focused (by Tab, or by the
/// page itself) shows a focus indicator; all text is readable (WCAG AA
/// contrast); the policy blocked nothing and every image loaded.
pub(super) fn assert_accessible(s: &Value) {
    let csp = &s["csp_violations"];
    assert!(
        csp.as_array().is_some_and(Vec::is_empty),
        "the browser refused parts of the pages under their Content-Security-Policy: {csp}"
    );
    let unmarked = &s["focus_unmarked"];
    assert!(
        unmarked.as_array().is_some_and(Vec::is_empty),
        "focused without a visible focus indicator: {unmarked}; Tab went {}",
        s["focus_stops"]
    );
    for p in s["pages"].as_array().into_iter().flatten() {
        let shot = &p["screenshot"];
        assert!(
            p["unlabelled"].as_array().is_some_and(Vec::is_empty),
            "form fields without a label: {} ({shot})",
            p["unlabelled"]
        );
        assert_eq!(
            p["focus_marked"], true,
            "the element the page focuses ({}) shows no focus indicator ({shot})",
            p["focused"]
        );
        assert!(
            p["low_contrast"].as_array().is_some_and(Vec::is_empty),
            "text below WCAG AA contrast: {} ({shot})",
            p["low_contrast"]
        );
        for img in p["images"].as_array().into_iter().flatten() {
            assert_eq!(
                img["loaded"], true,
                "image {} did not load ({shot})",
                img["src"]
            );
        }
    }
}

/// Every page fits its viewport's width.
pub(super) fn assert_pages_fit(s: &Value) {
    for p in s["pages"].as_array().into_iter().flatten() {
        let (scroll, inner) = (p["scroll_width"].as_u64(), p["inner_width"].as_u64());
        assert!(
            scroll.is_some() && scroll <= inner,
            "page `{}` overflows horizontally: scrollWidth {} > innerWidth {}; too wide: {} ({})",
            p["label"],
            p["scroll_width"],
            p["inner_width"],
            p["too_wide"],
            p["screenshot"]
        );
    }
}

/// The page names the client and the host the result goes to.
pub(super) fn assert_shows_client(p: &Value, redirect_uri: &str) {
    let host = url::Url::parse(redirect_uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("redirect URI without a host: {redirect_uri}"));
    let shot = &p["screenshot"];
    assert_eq!(
        p["client_name"], CLIENT_NAME,
        "the client's name must be visible in #client-name ({shot})"
    );
    assert_eq!(
        p["redirect_host"], host,
        "the redirect host must be visible in #redirect-host ({shot})"
    );
}

pub(super) fn first_page(s: &Value) -> &Value {
    s["pages"]
        .get(0)
        .unwrap_or_else(|| panic!("no page observed: {s}"))
}

pub(super) fn page<'a>(s: &'a Value, label: &str) -> &'a Value {
    s["pages"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["label"] == label))
        .unwrap_or_else(|| panic!("no page `{label}`; pages: {}", pages_brief(s)))
}

/// The page with the Allow and Deny buttons.
pub(super) fn consent_page(s: &Value) -> &Value {
    s["pages"]
        .as_array()
        .and_then(|ps| {
            ps.iter()
                .find(|p| p["approve_button"] == true && p["deny_button"] == true)
        })
        .unwrap_or_else(|| panic!("no page offered Allow and Deny; pages: {}", pages_brief(s)))
}

/// One line per observed page, for failure messages.
pub(super) fn pages_brief(s: &Value) -> String {
    s["pages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            format!(
                "\n  {} [{}] {} (error: {}) {}",
                p["label"], p["status"], p["url"], p["error"], p["screenshot"]
            )
        })
        .collect()
}
