//! Helpers to read an HTTP answer.

use crate::{HttpResponse, RetryAdvice, Verdict};

impl HttpResponse {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `Retry-After` in milliseconds, when it is a number of seconds. (The HTTP-date
    /// form is rare from SIEM APIs and is ignored: the host's backoff applies.)
    pub fn retry_after_ms(&self) -> Option<u32> {
        let seconds: u32 = self.header("retry-after")?.trim().parse().ok()?;
        Some(seconds.saturating_mul(1000))
    }

    /// The body as text, replacing invalid UTF-8, for error messages.
    pub fn body_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// The start of the body, on one line, for a reason.
    pub fn body_start(&self) -> String {
        crate::escape::single_line(&self.body_text().chars().take(200).collect::<String>())
            .into_owned()
    }

    /// Whether the body is empty or one whole JSON value: what a JSON API answers. An
    /// answer that is neither (an HTML page from a captive portal or a misrouted proxy,
    /// a body cut at `max_response_bytes`) did not come from the destination.
    pub fn is_json_or_empty(&self) -> bool {
        !self.truncated
            && (self.body.iter().all(u8::is_ascii_whitespace)
                || serde_json::from_slice::<serde::de::IgnoredAny>(&self.body).is_ok())
    }
}

impl Verdict {
    /// A retry with `reason` that honours the response's `Retry-After`.
    pub fn retry(response: &HttpResponse, reason: impl Into<String>) -> Self {
        Verdict::Retry(RetryAdvice {
            reason: reason.into(),
            after_ms: response.retry_after_ms(),
        })
    }

    /// [`Verdict::from_status`] for a JSON API: a 2xx whose body is not JSON (nor
    /// empty) is a failed attempt, retried, not a delivery: something other than the
    /// destination answered.
    pub fn from_json_api_status(response: &HttpResponse) -> Self {
        match response.status {
            200..=299 if !response.is_json_or_empty() => Verdict::retry(
                response,
                format!(
                    "HTTP {} with an answer that is not the destination's JSON (a proxy or a captive portal in the way?): {}",
                    response.status,
                    response.body_start()
                ),
            ),
            _ => Verdict::from_status(response),
        }
    }

    /// What an HTTP status alone says: 2xx delivered; 408, 429 and 5xx retried; 413 too
    /// large; any other status refused.
    pub fn from_status(response: &HttpResponse) -> Self {
        match response.status {
            200..=299 => Verdict::Delivered,
            413 => Verdict::TooLarge,
            408 | 429 | 500..=599 => Verdict::retry(response, format!("HTTP {}", response.status)),
            status => Verdict::Refused(format!("HTTP {status}: {}", response.body_text())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str, truncated: bool) -> HttpResponse {
        HttpResponse {
            status,
            headers: Vec::new(),
            body: body.as_bytes().to_vec(),
            truncated,
        }
    }

    #[test]
    fn a_json_api_success_must_be_json_or_empty() {
        for (body, truncated) in [("", false), ("{}", false), (" \n", false), ("[1]", false)] {
            assert!(
                matches!(
                    Verdict::from_json_api_status(&response(202, body, truncated)),
                    Verdict::Delivered
                ),
                "{body:?}"
            );
        }
        for (body, truncated) in [
            ("<html>portal</html>", false),
            ("{\"a\":", false),
            ("{}", true),
        ] {
            let verdict = Verdict::from_json_api_status(&response(200, body, truncated));
            assert!(
                matches!(&verdict, Verdict::Retry(advice) if advice.reason.contains("not the destination's JSON")),
                "{body:?}: {verdict:?}"
            );
        }
        assert!(matches!(
            Verdict::from_json_api_status(&response(403, "<html>", false)),
            Verdict::Refused(_)
        ));
    }
}
