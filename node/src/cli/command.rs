//! Parsing one input line into a command.

use super::commands::allow;

/// The commands the node understands, one per input line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `add KEY VALUE`: the value is the rest of the line, spaces included.
    Add {
        /// The key.
        key: String,
        /// The value.
        value: String,
    },
    /// `get KEY`.
    Get {
        /// The key.
        key: String,
    },
    /// `delete KEY`.
    Delete {
        /// The key.
        key: String,
    },
    /// `list`.
    List,
    /// `status`.
    Status,
    /// `allow add PEERID [--name NAME] [--for DURATION]`, `allow remove PEERID`, `allow list`.
    Allow(allow::Request),
    /// `help`.
    Help,
    /// `quit` (or `exit`).
    Quit,
}

/// A key written in double quotes may hold spaces: `add "my key" value`, with `\"` for a quote
/// and `\\` for a backslash inside.
pub const QUOTING: &str = "a key in double quotes may hold spaces, with \\\" and \\\\ inside";

/// Every command with its arguments, for hints.
pub const USAGE: &str =
    "Commands: add KEY VALUE, get KEY, delete KEY, list, status, allow add|remove|list, help, quit";

/// Parses `line`. `Ok(None)` for a blank line; `Err` holds a one-line hint for the user.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim_start().trim_end_matches(['\r', '\n']);
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim_start()),
        None => (line, ""),
    };
    let single_key = |usage: &str| match split_key(rest)? {
        Some((key, after)) if after.trim().is_empty() => Ok(key),
        _ => Err(format!("Usage: {usage}")),
    };
    let no_arguments = |command: Command| {
        if rest.trim().is_empty() {
            Ok(command)
        } else {
            Err(format!("Usage: {word} (no arguments)"))
        }
    };
    let command = match word.to_ascii_lowercase().as_str() {
        "" => return Ok(None),
        "add" => match split_key(rest)? {
            Some((key, value)) if !value.trim_start().is_empty() => Command::Add {
                key,
                value: value.trim_start().to_string(),
            },
            _ => return Err("Usage: add KEY VALUE (the value is the rest of the line)".into()),
        },
        "get" => Command::Get {
            key: single_key("get KEY")?,
        },
        "delete" | "del" | "rm" => Command::Delete {
            key: single_key("delete KEY")?,
        },
        "list" | "ls" => no_arguments(Command::List)?,
        "status" => no_arguments(Command::Status)?,
        "allow" => Command::Allow(allow::parse(rest)?),
        "help" | "?" => Command::Help,
        "quit" | "exit" => Command::Quit,
        _ => return Err(format!("Unknown command '{word}'. {USAGE}")),
    };
    Ok(Some(command))
}

/// The key at the start of `text` and what follows it: a word, or a double-quoted key with
/// `\"` and `\\` escapes (which may hold spaces). `None` when `text` is blank.
fn split_key(text: &str) -> Result<Option<(String, &str)>, String> {
    let Some(quoted) = text.strip_prefix('"') else {
        let (key, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        return Ok((!key.is_empty()).then(|| (key.to_string(), rest)));
    };
    let mut key = String::new();
    let mut chars = quoted.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => {
                let rest = &quoted[at + 1..];
                if key.is_empty() {
                    return Err(format!("An empty key ({QUOTING})"));
                }
                if !rest.is_empty() && !rest.starts_with(char::is_whitespace) {
                    return Err(format!("Text right after a quoted key ({QUOTING})"));
                }
                return Ok(Some((key, rest)));
            }
            '\\' => match chars.next() {
                Some((_, escaped @ ('"' | '\\'))) => key.push(escaped),
                _ => return Err(format!("Unknown escape in a quoted key ({QUOTING})")),
            },
            c => key.push(c),
        }
    }
    Err(format!("Unclosed quote in a key ({QUOTING})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(key: &str, value: &str) -> Command {
        Command::Add {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_value_is_the_rest_of_the_line() {
        assert_eq!(parse("add hello world"), Ok(Some(add("hello", "world"))));
        assert_eq!(
            parse("add  greeting   hello big  world \r\n"),
            Ok(Some(add("greeting", "hello big  world ")))
        );
    }

    #[test]
    fn commands_with_keys() {
        let key = || "hello".to_string();
        assert_eq!(parse("get hello"), Ok(Some(Command::Get { key: key() })));
        assert_eq!(
            parse("  GET hello  "),
            Ok(Some(Command::Get { key: key() }))
        );
        assert_eq!(
            parse("delete hello"),
            Ok(Some(Command::Delete { key: key() }))
        );
    }

    #[test]
    fn commands_without_arguments() {
        assert_eq!(parse("list"), Ok(Some(Command::List)));
        assert_eq!(parse("status"), Ok(Some(Command::Status)));
        assert_eq!(parse("help"), Ok(Some(Command::Help)));
        assert_eq!(parse("quit"), Ok(Some(Command::Quit)));
        assert_eq!(parse("   "), Ok(None));
    }

    #[test]
    fn a_quoted_key_may_hold_spaces() {
        assert_eq!(parse(r#"add "my key" v 1"#), Ok(Some(add("my key", "v 1"))));
        assert_eq!(
            parse(r#"get "a \"q\" \\ b""#),
            Ok(Some(Command::Get {
                key: r#"a "q" \ b"#.into()
            }))
        );
        assert_eq!(
            parse(r#"delete "my key"  "#),
            Ok(Some(Command::Delete {
                key: "my key".into()
            }))
        );
        assert_eq!(parse(r#"add k "v""#), Ok(Some(add("k", r#""v""#))));
        for bad in [r#"get "open"#, r#"get "a"b"#, r#"add "a\x" v"#, r#"get """#] {
            let hint = parse(bad).unwrap_err();
            assert!(hint.contains("quote"), "{bad}: {hint}");
        }
    }

    #[test]
    fn mistakes_get_a_one_line_hint() {
        for line in [
            "add",
            "add hello",
            "add hello   ",
            "get",
            "get a b",
            "delete",
            "list x",
        ] {
            let hint = parse(line).unwrap_err();
            assert!(hint.starts_with("Usage: "), "{line}: {hint}");
            assert!(!hint.contains('\n'));
        }
        let hint = parse("frobnicate now").unwrap_err();
        assert!(hint.starts_with("Unknown command 'frobnicate'"), "{hint}");
        assert!(hint.ends_with(USAGE));
    }
}
