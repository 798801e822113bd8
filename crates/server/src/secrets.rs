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
    retired: Vec<(KeyId, ed25519_dalek::VerifyingKey)>,
    admin_token: String,
}

/// The key id of a public key: the first 4 bytes of its SHA-256.
pub fn key_id_of(key: &ed25519_dalek::VerifyingKey) -> KeyId {
    let digest = Sha256::digest(key.as_bytes());
    KeyId([digest[0], digest[1], digest[2], digest[3]])
}

const RETIRED_KEYS: &str = "token-retired.pub";
const SIGNING_KEY: &str = "token-signing.key";

/// Replaces the token signing key with a new one. The old public key stays in
/// `token-retired.pub`, so tokens already shown to customers still verify (devices get it
/// with the key list). Run while the server is stopped; it reads keys at start.
pub fn rotate_token_key(dir: &Path) -> Result<KeyId, ServerError> {
    let old = Secrets::load_or_create(dir)?;
    let mut retired = fs::read_to_string(dir.join(RETIRED_KEYS)).unwrap_or_default();
    retired.push_str(&hex::encode(old.signing_key.verifying_key().as_bytes()));
    retired.push('\n');
    write_private(&dir.join(format!("{RETIRED_KEYS}.tmp")), retired.as_bytes())?;
    fs::rename(
        dir.join(format!("{RETIRED_KEYS}.tmp")),
        dir.join(RETIRED_KEYS),
    )?;
    let new = SigningKey::from_bytes(&random_bytes::<32>());
    write_private(
        &dir.join(format!("{SIGNING_KEY}.tmp")),
        hex::encode(new.to_bytes()).as_bytes(),
    )?;
    fs::rename(
        dir.join(format!("{SIGNING_KEY}.tmp")),
        dir.join(SIGNING_KEY),
    )?;
    Ok(key_id_of(&new.verifying_key()))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
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
        let signing = read_or_create(&dir.join(SIGNING_KEY), || {
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
        let key_id = key_id_of(&signing_key.verifying_key());
        let mut retired = Vec::new();
        for line in fs::read_to_string(dir.join(RETIRED_KEYS))
            .unwrap_or_default()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            let key = doorstep_protocol::token::decode_hex::<32>(line)
                .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| ServerError::Config(format!("{RETIRED_KEYS} has a bad key")))?;
            retired.insert(0, (key_id_of(&key), key));
        }
        let admin_token = String::from_utf8(admin)
            .map_err(|_| ServerError::Config("admin.token is not text".into()))?
            .trim()
            .to_string();
        Ok(Self {
            hmac_key,
            signing_key,
            key_id,
            retired,
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

    /// The public keys devices verify tokens with: the current one and the retired ones.
    pub fn token_keys(&self) -> TokenKeys {
        let mut keys = TokenKeys::new();
        for (id, key) in &self.retired {
            keys.insert(*id, *key);
        }
        keys.insert(self.key_id, self.signing_key.verifying_key());
        keys
    }

    /// Published keys, newest first.
    pub fn public_keys(&self) -> Vec<doorstep_protocol::token::PublicTokenKey> {
        let mut out = vec![doorstep_protocol::token::PublicTokenKey::new(
            self.key_id,
            &self.signing_key.verifying_key(),
        )];
        out.extend(
            self.retired
                .iter()
                .map(|(id, key)| doorstep_protocol::token::PublicTokenKey::new(*id, key)),
        );
        out
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
