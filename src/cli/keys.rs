//! `folio encrypt`, `folio rekey` and `folio keys`: Folio's own encryption
//! of the station's data (store::keys, workers::encrypt).

use super::{Cli, exit, open_as, operators, output};
use crate::batch::roles::Action;
use crate::config::{self, Config};
use crate::store::keys::{self, RecoveryPublicKey, RecoverySecretKey};
use crate::workers::encrypt::{self, Holder};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EncryptArgs {
    /// IT's recovery public key (default: the config's recovery_public_key).
    #[arg(long, value_name = "KEY")]
    pub recovery_public_key: Option<String>,
    /// Without a recovery copy (a forgotten passphrase then loses the data).
    #[arg(long)]
    pub no_recovery: bool,
    /// The TPM to hold a half of every copy of the key (a TCTI such as
    /// `device:/dev/tpmrm0`; default: $FOLIO_TPM_TCTI, else the machine's
    /// TPM when it has one).
    #[arg(long, value_name = "TCTI", conflicts_with = "no_tpm")]
    pub tpm: Option<String>,
    /// Without a TPM even when the machine has one (passphrases needed).
    #[arg(long)]
    pub no_tpm: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCmd,
}

#[derive(Subcommand, Debug)]
pub enum KeysCmd {
    /// Makes IT's recovery key pair: the secret half to FILE (keep it
    /// offline), the public half printed for every station's config.
    RecoveryPair {
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// With IT's recovery secret key, gives an operator a new passphrase
    /// (from FOLIO_NEW_PIN, or typed twice) and their copy of the key.
    Recover {
        #[arg(long, value_name = "FILE")]
        recovery_key: PathBuf,
        /// The operator whose passphrase is set.
        #[arg(long = "for", value_name = "ID")]
        for_operator: String,
    },
    /// Changes your own passphrase (the old one in FOLIO_PIN or typed, the
    /// new one in FOLIO_NEW_PIN or typed twice); only your copy of the key
    /// is wrapped again.
    Passphrase,
    /// Whether the station's data is encrypted, and who holds a copy of its key.
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// Unlocks an encrypted station for this command with the operator's
/// secret (nothing to do at a plain or already unlocked station).
pub(super) fn unlock(cli: &Cli, dir: &Path, cfg: &Config) -> Result<()> {
    if !keys::is_locked(dir) {
        return Ok(());
    }
    let Some(id) = cli.operator.as_deref().or(cfg.operator.as_deref()) else {
        return Err(keys::KeyError::Locked(dir.to_path_buf()).into());
    };
    let secret = operators::secret(&format!("Passphrase for {}: ", output::shown(id)))
        .map_err(|_| keys::KeyError::Locked(dir.to_path_buf()))?;
    keys::unlock(dir, id, &secret)?;
    Ok(())
}

fn recovery_key(a: &EncryptArgs, cfg: &Config) -> Result<Option<RecoveryPublicKey>> {
    if a.no_recovery {
        return Ok(None);
    }
    let Some(text) = a
        .recovery_public_key
        .as_ref()
        .or(cfg.recovery_public_key.as_ref())
    else {
        bail!(
            "no recovery key: set recovery_public_key in config.toml (IT makes the pair with `folio keys recovery-pair`), or pass --no-recovery to encrypt without one (a forgotten passphrase then loses the station's data)"
        );
    };
    Ok(Some(text.parse().map_err(anyhow::Error::msg)?))
}

/// `folio encrypt` and `folio rekey`.
pub fn encrypt(cli: &Cli, a: &EncryptArgs, rekey: bool) -> Result<u8> {
    let ctx = open_as(cli, Action::ManageOperators, None)?;
    let dir = ctx.store.data_dir().to_path_buf();
    let operator = ctx.actor.operator.clone();
    let actor = ctx.actor.clone();
    if !ctx.store.has_operators()? {
        bail!(
            "encryption needs operator accounts (each holds a copy of the key): make them first with `folio operators init`"
        );
    }
    let recovery = recovery_key(a, &ctx.cfg)?;
    // A new key keeps the station's choice of TPM unless told otherwise.
    let current = match rekey {
        true => ctx.store.keyring()?.and_then(|r| r.tcti()),
        false => crate::store::tpm::default_tcti(),
    };
    let tpm = match (&a.tpm, a.no_tpm) {
        (_, true) => None,
        (Some(t), false) => Some(t.clone()),
        (None, false) => current,
    };
    drop(ctx);
    let secret = operators::secret("Passphrase: ")?;
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} files ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message(if rekey { "re-encrypting" } else { "encrypting" });
    let progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let who = Holder {
        operator: &operator,
        secret: &secret,
        recovery: recovery.as_ref(),
        tpm: tpm.as_deref(),
    };
    let done = match rekey {
        false => encrypt::encrypt(&dir, &who, &progress)?,
        true => encrypt::rekey(&dir, &who, &progress)?,
    };
    bar.finish_and_clear();
    // Recorded in the encrypted store's own audit trail.
    let mut store = crate::store::Store::open(&dir)?;
    let what = if rekey {
        "keys.rekeyed"
    } else {
        "keys.encrypted"
    };
    store.audit(&actor, what, &done.key_id, &format!("{} files", done.files))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&done)?);
    } else {
        print_done(&done, &operator, rekey);
    }
    Ok(exit::OK)
}

fn print_done(done: &encrypt::Done, operator: &str, rekey: bool) {
    println!(
        "{}: the station's data is encrypted under key {} ({} files, {} MB, in {}); {} holds a copy of the key{}",
        if rekey { "rekeyed" } else { "encrypted" },
        done.key_id,
        done.files,
        done.bytes >> 20,
        output::shown(&done.vault.display().to_string()),
        output::shown(operator),
        if done.recovery {
            ", and so does IT's recovery key"
        } else {
            "; NO recovery copy"
        }
    );
    match &done.tpm {
        Some(t) => println!(
            "every copy also needs this machine's TPM ({}): its lockout limits PIN guesses",
            output::shown(t)
        ),
        None => println!("no TPM: every copy is under a passphrase alone"),
    }
    if !done.operators_without_copy.is_empty() {
        println!(
            "operators who get a copy of the new key when they next sign in while the station is unlocked: {}",
            done.operators_without_copy
                .iter()
                .map(|o| output::shown(o))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

pub fn run(cli: &Cli, a: &KeysArgs) -> Result<u8> {
    match &a.command {
        KeysCmd::RecoveryPair { out } => {
            let (secret, public) = RecoverySecretKey::generate();
            write_private(out, secret.to_text().as_bytes())?;
            println!("{public}");
            eprintln!(
                "the recovery secret key is in {}: keep it offline, in IT's custody; put the line above in each station's config.toml as recovery_public_key",
                out.display()
            );
            Ok(exit::OK)
        }
        KeysCmd::Recover {
            recovery_key,
            for_operator,
        } => recover(cli, recovery_key, for_operator),
        KeysCmd::Passphrase => {
            let mut ctx = super::open(cli)?;
            let signed = operators::sign_in(cli, &mut ctx.store, &ctx.cfg)?;
            let old = operators::secret("Old passphrase: ")?;
            let new = operators::new_secret()?;
            ctx.store.change_secret(&signed, &old, &new)?;
            println!("your passphrase is changed; only your copy of the key was wrapped again");
            Ok(exit::OK)
        }
        KeysCmd::Status { json } => status(cli, *json),
    }
}

fn recover(cli: &Cli, file: &Path, operator: &str) -> Result<u8> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let keys::Layout::Sealed(vault) = keys::layout(&dir)? else {
        bail!("this station's data is not encrypted: there is nothing to recover");
    };
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?,
    );
    let secret = RecoverySecretKey::from_text(&text).map_err(anyhow::Error::msg)?;
    let path = vault.join(keys::KEYRING_FILE);
    let opened = keys::Keyring::read(&path)?.open_with_recovery(&path, &secret)?;
    keys::remember(&vault, opened);
    let new = operators::new_secret()?;
    let mut store = crate::store::Store::open(&dir)?;
    store.reset_secret(operator, &new)?;
    println!(
        "{} has a new passphrase and a copy of the key (recorded in the audit trail)",
        output::shown(operator)
    );
    Ok(exit::OK)
}

fn status(cli: &Cli, json: bool) -> Result<u8> {
    let dir = config::data_dir(cli.data_dir.as_deref())?;
    let (encrypted, ring) = match keys::layout(&dir)? {
        keys::Layout::Plain => (false, None),
        keys::Layout::Sealed(v) => (
            true,
            Some(keys::Keyring::read(&v.join(keys::KEYRING_FILE))?),
        ),
    };
    let operators: Vec<String> = ring
        .iter()
        .flat_map(|r| r.operators())
        .map(str::to_string)
        .collect();
    let recovery = ring.as_ref().is_some_and(keys::Keyring::has_recovery);
    let key_id = ring.as_ref().map(|r| r.key_id.clone());
    let tpm = ring.as_ref().and_then(|r| r.tpm.clone());
    if json {
        let v = serde_json::json!({
            "encrypted": encrypted, "key_id": key_id, "operators": operators, "recovery": recovery, "tpm": tpm,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else if encrypted {
        println!(
            "encrypted by Folio under key {}; copies held by: {}; recovery copy: {}",
            key_id.unwrap_or_default(),
            operators
                .iter()
                .map(|o| output::shown(o))
                .collect::<Vec<_>>()
                .join(", "),
            if recovery { "yes" } else { "NO" }
        );
    } else {
        println!("not encrypted by Folio (`folio encrypt` turns it on)");
    }
    Ok(exit::OK)
}

/// Writes a secret file readable by its owner only, whole or not at all.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        bail!("{} exists already: nothing was written", path.display());
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut f, bytes)?;
    f.sync_all()?;
    Ok(())
}
