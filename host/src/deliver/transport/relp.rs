//! RELP, the Reliable Event Logging Protocol of rsyslog (`imrelp`): on a stream, every
//! message is a command the receiver answers once it has taken it, so a request counts
//! as delivered when every one of its messages was answered `200`.
//!
//! Frames are `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. A session starts with `open`
//! (offering `relp_version=0` and `commands=syslog`), answered `rsp` with `200 OK`;
//! each message is `TXNR syslog LEN MESSAGE`, answered `TXNR rsp 6 200 OK`. The
//! receiver may announce `serverclose` at any time. (This follows librelp's documented
//! framing, the implementation `imrelp` uses.
//! Whether every RELP receiver answers in order is not confirmed, so an answer to
//! another transaction than the oldest outstanding one fails the exchange.)

use std::collections::VecDeque;
use std::io::{Error, ErrorKind};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Messages sent before their answers are read: librelp's default window.
const WINDOW: usize = 128;
/// Transaction numbers run from 1 to this, then start over at 1.
const MAX_TXNR: u32 = 999_999_999;
/// The longest answer read (a `rsp` carries a status and a few offers).
const MAX_ANSWER: usize = 64 * 1024;

/// What `open` offers.
const OFFERS: &str = concat!(
    "relp_version=0\nrelp_software=sluice,",
    env!("CARGO_PKG_VERSION"),
    "\ncommands=syslog"
);

/// One RELP session on a connection.
#[derive(Debug)]
pub struct Session {
    next_txnr: u32,
    /// Bytes read and not yet parsed.
    read: Vec<u8>,
}

/// A frame the receiver sent.
#[derive(Debug, PartialEq, Eq)]
struct Frame {
    txnr: u32,
    command: String,
    data: Vec<u8>,
}

impl Session {
    /// Opens a session on `stream`; an `Err` says why the receiver did not take it.
    pub async fn open<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S) -> std::io::Result<Self> {
        let mut session = Session {
            next_txnr: 1,
            read: Vec::new(),
        };
        let txnr = session.txnr();
        let mut open = Vec::new();
        write_frame(&mut open, txnr, "open", OFFERS.as_bytes());
        stream.write_all(&open).await?;
        stream.flush().await?;
        let answer = session.read_frame(stream).await?;
        session.expect_ok(&answer, txnr)?;
        Ok(session)
    }

    /// Sends the messages of `messages` (message i ends at `ends[i]`), a window at a
    /// time, until the receiver has answered every one `200`.
    pub async fn send<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        stream: &mut S,
        messages: &[u8],
        ends: &[u32],
    ) -> std::io::Result<()> {
        let mut start = 0usize;
        let mut frames = Vec::new();
        let mut outstanding = VecDeque::with_capacity(WINDOW);
        for window in ends.chunks(WINDOW) {
            frames.clear();
            for &end in window {
                let txnr = self.txnr();
                write_frame(&mut frames, txnr, "syslog", &messages[start..end as usize]);
                outstanding.push_back(txnr);
                start = end as usize;
            }
            stream.write_all(&frames).await?;
            stream.flush().await?;
            while let Some(txnr) = outstanding.pop_front() {
                let answer = self.read_frame(stream).await?;
                self.expect_ok(&answer, txnr)?;
            }
        }
        Ok(())
    }

    fn txnr(&mut self) -> u32 {
        let txnr = self.next_txnr;
        self.next_txnr = if txnr == MAX_TXNR { 1 } else { txnr + 1 };
        txnr
    }

    /// Checks that `answer` is a `200` to transaction `txnr`.
    fn expect_ok(&self, answer: &Frame, txnr: u32) -> std::io::Result<()> {
        let data = String::from_utf8_lossy(&answer.data);
        if answer.command == "serverclose" {
            return Err(Error::new(
                ErrorKind::ConnectionAborted,
                "the receiver closed the RELP session",
            ));
        }
        if answer.command != "rsp" || answer.txnr != txnr {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "expected the RELP answer to {txnr}, got `{} {}`",
                    answer.txnr, answer.command
                ),
            ));
        }
        match data.starts_with("200") {
            true => Ok(()),
            false => Err(Error::other(format!(
                "the receiver refused RELP transaction {txnr}: {}",
                data.lines().next().unwrap_or("")
            ))),
        }
    }

    /// The next frame the receiver sends.
    async fn read_frame<S: AsyncRead + Unpin>(&mut self, stream: &mut S) -> std::io::Result<Frame> {
        loop {
            if let Some((frame, used)) = parse_frame(&self.read)? {
                self.read.drain(..used);
                return Ok(frame);
            }
            if self.read.len() > MAX_ANSWER {
                return Err(Error::new(
                    ErrorKind::InvalidData,
                    "a RELP answer over 64 KiB",
                ));
            }
            if stream.read_buf(&mut self.read).await? == 0 {
                return Err(Error::new(
                    ErrorKind::UnexpectedEof,
                    "the receiver closed the connection",
                ));
            }
        }
    }
}

fn write_frame(out: &mut Vec<u8>, txnr: u32, command: &str, data: &[u8]) {
    out.extend_from_slice(format!("{txnr} {command} {}", data.len()).as_bytes());
    if !data.is_empty() {
        out.push(b' ');
        out.extend_from_slice(data);
    }
    out.push(b'\n');
}

/// A whole frame at the start of `bytes`, and its length; none while it is incomplete.
fn parse_frame(bytes: &[u8]) -> std::io::Result<Option<(Frame, usize)>> {
    let malformed = || Error::new(ErrorKind::InvalidData, "a malformed RELP frame");
    // The header: TXNR SP COMMAND SP DATALEN, then SP DATA LF or LF.
    let Some(header_end) = bytes
        .iter()
        .position(|&b| b == b'\n' || b == b' ')
        .and_then(|first| {
            let second = first + 1 + bytes[first + 1..].iter().position(|&b| b == b' ')?;
            let third = second
                + 1
                + bytes[second + 1..]
                    .iter()
                    .position(|&b| b == b' ' || b == b'\n')?;
            Some((first, second, third))
        })
    else {
        return match bytes.len() > 64 {
            true => Err(malformed()),
            false => Ok(None),
        };
    };
    let (first, second, third) = header_end;
    let number = |range: &[u8]| -> std::io::Result<usize> {
        std::str::from_utf8(range)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(malformed)
    };
    let txnr = u32::try_from(number(&bytes[..first])?).map_err(|_| malformed())?;
    let command = String::from_utf8(bytes[first + 1..second].to_vec()).map_err(|_| malformed())?;
    let len = number(&bytes[second + 1..third])?;
    let (data_start, end) = match (bytes[third], len) {
        (b'\n', 0) => (third, third),
        (b' ', len) => (third + 1, third + 1 + len),
        _ => return Err(malformed()),
    };
    if bytes.len() <= end {
        return Ok(None);
    }
    if bytes[end] != b'\n' {
        return Err(malformed());
    }
    let frame = Frame {
        txnr,
        command,
        data: bytes[data_start..end].to_vec(),
    };
    Ok(Some((frame, end + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_read_whole_or_not_at_all() {
        let bytes = b"2 rsp 6 200 OK\n0 serverclose 0\n";
        let (frame, used) = parse_frame(bytes).unwrap().unwrap();
        assert_eq!(
            (frame.txnr, frame.command.as_str(), &frame.data[..]),
            (2, "rsp", &b"200 OK"[..])
        );
        let (frame, rest) = parse_frame(&bytes[used..]).unwrap().unwrap();
        assert_eq!(
            (frame.txnr, frame.command.as_str(), frame.data.len()),
            (0, "serverclose", 0)
        );
        assert_eq!(used + rest, bytes.len());
        for cut in 0..used {
            assert_eq!(parse_frame(&bytes[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert!(parse_frame(b"x rsp 6 200 OK\n").is_err());
        assert!(parse_frame(b"2 rsp 2 200 OK\n").is_err());
    }

    #[test]
    fn a_message_frame_counts_its_bytes() {
        let mut out = Vec::new();
        write_frame(&mut out, 7, "syslog", "<14>1 é".as_bytes());
        assert_eq!(out, "7 syslog 8 <14>1 é\n".as_bytes());
    }

    /// A session against a receiver written from librelp's framing: open, two windows
    /// of messages, and a refusal.
    #[tokio::test]
    async fn a_session_opens_sends_and_reads_every_answer() {
        let (mut client, mut server) = tokio::io::duplex(1 << 20);
        let receiver = tokio::spawn(async move {
            let mut reader = Session {
                next_txnr: 1,
                read: Vec::new(),
            };
            let mut taken = Vec::new();
            loop {
                let Ok(frame) = reader.read_frame(&mut server).await else {
                    return taken;
                };
                let data = match frame.command.as_str() {
                    "open" => {
                        "200 OK\nrelp_version=0\nrelp_software=test\ncommands=syslog".to_owned()
                    }
                    "syslog" if frame.data == b"bad" => "500 no way".to_owned(),
                    _ => {
                        taken.push(String::from_utf8(frame.data).unwrap());
                        "200 OK".to_owned()
                    }
                };
                let mut answer = Vec::new();
                write_frame(&mut answer, frame.txnr, "rsp", data.as_bytes());
                server.write_all(&answer).await.unwrap();
            }
        });
        let mut session = Session::open(&mut client).await.unwrap();
        let messages: Vec<String> = (0..300)
            .map(|n| format!("<14>1 - - - - - - m{n}"))
            .collect();
        let mut ends = Vec::new();
        let mut joined = String::new();
        for message in &messages {
            joined.push_str(message);
            ends.push(joined.len() as u32);
        }
        session
            .send(&mut client, joined.as_bytes(), &ends)
            .await
            .unwrap();
        let refused = session.send(&mut client, b"bad", &[3]).await.unwrap_err();
        assert!(refused.to_string().contains("500 no way"), "{refused}");
        drop(client);
        assert_eq!(receiver.await.unwrap(), messages);
    }
}
