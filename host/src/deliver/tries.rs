//! What delivering some events went through, for their dead-letter records.

#[derive(Debug, Clone, Default)]
pub(super) struct Tries {
    /// Attempts made (0: never sent).
    pub attempts: u32,
    pub first_error: Option<String>,
}

impl Tries {
    /// An attempt failed with `reason`.
    pub fn failed(&mut self, attempt: u32, reason: &str) {
        self.attempts = attempt;
        self.first_error.get_or_insert_with(|| reason.to_owned());
    }
}
