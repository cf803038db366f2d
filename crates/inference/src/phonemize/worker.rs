//! The espeak worker process: the child side of the isolated phonemizer and
//! the wire format both sides share.
//!
//! A worker reads requests on stdin and answers each on stdout, in order.
//! Every message is a frame: a little-endian `u32` byte length (at most
//! [`MAX_FRAME_BYTES`]) followed by that many bytes of JSON — a [`Request`]
//! (`voice`, `text`) one way, a [`Reply`] the other. End of input ends the
//! worker. The host program exposes [`run_worker`] as a hidden subcommand
//! (`vocalis espeak-worker`); the parent side is `super::isolated`.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

use super::PhonemizeError;

/// Largest frame either side accepts, in bytes.
pub const MAX_FRAME_BYTES: usize = 4 << 20;

/// Address space a worker may map (`RLIMIT_AS`), in bytes: espeak needs a
/// few tens of MB, so a runaway allocation fails inside the child.
pub const WORKER_ADDRESS_SPACE_BYTES: u64 = 1 << 30;

/// One phonemization request.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Request {
    pub voice: String,
    pub text: String,
}

/// The answer to one [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Reply {
    /// Sentences of phonemes.
    Sentences(Vec<String>),
    /// `espeak_Initialize` failed with this code.
    Init(i32),
    /// The voice is unknown.
    UnknownVoice(String),
    /// espeak stopped advancing.
    Stalled,
    /// Any other error, as text.
    Failed(String),
}

impl Reply {
    fn from_result(result: Result<Vec<Vec<char>>, PhonemizeError>) -> Self {
        match result {
            Ok(sentences) => Self::Sentences(
                sentences
                    .into_iter()
                    .map(|s| s.into_iter().collect())
                    .collect(),
            ),
            Err(PhonemizeError::Init(code)) => Self::Init(code),
            Err(PhonemizeError::UnknownVoice(voice)) => Self::UnknownVoice(voice),
            Err(PhonemizeError::Stalled) => Self::Stalled,
            Err(other) => Self::Failed(other.to_string()),
        }
    }

    pub(crate) fn into_result(self) -> Result<Vec<Vec<char>>, PhonemizeError> {
        match self {
            Self::Sentences(s) => Ok(s.into_iter().map(|s| s.chars().collect()).collect()),
            Self::Init(code) => Err(PhonemizeError::Init(code)),
            Self::UnknownVoice(voice) => Err(PhonemizeError::UnknownVoice(voice)),
            Self::Stalled => Err(PhonemizeError::Stalled),
            Self::Failed(message) => Err(PhonemizeError::WorkerProtocol(message)),
        }
    }
}

/// Reads one frame; `None` at a clean end of input.
pub(crate) fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame of {len} bytes exceeds {MAX_FRAME_BYTES}"),
        ));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some(payload))
}

/// Writes one frame and flushes.
pub(crate) fn write_frame(output: &mut impl Write, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME_BYTES)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    output.write_all(&len.to_le_bytes())?;
    output.write_all(payload)?;
    output.flush()
}

fn invalid(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Answers requests from `input` on `output` with the in-process espeak-ng
/// until `input` ends. Text is phonemized as received (callers bound it).
pub fn serve(mut input: impl Read, mut output: impl Write) -> io::Result<()> {
    while let Some(frame) = read_frame(&mut input)? {
        let request: Request = serde_json::from_slice(&frame).map_err(invalid)?;
        let reply = Reply::from_result(super::phonemize(&request.text, &request.voice));
        write_frame(&mut output, &serde_json::to_vec(&reply).map_err(invalid)?)?;
    }
    Ok(())
}

/// The worker process's main: lowers its own resource limits (no core dumps,
/// [`WORKER_ADDRESS_SPACE_BYTES`] of address space), then [`serve`]s stdin
/// and stdout. Only call this in a process started for it.
pub fn run_worker() -> io::Result<()> {
    use rlimit::Resource;
    if let Err(error) = Resource::CORE.set(0, 0) {
        tracing::warn!(%error, "espeak worker: cannot disable core dumps");
    }
    let limit = WORKER_ADDRESS_SPACE_BYTES;
    if let Err(error) = Resource::AS.set(limit, limit) {
        tracing::warn!(%error, "espeak worker: cannot limit its address space");
    }
    serve(io::stdin().lock(), io::stdout().lock())
}
