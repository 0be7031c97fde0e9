//! How a host reaches a device: one [`Transport`] trait, four ways.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use crate::listener::{FrameReader, ReadFrame, SharedDevice};
use crate::protocol::DELIMITER;

/// How long a socket transport waits for a reply.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a frame did not get a reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The operating system refused.
    #[error("{kind:?}: {message}")]
    Io {
        /// The error kind.
        kind: io::ErrorKind,
        /// Its message.
        message: String,
    },
    /// The device closed the link without replying (power lost, or it exited).
    #[error("the device closed the connection without replying; is it running?")]
    Closed,
    /// The device sent a reply longer than the frame limit.
    #[error("the device's reply is over the frame limit")]
    TooLarge,
    /// The bytes given hold no complete frame.
    #[error("no complete frame to send (a frame ends with 0x00)")]
    Incomplete,
    /// A TCP transport was pointed away from this machine.
    #[error("{0} is not a loopback address; devices are reached on 127.0.0.1 only")]
    NotLoopback(SocketAddr),
}

impl From<io::Error> for TransportError {
    fn from(e: io::Error) -> Self {
        TransportError::Io {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// Carries wire frames to a device and its replies back.
pub trait Transport: Send {
    /// Sends `frame` (one wire frame, ending in 0x00) and returns the
    /// device's next reply frame, without its delimiter.
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError>;
}

impl<T: Transport + ?Sized> Transport for Box<T> {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        (**self).transact(frame)
    }
}

/// A device in this process. Every frame is still encoded and decoded.
#[derive(Clone)]
pub struct InProcess {
    device: SharedDevice,
}

impl InProcess {
    /// Talks to `device`.
    pub fn new(device: SharedDevice) -> Self {
        InProcess { device }
    }
}

impl Transport for InProcess {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut frames = FrameReader::new(frame);
        let reply = match frames.read_frame()? {
            Some(ReadFrame::Frame(f)) => self.device.handle_frame(&f),
            Some(ReadFrame::Oversize) => Some(crate::protocol::refusal(
                0,
                crate::protocol::Status::TooLarge,
            )),
            None => return Err(TransportError::Incomplete),
        };
        let mut reply = reply.ok_or(TransportError::Closed)?;
        if reply.last() == Some(&DELIMITER) {
            reply.pop();
        }
        Ok(reply)
    }
}

/// A frame stream: write to one half, read replies from the other.
struct Duplex<R, W> {
    reader: FrameReader<R>,
    writer: W,
}

impl<R: Read, W: Write> Duplex<R, W> {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.writer.write_all(frame)?;
        self.writer.flush()?;
        match self.reader.read_frame()? {
            Some(ReadFrame::Frame(f)) => Ok(f),
            Some(ReadFrame::Oversize) => Err(TransportError::TooLarge),
            None => Err(TransportError::Closed),
        }
    }
}

/// A device process on a UNIX socket.
pub struct UnixSocket(Duplex<UnixStream, UnixStream>);

impl UnixSocket {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> Result<Self, TransportError> {
        let s = UnixStream::connect(path)?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(UnixSocket(Duplex {
            reader: FrameReader::new(s.try_clone()?),
            writer: s,
        }))
    }
}

impl Transport for UnixSocket {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.transact(frame)
    }
}

/// A device process on loopback TCP.
pub struct LoopbackTcp(Duplex<TcpStream, TcpStream>);

impl LoopbackTcp {
    /// Connects to `addr`, which must be a loopback address.
    pub fn connect(addr: SocketAddr) -> Result<Self, TransportError> {
        if !addr.ip().is_loopback() {
            return Err(TransportError::NotLoopback(addr));
        }
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(REPLY_TIMEOUT))?;
        Ok(LoopbackTcp(Duplex {
            reader: FrameReader::new(s.try_clone()?),
            writer: s,
        }))
    }
}

impl Transport for LoopbackTcp {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.transact(frame)
    }
}

/// A device process started as a child, spoken to over its stdin and stdout.
/// The child is killed when this is dropped.
pub struct StdioChild {
    child: Child,
    link: Duplex<ChildStdout, ChildStdin>,
}

impl StdioChild {
    /// Starts `command` (e.g. `armsledger-device serve --flash F --listen stdio`)
    /// with piped stdin and stdout.
    pub fn spawn(mut command: Command) -> Result<Self, TransportError> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TransportError::Closed);
        };
        Ok(StdioChild {
            child,
            link: Duplex {
                reader: FrameReader::new(stdout),
                writer: stdin,
            },
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Transport for StdioChild {
    fn transact(&mut self, frame: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.link.transact(frame)
    }
}

impl Drop for StdioChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
