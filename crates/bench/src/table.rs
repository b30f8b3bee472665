//! The table: our figure, the reference's, and the ratio, one markdown row per line.

use crate::engine::{BulkResult, Results, SmallResult};
use crate::fanout::Fanout;
use crate::reference::{pct, Reference};
use crate::stats::Samples;
use crate::udp::Ceiling;

pub const HEADER: &str = "| row | peerchat | reference | peerchat ÷ reference | UDP ceiling | peerchat ÷ UDP |\n\
                          |---|---|---|---|---|---|";

fn ratio(ours: f64, theirs: f64) -> String {
    if ours.is_finite() && theirs.is_finite() && theirs > 0.0 {
        format!("{:.2}×", ours / theirs)
    } else {
        "–".into()
    }
}

fn row(name: &str, ours: &str, theirs: &str, r: &str, udp: &str, r_udp: &str) -> String {
    format!("| {name} | {ours} | {theirs} | {r} | {udp} | {r_udp} |")
}

fn bulk_mbps(b: &BulkResult) -> f64 {
    if b.stalled {
        f64::NAN
    } else {
        b.bytes as f64 / b.secs.max(1e-9) / 1e6
    }
}

fn bulk_text(b: &BulkResult) -> String {
    if b.stalled {
        format!("STALL after {} of the bytes", b.bytes)
    } else {
        format!("{:.1} MB/s", bulk_mbps(b))
    }
}

fn small_text(s: &SmallResult) -> (String, f64) {
    let rate = s.delivered as f64 / s.secs.max(1e-9);
    if s.stalled {
        (format!("STALL: {} of {} delivered", s.delivered, s.sent), f64::NAN)
    } else {
        (format!("{} of {} delivered, {:.0} msg/s", s.delivered, s.sent, rate), rate)
    }
}

fn ms(s: &Samples, p: f64) -> f64 {
    s.pct(p).as_secs_f64() * 1e3
}

fn us(s: &Samples, p: f64) -> f64 {
    s.pct(p).as_secs_f64() * 1e6
}

/// The DataChannel rows.
pub fn engine_rows(ours: &Results, reference: &Result<Reference, String>, udp: &Option<Ceiling>) -> Vec<String> {
    let mut out = Vec::new();
    let r = reference.as_ref().ok();
    let none = || match reference {
        Err(why) => format!("– ({why})"),
        Ok(_) => "–".into(),
    };

    let (p50, p90) = (ms(&ours.setup, 50.0), ms(&ours.setup, 90.0));
    let (t, rr) = match r {
        Some(r) => {
            let (a, b) = (pct(&r.setup_ms, 50.0), pct(&r.setup_ms, 90.0));
            (format!("{a:.1} / {b:.1} ms"), format!("p50 {} · p90 {}", ratio(p50, a), ratio(p90, b)))
        }
        None => (none(), "–".into()),
    };
    let name = format!("setup: offer/join → channel open ({} trials), p50 / p90", ours.setup.len());
    out.push(row(&name, &format!("{p50:.1} / {p90:.1} ms"), &t, &rr, "–", "–"));

    let (p50, p99) = (us(&ours.ping, 50.0), us(&ours.ping, 99.0));
    let lost = if ours.ping_lost > 0 { format!(" ({} lost)", ours.ping_lost) } else { String::new() };
    let (t, rr) = match r {
        Some(r) => {
            let (a, b) = (pct(&r.ping_us, 50.0), pct(&r.ping_us, 99.0));
            let lost = if r.ping_lost > 0 { format!(" ({} lost)", r.ping_lost) } else { String::new() };
            (format!("{a:.0} / {b:.0} µs{lost}"), format!("p50 {} · p99 {}", ratio(p50, a), ratio(p99, b)))
        }
        None => (none(), "–".into()),
    };
    let name = format!("ping 64 B, unordered no-retransmit, {} round trips, p50 / p99", ours.ping.len());
    out.push(row(&name, &format!("{p50:.0} / {p99:.0} µs{lost}"), &t, &rr, "–", "–"));

    let udp_mbps = udp.as_ref().filter(|c| c.lost == 0).map(|c| c.mbps);
    for b in &ours.bulk {
        let theirs = r.and_then(|r| r.bulk.iter().find(|x| x.size == b.size));
        let (t, rr) = match theirs {
            Some(x) if x.stalled => (format!("STALL after {} bytes", x.bytes), "–".into()),
            Some(x) => (format!("{:.1} MB/s", x.mbps), ratio(bulk_mbps(b), x.mbps)),
            None => (none(), "–".into()),
        };
        let (u, ru) = match udp_mbps {
            Some(m) => (format!("{m:.1} MB/s"), ratio(bulk_mbps(b), m)),
            None => ("–".into(), "–".into()),
        };
        let name = format!("bulk, reliable ordered, {} KiB messages, {} MiB", b.size / 1024, b.total >> 20);
        out.push(row(&name, &bulk_text(b), &t, &rr, &u, &ru));
    }

    let (ours_text, ours_rate) = small_text(&ours.small);
    let (t, rr) = match r {
        Some(r) if r.small.stalled => {
            (format!("STALL: {} of {} delivered", r.small.delivered, r.small.sent), "–".into())
        }
        Some(r) => (
            format!("{} of {} delivered, {:.0} msg/s", r.small.delivered, r.small.sent, r.small.rate),
            ratio(ours_rate, r.small.rate),
        ),
        None => (none(), "–".into()),
    };
    out.push(row(&format!("{} one-byte messages, reliable ordered", ours.small.sent), &ours_text, &t, &rr, "–", "–"));

    if let Some(c) = udp {
        let text =
            if c.lost == 0 { format!("{:.1} MB/s", c.mbps) } else { format!("{:.1} MB/s, {} lost", c.mbps, c.lost) };
        out.push(row(
            "loopback UDP, 1200 B datagrams, 4 MiB buffers, lossless (the ceiling)",
            "–",
            "–",
            "–",
            &text,
            "–",
        ));
    }
    out
}

/// The recovery rows (no reference: node-datachannel has no signalling of its own, and
/// libdatachannel does not implement ICE restarts).
pub fn recovery_rows(r: &crate::recovery::Results) -> Vec<String> {
    let k = &r.kill;
    let lost = k.sent - k.received.min(k.sent);
    let back = match k.back_after {
        Some(d) => format!(
            "signalling back {:.0} ms after the restart ({})",
            d.as_secs_f64() * 1e3,
            if k.resumed { "resumed" } else { "NOT resumed" }
        ),
        None => "signalling NOT back".into(),
    };
    let kill =
        format!("{lost} of {} lost · longest pause {:.1} ms · {back}", k.sent, k.longest_pause.as_secs_f64() * 1e3);
    let i = &r.ice;
    let ice = format!(
        "{:.1} / {:.1} ms · longest pause {:.1} ms · {} of {} lost",
        ms(&i.connected_again, 50.0),
        ms(&i.connected_again, 90.0),
        i.longest_pause.as_secs_f64() * 1e3,
        i.sent - i.received.min(i.sent),
        i.sent
    );
    let rebuild = format!("{:.1} / {:.1} ms", ms(&r.rebuild, 50.0), ms(&r.rebuild, 90.0));
    vec![
        row(
            &format!(
                "recovery: signalling server SIGKILLed for {:.1} s, then restarted, under a P2P stream of 1000 msg/s: lost on the P2P path · longest pause · signalling back",
                k.outage.as_secs_f64()
            ),
            &kill,
            "– (no signalling in the reference)",
            "–",
            "–",
            "–",
        ),
        row(
            &format!(
                "recovery: forced ICE restart ({} trials) under the same stream: connected again p50 / p90 · longest pause · lost",
                i.connected_again.len()
            ),
            &ice,
            "– (libdatachannel has no ICE restart)",
            "–",
            "–",
            "–",
        ),
        row(
            &format!("recovery: connection rebuilt ({} trials): connected again p50 / p90", r.rebuild.len()),
            &rebuild,
            "–",
            "–",
            "–",
            "–",
        ),
    ]
}

/// The presence fan-out row (PeerJS has no rooms or presence).
pub fn fanout_row(f: &Fanout) -> String {
    row(
        &format!(
            "presence fan-out: a join into a room of {} ({} trials): each member p50 / p99 · last member p50 / p99",
            f.members, f.trials
        ),
        &format!(
            "{:.2} / {:.2} ms · {:.2} / {:.2} ms",
            ms(&f.each, 50.0),
            ms(&f.each, 99.0),
            ms(&f.last, 50.0),
            ms(&f.last, 99.0)
        ),
        "– (PeerJS has no rooms)",
        "–",
        "–",
        "–",
    )
}

/// Memory per idle connection over the instances, against the PeerJS server's.
pub fn cluster_memory_row(
    ours: &crate::idle::IdleRow,
    theirs: &anyhow::Result<crate::idle::IdleRow>,
    redis_rss_kib: u64,
) -> String {
    let (t, r) = match theirs {
        Ok(p) => (
            format!("{:.1} KiB ({} held by one PeerJS server)", p.per_conn_kib, p.held),
            format!("{:.2}×", ours.per_conn_kib / p.per_conn_kib),
        ),
        Err(e) => (format!("– ({e})"), "–".into()),
    };
    row(
        &format!(
            "{} idle connections spread over {} instances + Redis: memory per connection per instance (reference: PeerJS server, one instance's share)",
            ours.held,
            crate::cluster::INSTANCES
        ),
        &format!(
            "{:.1} KiB (instances' RSS {:.1} MiB; Redis RSS {:.1} MiB after the run)",
            ours.per_conn_kib,
            ours.rss_total_kib as f64 / 1024.0,
            redis_rss_kib as f64 / 1024.0
        ),
        &t,
        &r,
        "–",
        "–",
    )
}

/// The cluster row: three instances with Redis against one instance, same load.
pub fn cluster_row(c: &crate::cluster::ClusterLoad, rooms_of: usize, secs: u64) -> String {
    let (t, o) = (&c.three, &c.one);
    row(
        &format!(
            "load on {} instances + Redis: {} connections spread over them in rooms of {rooms_of} (9 sends in 10 cross instances), `send` at {:.0} msg/s for {secs} s (reference: one instance, same run)",
            crate::cluster::INSTANCES,
            t.connected,
            t.offered_rate
        ),
        &format!(
            "{} sent, {} received: {} dropped, {} duplicated, {} errors; latency p50 {:.2} / p99 {:.2} ms; instances' RSS {:.0} MiB; Redis CPU {:.1} µs per delivery",
            t.sent,
            t.received,
            t.dropped,
            t.duplicated,
            t.errors,
            ms(&t.latency, 50.0),
            ms(&t.latency, 99.0),
            t.server_rss_kib as f64 / 1024.0,
            c.redis_cpu_us_per_delivery
        ),
        &format!(
            "{} received, {} dropped; latency p50 {:.2} / p99 {:.2} ms; RSS {:.0} MiB",
            o.received,
            o.dropped,
            ms(&o.latency, 50.0),
            ms(&o.latency, 99.0),
            o.server_rss_kib as f64 / 1024.0
        ),
        &format!("p50 ×{:.2}", ms(&t.latency, 50.0) / ms(&o.latency, 50.0).max(1e-9)),
        "–",
        "–",
    )
}

pub fn load_row(l: &crate::load::Load, rooms_of: usize, secs: u64) -> String {
    row(
        &format!(
            "load on one server: {} connections in rooms of {rooms_of}, `send` at {:.0} msg/s for {secs} s (connected in {:.1} s)",
            l.connected,
            l.offered_rate,
            l.connect_time.as_secs_f64()
        ),
        &format!(
            "{} sent, {} received: {} dropped, {} duplicated, {} errors; latency p50 {:.2} / p99 {:.2} / max {:.2} ms; server RSS {:.0} MiB",
            l.sent,
            l.received,
            l.dropped,
            l.duplicated,
            l.errors,
            ms(&l.latency, 50.0),
            ms(&l.latency, 99.0),
            ms(&l.latency, 100.0),
            l.server_rss_kib as f64 / 1024.0
        ),
        "–",
        "–",
        "–",
        "–",
    )
}

/// The NAT lab rows: relayed against direct through NAT, and the relay's bulk against
/// coturn's own relaying rate.
pub fn nat_rows(
    direct: &crate::nat::NatRow,
    relayed: &crate::nat::NatRow,
    turn: &crate::nat::TurnCeiling,
) -> Vec<String> {
    let paths = format!("(ours: {}; reference: {})", relayed.route, direct.route);
    vec![
        row(
            &format!("NAT lab: setup p50 / p90, relayed vs direct {paths}"),
            &format!("{:.1} / {:.1} ms", ms(&relayed.setup, 50.0), ms(&relayed.setup, 90.0)),
            &format!("{:.1} / {:.1} ms", ms(&direct.setup, 50.0), ms(&direct.setup, 90.0)),
            &format!("{} / {}", ratio(ms(&relayed.setup, 50.0), ms(&direct.setup, 50.0)), ratio(ms(&relayed.setup, 90.0), ms(&direct.setup, 90.0))),
            "–",
            "–",
        ),
        row(
            &format!("NAT lab: ping p50 / p99, relayed vs direct {paths}"),
            &format!("{:.0} / {:.0} µs", us(&relayed.ping, 50.0), us(&relayed.ping, 99.0)),
            &format!("{:.0} / {:.0} µs", us(&direct.ping, 50.0), us(&direct.ping, 99.0)),
            &format!("{} / {}", ratio(us(&relayed.ping, 50.0), us(&direct.ping, 50.0)), ratio(us(&relayed.ping, 99.0), us(&direct.ping, 99.0))),
            "–",
            "–",
        ),
        row(
            &format!("NAT lab: bulk 16 KiB, relayed vs direct {paths}; last columns: coturn relaying turnutils_uclient's paced load in the same lab (8 clients × 16,000 B per ms), not a true ceiling"),
            &format!("{:.1} MB/s", relayed.bulk_mbps),
            &format!("{:.1} MB/s", direct.bulk_mbps),
            &ratio(relayed.bulk_mbps, direct.bulk_mbps),
            &format!("{:.1} MB/s ({} B in {} s)", turn.mbps, turn.bytes, turn.secs),
            &ratio(relayed.bulk_mbps, turn.mbps),
        ),
    ]
}

/// A relay result in words: the most relayed, CPU, and latency at a fixed rate.
pub fn relay_text(r: &crate::relay::RelayResult) -> String {
    let lost = if r.lost > 0 { format!(", {} lost", r.lost) } else { String::new() };
    format!(
        "{:.0} msg/s (CPU per delivery: server {:.2} µs, bench clients {:.2} µs); at {}/s: p50 {:.2} ms, p99 {:.2} ms{lost}",
        r.max_rate,
        r.server_us_per_msg,
        r.client_us_per_msg,
        r.offered,
        r.latency.pct(50.0).as_secs_f64() * 1e3,
        r.latency.pct(99.0).as_secs_f64() * 1e3
    )
}

pub fn cluster_relay_row(p: &crate::cluster::ClusterRelay, receivers: usize) -> String {
    let what = if receivers == 1 {
        "`send` from a client on one instance to a client on another".to_string()
    } else {
        format!(
            "publish to a room of 10 spread over {} instances (sender and 3 receivers on one, 3 on each other)",
            crate::cluster::INSTANCES
        )
    };
    row(
        &format!(
            "{what}, {} instances + Redis: deliveries/s (window 1000), latency at a fixed load (reference: the same on one instance, same run)",
            crate::cluster::INSTANCES
        ),
        &format!("{}; Redis CPU {:.2} µs per delivery", relay_text(&p.three), p.redis_cpu_us_per_delivery),
        &relay_text(&p.one),
        &format!("rate {:.2}×", p.three.max_rate / p.one.max_rate.max(1e-9)),
        "–",
        "–",
    )
}

pub fn drain_row(d: &crate::drain::Drain) -> String {
    let resumed = match d.all_resumed_after {
        Some(t) => format!("{:.2} s", t.as_secs_f64()),
        None => format!("not all: {} of {} in 60 s", d.moved, d.clients.div_ceil(crate::cluster::INSTANCES)),
    };
    row(
        &format!(
            "drain (SIGTERM) of 1 of {} instances under load: {} clients in rooms of 10, `send` with ack at {:.0} msg/s for {} s; clients honour `retryAfterMs` (1 s by default) and resume on another instance",
            crate::cluster::INSTANCES,
            d.clients,
            d.sent as f64 / d.secs as f64,
            d.secs
        ),
        &format!(
            "{} lost of {} acked ({} sent; {} re-sent after a resume, {} duplicated; {} errors); {} moved, {} as new sessions; longest pause {:.2} s; every client resumed {resumed} after SIGTERM",
            d.lost,
            d.acked,
            d.sent,
            d.resent,
            d.duplicated,
            d.errors,
            d.moved,
            d.new_sessions,
            d.longest_pause.as_secs_f64()
        ),
        "–",
        "–",
        "–",
        "–",
    )
}
