//! What to do about a certificate the host refused, in words: rustls names the problem
//! (`CaUsedAsEndEntity`, `UnknownIssuer`), which says little to an operator.

/// The error text `error` with a sentence on what to do, when it is a certificate
/// problem the host knows.
pub fn explained(error: String) -> String {
    const ADVICE: [(&str, &str); 6] = [
        (
            "CaUsedAsEndEntity",
            "the server presents a CA certificate (CA:TRUE) as its own: give the server a certificate signed by that CA, and name the CA in ca_file",
        ),
        (
            "UnknownIssuer",
            "the server's certificate is not signed by a CA this host trusts: name that CA's certificate (PEM) in ca_file",
        ),
        (
            "NotValidForName",
            "the server's certificate does not name the host of the endpoint: use a name the certificate has, or give the server a certificate for this one",
        ),
        (
            "Expired",
            "the server's certificate has expired (or this host's clock is wrong)",
        ),
        (
            "NotValidYet",
            "the server's certificate is not valid yet (or this host's clock is wrong)",
        ),
        (
            "BadSignature",
            "the server's certificate chain has a bad signature: it was not signed by the CA it names",
        ),
    ];
    match ADVICE.iter().find(|(name, _)| error.contains(name)) {
        Some((_, advice)) => format!("{error} ({advice})"),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_certificate_problem_gets_words_and_others_stay() {
        let said =
            explained("invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))".into());
        assert!(said.ends_with("and name the CA in ca_file)"), "{said}");
        assert_eq!(explained("connection refused".into()), "connection refused");
    }
}
