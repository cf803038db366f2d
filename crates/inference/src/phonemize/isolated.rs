//! The parent side of the isolated phonemizer: one persistent child process
//! running [`super::worker::run_worker`], restarted after any failure.
//!
//! A request is written to the child's stdin and its reply awaited with a
//! deadline ([`WorkerCommand::deadline`]) on a channel fed by a reader thread
//! (std pipes have no read timeout). If the child dies (espeak-ng aborts on
//! some inputs), times out (it is killed) or answers garbage, that request
//! fails with a typed error, the failure is logged with the exit status, and
//! the next request starts a fresh child. The child's stderr is logged line
//! by line at `warn`.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::time::Duration;

use super::worker::{read_frame, write_frame, Reply, Request};
use super::{PhonemizeError, WorkerCommand};

/// A worker child process, started on first use and after each failure.
#[derive(Debug)]
pub(crate) struct IsolatedWorker {
    command: WorkerCommand,
    process: Mutex<Option<Process>>,
}

#[derive(Debug)]
struct Process {
    child: Child,
    stdin: ChildStdin,
    replies: Receiver<std::io::Result<Vec<u8>>>,
}

/// How a round trip went wrong.
enum Fault {
    /// The pipe closed: the child is gone or going.
    Gone,
    /// No answer before the deadline.
    Timeout(Duration),
    /// An answer that is not a reply.
    Garbage(String),
}

impl IsolatedWorker {
    pub(crate) fn new(command: WorkerCommand) -> Self {
        Self {
            command,
            process: Mutex::new(None),
        }
    }

    /// Phonemizes `text` in the child, starting it if needed.
    pub(crate) fn phonemize(
        &self,
        voice: &str,
        text: &str,
    ) -> Result<Vec<Vec<char>>, PhonemizeError> {
        let request = serde_json::to_vec(&Request {
            voice: voice.to_owned(),
            text: text.to_owned(),
        })
        .map_err(|e| PhonemizeError::WorkerProtocol(e.to_string()))?;
        let deadline = self.command.deadline(text);
        // A panic while holding the lock leaves at worst a child that the next
        // request's failure replaces.
        let mut guard = self.process.lock().unwrap_or_else(|p| p.into_inner());
        // A child that died between requests (killed from outside) is
        // replaced before it can fail an innocent request.
        if let Some(process) = guard.as_mut() {
            if !matches!(process.child.try_wait(), Ok(None)) {
                tracing::warn!(pid = process.child.id(), "espeak worker exited while idle");
                *guard = None;
            }
        }
        let process = match guard.as_mut() {
            Some(process) => process,
            None => guard.insert(Process::spawn(&self.command)?),
        };
        match process.round_trip(&request, deadline) {
            Ok(reply) => reply.into_result(),
            Err(fault) => {
                let process = guard.take();
                drop(guard);
                Err(match process {
                    Some(process) => process.fail(fault, &self.command),
                    None => PhonemizeError::WorkerProtocol("worker vanished".into()),
                })
            }
        }
    }
}

impl Process {
    fn spawn(command: &WorkerCommand) -> Result<Self, PhonemizeError> {
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| PhonemizeError::WorkerSpawn {
                program: command.program.clone(),
                source,
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PhonemizeError::WorkerProtocol(
                "worker pipes missing".into(),
            ));
        };
        let pid = child.id();
        let (tx, replies) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("espeak-reply".into())
            .spawn(move || read_replies(stdout, &tx))
            .and_then(|_| {
                std::thread::Builder::new()
                    .name("espeak-stderr".into())
                    .spawn(move || log_stderr(stderr, pid))
            });
        if let Err(source) = spawned {
            let _ = child.kill();
            let _ = child.wait();
            return Err(PhonemizeError::WorkerSpawn {
                program: command.program.clone(),
                source,
            });
        }
        tracing::debug!(pid, "espeak worker started");
        Ok(Self {
            child,
            stdin,
            replies,
        })
    }

    fn round_trip(&mut self, request: &[u8], deadline: Duration) -> Result<Reply, Fault> {
        write_frame(&mut self.stdin, request).map_err(|_| Fault::Gone)?;
        match self.replies.recv_timeout(deadline) {
            Ok(Ok(frame)) => serde_json::from_slice(&frame)
                .map_err(|e| Fault::Garbage(format!("undecodable reply: {e}"))),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::InvalidData => {
                Err(Fault::Garbage(e.to_string()))
            }
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => Err(Fault::Gone),
            Err(RecvTimeoutError::Timeout) => Err(Fault::Timeout(deadline)),
        }
    }

    /// Ends the child after `fault`, logs why, and names the request's error.
    fn fail(mut self, fault: Fault, command: &WorkerCommand) -> PhonemizeError {
        let pid = self.child.id();
        let program = command.program.display();
        match fault {
            Fault::Gone => {
                let status = self.reap();
                tracing::warn!(pid, %status, %program, "espeak worker died during a request; \
                    the request fails and the next one starts a new worker");
                PhonemizeError::WorkerCrashed {
                    status: status.to_string(),
                }
            }
            Fault::Timeout(after) => {
                let _ = self.child.kill();
                let status = self.reap();
                tracing::warn!(pid, ?after, %status, "espeak worker timed out and was killed");
                PhonemizeError::WorkerTimeout { after }
            }
            Fault::Garbage(detail) => {
                let _ = self.child.kill();
                let status = self.reap();
                tracing::warn!(pid, %detail, %status, "espeak worker answered garbage; killed");
                PhonemizeError::WorkerProtocol(detail)
            }
        }
    }

    /// Waits for a dying child (briefly, then kills it) and returns its status.
    fn reap(&mut self) -> ExitStatus {
        for _ in 0..50 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        match self.child.wait() {
            Ok(status) => status,
            Err(_) => std::os::unix::process::ExitStatusExt::from_raw(-1),
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_replies(mut stdout: impl Read, tx: &mpsc::Sender<std::io::Result<Vec<u8>>>) {
    loop {
        let frame = match read_frame(&mut stdout) {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(std::io::ErrorKind::UnexpectedEof.into()),
            Err(e) => Err(e),
        };
        let last = frame.is_err();
        if tx.send(frame).is_err() || last {
            return;
        }
    }
}

fn log_stderr(stderr: impl Read, pid: u32) {
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { return };
        tracing::warn!(pid, "espeak worker: {line}");
    }
}
