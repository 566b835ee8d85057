//! Vault's username templates (`sdk/helper/template`): the Go `text/template` subset engines
//! use to name the users they create, such as
//! `{{ printf "v-%s-%s-%s" (.DisplayName | truncate 8) (random 20) (unix_time) | truncate 63 }}`.
//!
//! Supported: text, `{{ ... }}` actions with `{{-`/`-}}` trimming, pipelines (`a | b 1`: the
//! piped value becomes the last argument), parenthesised pipelines, fields of the data
//! (`.DisplayName`), string (`"..."`, `` `...` ``) and integer literals, `printf` (`%s`, `%d`,
//! `%v`, `%q`, `%%`) and every function of Vault's helper: `random`, `truncate`,
//! `truncate_sha256`, `uppercase`, `lowercase`, `replace`, `sha256`, `base64`,
//! `decode_base64`, `hex`, `decode_hex`, `unix_time`, `unix_time_millis`, `timestamp`, `uuid`,
//! `glob`. Control structures (`if`, `range`, `with`) and variables are refused at parse time.

use std::collections::BTreeMap;

use base64::Engine;

/// A template error, worded as Vault's helper words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is empty.
    #[error("missing template")]
    Missing,
    /// The template does not parse.
    #[error("unable to parse template: template: template:{line}: {message}")]
    Parse {
        /// 1-based line of the fault.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A function or field failed while the template ran.
    #[error("unable to apply template: template: template:{line}: {message}")]
    Apply {
        /// 1-based line of the action.
        line: usize,
        /// What failed.
        message: String,
    },
}

/// One argument or pipeline stage operand.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Field(String),
    Dot,
    Str(String),
    Int(i64),
    Call(String),
    Pipeline(Box<Pipeline>),
}

/// `operand args...`.
#[derive(Debug, Clone, PartialEq)]
struct Command {
    head: Operand,
    args: Vec<Operand>,
}

/// `command | command ...`.
#[derive(Debug, Clone, PartialEq)]
struct Pipeline {
    commands: Vec<Command>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action { line: usize, pipeline: Pipeline },
}

/// A parsed template: render it with [`UsernameTemplate::generate`].
#[derive(Debug, Clone, PartialEq)]
pub struct UsernameTemplate {
    nodes: Vec<Node>,
}

/// A value while the template runs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
}

impl Value {
    fn text(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

const FUNCTIONS: &[&str] = &[
    "printf",
    "random",
    "truncate",
    "truncate_sha256",
    "uppercase",
    "lowercase",
    "replace",
    "sha256",
    "base64",
    "decode_base64",
    "hex",
    "decode_hex",
    "unix_time",
    "unix_time_millis",
    "timestamp",
    "uuid",
    "glob",
];

/// A tokenizer over one action's text.
struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Field(String),
    Dot,
    Str(String),
    Int(i64),
    Pipe,
    Open,
    Close,
}

impl Lexer<'_> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError::Parse {
            line: self.line,
            message: message.into(),
        })
    }

    fn tokens(mut self) -> Result<Vec<Token>, TemplateError> {
        let mut out = Vec::new();
        while let Some(&c) = self.chars.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' => {
                    self.chars.next();
                }
                '|' => {
                    self.chars.next();
                    out.push(Token::Pipe);
                }
                '(' => {
                    self.chars.next();
                    out.push(Token::Open);
                }
                ')' => {
                    self.chars.next();
                    out.push(Token::Close);
                }
                '"' => {
                    self.chars.next();
                    out.push(Token::Str(self.quoted()?));
                }
                '`' => {
                    self.chars.next();
                    let mut s = String::new();
                    loop {
                        match self.chars.next() {
                            Some('`') => break,
                            Some(c) => s.push(c),
                            None => return self.fail("unterminated raw quoted string"),
                        }
                    }
                    out.push(Token::Str(s));
                }
                '.' => {
                    self.chars.next();
                    let name = self.word();
                    out.push(if name.is_empty() {
                        Token::Dot
                    } else {
                        Token::Field(name)
                    });
                }
                '$' => return self.fail("variables are not supported in username templates"),
                c if c == '-' || c.is_ascii_digit() => {
                    let mut s = String::new();
                    s.push(c);
                    self.chars.next();
                    s.push_str(&self.word());
                    match s.parse::<i64>() {
                        Ok(n) => out.push(Token::Int(n)),
                        Err(_) => return self.fail(format!("bad number syntax: {s:?}")),
                    }
                }
                c if c.is_alphabetic() || c == '_' => {
                    out.push(Token::Ident(self.word()));
                }
                other => return self.fail(format!("unexpected {other:?} in command")),
            }
        }
        Ok(out)
    }

    fn word(&mut self) -> String {
        let mut s = String::new();
        while let Some(&c) = self.chars.peek() {
            if c.is_alphanumeric() || c == '_' {
                s.push(c);
                self.chars.next();
            } else {
                break;
            }
        }
        s
    }

    /// A Go interpreted string literal (after the opening quote).
    fn quoted(&mut self) -> Result<String, TemplateError> {
        let mut s = String::new();
        loop {
            match self.chars.next() {
                Some('"') => return Ok(s),
                Some('\\') => match self.chars.next() {
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('\\') => s.push('\\'),
                    Some('"') => s.push('"'),
                    Some(other) => {
                        return self.fail(format!("unknown escape sequence: \\{other}"));
                    }
                    None => return self.fail("unterminated quoted string"),
                },
                Some('\n') | None => return self.fail("unterminated quoted string"),
                Some(c) => s.push(c),
            }
        }
    }
}

/// Parses tokens into a pipeline.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    line: usize,
}

impl Parser {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError::Parse {
            line: self.line,
            message: message.into(),
        })
    }

    fn pipeline(&mut self, nested: bool) -> Result<Pipeline, TemplateError> {
        let mut commands = Vec::new();
        loop {
            let mut operands = Vec::new();
            while let Some(t) = self.tokens.get(self.pos).cloned() {
                let operand = match t {
                    Token::Pipe => break,
                    Token::Close if nested => break,
                    Token::Close => return self.fail("unexpected \")\" in command"),
                    Token::Open => {
                        self.pos += 1;
                        let inner = self.pipeline(true)?;
                        if self.tokens.get(self.pos) != Some(&Token::Close) {
                            return self.fail("unclosed left paren");
                        }
                        Operand::Pipeline(Box::new(inner))
                    }
                    Token::Ident(name) => {
                        if matches!(
                            name.as_str(),
                            "if" | "else"
                                | "end"
                                | "range"
                                | "with"
                                | "define"
                                | "template"
                                | "block"
                                | "break"
                                | "continue"
                        ) {
                            return self
                                .fail(format!("{name:?} is not supported in username templates"));
                        }
                        match name.as_str() {
                            "true" | "false" | "nil" => {
                                return self.fail(format!(
                                    "{name:?} is not supported in username templates"
                                ));
                            }
                            _ if !FUNCTIONS.contains(&name.as_str()) => {
                                return self.fail(format!("function {name:?} not defined"));
                            }
                            _ => Operand::Call(name),
                        }
                    }
                    Token::Field(f) => Operand::Field(f),
                    Token::Dot => Operand::Dot,
                    Token::Str(s) => Operand::Str(s),
                    Token::Int(i) => Operand::Int(i),
                };
                self.pos += 1;
                operands.push(operand);
            }
            let mut it = operands.into_iter();
            let Some(head) = it.next() else {
                return self.fail("missing value for command");
            };
            commands.push(Command {
                head,
                args: it.collect(),
            });
            match self.tokens.get(self.pos) {
                Some(Token::Pipe) => self.pos += 1,
                _ => return Ok(Pipeline { commands }),
            }
        }
    }
}

impl UsernameTemplate {
    /// Parses `text`; an empty template is refused (`missing template`).
    pub fn parse(text: &str) -> Result<UsernameTemplate, TemplateError> {
        if text.is_empty() {
            return Err(TemplateError::Missing);
        }
        let mut nodes = Vec::new();
        let mut rest = text;
        let mut line = 1;
        while let Some(open) = rest.find("{{") {
            let mut before = &rest[..open];
            let mut inner_start = open + 2;
            if rest[inner_start..].starts_with("- ") {
                before = before.trim_end();
                inner_start += 1;
            }
            if !before.is_empty() {
                nodes.push(Node::Text(before.to_string()));
            }
            line += rest[..inner_start].matches('\n').count();
            let Some(close) = rest[inner_start..].find("}}") else {
                return Err(TemplateError::Parse {
                    line,
                    message: "unclosed action".into(),
                });
            };
            let mut inner = &rest[inner_start..inner_start + close];
            let mut after = &rest[inner_start + close + 2..];
            if inner.ends_with(" -") {
                inner = &inner[..inner.len() - 1];
                after = after.trim_start();
            }
            let tokens = Lexer {
                chars: inner.chars().peekable(),
                line,
            }
            .tokens()?;
            if tokens.is_empty() {
                return Err(TemplateError::Parse {
                    line,
                    message: "missing value for command".into(),
                });
            }
            let mut parser = Parser {
                tokens,
                pos: 0,
                line,
            };
            let pipeline = parser.pipeline(false)?;
            if parser.pos != parser.tokens.len() {
                return parser.fail("unexpected token in command");
            }
            nodes.push(Node::Action { line, pipeline });
            line += inner.matches('\n').count();
            rest = after;
        }
        if !rest.is_empty() {
            nodes.push(Node::Text(rest.to_string()));
        }
        Ok(UsernameTemplate { nodes })
    }

    /// Renders the template over `data` (the engine's metadata: `DisplayName`, `RoleName`,
    /// ...; a field not in it is an error, as for Go's structs). `fill` supplies random
    /// bytes for `random` and `uuid`.
    pub fn generate(
        &self,
        data: &BTreeMap<&str, String>,
        fill: &mut dyn FnMut(&mut [u8]),
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action { line, pipeline } => {
                    let mut run = Run {
                        data,
                        fill: &mut *fill,
                        line: *line,
                    };
                    out.push_str(&run.pipeline(pipeline)?.text());
                }
            }
        }
        Ok(out)
    }
}

struct Run<'a, 'f> {
    data: &'a BTreeMap<&'a str, String>,
    fill: &'f mut dyn FnMut(&mut [u8]),
    line: usize,
}

impl Run<'_, '_> {
    fn fail<T>(&self, message: impl Into<String>) -> Result<T, TemplateError> {
        Err(TemplateError::Apply {
            line: self.line,
            message: message.into(),
        })
    }

    fn pipeline(&mut self, p: &Pipeline) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for c in &p.commands {
            piped = Some(self.command(c, piped.take())?);
        }
        match piped {
            Some(v) => Ok(v),
            None => self.fail("empty pipeline"),
        }
    }

    fn operand(&mut self, o: &Operand) -> Result<Value, TemplateError> {
        match o {
            Operand::Str(s) => Ok(Value::Str(s.clone())),
            Operand::Int(i) => Ok(Value::Int(*i)),
            Operand::Dot => self.fail("the data as a whole cannot be printed"),
            Operand::Field(f) => match self.data.get(f.as_str()) {
                Some(v) => Ok(Value::Str(v.clone())),
                None => self.fail(format!("can't evaluate field {f}")),
            },
            Operand::Pipeline(p) => self.pipeline(p),
            Operand::Call(name) => self.call(name, Vec::new()),
        }
    }

    fn command(&mut self, c: &Command, piped: Option<Value>) -> Result<Value, TemplateError> {
        let mut args = Vec::with_capacity(c.args.len() + 1);
        for a in &c.args {
            args.push(self.operand(a)?);
        }
        args.extend(piped);
        match &c.head {
            Operand::Call(name) => self.call(name, args),
            other if args.is_empty() => self.operand(other),
            _ => self.fail("can't give argument to non-function"),
        }
    }

    fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
        let fail_call = |run: &Self, m: String| -> Result<Value, TemplateError> {
            run.fail(format!("error calling {name}: {m}"))
        };
        let want = |run: &Self, n: usize, args: &[Value]| -> Result<(), TemplateError> {
            if args.len() == n {
                Ok(())
            } else {
                run.fail(format!(
                    "wrong number of args for {name}: want {n} got {}",
                    args.len()
                ))
            }
        };
        let int = |run: &Self, v: &Value| -> Result<i64, TemplateError> {
            match v {
                Value::Int(i) => Ok(*i),
                other => run.fail(format!(
                    "wrong type for value; expected int; got {}",
                    other.text()
                )),
            }
        };
        let s = |v: &Value| v.text();
        Ok(match name {
            "printf" => {
                let Some((format, rest)) = args.split_first() else {
                    return self.fail("wrong number of args for printf: want at least 1 got 0");
                };
                Value::Str(printf(&s(format), rest))
            }
            "random" => {
                want(self, 1, &args)?;
                let n = int(self, &args[0])?;
                Value::Str(crate::random::base62_with(
                    usize::try_from(n).unwrap_or(0),
                    self.fill,
                ))
            }
            "truncate" | "truncate_sha256" => {
                want(self, 2, &args)?;
                let max = int(self, &args[0])?;
                let text = s(&args[1]);
                if name == "truncate" {
                    if max <= 0 {
                        return fail_call(self, format!("max length must be > 0 but was {max}"));
                    }
                    Value::Str(byte_prefix(&text, max as usize))
                } else {
                    if max <= 8 {
                        return fail_call(self, format!("max length must be > 8 but was {max}"));
                    }
                    let max = max as usize;
                    if text.len() <= max {
                        Value::Str(text)
                    } else {
                        let cut = max - 8;
                        let head = byte_prefix(&text, cut);
                        let hash = sha256_hex(text.as_bytes().get(head.len()..).unwrap_or(&[]));
                        Value::Str(format!("{head}{}", &hash[..8]))
                    }
                }
            }
            "uppercase" => {
                want(self, 1, &args)?;
                Value::Str(s(&args[0]).to_uppercase())
            }
            "lowercase" => {
                want(self, 1, &args)?;
                Value::Str(s(&args[0]).to_lowercase())
            }
            "replace" => {
                want(self, 3, &args)?;
                Value::Str(s(&args[2]).replace(&s(&args[0]), &s(&args[1])))
            }
            "sha256" => {
                want(self, 1, &args)?;
                Value::Str(sha256_hex(s(&args[0]).as_bytes()))
            }
            "base64" => {
                want(self, 1, &args)?;
                Value::Str(base64::engine::general_purpose::STANDARD.encode(s(&args[0])))
            }
            "decode_base64" => {
                want(self, 1, &args)?;
                match base64::engine::general_purpose::STANDARD.decode(s(&args[0])) {
                    Ok(b) => Value::Str(String::from_utf8_lossy(&b).into_owned()),
                    Err(e) => return fail_call(self, e.to_string()),
                }
            }
            "hex" => {
                want(self, 1, &args)?;
                Value::Str(hex::encode(s(&args[0])))
            }
            "decode_hex" => {
                want(self, 1, &args)?;
                match hex::decode(s(&args[0])) {
                    Ok(b) => Value::Str(String::from_utf8_lossy(&b).into_owned()),
                    Err(e) => return fail_call(self, e.to_string()),
                }
            }
            "unix_time" => {
                want(self, 0, &args)?;
                Value::Str(chrono::Utc::now().timestamp().to_string())
            }
            "unix_time_millis" => {
                want(self, 0, &args)?;
                Value::Str(chrono::Utc::now().timestamp_millis().to_string())
            }
            "timestamp" => {
                want(self, 1, &args)?;
                Value::Str(go_layout(&s(&args[0]), chrono::Utc::now()))
            }
            "uuid" => {
                want(self, 0, &args)?;
                let mut b = [0u8; 16];
                (self.fill)(&mut b);
                let h = hex::encode(b);
                Value::Str(format!(
                    "{}-{}-{}-{}-{}",
                    &h[0..8],
                    &h[8..12],
                    &h[12..16],
                    &h[16..20],
                    &h[20..32]
                ))
            }
            "glob" => {
                want(self, 2, &args)?;
                Value::Bool(crate::glob::glob_match(&s(&args[0]), &s(&args[1])))
            }
            other => return self.fail(format!("function {other:?} not defined")),
        })
    }
}

/// `t` formatted with a Go layout (`2006-01-02T15:04:05Z07:00`): the reference time's parts
/// are replaced by `t`'s; other text is kept.
fn go_layout(layout: &str, t: chrono::DateTime<chrono::Utc>) -> String {
    // Longest tokens first, so `2006` is not read as `2` + `006`.
    const TOKENS: &[(&str, &str)] = &[
        ("2006", "%Y"),
        ("Z07:00", "Z"),
        ("-07:00", "+00:00"),
        ("-0700", "+0000"),
        ("January", "%B"),
        ("Monday", "%A"),
        (".000000000", "%.9f"),
        (".000000", "%.6f"),
        (".000", "%.3f"),
        ("Jan", "%b"),
        ("Mon", "%a"),
        ("MST", "UTC"),
        ("01", "%m"),
        ("02", "%d"),
        ("15", "%H"),
        ("03", "%I"),
        ("04", "%M"),
        ("05", "%S"),
        ("06", "%y"),
        ("PM", "%p"),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (go, strf) in TOKENS {
            if let Some(after) = rest.strip_prefix(go) {
                if strf.starts_with('%') {
                    out.push_str(&t.format(strf).to_string());
                } else {
                    out.push_str(strf);
                }
                rest = after;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// The first `max` bytes of `s` as Go slices them, kept to whole characters.
fn byte_prefix(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s`, `%v`, `%d`, `%q`, `%%`; a missing
/// argument prints `%!s(MISSING)`, extra ones `%!(EXTRA ...)` as Go does.
fn printf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        match it.next() {
            None => out.push_str(&format!("%!{verb}(MISSING)")),
            Some(v) => match verb {
                's' | 'v' | 'd' => out.push_str(&v.text()),
                'q' => out.push_str(&format!("{:?}", v.text())),
                other => out.push_str(&format!("%!{other}({})", v.text())),
            },
        }
    }
    let extra: Vec<String> = it.map(|v| format!("string={}", v.text())).collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(buf: &mut [u8]) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (i * 7 % 62) as u8;
        }
    }

    fn data() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("DisplayName", "token-display-name-long".to_string()),
            ("RoleName", "readonly-role".to_string()),
        ])
    }

    fn render(t: &str) -> Result<String, TemplateError> {
        UsernameTemplate::parse(t)?.generate(&data(), &mut fixed)
    }

    #[test]
    fn postgres_default() {
        let t = r#"{{ printf "v-%s-%s-%s-%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 63 }}"#;
        let out = render(t).unwrap();
        let parts: Vec<&str> = out.split('-').collect();
        assert_eq!(parts[0], "v");
        assert_eq!(parts[1], "token");
        assert_eq!(&out[..20], "v-token-di-readonly-");
        assert_eq!(parts.len(), 6, "{out}");
        assert_eq!(parts[4].len(), 20);
        assert!(out.len() <= 63);
    }

    #[test]
    fn functions_and_trimming() {
        assert_eq!(
            render("{{ .RoleName | uppercase }}").unwrap(),
            "READONLY-ROLE"
        );
        assert_eq!(render("a  {{- \"x\" -}}  b").unwrap(), "axb");
        assert_eq!(
            render(r#"{{ replace "-" "_" .RoleName }}"#).unwrap(),
            "readonly_role"
        );
        assert_eq!(
            render("{{ .RoleName | truncate_sha256 10 }}").unwrap(),
            format!("re{}", &sha256_hex(b"adonly-role")[..8])
        );
        assert_eq!(render("{{ \"hi\" | base64 }}").unwrap(), "aGk=");
        assert_eq!(render("{{ \"hi\" | hex }}").unwrap(), "6869");
        assert_eq!(render("{{ uuid }}").unwrap().len(), 36);
        assert_eq!(render("x{{ random 5 }}").unwrap().len(), 6);
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-04T05:06:07Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        assert_eq!(
            go_layout("2006-01-02T15:04:05Z07:00", t),
            "2026-03-04T05:06:07Z"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(UsernameTemplate::parse(""), Err(TemplateError::Missing));
        assert!(matches!(
            render("{{ nope 1 }}"),
            Err(TemplateError::Parse { message, .. }) if message == "function \"nope\" not defined"
        ));
        assert!(matches!(
            render("{{ if .A }}x{{ end }}"),
            Err(TemplateError::Parse { .. })
        ));
        assert!(matches!(
            render("{{ .Nope }}"),
            Err(TemplateError::Apply { .. })
        ));
        let e = render("{{ .RoleName | truncate 0 }}")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("error calling truncate: max length must be > 0 but was 0"),
            "{e}"
        );
        assert!(matches!(
            render("{{ (random 2 }}"),
            Err(TemplateError::Parse { .. })
        ));
    }
}
