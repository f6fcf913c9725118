//! `udp://`: one message per datagram (RFC 5426), on one socket connected to the
//! receiver. UDP confirms nothing: a message counts as delivered once the kernel took
//! it. A message longer than `max_datagram_bytes` is not cut (a cut JSON or CEF line
//! is a broken one) but refused, so it is dead-lettered with the reason, and counted.

use anyhow::Result;
use tokio::net::UdpSocket;

use crate::config::{DestinationConfig, SocketEndpoint};
use sluice_contract::types::Refusal;

#[derive(Debug)]
pub struct DatagramTransport {
    endpoint: SocketEndpoint,
    max_bytes: usize,
    /// Opened at the first send; dropped after an error, to resolve the name again.
    socket: tokio::sync::Mutex<Option<UdpSocket>>,
}

impl DatagramTransport {
    pub fn new(endpoint: SocketEndpoint, config: &DestinationConfig) -> Self {
        DatagramTransport {
            endpoint,
            max_bytes: config.max_datagram_bytes,
            socket: tokio::sync::Mutex::default(),
        }
    }

    /// Sends each message of `messages` (message i ends at `ends[i]`) as a datagram;
    /// returns the positions of those over the size limit, which were not sent, with
    /// why. An `Err` (the receiver's host said the port is closed, or no route) fails
    /// them all.
    pub async fn send(&self, messages: &[u8], ends: &[u32]) -> Result<Vec<Refusal>, String> {
        let mut socket = self.socket.lock().await;
        if socket.is_none() {
            *socket = Some(self.open().await.map_err(|e| self.failed(e))?);
        }
        let connected = socket.as_ref().expect("just opened");
        let mut too_large = Vec::new();
        let mut start = 0usize;
        for (position, &end) in ends.iter().enumerate() {
            let message = &messages[start..end as usize];
            start = end as usize;
            if message.len() > self.max_bytes {
                too_large.push(Refusal {
                    event: position as u32,
                    reason: format!(
                        "a message of {} bytes is over max_datagram_bytes ({}): UDP would cut it",
                        message.len(),
                        self.max_bytes
                    ),
                });
                continue;
            }
            if let Err(error) = connected.send(message).await {
                *socket = None;
                return Err(self.failed(error));
            }
        }
        Ok(too_large)
    }

    /// Resolves the receiver, for `sluice check --connect`: UDP has no connection.
    pub async fn probe(&self) -> Result<String, String> {
        let socket = self.open().await.map_err(|e| self.failed(e))?;
        let peer = socket.peer_addr().map_err(|e| self.failed(e))?;
        Ok(format!(
            "resolved to {peer} (UDP confirms nothing: whether a receiver listens is unknown)"
        ))
    }

    async fn open(&self) -> std::io::Result<UdpSocket> {
        let target = (self.endpoint.host.as_str(), self.endpoint.port);
        let address = tokio::net::lookup_host(target)
            .await?
            .next()
            .ok_or_else(|| std::io::Error::other("the name resolves to no address"))?;
        let local = match address {
            std::net::SocketAddr::V4(_) => "0.0.0.0:0",
            std::net::SocketAddr::V6(_) => "[::]:0",
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(address).await?;
        Ok(socket)
    }

    fn failed(&self, error: std::io::Error) -> String {
        format!(
            "udp://{}:{}: {error}",
            self.endpoint.host, self.endpoint.port
        )
    }
}
