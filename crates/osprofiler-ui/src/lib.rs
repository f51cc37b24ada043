//! The web UI of osprofiler-rs (docs/ui.md): the trace list, the trace page and the compare
//! page, as plain JavaScript, CSS and HTML files embedded in the binary.
//!
//! The collector serves each file of `assets/` at `/ui/{name}` ([`asset`], with its content
//! type and an `ETag` fixed at build time) and the page shells ([`page`]) at `/`,
//! `/traces/{base_id}` and `/compare/{a}/{b}`. `osprofiler trace show ID --html` writes the
//! trace page as one self-contained file ([`write_offline_trace_page`]): the same shell with
//! the styles and scripts inlined and the report embedded, so it opens offline.

use std::io::{self, BufWriter, Write};

use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::write::GzEncoder;
use flate2::Compression;

/// One file of the UI, embedded at build time.
#[derive(Debug)]
pub struct Asset {
    /// The file name under `assets/`, which is also its URL under `/ui/`.
    pub name: &'static str,
    /// The file's bytes.
    pub bytes: &'static [u8],
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// An `ETag` header value (quoted): the FNV-1a 64 hash of the bytes, in hex. It changes
    /// whenever the file does, so a browser can revalidate a cached copy cheaply.
    pub etag: &'static str,
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

/// FNV-1a, 64 bits: tiny, and computable in a `const` so the ETags cost nothing at run time.
const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `hash` as an ETag: 16 lowercase hex digits in double quotes.
const fn etag_text(hash: u64) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        text[1 + i] = HEX[((hash >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    text
}

/// An [`Asset`] for `assets/$name`, its ETag computed by the compiler.
macro_rules! asset {
    ($name:literal, $content_type:expr) => {{
        const BYTES: &[u8] = include_bytes!(concat!("../assets/", $name));
        const ETAG: &[u8; 18] = &etag_text(fnv1a64(BYTES));
        Asset {
            name: $name,
            bytes: BYTES,
            content_type: $content_type,
            etag: match std::str::from_utf8(ETAG) {
                Ok(text) => text,
                Err(_) => panic!("an ETag is ASCII"),
            },
        }
    }};
}

/// Every file of the UI (the table "Files" of docs/ui.md).
// Hashing a large script in const evaluation can pass the compiler's step count at which it
// asks whether the evaluation is stuck; it is not.
#[allow(long_running_const_eval)]
static ASSETS: [Asset; 12] = [
    asset!("base.css", CSS),
    asset!("model.js", JS),
    asset!("api.js", JS),
    asset!("trace.js", JS),
    asset!("trace.css", CSS),
    asset!("list.js", JS),
    asset!("list.css", CSS),
    asset!("compare.js", JS),
    asset!("compare.css", CSS),
    asset!("trace.html", HTML),
    asset!("list.html", HTML),
    asset!("compare.html", HTML),
];

/// The page shells, served as pages rather than as `/ui/` files.
const PAGES: [&str; 3] = ["list.html", "trace.html", "compare.html"];

/// Every file of the UI.
pub fn assets() -> &'static [Asset] {
    &ASSETS
}

/// The UI file named `name` (e.g. `"trace.js"`, as in `/ui/trace.js`), if there is one.
pub fn asset(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The page shell `name`: `"list.html"`, `"trace.html"` or `"compare.html"`.
pub fn page(name: &str) -> Option<&'static str> {
    if !PAGES.contains(&name) {
        return None;
    }
    asset(name).and_then(|a| std::str::from_utf8(a.bytes).ok())
}

/// The line of `trace.html` that [`write_offline_trace_page`] replaces with the report.
const REPORT_MARK: &str = "<!--OSPROFILER_REPORT-->";

/// Writes the trace page as one self-contained HTML file: `trace.html` with each stylesheet
/// and script it links under `/ui/` inlined, and `report_json` (a Python `get_report` JSON)
/// embedded as `<script id="osprofiler-report" type="application/json"
/// data-encoding="gzip+base64">`, the base64 of its gzip (docs/ui.md, "How a page finds its
/// trace"). Gzip because reports are repetitive JSON: a 50 MB report becomes a few MB, written
/// at the fastest compression level so even that takes well under a second. Base64 has no `<`,
/// so nothing in the report can end the element.
///
/// Fails with [`io::ErrorKind::InvalidData`] if `trace.html` links a file that is not an asset,
/// refers to `/ui/` in a line it cannot inline, or has no report marker.
pub fn write_offline_trace_page<W: Write + ?Sized>(
    out: &mut W,
    report_json: &[u8],
) -> io::Result<()> {
    let template = page("trace.html").ok_or_else(|| invalid("trace.html is not UTF-8".into()))?;
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut reported = false;
    for line in template.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed == REPORT_MARK {
            write_report(&mut out, report_json)?;
            reported = true;
        } else if trimmed.starts_with("<link") && trimmed.contains("/ui/") {
            let css = linked_asset(trimmed, "href=\"/ui/", ">")?;
            out.write_all(b"<style>\n")?;
            write_escaped(&mut out, css.bytes, b"style")?;
            out.write_all(b"\n</style>\n")?;
        } else if trimmed.starts_with("<script") && trimmed.contains("/ui/") {
            let script = linked_asset(trimmed, "src=\"/ui/", "></script>")?;
            out.write_all(b"<script>\n")?;
            write_escaped(&mut out, script.bytes, b"script")?;
            out.write_all(b"\n</script>\n")?;
        } else if line.contains("/ui/") {
            return Err(invalid(format!("trace.html: cannot inline {trimmed:?}")));
        } else {
            out.write_all(line.as_bytes())?;
        }
    }
    if !reported {
        return Err(invalid(format!("trace.html has no line {REPORT_MARK}")));
    }
    out.flush()
}

/// The asset that the tag `line` links by the attribute starting `attribute` (e.g.
/// `src="/ui/`); the tag must be the whole line and end with `end`.
fn linked_asset(line: &str, attribute: &str, end: &str) -> io::Result<&'static Asset> {
    let name = line
        .split_once(attribute)
        .and_then(|(_, rest)| rest.split_once('"'))
        .filter(|_| line.ends_with(end))
        .map(|(name, _)| name)
        .ok_or_else(|| invalid(format!("trace.html: cannot inline {line:?}")))?;
    asset(name).ok_or_else(|| invalid(format!("trace.html links /ui/{name}, which is no asset")))
}

/// The report element: base64 of the gzip of `report_json`, streamed (never whole in memory).
fn write_report(out: &mut impl Write, report_json: &[u8]) -> io::Result<()> {
    out.write_all(
        b"<script id=\"osprofiler-report\" type=\"application/json\" \
          data-encoding=\"gzip+base64\">",
    )?;
    let base64 = base64::write::EncoderWriter::new(&mut *out, &BASE64);
    let mut gzip = GzEncoder::new(base64, Compression::fast());
    gzip.write_all(report_json)?;
    gzip.finish()?.finish()?;
    out.write_all(b"</script>\n")
}

/// Writes `text` with every `</tag` (any case) written as `<\/tag`, so the file cannot end
/// the `<style>` or `<script>` element it is inlined in. Our assets have no such sequence;
/// this is a guard, and `\/` means `/` inside JavaScript and CSS strings, where it could be.
fn write_escaped(out: &mut impl Write, text: &[u8], tag: &[u8]) -> io::Result<()> {
    let mut from = 0;
    let mut i = 0;
    while i + 2 + tag.len() <= text.len() {
        if text[i] == b'<'
            && text[i + 1] == b'/'
            && text[i + 2..i + 2 + tag.len()].eq_ignore_ascii_case(tag)
        {
            out.write_all(&text[from..i + 1])?;
            out.write_all(b"\\")?;
            from = i + 1;
        }
        i += 1;
    }
    out.write_all(&text[from..])
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use std::io::Read;

    /// The files that docs/ui.md's table "Files" names (first column, `assets/...`).
    fn documented_files() -> Vec<String> {
        let doc = include_str!("../../../docs/ui.md");
        let mut names = Vec::new();
        for line in doc.lines().filter(|l| l.starts_with("| `assets/")) {
            let first_column = line.split('|').nth(1).unwrap();
            for (i, piece) in first_column.split('`').enumerate() {
                if i % 2 == 1 {
                    names.push(piece.trim_start_matches("assets/").to_string());
                }
            }
        }
        names
    }

    #[test]
    fn every_documented_file_is_an_asset() {
        let documented = documented_files();
        assert!(documented.len() >= 12, "{documented:?}");
        for name in &documented {
            let a = asset(name).unwrap_or_else(|| panic!("{name} is not embedded"));
            assert_eq!(a.name, name);
            assert!(!a.bytes.is_empty(), "{name} is empty");
        }
        for a in assets() {
            assert!(
                documented.contains(&a.name.to_string()),
                "{} is not in docs/ui.md",
                a.name
            );
        }
        assert!(asset("nope.js").is_none());
        assert!(asset("").is_none());
    }

    #[test]
    fn content_types_follow_the_extension() {
        for a in assets() {
            let expected = match a.name.rsplit_once('.').unwrap().1 {
                "css" => "text/css; charset=utf-8",
                "js" => "text/javascript; charset=utf-8",
                "html" => "text/html; charset=utf-8",
                other => panic!("unexpected extension {other}"),
            };
            assert_eq!(a.content_type, expected, "{}", a.name);
        }
    }

    #[test]
    fn etags_are_the_hash_of_the_content() {
        for a in assets() {
            assert_eq!(
                a.etag,
                format!("\"{:016x}\"", fnv1a64(a.bytes)),
                "{}",
                a.name
            );
        }
        for a in assets() {
            for b in assets() {
                assert_eq!(
                    a.bytes == b.bytes,
                    a.etag == b.etag,
                    "{} {}",
                    a.name,
                    b.name
                );
            }
        }
        // FNV-1a 64 of known inputs.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(etag_text(fnv1a64(b"a")), etag_text(fnv1a64(b"b")));
    }

    #[test]
    fn pages_are_the_three_shells() {
        for name in PAGES {
            assert!(page(name).unwrap().contains("<html"), "{name}");
        }
        assert!(page("base.css").is_none());
        assert!(page("missing.html").is_none());
    }

    /// The text of the element `<script id="osprofiler-report" ...>` decoded to the report.
    fn embedded_report(html: &str) -> Vec<u8> {
        let open = r#"<script id="osprofiler-report" type="application/json" data-encoding="gzip+base64">"#;
        let start = html.find(open).expect("no report element") + open.len();
        let end = start + html[start..].find("</script>").unwrap();
        let gzip = BASE64.decode(&html[start..end]).unwrap();
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut json)
            .unwrap();
        json
    }

    fn offline_page(report: &[u8]) -> String {
        let mut html = Vec::new();
        write_offline_trace_page(&mut html, report).unwrap();
        String::from_utf8(html).unwrap()
    }

    #[test]
    fn offline_page_is_self_contained_and_round_trips_the_report() {
        let report = br#"{"info":{"name":"total","started":0,"finished":3},"children":[]}"#;
        let html = offline_page(report);
        assert!(!html.contains("/ui/"), "a /ui/ reference is left");
        assert!(!html.contains(REPORT_MARK));
        assert!(!html.contains(r#"rel="stylesheet""#));
        assert!(!html.contains(" src="));
        assert!(
            html.contains("<style>") && html.contains("--svc-0"),
            "base.css inlined"
        );
        assert_eq!(embedded_report(&html), report);
    }

    #[test]
    fn a_script_end_in_the_report_cannot_end_the_element() {
        let report = br#"{"info":{"name":"</script><script>alert(1)</script><!--"},"children":[]}"#;
        let html = offline_page(report);
        let template = page("trace.html").unwrap();
        // One `</script>` per inlined script, plus the report's own.
        let scripts = template
            .lines()
            .filter(|l| l.trim().starts_with("<script"))
            .count();
        assert_eq!(html.matches("</script>").count(), scripts + 1);
        assert!(!html.contains("alert(1)"));
        assert_eq!(embedded_report(&html), report);
    }

    #[test]
    fn a_large_report_round_trips() {
        let mut report = Vec::from(&b"{\"children\":["[..]);
        for i in 0..20_000 {
            write!(
                report,
                "{{\"info\":{{\"name\":\"db\",\"n\":{i}}},\"children\":[]}},"
            )
            .unwrap();
        }
        report.extend_from_slice(b"{}]}");
        let html = offline_page(&report);
        assert!(
            html.len() < report.len() / 4,
            "{} bytes for {}",
            html.len(),
            report.len()
        );
        assert_eq!(embedded_report(&html), report);
    }

    #[test]
    fn end_tags_in_inlined_files_are_escaped() {
        let mut out = Vec::new();
        write_escaped(
            &mut out,
            b"a</script>b</SCRIPT c</scrip </style>",
            b"script",
        )
        .unwrap();
        assert_eq!(out, b"a<\\/script>b<\\/SCRIPT c</scrip </style>");
        out.clear();
        write_escaped(&mut out, b"x { content: \"</style>\" }", b"style").unwrap();
        assert_eq!(out, b"x { content: \"<\\/style>\" }");
        out.clear();
        write_escaped(&mut out, b"</", b"script").unwrap();
        assert_eq!(out, b"</");
    }

    #[test]
    fn linked_files_must_be_assets() {
        assert_eq!(
            linked_asset(
                r#"<script src="/ui/api.js"></script>"#,
                "src=\"/ui/",
                "></script>"
            )
            .unwrap()
            .name,
            "api.js"
        );
        assert_eq!(
            linked_asset(
                r#"<link rel="stylesheet" href="/ui/base.css">"#,
                "href=\"/ui/",
                ">"
            )
            .unwrap()
            .name,
            "base.css"
        );
        for bad in [
            r#"<script src="/ui/evil.js"></script>"#,
            r#"<script src="/ui/api.js"></script><p>"#,
        ] {
            let err = linked_asset(bad, "src=\"/ui/", "></script>").unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData, "{bad}");
        }
    }
}
