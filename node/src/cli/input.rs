//! Lines from standard input, read on a thread of their own: with line editing and history
//! (rustyline) on a terminal, plainly from a pipe or file. A line that is not UTF-8 or is too
//! long arrives as an error for that line; the lines after it still arrive.
//!
//! On a terminal every line typed or pasted runs, in order: lines typed ahead while a command
//! runs are kept by the editor for its next line (rustyline's `buffer-redux`), and a paste of
//! several lines (bracketed paste) arrives as the lines it holds, never as one value.

use super::lines::{BadLine, Line, LineReader};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use std::collections::VecDeque;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long `close` waits for the line editor to save its history and give the terminal back.
const EDITOR_GRACE: Duration = Duration::from_millis(100);

/// Lines read ahead of the node when stdin is a pipe: enough to batch bulk input.
const PIPE_BUFFER: usize = 4096;

/// The stream of input lines.
pub struct Input {
    /// Lines in the order they were read: one a message from a pipe, all of a paste at once
    /// from a terminal.
    lines: mpsc::Receiver<Vec<Line>>,
    /// Lines of the last message not yet taken.
    pending: VecDeque<Line>,
    /// Terminal mode: tells the editor a line was handled, so the prompt returns after the output.
    handled: Option<std_mpsc::Sender<()>>,
    editor: Option<JoinHandle<()>>,
    /// The terminal's settings before the editor changed them.
    #[cfg(unix)]
    terminal: Option<nix::sys::termios::Termios>,
}

impl Input {
    /// Starts reading stdin, lines of at most `max_line` bytes. On a terminal the line editor
    /// loads and saves its history in `history`; without one, the terminal's lines are read
    /// as they come, byte for byte.
    pub fn spawn(history: Option<PathBuf>, max_line: usize) -> Input {
        if history.is_some() && std::io::stdin().is_terminal() {
            #[cfg(unix)]
            let terminal = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
            let (tx, lines) = mpsc::channel(1);
            let (handled, handled_rx) = std_mpsc::channel();
            let editor = std::thread::spawn(move || edit(tx, handled_rx, history, max_line));
            Input {
                lines,
                pending: VecDeque::new(),
                handled: Some(handled),
                editor: Some(editor),
                #[cfg(unix)]
                terminal,
            }
        } else {
            let (tx, lines) = mpsc::channel(PIPE_BUFFER);
            std::thread::spawn(move || read_pipe(&tx, max_line));
            Input {
                lines,
                pending: VecDeque::new(),
                handled: None,
                editor: None,
                #[cfg(unix)]
                terminal: None,
            }
        }
    }

    /// The next line, or `None` at the end of input (or Ctrl-C / Ctrl-D on a terminal).
    pub async fn next(&mut self) -> Option<Line> {
        if self.pending.is_empty() {
            self.pending = self.lines.recv().await?.into();
        }
        self.pending.pop_front()
    }

    /// Lines already read and waiting, at most `max`, without waiting for more: a script that
    /// pipes many commands gets them handled in batches.
    pub fn ready(&mut self, max: usize) -> Vec<Line> {
        let mut lines = Vec::new();
        while lines.len() < max {
            if self.pending.is_empty() {
                match self.lines.try_recv() {
                    Ok(more) => self.pending = more.into(),
                    Err(_) => break,
                }
            }
            lines.extend(self.pending.pop_front());
        }
        lines
    }

    /// The lines taken so far have been handled and their output printed: once all of what
    /// the terminal sent is, the editor shows its prompt again.
    pub fn handled(&self) {
        if let (Some(handled), true) = (&self.handled, self.pending.is_empty()) {
            let _ = handled.send(());
        }
    }

    /// Stops reading; on a terminal lets the editor save its history and restore the terminal.
    /// An editor still waiting for a key (the node was stopped by a signal) is not waited for:
    /// the terminal's settings are put back here and the thread ends with the process, as does
    /// a thread blocked reading a pipe.
    pub fn close(mut self) {
        self.handled = None;
        self.lines.close();
        let Some(editor) = self.editor.take() else {
            return;
        };
        let deadline = Instant::now() + EDITOR_GRACE;
        while !editor.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if editor.is_finished() {
            let _ = editor.join();
            return;
        }
        #[cfg(unix)]
        if let Some(terminal) = &self.terminal {
            let now = nix::sys::termios::SetArg::TCSANOW;
            let _ = nix::sys::termios::tcsetattr(std::io::stdin(), now, terminal);
        }
        eprintln!();
    }
}

/// Whether standard input is closed, unreadable, or /dev/null: what a service gets (systemd's
/// default, `nohup`, a background job of a script), where no command will ever arrive.
pub fn stdin_is_absent() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let stdin = match std::io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => std::fs::File::from(fd),
            Err(_) => return true,
        };
        let readable = nix::fcntl::fcntl(&stdin, nix::fcntl::FcntlArg::F_GETFL)
            .map(|flags| {
                let mode =
                    nix::fcntl::OFlag::from_bits_truncate(flags) & nix::fcntl::OFlag::O_ACCMODE;
                mode != nix::fcntl::OFlag::O_WRONLY
            })
            .unwrap_or(false);
        let null = std::fs::metadata("/dev/null");
        match (stdin.metadata(), null) {
            (Ok(input), Ok(null)) => {
                !readable || (input.dev() == null.dev() && input.ino() == null.ino())
            }
            _ => true,
        }
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Reads lines from a pipe until its end, a read error, or the receiver closing.
fn read_pipe(tx: &mpsc::Sender<Vec<Line>>, max_line: usize) {
    let mut stdin = std::io::stdin().lock();
    let mut reader = LineReader::new(max_line);
    while let Ok(Some(line)) = reader.next(&mut stdin) {
        if tx.blocking_send(vec![line]).is_err() {
            break;
        }
    }
}

/// The terminal reader: a prompt, line editing and history; waits until what it sent is handled.
fn edit(
    tx: mpsc::Sender<Vec<Line>>,
    handled: std_mpsc::Receiver<()>,
    history: Option<PathBuf>,
    max_line: usize,
) {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(error) => {
            tracing::warn!("No line editing ({error}); reading plain lines");
            return read_pipe(&tx, max_line);
        }
    };
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    loop {
        let lines = match editor.readline("> ") {
            Ok(text) => split_paste(&text, max_line),
            Err(ReadlineError::Io(error)) if error.kind() == std::io::ErrorKind::InvalidData => {
                vec![Err(BadLine::NotUtf8)]
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(error) => {
                tracing::warn!("Cannot read the terminal: {error}");
                break;
            }
        };
        for line in lines.iter().flatten() {
            if !line.trim().is_empty() {
                let _ = editor.add_history_entry(line.as_str());
            }
        }
        if tx.blocking_send(lines).is_err() || handled.recv().is_err() {
            break;
        }
    }
    if let Some(path) = &history {
        if let Err(error) = editor.save_history(path) {
            tracing::debug!(%error, "history not saved");
        }
    }
}

/// The lines of what the editor returned: one typed line, or every line of a paste (the editor
/// returns a bracketed paste of several lines as one text with `\n` between them).
fn split_paste(text: &str, max_line: usize) -> Vec<Line> {
    text.split('\n')
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .map(|line| match line.len() > max_line {
            true => Err(BadLine::TooLong { max: max_line }),
            false => Ok(line.to_string()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paste_of_several_lines_becomes_those_lines() {
        let lines = split_paste("add a 1\nadd b 2\r\nget a", 100);
        assert_eq!(
            lines,
            vec![
                Ok("add a 1".to_string()),
                Ok("add b 2".to_string()),
                Ok("get a".to_string())
            ]
        );
        assert_eq!(split_paste("get a", 100), vec![Ok("get a".to_string())]);
    }

    #[test]
    fn each_pasted_line_has_its_own_limit() {
        let lines = split_paste("add a 1\nadd b 0123456789", 10);
        assert_eq!(
            lines,
            vec![Ok("add a 1".to_string()), Err(BadLine::TooLong { max: 10 })]
        );
    }
}
