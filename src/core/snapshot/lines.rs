//! Where each value of a JSON text starts: JSON pointer → line, for locating problems. Used only
//! once there are problems to report, on text `serde_json` has already accepted.

use super::{child, index};
use std::collections::HashMap;

/// The line each value of a JSON text starts on, by JSON pointer.
///
/// A minimal scanner rather than a parser: it runs only on text `serde_json` has accepted, so it
/// need not diagnose anything, only never panic and never recurse (it keeps its own stack). With
/// duplicate keys the last one wins, as it does in `serde_json::Value`.
pub(super) struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    pub(super) fn build(text: &str) -> LineIndex {
        /// An open object or array; `parent_len` is where to cut the current pointer when it closes.
        struct Frame {
            is_array: bool,
            parent_len: usize,
            next_index: usize,
            key: Option<String>,
        }

        let bytes = text.as_bytes();
        let mut lines = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        // The pointer of the innermost open container.
        let mut pointer = String::new();
        let mut line = 1;
        let mut i = 0;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\n' => {
                    line += 1;
                    i += 1;
                }
                b' ' | b'\t' | b'\r' | b':' => i += 1,
                b',' => {
                    if let Some(frame) = stack.last_mut() {
                        if frame.is_array {
                            frame.next_index += 1;
                        } else {
                            frame.key = None;
                        }
                    }
                    i += 1;
                }
                b'}' | b']' => {
                    if let Some(frame) = stack.pop() {
                        pointer.truncate(frame.parent_len);
                    }
                    i += 1;
                }
                _ => {
                    let start_line = line;
                    // A string in an object that has no pending key is that key, not a value.
                    if b == b'"'
                        && let Some(frame) = stack.last_mut()
                        && !frame.is_array
                        && frame.key.is_none()
                    {
                        let end = string_end(bytes, i, &mut line);
                        let raw = text.get(i..end).unwrap_or_default();
                        let key = serde_json::from_str::<String>(raw)
                            .unwrap_or_else(|_| raw.trim_matches('"').to_string());
                        frame.key = Some(key);
                        i = end;
                        continue;
                    }
                    let value_pointer = match stack.last() {
                        None => String::new(),
                        Some(frame) if frame.is_array => index(&pointer, frame.next_index),
                        Some(frame) => child(&pointer, frame.key.as_deref().unwrap_or_default()),
                    };
                    match b {
                        b'{' | b'[' => {
                            stack.push(Frame {
                                is_array: b == b'[',
                                parent_len: pointer.len(),
                                next_index: 0,
                                key: None,
                            });
                            pointer.clone_from(&value_pointer);
                            i += 1;
                        }
                        b'"' => i = string_end(bytes, i, &mut line),
                        _ => {
                            while let Some(&c) = bytes.get(i) {
                                if matches!(c, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                                    break;
                                }
                                i += 1;
                            }
                        }
                    }
                    lines.insert(value_pointer, start_line);
                }
            }
        }
        LineIndex { lines }
    }

    /// The line of the value at `pointer`, or of its nearest ancestor that exists (a missing field is
    /// located at the object that lacks it).
    pub(super) fn line_of(&self, pointer: &str) -> Option<usize> {
        let mut pointer = pointer;
        loop {
            if let Some(&line) = self.lines.get(pointer) {
                return Some(line);
            }
            let cut = pointer.rfind('/')?;
            pointer = pointer.get(..cut)?;
        }
    }
}

/// The index just past the string that opens at `start` (a `"`), honouring backslash escapes.
fn string_end(bytes: &[u8], start: usize, line: &mut usize) -> usize {
    let mut i = start + 1;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn the_line_index_handles_nesting_escapes_and_strings_that_look_like_structure() {
        let text = "{\"a/b\": {\"c~d\":\n [1,\n  {\"e\\\"f\": \"x\\\\\\\"y\", \"\\u0041\": [[], {}, \"]}\"]}\n ]},\n \"\": 2,\n \"g\":\n  \"{[,\"\n, \"dup\": 1, \"dup\":\n 2}";
        serde_json::from_str::<Value>(text).expect("the test text is valid JSON");
        let index = LineIndex::build(text);
        let expected: &[(&str, usize)] = &[
            ("", 1),
            ("/a~1b", 1),
            ("/a~1b/c~0d", 2),
            ("/a~1b/c~0d/0", 2),
            ("/a~1b/c~0d/1", 3),
            ("/a~1b/c~0d/1/e\"f", 3),
            ("/a~1b/c~0d/1/A", 3),
            ("/a~1b/c~0d/1/A/0", 3),
            ("/a~1b/c~0d/1/A/2", 3),
            ("/", 5),
            ("/g", 7),
            ("/dup", 9),
        ];
        for (pointer, line) in expected {
            assert_eq!(
                index.lines.get(*pointer),
                Some(line),
                "{pointer:?} in {:#?}",
                index.lines
            );
        }
        assert_eq!(
            index.lines.len(),
            expected.len() + 1,
            "/a~1b/c~0d/1/A/1 too: {:#?}",
            index.lines
        );
        // A missing member is located at the nearest value that exists.
        assert_eq!(index.line_of("/a~1b/c~0d/1/missing/deeper"), Some(3));
        assert_eq!(index.line_of("/nothing"), Some(1));
    }

    #[test]
    fn the_line_index_never_panics_on_odd_text() {
        for text in [
            "",
            "\"",
            "\"\\",
            "}}]]",
            "{\"a\"",
            "[,,,",
            "{\"a\":\"é\\",
            "é",
            "{\"\u{1F600}\": [x",
        ] {
            let index = LineIndex::build(text);
            let _ = index.line_of("/a/0");
        }
    }
}
