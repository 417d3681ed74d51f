//! `nursery-receiver run` and `nursery-receiver report`; see the README's section
//! "Reference receiver".

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use nursery_receiver::run::Settings;

const DATABASE: &str = "host=127.0.0.1 user=postgres dbname=nursery";

#[derive(Parser)]
#[command(name = "nursery-receiver", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Subscribes and stores until SIGTERM.
    Run {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        #[arg(long, default_value = "nursery-receiver")]
        client_id: String,
        #[arg(long, default_value = "childcare/v1")]
        prefix: String,
        /// Subscribe as `$share/GROUP/PREFIX/#`: receivers of one group split the load.
        #[arg(long)]
        share_group: Option<String>,
        /// A clean session (the broker keeps nothing for this receiver while it is down).
        #[arg(long)]
        clean_session: bool,
        /// libpq-style ("host=… user=… dbname=…") or a postgresql:// URL.
        #[arg(long, default_value = DATABASE)]
        database: String,
        /// Serve `GET /report` on this address.
        #[arg(long)]
        http: Option<SocketAddr>,
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        grace: Duration,
        #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
        resend_timeout: Duration,
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(i64).range(1..))]
        max_range: i64,
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i64).range(1..))]
        max_attempts: i64,
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        tick: Duration,
    },
    /// Prints the completeness report per facility.
    Report {
        #[arg(long, default_value = DATABASE)]
        database: String,
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match Cli::parse().command {
        Command::Run {
            host,
            port,
            client_id,
            prefix,
            share_group,
            clean_session,
            database,
            http,
            grace,
            resend_timeout,
            max_range,
            max_attempts,
            tick,
        } => {
            nursery_receiver::run::run(Settings {
                host,
                port,
                client_id,
                prefix: prefix.trim_end_matches('/').to_string(),
                share_group,
                clean_session,
                database,
                http,
                grace,
                resend_timeout,
                max_range,
                max_attempts,
                tick,
            })
            .await
        }
        Command::Report { database, json } => report(&database, json).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nursery-receiver: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn report(database: &str, json: bool) -> anyhow::Result<()> {
    let db = nursery_receiver::store::connect(database).await?;
    let r = nursery_receiver::report::build(&db).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        print!("{}", nursery_receiver::report::text(&r));
    }
    Ok(())
}
