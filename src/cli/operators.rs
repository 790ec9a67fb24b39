//! `folio operators`: the station's accounts. `init` makes the first admin
//! while there is none; the rest need an admin signed in (`--operator ID`,
//! the PIN from `FOLIO_PIN` or asked on the terminal without echo).

use super::{Cli, exit, open, output};
use crate::batch::roles::Role;
use crate::config::Config;
use crate::store::{NewOperator, Operator, SignedIn, Store};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::io::IsTerminal;

#[derive(Args, Debug)]
pub struct OperatorsArgs {
    #[command(subcommand)]
    command: OperatorsCommand,
}

#[derive(Subcommand, Debug)]
enum OperatorsCommand {
    /// Make the station's first account, an admin (only while there is none).
    Init {
        /// Its id, used to sign in (letters, digits, '.', '_' or '-').
        #[arg(long)]
        id: String,
        /// The name shown and audited.
        #[arg(long)]
        name: String,
    },
    /// Add an account (admin only).
    Add {
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// operator, supervisor or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
    },
    /// Stop an account from signing in (admin only).
    Disable { id: String },
    /// Let a disabled account sign in again (admin only).
    Enable { id: String },
    /// Give an account another role (admin only).
    SetRole {
        id: String,
        #[arg(value_parser = parse_role)]
        role: Role,
    },
    /// Print the Argon2id hash of a PIN (from FOLIO_NEW_PIN, or typed
    /// twice), for `[accounts] first_admin` in config.toml or an accounts
    /// list: the PIN itself is never written anywhere.
    HashPin,
    /// Make IT's signing key for operator lists: the private key goes to
    /// FILE (keep it off the stations), the public key is printed for
    /// `[accounts] import_keys` in each station's config.toml.
    Keygen {
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Sign an operator list (JSON, format folio.operators/1) with IT's key:
    /// writes LIST.sig beside it.
    Sign {
        list: std::path::PathBuf,
        #[arg(long, value_name = "FILE")]
        key: std::path::PathBuf,
    },
    /// Take a signed operator list (admin only): accounts made or updated
    /// as listed, those not listed left as they are. The signature is read
    /// from LIST.sig unless --signature names it.
    Import {
        list: std::path::PathBuf,
        #[arg(long, value_name = "FILE")]
        signature: Option<std::path::PathBuf>,
    },
    /// List the accounts.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "the roles are operator, supervisor and admin".into())
}

/// The secret typed once in this command (unlocking an encrypted station
/// and signing in take the same one, asked once).
static TYPED: std::sync::Mutex<Option<zeroize::Zeroizing<String>>> = std::sync::Mutex::new(None);

/// A PIN or passphrase: `FOLIO_PIN`, else asked on the terminal (once).
pub(super) fn secret(prompt: &str) -> Result<zeroize::Zeroizing<String>> {
    if let Ok(pin) = std::env::var("FOLIO_PIN") {
        return Ok(zeroize::Zeroizing::new(pin));
    }
    let mut typed = TYPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(t) = typed.as_ref() {
        return Ok(t.clone());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no PIN: set FOLIO_PIN, or run the command on a terminal to be asked");
    }
    let t = zeroize::Zeroizing::new(
        rpassword::prompt_password(prompt).context("cannot read the PIN from the terminal")?,
    );
    *typed = Some(t.clone());
    Ok(t)
}

/// The new account's secret, typed twice on a terminal.
pub(super) fn new_secret() -> Result<String> {
    if std::env::var_os("FOLIO_NEW_PIN").is_some() || !std::io::stdin().is_terminal() {
        return std::env::var("FOLIO_NEW_PIN")
            .context("no PIN for the new account: set FOLIO_NEW_PIN, or run on a terminal");
    }
    let first = rpassword::prompt_password("PIN or passphrase for the new account: ")?;
    let again = rpassword::prompt_password("The same again: ")?;
    if first != again {
        bail!("the two entries differ: nothing was changed");
    }
    Ok(first)
}

/// The operator named by `--operator` (else `FOLIO_OPERATOR` or the
/// config's `operator`), signed in with the PIN from `FOLIO_PIN` or typed.
pub(super) fn sign_in(cli: &Cli, store: &mut Store, cfg: &Config) -> Result<SignedIn> {
    let Some(id) = cli.operator.as_deref().or(cfg.operator.as_deref()) else {
        bail!(
            "this station has operator accounts: say who you are with --operator ID, \
             the PIN in FOLIO_PIN or typed when asked"
        );
    };
    // No PIN to be had is nobody signed in (the same refusal as no id).
    let pin = secret(&format!("PIN for {}: ", output::shown(id))).map_err(|e| {
        anyhow::Error::from(crate::workers::access::AccessError::from(
            crate::batch::roles::Refusal::SignInNeeded,
        ))
        .context(e.to_string())
    })?;
    Ok(store.sign_in(&cfg.station, id, &pin)?)
}

pub fn run(cli: &Cli, a: &OperatorsArgs) -> Result<u8> {
    let mut ctx = open(cli)?;
    let (cfg, store) = (&ctx.cfg, &mut ctx.store);
    let station = cfg.station.clone();
    let changed = match &a.command {
        OperatorsCommand::List { json } => {
            list(&store.operators()?, *json)?;
            return Ok(exit::OK);
        }
        OperatorsCommand::HashPin => {
            println!("{}", crate::store::hash_secret(&new_secret()?)?);
            return Ok(exit::OK);
        }
        OperatorsCommand::Keygen { out } => return keygen(out),
        OperatorsCommand::Sign { list, key } => {
            let text = read(list)?;
            let sig =
                crate::store::sign_operator_list(&text, &String::from_utf8_lossy(&read(key)?))?;
            let to = signature_path(list);
            write_file(&to, format!("{sig}\n").as_bytes())?;
            println!("signature written to {}", output::shown_path(&to));
            return Ok(exit::OK);
        }
        OperatorsCommand::Import {
            list: file,
            signature,
        } => {
            let admin = sign_in(cli, store, cfg)?;
            let text = read(file)?;
            let sig_path = signature.clone().unwrap_or_else(|| signature_path(file));
            let sig = String::from_utf8_lossy(&read(&sig_path)?).into_owned();
            let changed =
                store.import_operators(&admin, (&text, &sig), &cfg.accounts.import_keys)?;
            println!(
                "{} account(s) made or changed from the list; accounts not in it are unchanged",
                changed.len()
            );
            list(&store.operators()?, false)?;
            return Ok(exit::OK);
        }
        OperatorsCommand::Init { id, name } => {
            let secret = new_secret()?;
            let first = NewOperator {
                id,
                name,
                role: Role::Admin,
                secret: &secret,
            };
            store.init_operators(&station, &first)?
        }
        OperatorsCommand::Add { id, name, role } => {
            let admin = sign_in(cli, store, cfg)?;
            let secret = new_secret()?;
            let new = NewOperator {
                id,
                name,
                role: *role,
                secret: &secret,
            };
            store.add_operator(&admin, &new)?
        }
        OperatorsCommand::Disable { id } => {
            let admin = sign_in(cli, store, cfg)?;
            store.set_operator_enabled(&admin, id, false)?
        }
        OperatorsCommand::Enable { id } => {
            let admin = sign_in(cli, store, cfg)?;
            store.set_operator_enabled(&admin, id, true)?
        }
        OperatorsCommand::SetRole { id, role } => {
            let admin = sign_in(cli, store, cfg)?;
            store.set_operator_role(&admin, id, *role)?
        }
    };
    list(std::slice::from_ref(&changed), false)?;
    Ok(exit::OK)
}

fn read(path: &std::path::Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", output::shown_path(path)))
}

/// Writes a file whole or not at all (mode 0600, as made).
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} is not a file name", output::shown_path(path)))?;
    crate::durable::write_atomic(dir, name, |f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", output::shown_path(path)))?;
    Ok(())
}

/// `LIST.sig` beside the list.
fn signature_path(list: &std::path::Path) -> std::path::PathBuf {
    let mut name = list.as_os_str().to_os_string();
    name.push(".sig");
    name.into()
}

fn keygen(out: &std::path::Path) -> Result<u8> {
    if out.exists() {
        bail!(
            "{} exists already: a signing key is never overwritten",
            output::shown_path(out)
        );
    }
    let (private, public) = crate::store::new_signing_key()?;
    // Written as the temporary file it was made as: readable by its owner only.
    write_file(out, format!("{private}\n").as_bytes())?;
    eprintln!(
        "private key written to {} (readable by you only: keep it off the stations)",
        output::shown_path(out)
    );
    println!("{public}");
    Ok(exit::OK)
}

fn list(ops: &[Operator], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(ops)?);
        return Ok(());
    }
    if ops.is_empty() {
        println!("no operator accounts: make the first admin with `folio operators init`");
    }
    for o in ops {
        let state = match (&o.locked_until, o.enabled) {
            (_, false) => "disabled".to_string(),
            (Some(until), true) if until.as_str() > crate::now_rfc3339().as_str() => {
                format!("locked until {}", output::shown(until))
            }
            _ => "enabled".to_string(),
        };
        println!(
            "{:<20} {:<10} {:<24} {}",
            output::shown(&o.id),
            o.role,
            state,
            output::shown(&o.name)
        );
    }
    Ok(())
}
