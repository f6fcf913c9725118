//! Signing with a secret the module never sees: the host holds the destination's
//! `signing_keys` and computes the signature (for example a webhook's HMAC header, or
//! Sentinel's SharedKey).

/// HMAC-SHA256 of `data` under the destination's signing key `key_name`. The error says
/// why (for example, no key of that name is configured).
pub fn hmac_sha256(key_name: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    #[cfg(target_arch = "wasm32")]
    {
        use crate::wit::sluice::module::host;
        host::sign(key_name, host::SignAlgorithm::HmacSha256, data)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (key_name, data);
        Err("signing needs the Sluice host: keys never leave it".to_owned())
    }
}
