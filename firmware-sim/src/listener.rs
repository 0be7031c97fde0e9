//! Serving a device over byte streams: frame reading with the size cap, the
//! request loop, and the stdio, UNIX socket and loopback TCP listeners.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::firmware::Device;
use crate::protocol::{self, DELIMITER, MAX_FRAME, Status};

/// One device shared by every connection (and by in-process transports). It
/// may be empty: a device that is off, or that failed to boot.
#[derive(Clone, Default)]
pub struct SharedDevice(Arc<Mutex<Option<Device>>>);

impl SharedDevice {
    /// Shares `device`.
    pub fn new(device: Device) -> Self {
        SharedDevice(Arc::new(Mutex::new(Some(device))))
    }

    fn lock(&self) -> MutexGuard<'_, Option<Device>> {
        // A panic while holding the lock cannot leave the device half-changed
        // in a way that matters: its durable state is in flash.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Handles one frame; `None` if there is no device or it lost power.
    pub fn handle_frame(&self, frame: &[u8]) -> Option<Vec<u8>> {
        self.lock().as_mut().and_then(|d| d.handle_frame(frame))
    }

    /// Puts `device` in place (a reboot), returning the previous one.
    pub fn replace(&self, device: Option<Device>) -> Option<Device> {
        std::mem::replace(&mut *self.lock(), device)
    }

    /// Takes the device out (to power it off).
    pub fn take(&self) -> Option<Device> {
        self.lock().take()
    }

    /// Runs `f` on the device, if there is one.
    pub fn with<R>(&self, f: impl FnOnce(&mut Device) -> R) -> Option<R> {
        self.lock().as_mut().map(f)
    }
}

/// What a frame reader found.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadFrame {
    /// A frame's bytes, without the delimiter.
    Frame(Vec<u8>),
    /// A frame longer than [`MAX_FRAME`]; its bytes were dropped.
    Oversize,
}

/// Reads 0x00-delimited frames, holding at most [`MAX_FRAME`] bytes of any one.
pub struct FrameReader<R> {
    inner: BufReader<R>,
}

impl<R: Read> FrameReader<R> {
    /// Reads frames from `inner`.
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner: BufReader::new(inner),
        }
    }

    /// The next non-empty frame, or `None` at end of stream (a partial frame
    /// at the end is dropped).
    pub fn read_frame(&mut self) -> io::Result<Option<ReadFrame>> {
        let mut frame = Vec::new();
        let mut oversize = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(None);
            }
            let end = buf.iter().position(|&b| b == DELIMITER);
            let take = end.unwrap_or(buf.len());
            if !oversize {
                frame.extend_from_slice(buf.get(..take).unwrap_or(&[]));
                if frame.len() > MAX_FRAME {
                    oversize = true;
                    frame = Vec::new();
                }
            }
            self.inner.consume(end.map_or(take, |e| e + 1));
            if end.is_some() {
                if oversize {
                    return Ok(Some(ReadFrame::Oversize));
                }
                if !frame.is_empty() {
                    return Ok(Some(ReadFrame::Frame(frame)));
                }
            }
        }
    }
}

/// Answers frames from `reader` on `writer` until end of stream or power loss.
pub fn serve_stream(
    device: &SharedDevice,
    reader: impl Read,
    mut writer: impl Write,
) -> io::Result<()> {
    let mut frames = FrameReader::new(reader);
    while let Some(frame) = frames.read_frame()? {
        let reply = match frame {
            ReadFrame::Frame(bytes) => device.handle_frame(&bytes),
            ReadFrame::Oversize => Some(protocol::refusal(0, Status::TooLarge)),
        };
        let Some(reply) = reply else {
            // The device lost power: hang up, as hardware would go silent.
            return Ok(());
        };
        writer.write_all(&reply)?;
        writer.flush()?;
    }
    Ok(())
}

/// Where a device serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    /// Frames on standard input, replies on standard output.
    Stdio,
    /// A UNIX socket at this path.
    Unix(PathBuf),
    /// A loopback TCP address.
    Tcp(SocketAddr),
}

/// Why a listen address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ListenError {
    /// Not one of the three forms.
    #[error("{0:?} is not a listen address; use unix:PATH, tcp:127.0.0.1:PORT or stdio")]
    Unknown(String),
    /// The TCP address does not parse.
    #[error("{0:?} is not a socket address; use tcp:127.0.0.1:PORT")]
    BadAddress(String),
    /// The TCP address is not loopback.
    #[error("{0} is not a loopback address; a device serves only this machine (use 127.0.0.1)")]
    NotLoopback(SocketAddr),
}

impl FromStr for Listen {
    type Err = ListenError;
    fn from_str(s: &str) -> Result<Self, ListenError> {
        if s == "stdio" {
            return Ok(Listen::Stdio);
        }
        if let Some(path) = s.strip_prefix("unix:").filter(|p| !p.is_empty()) {
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        if let Some(addr) = s.strip_prefix("tcp:") {
            let addr: SocketAddr = addr
                .parse()
                .map_err(|_| ListenError::BadAddress(addr.to_string()))?;
            if !addr.ip().is_loopback() {
                return Err(ListenError::NotLoopback(addr));
            }
            return Ok(Listen::Tcp(addr));
        }
        Err(ListenError::Unknown(s.to_string()))
    }
}

/// Serves `device` at `listen`, calling `ready` with the bound address
/// (`unix:PATH` or `tcp:IP:PORT`) once connections are accepted. Socket
/// listeners serve each connection on its own thread and never return unless
/// accepting fails; stdio returns at end of input.
pub fn serve(device: &SharedDevice, listen: &Listen, ready: impl FnOnce(&str)) -> io::Result<()> {
    match listen {
        Listen::Stdio => {
            ready("stdio");
            serve_stream(device, io::stdin().lock(), io::stdout().lock())
        }
        Listen::Unix(path) => {
            if path.exists() {
                if !is_stale_socket(path) {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!(
                            "{} already exists; remove it if no device is serving there",
                            path.display()
                        ),
                    ));
                }
                std::fs::remove_file(path)?;
            }
            let listener = UnixListener::bind(path)?;
            ready(&format!("unix:{}", path.display()));
            for conn in listener.incoming() {
                let conn = conn?;
                let reader = conn.try_clone()?;
                spawn_connection(device, reader, conn);
            }
            Ok(())
        }
        Listen::Tcp(addr) => {
            let listener = TcpListener::bind(addr)?;
            ready(&format!("tcp:{}", listener.local_addr()?));
            for conn in listener.incoming() {
                let conn = conn?;
                conn.set_nodelay(true)?;
                let reader = conn.try_clone()?;
                spawn_connection(device, reader, conn);
            }
            Ok(())
        }
    }
}

/// A socket file that nothing listens on (left by a device that was killed).
fn is_stale_socket(path: &std::path::Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
    is_socket
        && std::os::unix::net::UnixStream::connect(path)
            .is_err_and(|e| e.kind() == io::ErrorKind::ConnectionRefused)
}

fn spawn_connection<S: Read + Send + 'static, W: Write + Send + 'static>(
    device: &SharedDevice,
    reader: S,
    writer: W,
) {
    let device = device.clone();
    std::thread::spawn(move || {
        // A connection that fails only ends itself; the device is unharmed.
        let _ = serve_stream(&device, reader, writer);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(bytes: &[u8]) -> Vec<ReadFrame> {
        let mut r = FrameReader::new(bytes);
        let mut out = Vec::new();
        while let Some(f) = r.read_frame().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn splits_skips_empty_and_drops_partial() {
        assert_eq!(
            frames(&[1, 2, 0, 0, 0, 3, 0, 4]),
            vec![ReadFrame::Frame(vec![1, 2]), ReadFrame::Frame(vec![3])]
        );
    }

    #[test]
    fn oversize_is_dropped_and_reading_resumes() {
        let mut bytes = vec![7u8; MAX_FRAME + 10];
        bytes.push(0);
        bytes.extend_from_slice(&[5, 0]);
        assert_eq!(
            frames(&bytes),
            vec![ReadFrame::Oversize, ReadFrame::Frame(vec![5])]
        );
        let mut exact = vec![7u8; MAX_FRAME];
        exact.push(0);
        assert_eq!(frames(&exact), vec![ReadFrame::Frame(vec![7u8; MAX_FRAME])]);
    }

    #[test]
    fn listen_addresses() {
        assert_eq!("stdio".parse::<Listen>(), Ok(Listen::Stdio));
        assert_eq!(
            "unix:/tmp/d.sock".parse::<Listen>(),
            Ok(Listen::Unix("/tmp/d.sock".into()))
        );
        assert!(matches!(
            "tcp:127.0.0.1:0".parse::<Listen>(),
            Ok(Listen::Tcp(_))
        ));
        assert!(matches!(
            "tcp:0.0.0.0:80".parse::<Listen>(),
            Err(ListenError::NotLoopback(_))
        ));
        assert!(matches!(
            "tcp:nope".parse::<Listen>(),
            Err(ListenError::BadAddress(_))
        ));
        assert!(matches!(
            "unix:".parse::<Listen>(),
            Err(ListenError::Unknown(_))
        ));
    }
}
