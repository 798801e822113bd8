//! Secrets made at first start in `<data dir>/secrets/`: the HMAC key for codes, the Ed25519
//! token signing key and the admin token; plus the lists of retired and revoked token keys.
//!
//! Everything private in the data directory is created private (directories 0700, files
//! 0600) rather than tightened afterwards, so there is no moment in which another user of the
//! machine could open it. A secret that other users can already read has to be treated as
//! leaked, so [`Secrets::load_or_create`] refuses to start with it rather than quietly fixing
//! the mode: the fleet manager decides whether to rotate it.
//!
//! The rotation commands ([`rotate_token_key`], [`revoke_token_key`], [`rotate_admin_token`])
//! write the files of a stopped server; the server reads its secrets once, at start.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use doorstep_protocol::{KeyId, TokenKeys};
use ed25519_dalek::{SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, TryRngCore};
use sha2::{Digest, Sha256};

const CODE_KEY: &str = "code-hmac.key";

/// Secrets that cannot be read, written or trusted.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The file system failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The secrets or the data directory cannot be used as they are; the message says how to
    /// fix it.
    #[error("configuration: {0}")]
    Unusable(String),
}

/// Keys the stored hashes of phones' record chains; separate from the code key so that
/// rotating the code key does not break every phone's chain.
const CHAIN_KEY: &str = "chain-hmac.key";
const SIGNING_KEY: &str = "token-signing.key";
const ADMIN_TOKEN: &str = "admin.token";
/// Public keys of earlier signing keys, one hex key a line, oldest first. Tokens they signed
/// still verify, so a routine rotation does not void the QR codes customers already have.
const RETIRED_KEYS: &str = "token-retired.pub";
/// Key ids (8 hex digits, one a line) that must never verify a token again.
const REVOKED_KEYS: &str = "token-revoked.txt";

/// The server's secrets, loaded once at start.
pub struct Secrets {
    hmac_key: [u8; 32],
    chain_key: [u8; 32],
    signing_key: SigningKey,
    key_id: KeyId,
    /// Retired keys that are not revoked, newest first.
    retired: Vec<(KeyId, VerifyingKey)>,
    admin_token: String,
}

/// The key id of a public key: the first 4 bytes of its SHA-256.
pub fn key_id_of(key: &VerifyingKey) -> KeyId {
    let digest = Sha256::digest(key.as_bytes());
    KeyId([digest[0], digest[1], digest[2], digest[3]])
}

/// Creates `path` and any missing parents with mode 0700 (before the umask). An existing
/// directory keeps its mode.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Creates a new file with mode 0600 (before the umask); fails if `path` exists, so a file
/// left with a looser mode is never reused.
pub fn create_private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)
}

/// The database file `Store::open` uses (the file-mode test fails if the two drift apart).
const DB_FILE: &str = "doorstep.sqlite3";

/// Creates the data directory 0700 and the database file 0600 before SQLite first opens it
/// (SQLite makes `-wal` and `-shm` with the database's mode, so they are private too). Files
/// and the photo folder left looser by an older server are tightened: they are ours and hold
/// personal data. An existing data directory keeps its mode, with a warning: it may be a
/// directory the operator shares on purpose, and what is inside is private either way.
pub(crate) fn make_data_dir_private(dir: &Path) -> Result<(), SecretsError> {
    create_private_dir(dir)?;
    let db = dir.join(DB_FILE);
    match create_private_file(&db) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode_of = |p: &Path| fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o777);
        if let Some(mode) = mode_of(dir)
            && mode & 0o077 != 0
        {
            tracing::warn!(
                "the data directory {} is open to other users (mode {mode:04o}); `chmod 700 {}` makes it private",
                dir.display(),
                dir.display()
            );
        }
        let tighten = |p: PathBuf, private: u32| -> Result<(), SecretsError> {
            if let Some(mode) = mode_of(&p)
                && mode & 0o077 != 0
            {
                fs::set_permissions(&p, fs::Permissions::from_mode(private))?;
                tracing::info!(path = %p.display(), "made private (mode {private:04o})");
            }
            Ok(())
        };
        for suffix in ["", "-wal", "-shm"] {
            tighten(dir.join(format!("{DB_FILE}{suffix}")), 0o600)?;
        }
        tighten(dir.join(super::PHOTOS_DIR), 0o700)?;
    }
    Ok(())
}

/// Refuses a secret (file or directory) that users other than the server's own can use:
/// any group or other permission bit. The message names the file and the fix.
fn refuse_if_shared(path: &Path) -> Result<(), SecretsError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::metadata(path)?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            let (want, what) = if meta.is_dir() {
                ("700", "the secrets directory")
            } else {
                ("600", "the secret")
            };
            return Err(SecretsError::Unusable(format!(
                "other users of this machine can open {what} {path} (mode {mode:04o}); \
                 make it private with `chmod {want} {path}` and start again (if others may \
                 already have read it, rotate it: see the Security section of the server's README)",
                path = path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Reads a secrets file after checking its mode; `None` if it does not exist.
fn read_private(path: &Path) -> Result<Option<Vec<u8>>, SecretsError> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    refuse_if_shared(path)?;
    Ok(Some(fs::read(path)?))
}

/// Replaces `dir/name` with `bytes` atomically: a fresh 0600 temporary file, fsync, rename,
/// fsync of the directory. A crash leaves the old file or the new one, never half of one.
fn replace_private(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SecretsError> {
    let tmp = dir.join(format!("{name}.tmp"));
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let mut f = create_private_file(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::rename(&tmp, dir.join(name))?;
    #[cfg(unix)]
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Refuses to work on a secrets directory that is not there: a mistyped `--data-dir` must
/// not make fresh secrets and look like a successful rotation.
fn require_secrets(dir: &Path) -> Result<(), SecretsError> {
    if !dir.join(SIGNING_KEY).exists() {
        return Err(SecretsError::Unusable(format!(
            "{} holds no secrets; check --data-dir (the server makes them at first start)",
            dir.display()
        )));
    }
    refuse_if_shared(dir)
}

/// Reads `dir/name`, or creates it with `make()`'s bytes (mode 0600).
fn read_or_create(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> Result<Vec<u8>, SecretsError> {
    if let Some(bytes) = read_private(&dir.join(name))? {
        return Ok(bytes);
    }
    let bytes = make();
    let mut f = create_private_file(&dir.join(name))?;
    f.write_all(&bytes)?;
    f.sync_all()?;
    Ok(bytes)
}

fn parse32(bytes: &[u8], what: &str) -> Result<[u8; 32], SecretsError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SecretsError::Unusable(format!("secrets/{what} is not text")))?;
    let raw = hex::decode(text.trim())
        .map_err(|_| SecretsError::Unusable(format!("secrets/{what} is not hex")))?;
    raw.try_into()
        .map_err(|_| SecretsError::Unusable(format!("secrets/{what} must be 32 bytes")))
}

/// The signing key in `dir`, if there is one.
fn read_signing_key(dir: &Path) -> Result<Option<SigningKey>, SecretsError> {
    read_private(&dir.join(SIGNING_KEY))?
        .map(|b| Ok(SigningKey::from_bytes(&parse32(&b, SIGNING_KEY)?)))
        .transpose()
}

/// The retired public keys, oldest first.
fn read_retired(dir: &Path) -> Result<Vec<VerifyingKey>, SecretsError> {
    let text = read_private(&dir.join(RETIRED_KEYS))?.unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            doorstep_protocol::token::decode_hex::<32>(line)
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| {
                    SecretsError::Unusable(format!(
                        "secrets/{RETIRED_KEYS} has a line that is not a public key"
                    ))
                })
        })
        .collect()
}

/// The revoked key ids.
fn read_revoked(dir: &Path) -> Result<Vec<KeyId>, SecretsError> {
    let text = read_private(&dir.join(REVOKED_KEYS))?.unwrap_or_default();
    String::from_utf8_lossy(&text)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            line.parse::<KeyId>().map_err(|_| {
                SecretsError::Unusable(format!(
                    "secrets/{REVOKED_KEYS} has a line that is not a key id (8 hex digits)"
                ))
            })
        })
        .collect()
}

fn write_retired(dir: &Path, keys: &[VerifyingKey]) -> Result<(), SecretsError> {
    let text: String = keys
        .iter()
        .map(|k| format!("{}\n", hex::encode(k.as_bytes())))
        .collect();
    replace_private(dir, RETIRED_KEYS, text.as_bytes())
}

/// A fresh signing key whose id is none of `taken` (ids are 4 bytes, so a clash is
/// unlikely, but a token's key id must name one key).
fn new_signing_key(taken: &[KeyId]) -> SigningKey {
    loop {
        let key = SigningKey::from_bytes(&random_bytes::<32>());
        if !taken.contains(&key_id_of(&key.verifying_key())) {
            return key;
        }
    }
}

/// Replaces the token signing key with a new one. The old public key stays in
/// `token-retired.pub`, so tokens already shown to customers still verify (devices get it
/// with the key list). Run while the server is stopped; it reads keys at start.
pub fn rotate_token_key(dir: &Path) -> Result<KeyId, SecretsError> {
    require_secrets(dir)?;
    let old = Secrets::load_or_create(dir)?;
    let mut retired = read_retired(dir)?;
    retired.push(old.signing_key.verifying_key());
    write_retired(dir, &retired)?;
    let mut taken: Vec<KeyId> = retired.iter().map(key_id_of).collect();
    taken.extend(read_revoked(dir)?);
    let new = new_signing_key(&taken);
    replace_private(dir, SIGNING_KEY, hex::encode(new.to_bytes()).as_bytes())?;
    Ok(key_id_of(&new.verifying_key()))
}

/// What [`revoke_token_key`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    /// The key was the signing key: it is revoked and this new key signs from now on.
    SigningKeyReplaced {
        /// The new signing key's id.
        new_key_id: KeyId,
    },
    /// A retired key was revoked.
    RetiredKeyRevoked,
    /// The key was revoked before; nothing changed.
    AlreadyRevoked,
}

/// Revokes a token key that may be compromised: its id goes to `token-revoked.txt`, it
/// leaves `token-retired.pub`, and if it is the signing key a new signing key is made
/// (without retiring the old one). After a restart the server refuses tokens it signed at
/// sync and no longer publishes it, so phones drop it with their next key list. Unlike
/// [`rotate_token_key`] this voids the QR codes customers already have; their pages show a
/// new one. Run while the server is stopped.
///
/// Errors if `dir` holds no secrets or no key of it has that id.
pub fn revoke_token_key(dir: &Path, key_id: KeyId) -> Result<Revocation, SecretsError> {
    require_secrets(dir)?;
    let mut revoked = read_revoked(dir)?;
    let mut retired = read_retired(dir)?;
    let current = read_signing_key(dir)?;
    let is_current = current
        .as_ref()
        .is_some_and(|k| key_id_of(&k.verifying_key()) == key_id);
    let is_retired = retired.iter().any(|k| key_id_of(k) == key_id);
    if !is_current && !is_retired {
        if revoked.contains(&key_id) {
            return Ok(Revocation::AlreadyRevoked);
        }
        let mut known: Vec<String> = current
            .iter()
            .map(|k| format!("{} (signing)", key_id_of(&k.verifying_key())))
            .collect();
        known.extend(
            retired
                .iter()
                .map(|k| format!("{} (retired)", key_id_of(k))),
        );
        return Err(SecretsError::Unusable(format!(
            "no token key {key_id} in {}; its keys are: {}",
            dir.display(),
            if known.is_empty() {
                "none yet".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    // Record the revocation first: if we stop half-way, the key is refused anyway.
    if !revoked.contains(&key_id) {
        revoked.push(key_id);
        let text: String = revoked.iter().map(|id| format!("{id}\n")).collect();
        replace_private(dir, REVOKED_KEYS, text.as_bytes())?;
    }
    if is_retired {
        retired.retain(|k| key_id_of(k) != key_id);
        write_retired(dir, &retired)?;
    }
    if !is_current {
        return Ok(Revocation::RetiredKeyRevoked);
    }
    let mut taken: Vec<KeyId> = retired.iter().map(key_id_of).collect();
    taken.extend(revoked);
    let new = new_signing_key(&taken);
    replace_private(dir, SIGNING_KEY, hex::encode(new.to_bytes()).as_bytes())?;
    Ok(Revocation::SigningKeyReplaced {
        new_key_id: key_id_of(&new.verifying_key()),
    })
}

/// Replaces the admin token with a new random one and returns it (show it once: it is not
/// printed anywhere else). The running server keeps the old token until it restarts.
pub fn rotate_admin_token(dir: &Path) -> Result<String, SecretsError> {
    require_secrets(dir)?;
    Secrets::load_or_create(dir)?;
    let token = new_admin_token();
    replace_private(dir, ADMIN_TOKEN, token.as_bytes())?;
    Ok(token)
}

fn new_admin_token() -> String {
    format!("dsa_{}", hex::encode(random_bytes::<32>()))
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secrets(key_id={}, <redacted>)", self.key_id)
    }
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    OsRng
        .try_fill_bytes(&mut out)
        .expect("the operating system's random number generator failed");
    out
}

impl Secrets {
    /// Loads the secrets from `dir`, creating the directory (0700) and any missing secret
    /// (0600).
    ///
    /// Errors ([`SecretsError::Config`]) if the directory or a secret in it is open to other
    /// users, naming the file and the `chmod` that fixes it; if a file is malformed; or if
    /// the signing key is on the revoked list.
    pub fn load_or_create(dir: &Path) -> Result<Self, SecretsError> {
        create_private_dir(dir)?;
        refuse_if_shared(dir)?;
        let hmac = read_or_create(dir, CODE_KEY, || {
            hex::encode(random_bytes::<32>()).into_bytes()
        })?;
        let signing = read_or_create(dir, SIGNING_KEY, || {
            hex::encode(random_bytes::<32>()).into_bytes()
        })?;
        let chain = read_or_create(dir, CHAIN_KEY, || {
            hex::encode(random_bytes::<32>()).into_bytes()
        })?;
        let admin = read_or_create(dir, ADMIN_TOKEN, || new_admin_token().into_bytes())?;
        let hmac_key = parse32(&hmac, CODE_KEY)?;
        let chain_key = parse32(&chain, CHAIN_KEY)?;
        let signing_key = SigningKey::from_bytes(&parse32(&signing, SIGNING_KEY)?);
        let key_id = key_id_of(&signing_key.verifying_key());
        let revoked = read_revoked(dir)?;
        if revoked.contains(&key_id) {
            return Err(SecretsError::Unusable(format!(
                "the token signing key {key_id} is on the revoked list (secrets/{REVOKED_KEYS}); \
                 make a new one with `doorstep-server revoke-token-key --key-id {key_id}`"
            )));
        }
        let retired = read_retired(dir)?
            .into_iter()
            .rev()
            .map(|k| (key_id_of(&k), k))
            .filter(|(id, _)| !revoked.contains(id))
            .collect();
        let admin_token = String::from_utf8(admin)
            .map_err(|_| SecretsError::Unusable(format!("secrets/{ADMIN_TOKEN} is not text")))?
            .trim()
            .to_string();
        if admin_token.is_empty() {
            return Err(SecretsError::Unusable(format!(
                "secrets/{ADMIN_TOKEN} is empty; make a new one with `doorstep-server rotate-admin-token`"
            )));
        }
        Ok(Self {
            hmac_key,
            chain_key,
            signing_key,
            key_id,
            retired,
            admin_token,
        })
    }

    /// HMAC-SHA256 of `parts` joined by NUL under the server's code key.
    pub fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        mac_under(&self.hmac_key, parts)
    }

    /// A fingerprint of the two keys that never change (code and chain keys), safe to store:
    /// nodes of one database compare it to be sure they hold the same secrets.
    pub fn fingerprint(&self) -> String {
        let mut all = self.mac(&[b"fingerprint"]);
        all.extend(self.chain_mac(&[b"fingerprint"]));
        hex::encode(&sha256(&all)[..8])
    }

    /// HMAC-SHA256 of `parts` joined by NUL under the server's chain key (the stored form
    /// of phones' record-chain hashes).
    pub fn chain_mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        mac_under(&self.chain_key, parts)
    }

    /// The token signing key.
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The signing key's id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The public keys tokens are verified with: the current one and the retired ones,
    /// never a revoked one.
    pub fn token_keys(&self) -> TokenKeys {
        let mut keys = TokenKeys::new();
        for (id, key) in &self.retired {
            keys.insert(*id, *key);
        }
        keys.insert(self.key_id, self.signing_key.verifying_key());
        keys
    }

    /// Published keys, newest first; never a revoked one.
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

fn mac_under(key: &[u8; 32], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0]);
        }
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// SHA-256, for 256-bit random tokens (no key needed: they cannot be guessed).
pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}
