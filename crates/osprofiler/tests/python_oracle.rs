//! Property tests whose oracle is Python OSprofiler 4.4.0 itself: generated cases go, in one
//! batch per test, to `crates/osprofiler-testkit/python/oracle.py` run by the interop
//! virtualenv's interpreter (one Python process per test), and each case's answer must equal
//! ours.
//!
//! - `reports_equal_pythons`: random notification sets (trees with nesting and siblings,
//!   several services, projects and hosts, starts without stops and the reverse, odd and
//!   unicode names, numbers in info, timestamps in every form `strptime` takes and some it
//!   refuses, repeated trace ids and notifications, shuffled arrival) through Python's
//!   `_append_results` + `_parse_results` against our report builder: the report's JSON text
//!   (`trace show --json`, key order included) and which notifications are skipped.
//! - `trace_headers_equal_pythons`: random keys and payloads, signed and then corrupted (base64
//!   characters changed, truncated, padding changed, non-JSON payloads, wrong or mangled HMACs,
//!   white space, unicode keys) through Python's `signed_unpack` against our `signed_unpack`
//!   and `Verifier::unpack` (the same verdict and the same object, as Python's JSON text), and
//!   the valid ones through `signed_pack` (and `pack_ids`) against ours.
//! - `timestamps_equal_pythons`: strings near `%Y-%m-%dT%H:%M:%S.%f` (digit counts, ranges,
//!   leap days, spaces, separators, unicode digits, trailing text) through Python's
//!   `datetime.strptime`, as `_append_results` calls it, against `Timestamp::parse`: the same
//!   verdict and the same microsecond.
//!
//! Left out on purpose, each where it is generated or compared: a stop whose `info` is not an
//! object and notifications missing fields (docs/wire.md 6.6: Python raises); integers beyond
//! 64 bits in reports (6.6); headers Python answers with an exception (4.4: we refuse them);
//! and, not in docs/wire.md and so reported: what serde_json cannot hold or reads otherwise
//! than Python (NaN, infinities, lone surrogates, the integer `-0`).
//!
//! Cases come from a seeded generator: the seed is printed, and `OSPROFILER_ORACLE_SEED=N`
//! replays a run (`OSPROFILER_ORACLE_CASES=N` changes how many cases each test makes). A
//! mismatch fails with the smallest failing case found (a failing report is shrunk one
//! notification at a time, each round one more Python process), ready to become a regression
//! test.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use osprofiler::pyjson;
use osprofiler::report::{build_report, report_from_json_text, write_python_pretty};
use osprofiler::signing::{pack_ids, signed_pack, signed_unpack, Verifier};
use osprofiler::timestamp::Timestamp;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};

// ---------------------------------------------------------------------------------------
// The oracle and the generator
// ---------------------------------------------------------------------------------------

fn oracle_script() -> PathBuf {
    osprofiler_testkit::workspace_root().join("crates/osprofiler-testkit/python/oracle.py")
}

/// Python's answer for each of `cases`, from one run of `oracle.py command`.
fn ask_python(python: &Path, command: &str, cases: &[Value]) -> Vec<Value> {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    serde_json::to_writer(&mut file, cases).unwrap();
    file.flush().unwrap();
    let out = Command::new(python)
        .arg(oracle_script())
        .arg(command)
        .arg(file.path())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "oracle.py {command} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("oracle.py {command} printed no JSON list: {e}"));
    assert_eq!(answers.len(), cases.len(), "one answer per case");
    answers
}

/// SplitMix64: small, seeded, the same sequence everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// A number in `lo..=hi`.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % ((hi - lo) as u64 + 1)) as i64
    }

    /// True `percent` times in a hundred.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The seed of this test run: `$OSPROFILER_ORACLE_SEED`, else from the clock (printed, so a
/// failure can be replayed).
fn seed(test: &str) -> u64 {
    let seed = std::env::var("OSPROFILER_ORACLE_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    eprintln!("{test}: OSPROFILER_ORACLE_SEED={seed}");
    seed
}

/// How many cases a test makes: `$OSPROFILER_ORACLE_CASES`, else `default`.
fn case_count(default: usize) -> usize {
    std::env::var("OSPROFILER_ORACLE_CASES")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(default)
}

/// Text from every corner: empty, quotes and backslashes, control characters, DEL, accents,
/// CJK, characters above U+FFFF, dashes (names are cut at the first one).
const ODD_TEXT: &[&str] = &[
    "",
    "nova",
    "ünïcödé",
    "服务",
    "a\"b\\c",
    "tab\tnl\ncr\r",
    "emoji 😀",
    "del\u{7f}",
    "x-y-z",
    "  ",
    "null",
    "0",
    "\u{2028}\u{feff}",
    "/servers?x=1&y=%20",
];

fn uuid(rng: &mut Rng) -> String {
    let a = rng.next();
    let b = rng.next();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

fn odd_text(rng: &mut Rng) -> String {
    (*rng.pick(ODD_TEXT)).to_owned()
}

/// A finite float: a familiar one (Python's repr has exponents, `-0.0`, `1e-05`) or any bit
/// pattern that is finite.
fn float(rng: &mut Rng) -> f64 {
    const FAMILIAR: &[f64] = &[
        0.1,
        1e16,
        1e-5,
        -0.0,
        1.5,
        123_456.789,
        1e300,
        2.5e-8,
        1e22,
        5e-324,
        0.3,
    ];
    if rng.chance(50) {
        return *rng.pick(FAMILIAR);
    }
    loop {
        let f = f64::from_bits(rng.next());
        if f.is_finite() {
            return f;
        }
    }
}

/// A JSON value for info: numbers (integers within 64 bits, floats), strings, lists and
/// objects nested up to `depth`. Integers beyond 64 bits are left out: docs/wire.md 6.6
/// (payloads are re-serialized; they become floats).
fn json_value(rng: &mut Rng, depth: u32) -> Value {
    match rng.below(if depth == 0 { 6 } else { 8 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => json!(rng.range(-1000, 1000)),
        3 => match rng.below(3) {
            0 => json!(rng.next() as i64),
            1 => json!(rng.next()),
            _ => json!(i64::MIN),
        },
        4 => json!(float(rng)),
        5 => Value::String(odd_text(rng)),
        6 => Value::Array(
            (0..rng.below(4))
                .map(|_| json_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(4) {
                m.insert(odd_text(rng), json_value(rng, depth - 1));
            }
            Value::Object(m)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Timestamps as text
// ---------------------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SS.ffffff` of `micros` since the epoch.
fn canonical(micros: i64) -> String {
    Timestamp::from_micros(micros).to_string()
}

/// Micros of years 1 to 9999, the range of Python's datetime.
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;
/// 2000-01-01 and 2030-01-01.
const Y2000: i64 = 946_684_800_000_000;
const Y2030: i64 = 1_893_456_000_000_000;

/// Another text `strptime` reads as the same instant, or nearly (fewer fraction digits):
/// one-digit fields, a space-padded day, a lower-case `t`.
fn lenient(rng: &mut Rng, text: &str) -> String {
    let (date, rest) = text.split_at(10);
    let (time, frac) = rest[1..].split_at(8);
    let frac = &frac[1..];
    let unpad = |rng: &mut Rng, f: &str| {
        if rng.chance(30) && f.starts_with('0') {
            f[1..].to_owned()
        } else {
            f.to_owned()
        }
    };
    let (y, m, d) = (&date[..4], &date[5..7], &date[8..10]);
    let day = if d.starts_with('0') && rng.chance(25) {
        format!(" {}", &d[1..])
    } else {
        unpad(rng, d)
    };
    let t = if rng.chance(20) { 't' } else { 'T' };
    let (hh, mm, ss) = (&time[..2], &time[3..5], &time[6..8]);
    let digits = 1 + rng.below(6);
    format!(
        "{y}-{}-{day}{t}{}:{}:{}.{}",
        unpad(rng, m),
        unpad(rng, hh),
        unpad(rng, mm),
        unpad(rng, ss),
        &frac[..digits]
    )
}

// ---------------------------------------------------------------------------------------
// 1. Reports
// ---------------------------------------------------------------------------------------

struct Point {
    trace_id: String,
    parent: Value,
    name: String,
    project: Value,
    service: Value,
    host: Value,
    start: i64,
    stop: i64,
}

fn opt_text(rng: &mut Rng) -> Value {
    if rng.chance(10) {
        Value::Null
    } else {
        Value::String(odd_text(rng))
    }
}

/// One trace's notifications in some store order.
fn gen_trace(rng: &mut Rng) -> Vec<Value> {
    let base_id = if rng.chance(90) {
        uuid(rng)
    } else {
        odd_text(rng)
    };
    let count = match rng.below(10) {
        0 => 0,
        1 => rng.below(40),
        _ => 1 + rng.below(10),
    };
    // A few (project, service, host) senders shared by the points.
    let senders: Vec<(Value, Value, Value)> = (0..1 + rng.below(3))
        .map(|_| {
            (
                if rng.chance(60) {
                    json!("nova")
                } else {
                    opt_text(rng)
                },
                if rng.chance(50) {
                    json!(*rng.pick(&["api", "compute", "conductor"]))
                } else {
                    opt_text(rng)
                },
                if rng.chance(60) {
                    json!(format!("node-{}", rng.below(3)))
                } else {
                    opt_text(rng)
                },
            )
        })
        .collect();
    const NAMES: &[&str] = &[
        "wsgi",
        "db",
        "rpc",
        "http",
        "driver",
        "名前",
        "a-b",
        "",
        "x y",
        "compute_ünï",
    ];
    // Usually one day; sometimes years apart (the report's float arithmetic), or at the ends
    // of Python's range.
    let origin = match rng.below(20) {
        0 => MIN_MICROS + rng.range(0, 1_000_000_000),
        1 => MAX_MICROS - rng.range(0, 1_000_000_000),
        _ => rng.range(Y2000, Y2030),
    };
    let mut trace_ids: Vec<String> = Vec::new();
    for _ in 0..count {
        let id = if !trace_ids.is_empty() && rng.chance(5) {
            // Two points with one trace id.
            rng.pick(&trace_ids).clone()
        } else if rng.chance(90) {
            uuid(rng)
        } else {
            format!("{}{}", odd_text(rng), rng.below(100))
        };
        trace_ids.push(id);
    }
    let mut points: Vec<Point> = Vec::new();
    for i in 0..count {
        let parent = match rng.below(100) {
            0..=29 => json!(base_id),
            30..=84 if i > 0 => json!(trace_ids[rng.below(i)]),
            85..=89 => json!(uuid(rng)),
            90..=93 => Value::Null,
            94..=96 => json!(trace_ids[i]),
            _ => json!(trace_ids[rng.below(count)]),
        };
        let start = match &parent {
            Value::String(p) => points
                .iter()
                .find(|q| &q.trace_id == p)
                .map_or(origin, |q| q.start),
            _ => origin,
        } + rng.range(0, 2_000_000);
        let start = if rng.chance(3) {
            // Far from the rest: years apart.
            start + rng.range(-3_000_000_000_000_000, 3_000_000_000_000_000)
        } else {
            start
        }
        .clamp(MIN_MICROS, MAX_MICROS);
        let stop = (start
            + if rng.chance(5) {
                -rng.range(0, 500_000)
            } else {
                rng.range(0, 3_000_000)
            })
        .clamp(MIN_MICROS, MAX_MICROS);
        let (project, service, host) = rng.pick(&senders).clone();
        points.push(Point {
            trace_id: trace_ids[i].clone(),
            parent,
            name: (*rng.pick(NAMES)).to_owned(),
            project,
            service,
            host,
            start,
            stop,
        });
    }
    // (time, notification) in generation order.
    let mut notes: Vec<(i64, Value)> = Vec::new();
    for p in &points {
        let has_start = rng.chance(90);
        let has_stop = !has_start || rng.chance(85);
        let mut emit = |rng: &mut Rng, stop: bool| {
            let at = if stop { p.stop } else { p.start };
            let name = match (stop, rng.below(25)) {
                (false, 0) => format!("{}-begin", p.name),
                (true, 0) => format!("{}-nonstop", p.name),
                (true, 1) => "stop".to_owned(),
                (false, _) => format!("{}-start", p.name),
                (true, _) => format!("{}-stop", p.name),
            };
            let text = canonical(at);
            let timestamp = match rng.below(40) {
                0..=4 => lenient(rng, &text),
                // Refused by strptime: skipped by both.
                5 => text[..19].to_owned(),
                6 => format!("{text}Z"),
                // Python's `\d` takes any script's digits: a fullwidth year.
                7 => text
                    .chars()
                    .enumerate()
                    .map(|(i, c)| match c.to_digit(10) {
                        Some(d) if i < 4 => char::from_u32(0xFF10 + d).unwrap(),
                        _ => c,
                    })
                    .collect(),
                _ => text,
            };
            let mut info = Map::new();
            info.insert("host".into(), p.host.clone());
            for _ in 0..rng.below(3) {
                let key = match rng.below(4) {
                    0 => "request".to_owned(),
                    1 => "n".to_owned(),
                    _ => odd_text(rng),
                };
                info.insert(key, json_value(rng, 2));
            }
            if stop && rng.chance(30) {
                let etype = match rng.below(6) {
                    0 => Value::Null,
                    1 => json!(42),
                    2 => json!({"a": [1, "b"]}),
                    3 => json!(""),
                    _ => json!("ValueError"),
                };
                info.insert("etype".into(), etype);
                info.insert("message".into(), json_value(rng, 1));
            }
            // Python's key order of a notification.
            let n = json!({
                "name": name,
                "base_id": base_id,
                "trace_id": p.trace_id,
                "parent_id": p.parent,
                "timestamp": timestamp,
                "info": info,
                "project": p.project,
                "service": p.service,
            });
            notes.push((at, n.clone()));
            if rng.chance(3) {
                // The same notification twice.
                notes.push((at, n));
            }
        };
        if has_start {
            emit(rng, false);
        }
        if has_stop {
            emit(rng, true);
        }
    }
    match rng.below(10) {
        // Chronological (ties in generation order), as a store usually returns them.
        0..=5 => notes.sort_by_key(|(at, _)| *at),
        // Any order.
        6..=8 => {
            for i in (1..notes.len()).rev() {
                let j = rng.below(i + 1);
                notes.swap(i, j);
            }
        }
        // As generated: point by point.
        _ => {}
    }
    notes.into_iter().map(|(_, n)| n).collect()
}

/// Our answer for a case, in the oracle's shape: the report as `trace show --json` prints it
/// (through `pyjson` and through the CLI's writer, which must agree) and the skipped positions.
fn our_report(case: &[Value]) -> Result<Value, String> {
    let texts: Vec<String> = case
        .iter()
        .map(|n| serde_json::to_string(n).unwrap())
        .collect();
    let raws: Vec<Box<RawValue>> = texts
        .iter()
        .map(|t| RawValue::from_string(t.clone()).unwrap())
        .collect();
    let report = build_report(raws);
    let text = pyjson::to_string_pretty(&report, 2).map_err(|e| e.to_string())?;
    let mut written = Vec::new();
    write_python_pretty(&report, &mut written).map_err(|e| e.to_string())?;
    let written = String::from_utf8(written).map_err(|e| e.to_string())?;
    if written != text {
        return Err(format!(
            "write_python_pretty differs from pyjson::to_string_pretty:\n{}",
            first_difference(&text, &written)
        ));
    }
    let list = format!("[{}]", texts.join(", "));
    let from_text = report_from_json_text(list).map_err(|e| e.to_string())?;
    let from_text = pyjson::to_string_pretty(&from_text, 2).map_err(|e| e.to_string())?;
    if from_text != text {
        return Err(format!(
            "report_from_json_text differs from build_report:\n{}",
            first_difference(&text, &from_text)
        ));
    }
    let skipped: Vec<usize> = report.skipped().iter().map(|s| s.position).collect();
    Ok(json!({"report": text, "skipped": skipped}))
}

/// Where two texts part, with a few lines of each around it.
fn first_difference(a: &str, b: &str) -> String {
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    let at = al
        .iter()
        .zip(&bl)
        .position(|(x, y)| x != y)
        .unwrap_or(al.len().min(bl.len()));
    let around = |l: &[&str]| l[at.saturating_sub(3)..(at + 3).min(l.len())].join("\n");
    format!(
        "first different line {}:\n--- one:\n{}\n--- other:\n{}",
        at + 1,
        around(&al),
        around(&bl)
    )
}

fn report_mismatch(python_answer: &Value, case: &[Value]) -> Option<String> {
    match our_report(case) {
        Err(e) => Some(e),
        Ok(ours) if &ours == python_answer => None,
        Ok(ours) => {
            let (p, o) = (&python_answer["report"], &ours["report"]);
            Some(if p != o {
                first_difference(p.as_str().unwrap_or(""), o.as_str().unwrap_or(""))
            } else {
                format!(
                    "skipped: Python {} ours {}",
                    python_answer["skipped"], ours["skipped"]
                )
            })
        }
    }
}

/// Removes notifications one at a time while the case still fails; one Python run per round.
fn shrink_report(python: &Path, mut case: Vec<Value>) -> Vec<Value> {
    loop {
        let candidates: Vec<Vec<Value>> = (0..case.len())
            .map(|i| {
                let mut c = case.clone();
                c.remove(i);
                c
            })
            .collect();
        if candidates.is_empty() {
            return case;
        }
        let as_values: Vec<Value> = candidates.iter().map(|c| json!(c)).collect();
        let answers = ask_python(python, "report", &as_values);
        match candidates
            .into_iter()
            .zip(&answers)
            .find(|(c, a)| report_mismatch(a, c).is_some())
        {
            Some((smaller, _)) => case = smaller,
            None => return case,
        }
    }
}

#[test]
fn reports_equal_pythons() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let seed = seed("reports_equal_pythons");
    let mut rng = Rng(seed);
    let cases: Vec<Vec<Value>> = (0..case_count(400)).map(|_| gen_trace(&mut rng)).collect();
    let as_values: Vec<Value> = cases.iter().map(|c| json!(c)).collect();
    let answers = ask_python(&python, "report", &as_values);
    let notifications: usize = cases.iter().map(Vec::len).sum();
    let mut skipped = 0;
    for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
        if report_mismatch(answer, case).is_some() {
            let small = shrink_report(&python, case.clone());
            let answer = &ask_python(&python, "report", &[json!(small)])[0];
            let why = report_mismatch(answer, &small).unwrap_or_default();
            panic!(
                "case {i} of seed {seed}: our report differs from Python's.\n\
                 Smallest failing notification list (store order):\n{}\n{why}",
                serde_json::to_string_pretty(&small).unwrap()
            );
        }
        skipped += answer["skipped"].as_array().map_or(0, Vec::len);
    }
    eprintln!(
        "{} reports of {notifications} notifications ({skipped} skipped by both) equal Python's",
        cases.len()
    );
}

// ---------------------------------------------------------------------------------------
// 2. Trace headers
// ---------------------------------------------------------------------------------------

const KEYS: &[&str] = &[
    "SECRET_KEY",
    "k",
    "k\u{0}",
    "",
    "kéy-ünicode",
    "🔑 key",
    "a much longer key that is longer than one sixty-four byte block of SHA-1, surely",
    "other",
];

fn hmac_hex(text: &str, key: &str) -> String {
    use hmac::Mac as _;
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    m.update(text.as_bytes());
    m.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A payload to sign: trace ids as the middleware sends them, or any object.
fn payload(rng: &mut Rng) -> Value {
    let id = |rng: &mut Rng| {
        if rng.chance(80) {
            uuid(rng)
        } else {
            odd_text(rng)
        }
    };
    match rng.below(4) {
        0 | 1 => json!({"base_id": id(rng), "parent_id": id(rng)}),
        2 => {
            let mut m = Map::new();
            m.insert("base_id".into(), json!(id(rng)));
            for _ in 0..rng.below(4) {
                let key = if rng.chance(20) {
                    "hmac_key".to_owned()
                } else {
                    odd_text(rng)
                };
                m.insert(key, json_value(rng, 2));
            }
            Value::Object(m)
        }
        _ => match json_value(rng, 3) {
            v @ Value::Object(_) => v,
            v => json!({ "v": v }),
        },
    }
}

/// JSON text (or not) that no `json.dumps` writes, to sign as it is.
const ODD_PAYLOADS: &[&[u8]] = &[
    b"",
    b"not json",
    b"[1, 2]",
    b"\"a string\"",
    b"null",
    b"{}",
    b" {\"a\": 1} \n",
    b"{\"a\": 1, \"a\": 2, \"b\": 3}",
    b"{\"a\": 1,}",
    b"{'a': 1}",
    b"{\"a\": NaN}",
    b"{\"a\": Infinity, \"b\": -Infinity}",
    b"{\"a\": 1e400}",
    b"{\"a\": 123456789012345678901234567890}",
    b"{\"a\": 18446744073709551615, \"b\": -9223372036854775808}",
    b"{\"a\": \"\\ud800\"}",
    b"{\"a\": \"\\ud83d\\ude00\"}",
    b"{\"a\": \"\xff\"}",
    b"{\"a\": \"\xc3\xa9\"}",
    b"\xef\xbb\xbf{\"a\": 1}",
    // Left out: the integer `-0`, which serde_json reads as the float -0.0 (printed `-0.0`;
    // Python's `json.loads` gives the integer 0, printed `0`). Not in docs/wire.md: reported.
    b"{\"a\": 1.0, \"b\": 1E5, \"c\": -0.0, \"d\": 0.1e-2, \"e\": -1}",
    b"{\"a\": 0.30000000000000004, \"b\": 2.2250738585072014e-308}",
    b"{\"a\": 01}",
    b"{\"a\": \"\t\"}",
    b"{\"a\": [1, {\"b\": null}], \"base_id\": true}",
    b"{\"base_id\": \"b\"} trailing",
];

/// Breaks base64 text in one of the ways a header can be broken or merely spelled otherwise.
fn corrupt_base64(rng: &mut Rng, info: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut b = info.as_bytes().to_vec();
    let at = if b.is_empty() { 0 } else { rng.below(b.len()) };
    match rng.below(12) {
        // Another character of the alphabet (a flipped bit of the payload).
        0 | 1 if !b.is_empty() => b[at] = *rng.pick(ALPHABET),
        2 => b.truncate(at),
        3 => {
            while b.last() == Some(&b'=') {
                b.pop();
            }
        }
        4 => b.extend_from_slice(&b"="[..].repeat(1 + rng.below(3))),
        5 => b.insert(at, b'='),
        6 => b.extend_from_slice(b"YWJj"),
        7 => {
            for c in &mut b {
                *c = match *c {
                    b'-' => b'+',
                    b'_' => b'/',
                    c => c,
                };
            }
        }
        8 => b.insert(at, *rng.pick(b" \n!.\t+/")),
        9 => {
            return format!(
                "{}{}{}",
                &info[..at],
                rng.pick(&["é", "\u{0}", "😀"]),
                &info[at..]
            )
        }
        10 if !b.is_empty() => b[at] = b[at].to_ascii_uppercase(),
        _ => b.insert(at, *rng.pick(ALPHABET)),
    }
    String::from_utf8(b).unwrap()
}

/// Mangles an HMAC: case, white space (Python strips `str.isspace()` characters), length,
/// non-ASCII characters.
fn corrupt_hmac(rng: &mut Rng, hmac: &str) -> String {
    match rng.below(10) {
        0 => hmac.to_ascii_uppercase(),
        1 | 2 => {
            let ws = *rng.pick(&[
                " ", "\t", "\n", "\r\n", "\u{b}", "\u{c}", "\u{1c}", "\u{1d}", "\u{1e}", "\u{1f}",
                "\u{85}", "\u{a0}", "\u{1680}", "\u{2003}", "\u{2028}", "\u{3000}", "\u{200b}",
                "\u{feff}", "\u{0}",
            ]);
            match rng.below(3) {
                0 => format!("{ws}{hmac}"),
                1 => format!("{hmac}{ws}"),
                _ => format!("{ws}{hmac}{ws}"),
            }
        }
        3 => hmac[..rng.below(hmac.len())].to_owned(),
        4 => format!("{hmac}0"),
        5 => format!("{hmac}é"),
        6 => format!("é{}", &hmac[1..]),
        7 => String::new(),
        8 => {
            let mut b = hmac.as_bytes().to_vec();
            let at = rng.below(b.len());
            b[at] = if b[at] == b'0' { b'1' } else { b'0' };
            String::from_utf8(b).unwrap()
        }
        _ => "   ".to_owned(),
    }
}

fn gen_signing_case(rng: &mut Rng) -> Value {
    let keys: Vec<&str> = match rng.below(30) {
        0 => vec![],
        _ => (0..1 + rng.below(3)).map(|_| *rng.pick(KEYS)).collect(),
    };
    let signer = if !keys.is_empty() && rng.chance(75) {
        *rng.pick(&keys)
    } else {
        *rng.pick(KEYS)
    };
    let mut case = Map::new();
    let (mut info, mut hmac);
    if rng.chance(20) {
        // A payload no json.dumps makes, correctly signed.
        let bytes = *rng.pick(ODD_PAYLOADS);
        info = URL_SAFE.encode(bytes);
        hmac = hmac_hex(&info, signer);
    } else {
        let data = payload(rng);
        (info, hmac) = signed_pack(&data, signer).unwrap();
        case.insert("pack".into(), json!([data, signer]));
    }
    match rng.below(10) {
        // As signed.
        0..=3 => {}
        // The text changed, then signed again: how it decodes decides.
        4 | 5 => {
            info = corrupt_base64(rng, &info);
            hmac = hmac_hex(&info, signer);
        }
        // The text changed, the signature not.
        6 => info = corrupt_base64(rng, &info),
        7 | 8 => hmac = corrupt_hmac(rng, &hmac),
        _ => info = String::new(),
    }
    case.insert("info".into(), json!(info));
    case.insert("hmac".into(), json!(hmac));
    case.insert("keys".into(), json!(keys));
    Value::Object(case)
}

/// Why our answer differs from Python's, `None` when it does not.
fn signing_mismatch(case: &Value, answer: &Value, verifier: &Verifier) -> Option<String> {
    let info = case["info"].as_str().unwrap();
    let hmac = case["hmac"].as_str().unwrap();
    let keys: Vec<&str> = case["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let show = |m: Option<Map<String, Value>>| m.map(|m| pyjson::to_string(&m).unwrap());
    let ours = show(signed_unpack(info, hmac, &keys));
    for (what, other) in [
        ("Verifier::unpack", show(verifier.unpack(info, hmac))),
        ("Verifier::unpack again", show(verifier.unpack(info, hmac))),
    ] {
        if other != ours {
            return Some(format!(
                "{what} gives {other:?}, signed_unpack gives {ours:?}"
            ));
        }
    }
    if answer.get("beyond").is_some() {
        // Left out: Python accepts an object serde_json cannot hold. NaN, infinite floats and
        // lone surrogates make us refuse the header; integers beyond 64 bits become floats
        // (as in reports, docs/wire.md 6.6). Not in docs/wire.md 11: reported.
        return None;
    }
    let theirs: Option<String> = if answer.get("raised").is_some() {
        // Python raises (TypeError from `hmac.compare_digest` on a non-ASCII HMAC):
        // docs/wire.md 4.4, a request "never fails because of trace headers": we refuse.
        None
    } else {
        answer["unpacked"].as_str().map(str::to_owned)
    };
    if ours != theirs {
        return Some(format!("Python: {answer}\nours:   {ours:?}"));
    }
    if let Some(pack) = case.get("pack") {
        let (data, key) = (&pack[0], pack[1].as_str().unwrap());
        let (our_info, our_hmac) = signed_pack(data, key).unwrap();
        let (their_info, their_hmac) = (&answer["pack"][0], &answer["pack"][1]);
        if our_info != *their_info {
            return Some(format!(
                "signed_pack info: Python {their_info}, ours {our_info:?}"
            ));
        }
        // Python signs nothing with an empty key (`None`); we sign with it (docs/wire.md 4.1:
        // the client middleware sends no headers then, as Python's).
        if !their_hmac.is_null() && our_hmac != *their_hmac {
            return Some(format!(
                "signed_pack hmac: Python {their_hmac}, ours {our_hmac:?}"
            ));
        }
        if let (Some(b), Some(p), 2) = (
            data["base_id"].as_str(),
            data["parent_id"].as_str(),
            data.as_object().map_or(0, Map::len),
        ) {
            if pack_ids(b, p, key) != (our_info.clone(), our_hmac.clone()) {
                return Some("pack_ids differs from signed_pack".to_owned());
            }
        }
    }
    None
}

#[test]
fn trace_headers_equal_pythons() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let seed = seed("trace_headers_equal_pythons");
    let mut rng = Rng(seed);
    let cases: Vec<Value> = (0..case_count(2000))
        .map(|_| gen_signing_case(&mut rng))
        .collect();
    let answers = ask_python(&python, "signing", &cases);
    let mut failures: Vec<(usize, String)> = Vec::new();
    let (mut accepted, mut raised, mut beyond) = (0, 0, 0);
    for (i, (case, answer)) in cases.iter().zip(&answers).enumerate() {
        let keys: Vec<&str> = case["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        let verifier = Verifier::new(&keys);
        if let Some(why) = signing_mismatch(case, answer, &verifier) {
            failures.push((i, why));
        }
        accepted += usize::from(answer["unpacked"].is_string());
        raised += usize::from(answer.get("raised").is_some());
        beyond += usize::from(answer.get("beyond").is_some());
    }
    if let Some((i, why)) = failures
        .iter()
        .min_by_key(|(i, _)| cases[*i].to_string().len())
    {
        let others: Vec<String> = failures
            .iter()
            .filter(|(j, _)| j != i)
            .take(10)
            .map(|(j, why)| {
                format!(
                    "  case {j}: {}\n    {}",
                    cases[*j],
                    why.replace('\n', "\n    ")
                )
            })
            .collect();
        panic!(
            "{} of {} cases differ from Python (seed {seed}); the smallest, case {i}:\n{}\n{why}\n\
             others:\n{}",
            failures.len(),
            cases.len(),
            serde_json::to_string_pretty(&cases[*i]).unwrap(),
            others.join("\n")
        );
    }
    eprintln!(
        "{} trace headers: the same verdicts as Python ({accepted} accepted, {raised} raise in \
         Python, {beyond} accepted by Python beyond serde_json)",
        cases.len()
    );
}

// ---------------------------------------------------------------------------------------
// 3. Timestamps
// ---------------------------------------------------------------------------------------

/// The digits 0 of some other scripts: fullwidth, Arabic-Indic, Devanagari, mathematical
/// bold (above U+FFFF).
const OTHER_ZEROS: &[u32] = &[0xFF10, 0x660, 0x966, 0x1D7CE, 0xE50];

fn gen_timestamp(rng: &mut Rng) -> String {
    let micros = match rng.below(10) {
        0 => rng.range(MIN_MICROS, MAX_MICROS),
        1 => MIN_MICROS + rng.range(0, 400 * 86_400_000_000),
        2 => MAX_MICROS - rng.range(0, 400 * 86_400_000_000),
        _ => rng.range(Y2000, Y2030),
    };
    let text = canonical(micros);
    // Fields as text, to change one by one.
    let mut f: Vec<String> = vec![
        text[0..4].into(),
        text[5..7].into(),
        text[8..10].into(),
        text[11..13].into(),
        text[14..16].into(),
        text[17..19].into(),
        text[20..26].into(),
    ];
    let mut seps: Vec<String> = ["-", "-", "T", ":", ":", "."]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for _ in 0..rng.below(4) {
        match rng.below(14) {
            // Digit counts: fewer, more, none.
            0 => {
                let i = rng.below(7);
                let s = f[i].trim_start_matches('0');
                f[i] = if s.is_empty() { "0".into() } else { s.into() };
            }
            1 => {
                let i = rng.below(7);
                f[i] = format!("0{}", f[i]);
            }
            2 => {
                let i = rng.below(7);
                let keep = rng.below(f[i].chars().count() + 1);
                f[i] = f[i].chars().take(keep).collect();
            }
            3 => {
                let digits = rng.below(9);
                f[6] = (0..digits)
                    .map(|_| char::from(b'0' + rng.below(10) as u8))
                    .collect();
            }
            // Out of range, or at the edge.
            4 => {
                let (i, values): (usize, &[&str]) = *rng.pick(&[
                    (1, &["00", "13", "12", "1", "0"][..]),
                    (
                        2,
                        &["00", "29", "30", "31", "32", "0", " 8", " 0", "  8"][..],
                    ),
                    (3, &["24", "23", "00", "25", "99"][..]),
                    (4, &["60", "59", "99"][..]),
                    (5, &["60", "61", "62", "59"][..]),
                    (
                        0,
                        &[
                            "0000", "0001", "9999", "1900", "2000", "2024", "2023", "10000",
                        ][..],
                    ),
                ]);
                f[i] = (*rng.pick(values)).to_owned();
            }
            // Leap days.
            5 => {
                f[0] = (*rng.pick(&["1900", "2000", "2023", "2024", "2100", "2400", "0004"]))
                    .to_owned();
                f[1] = "02".into();
                f[2] = (*rng.pick(&["28", "29", "30"])).to_owned();
            }
            // Spaces.
            6 => {
                let i = rng.below(7);
                f[i] = match rng.below(3) {
                    0 => format!(" {}", f[i]),
                    1 => format!("{} ", f[i]),
                    _ => format!("  {}", f[i].trim_start_matches('0')),
                };
            }
            // Other separators.
            7 => {
                let i = rng.below(6);
                seps[i] = (*rng.pick(&["t", " ", "/", "_", ":", "-", ".", ",", "", "İ", "TT"]))
                    .to_owned();
            }
            // Another script's digit for an ASCII one.
            8 => {
                let i = rng.below(7);
                let zero = *rng.pick(OTHER_ZEROS);
                let mut chars: Vec<char> = f[i].chars().collect();
                if !chars.is_empty() {
                    let at = rng.below(chars.len());
                    if let Some(d) = chars[at].to_digit(10) {
                        chars[at] = char::from_u32(zero + d).unwrap();
                    }
                }
                f[i] = chars.into_iter().collect();
            }
            // Text after, or before.
            9 => {
                let tail = *rng.pick(&["Z", "+00:00", "\n", "0", " ", "\u{0}", "é"]);
                f[6].push_str(tail);
            }
            10 => f[0] = format!("{}{}", rng.pick(&[" ", "+", "-", "\u{feff}"]), f[0]),
            // Signs and other characters inside a field.
            11 => {
                let i = rng.below(7);
                f[i] = format!("{}{}", rng.pick(&["+", "-", "x", "½", "²"]), f[i]);
            }
            // `strptime`'s lenient but valid forms.
            12 => {
                let t = lenient(rng, &text);
                return t;
            }
            _ => {}
        }
    }
    let mut s = String::new();
    for i in 0..7 {
        s.push_str(&f[i]);
        if i < 6 {
            s.push_str(&seps[i]);
        }
    }
    if rng.chance(3) {
        // Cut anywhere (on a character boundary).
        let cut = s
            .char_indices()
            .map(|(i, _)| i)
            .nth(rng.below(s.chars().count() + 1))
            .unwrap_or(s.len());
        s.truncate(cut);
    }
    s
}

#[test]
fn timestamps_equal_pythons() {
    let Some(python) = osprofiler_testkit::python() else {
        return;
    };
    let seed = seed("timestamps_equal_pythons");
    let mut rng = Rng(seed);
    let cases: Vec<String> = (0..case_count(4000))
        .map(|_| gen_timestamp(&mut rng))
        .collect();
    let as_values: Vec<Value> = cases.iter().map(|s| json!(s)).collect();
    let answers = ask_python(&python, "timestamp", &as_values);
    let mut failures: Vec<(&str, &Value, Option<i64>)> = Vec::new();
    let mut accepted = 0;
    for (case, answer) in cases.iter().zip(&answers) {
        let ours = Timestamp::parse(case).ok().map(Timestamp::as_micros);
        if answer.as_i64() != ours {
            failures.push((case, answer, ours));
        }
        accepted += usize::from(answer.is_i64());
    }
    failures.sort_by_key(|(s, _, _)| s.chars().count());
    if let Some((s, theirs, ours)) = failures.first() {
        let more: Vec<String> = failures
            .iter()
            .skip(1)
            .take(10)
            .map(|(s, t, o)| format!("  {s:?}: Python {t}, ours {o:?}"))
            .collect();
        panic!(
            "{} of {} timestamps differ from Python's strptime (seed {seed}); the shortest:\n\
             {s:?}: Python {theirs}, ours {ours:?}\nothers:\n{}",
            failures.len(),
            cases.len(),
            more.join("\n")
        );
    }
    eprintln!(
        "{} timestamps ({accepted} accepted): the same verdicts and instants as Python's strptime",
        cases.len()
    );
}
