//! `vocalis keys create|list|revoke`: manage tenants' API keys in the data
//! dir's SQLite database, or in the shared PostgreSQL database named by
//! `--database-url` / `VOCALIS_DATABASE_URL`. A running server (every
//! replica) sees changes at once: it reads the database on every
//! authentication.

use std::path::PathBuf;

use anyhow::Context;
use vocalis_server::store::tenants::{dollars_to_micros, micros_to_dollars, PriceOverride};

/// Flags shared by the key subcommands.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// Directory for tenants, keys and the usage ledger.
    #[arg(long, env = "VOCALIS_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Shared PostgreSQL database (`postgres://…`) instead of the data dir.
    #[arg(
        long,
        env = "VOCALIS_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    database_url: Option<String>,
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, clap::Subcommand)]
enum KeysCommand {
    /// Create a key (and the tenant, if new); prints the key once.
    Create {
        /// Tenant the key bills to.
        #[arg(long)]
        tenant: String,
        /// Starting credit in USD for a new tenant (default: unlimited).
        #[arg(long)]
        credits: Option<f64>,
        /// Company name, appended to email subjects.
        #[arg(long)]
        company: Option<String>,
        /// This tenant's price per minute of STT audio, USD (default: the
        /// server's `stt_price_per_minute`).
        #[arg(long)]
        stt_price_per_minute: Option<f64>,
        /// This tenant's price per 1 000 TTS characters, USD (default: the
        /// server's `tts_price_per_1k_characters`).
        #[arg(long = "tts-price-per-1k-characters")]
        tts_price_per_1k_characters: Option<f64>,
    },
    /// List keys (prefixes only).
    List,
    /// Revoke the key with this prefix.
    Revoke {
        /// The key's visible prefix, e.g. `sk_live_ab12cd34`.
        prefix: String,
    },
}

/// Runs a key subcommand.
pub fn run(args: KeysArgs) -> anyhow::Result<()> {
    let data_dir = args
        .data_dir
        .unwrap_or_else(vocalis_server::config::default_data_dir);
    let store = vocalis_server::store::open(args.database_url.as_deref(), &data_dir)
        .context("cannot open the database")?;
    match args.command {
        KeysCommand::Create {
            tenant,
            credits,
            company,
            stt_price_per_minute,
            tts_price_per_1k_characters,
        } => {
            if let Some(credits) = credits {
                anyhow::ensure!(
                    credits.is_finite() && credits >= 0.0,
                    "--credits must be >= 0"
                );
            }
            for (flag, price) in [
                ("--stt-price-per-minute", stt_price_per_minute),
                ("--tts-price-per-1k-characters", tts_price_per_1k_characters),
            ] {
                if let Some(price) = price {
                    anyhow::ensure!(price.is_finite() && price >= 0.0, "{flag} must be >= 0");
                }
            }
            let existed = store.tenant(&tenant)?.is_some();
            let record = store.ensure_tenant(&tenant, credits.map(dollars_to_micros))?;
            if existed && credits.is_some() {
                store.set_credit(&tenant, credits.map(dollars_to_micros))?;
            }
            if company.is_some() {
                store.set_company(&tenant, company.as_deref())?;
            }
            if stt_price_per_minute.is_some() || tts_price_per_1k_characters.is_some() {
                // Only the prices given change; the others keep their value.
                let PriceOverride {
                    stt_per_minute,
                    tts_per_1k_characters,
                } = record.prices;
                store.set_prices(
                    &tenant,
                    PriceOverride {
                        stt_per_minute: stt_price_per_minute.or(stt_per_minute),
                        tts_per_1k_characters: tts_price_per_1k_characters
                            .or(tts_per_1k_characters),
                    },
                )?;
            }
            let key = store.create_key(&record.name)?;
            eprintln!(
                "created key {} for tenant `{}`; it is shown only once:",
                key.prefix, record.name
            );
            println!("{}", key.secret);
        }
        KeysCommand::List => {
            println!("{:<18} {:<16} {:<12} status", "prefix", "tenant", "credit");
            for key in store.list_keys()? {
                let credit = store
                    .tenant(&key.tenant)?
                    .and_then(|t| t.credit_micros)
                    .map(|m| format!("${:.2}", micros_to_dollars(m)))
                    .unwrap_or_else(|| "unlimited".into());
                let status = if key.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!(
                    "{:<18} {:<16} {:<12} {status}",
                    key.prefix, key.tenant, credit
                );
            }
        }
        KeysCommand::Revoke { prefix } => {
            store.revoke_key(&prefix)?;
            eprintln!("revoked {prefix}");
        }
    }
    Ok(())
}
