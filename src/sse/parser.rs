//! The event-stream parser: bytes in, [`Event`]s out, within fixed bounds.
//!
//! It follows the WHATWG interpretation rules: lines end with CRLF, LF or
//! CR; `field: value` (one leading space dropped), a line without a colon is
//! a field with an empty value, a line starting with `:` is a comment; a
//! blank line dispatches the event (none when no `data` came); `id` with a
//! NUL is ignored; `retry` is honoured only when all digits; unknown fields
//! are ignored. Bytes arrive in arbitrary chunks, so a line may span many.
//! A line longer than the line limit, or an event whose data outgrows the
//! event limit, is an error naming the stream and the line: a broken or
//! hostile server cannot make the client buffer without end.

use std::collections::VecDeque;
use std::time::Duration;

use super::Event;
use crate::{Error, Result};

pub(crate) struct Parser {
    /// The stream, for messages (`event stream from GET http://…`).
    name: String,
    max_line: usize,
    max_event: usize,
    line: Vec<u8>,
    /// The previous chunk ended with CR: a LF starting this one is part of
    /// the same line break.
    after_cr: bool,
    at_start: bool,
    /// Lines seen on this connection, for messages.
    line_number: u64,
    data: String,
    has_data: bool,
    event: String,
    retry: Option<Duration>,
    /// The last event ID buffer: kept across events and reconnections.
    last_id: Option<String>,
    /// The reconnection delay the stream last asked for (takes effect as
    /// soon as the `retry` line is read, even without an event).
    reconnect: Option<Duration>,
    ready: VecDeque<Event>,
}

impl Parser {
    pub(crate) fn new(name: String, max_line: usize, max_event: usize) -> Parser {
        Parser {
            name,
            max_line,
            max_event,
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            line_number: 0,
            data: String::new(),
            has_data: false,
            event: String::new(),
            retry: None,
            last_id: None,
            reconnect: None,
            ready: VecDeque::new(),
        }
    }

    /// The last event ID the stream set, for `Last-Event-ID`.
    pub(crate) fn last_id(&self) -> Option<&str> {
        self.last_id.as_deref().filter(|id| !id.is_empty())
    }

    /// The reconnection delay the server asked for, if it did.
    pub(crate) fn reconnect_delay(&self) -> Option<Duration> {
        self.reconnect
    }

    /// The next complete event, if one is ready.
    pub(crate) fn next_event(&mut self) -> Option<Event> {
        self.ready.pop_front()
    }

    /// A new connection: a half-received line or event is dropped (the
    /// server will resend from `Last-Event-ID`); the last ID stays.
    pub(crate) fn reconnected(&mut self) {
        self.line.clear();
        self.after_cr = false;
        self.at_start = true;
        self.line_number = 0;
        self.clear_event();
    }

    /// Reads a chunk; complete events become ready.
    pub(crate) fn feed(&mut self, mut bytes: &[u8]) -> Result<()> {
        if self.after_cr {
            self.after_cr = false;
            if let Some(rest) = bytes.strip_prefix(b"\n") {
                bytes = rest;
            }
        }
        while let Some(end) = bytes.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push(&bytes[..end])?;
            let line = std::mem::take(&mut self.line);
            self.line_done(&line)?;
            self.line = line;
            self.line.clear();
            let crlf = bytes[end] == b'\r';
            bytes = &bytes[end + 1..];
            if crlf {
                match bytes.first() {
                    Some(b'\n') => bytes = &bytes[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
        }
        self.push(bytes)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<()> {
        if self.line.len() + bytes.len() > self.max_line {
            return Err(self.error(format!(
                "line {} is longer than the {}-byte line limit (raise it with max_line_length)",
                self.line_number + 1,
                self.max_line
            )));
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    fn line_done(&mut self, raw: &[u8]) -> Result<()> {
        self.line_number += 1;
        let mut raw = raw;
        if self.at_start {
            self.at_start = false;
            raw = raw.strip_prefix("\u{feff}".as_bytes()).unwrap_or(raw);
        }
        let line = String::from_utf8_lossy(raw);
        if line.is_empty() {
            self.dispatch();
            return Ok(());
        }
        if line.starts_with(':') {
            return Ok(());
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (&*line, ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() + 1 > self.max_event {
                    return Err(self.error(format!(
                        "the event ending at line {} holds more than the {}-byte event limit \
                         (raise it with max_event_size)",
                        self.line_number, self.max_event
                    )));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = value.to_owned(),
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // All digits, so only an overflow fails: a delay that long
                // means "do not hurry".
                let millis = value.parse::<u64>().unwrap_or(u64::MAX);
                self.retry = Some(Duration::from_millis(millis));
                self.reconnect = self.retry;
            }
            _ => {}
        }
        Ok(())
    }

    fn dispatch(&mut self) {
        if !self.has_data {
            // Nothing to deliver (a retry on its own has already taken effect).
            self.clear_event();
            return;
        }
        let event = Event {
            data: std::mem::take(&mut self.data),
            event: match std::mem::take(&mut self.event) {
                name if name.is_empty() => "message".to_owned(),
                name => name,
            },
            id: self.last_id.clone().filter(|id| !id.is_empty()),
            retry: self.retry.take(),
        };
        self.ready.push_back(event);
        self.clear_event();
    }

    fn clear_event(&mut self) {
        self.data.clear();
        self.has_data = false;
        self.event.clear();
        self.retry = None;
    }

    fn error(&self, message: String) -> Error {
        Error::decode(format!("event stream from {}", self.name), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&[u8]]) -> Vec<Event> {
        let mut parser = Parser::new("GET http://x.test/".into(), 1024, 4096);
        let mut events = Vec::new();
        for chunk in chunks {
            parser.feed(chunk).unwrap();
            while let Some(event) = parser.next_event() {
                events.push(event);
            }
        }
        events
    }

    #[test]
    fn fields_make_typed_events() {
        let events = parse(&[b"\xEF\xBB\xBFid: 1\nevent: greet\ndata: hello\ndata:  world\nretry: 250\n\n: a comment\ndata\n\ndata: no id change\n\n"]);
        assert_eq!(
            events,
            vec![
                Event::new("hello\n world")
                    .with_event("greet")
                    .with_id("1")
                    .with_retry(Duration::from_millis(250)),
                Event::new("").with_id("1"),
                Event::new("no id change").with_id("1"),
            ]
        );
    }

    #[test]
    fn any_line_ending_and_any_chunking_give_the_same_events() {
        let text = "id: 7\r\ndata: a\r\rdata: b\ndata: c\n\n";
        let whole = parse(&[text.as_bytes()]);
        assert_eq!(
            whole,
            vec![
                Event::new("a").with_id("7"),
                Event::new("b\nc").with_id("7")
            ]
        );
        let bytes: Vec<&[u8]> = text.as_bytes().chunks(1).collect();
        assert_eq!(parse(&bytes), whole, "byte by byte, CR and LF split apart");
    }

    #[test]
    fn ignored_lines_follow_the_standard() {
        let events = parse(&[b"retry: 1x\nid: a\0b\nunknown: 1\nevent: only\n\ndata: x\n\n"]);
        assert_eq!(
            events,
            vec![Event::new("x")],
            "no data, no event; bad retry and id ignored"
        );
        let mut parser = Parser::new("s".into(), 1024, 4096);
        parser.feed(b"retry: 5000\n\n").unwrap();
        assert_eq!(parser.reconnect_delay(), Some(Duration::from_secs(5)));
        assert!(parser.next_event().is_none());
    }

    #[test]
    fn an_empty_id_resets_the_last_event_id() {
        let mut parser = Parser::new("s".into(), 1024, 4096);
        parser.feed(b"id: 3\ndata: a\n\nid\ndata: b\n\n").unwrap();
        assert_eq!(parser.next_event().unwrap().id.as_deref(), Some("3"));
        assert_eq!(parser.next_event().unwrap().id, None);
        assert_eq!(parser.last_id(), None);
    }

    #[test]
    fn a_reconnection_drops_the_half_event_but_keeps_the_id() {
        let mut parser = Parser::new("s".into(), 1024, 4096);
        parser.feed(b"id: 9\ndata: whole\n\ndata: half").unwrap();
        parser.reconnected();
        parser.feed(b"data: next\n\n").unwrap();
        assert_eq!(parser.next_event().unwrap().data, "whole");
        assert_eq!(
            parser.next_event().unwrap(),
            Event::new("next").with_id("9")
        );
    }

    #[test]
    fn oversized_lines_and_events_are_errors_naming_the_stream_and_line() {
        let mut parser = Parser::new("GET http://x.test/feed".into(), 16, 4096);
        let err = parser
            .feed(b"data: ok\n\ndata: far too long for the limit")
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("GET http://x.test/feed")
                && text.contains("line 3")
                && text.contains("16-byte"),
            "{text}"
        );

        let mut parser = Parser::new("s".into(), 1024, 10);
        let err = parser
            .feed(b"data: 12345\ndata: 67890\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("10-byte event limit") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn written_events_read_back() {
        let event = Event::new("multi\nline")
            .with_event("update")
            .with_id("42")
            .with_retry(Duration::from_millis(10));
        assert_eq!(parse(&[event.to_wire().as_bytes()]), vec![event]);
    }
}
