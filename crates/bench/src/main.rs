//! `peerchat-bench`: measures peerchat against its references and prints one table.
//!
//! Rows so far: the signalling server's memory per idle connection. Each row starts the
//! real release binaries as child processes and reads their memory from /proc.

mod idle;
mod proc;

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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    proc::raise_fd_limit();
    let server = args.server.unwrap_or_else(|| proc::sibling_binary("signal-server"));
    let row = idle::measure(&server, args.connections).await?;
    println!("| row | ours | reference | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| signal-server, {} idle connections: memory per connection | {:.1} KiB (total RSS {:.1} MiB) | – | – |",
        row.held,
        row.per_conn_kib,
        row.rss_total_kib as f64 / 1024.0
    );
    Ok(())
}
