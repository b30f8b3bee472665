//! `peerchat-bench`: measures peerchat against its references and prints one table.
//!
//! Rows so far: the signalling server's memory per idle connection. Each row starts the
//! real release binaries as child processes and reads their memory from /proc.

mod engine;
mod idle;
mod proc;
mod stats;

use clap::Parser;

#[derive(Parser)]
#[command(about = "peerchat benchmarks")]
struct Args {
    /// Idle WebSocket connections to hold open against the server.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Path of the signal-server binary (default: next to this binary).
    #[arg(long)]
    server: Option<std::path::PathBuf>,
    /// Which rows to run: all, server, engine.
    #[arg(long, default_value = "all")]
    rows: String,
    /// Tiny sizes for every row (CI smoke run).
    #[arg(long)]
    smoke: bool,
    /// MiB moved by each bulk row (default 128).
    #[arg(long)]
    bulk_mib: Option<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    proc::raise_fd_limit();
    let server = args.server.clone().unwrap_or_else(|| proc::sibling_binary("signal-server"));
    println!("| row | ours | reference | ratio |");
    println!("|---|---|---|---|");
    if args.rows == "all" || args.rows == "engine" {
        let sizes = if args.smoke {
            engine::Sizes { setup_trials: 3, pings: 20, bulk_bytes: 1 << 20, small_messages: 2_000 }
        } else {
            engine::Sizes { setup_trials: 30, pings: 1_000, bulk_bytes: 128 << 20, small_messages: 200_000 }
        };
        let sizes = engine::Sizes { bulk_bytes: args.bulk_mib.map_or(sizes.bulk_bytes, |m| m << 20), ..sizes };
        for row in engine::run(&sizes).await? {
            println!("| {} | {} | – | – |", row.name, row.ours);
        }
    }
    if args.rows == "all" || args.rows == "server" {
        let connections = if args.smoke { 200 } else { args.connections };
        let row = idle::measure(&server, connections).await?;
        println!(
            "| signal-server, {} idle connections: memory per connection | {:.1} KiB (total RSS {:.1} MiB) | – | – |",
            row.held,
            row.per_conn_kib,
            row.rss_total_kib as f64 / 1024.0
        );
    }
    Ok(())
}
