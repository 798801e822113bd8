//! Secrets made at first start in the data directory, each file mode 0600:
//! the HMAC key for codes, the Ed25519 token signing key and the admin token.

use std::fs;
use std::io::Write;
use std::path::Path;

use doorstep_protocol::{KeyId, TokenKeys};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, TryRngCore};
use sha2::{Digest, Sha256};

use crate::ServerError;

/// The server's secrets, loaded once at start.
pub struct Secrets {
    hmac_key: [u8; 32],
    signing_key: SigningKey,
    key_id: KeyId,
    admin_token: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets(key_id={}, <redacted>)", self.key_id)
    }
}

/// 32 bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng
        .try_fill_bytes(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

fn read_or_create(path: &Path, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>, ServerError> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let bytes = make();
            let mut opts = fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            let mut f = opts.open(path)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            Ok(bytes)
        }
        Err(e) => Err(e.into()),
    }
}

impl Secrets {
    /// Loads the secrets from `dir`, creating any that are missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, ServerError> {
        fs::create_dir_all(dir)?;
        let hmac = read_or_create(&dir.join("code-hmac.key"), || {
            hex::encode(random_bytes::<32>()).into_bytes()
        })?;
        let signing = read_or_create(&dir.join("token-signing.key"), || {
            hex::encode(random_bytes::<32>()).into_bytes()
        })?;
        let admin = read_or_create(&dir.join("admin.token"), || {
            format!("dsa_{}", hex::encode(random_bytes::<32>())).into_bytes()
        })?;
        let parse32 = |bytes: Vec<u8>, what: &str| -> Result<[u8; 32], ServerError> {
            let text = String::from_utf8(bytes)
                .map_err(|_| ServerError::Config(format!("{what} is not text")))?;
            let raw = hex::decode(text.trim())
                .map_err(|_| ServerError::Config(format!("{what} is not hex")))?;
            raw.try_into()
                .map_err(|_| ServerError::Config(format!("{what} must be 32 bytes")))
        };
        let hmac_key = parse32(hmac, "code-hmac.key")?;
        let signing_key = SigningKey::from_bytes(&parse32(signing, "token-signing.key")?);
        let digest = Sha256::digest(signing_key.verifying_key().as_bytes());
        let key_id = KeyId([digest[0], digest[1], digest[2], digest[3]]);
        let admin_token = String::from_utf8(admin)
            .map_err(|_| ServerError::Config("admin.token is not text".into()))?
            .trim()
            .to_string();
        Ok(Self {
            hmac_key,
            signing_key,
            key_id,
            admin_token,
        })
    }

    /// HMAC-SHA256 of `parts` joined by NUL under the server's code key.
    pub fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.hmac_key).expect("any key length");
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0]);
            }
            mac.update(p);
        }
        mac.finalize().into_bytes().to_vec()
    }

    /// The token signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The signing key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public keys devices verify tokens with.
    pub fn token_keys(&self) -> TokenKeys {
        let mut keys = TokenKeys::new();
        keys.insert(self.key_id, self.signing_key.verifying_key());
        keys
    }

    /// The fleet manager's admin token.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }
}

/// SHA-256, for 256-bit random tokens (no key needed: they cannot be guessed).
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}
