//! A scripted (not rendering) browser for login flows that span several
//! servers, over plain HTTP: a cookie
//! jar (cookies are per host, not per port, as in real browsers), redirects
//! followed one by one (so a test can stop at, and inspect, any hop), and
//! HTML forms found by their action and submitted.

use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::Jar;
use url::Url;

/// The most redirects [`Browser::follow`] takes before giving up.
pub const MAX_REDIRECTS: usize = 20;
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A page (or redirect) the browser received.
#[derive(Debug, Clone)]
pub struct Page {
    /// The URL requested.
    pub url: Url,
    /// The HTTP status.
    pub status: u16,
    /// The `Location` of a redirect, resolved against [`url`](Self::url).
    pub location: Option<Url>,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Page {
    /// True for a 3xx with a `Location`.
    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status) && self.location.is_some()
    }

    /// The `Set-Cookie` headers.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    }

    /// The action URL of the first `<form>` whose `action` ends with
    /// `suffix` (resolved against the page URL). Panics if there is none.
    pub fn form_action(&self, suffix: &str) -> Url {
        let mut rest = self.body.as_str();
        while let Some(i) = rest.find("<form") {
            rest = &rest[i + 5..];
            let tag = &rest[..rest.find('>').unwrap_or(rest.len())];
            if let Some(a) = tag.find("action=\"") {
                let value = &tag[a + 8..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                let value = html_unescape(value);
                if value.ends_with(suffix) {
                    return self
                        .url
                        .join(&value)
                        .unwrap_or_else(|e| panic!("form action `{value}`: {e}"));
                }
            }
        }
        panic!(
            "no form with an action ending in `{suffix}` at {} ({}):\n{}",
            self.url, self.status, self.body
        )
    }

    /// The `href` of the element with `id` (unescaped), if any.
    pub fn link(&self, id: &str) -> Option<String> {
        let marker = format!("id=\"{id}\" href=\"");
        let start = self.body.find(&marker)? + marker.len();
        let rest = &self.body[start..];
        Some(html_unescape(&rest[..rest.find('"')?]))
    }

    /// The text of the page without tags, unescaped (for checking messages).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in self.body.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        html_unescape(&out)
    }

    /// The value of the hidden (or any) input `name` in the page. Panics if
    /// there is none.
    pub fn input_value(&self, name: &str) -> String {
        let needle = format!("name=\"{name}\"");
        let at = self
            .body
            .find(&needle)
            .unwrap_or_else(|| panic!("no input `{name}` at {}:\n{}", self.url, self.body));
        let start = self.body[..at].rfind('<').unwrap_or(0);
        let end = at + self.body[at..].find('>').unwrap_or(self.body.len() - at);
        let tag = &self.body[start..end];
        let v = tag
            .find("value=\"")
            .map(|i| &tag[i + 7..])
            .map(|v| &v[..v.find('"').unwrap_or(v.len())])
            .unwrap_or_else(|| panic!("input `{name}` has no value: {tag}"));
        html_unescape(v)
    }
}

/// Undoes HTML escaping: the named entities templates use and numeric ones
/// (`&#x2f;`, `&#39;`).
fn html_unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|e| *e <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A browser: one cookie jar, no automatic redirects.
#[derive(Debug, Clone)]
pub struct Browser {
    client: reqwest::Client,
    jar: Arc<Jar>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    /// A browser with an empty cookie jar.
    pub fn new() -> Self {
        let jar = Arc::new(Jar::default());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .cookie_provider(jar.clone())
            .build()
            .expect("reqwest client");
        Self { client, jar }
    }

    /// The cookies this browser would send to `url` (`a=1; b=2`).
    pub fn cookies_for(&self, url: &str) -> String {
        use reqwest::cookie::CookieStore;
        let url = Url::parse(url).expect("URL");
        self.jar
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn page(&self, url: Url, resp: reqwest::Result<reqwest::Response>) -> Page {
        let resp = resp.unwrap_or_else(|e| panic!("request to {url}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let location = headers
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(|l| {
                url.join(l)
                    .unwrap_or_else(|e| panic!("bad Location `{l}` from {url}: {e}"))
            });
        let body = resp.text().await.unwrap_or_default();
        Page {
            url,
            status,
            location,
            headers,
            body,
        }
    }

    /// GETs `url`.
    pub async fn get(&self, url: &str) -> Page {
        let u = Url::parse(url).unwrap_or_else(|e| panic!("`{url}`: {e}"));
        let resp = self.client.get(u.clone()).send().await;
        self.page(u, resp).await
    }

    /// POSTs `fields` form-encoded to `url`.
    pub async fn post_form(&self, url: &str, fields: &[(&str, &str)]) -> Page {
        let u = Url::parse(url).unwrap_or_else(|e| panic!("`{url}`: {e}"));
        let resp = self.client.post(u.clone()).form(fields).send().await;
        self.page(u, resp).await
    }

    /// Submits the page's form whose action ends with `action_suffix`.
    pub async fn submit(&self, page: &Page, action_suffix: &str, fields: &[(&str, &str)]) -> Page {
        let action = page.form_action(action_suffix);
        self.post_form(action.as_str(), fields).await
    }

    /// Follows `page`'s redirects (GET) until a page that is not a redirect,
    /// or a redirect whose target starts with `stop_at`, which is returned
    /// without being requested.
    pub async fn follow(&self, mut page: Page, stop_at: &str) -> Page {
        for _ in 0..MAX_REDIRECTS {
            let Some(next) = page.location.clone().filter(|_| page.is_redirect()) else {
                return page;
            };
            if next.as_str().starts_with(stop_at) {
                return page;
            }
            page = self.get(next.as_str()).await;
        }
        panic!("more than {MAX_REDIRECTS} redirects, last at {}", page.url)
    }
}
