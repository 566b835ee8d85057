//! Scripted API sequences: a [`Case`] is a list of [`Step`]s run in order on each server; the
//! two servers' answers to each step are compared by status and shape.

use std::collections::HashMap;

use serde_json::Value;

use crate::allowlist::AllowList;
use crate::error::ConformanceError;
use crate::servers::DevServer;
use crate::shape::compare;

/// Which token a step sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The dev root token (`root` on both servers).
    Root,
    /// No `X-Vault-Token` header.
    None,
    /// The value a previous step captured under this name.
    Var(String),
    /// This literal token.
    Literal(String),
}

/// One request of a case.
#[derive(Debug, Clone)]
pub struct Step {
    /// HTTP method (`LIST` included).
    pub method: String,
    /// API path under `/v1/`; `{name}` is replaced with a captured value.
    pub path: String,
    /// Which token to send.
    pub auth: Auth,
    /// JSON body; `{name}` inside strings is replaced with a captured value.
    pub body: Option<Value>,
    /// A raw body sent as is (for malformed input).
    pub raw_body: Option<String>,
    /// `Content-Type` header, when not the default.
    pub content_type: Option<String>,
    /// `(name, JSON pointer)`: values to remember from this step's answer.
    pub captures: Vec<(String, String)>,
    /// Compare the body shapes (status is always compared).
    pub compare_body: bool,
    /// Resend (for up to 10 s) until the answer has this status, for asynchronous operations.
    pub until_status: Option<u16>,
}

/// A new step `method path` with the root token.
pub fn step(method: &str, path: &str) -> Step {
    Step {
        method: method.to_string(),
        path: path.to_string(),
        auth: Auth::Root,
        body: None,
        raw_body: None,
        content_type: None,
        captures: Vec::new(),
        compare_body: true,
        until_status: None,
    }
}

impl Step {
    /// Sends this JSON body.
    pub fn body(mut self, body: Value) -> Step {
        self.body = Some(body);
        self
    }

    /// Sends this raw body.
    pub fn raw(mut self, body: &str) -> Step {
        self.raw_body = Some(body.to_string());
        self
    }

    /// Sends this `Content-Type`.
    pub fn content_type(mut self, ct: &str) -> Step {
        self.content_type = Some(ct.to_string());
        self
    }

    /// Sends no token.
    pub fn anonymous(mut self) -> Step {
        self.auth = Auth::None;
        self
    }

    /// Sends the token captured as `var`.
    pub fn token_var(mut self, var: &str) -> Step {
        self.auth = Auth::Var(var.to_string());
        self
    }

    /// Sends this literal token.
    pub fn token(mut self, token: &str) -> Step {
        self.auth = Auth::Literal(token.to_string());
        self
    }

    /// Remembers the value at `pointer` of the answer as `var`.
    pub fn capture(mut self, var: &str, pointer: &str) -> Step {
        self.captures.push((var.to_string(), pointer.to_string()));
        self
    }

    /// Resends until the answer has `status` (at most 10 s).
    pub fn until(mut self, status: u16) -> Step {
        self.until_status = Some(status);
        self
    }

    /// Compares the status only.
    pub fn status_only(mut self) -> Step {
        self.compare_body = false;
        self
    }
}

/// A named scripted sequence.
#[derive(Debug, Clone)]
pub struct Case {
    /// Name (used by the allow-list).
    pub name: String,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

/// A case named `name` with `steps`.
pub fn case(name: &str, steps: Vec<Step>) -> Case {
    Case {
        name: name.to_string(),
        steps,
    }
}

/// One server's answer to one step.
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Parsed body; `Null` when empty, a string when not JSON.
    pub body: Value,
}

/// A difference between the two servers' answers to one step.
#[derive(Debug, Clone)]
pub struct Difference {
    /// The allow-list entry that covers it, if any.
    pub allowed_by: Option<crate::allowlist::Entry>,
    /// Case name.
    pub case: String,
    /// Step index and request.
    pub step: String,
    /// `status` or a JSON pointer.
    pub pointer: String,
    /// What differs.
    pub detail: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} [{}] {}: {}",
            self.case, self.step, self.pointer, self.detail
        )
    }
}

fn substitute(text: &str, vars: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn substitute_value(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, vars)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, vars)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Sends one step to `server` with the variables it captured so far.
pub async fn send(
    client: &reqwest::Client,
    server: &DevServer,
    step: &Step,
    vars: &HashMap<String, String>,
) -> Result<Answer, ConformanceError> {
    let path = substitute(&step.path, vars);
    let method =
        reqwest::Method::from_bytes(step.method.as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut rb = client.request(method, format!("{}/v1/{path}", server.base));
    let token = match &step.auth {
        Auth::Root => Some("root".to_string()),
        Auth::None => None,
        Auth::Literal(t) => Some(t.clone()),
        Auth::Var(v) => Some(vars.get(v).cloned().unwrap_or_default()),
    };
    if let Some(t) = token {
        rb = rb.header("X-Vault-Token", t);
    }
    if let Some(ct) = &step.content_type {
        rb = rb.header("Content-Type", ct);
    }
    if let Some(raw) = &step.raw_body {
        rb = rb.body(raw.clone());
    } else if let Some(b) = &step.body {
        rb = rb.body(substitute_value(b, vars).to_string());
    }
    let resp = rb.send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Ok(Answer { status, body })
}

async fn send_until(
    client: &reqwest::Client,
    server: &DevServer,
    step: &Step,
    vars: &HashMap<String, String>,
) -> Result<Answer, ConformanceError> {
    let start = std::time::Instant::now();
    loop {
        let answer = send(client, server, step, vars).await?;
        match step.until_status {
            Some(want) if answer.status != want && start.elapsed().as_secs() < 10 => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            _ => return Ok(answer),
        }
    }
}

fn capture_into(
    case: &str,
    step: &Step,
    answer: &Answer,
    vars: &mut HashMap<String, String>,
) -> Result<(), ConformanceError> {
    for (name, pointer) in &step.captures {
        let value = answer
            .body
            .pointer(pointer)
            .ok_or_else(|| ConformanceError::Script {
                case: case.to_string(),
                detail: format!(
                    "{} {}: no {pointer} in {} answer {}",
                    step.method, step.path, answer.status, answer.body
                ),
            })?;
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vars.insert(name.clone(), text);
    }
    Ok(())
}

/// Runs `case` on both servers, step by step, and returns every difference, each with the
/// allow-list entry covering it (if any).
pub async fn run_case(
    case: &Case,
    arca: &DevServer,
    openbao: &DevServer,
    allow: &AllowList,
) -> Result<Vec<Difference>, ConformanceError> {
    let client = reqwest::Client::new();
    let mut arca_vars = HashMap::new();
    let mut bao_vars = HashMap::new();
    let mut diffs = Vec::new();
    for (i, step) in case.steps.iter().enumerate() {
        let a = send_until(&client, arca, step, &arca_vars).await?;
        let o = send_until(&client, openbao, step, &bao_vars).await?;
        let label = format!("#{i} {} {}", step.method, step.path);
        let mut push = |pointer: String, detail: String| {
            diffs.push(Difference {
                allowed_by: allow.allows(&case.name, &pointer).cloned(),
                case: case.name.clone(),
                step: label.clone(),
                pointer,
                detail,
            });
        };
        if a.status != o.status {
            push(
                "status".into(),
                format!(
                    "Arca {} {} vs OpenBao {} {}",
                    a.status, a.body, o.status, o.body
                ),
            );
            continue;
        }
        if step.compare_body {
            for d in compare(&a.body, &o.body) {
                push(d.pointer, d.detail);
            }
        }
        if (200..300).contains(&a.status) {
            capture_into(&case.name, step, &a, &mut arca_vars)?;
            capture_into(&case.name, step, &o, &mut bao_vars)?;
        }
    }
    Ok(diffs)
}
