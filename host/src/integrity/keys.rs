//! Ed25519 keys as PEM: a private key in PKCS#8 (what `sluice keygen` and
//! `openssl genpkey -algorithm ed25519` write), a public key in SPKI
//! (`openssl pkey -pubout`).

use std::path::Path;

use anyhow::{Context, Result};
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};

pub fn signing_key(pem: &str) -> Result<SigningKey> {
    SigningKey::from_pkcs8_pem(pem)
        .map_err(|e| anyhow::anyhow!("not an Ed25519 private key in PKCS#8 PEM ({e})"))
}

pub fn verifying_key(path: &Path) -> Result<VerifyingKey> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    VerifyingKey::from_public_key_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{}: not an Ed25519 public key in PEM ({e})", path.display()))
}

/// Writes a new key pair: the private key to `private` (made new, 0600), the public key
/// beside it with `.pub` added (0644).
pub fn generate(private: &Path) -> Result<std::path::PathBuf> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut seed[..]).map_err(|e| anyhow::anyhow!("no random numbers: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 v1, the private key alone: what OpenSSL 3 and Python's cryptography read
    // (v2, with the public key inside, they refuse).
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: *seed,
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    let public = key
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the public key: {e}"))?;
    let mut public_path = private.as_os_str().to_owned();
    public_path.push(".pub");
    let public_path = std::path::PathBuf::from(public_path);
    // Neither is written when either is there: no private key left without its public one.
    for path in [private, public_path.as_path()] {
        anyhow::ensure!(
            std::fs::symlink_metadata(path).is_err(),
            "{} exists: an existing key is never replaced",
            path.display()
        );
    }
    // The public key is for whoever verifies: readable by all, as ssh-keygen leaves one,
    // whatever the umask.
    for (path, text, mode) in [
        (private, pem.as_str(), crate::private_fs::FILE_MODE),
        (public_path.as_path(), public.as_str(), 0o644),
    ] {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .mode(mode)
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| {
                file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                file.write_all(text.as_bytes())
            })
            .with_context(|| {
                format!(
                    "cannot write {} (an existing file is never replaced)",
                    path.display()
                )
            })?;
    }
    Ok(public_path)
}
