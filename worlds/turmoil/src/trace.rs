//! The trace of a run: one line per thing that happened, stamped with virtual time. Two runs of
//! the same world and seed must write the same bytes.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The lines of a run, shared by the world and its hosts (one thread: turmoil runs every host
/// on the caller's).
#[derive(Clone, Default)]
pub struct Trace {
    lines: Rc<RefCell<Vec<String>>>,
}

impl Trace {
    /// Adds `line` said by `who` at virtual time `at`.
    pub fn log(&self, at: Duration, who: &str, line: impl AsRef<str>) {
        let line = format!("{:>9.3} {who:<4} {}", at.as_secs_f64(), line.as_ref());
        self.lines.borrow_mut().push(line);
    }

    /// Every line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.borrow().clone()
    }

    /// Every line so far, each ending in a newline.
    pub fn text(&self) -> String {
        self.lines
            .borrow()
            .iter()
            .map(|line| format!("{line}\n"))
            .collect()
    }
}
