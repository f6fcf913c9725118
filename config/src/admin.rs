//! `[admin]`: the listener an operator's tools read while Sluice runs: Prometheus
//! metrics, liveness, readiness and a status document. Off unless the table is there.

use std::net::SocketAddr;

use anyhow::{Result, bail};
use schemars::JsonSchema;
use serde::Deserialize;

use crate::{Secret, SecretRef};

#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Address and port, such as `127.0.0.1:9464`.
    pub listen: SocketAddr,
    /// A token every request must carry as `Authorization: Bearer <token>`; required
    /// when `listen` is reachable from other machines.
    pub token: Option<SecretRef>,
}

impl AdminConfig {
    /// Refuses a listener other machines can reach without a token: the figures name
    /// the destinations, their endpoints' errors and the files read.
    pub fn validate(&self) -> Result<()> {
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            bail!(
                "admin.listen: {} can be reached from other machines; set admin.token = {{ env = \"...\" }} (or file), or listen on 127.0.0.1",
                self.listen
            );
        }
        Ok(())
    }

    /// The token's value, when there is one; an error names `admin.token`, never a value.
    pub fn resolve_token(&self) -> Result<Option<Secret>> {
        self.token
            .as_ref()
            .map(|token| {
                let value = token
                    .resolve()
                    .map_err(|e| anyhow::anyhow!("admin.token: {e}"))?;
                // No `Authorization` header could carry it: the listener would be shut.
                if value.expose().is_empty()
                    || value.expose().chars().any(|c| c.is_whitespace() || c.is_control())
                {
                    anyhow::bail!(
                        "admin.token: {token} is empty or holds a space or a control character, which no bearer token can carry"
                    );
                }
                Ok(value)
            })
            .transpose()
    }
}
