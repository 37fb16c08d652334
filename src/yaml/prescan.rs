//! A cheap look at YAML text before the parser sees it: the input's size,
//! its nesting depth and its characters, each refused with a line and
//! column.
//!
//! Why: the YAML parser takes time quadratic in the nesting depth of flow
//! collections (100 KB of `[` took 12.6 s), and every file wiretape opens
//! (cassettes, route files, other tools' cassettes) may come from anywhere.
//! One linear pass over the text finds what would be slow or is not YAML,
//! so that opening any input takes time about linear in its size.

/// The largest YAML input read (a cassette with large bodies fits easily).
pub(crate) const MAX_BYTES: usize = 256 * 1024 * 1024;

/// The deepest nesting allowed, block and flow together. The YAML reader
/// refuses documents nested deeper than 128 anyway; a recorded JSON body
/// sits a few levels below a cassette's top.
pub(crate) const MAX_DEPTH: usize = 160;

/// What the scan refused, and where (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub(crate) line: usize,
    pub(crate) column: usize,
    pub(crate) message: String,
}

/// Whether the YAML reader accepts `c` anywhere in a document (YAML 1.1's
/// printable set, as libyaml checks it).
fn printable(c: char) -> bool {
    matches!(c,
        '\t' | '\n' | '\r' | '\u{20}'..='\u{7e}' | '\u{85}' | '\u{a0}'..='\u{d7ff}'
        | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')
        && c != '\u{feff}'
}

/// Checks `text` (without a byte-order mark) in one pass.
pub(crate) fn check(text: &str) -> Result<(), Refused> {
    if text.len() > MAX_BYTES {
        return Err(Refused {
            line: 1,
            column: 1,
            message: format!(
                "the input is {} bytes; at most {MAX_BYTES} bytes of YAML are read",
                text.len()
            ),
        });
    }
    let mut scan = Scan::default();
    for (n, line) in text.split('\n').enumerate() {
        scan.line(n + 1, line.strip_suffix('\r').unwrap_or(line))?;
    }
    Ok(())
}

#[derive(Default)]
struct Scan {
    /// Open flow collections (`[`, `{`).
    flow: usize,
    /// Inside a quoted scalar that goes on past its line: its quote.
    quote: Option<char>,
    /// Inside a block scalar (`|`, `>`): the indentation of the line that
    /// started it; lines indented deeper are its content.
    block_scalar: Option<usize>,
    /// The indentations of the enclosing block collections.
    indents: Vec<usize>,
}

impl Scan {
    fn line(&mut self, line_no: usize, line: &str) -> Result<(), Refused> {
        let refuse = |column: usize, message: String| Refused {
            line: line_no,
            column,
            message,
        };
        if let Some((at, c)) = line.char_indices().find(|(_, c)| !printable(*c)) {
            let column = line[..at].chars().count() + 1;
            return Err(refuse(
                column,
                format!(
                    "control character U+{:04X} is not allowed in YAML (write it escaped in a \
                     double-quoted string, or the body as base64)",
                    c as u32
                ),
            ));
        }
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(parent) = self.block_scalar {
            if blank || indent > parent {
                return Ok(());
            }
            self.block_scalar = None;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        if self.quote.is_none() && self.flow == 0 {
            if blank || line.trim_start().starts_with('#') {
                return Ok(());
            }
            while self.indents.last().is_some_and(|&top| top > indent) {
                self.indents.pop();
            }
            if self.indents.last() != Some(&indent) {
                self.indents.push(indent);
            }
            i = indent;
            // Compact nested entries on one line: `- - - x`.
            let mut compact = 0;
            while i + 1 < bytes.len() && matches!(bytes[i], b'-' | b'?') && bytes[i + 1] == b' ' {
                compact += 1;
                i += 2;
                while i < bytes.len() && bytes[i] == b' ' {
                    i += 1;
                }
            }
            if self.indents.len() + compact > MAX_DEPTH {
                return Err(refuse(
                    i + 1,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                ));
            }
        }
        self.rest(bytes, i, indent).map_err(|(at, message)| {
            refuse(line[..at.min(line.len())].chars().count() + 1, message)
        })
    }

    /// Scans `bytes[i..]`, the part of a line after its indentation.
    fn rest(&mut self, bytes: &[u8], mut i: usize, indent: usize) -> Result<(), (usize, String)> {
        // Whether a scalar or collection may start here (not in the middle
        // of a plain scalar, where `[` and quotes are just characters).
        let mut at_token = true;
        while i < bytes.len() {
            let b = bytes[i];
            if let Some(quote) = self.quote {
                match b {
                    b'\\' if quote == '"' => i += 1,
                    b'\'' if quote == '\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                    _ if b == quote as u8 => {
                        self.quote = None;
                        at_token = false;
                    }
                    _ => {}
                }
                i += 1;
                continue;
            }
            let after_space = i == 0 || matches!(bytes[i - 1], b' ' | b'\t');
            match b {
                b'#' if after_space => return Ok(()),
                b'"' | b'\'' if at_token => self.quote = Some(b as char),
                b'[' | b'{' if at_token || self.flow > 0 => {
                    self.flow += 1;
                    if self.flow + self.indents.len() > MAX_DEPTH {
                        return Err((i, format!("nesting deeper than {MAX_DEPTH} levels")));
                    }
                }
                b']' | b'}' if self.flow > 0 => self.flow -= 1,
                b',' if self.flow > 0 => at_token = true,
                b'|' | b'>' if at_token && self.flow == 0 => {
                    let tail = &bytes[i + 1..];
                    let header_only = tail
                        .iter()
                        .position(|&c| c == b'#')
                        .map_or(tail, |cut| &tail[..cut])
                        .iter()
                        .all(|c| matches!(c, b'+' | b'-' | b' ' | b'\t' | b'0'..=b'9'));
                    if header_only {
                        self.block_scalar = Some(indent);
                        return Ok(());
                    }
                    at_token = false;
                }
                b':' if bytes.get(i + 1).is_none_or(|c| matches!(c, b' ' | b'\t'))
                    || (self.flow > 0
                        && bytes
                            .get(i + 1)
                            .is_some_and(|c| matches!(c, b',' | b']' | b'}'))) =>
                {
                    at_token = true;
                }
                b'-' | b'?' if at_token && bytes.get(i + 1).is_none_or(|c| *c == b' ') => {}
                b' ' | b'\t' => {}
                _ if self.flow > 0 => at_token = false,
                _ => at_token = false,
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_at_its_place() {
        let text = format!("version: 1\ninteractions: {}", "[".repeat(100_000));
        let refused = check(&text).unwrap_err();
        assert_eq!(refused.line, 2);
        assert!(refused.message.contains("nesting deeper"), "{refused:?}");
        assert!(
            refused.column > 14 && refused.column < 14 + MAX_DEPTH + 2,
            "{refused:?}"
        );
    }

    #[test]
    fn brackets_in_scalars_comments_and_block_text_do_not_count() {
        let deep = "[".repeat(500);
        let text = format!(
            "a: '{deep}'\nb: \"{deep}\\\"{deep}\"\nc: text{deep}\n# {deep}\nd: |\n  {deep}\n  more {deep}\ne: [1, [2, {{x: '['}}]]\nf: \"multi\n  line {deep}\"\n"
        );
        check(&text).unwrap();
    }

    #[test]
    fn compact_block_nesting_counts() {
        let text = "- ".repeat(MAX_DEPTH + 1) + "x\n";
        assert!(check(&text).unwrap_err().message.contains("nesting"));
        check(&("- ".repeat(20) + "x\n")).unwrap();
    }

    #[test]
    fn a_control_character_is_refused_on_its_own_line() {
        let refused = check("a: 1\nb: 2\nc: x\u{1}y\n").unwrap_err();
        assert_eq!((refused.line, refused.column), (3, 5));
        assert!(refused.message.contains("U+0001"), "{refused:?}");
    }
}
