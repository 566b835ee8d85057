//! go-plugin's handshake: the magic cookie, the environment the host sets, and the one stdout
//! line (`CORE|APP|NETWORK|ADDRESS|PROTOCOL|CERT`) a plugin prints once it listens.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use crate::error::PluginError;

/// The cookie variable Vault and OpenBao set for secrets/auth backend plugins.
pub const COOKIE_KEY: &str = "VAULT_BACKEND_PLUGIN";
/// The cookie value for backend plugins.
pub const COOKIE_VALUE: &str = "6669da05-b1c8-4f49-97d9-c8e5bed98e20";
/// go-plugin's core protocol version; always 1.
pub const CORE_PROTOCOL: u32 = 1;
/// The backend app protocol version this crate speaks (auto-mTLS, gRPC).
pub const APP_PROTOCOL: u32 = 5;
/// The variable holding the app protocol versions the host accepts (`"5"`, `"3,4"`).
pub const PROTOCOL_VERSIONS_ENV: &str = "PLUGIN_PROTOCOL_VERSIONS";
/// The variable holding the PEM of the host's one-off client certificate.
pub const CLIENT_CERT_ENV: &str = "PLUGIN_CLIENT_CERT";
/// The variable naming the directory for the plugin's unix sockets.
pub const SOCKET_DIR_ENV: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// The cookie variable Vault and OpenBao set for database plugins.
pub const DATABASE_COOKIE_KEY: &str = "VAULT_DATABASE_PLUGIN";
/// The cookie value for database plugins.
pub const DATABASE_COOKIE_VALUE: &str = "926a0820-aea2-be28-51d6-83cdf00e8edb";

/// What sets one family of go-plugin plugins apart (go-plugin's `HandshakeConfig` and the
/// versions of its plugin set): the magic cookie both sides check, the app protocol versions
/// the host accepts and the name the plugin has in its set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeConfig {
    /// The environment variable carrying the cookie.
    pub cookie_key: &'static str,
    /// The cookie's value.
    pub cookie_value: &'static str,
    /// The app protocol versions the host offers, in increasing order.
    pub versions: &'static [u32],
    /// The plugin's name in the set (`backend`, `database`).
    pub name: &'static str,
}

impl HandshakeConfig {
    /// The `PLUGIN_PROTOCOL_VERSIONS` value the host sets (`"5"`, `"5,6"`).
    pub fn versions_env(&self) -> String {
        self.versions
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Whether the host accepts the app protocol a plugin chose.
    pub fn accepts(&self, app: u32) -> bool {
        self.versions.contains(&app)
    }

    /// The versions as go-plugin's errors print them (`[5 6]`).
    pub fn versions_text(&self) -> String {
        let list: Vec<String> = self.versions.iter().map(u32::to_string).collect();
        format!("[{}]", list.join(" "))
    }
}

/// Secrets engine and auth method plugins: `VAULT_BACKEND_PLUGIN`, protocol 5.
pub const BACKEND_HANDSHAKE: HandshakeConfig = HandshakeConfig {
    cookie_key: COOKIE_KEY,
    cookie_value: COOKIE_VALUE,
    versions: &[APP_PROTOCOL],
    name: "backend",
};

/// Database plugins: `VAULT_DATABASE_PLUGIN`, protocol 5 (one database per process) or 6
/// (multiplexed: one database per `multiplex_id`), as OpenBao's host offers both.
pub const DATABASE_HANDSHAKE: HandshakeConfig = HandshakeConfig {
    cookie_key: DATABASE_COOKIE_KEY,
    cookie_value: DATABASE_COOKIE_VALUE,
    versions: &[5, 6],
    name: "database",
};

/// What a Go plugin prints when run by hand, without the cookie.
pub const NOT_A_PROGRAM_MESSAGE: &str = "This binary is a plugin. These are not meant to be executed directly.\n\
Please execute the program that consumes these plugins, which will\n\
load any plugins automatically\n";

/// The network of the plugin's listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A unix socket path.
    Unix,
    /// A `host:port` TCP address (go-plugin uses it on Windows).
    Tcp,
}

impl Network {
    /// The name on the handshake line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Network::Unix => "unix",
            Network::Tcp => "tcp",
        }
    }
}

/// The parsed handshake line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    /// The core protocol (must be 1).
    pub core: u32,
    /// The negotiated app protocol.
    pub app: u32,
    /// Listener network.
    pub network: Network,
    /// Listener address.
    pub address: String,
    /// Wire protocol (`grpc`).
    pub protocol: String,
    /// The plugin's TLS certificate (DER), when auto-mTLS is on.
    pub server_cert: Option<Vec<u8>>,
}

impl HandshakeLine {
    /// The line as the plugin prints it (without the newline).
    pub fn format(&self) -> String {
        let cert = self
            .server_cert
            .as_ref()
            .map(|c| STANDARD_NO_PAD.encode(c))
            .unwrap_or_default();
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.core,
            self.app,
            self.network.as_str(),
            self.address,
            self.protocol,
            cert
        )
    }

    /// Parses a line the way go-plugin's client does, refusing what it refuses.
    pub fn parse(line: &str) -> Result<HandshakeLine, PluginError> {
        let line = line.trim_end_matches(['\r', '\n']);
        let unrecognized =
            || PluginError::Handshake(format!("Unrecognized remote plugin message: {line}"));
        let parts: Vec<&str> = line.split('|').collect();
        if parts.len() < 4 {
            return Err(unrecognized());
        }
        let core: u32 = parts[0].parse().map_err(|_| unrecognized())?;
        if core != CORE_PROTOCOL {
            return Err(PluginError::Handshake(format!(
                "Incompatible core API version with plugin. Plugin version: {}, Core version: {}",
                parts[0], CORE_PROTOCOL
            )));
        }
        let app: u32 = parts[1].parse().map_err(|_| {
            PluginError::Handshake(format!("Error parsing protocol version: {:?}", parts[1]))
        })?;
        let network = match parts[2] {
            "unix" => Network::Unix,
            "tcp" => Network::Tcp,
            other => {
                return Err(PluginError::Handshake(format!(
                    "Unknown address type: {other}"
                )));
            }
        };
        let protocol = parts.get(4).copied().unwrap_or("netrpc").to_string();
        let server_cert = match parts.get(5) {
            Some(c) if c.len() > 50 => Some(
                STANDARD_NO_PAD
                    .decode(c.trim_end_matches('='))
                    .map_err(|e| {
                        PluginError::Handshake(format!("error parsing server cert: {e}"))
                    })?,
            ),
            _ => None,
        };
        Ok(HandshakeLine {
            core,
            app,
            network,
            address: parts[3].to_string(),
            protocol,
            server_cert,
        })
    }
}

/// Whether `versions` (the `PLUGIN_PROTOCOL_VERSIONS` value) offers `want`. An unset or empty
/// value offers every version, as go-plugin then falls back to its default.
pub fn offers_version(versions: Option<&str>, want: u32) -> bool {
    match versions {
        None => true,
        Some(v) if v.trim().is_empty() => true,
        Some(v) => v
            .split(',')
            .any(|p| p.trim().parse::<u32>().ok() == Some(want)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let line = HandshakeLine {
            core: 1,
            app: 5,
            network: Network::Unix,
            address: "/tmp/plugin123".into(),
            protocol: "grpc".into(),
            server_cert: Some(vec![7u8; 64]),
        };
        let text = line.format();
        assert!(text.starts_with("1|5|unix|/tmp/plugin123|grpc|"));
        assert!(!text.ends_with('='), "no base64 padding");
        assert_eq!(HandshakeLine::parse(&format!("{text}\n")).unwrap(), line);

        let e = HandshakeLine::parse("hello world").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unrecognized remote plugin message: hello world"
        );
        assert!(HandshakeLine::parse("2|5|unix|/x|grpc").is_err());
        let short = HandshakeLine::parse("1|5|tcp|127.0.0.1:1|grpc|abc").unwrap();
        assert_eq!(short.server_cert, None);
        assert_eq!(short.network, Network::Tcp);
    }

    #[test]
    fn handshake_configs() {
        assert_eq!(BACKEND_HANDSHAKE.versions_env(), "5");
        assert_eq!(DATABASE_HANDSHAKE.versions_env(), "5,6");
        assert_eq!(DATABASE_HANDSHAKE.versions_text(), "[5 6]");
        assert!(DATABASE_HANDSHAKE.accepts(6));
        assert!(!BACKEND_HANDSHAKE.accepts(6));
    }

    #[test]
    fn version_offers() {
        assert!(offers_version(Some("5"), 5));
        assert!(offers_version(Some("3, 4,5"), 5));
        assert!(!offers_version(Some("3,4"), 5));
        assert!(offers_version(None, 5));
    }
}
