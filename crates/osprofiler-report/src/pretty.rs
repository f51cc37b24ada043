//! Python's `trace show --json` text of a [`Report`] (`json.dumps(report, indent=2,
//! separators=(",", ": "))`, `ensure_ascii`), written straight from the report's arena:
//! the same bytes as serializing the report with `osprofiler_core::pyjson::write_pretty(_,
//! _, 2)`, several times faster, and on all cores for big reports.
//!
//! How: the stored notifications are re-laid out from their JSON text by a small tokenizer
//! (strings with nothing to escape and short integers are copied as they are; everything
//! else goes through `serde_json`'s own parsing, so the values are exactly what the serde
//! path prints); the top-level points are cut into chunks of a few thousand nodes, which
//! worker threads write into buffers while this thread writes the finished buffers out in
//! order (buffers are reused, so memory stays at a few chunks). A payload the tokenizer does
//! not take (nested deeper than it goes, or text `serde_json` refuses) is written by the
//! serde path, with the same result or error as before.

use std::io::{self, Write};
use std::sync::mpsc;

use osprofiler_core::id::TraceId;
use osprofiler_core::pyjson;

use crate::model::{Json, Mark, Node, Report, MAX_SERIALIZE_DEPTH};

/// Nodes per chunk handed to a worker (about 1.7 KiB of output per node of a realistic
/// trace: a few MiB per chunk).
const CHUNK_NODES: usize = 2048;

/// Buffers a worker may have finished before the writer takes them.
const IN_FLIGHT: usize = 2;

/// Payload nesting the tokenizer re-lays out itself (deeper ones take the serde path, which
/// has `serde_json`'s limit of 128).
const MAX_RELAYOUT_DEPTH: usize = 100;

/// Writes `report` as Python's `json.dumps(report, indent=2, separators=(",", ": "))`.
///
/// Big reports are formatted on all cores (`std::thread::available_parallelism`), in order.
/// Fails as the serde path does on a report nested deeper than [`MAX_SERIALIZE_DEPTH`]
/// levels (nothing after the deepest point is written then).
pub fn write_python_pretty<W: Write + ?Sized>(report: &Report, out: &mut W) -> io::Result<()> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    write_python_pretty_on(report, out, threads)
}

/// [`write_python_pretty`] with at most `threads` formatting threads (1: all on this
/// thread).
pub fn write_python_pretty_on<W: Write + ?Sized>(
    report: &Report,
    out: &mut W,
    threads: usize,
) -> io::Result<()> {
    write_chunked(report, out, threads, CHUNK_NODES)
}

fn write_chunked<W: Write + ?Sized>(
    report: &Report,
    out: &mut W,
    threads: usize,
    chunk_nodes: usize,
) -> io::Result<()> {
    let mut head = Vec::with_capacity(256);
    head.extend_from_slice(
        b"{\n  \"info\": {\n    \"name\": \"total\",\n    \"started\": 0,\n    \"finished\": ",
    );
    opt_int(&mut head, report.finished());
    head.extend_from_slice(b",\n    \"last_trace_started\": ");
    opt_int(&mut head, report.last_trace_started());
    head.extend_from_slice(b"\n  },\n  \"children\": ");
    let roots: Vec<Node<'_>> = report.roots().collect();
    if roots.is_empty() {
        head.extend_from_slice(b"[]");
        out.write_all(&head)?;
    } else {
        head.push(b'[');
        out.write_all(&head)?;
        let chunks = chunks(&roots, chunk_nodes);
        if threads <= 1 || chunks.len() <= 1 {
            let mut buf = Vec::with_capacity(1 << 20);
            for (k, range) in chunks.iter().enumerate() {
                buf.clear();
                write_roots(&mut buf, &roots[range.clone()], k == 0)?;
                out.write_all(&buf)?;
            }
        } else {
            parallel(&roots, &chunks, threads.min(chunks.len()), out)?;
        }
        out.write_all(b"\n  ]")?;
    }
    let mut tail = Vec::with_capacity(256);
    tail.extend_from_slice(b",\n  \"stats\": ");
    if report.stats.is_empty() {
        tail.extend_from_slice(b"{}");
    } else {
        tail.push(b'{');
        for (i, (name, stat)) in report.stats().enumerate() {
            if i > 0 {
                tail.push(b',');
            }
            tail.extend_from_slice(b"\n    ");
            write_str(&mut tail, name);
            tail.extend_from_slice(b": {\n      \"count\": ");
            int(&mut tail, stat.count as i128);
            tail.extend_from_slice(b",\n      \"duration\": ");
            int(&mut tail, i128::from(stat.duration));
            tail.extend_from_slice(b"\n    }");
        }
        tail.extend_from_slice(b"\n  }");
    }
    tail.extend_from_slice(b"\n}");
    out.write_all(&tail)
}

/// The roots cut into runs of about `chunk_nodes` nodes.
fn chunks(roots: &[Node<'_>], chunk_nodes: usize) -> Vec<std::ops::Range<usize>> {
    let mut chunks = Vec::new();
    let (mut start, mut nodes) = (0, 0);
    let mut stack = Vec::new();
    for (i, root) in roots.iter().enumerate() {
        stack.push(*root);
        while let Some(n) = stack.pop() {
            nodes += 1;
            stack.extend(n.children());
        }
        if nodes >= chunk_nodes {
            chunks.push(start..i + 1);
            start = i + 1;
            nodes = 0;
        }
    }
    if start < roots.len() {
        chunks.push(start..roots.len());
    }
    chunks
}

/// Chunk `k` is written by worker `k % workers` into a buffer; this thread writes the
/// buffers out in chunk order and hands each back to its worker for reuse.
fn parallel<W: Write + ?Sized>(
    roots: &[Node<'_>],
    chunks: &[std::ops::Range<usize>],
    workers: usize,
    out: &mut W,
) -> io::Result<()> {
    std::thread::scope(|scope| {
        let mut done = Vec::with_capacity(workers);
        let mut free = Vec::with_capacity(workers);
        for w in 0..workers {
            let (done_tx, done_rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(IN_FLIGHT);
            let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
            done.push(done_rx);
            free.push(free_tx);
            scope.spawn(move || {
                for k in (w..chunks.len()).step_by(workers) {
                    let mut buf = free_rx.try_recv().unwrap_or_default();
                    buf.clear();
                    let result = write_roots(&mut buf, &roots[chunks[k].clone()], k == 0);
                    let failed = result.is_err();
                    if done_tx.send(result.map(|()| buf)).is_err() || failed {
                        return;
                    }
                }
            });
        }
        for k in 0..chunks.len() {
            let w = k % workers;
            let buf = done[w]
                .recv()
                .map_err(|_| io::Error::other("a formatting thread stopped"))??;
            out.write_all(&buf)?;
            // A worker that has finished no longer takes buffers back.
            let _ = free[w].send(buf);
        }
        Ok(())
    })
}

/// The roots `roots` as items of the top `children` list (a `,` before each but the very
/// first root of the report).
fn write_roots(out: &mut Vec<u8>, roots: &[Node<'_>], first: bool) -> io::Result<()> {
    for (i, root) in roots.iter().enumerate() {
        if i > 0 || !first {
            out.push(b',');
        }
        newline(out, 2);
        write_node(out, *root, 3, 1)?;
    }
    Ok(())
}

/// The node object opened at `level` (its entries indented `level` steps); `depth` is the
/// depth of the list it is in (roots: 1).
fn write_node(out: &mut Vec<u8>, node: Node<'_>, level: usize, depth: usize) -> io::Result<()> {
    out.push(b'{');
    newline(out, level);
    out.extend_from_slice(b"\"info\": ");
    write_info(out, node, level + 1)?;
    out.push(b',');
    newline(out, level);
    out.extend_from_slice(b"\"trace_id\": ");
    write_id(out, node.trace_id());
    out.push(b',');
    newline(out, level);
    out.extend_from_slice(b"\"parent_id\": ");
    match node.parent_id() {
        Some(id) => write_id(out, id),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b',');
    newline(out, level);
    out.extend_from_slice(b"\"children\": ");
    let children = node.children();
    if children.len() == 0 {
        out.extend_from_slice(b"[]");
    } else {
        if depth + 1 > MAX_SERIALIZE_DEPTH {
            return Err(io::Error::other(format!(
                "report nested deeper than {MAX_SERIALIZE_DEPTH} levels"
            )));
        }
        out.push(b'[');
        for (i, child) in children.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            newline(out, level + 1);
            write_node(out, child, level + 2, depth + 1)?;
        }
        newline(out, level);
        out.push(b']');
    }
    newline(out, level - 1);
    out.push(b'}');
    Ok(())
}

/// A node's `info` object, opened at `level`: the keys in the order `NodeInfo`'s `Serialize`
/// writes them.
fn write_info(out: &mut Vec<u8>, node: Node<'_>, level: usize) -> io::Result<()> {
    let info = node.info();
    let report = info.report;
    let d = info.data;
    out.push(b'{');
    newline(out, level);
    out.extend_from_slice(b"\"name\": ");
    write_str(out, info.name());
    for (key, value) in [
        (&b"\"project\": "[..], info.project()),
        (b"\"service\": ", info.service()),
        (b"\"host\": ", info.host()),
    ] {
        out.push(b',');
        newline(out, level);
        out.extend_from_slice(key);
        write_json(out, value.get(), level)?;
    }
    let mut marks = d.marks.iter().peekable();
    for (i, (name, raw)) in d.payloads.iter().enumerate() {
        while let Some((mark, _)) = marks.next_if(|&(_, at)| at <= i) {
            write_mark(out, node, mark, level)?;
        }
        out.push(b',');
        newline(out, level);
        let name = report.name(*name);
        if is_plain(name.as_bytes()) {
            out.extend_from_slice(b"\"meta.raw_payload.");
            out.extend_from_slice(name.as_bytes());
            out.push(b'"');
        } else {
            write_str(out, &format!("meta.raw_payload.{name}"));
        }
        out.extend_from_slice(b": ");
        write_json(out, report.raw_text(raw), level)?;
    }
    for (mark, _) in marks {
        write_mark(out, node, mark, level)?;
    }
    newline(out, level - 1);
    out.push(b'}');
    Ok(())
}

fn write_mark(out: &mut Vec<u8>, node: Node<'_>, mark: Mark, level: usize) -> io::Result<()> {
    let info = node.info();
    out.push(b',');
    newline(out, level);
    match mark {
        Mark::Started => {
            out.extend_from_slice(b"\"started\": ");
            int(out, i128::from(info.started()));
        }
        Mark::Finished => {
            out.extend_from_slice(b"\"finished\": ");
            int(out, i128::from(info.finished()));
        }
        Mark::Exception => {
            out.extend_from_slice(b"\"exception\": ");
            match info.exception() {
                Some(e) => write_json(out, e.get(), level)?,
                None => out.extend_from_slice(b"null"),
            }
        }
    }
    Ok(())
}

fn write_id(out: &mut Vec<u8>, id: &TraceId) {
    match id {
        TraceId::Uuid(u) => {
            let mut buf = uuid::Uuid::encode_buffer();
            out.push(b'"');
            out.extend_from_slice(u.hyphenated().encode_lower(&mut buf).as_bytes());
            out.push(b'"');
        }
        TraceId::Text(s) => write_str(out, s),
    }
}

fn opt_int(out: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(v) => int(out, i128::from(v)),
        None => out.extend_from_slice(b"null"),
    }
}

fn int(out: &mut Vec<u8>, v: i128) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

/// A newline and `level` steps of two spaces.
fn newline(out: &mut Vec<u8>, level: usize) {
    const LINE: &[u8; 257] = &{
        let mut l = [b' '; 257];
        l[0] = b'\n';
        l
    };
    let mut spaces = level * 2;
    let first = spaces.min(256);
    out.extend_from_slice(&LINE[..=first]);
    spaces -= first;
    while spaces > 0 {
        let n = spaces.min(256);
        out.extend_from_slice(&LINE[1..=n]);
        spaces -= n;
    }
}

/// Bytes a JSON string may hold as they are in Python's `ensure_ascii` output: printable
/// ASCII but the quote and the backslash.
const PLAIN: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0x20;
    while b <= 0x7e {
        t[b] = b != b'"' as usize && b != b'\\' as usize;
        b += 1;
    }
    t
};

fn is_plain(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| PLAIN[b as usize])
}

/// `s` as a Python `ensure_ascii` JSON string.
fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    if is_plain(s.as_bytes()) {
        out.extend_from_slice(s.as_bytes());
    } else {
        escape(out, s);
    }
    out.push(b'"');
}

/// The escaped body of a string, as `pyjson`'s formatters write it.
fn escape(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let unit = |out: &mut Vec<u8>, u: u16| {
        out.extend_from_slice(b"\\u");
        for shift in [12, 8, 4, 0] {
            out.push(HEX[usize::from((u >> shift) & 0xf)]);
        }
    };
    for c in s.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\u{8}' => out.extend_from_slice(b"\\b"),
            '\u{c}' => out.extend_from_slice(b"\\f"),
            ' '..='~' => out.push(c as u8),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    unit(out, *u);
                }
            }
        }
    }
}

/// The JSON text `text` (a stored value) re-laid out at `level`.
fn write_json(out: &mut Vec<u8>, text: &str, level: usize) -> io::Result<()> {
    let mark = out.len();
    if relayout(out, text.as_bytes(), level).is_some() {
        return Ok(());
    }
    // The serde path, indented afterwards (it writes no raw newline inside strings).
    out.truncate(mark);
    let flat = pyjson::to_string_pretty(&Json(text), 2).map_err(io::Error::other)?;
    for (i, line) in flat.split('\n').enumerate() {
        if i > 0 {
            newline(out, level);
        }
        out.extend_from_slice(line.as_bytes());
    }
    Ok(())
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(i) {
        i += 1;
    }
    i
}

/// Re-lays out the JSON value `b`; `None` for what it leaves to the serde path.
fn relayout(out: &mut Vec<u8>, b: &[u8], level: usize) -> Option<()> {
    // Open containers: `true` for an object.
    let mut open: Vec<bool> = Vec::new();
    let mut i = skip_ws(b, 0);
    'value: loop {
        match *b.get(i)? {
            c @ (b'{' | b'[') => {
                let close = if c == b'{' { b'}' } else { b']' };
                let j = skip_ws(b, i + 1);
                if *b.get(j)? == close {
                    out.push(c);
                    out.push(close);
                    i = j + 1;
                } else {
                    if open.len() >= MAX_RELAYOUT_DEPTH {
                        return None;
                    }
                    open.push(c == b'{');
                    out.push(c);
                    newline(out, level + open.len());
                    i = j;
                    if c == b'{' {
                        i = key(out, b, i)?;
                    }
                    continue 'value;
                }
            }
            b'"' => i = string(out, b, i)?,
            b't' if b[i..].starts_with(b"true") => {
                out.extend_from_slice(b"true");
                i += 4;
            }
            b'f' if b[i..].starts_with(b"false") => {
                out.extend_from_slice(b"false");
                i += 5;
            }
            b'n' if b[i..].starts_with(b"null") => {
                out.extend_from_slice(b"null");
                i += 4;
            }
            b'-' | b'0'..=b'9' => i = number(out, b, i)?,
            _ => return None,
        }
        // After a value: a separator, or the ends of containers.
        loop {
            let Some(&is_object) = open.last() else {
                return (skip_ws(b, i) == b.len()).then_some(());
            };
            i = skip_ws(b, i);
            match *b.get(i)? {
                b',' => {
                    out.push(b',');
                    newline(out, level + open.len());
                    i = skip_ws(b, i + 1);
                    if is_object {
                        i = key(out, b, i)?;
                    }
                    continue 'value;
                }
                c @ (b'}' | b']') if (c == b'}') == is_object => {
                    open.pop();
                    newline(out, level + open.len());
                    out.push(c);
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

/// An object's key and its `:`; returns where its value starts.
fn key(out: &mut Vec<u8>, b: &[u8], i: usize) -> Option<usize> {
    if *b.get(i)? != b'"' {
        return None;
    }
    let i = skip_ws(b, string(out, b, i)?);
    if *b.get(i)? != b':' {
        return None;
    }
    out.extend_from_slice(b": ");
    Some(skip_ws(b, i + 1))
}

/// The string starting at `b[i]` (its quote); returns where it ends.
fn string(out: &mut Vec<u8>, b: &[u8], i: usize) -> Option<usize> {
    let body = i + 1;
    let mut j = body;
    while PLAIN[*b.get(j)? as usize] {
        j += 1;
    }
    if b[j] == b'"' {
        out.extend_from_slice(&b[i..=j]);
        return Some(j + 1);
    }
    // Escapes or non-ASCII: find the end, read it as serde_json does, escape it again.
    loop {
        match *b.get(j)? {
            b'"' => break,
            b'\\' => j += 2,
            _ => j += 1,
        }
    }
    let token = std::str::from_utf8(b.get(i..=j)?).ok()?;
    let s: String = serde_json::from_str(token).ok()?;
    out.push(b'"');
    escape(out, &s);
    out.push(b'"');
    Some(j + 1)
}

/// The number starting at `b[i]`; returns where it ends.
fn number(out: &mut Vec<u8>, b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while let Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') = b.get(j) {
        j += 1;
    }
    let token = b.get(i..j)?;
    let digits = token.strip_prefix(b"-").unwrap_or(token);
    let simple = !digits.is_empty()
        && digits.len() <= 18
        && digits.iter().all(u8::is_ascii_digit)
        && (digits[0] != b'0' || (digits.len() == 1 && token.len() == 1));
    if simple {
        out.extend_from_slice(token);
        return Some(j);
    }
    // Floats, big integers, `-0`: as serde_json reads them and pyjson writes them.
    let n: serde_json::Number = serde_json::from_slice(token).ok()?;
    if let Some(u) = n.as_u64() {
        int(out, i128::from(u));
    } else if let Some(v) = n.as_i64() {
        int(out, i128::from(v));
    } else {
        out.extend_from_slice(pyjson::python_float_repr(n.as_f64()?).as_bytes());
    }
    Some(j)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_path<T: serde::Serialize>(v: &T) -> String {
        pyjson::to_string_pretty(v, 2).unwrap()
    }

    fn relaid(text: &str, level: usize) -> String {
        let mut out = Vec::new();
        write_json(&mut out, text, level).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn payloads_as_the_serde_path() {
        for text in [
            r#"{"a": [1, -2, 0, -0, 1.5, 1e16, 1E-7, 123456789012345678901, -9223372036854775809], "b": {}, "c": [], "d": {"e": [{}]}}"#,
            r#""plain""#,
            r#""esc\"aped\\ \/ \n \u00e9 é 😀 \u007f \u0001""#,
            r#"{"k\u00e9y": "v", "\ud83d\ude00": null, "t": true, "f": false}"#,
            "  [ 1 ,\n 2 ]  ",
            "0",
            "-0.0",
            "18446744073709551615",
            "[[[[[[]]]]]]",
        ] {
            let value: serde_json::Value = serde_json::from_str(text).unwrap();
            // At level 0 the text must be the serde path's own.
            assert_eq!(relaid(text, 0), serde_path(&Json(text)), "{text}");
            assert_eq!(serde_path(&Json(text)), serde_path(&value), "{text}");
            // Deeper: every line indented by the level.
            let deeper = serde_path(&Json(text)).replace('\n', "\n      ");
            assert_eq!(relaid(text, 3), deeper, "{text}");
        }
        // Deeper than the tokenizer goes: the serde path.
        let deep = format!("{}1{}", "[".repeat(110), "]".repeat(110));
        assert_eq!(
            relaid(&deep, 1),
            serde_path(&Json(&deep)).replace('\n', "\n  ")
        );
    }

    fn check_report(report: &Report, what: &str) {
        let want = serde_path(report);
        for (threads, chunk) in [(1, CHUNK_NODES), (2, 1), (3, 7), (2, CHUNK_NODES)] {
            let mut out = Vec::new();
            write_chunked(report, &mut out, threads, chunk).unwrap();
            assert!(
                out == want.as_bytes(),
                "{what}, {threads} threads, chunks of {chunk}"
            );
        }
    }

    #[test]
    fn reports_as_the_serde_path() {
        for cases in [
            include_str!("../../osprofiler/tests/conformance/reports.json"),
            include_str!("../../osprofiler/tests/conformance/report_edges.json"),
        ] {
            let cases: Vec<serde_json::Value> = serde_json::from_str(cases).unwrap();
            for (i, case) in cases.iter().enumerate() {
                let Some(list) = case.get("notifications") else {
                    continue;
                };
                let text = serde_json::to_string(list).unwrap();
                let report = crate::report_from_json_text(text).unwrap();
                check_report(&report, &format!("case {i}"));
                if let Some(r) = case.get("report") {
                    if let Ok(loaded) = Report::from_json_value(r.clone()) {
                        check_report(&loaded, &format!("loaded case {i}"));
                    }
                }
            }
        }
        let texts = osprofiler_bench::report_gen::generate(5000, 7);
        let report = crate::report_from_json_text(format!("[{}]", texts.join(",\n"))).unwrap();
        check_report(&report, "generated");
        check_report(&Report::empty(), "empty");
    }

    #[test]
    fn strings_escape_as_pyjson() {
        for s in ["plain", "q\"b\\", "é😀\u{7f}\u{1}\u{8}\u{c}\n\r\t", ""] {
            let mut out = Vec::new();
            write_str(&mut out, s);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                pyjson::to_string(s).unwrap()
            );
        }
    }
}
