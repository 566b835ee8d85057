//! `login -method=oidc` (OpenBao's OIDC CLI handler: a local callback listener, the
//! provider's URL printed or opened in a browser, the callback finished at the server) and
//! `login -method=jwt` (an Arca addition: OpenBao's CLI has no jwt method; it posts `role`
//! and `jwt` to `auth/<mount>/login`).

use std::time::Duration;

use arca_api::Secret;
use serde_json::{Map, Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use zeroize::Zeroizing;

use super::operator::random_base62;
use crate::ctx::Ctx;

/// How long the CLI waits for the provider to send the browser back.
const CALLBACK_WAIT: Duration = Duration::from_secs(120);

const SUCCESS_HTML: &str = "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>OpenBao Authentication Succeeded</title></head><body><h1>Signed in via your OIDC provider</h1><p>You can now close this window and start using OpenBao.</p></body></html>";

fn fail(msg: impl Into<String>) -> Zeroizing<String> {
    Zeroizing::new(msg.into())
}

fn setting(config: &Map<String, Value>, name: &str, default: &str) -> String {
    config
        .get(name)
        .and_then(Value::as_str)
        .map_or_else(|| default.to_string(), str::to_string)
}

/// Go's `strconv.ParseBool`, with OpenBao's error for the OIDC settings.
fn parse_bool(config: &Map<String, Value>, name: &str) -> Result<bool, Zeroizing<String>> {
    let Some(v) = config.get(name).and_then(Value::as_str) else {
        return Ok(false);
    };
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(fail(format!(
            "failed to parse value for \"{name}\", err=strconv.ParseBool: parsing \"{v}\": invalid syntax"
        ))),
    }
}

/// `login -method=oidc [role=..] [mount=..] [listenaddress=..] [port=..] [callbackhost=..]
/// [callbackmethod=..] [callbackport=..] [skip_browser=..]`.
pub(super) fn oidc_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    let mount = super::login::login_mount(config, default_mount);
    let listen = setting(config, "listenaddress", "localhost");
    let port = setting(config, "port", "8250");
    let mode = setting(config, "callbackmode", "client");
    if !mode.is_empty() && mode != "client" {
        return Err(fail(format!(
            "callbackmode={mode} is not supported by this server; use client"
        )));
    }
    let host = setting(config, "callbackhost", "localhost");
    let method = setting(config, "callbackmethod", "http");
    let callback_port = setting(config, "callbackport", &port);
    let skip_browser = parse_bool(config, "skip_browser")?;
    parse_bool(config, "show_qr")?;
    let abort_on_error = parse_bool(config, "abort_on_error")?;
    let role = setting(config, "role", "");
    let client_nonce = random_base62(20).map_err(|e| fail(e.to_string()))?;
    let redirect_uri = format!("{method}://{host}:{callback_port}/oidc/callback");
    let body =
        json!({"role": role, "redirect_uri": redirect_uri, "client_nonce": client_nonce.as_str()});
    let answer = ctx
        .block_on(client.write(&format!("auth/{mount}/oidc/auth_url"), Some(body)))
        .map_err(|e| fail(e.to_string()))?;
    let auth_url = answer
        .as_ref()
        .and_then(|s| s.data.as_ref())
        .and_then(|d| d.get("auth_url"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if auth_url.is_empty() {
        return Err(fail(format!(
            "Unable to authorize role \"{role}\" with redirect_uri \"{redirect_uri}\". Check OpenBao logs for more information."
        )));
    }
    let listener = ctx
        .block_on(TcpListener::bind(format!("{listen}:{port}")))
        .map_err(|e| fail(format!("listen tcp {listen}:{port}: {e}")))?;
    if skip_browser {
        ctx.err_raw(&format!("Complete the login via your OIDC provider. Open the following link in your browser:\n\n    {auth_url}\n\n\n"));
    } else {
        ctx.err_raw(&format!("Complete the login via your OIDC provider. Launching browser to:\n\n    {auth_url}\n\n\n"));
        if let Err(e) = open_browser(&auth_url) {
            if abort_on_error {
                return Err(fail(format!(
                    "failed to launch the browser abort_on_error=true, err={e}"
                )));
            }
            ctx.err_raw(&format!("Error attempting to automatically open browser: '{e}'.\nPlease visit the authorization URL manually."));
        }
    }
    ctx.err_raw("Waiting for OIDC authentication to complete...\n");
    let wait = serve_callback(listener, client, &mount, &client_nonce);
    match ctx.block_on(async { tokio::time::timeout(CALLBACK_WAIT, wait).await }) {
        Ok(result) => result,
        Err(_) => Err(fail("timed out waiting for response from provider")),
    }
}

/// Opens `url` in the desktop's browser.
fn open_browser(url: &str) -> std::io::Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(|_| ())
}

/// Answers requests on the local listener until the provider sends the browser to
/// `/oidc/callback`; that request's state and code finish the login at the server.
async fn serve_callback(
    listener: TcpListener,
    client: &arca_api::Client,
    mount: &str,
    client_nonce: &str,
) -> Result<Secret, Zeroizing<String>> {
    loop {
        let (mut sock, _) = listener.accept().await.map_err(|e| fail(e.to_string()))?;
        let Some(target) = read_request_target(&mut sock).await else {
            continue;
        };
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        if path != "/oidc/callback" {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let params = query_params(query);
        let get = |k: &str| params.get(k).cloned().unwrap_or_default();
        let (state, code, id_token) = (get("state"), Zeroizing::new(get("code")), get("id_token"));
        let result = client
            .read_with_query(
                &format!("auth/{mount}/oidc/callback"),
                &[
                    ("state", &state),
                    ("code", &code),
                    ("id_token", &id_token),
                    ("client_nonce", client_nonce),
                ],
            )
            .await;
        let (page, outcome) = match result {
            Ok(Some(secret)) => (SUCCESS_HTML.to_string(), Ok(secret)),
            Ok(None) => (
                error_html("empty response from credential provider"),
                Err(fail("empty response from credential provider")),
            ),
            Err(e) => (error_html(&e.to_string()), Err(fail(e.to_string()))),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            page.len()
        );
        let _ = sock.write_all(head.as_bytes()).await;
        let _ = sock.write_all(page.as_bytes()).await;
        let _ = sock.shutdown().await;
        return outcome;
    }
}

fn error_html(detail: &str) -> String {
    let escaped = detail
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>OpenBao Authentication Failed</title></head><body><h1>Login error</h1><p>{escaped}</p></body></html>"
    )
}

/// The request target of an HTTP/1.1 request (its head read to the blank line).
async fn read_request_target(sock: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf);
    let mut first = head.lines().next()?.split_whitespace();
    let _method = first.next()?;
    Some(first.next()?.to_string())
}

fn query_params(query: &str) -> std::collections::HashMap<String, String> {
    match reqwest::Url::parse(&format!("http://localhost/?{query}")) {
        Ok(u) => u
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect(),
        Err(_) => std::collections::HashMap::new(),
    }
}

/// `login -method=jwt role=<role> jwt=<token> [mount=..]` (an Arca addition).
pub(super) fn jwt_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    let mount = super::login::login_mount(config, default_mount);
    let Some(jwt) = config.get("jwt").and_then(Value::as_str) else {
        return Err(fail("'jwt' must be specified"));
    };
    let mut body = json!({ "jwt": jwt });
    if let Some(role) = config.get("role").and_then(Value::as_str) {
        body["role"] = Value::from(role);
    }
    super::login::write_login(ctx, client, &format!("auth/{mount}/login"), body)
}
