//! `peerchat-bench`: measures peerchat against its references and prints one table.
//!
//! Rows: the SDK's DataChannels against npm `node-datachannel` (run in the same
//! invocation) and the loopback UDP ceiling; the signalling server's memory per idle
//! connection. `--markdown FILE` also writes the table with the machine, the versions
//! and the command, for `BENCHMARKS.md` (`scripts/bench.sh` does both).

mod app;
mod cluster;
mod drain;
mod engine;
mod fanout;
mod files;
mod history;
mod idle;
mod load;
mod machine;
mod nat;
mod nat_peer;
mod proc;
mod recovery;
mod reference;
mod relay;
mod stats;
mod stranded;
mod table;
mod udp;

use std::path::PathBuf;

use clap::Parser;

#[derive(Parser)]
#[command(about = "peerchat benchmarks")]
struct Args {
    /// Idle WebSocket connections to hold open against the server.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Path of the signal-server binary (default: next to this binary).
    #[arg(long)]
    server: Option<PathBuf>,
    /// Which rows to run: all, server (memory, relay, fan-out), memory, relay, fanout, load,
    /// cluster (with drain), drain, engine, stranded, recovery, nat, app, files, history.
    #[arg(long, default_value = "all")]
    rows: String,
    /// Fresh connections the `stranded` row sends 200,000 small messages over.
    #[arg(long, default_value_t = 40)]
    trials: usize,
    /// Size of each message in the `stranded` row (1 B up to the 64 KiB message limit).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    stranded_bytes: u32,
    /// Idle connections the cluster memory row spreads over its instances (held by one
    /// helper process per instance, so each stays under the open-files limit).
    #[arg(long, default_value_t = 30_000)]
    cluster_idle: usize,
    /// Tiny sizes for every row (CI smoke run).
    #[arg(long)]
    smoke: bool,
    /// MiB moved by each bulk row (default 128).
    #[arg(long)]
    bulk_mib: Option<usize>,
    /// Also write the table, the machine and the command to this markdown file.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Path of the app binary (default: `peerchat` next to this binary).
    #[arg(long)]
    app: Option<PathBuf>,
    /// The repository (for tools/bench-ref); default: where this tool was built from.
    #[arg(long)]
    root: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `peerchat-bench nat-peer …`: one peer of the NAT rows, run inside a namespace.
    if std::env::args().nth(1).as_deref() == Some("nat-peer") {
        use clap::Parser as _;
        let a = nat_peer::NatPeerArgs::parse_from(std::env::args().skip(1));
        return nat_peer::run(a).await;
    }
    // `peerchat-bench hold URL N`: holds idle connections for the cluster memory row.
    if std::env::args().nth(1).as_deref() == Some("hold") {
        let a: Vec<String> = std::env::args().skip(2).collect();
        let n = a.get(1).and_then(|n| n.parse().ok()).ok_or_else(|| anyhow::anyhow!("usage: hold URL N"))?;
        return idle::hold(a[0].clone(), n).await;
    }
    let args = Args::parse();
    // Engine and SDK logs on stderr, only when asked for (they cost time in the rows).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_default_env() {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    proc::raise_fd_limit();
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.."));
    let server = args.server.clone().unwrap_or_else(|| proc::sibling_binary("signal-server"));
    let mut lines = vec![table::HEADER.to_string()];
    let mut versions = vec![format!("webrtc {}", machine::WEBRTC_VERSION)];
    let mut stalled = false;
    println!("{}", table::HEADER);
    if args.rows == "all" || args.rows == "engine" {
        let sizes = if args.smoke {
            engine::Sizes { setup_trials: 3, pings: 20, bulk_bytes: 1 << 20, small_messages: 2_000 }
        } else {
            engine::Sizes { setup_trials: 30, pings: 1_000, bulk_bytes: 128 << 20, small_messages: 200_000 }
        };
        let sizes = engine::Sizes { bulk_bytes: args.bulk_mib.map_or(sizes.bulk_bytes, |m| m << 20), ..sizes };
        let ceiling = udp::measure(sizes.bulk_bytes).ok();
        let ours = engine::run(&sizes).await?;
        let theirs = reference::run(&root, args.smoke, args.bulk_mib);
        if let Ok(r) = &theirs {
            versions.push(r.engine.clone());
        }
        stalled |= ours.bulk.iter().any(|b| b.stalled) || ours.small.stalled;
        for l in table::engine_rows(&ours, &theirs, &ceiling) {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "files" {
        let sizes = if args.smoke {
            files::Sizes { file: 16 << 20, resume_file: 256 << 20, resume_trials: 1 }
        } else {
            files::Sizes { file: 1 << 30, resume_file: 256 << 20, resume_trials: 5 }
        };
        let r = files::run(&server, &proc::sibling_binary("chat-cli"), &sizes).await?;
        for l in files::rows(&r) {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "history" {
        let r = history::run(if args.smoke { 10_000 } else { 100_000 }).await?;
        for l in history::rows(&r) {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "stranded" {
        let (runs, messages) = if args.smoke { (3, 2_000) } else { (args.trials, 200_000) };
        let t = stranded::run(runs, messages, args.stranded_bytes as usize).await?;
        let l = stranded::row(&t);
        println!("{l}");
        lines.push(l);
    }
    if args.rows == "all" || args.rows == "recovery" {
        let sizes = if args.smoke {
            recovery::Sizes { outage: std::time::Duration::from_millis(500), trials: 2 }
        } else {
            recovery::Sizes { outage: std::time::Duration::from_secs(3), trials: 10 }
        };
        let r = recovery::run(&server, &sizes).await?;
        stalled |= r.kill.received < r.kill.sent || r.ice.received < r.ice.sent;
        for l in table::recovery_rows(&r) {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "nat" {
        let (direct, relayed, ceiling) = nat::run(&server, args.smoke).await?;
        for l in table::nat_rows(&direct, &relayed, &ceiling) {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "server" || args.rows == "memory" {
        let connections = if args.smoke { 200 } else { args.connections };
        let ours = idle::measure(idle::Target::Ours(&server), connections).await?;
        let theirs = idle::measure(idle::Target::PeerJs(&root), connections).await;
        let (t, r) = match &theirs {
            Ok(p) => (
                format!(
                    "{:.1} KiB ({} held, total RSS {:.1} MiB)",
                    p.per_conn_kib,
                    p.held,
                    p.rss_total_kib as f64 / 1024.0
                ),
                format!("{:.2}×", ours.per_conn_kib / p.per_conn_kib),
            ),
            Err(e) => (format!("– ({e})"), "–".into()),
        };
        if theirs.is_ok() {
            versions.push("PeerJS server (npm peer) 1.0.2".into());
        }
        let l = format!(
            "| signal-server, {} idle connections: memory per connection (reference: PeerJS server) | {:.1} KiB (total RSS {:.1} MiB) | {t} | {r} | – | – |",
            ours.held,
            ours.per_conn_kib,
            ours.rss_total_kib as f64 / 1024.0
        );
        println!("{l}");
        lines.push(l);
    }
    if args.rows == "all" || args.rows == "server" || args.rows == "relay" {
        for l in relay_rows(&server, &root, args.smoke).await? {
            println!("{l}");
            lines.push(l);
        }
    }
    if args.rows == "all" || args.rows == "server" || args.rows == "fanout" {
        let (members, trials) = if args.smoke { (10, 3) } else { (100, 30) };
        let f = fanout::run(&server, members, trials).await?;
        let l = table::fanout_row(&f);
        println!("{l}");
        lines.push(l);
    }
    if args.rows == "all" || args.rows == "load" {
        let sizes = load::Sizes::for_run(args.smoke, args.connections, 60);
        let l = load::run(&server, &sizes).await?;
        stalled |= l.dropped > 0 || l.duplicated > 0;
        let line = table::load_row(&l, 10, sizes.duration.as_secs());
        println!("{line}");
        lines.push(line);
    }
    if args.rows == "all" || args.rows == "cluster" {
        let sizes = load::Sizes::for_run(args.smoke, args.connections, 30);
        let c = cluster::run(&server, &sizes).await?;
        // Memory: three times the idle row's connections, spread over the instances,
        // against the PeerJS server holding the idle row's count alone.
        let idle_n = if args.smoke { 600 } else { args.cluster_idle };
        let redis = peerchat_testkit::redis::Redis::start();
        let ours = idle::measure_cluster(&server, &redis.url(), cluster::INSTANCES, idle_n).await?;
        let theirs = idle::measure(idle::Target::PeerJs(&root), idle_n / cluster::INSTANCES).await;
        let redis_rss = redis.pid().and_then(|p| proc::rss_kib(p).ok()).unwrap_or(0);
        let line = table::cluster_memory_row(&ours, &theirs, redis_rss);
        println!("{line}");
        lines.push(line);
        stalled |= c.three.dropped > 0 || c.three.duplicated > 0;
        let line = table::cluster_row(&c, 10, sizes.duration.as_secs());
        println!("{line}");
        lines.push(line);
        for receivers in [1, 9] {
            let p = cluster::relay(&server, args.smoke, receivers).await?;
            stalled |= p.three.lost > 0;
            let line = table::cluster_relay_row(&p, receivers);
            println!("{line}");
            lines.push(line);
        }
    }
    if ["all", "cluster", "drain"].contains(&args.rows.as_str()) {
        let d = drain::run(&server, args.smoke).await?;
        stalled |= d.lost > 0 || d.all_resumed_after.is_none();
        let line = table::drain_row(&d);
        println!("{line}");
        lines.push(line);
        versions.push(format!("redis-server {}", proc::redis_version()));
    }
    if args.rows == "all" || args.rows == "app" {
        let app = args.app.clone().unwrap_or_else(|| proc::sibling_binary("peerchat"));
        let idle = std::time::Duration::from_secs(if args.smoke { 2 } else { 10 });
        let l = match app::measure(&app, idle).await {
            Ok(r) => format!(
                "| app (release): cold start to an interactive window · both windows in the room · memory (PSS) of app + WebKit processes ({}) with two windows idle | {:.0} ms · {:.0} ms · {:.1} MiB | – | – | – | – |",
                r.processes,
                r.cold_start.as_secs_f64() * 1e3,
                r.both_joined.as_secs_f64() * 1e3,
                r.idle_pss_kib as f64 / 1024.0
            ),
            Err(e) => format!("| app (release) | – ({e}) | – | – | – | – |"),
        };
        println!("{l}");
        lines.push(l);
    }
    if let Some(path) = &args.markdown {
        let command: Vec<String> = std::env::args().collect();
        let text = machine::section(&lines, &versions, &command.join(" "));
        std::fs::write(path, text)?;
    }
    if stalled {
        anyhow::bail!("a row of ours stalled or lost messages (see the table)");
    }
    Ok(())
}

/// The relay rows: ours (rate limits lifted for the bench) against the PeerJS server.
async fn relay_rows(server: &std::path::Path, root: &std::path::Path, smoke: bool) -> anyhow::Result<Vec<String>> {
    let (n_send, n_pub, n_paced, per_sec) =
        if smoke { (2_000, 500, 200, 1_000) } else { (100_000, 20_000, 5_000, 1_000) };
    let cfg = std::env::temp_dir().join(format!("peerchat-bench-relay-{}.toml", std::process::id()));
    std::fs::write(
        &cfg,
        "[server]\nlisten = \"127.0.0.1:0\"\nrate_per_sec = 1000000\nrate_burst = 1000000\noutbound_queue = 8192\n\n\
         [[keys]]\nkey = \"pk_bench_relay\"\n",
    )?;
    let ours_target = idle::Target::Ours(server);
    let (mut child, base) = idle::spawn(&ours_target, Some(&cfg))?;
    let url = format!("{base}?key=pk_bench_relay");
    let (pids, urls) = ([child.id()], [url]);
    let send = relay::run(relay::Flavor::Ours, &pids, &urls, 1, n_send, n_paced, per_sec).await;
    let publish = relay::run(relay::Flavor::Ours, &pids, &urls, 9, n_pub, n_paced, per_sec).await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&cfg);
    let theirs = match idle::spawn(&idle::Target::PeerJs(root), None) {
        Ok((mut c, base)) => {
            let r = relay::run(relay::Flavor::PeerJs, &[c.id()], &[base], 1, n_send, n_paced, per_sec).await;
            let _ = c.kill();
            let _ = c.wait();
            r
        }
        Err(e) => Err(e),
    };
    let text = table::relay_text;
    let mut rows = Vec::new();
    let ours = send?;
    let (t, ratio) = match &theirs {
        Ok(p) => (
            text(p),
            format!(
                "rate {:.2}× · server CPU per delivery {:.2}×",
                ours.max_rate / p.max_rate,
                ours.server_us_per_msg / p.server_us_per_msg.max(1e-9)
            ),
        ),
        Err(e) => (format!("– ({e})"), "–".into()),
    };
    rows.push(format!(
        "| relay, send to one peer: most relayed (window {}), latency at a fixed load (reference: PeerJS server) | {} | {t} | {ratio} | – | – |",
        1000,
        text(&ours)
    ));
    let p = publish?;
    rows.push(format!(
        "| relay, publish to a room of 10 (9 receivers): deliveries/s, latency at a fixed load | {} | – (PeerJS has no rooms) | – | – | – |",
        text(&p)
    ));
    Ok(rows)
}
