//! Text from peers (or typed by the user) as it is printed and logged: one escaping rule for
//! the terminal and the log, so a peer's newline cannot forge a line and its escape sequences
//! or bidi overrides cannot drive or disguise what is shown.

use p2p_sync_core::validate::is_format_character;
use std::borrow::Cow;

/// Whether `c` is shown escaped: control characters (newline, ESC, NUL, ...) and invisible
/// format characters (bidi overrides, zero-width spaces, ...).
fn hidden(c: char) -> bool {
    c.is_control() || is_format_character(c)
}

/// `text` with every control and format character escaped as Rust writes it (`\n`,
/// `\u{1b}`, `\u{202e}`); borrowed unchanged when there is none.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return text.into();
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if hidden(c) {
            shown.extend(c.escape_default());
        } else {
            shown.push(c);
        }
    }
    shown.into()
}

#[cfg(test)]
mod tests {
    use super::printable;

    #[test]
    fn control_and_format_characters_are_shown_escaped() {
        assert_eq!(printable("big world"), "big world");
        assert_eq!(printable("héllo שלום"), "héllo שלום");
        assert_eq!(printable("x\n  evil = 1"), "x\\n  evil = 1");
        assert_eq!(printable("\u{1b}[31mred"), "\\u{1b}[31mred");
        assert_eq!(printable("a\u{202e}b\u{200b}c"), "a\\u{202e}b\\u{200b}c");
    }
}
