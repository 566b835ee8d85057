//! The RabbitMQ management HTTP API, as far as the engine needs it: list users (to verify a
//! connection), create and delete a user, set its vhost and topic permissions.

use serde_json::json;
use zeroize::Zeroizing;

/// Why a call to the management API failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not get an answer (connection refused, bad URL, timeout).
    #[error("{0}")]
    Transport(String),
    /// The API answered with a status outside 2xx.
    #[error("Error: API responded with a {status}")]
    Status {
        /// `401 Unauthorized`, as Go's `http.Response.Status` reads.
        status: String,
        /// The answer's body.
        body: String,
    },
}

/// A management API client for one connection configuration.
pub struct Client {
    http: reqwest::Client,
    base: String,
    username: String,
    password: Zeroizing<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A path segment escaped as the management API wants it (`/` as `%2F`).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// A client for the API at `uri` (`http://host:15672`) as `username`.
    pub fn new(http: reqwest::Client, uri: &str, username: &str, password: &str) -> Client {
        Client {
            http,
            base: uri.trim_end_matches('/').to_string(),
            username: username.to_string(),
            password: Zeroizing::new(password.to_string()),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut rb = self
            .http
            .request(method, format!("{}/api/{path}", self.base))
            .basic_auth(&self.username, Some(self.password.as_str()));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send()
            .await
            .map_err(|e| ClientError::Transport(e.without_url().to_string()))
    }

    async fn expect_2xx(resp: reqwest::Response) -> Result<(), ClientError> {
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        let reason = status.canonical_reason().unwrap_or("");
        let body = resp.text().await.unwrap_or_default();
        Err(ClientError::Status {
            status: format!("{} {reason}", status.as_u16()),
            body,
        })
    }

    /// `GET /api/users`: whether the credentials may list users.
    pub async fn list_users(&self) -> Result<(), ClientError> {
        Self::expect_2xx(self.send(reqwest::Method::GET, "users", None).await?).await
    }

    /// `PUT /api/users/<name>` with a password and the role's tags (comma-separated).
    pub async fn put_user(
        &self,
        name: &str,
        password: &str,
        tags: &str,
    ) -> Result<(), ClientError> {
        let body = json!({"password": password, "tags": tags});
        let resp = self
            .send(
                reqwest::Method::PUT,
                &format!("users/{}", segment(name)),
                Some(body),
            )
            .await?;
        Self::expect_2xx(resp).await
    }

    /// `DELETE /api/users/<name>`; a user already gone is no error.
    pub async fn delete_user(&self, name: &str) -> Result<(), ClientError> {
        let resp = self
            .send(
                reqwest::Method::DELETE,
                &format!("users/{}", segment(name)),
                None,
            )
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        Self::expect_2xx(resp).await
    }

    /// `PUT /api/permissions/<vhost>/<user>`.
    pub async fn set_permissions(
        &self,
        vhost: &str,
        user: &str,
        configure: &str,
        write: &str,
        read: &str,
    ) -> Result<(), ClientError> {
        let body = json!({"configure": configure, "write": write, "read": read});
        let resp = self
            .send(
                reqwest::Method::PUT,
                &format!("permissions/{}/{}", segment(vhost), segment(user)),
                Some(body),
            )
            .await?;
        Self::expect_2xx(resp).await
    }

    /// `PUT /api/topic-permissions/<vhost>/<user>` for one exchange.
    pub async fn set_topic_permissions(
        &self,
        vhost: &str,
        user: &str,
        exchange: &str,
        write: &str,
        read: &str,
    ) -> Result<(), ClientError> {
        let body = json!({"exchange": exchange, "write": write, "read": read});
        let resp = self
            .send(
                reqwest::Method::PUT,
                &format!("topic-permissions/{}/{}", segment(vhost), segment(user)),
                Some(body),
            )
            .await?;
        Self::expect_2xx(resp).await
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn segments_escape_slashes() {
        assert_eq!(super::segment("/"), "%2F");
        assert_eq!(super::segment("a b/c"), "a%20b%2Fc");
        assert_eq!(super::segment("token-1.x"), "token-1.x");
    }
}
