//! Input lines read from a byte stream with a bound: a line that is not UTF-8 or is longer than
//! the limit becomes an error for that line alone, and a long line is skipped as it streams in,
//! never held whole.

use std::fmt;
use std::io::{self, BufRead};

/// One input line: the text, or why it cannot be a command.
pub type Line = Result<String, BadLine>;

/// Why an input line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadLine {
    /// The line's bytes are not UTF-8.
    NotUtf8,
    /// The line is longer than the limit (in bytes, the line end not counted).
    TooLong {
        /// The limit.
        max: usize,
    },
}

impl fmt::Display for BadLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadLine::NotUtf8 => write!(f, "Input line is not valid UTF-8 (ignored)"),
            BadLine::TooLong { max } => {
                write!(f, "Input line is longer than {max} bytes (ignored)")
            }
        }
    }
}

/// Splits a byte stream into [`Line`]s of at most `max` bytes.
#[derive(Debug)]
pub struct LineReader {
    max: usize,
    line: Vec<u8>,
}

impl LineReader {
    /// A reader of lines up to `max` bytes.
    pub fn new(max: usize) -> LineReader {
        LineReader {
            max,
            line: Vec::new(),
        }
    }

    /// The next line of `input` without its `\n` (or `\r\n`); `None` at the end of input. A
    /// last line without a line end counts as a line.
    pub fn next(&mut self, input: &mut impl BufRead) -> io::Result<Option<Line>> {
        self.line.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = input.fill_buf()?;
            if chunk.is_empty() {
                if !any {
                    return Ok(None);
                }
                break;
            }
            any = true;
            let (part, end) = match chunk.iter().position(|&b| b == b'\n') {
                Some(at) => (&chunk[..at], Some(at + 1)),
                None => (chunk, None),
            };
            if !too_long && self.line.len() + part.len() <= self.max + 1 {
                self.line.extend_from_slice(part);
            } else {
                too_long = true;
                self.line.clear();
            }
            let used = end.unwrap_or(chunk.len());
            input.consume(used);
            if end.is_some() {
                break;
            }
        }
        if self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if too_long || self.line.len() > self.max {
            return Ok(Some(Err(BadLine::TooLong { max: self.max })));
        }
        Ok(Some(
            String::from_utf8(std::mem::take(&mut self.line)).map_err(|_| BadLine::NotUtf8),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    fn all(input: &[u8], max: usize) -> Vec<Line> {
        let mut input = BufReader::with_capacity(16, Cursor::new(input.to_vec()));
        let mut reader = LineReader::new(max);
        std::iter::from_fn(|| reader.next(&mut input).unwrap()).collect()
    }

    #[test]
    fn invalid_utf8_spoils_only_its_own_line() {
        let lines = all(b"add a 1\nadd b \xff\xfe\r\nget a\r\nlast", 100);
        assert_eq!(
            lines,
            vec![
                Ok("add a 1".to_string()),
                Err(BadLine::NotUtf8),
                Ok("get a".to_string()),
                Ok("last".to_string()),
            ]
        );
    }

    #[test]
    fn a_line_over_the_limit_is_refused_and_the_next_one_read() {
        let mut input = b"0123456789\n".to_vec();
        input.extend(b"add big ".iter().chain(&[b'v'; 5000]).chain(b"\nget a\n"));
        let lines = all(&input, 10);
        assert_eq!(
            lines,
            vec![
                Ok("0123456789".to_string()),
                Err(BadLine::TooLong { max: 10 }),
                Ok("get a".to_string()),
            ]
        );
    }

    #[test]
    fn a_long_line_is_never_held_whole() {
        let max = 1000;
        let huge = vec![b'x'; 10 * 1024 * 1024];
        let mut input = BufReader::new(Cursor::new(huge));
        let mut reader = LineReader::new(max);
        assert_eq!(
            reader.next(&mut input).unwrap(),
            Some(Err(BadLine::TooLong { max }))
        );
        assert!(
            reader.line.capacity() <= 2 * max + 8 * 1024,
            "{}",
            reader.line.capacity()
        );
        assert_eq!(reader.next(&mut input).unwrap(), None);
    }
}
