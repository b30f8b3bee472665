//! peerchat's changes to this crate (vendor/README.md, rtc-sctp 0001-0003), each shown
//! failing on the published crate: a receiver never acknowledges a chunk its stream cannot
//! take yet; the window counts what each waiting message costs, at both ends; a read that
//! opens the window tells the peer at once.

use super::*;

/// An ordered one-byte message on stream 0.
fn data(tsn: u32, ssn: u16, byte: u8) -> ChunkPayloadData {
    ChunkPayloadData {
        beginning_fragment: true,
        ending_fragment: true,
        tsn,
        stream_identifier: 0,
        stream_sequence_number: ssn,
        user_data: Bytes::from(vec![byte]),
        ..Default::default()
    }
}

fn receiver(window: u32) -> Association {
    let mut a = Association::default();
    a.max_receive_buffer_size = window;
    a.set_state(AssociationState::Established);
    a
}

/// Every message stream 0 has ready, as bytes.
fn read_all(a: &mut Association) -> Vec<u8> {
    let mut out = vec![];
    let mut s = a.stream(0).unwrap();
    while let Some(c) = s.read_sctp().unwrap() {
        out.extend_from_slice(&c.to_payload(16).unwrap());
    }
    out
}

/// Feeds one-byte messages from `next` on until the window is shut (or 100,000 are in:
/// a window that never shuts is the fault); returns the next TSN index.
fn fill(a: &mut Association, first: u32, mut next: u32) -> u32 {
    while a.get_my_receiver_window_credit() > 0 && next < 100_000 {
        a.handle_data(&data(first.wrapping_add(next), next as u16, 0)).unwrap();
        next += 1;
    }
    next
}

#[test]
fn a_chunk_the_stream_cannot_take_yet_is_not_acknowledged_and_arrives_when_sent_again() {
    const N: u32 = 40_000;
    let mut a = receiver(u32::MAX);
    let first = a.peer_last_tsn.wrapping_add(1);
    for i in 0..N {
        a.handle_data(&data(first.wrapping_add(i), i as u16, (i % 251) as u8)).unwrap();
    }
    // Acknowledged: only what the stream took, less than half the SSN space ahead.
    let taken = a.peer_last_tsn.wrapping_sub(first).wrapping_add(1);
    assert_eq!(taken, 1 << 15, "acknowledged");
    let mut got = read_all(&mut a);
    assert_eq!(got.len(), taken as usize, "read");
    // The sender's retransmission timer sends the rest again.
    for i in taken..N {
        a.handle_data(&data(first.wrapping_add(i), i as u16, (i % 251) as u8)).unwrap();
    }
    got.extend(read_all(&mut a));
    assert_eq!(got.len(), N as usize, "every message arrives");
    assert!(got.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8), "in order");
    assert_eq!(a.peer_last_tsn, first.wrapping_add(N - 1), "and is acknowledged");
}

#[test]
fn the_receive_window_counts_what_each_waiting_message_costs() {
    let mut a = receiver(1 << 20);
    let first = a.peer_last_tsn.wrapping_add(1);
    let n = fill(&mut a, first, 0);
    // One byte and 256 of cost each: shut after 4,081 messages, not a million.
    assert_eq!(n, (1u32 << 20).div_ceil(1 + 256));
    // A shut window takes no more.
    let before = a.peer_last_tsn;
    a.handle_data(&data(first.wrapping_add(n), n as u16, 0)).unwrap();
    assert_eq!(a.peer_last_tsn, before);
}

#[test]
fn a_sender_counts_the_same_cost_against_the_peers_window() {
    let now = Instant::now();
    let mut a = Association::new(
        None,
        Arc::new(TransportConfig::default()),
        1200,
        0,
        SocketAddr::from_str("127.0.0.1:5000").unwrap(),
        SocketAddr::from_str("127.0.0.1:5001").unwrap(),
        TransportProtocol::UDP,
        now,
    );
    a.set_state(AssociationState::Established);
    a.rwnd = 1 << 20;
    a.cwnd = u32::MAX;
    {
        let mut s = a.open_stream(0, PayloadProtocolIdentifier::Binary).unwrap();
        for _ in 0..10_000 {
            s.write_sctp(now, &Bytes::from_static(b"x"), PayloadProtocolIdentifier::Binary).unwrap();
        }
    }
    let (chunks, _) = a.pop_pending_data_chunks_to_send(now);
    assert_eq!(chunks.len() as u32, (1u32 << 20) / (1 + 256));
}

#[test]
fn reading_a_quarter_of_a_shut_window_sends_a_window_update_at_once() {
    let now = Instant::now();
    let mut a = receiver(1 << 20);
    let first = a.peer_last_tsn.wrapping_add(1);
    let n = fill(&mut a, first, 0);
    // The peer is told the window is shut.
    a.ack_state = AckState::Immediate;
    while a.poll_transmit(now).is_some() {}
    // Read one message at a time until something goes out.
    let mut read = 0u32;
    loop {
        let mut s = a.stream(0).unwrap();
        assert!(s.read_sctp().unwrap().is_some(), "no window update after {read} reads");
        read += 1;
        if a.poll_transmit(now).is_some() {
            break;
        }
    }
    // As soon as a quarter of 1 MiB is free, at 257 bytes a message.
    let quarter_free = (0..n).find(|k| (1u32 << 20).saturating_sub((n - k) * 257) >= 1 << 18);
    assert_eq!(Some(read), quarter_free);
}
