//! Lines from standard input, read on a thread of their own: with line editing and history
//! (rustyline) on a terminal, plainly from a pipe or file. A line that is not UTF-8 or is too
//! long arrives as an error for that line; the lines after it still arrive.

use super::lines::{BadLine, Line, LineReader};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
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
    lines: mpsc::Receiver<Line>,
    /// Terminal mode: tells the editor a line was handled, so the prompt returns after the output.
    handled: Option<std_mpsc::Sender<()>>,
    editor: Option<JoinHandle<()>>,
    /// The terminal's settings before the editor changed them.
    #[cfg(unix)]
    terminal: Option<nix::sys::termios::Termios>,
}

impl Input {
    /// Starts reading stdin, lines of at most `max_line` bytes. On a terminal, history is
    /// loaded from and saved to `history`.
    pub fn spawn(history: Option<PathBuf>, max_line: usize) -> Input {
        if std::io::stdin().is_terminal() {
            #[cfg(unix)]
            let terminal = nix::sys::termios::tcgetattr(std::io::stdin()).ok();
            let (tx, lines) = mpsc::channel(1);
            let (handled, handled_rx) = std_mpsc::channel();
            let editor = std::thread::spawn(move || edit(tx, handled_rx, history, max_line));
            Input {
                lines,
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
                handled: None,
                editor: None,
                #[cfg(unix)]
                terminal: None,
            }
        }
    }

    /// The next line, or `None` at the end of input (or Ctrl-C / Ctrl-D on a terminal).
    pub async fn next(&mut self) -> Option<Line> {
        self.lines.recv().await
    }

    /// Lines already read and waiting, at most `max`, without waiting for more: a script that
    /// pipes many commands gets them handled in batches.
    pub fn ready(&mut self, max: usize) -> Vec<Line> {
        std::iter::from_fn(|| self.lines.try_recv().ok())
            .take(max)
            .collect()
    }

    /// The last line has been handled and its output printed.
    pub fn handled(&self) {
        if let Some(handled) = &self.handled {
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

/// Reads lines from a pipe until its end, a read error, or the receiver closing.
fn read_pipe(tx: &mpsc::Sender<Line>, max_line: usize) {
    let mut stdin = std::io::stdin().lock();
    let mut reader = LineReader::new(max_line);
    while let Ok(Some(line)) = reader.next(&mut stdin) {
        if tx.blocking_send(line).is_err() {
            break;
        }
    }
}

/// The terminal reader: a prompt, line editing and history; waits until each line is handled.
fn edit(
    tx: mpsc::Sender<Line>,
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
        let line = match editor.readline("> ") {
            Ok(line) if line.len() > max_line => Err(BadLine::TooLong { max: max_line }),
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                Ok(line)
            }
            Err(ReadlineError::Io(error)) if error.kind() == std::io::ErrorKind::InvalidData => {
                Err(BadLine::NotUtf8)
            }
            Err(ReadlineError::Interrupted | ReadlineError::Eof) => break,
            Err(error) => {
                tracing::warn!("Cannot read the terminal: {error}");
                break;
            }
        };
        if tx.blocking_send(line).is_err() || handled.recv().is_err() {
            break;
        }
    }
    if let Some(path) = &history {
        if let Err(error) = editor.save_history(path) {
            tracing::debug!(%error, "history not saved");
        }
    }
}
