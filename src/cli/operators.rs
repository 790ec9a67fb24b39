//! `folio operators`: the station's accounts. `init` makes the first admin
//! while there is none; the rest need an admin signed in (`--operator ID`,
//! the PIN from `FOLIO_PIN` or asked on the terminal without echo).

use super::{Cli, exit, open, output};
use crate::batch::roles::Role;
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
    /// List the accounts.
    List {
        #[arg(long)]
        json: bool,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "the roles are operator, supervisor and admin".into())
}

/// A PIN or passphrase: `FOLIO_PIN`, else asked on the terminal.
fn secret(prompt: &str) -> Result<String> {
    if let Ok(pin) = std::env::var("FOLIO_PIN") {
        return Ok(pin);
    }
    if !std::io::stdin().is_terminal() {
        bail!("no PIN: set FOLIO_PIN, or run the command on a terminal to be asked");
    }
    rpassword::prompt_password(prompt).context("cannot read the PIN from the terminal")
}

/// The new account's secret, typed twice on a terminal.
fn new_secret() -> Result<String> {
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

/// The admin (or anyone, for `list`) named by `--operator`, signed in.
fn sign_in(cli: &Cli, store: &mut Store, station: &str) -> Result<SignedIn> {
    let Some(id) = cli.operator.as_deref() else {
        bail!(
            "say who you are: --operator ID (an admin), with the PIN in FOLIO_PIN or typed when asked"
        );
    };
    let pin = secret(&format!("PIN for {}: ", output::shown(id)))?;
    Ok(store.sign_in(station, id, &pin)?)
}

pub fn run(cli: &Cli, a: &OperatorsArgs) -> Result<u8> {
    let mut ctx = open(cli)?;
    let station = ctx.cfg.station.clone();
    let store = &mut ctx.store;
    let changed = match &a.command {
        OperatorsCommand::List { json } => {
            list(&store.operators()?, *json)?;
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
            let admin = sign_in(cli, store, &station)?;
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
            let admin = sign_in(cli, store, &station)?;
            store.set_operator_enabled(&admin, id, false)?
        }
        OperatorsCommand::Enable { id } => {
            let admin = sign_in(cli, store, &station)?;
            store.set_operator_enabled(&admin, id, true)?
        }
        OperatorsCommand::SetRole { id, role } => {
            let admin = sign_in(cli, store, &station)?;
            store.set_operator_role(&admin, id, *role)?
        }
    };
    list(std::slice::from_ref(&changed), false)?;
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
