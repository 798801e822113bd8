//! `rotate-token-key`, `revoke-token-key`, `rotate-admin-token`: the secrets, changed while
//! the server is stopped.

use std::path::PathBuf;

use clap::Args;
use doorstep_server::sys::secrets::{
    Revocation, revoke_token_key, rotate_admin_token, rotate_token_key,
};

#[derive(Debug, Args)]
pub(crate) struct RotateArgs {
    /// Data directory.
    #[arg(long, env = "DOORSTEP_DATA_DIR", default_value = "./doorstep-data")]
    pub(crate) data_dir: PathBuf,
    /// The secrets directory (default: DATA_DIR/secrets); with several nodes, the shared one.
    #[arg(long, env = "DOORSTEP_SECRETS_DIR")]
    pub(crate) secrets_dir: Option<PathBuf>,
}

impl RotateArgs {
    pub(crate) fn secrets(&self) -> PathBuf {
        self.secrets_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secrets"))
    }
}

#[derive(Debug, Args)]
pub(crate) struct RevokeArgs {
    #[command(flatten)]
    pub(crate) dirs: RotateArgs,
    /// The key to revoke: 8 hex digits, as listed at /.well-known/doorstep-keys.
    #[arg(long)]
    pub(crate) key_id: doorstep_protocol::KeyId,
}

/// `rotate-token-key`.
pub(crate) fn rotate_token(a: &RotateArgs) -> anyhow::Result<()> {
    let id = rotate_token_key(&a.secrets())?;
    println!("new token signing key {id}; restart the server to use it");
    Ok(())
}

/// `revoke-token-key`.
pub(crate) fn revoke_token(a: &RevokeArgs) -> anyhow::Result<()> {
    let id = a.key_id;
    match revoke_token_key(&a.dirs.secrets(), id)? {
        Revocation::AlreadyRevoked => println!("token key {id} was already revoked"),
        Revocation::RetiredKeyRevoked => println!(
            "revoked token key {id}; restart the server: it then refuses tokens signed \
             by {id} and stops publishing it, and phones drop it at their next manifest"
        ),
        Revocation::SigningKeyReplaced { new_key_id } => println!(
            "revoked token key {id}; the new signing key is {new_key_id}. Restart the \
             server: it then refuses tokens signed by {id} and stops publishing it, \
             phones drop it at their next manifest, and customer pages show QR codes \
             signed by {new_key_id} (QR codes already shown no longer work)"
        ),
    }
    Ok(())
}

/// `rotate-admin-token`.
pub(crate) fn rotate_admin(a: &RotateArgs) -> anyhow::Result<()> {
    let token = rotate_admin_token(&a.secrets())?;
    println!("{token}");
    eprintln!(
        "new admin token written to {}; it is shown only this once. Restart the server: \
         the old token works until then.",
        a.secrets().join("admin.token").display()
    );
    Ok(())
}
