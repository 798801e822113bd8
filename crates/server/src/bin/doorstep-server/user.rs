//! `user …`: the fleet console's accounts from the command line (add, list, disable, enable,
//! reset-password), on the data directory or database; the server may keep running.

use std::io::BufRead;

use anyhow::Context;
use clap::{Args, Subcommand};
use doorstep_server::Mode;
use doorstep_server::domain::accounts::Role;
use doorstep_server::ops::accounts as ops;

use crate::common::{Common, config_from};

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Add a user with a role; prints a new password once (or reads one: --password-stdin).
    Add {
        #[command(flatten)]
        common: Common,
        /// The name they sign in with.
        name: String,
        /// owner, admin, dispatcher, depot or viewer.
        #[arg(long, value_parser = role_arg)]
        role: Role,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List the users with their role and state.
    List {
        #[command(flatten)]
        common: Common,
    },
    /// Disable a user: their sessions end and they cannot sign in.
    Disable(UserTarget),
    /// Enable a disabled user again.
    Enable(UserTarget),
    /// Give a user a new password (printed once, or --password-stdin); their sessions end.
    ResetPassword {
        #[command(flatten)]
        common: Common,
        /// The user.
        name: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
}

#[derive(Debug, Args)]
pub(crate) struct UserTarget {
    #[command(flatten)]
    common: Common,
    /// The user.
    name: String,
}

#[derive(Debug, Args)]
pub(crate) struct PasswordArgs {
    /// Read the password from the first line of standard input instead of making one.
    #[arg(long)]
    password_stdin: bool,
}

fn role_arg(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| "owner, admin, dispatcher, depot or viewer".into())
}

/// The password given on standard input, or a new random one (shown once by the caller).
fn password(
    args: &PasswordArgs,
    config: &doorstep_server::ServerConfig,
) -> anyhow::Result<(String, bool)> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok((line.trim_end_matches(['\r', '\n']).to_string(), false));
    }
    // 20 characters of a 32-letter alphabet without look-alikes: 100 bits.
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let made: String = config
        .random
        .bytes::<20>()
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok((made, true))
}

pub(crate) async fn run(cmd: UserCommand) -> anyhow::Result<()> {
    tokio::task::spawn_blocking(move || run_blocking(cmd)).await?
}

fn run_blocking(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Add {
            common,
            name,
            role,
            password: p,
        } => {
            let config = config_from(&common, Mode::Production);
            let (password, made) = password(&p, &config)?;
            let user = ops::add_user(&config, &name, role, &password)?;
            println!("added {} ({})", user.name, user.role);
            if made {
                println!("password (shown once; they can sign in with it now): {password}");
            }
        }
        UserCommand::List { common } => {
            let config = config_from(&common, Mode::Production);
            let users = ops::list_users(&config)?;
            if users.is_empty() {
                println!(
                    "no users yet: add an owner with `doorstep-server user add NAME --role owner`"
                );
            }
            for u in users {
                let state = if u.disabled_at.is_some() {
                    "disabled"
                } else {
                    "active"
                };
                println!("{:<24} {:<10} {state}", u.name, u.role.as_str());
            }
        }
        UserCommand::Disable(t) => {
            ops::set_disabled(&config_from(&t.common, Mode::Production), &t.name, true)?;
            println!("disabled {}; their sessions ended", t.name);
        }
        UserCommand::Enable(t) => {
            ops::set_disabled(&config_from(&t.common, Mode::Production), &t.name, false)?;
            println!("enabled {}", t.name);
        }
        UserCommand::ResetPassword {
            common,
            name,
            password: p,
        } => {
            let config = config_from(&common, Mode::Production);
            let (password, made) = password(&p, &config)?;
            ops::reset_password(&config, &name, &password)?;
            println!("new password set for {name}; their sessions ended");
            if made {
                println!("password (shown once): {password}");
            }
        }
    }
    Ok(())
}
