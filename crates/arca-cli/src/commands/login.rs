//! `login`: authenticate with a token or an auth method and store the token.

use arca_api::{Secret, SecretAuth};
use serde_json::{Map, Value, json};
use zeroize::Zeroizing;

use super::logical::{parse_kv_args, setup};
use crate::ctx::Ctx;
use crate::flags::{FIELD, FORMAT, HTTP, Kind, Spec, flag};
use crate::output::{Format, wrap_with_padding};

const FLAGS: &[Spec] = &[
    flag("method", Kind::Str, "token"),
    flag("path", Kind::Str, ""),
    flag("no-store", Kind::Bool, "false"),
    flag("no-print", Kind::Bool, "false"),
    flag("token-only", Kind::Bool, "false"),
];

const TOKEN_PROMPT_ERROR: &str = "An error occurred attempting to ask for a token. The raw error message is shown below, but usually this is because you attempted to pipe a value into the command or you are executing outside of a terminal (tty). If you want to pipe the value, pass \"-\" as the argument to read from stdin. The raw error was: ";

/// `arca login [TOKEN]` / `arca login -method=userpass username=... password=...`.
pub fn run(ctx: &mut Ctx<'_, '_>, args: &[String]) -> i32 {
    let help = "Usage: arca login [options] [AUTH K=V...]\n\n  Authenticates users or machines to the server using the provided arguments.";
    let (p, format, client) = or_exit!(setup(ctx, &[HTTP, &[FORMAT, FIELD], FLAGS], args, help));
    let token_only = p.bool("token-only");
    let no_store = p.bool("no-store") || token_only;
    let field = if token_only {
        "token".to_string()
    } else {
        p.str("field")
    };
    if no_store && p.bool("no-print") {
        ctx.err("-no-store and -no-print cannot be used together");
        return 1;
    }
    let method = p.str("method").trim_matches('/').to_string();
    let method = if method.is_empty() {
        "token".to_string()
    } else {
        method
    };
    let path = match p.str("path") {
        s if s.is_empty() => format!("{method}/"),
        s => s,
    };
    if !matches!(
        method.as_str(),
        "token" | "userpass" | "ldap" | "approle" | "oidc" | "jwt" | "cert" | "kubernetes"
    ) {
        let text = wrap_with_padding(
            &format!(
                "Unknown auth method: {method}. Use \"arca auth list\" to see the complete list of auth methods. Additionally, some auth methods are only available via the HTTP API."
            ),
            0,
        );
        ctx.err(&text);
        return 1;
    }
    let mut args = p.args.clone();
    if method == "token"
        && let Some(first) = args.first()
        && !first.contains('=')
    {
        args[0] = format!("token={first}");
    }
    let config = match parse_kv_args(ctx, &args) {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&format!("Error parsing configuration: {e}"));
            return 1;
        }
    };
    let mount = path.trim_matches('/');
    // As bao's handlers: a method that would prompt for a secret refuses instead.
    let non_interactive = p.bool("non-interactive");
    let result = if method == "token" {
        token_auth(ctx, &client, &config)
    } else if method == "oidc" {
        super::login_jwt::oidc_auth(ctx, &client.with_token(""), &config, mount)
    } else if method == "jwt" {
        super::login_jwt::jwt_auth(ctx, &client.with_token(""), &config, mount)
    } else if method == "cert" {
        super::login_cert::cert_auth(ctx, &client.with_token(""), &config, mount)
    } else if method == "kubernetes" {
        super::login_kubernetes::kubernetes_auth(
            ctx,
            &client.with_token(""),
            &config,
            mount,
            non_interactive,
        )
    } else if method == "approle" {
        let client = client.with_token("");
        approle_auth(ctx, &client, &config, mount)
    } else {
        let client = client.with_token("");
        password_auth(ctx, &client, &config, mount, non_interactive)
    };
    let secret = match result {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error authenticating: {}", e.as_str()));
            return 2;
        }
    };
    let Some(token) = secret
        .auth
        .as_ref()
        .map(|a| Zeroizing::new(a.client_token.clone()))
    else {
        ctx.err("Error authenticating: no auth information was returned");
        return 2;
    };
    if !no_store {
        let Some(file) = ctx.token_file() else {
            ctx.err("Error storing token: no home directory");
            return 2;
        };
        if let Err(e) = std::fs::write(&file, token.as_bytes()) {
            ctx.err(&format!("Error storing token: {e}"));
            return 2;
        }
        if ctx.env_any(&["BAO_TOKEN", "VAULT_TOKEN"]).is_some() {
            let w = wrap_with_padding(
                "WARNING! The BAO_TOKEN environment variable is set! The value of this variable will take precedence; if this is unwanted please unset BAO_TOKEN or update its value accordingly.",
                0,
            );
            ctx.err(&format!("{w}\n"));
        }
    } else if !token_only {
        let w = wrap_with_padding(
            "The token was not stored in token helper. Set the BAO_TOKEN environment variable or pass the token below with each request to Vault.",
            0,
        );
        ctx.err(&format!("{w}\n"));
    }
    if p.bool("no-print") {
        return 0;
    }
    if !field.is_empty() {
        return ctx.output_field(format, &secret, &field);
    }
    if format == Format::Table {
        let w = wrap_with_padding(
            "Success! You are now authenticated. The token information displayed below is already stored in the token helper. You do NOT need to run \"arca login\" again. Future OpenBao requests will automatically use this token.",
            0,
        );
        ctx.out(&format!("{w}\n"));
    }
    ctx.output_secret(format, &secret)
}

fn str_list(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    })
}

/// The token method: look the token up and present it like a login answer.
fn token_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
) -> Result<Secret, Zeroizing<String>> {
    let mut token = config
        .get("token")
        .and_then(Value::as_str)
        .map(|t| Zeroizing::new(t.to_string()))
        .unwrap_or_default();
    if token.is_empty() {
        token = ctx
            .prompt_secret_stderr("Token (will be hidden): ")
            .map_err(|e| Zeroizing::new(format!("{TOKEN_PROMPT_ERROR}{e}")))?;
    }
    let token = Zeroizing::new(token.trim().to_string());
    if token.is_empty() {
        return Err(Zeroizing::new(
            "a token must be passed to auth, please view the help for more information".into(),
        ));
    }
    let looked = ctx
        .block_on(
            client
                .clone()
                .with_token(token.as_str())
                .read("auth/token/lookup-self"),
        )
        .map_err(|e| Zeroizing::new(format!("error looking up token: {e}")))?
        .ok_or_else(|| Zeroizing::new("empty response from lookup-self".to_string()))?;
    let data = looked.data.unwrap_or_default();
    let policies = str_list(data.get("policies"));
    let auth = SecretAuth {
        client_token: token.to_string().into(),
        accessor: data
            .get("accessor")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        token_policies: policies.clone(),
        identity_policies: str_list(data.get("identity_policies")),
        policies,
        lease_duration: data.get("ttl").and_then(Value::as_i64).unwrap_or(0),
        renewable: data
            .get("renewable")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        ..SecretAuth::default()
    };
    Ok(Secret {
        auth: Some(auth),
        ..Secret::default()
    })
}

/// The userpass/ldap methods: `PUT auth/<mount>/login/<username>`.
fn password_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
    non_interactive: bool,
) -> Result<Secret, Zeroizing<String>> {
    let mount = login_mount(config, default_mount);
    let Some(username) = config.get("username").and_then(Value::as_str) else {
        return Err(Zeroizing::new("'username' must be specified".into()));
    };
    let password = secret_arg(
        ctx,
        config.get("password"),
        "Password (will be hidden): ",
        non_interactive.then_some("'password' must be specified and refusing to pull from stdin"),
    )?;
    let body = json!({ "password": password.as_str() });
    let path = format!("auth/{mount}/login/{username}");
    write_login(ctx, client, &path, body)
}

/// The AppRole method (an Arca addition: `bao login` has no handler for it):
/// `PUT auth/<mount>/login` with `role_id` and, when given, `secret_id` (a role without
/// `bind_secret_id` needs none).
fn approle_auth(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    config: &Map<String, Value>,
    default_mount: &str,
) -> Result<Secret, Zeroizing<String>> {
    let mount = login_mount(config, default_mount);
    let Some(role_id) = config.get("role_id").and_then(Value::as_str) else {
        return Err(Zeroizing::new("'role_id' must be specified".into()));
    };
    let mut body = json!({ "role_id": role_id });
    if let Some(secret_id) = config.get("secret_id").and_then(Value::as_str) {
        body["secret_id"] = Value::from(secret_id);
    }
    let path = format!("auth/{mount}/login");
    write_login(ctx, client, &path, body)
}

/// The mount a method logs in at: `mount=` when given, else the `-path` (or the method's
/// name), without slashes.
pub(super) fn login_mount(config: &Map<String, Value>, default_mount: &str) -> String {
    config
        .get("mount")
        .and_then(Value::as_str)
        .unwrap_or(default_mount)
        .trim_matches('/')
        .to_string()
}

/// Writes a login request; a login that answers nothing is an error, as in bao.
pub(super) fn write_login(
    ctx: &mut Ctx<'_, '_>,
    client: &arca_api::Client,
    path: &str,
    body: Value,
) -> Result<Secret, Zeroizing<String>> {
    ctx.block_on(client.write(path, Some(body)))
        .map_err(|e| Zeroizing::new(e.to_string()))?
        .ok_or_else(|| Zeroizing::new("empty response from credential provider".to_string()))
}

/// A secret a method takes as `K=V`, else asked for on the terminal (hidden) — or, under
/// `-non-interactive` (`refusal` given), refused with the method's text.
pub(super) fn secret_arg(
    ctx: &mut Ctx<'_, '_>,
    given: Option<&Value>,
    prompt: &str,
    refusal: Option<&str>,
) -> Result<Zeroizing<String>, Zeroizing<String>> {
    match (given.and_then(Value::as_str), refusal) {
        (Some(v), _) => Ok(Zeroizing::new(v.to_string())),
        (None, Some(text)) => Err(Zeroizing::new(text.to_string())),
        (None, None) => ctx.prompt_secret_stderr(prompt).map_err(Zeroizing::new),
    }
}
