//! The fleet console's accounts: the roles, what each may do, the rules for names and
//! passwords, and the password hash (Argon2id). Pure: the salt is given.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// A console user's role. Each may do what [`Action::roles`] lists for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything, and the accounts.
    Owner,
    /// Runs the fleet: phones, releases, codes, parcels.
    Admin,
    /// Runs the day: new codes for locked stops, enrollment, unexpected parcels.
    Dispatcher,
    /// At the depot: unexpected parcels onto a route.
    Depot,
    /// Reads, changes nothing.
    Viewer,
}

impl Role {
    /// Every role, most powerful first.
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Dispatcher,
        Role::Depot,
        Role::Viewer,
    ];

    /// The stored and typed name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Dispatcher => "dispatcher",
            Role::Depot => "depot",
            Role::Viewer => "viewer",
        }
    }

    /// The role named `s` (as typed: case and spaces ignored).
    pub fn parse(s: &str) -> Option<Role> {
        let s = s.trim().to_ascii_lowercase();
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether this role may do `action`.
    pub fn may(self, action: Action) -> bool {
        action.roles().contains(&self)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a console user does, each allowed to some roles ([`Action::roles`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Read the console's pages.
    View,
    /// Make an enrollment code for a courier's phone.
    EnrollPhone,
    /// A new code (and a fresh attempt counter) for a locked stop.
    NewCode,
    /// Put a parcel the depot found but did not expect onto a route.
    AssignUnexpected,
    /// Import parcels from a CSV file (as the shipper API would create them).
    ImportParcels,
    /// Accept a phone's record chain after a break.
    AcceptChain,
    /// Remove a phone from the fleet.
    RevokePhone,
    /// Publish a build, change its rollout, pause, withdraw; set the minimum version.
    Releases,
    /// Add, disable and enable users, reset their passwords.
    Accounts,
}

impl Action {
    /// Every action, in the README's order.
    pub const ALL: [Action; 9] = [
        Action::View,
        Action::EnrollPhone,
        Action::NewCode,
        Action::AssignUnexpected,
        Action::ImportParcels,
        Action::AcceptChain,
        Action::RevokePhone,
        Action::Releases,
        Action::Accounts,
    ];

    /// The roles that may do it.
    pub fn roles(self) -> &'static [Role] {
        use Role::*;
        match self {
            Action::View => &[Owner, Admin, Dispatcher, Depot, Viewer],
            Action::EnrollPhone | Action::NewCode | Action::ImportParcels => {
                &[Owner, Admin, Dispatcher]
            }
            Action::AssignUnexpected => &[Owner, Admin, Dispatcher, Depot],
            Action::AcceptChain | Action::RevokePhone | Action::Releases => &[Owner, Admin],
            Action::Accounts => &[Owner],
        }
    }

    /// What it is, for the README's table and the refusal page.
    pub fn describe(self) -> &'static str {
        match self {
            Action::View => "see the console's pages",
            Action::EnrollPhone => "enroll a courier's phone",
            Action::NewCode => "make a new code for a locked stop",
            Action::AssignUnexpected => "put an unexpected parcel on a route",
            Action::ImportParcels => "import parcels from a CSV file",
            Action::AcceptChain => "accept a phone's record chain",
            Action::RevokePhone => "revoke a phone",
            Action::Releases => "publish and manage app releases",
            Action::Accounts => "manage the console's accounts",
        }
    }

    /// "an owner or an admin": who may, for the refusal page.
    pub fn who_may(self) -> String {
        let names: Vec<String> = self
            .roles()
            .iter()
            .map(|r| {
                format!(
                    "{} {r}",
                    if r.as_str().starts_with(['a', 'o']) {
                        "an"
                    } else {
                        "a"
                    }
                )
            })
            .collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// The README's table of what each role may do (Markdown), from [`Action::roles`].
pub fn roles_table() -> String {
    let mut t = String::from("| may … |");
    for r in Role::ALL {
        t.push_str(&format!(" {r} |"));
    }
    t.push_str("\n|---|");
    t.push_str(&"---|".repeat(Role::ALL.len()));
    for a in Action::ALL {
        t.push_str(&format!("\n| {} |", a.describe()));
        for r in Role::ALL {
            t.push_str(if r.may(a) { " ✓ |" } else { " |" });
        }
    }
    t.push('\n');
    t
}

/// How long a console session lives without a request (idle expiry).
pub const SESSION_IDLE_MS: i64 = 2 * 3600 * 1000;
/// How long a console session lives at most from its sign-in (absolute expiry): a shift.
pub const SESSION_MAX_MS: i64 = 12 * 3600 * 1000;
/// How long the setup link that `serve` prints for the first owner stays valid.
pub const SETUP_LINK_MS: i64 = 24 * 3600 * 1000;

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted (a hash of a huge one would still cost the same, but a
/// limit tells a pasted file apart from a password).
pub const MAX_PASSWORD_CHARS: usize = 200;

/// A user name, as stored: trimmed, lower case; 1 to 64 letters, digits, `.`, `_`, `-`
/// or `@`.
pub fn user_name(s: &str) -> Result<String, String> {
    let n = s.trim().to_lowercase();
    if n.is_empty() || n.chars().count() > 64 {
        return Err("a user name has 1 to 64 characters".into());
    }
    if let Some(c) = n
        .chars()
        .find(|c| !(c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@')))
    {
        return Err(format!(
            "a user name has letters, digits, '.', '_', '-' and '@' only, not {c:?}"
        ));
    }
    Ok(n)
}

/// Refuses a password too short or too long to be taken (with what to do instead).
pub fn check_new_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the password has {n} characters; use at least {MIN_PASSWORD_CHARS} (a few words \
             make a good one)"
        ));
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(format!(
            "the password has {n} characters; use at most {MAX_PASSWORD_CHARS}"
        ));
    }
    Ok(())
}

/// Argon2id with OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about 30 ms
/// on one core of a small server.
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password` with a 16-byte
/// `salt`.
pub fn hash_password(password: &str, salt: &[u8; 16]) -> Result<String, String> {
    let salt = SaltString::encode_b64(salt).map_err(|e| e.to_string())?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the PHC string `stored` (false for a malformed one). Takes the
/// same time for a wrong password as for a right one.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a password nobody types (it is shorter than the shortest allowed), verified for
/// an unknown user name so that the answer takes as long as for a known one (no telling names
/// apart by time).
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("-", &[0; 16]).unwrap_or_default());
    &HASH
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse battery", &[7; 16]).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterz", &h));
        assert!(!verify_password("correct horse battery", "not a hash"));
        assert!(!verify_password("", dummy_hash()));
        assert!(dummy_hash().starts_with("$argon2id$"));
        let other = hash_password("correct horse battery", &[8; 16]).unwrap();
        assert_ne!(h, other, "the salt changes the hash");
    }

    #[test]
    fn names_are_lower_case_and_plain() {
        assert_eq!(user_name("  Alice.B@Depot ").unwrap(), "alice.b@depot");
        assert!(user_name("").is_err());
        assert!(user_name("a b").unwrap_err().contains("' '"));
        assert!(user_name("<script>").is_err());
        assert!(user_name(&"x".repeat(65)).is_err());
    }

    #[test]
    fn short_and_huge_passwords_are_refused_with_the_rule() {
        assert!(
            check_new_password("short")
                .unwrap_err()
                .contains("at least 12")
        );
        assert!(check_new_password(&"x".repeat(201)).is_err());
        check_new_password("twelve chars").unwrap();
    }

    #[test]
    fn each_action_names_who_may_do_it() {
        assert_eq!(Action::Accounts.who_may(), "an owner");
        assert_eq!(Action::Releases.who_may(), "an owner or an admin");
        assert_eq!(
            Action::AssignUnexpected.who_may(),
            "an owner, an admin, a dispatcher or a depot"
        );
        assert!(Role::Viewer.may(Action::View));
        assert!(
            Action::ALL
                .iter()
                .filter(|a| **a != Action::View)
                .all(|a| !Role::Viewer.may(*a))
        );
        assert!(Action::ALL.iter().all(|a| Role::Owner.may(*a)));
        assert_eq!(Role::parse(" Dispatcher"), Some(Role::Dispatcher));
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn the_readme_shows_the_roles_table_as_the_code_has_it() {
        let readme = include_str!("../../../../README.md");
        assert!(
            readme.contains(&roles_table()),
            "README.md's roles table is out of date; put this in it:\n{}",
            roles_table()
        );
    }
}
