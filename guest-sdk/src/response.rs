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
}

impl Verdict {
    /// A retry with `reason` that honours the response's `Retry-After`.
    pub fn retry(response: &HttpResponse, reason: impl Into<String>) -> Self {
        Verdict::Retry(RetryAdvice {
            reason: reason.into(),
            after_ms: response.retry_after_ms(),
        })
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
