use super::*;
use proptest::prelude::*;

/// What Debian's `hb_standby all` writes (`ha_clustermsg` in /etc/ha.d/shellfuncs).
const STANDBY_ALL: &[u8] = b">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n";
/// What Debian's `hb_takeover failback` writes.
const TAKEOVER_FAILBACK: &[u8] = b">>>\nt=hb_takeover\nrsc_hold=failback\n<<<\n";

const T0: Duration = Duration::ZERO;

fn standby(class: RequestClass) -> FifoEvent {
    FifoEvent::Request(Request::Standby { class })
}

fn takeover(class: RequestClass) -> FifoEvent {
    FifoEvent::Request(Request::Takeover { class })
}

fn warning(problem: FifoProblem) -> FifoEvent {
    FifoEvent::Warning(FifoWarning {
        problem,
        suppressed: 0,
    })
}

fn read_all(bytes: &[u8]) -> Vec<FifoEvent> {
    FifoReader::new().push(T0, bytes)
}

fn message(lines: &[&str]) -> Message {
    let text = format!(
        ">>>\n{}<<<\n",
        lines.iter().map(|l| format!("{l}\n")).collect::<String>()
    );
    hb_proto::decode(text.as_bytes()).unwrap().msg
}

#[test]
fn debians_scripts_map_to_the_tools_requests() {
    assert_eq!(read_all(STANDBY_ALL), [standby(RequestClass::All)]);
    // Debian's hb_takeover sends failback as written: all, as our hb_takeover sends it
    // (Heartbeat's peer goes standby for all on rsc_hold=failback).
    assert_eq!(read_all(TAKEOVER_FAILBACK), [takeover(RequestClass::All)]);
    let cases = [
        (
            &["t=ask_resources", "rsc_hold=local", "info=me"][..],
            Request::Standby {
                class: RequestClass::Local,
            },
        ),
        (
            &["t=ask_resources", "rsc_hold=foreign", "info=ME"],
            Request::Standby {
                class: RequestClass::Foreign,
            },
        ),
        (
            &["t=hb_takeover", "rsc_hold=local"],
            Request::Takeover {
                class: RequestClass::Local,
            },
        ),
        (
            &["t=hb_takeover", "rsc_hold=all", "src=node1"],
            Request::Takeover {
                class: RequestClass::All,
            },
        ),
        // No rsc_hold: all, as Heartbeat reads it.
        (
            &["info=me", "t=ask_resources"],
            Request::Standby {
                class: RequestClass::All,
            },
        ),
        (
            &["t=hb_takeover"],
            Request::Takeover {
                class: RequestClass::All,
            },
        ),
        // The first field of a name counts.
        (
            &[
                "t=hb_takeover",
                "rsc_hold=local",
                "rsc_hold=bogus",
                "t=status",
            ],
            Request::Takeover {
                class: RequestClass::Local,
            },
        ),
    ];
    for (lines, want) in cases {
        assert_eq!(fifo_request(&message(lines)), Ok(want), "{lines:?}");
    }
}

#[test]
fn other_messages_and_bad_fields_are_refused_with_a_reason() {
    let refused = |lines: &[&str]| fifo_request(&message(lines)).unwrap_err().to_string();
    assert_eq!(
        refused(&["rsc_hold=all"]),
        "a message without a type (no t= field): ignored"
    );
    assert_eq!(
        refused(&["t=shutdone"]),
        "message type \"shutdone\" is not supported from the FIFO (only ask_resources, from \
         hb_standby, and hb_takeover are): ignored"
    );
    assert_eq!(
        refused(&["t=ask_resources", "rsc_hold=all"]),
        "ask_resources with no info field instead of info=me (only hb_standby's request is \
         honoured): ignored"
    );
    assert_eq!(
        refused(&["t=ask_resources", "rsc_hold=all", "info=other"]),
        "ask_resources with info=\"other\" instead of info=me (only hb_standby's request is \
         honoured): ignored"
    );
    assert_eq!(
        refused(&["t=hb_takeover", "rsc_hold=ALL"]),
        "hb_takeover with rsc_hold=\"ALL\": not all, local, foreign or failback: ignored"
    );
    assert_eq!(
        refused(&["t=ask_resources", "info=me", "rsc_hold=none"]),
        "ask_resources with rsc_hold=\"none\": not all, local, foreign or failback: ignored"
    );
    // Values are quoted with control characters escaped and cut short.
    let long = format!("t=x\x1b[2J{}", "y".repeat(100));
    let text = refused(&[&long]);
    assert!(text.starts_with("message type \"x\\u{1b}[2Jyyy"), "{text}");
    assert!(text.contains("yyy\"... is not supported"), "{text}");
    // A type that is a nested message or a binary value is not a supported type either.
    let mut nested = Message::new();
    nested.push(hb_proto::Field {
        name: "t".into(),
        value: Value::Struct(Message::new().with("t", "hb_takeover")),
    });
    assert_eq!(
        fifo_request(&nested),
        Err(FifoRefusal::Unsupported("\"\"".into()))
    );
}

#[test]
fn a_message_split_anywhere_is_read_once_complete() {
    for split in 0..=STANDBY_ALL.len() {
        let mut r = FifoReader::new();
        let (a, b) = STANDBY_ALL.split_at(split);
        let mut events = r.push(T0, a);
        if split < STANDBY_ALL.len() {
            assert_eq!(events, [], "nothing before the end, split at {split}");
        }
        events.extend(r.push(T0, b));
        assert_eq!(events, [standby(RequestClass::All)], "split at {split}");
    }
    // One byte at a time.
    let mut r = FifoReader::new();
    let events: Vec<_> = TAKEOVER_FAILBACK
        .iter()
        .flat_map(|b| r.push(T0, std::slice::from_ref(b)))
        .collect();
    assert_eq!(events, [takeover(RequestClass::All)]);
}

#[test]
fn two_messages_in_one_read_are_both_read_in_order() {
    let mut both = TAKEOVER_FAILBACK.to_vec();
    both.extend_from_slice(STANDBY_ALL);
    assert_eq!(
        read_all(&both),
        [takeover(RequestClass::All), standby(RequestClass::All)]
    );
}

#[test]
fn garbage_between_messages_is_skipped_with_a_warning() {
    let mut input = b"hello\n\n".to_vec();
    input.extend_from_slice(STANDBY_ALL);
    input.extend_from_slice(b"\n<<<\n\x1b]0;owned\x07\n");
    input.extend_from_slice(TAKEOVER_FAILBACK);
    let events = read_all(&input);
    assert_eq!(
        events,
        [
            warning(FifoProblem::Garbage {
                line: "\"hello\"".into()
            }),
            standby(RequestClass::All),
            // Same kind, within the interval: counted, not reported.
            takeover(RequestClass::All),
        ]
    );
    let FifoEvent::Warning(w) = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        w.to_string(),
        "skipped a line outside a message (one starts with a line \">>>\"): \"hello\""
    );
    // Blank lines between messages are no garbage; a line ">>>x" is.
    let mut input = b"\n\n>>>x\n".to_vec();
    input.extend_from_slice(STANDBY_ALL);
    assert_eq!(
        read_all(&input),
        [
            warning(FifoProblem::Garbage {
                line: "\">>>x\"".into()
            }),
            standby(RequestClass::All)
        ]
    );
    // A long line is kept only in part, and quoted cut short.
    let mut r = FifoReader::new();
    assert_eq!(r.push(T0, &[b'z'; 10_000]), []);
    assert!(r.line.len() <= KEPT_LINE_BYTES);
    let events = r.push(T0, b"\n");
    let [FifoEvent::Warning(w)] = &events[..] else {
        panic!("{events:?}")
    };
    assert_eq!(
        w.problem,
        FifoProblem::Garbage {
            line: format!("\"{}\"...", "z".repeat(QUOTED_CHARS))
        }
    );
}

#[test]
fn an_oversized_message_is_dropped_once_and_the_next_one_is_read() {
    let mut big = b">>>\nt=ask_resources\ninfo=me\npad=".to_vec();
    big.extend(std::iter::repeat_n(b'x', MAX_FIFO_MESSAGE));
    big.extend_from_slice(b"\nmore=1\n<<<\n");
    let mut r = FifoReader::new();
    let mut events = Vec::new();
    for chunk in big.chunks(1000) {
        events.extend(r.push(T0, chunk));
        assert!(r.msg.len() <= MAX_FIFO_MESSAGE, "bounded: {}", r.msg.len());
    }
    // The garbage after its end is reported again: the reader is back between messages.
    events.extend(r.push(T0, b"junk\n"));
    events.extend(r.push(T0, STANDBY_ALL));
    assert_eq!(
        events,
        [
            warning(FifoProblem::Oversized),
            warning(FifoProblem::Garbage {
                line: "\"junk\"".into()
            }),
            standby(RequestClass::All)
        ]
    );
    // An oversized message that never ends: the next ">>>" line starts over.
    let mut r = FifoReader::new();
    let mut endless = b">>>\n".to_vec();
    endless.extend(std::iter::repeat_n(b'y', 3 * MAX_FIFO_MESSAGE));
    endless.extend_from_slice(b"\n");
    endless.extend_from_slice(TAKEOVER_FAILBACK);
    assert_eq!(
        r.push(T0, &endless),
        [warning(FifoProblem::Oversized), takeover(RequestClass::All)]
    );
    assert_eq!(
        FifoProblem::Oversized.to_string(),
        "dropped a message longer than 4096 bytes; reading on from the next one"
    );
}

#[test]
fn a_message_of_exactly_the_limit_is_read() {
    let head = b">>>\nt=hb_takeover\nrsc_hold=local\npad=";
    let tail = b"\n<<<\n";
    let mut exact = head.to_vec();
    exact.extend(std::iter::repeat_n(
        b'p',
        MAX_FIFO_MESSAGE - head.len() - tail.len(),
    ));
    exact.extend_from_slice(tail);
    assert_eq!(exact.len(), MAX_FIFO_MESSAGE);
    assert_eq!(read_all(&exact), [takeover(RequestClass::Local)]);
    // One byte more is too long.
    let mut over = exact.clone();
    over.insert(head.len(), b'p');
    assert_eq!(read_all(&over), [warning(FifoProblem::Oversized)]);
    // Over the limit, a ">>>" line still starts the next message (the cut one is dropped).
    let mut cut = exact[..exact.len() - END.len()].to_vec();
    cut.insert(head.len(), b'p');
    cut.extend_from_slice(STANDBY_ALL);
    assert_eq!(
        read_all(&cut),
        [warning(FifoProblem::Cut), standby(RequestClass::All)]
    );
}

#[test]
fn a_cut_or_malformed_message_is_dropped_and_the_next_one_read() {
    let mut input = b">>>\nt=ask_resources\n".to_vec();
    input.extend_from_slice(STANDBY_ALL);
    input.extend_from_slice(b">>>\nno equals sign\n<<<\n");
    input.extend_from_slice(TAKEOVER_FAILBACK);
    let events = read_all(&input);
    assert_eq!(
        events,
        [
            warning(FifoProblem::Cut),
            standby(RequestClass::All),
            warning(FifoProblem::Malformed(DecodeError::MissingEquals {
                offset: 4
            })),
            takeover(RequestClass::All),
        ]
    );
    let FifoEvent::Warning(w) = &events[2] else {
        unreachable!()
    };
    assert_eq!(
        w.to_string(),
        "dropped a malformed message: field without '=' at offset 4"
    );
}

#[test]
fn missing_fields_are_refused_with_a_warning() {
    let events = read_all(b">>>\nt=ask_resources\nrsc_hold=all\n<<<\n>>>\nrsc_hold=all\n<<<\n");
    assert_eq!(
        events,
        [warning(FifoProblem::Refused(FifoRefusal::NotMe(
            "no info field".into()
        )))],
        "the second refusal is within the rate limit"
    );
    let mut r = FifoReader::new();
    let later = FIFO_WARN_INTERVAL;
    assert_eq!(
        r.push(later, b">>>\nrsc_hold=all\n<<<\n"),
        [warning(FifoProblem::Refused(FifoRefusal::MissingType))]
    );
}

#[test]
fn an_unsupported_type_is_warned_about_once() {
    let mut r = FifoReader::new();
    let status = b">>>\nt=status\nst=active\n<<<\n";
    let first = r.push(T0, status);
    assert_eq!(
        first,
        [warning(FifoProblem::Refused(FifoRefusal::Unsupported(
            "\"status\"".into()
        )))]
    );
    // Never again, whenever it comes; another type is warned about once too.
    assert_eq!(r.push(T0, status), []);
    assert_eq!(r.push(Duration::from_secs(3600), status), []);
    assert_eq!(
        r.push(T0, b">>>\nt=shutdone\n<<<\n"),
        [warning(FifoProblem::Refused(FifoRefusal::Unsupported(
            "\"shutdone\"".into()
        )))]
    );
    // The set is bounded: past it, new types are rate-limited like other refusals.
    let mut r = FifoReader::new();
    for i in 0..MAX_UNSUPPORTED_TYPES {
        let events = r.push(T0, format!(">>>\nt=type{i}\n<<<\n").as_bytes());
        assert_eq!(events.len(), 1, "type{i}");
    }
    assert_eq!(
        r.push(T0, b">>>\nt=one_more\n<<<\n"),
        [warning(FifoProblem::Refused(FifoRefusal::Unsupported(
            "\"one_more\"".into()
        )))]
    );
    assert_eq!(r.push(T0, b">>>\nt=and_another\n<<<\n"), []);
    assert_eq!(r.unsupported.len(), MAX_UNSUPPORTED_TYPES);
}

#[test]
fn warnings_are_rate_limited_per_kind_and_count_what_they_suppressed() {
    let mut r = FifoReader::new();
    let garbage = |line: &str| {
        warning(FifoProblem::Garbage {
            line: format!("{line:?}"),
        })
    };
    assert_eq!(r.push(T0, b"a\n"), [garbage("a")]);
    assert_eq!(r.push(Duration::from_secs(1), b"b\nc\n"), []);
    // Another kind is not held back by the first.
    assert_eq!(
        r.push(Duration::from_secs(1), b">>>\n=\n<<<\n"),
        [warning(FifoProblem::Malformed(DecodeError::EmptyName {
            offset: 4
        }))]
    );
    assert_eq!(r.push(Duration::from_millis(4999), b"d\n"), []);
    let events = r.push(FIFO_WARN_INTERVAL, b"e\n");
    assert_eq!(
        events,
        [FifoEvent::Warning(FifoWarning {
            problem: FifoProblem::Garbage {
                line: "\"e\"".into()
            },
            suppressed: 3,
        })]
    );
    let FifoEvent::Warning(w) = &events[0] else {
        unreachable!()
    };
    assert!(
        w.to_string()
            .ends_with(": \"e\" (3 more like it suppressed)"),
        "{w}"
    );
    // A clock that goes backwards does not unblock anything, nor panic.
    assert_eq!(r.push(T0, b"f\n"), []);
}

#[test]
fn the_path_is_heartbeats_with_the_default_state_dir() {
    assert_eq!(
        fifo_path(Path::new("/var/lib/heartbeat")),
        PathBuf::from("/var/lib/heartbeat/fifo")
    );
}

/// Messages, garbage and oversized or cut messages, as bytes.
fn fifo_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(STANDBY_ALL.to_vec()),
        Just(TAKEOVER_FAILBACK.to_vec()),
        Just(b">>>\nt=status\n<<<\n".to_vec()),
        Just(b">>>\nt=ask_resources\n".to_vec()),
        Just(b"<<<\n".to_vec()),
        Just(b"\n".to_vec()),
        (0..2 * MAX_FIFO_MESSAGE).prop_map(|n| {
            let mut m = b">>>\nt=hb_takeover\npad=".to_vec();
            m.extend(std::iter::repeat_n(b'x', n));
            m.extend_from_slice(b"\n<<<\n");
            m
        }),
        proptest::collection::vec(any::<u8>(), 0..64),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    /// However the pipe splits the bytes, the reader sees the same events, and its buffers
    /// stay bounded.
    #[test]
    fn chunking_does_not_change_what_is_read(
        bytes in fifo_bytes(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..16),
    ) {
        let whole = read_all(&bytes);
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort_unstable();
        let mut r = FifoReader::new();
        let mut chunked = Vec::new();
        for w in at.windows(2) {
            chunked.extend(r.push(T0, &bytes[w[0]..w[1]]));
            prop_assert!(r.msg.len() <= MAX_FIFO_MESSAGE + START.len());
            prop_assert!(r.line.len() <= KEPT_LINE_BYTES);
        }
        prop_assert_eq!(whole, chunked);
    }
}
