//! Without a token the API trusts whoever can reach it on loopback; a web page in the user's
//! browser can reach loopback too. So a request without a token must come from this machine's
//! own name (`Host` localhost, 127.x, [::1]: a DNS-rebound name is refused, so a page cannot
//! read the store through its own domain) and, when a browser says where it comes from
//! (`Origin`), from this API's own origin (so a page cannot write or delete through a "simple"
//! cross-site request that no CORS preflight stops). Programs such as curl send no `Origin`.

use super::routes::ApiError;
use super::Shared;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Refuses, with 403, a tokenless request that names another host or comes from another
/// origin (see the module doc).
pub(super) async fn local_only(
    State(shared): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    if shared.token.is_none() {
        let text = |name| {
            request
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap_or("(not text)"))
        };
        if let Some(why) = refusal(text(header::HOST), text(header::ORIGIN)) {
            return ApiError::new(StatusCode::FORBIDDEN, why).into_response();
        }
    }
    next.run(request).await
}

/// Why a request with these `Host` and `Origin` headers is refused, if it is.
fn refusal(host: Option<&str>, origin: Option<&str>) -> Option<String> {
    if let Some(host) = host {
        if !is_loopback_name(name_of(host)) {
            return Some(format!(
                "Host {host:?} is not this machine: without a token the API answers requests \
                 to localhost, 127.0.0.1 or [::1] only"
            ));
        }
    }
    let origin = origin?;
    let authority = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    let same = match (authority, host) {
        (Some(authority), Some(host)) => authority.eq_ignore_ascii_case(host),
        (Some(authority), None) => is_loopback_name(name_of(authority)),
        (None, _) => false,
    };
    match same {
        true => None,
        false => Some(format!(
            "a request from the web page at {origin:?} is refused: without a token the API \
             answers its own status page and programs on this machine only"
        )),
    }
}

/// The host name of `host[:port]` (an IPv6 address keeps its brackets).
fn name_of(authority: &str) -> &str {
    match authority.rfind(':') {
        Some(colon) if !authority[colon..].contains(']') => &authority[..colon],
        _ => authority,
    }
}

/// Whether `name` is this machine's loopback: `localhost`, 127.0.0.0/8 or `[::1]`.
fn is_loopback_name(name: &str) -> bool {
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = name.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_and_the_status_page_on_loopback_are_let_in() {
        for (host, origin) in [
            (None, None),
            (Some("127.0.0.1:4080"), None),
            (Some("localhost:4080"), None),
            (Some("[::1]:4080"), None),
            (Some("127.0.0.2:9"), None),
            (Some("127.0.0.1:4080"), Some("http://127.0.0.1:4080")),
            (Some("localhost:4080"), Some("http://LOCALHOST:4080")),
        ] {
            assert_eq!(refusal(host, origin), None, "{host:?} {origin:?}");
        }
    }

    #[test]
    fn other_sites_and_rebound_names_are_refused() {
        for (host, origin) in [
            (Some("evil.example:4080"), None),
            (Some("192.168.1.20:4080"), None),
            (Some("127.0.0.1:4080"), Some("https://evil.example")),
            (Some("127.0.0.1:4080"), Some("http://127.0.0.1:8000")),
            (Some("127.0.0.1:4080"), Some("null")),
            (None, Some("http://evil.example")),
        ] {
            assert!(refusal(host, origin).is_some(), "{host:?} {origin:?}");
        }
    }
}
