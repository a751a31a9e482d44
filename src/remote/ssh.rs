//! The SSH transport (ssh2/libssh2). Placeholder until the transport lands.

use super::{ExecOutput, Process, RemoteError, Transport};
use crate::config::{Config, HostConfig};

pub struct SshTransport {
    name: String,
}

impl SshTransport {
    pub fn connect(_cfg: &Config, host: &HostConfig) -> Result<Self, RemoteError> {
        Err(RemoteError::Session(format!(
            "{}: ssh transport not built yet",
            host.name
        )))
    }
}

impl Transport for SshTransport {
    fn host(&self) -> &str {
        &self.name
    }
    fn exec(
        &self,
        _command: &str,
        _stdin: &mut dyn std::io::Read,
        _progress: &mut dyn FnMut(u64),
    ) -> Result<ExecOutput, RemoteError> {
        unreachable!("never constructed")
    }
    fn spawn(&self, _command: &str) -> Result<Box<dyn Process>, RemoteError> {
        unreachable!("never constructed")
    }
}
