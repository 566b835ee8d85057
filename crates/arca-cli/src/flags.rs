//! Go-style command-line flags, parsed the way Go's `flag` package does.
//!
//! `-name=value`, `--name=value`, `-name value` and boolean `-name` all work; the first
//! argument that is not a flag (or a lone `-`, or after `--`) ends the flags.

use std::collections::BTreeMap;

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A boolean switch (`-force`, `-force=false`).
    Bool,
    /// A single value; the last one given wins.
    Str,
    /// A value that may be given several times (and, for some, comma-separated).
    List,
}

/// One flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Name without dashes.
    pub name: &'static str,
    /// What it takes.
    pub kind: Kind,
    /// Default value as text ("" for none).
    pub default: &'static str,
}

/// Shorthand to build a [`Spec`].
pub const fn flag(name: &'static str, kind: Kind, default: &'static str) -> Spec {
    Spec {
        name,
        kind,
        default,
    }
}

/// Flags every command that talks to the server accepts (Vault's "HTTP Options").
pub const HTTP: &[Spec] = &[
    flag("address", Kind::Str, ""),
    flag("agent-address", Kind::Str, ""),
    flag("ca-cert", Kind::Str, ""),
    flag("ca-path", Kind::Str, ""),
    flag("client-cert", Kind::Str, ""),
    flag("client-key", Kind::Str, ""),
    flag("namespace", Kind::Str, ""),
    flag("ns", Kind::Str, ""),
    flag("tls-server-name", Kind::Str, ""),
    flag("tls-skip-verify", Kind::Bool, "false"),
    flag("disable-redirects", Kind::Bool, "false"),
    flag("wrap-ttl", Kind::Str, ""),
    flag("policy-override", Kind::Bool, "false"),
    flag("header", Kind::List, ""),
    flag("mfa", Kind::List, ""),
    flag("non-interactive", Kind::Bool, "false"),
    flag("output-curl-string", Kind::Bool, "false"),
    flag("output-policy", Kind::Bool, "false"),
    flag("unlock-key", Kind::Str, ""),
];

/// The `-format` flag.
pub const FORMAT: Spec = flag("format", Kind::Str, "table");
/// The `-field` flag.
pub const FIELD: Spec = flag("field", Kind::Str, "");

/// A flag-parsing failure, printed as Go's `flag` package prints it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// An unknown flag.
    #[error("flag provided but not defined: -{0}")]
    Unknown(String),
    /// A flag that needs a value was last on the line.
    #[error("flag needs an argument: -{0}")]
    MissingValue(String),
    /// A value that does not parse, worded as `bao` words it (its flags wrap Go's `strconv`).
    #[error("{}", invalid_message(kind, value, name))]
    Invalid {
        /// `boolean` or `value`.
        kind: &'static str,
        /// The value given.
        value: String,
        /// The flag name.
        name: String,
    },
    /// `-h` / `-help`.
    #[error("help requested")]
    Help,
    /// A value the flag's own parser rejected, with that parser's message.
    #[error("invalid value {value:?} for flag -{name}: {message}")]
    Value {
        /// The value given.
        value: String,
        /// The flag name.
        name: String,
        /// Why it was rejected.
        message: String,
    },
}

/// The text of [`FlagError::Invalid`]: `bao`'s boolean flags and integer flags word it
/// differently.
fn invalid_message(kind: &str, value: &str, name: &str) -> String {
    if kind == "boolean" {
        format!(
            "invalid boolean value {value:?} for -{name}: strconv.ParseBool: parsing {value:?}: invalid syntax"
        )
    } else {
        format!(
            "invalid value {value:?} for flag -{name}: strconv.ParseInt: parsing {value:?}: invalid syntax"
        )
    }
}

/// Parsed flags plus the remaining positional arguments.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    defaults: BTreeMap<&'static str, &'static str>,
    /// The positional arguments after the flags.
    pub args: Vec<String>,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl Parsed {
    /// The flag's value (last given) or its default.
    pub fn str(&self, name: &str) -> String {
        match self.values.get(name).and_then(|v| v.last()) {
            Some(v) => v.clone(),
            None => self.defaults.get(name).copied().unwrap_or("").to_string(),
        }
    }

    /// Whether the flag was given on the command line.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A boolean flag's value.
    pub fn bool(&self, name: &str) -> bool {
        parse_bool(&self.str(name)).unwrap_or(false)
    }

    /// Every value given for a repeatable flag.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.values.get(name).cloned().unwrap_or_default()
    }
}

/// Parse `args` against `specs` (several slices may be combined by the caller).
pub fn parse(specs: &[Spec], args: &[String]) -> Result<Parsed, FlagError> {
    let mut out = Parsed::default();
    for s in specs {
        out.defaults.insert(s.name, s.default);
    }
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            i += 1;
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        let body = arg
            .strip_prefix("--")
            .unwrap_or_else(|| arg.strip_prefix('-').unwrap_or(arg));
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::Unknown(body.to_string()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        if name == "h" || name == "help" {
            return Err(FlagError::Help);
        }
        let spec = specs
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| FlagError::Unknown(name.to_string()))?;
        let value = match (spec.kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => {
                if parse_bool(&v).is_none() {
                    return Err(FlagError::Invalid {
                        kind: "boolean",
                        value: v,
                        name: name.to_string(),
                    });
                }
                v
            }
            (_, Some(v)) => v,
            (_, None) => {
                i += 1;
                match args.get(i) {
                    Some(v) => v.clone(),
                    None => return Err(FlagError::MissingValue(name.to_string())),
                }
            }
        };
        out.values.entry(spec.name).or_default().push(value);
        i += 1;
    }
    out.args = args[i..].to_vec();
    Ok(out)
}

/// Parse an integer flag value, with Go's error text on failure.
pub fn int_flag(p: &Parsed, name: &str) -> Result<i64, FlagError> {
    let v = p.str(name);
    v.parse::<i64>().map_err(|_| FlagError::Invalid {
        kind: "value",
        value: v.clone(),
        name: name.to_string(),
    })
}

/// An unsigned integer flag (`-min-quorum`, `-auto-join-port`) as `bao`'s `UintVar` parses it:
/// Go's `strconv.ParseUint(value, 0, 64)`, so `0x`, `0o`, `0b` and a leading `0` pick the base.
pub fn uint_flag(p: &Parsed, name: &str) -> Result<u64, FlagError> {
    let v = p.str(name);
    parse_go_uint(&v).map_err(|why| FlagError::Value {
        message: format!("strconv.ParseUint: parsing {v:?}: {why}"),
        value: v.clone(),
        name: name.to_string(),
    })
}

/// Go's `strconv.ParseUint(s, 0, 64)`; the error is `invalid syntax` or `value out of range`.
fn parse_go_uint(s: &str) -> Result<u64, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    let lower = s.to_ascii_lowercase();
    let (base, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // Underscores are allowed only with a base prefix, and only between digits.
    if digits.contains('_') {
        let prefixed = if base == 10 { "" } else { "0" };
        let whole = format!("{prefixed}{digits}");
        if base == 10 || whole.ends_with('_') || whole.contains("__") {
            return Err(SYNTAX);
        }
    }
    let digits: String = digits.chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return Err(SYNTAX);
    }
    let mut value: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(base).ok_or(SYNTAX)?;
        value = value
            .checked_mul(u64::from(base))
            .and_then(|v| v.checked_add(u64::from(d)))
            .ok_or("value out of range")?;
    }
    Ok(value)
}

/// A duration flag (`-ttl=1h`, `-ttl=90`) in nanoseconds; unset gives the default.
pub fn duration_flag(p: &Parsed, name: &str) -> Result<i128, FlagError> {
    let v = p.str(name);
    crate::duration::parse(&v).map_err(|message| FlagError::Value {
        value: v.clone(),
        name: name.to_string(),
        message,
    })
}

/// A repeatable `key=value` flag (`-metadata`, `-options`) as a sorted map.
pub fn map_flag(p: &Parsed, name: &str) -> Result<BTreeMap<String, String>, FlagError> {
    let mut out = BTreeMap::new();
    for v in p.list(name) {
        match v.split_once('=') {
            Some((k, val)) => {
                out.insert(k.trim().to_string(), val.trim().to_string());
            }
            None => {
                return Err(FlagError::Value {
                    message: format!("missing = in KV pair: {v:?}"),
                    value: v,
                    name: name.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// A repeatable string flag (`-policy`), every value trimmed, in the order given.
pub fn slice_flag(p: &Parsed, name: &str) -> Vec<String> {
    p.list(name).iter().map(|v| v.trim().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const SPECS: &[Spec] = &[
        flag("format", Kind::Str, "table"),
        flag("force", Kind::Bool, "false"),
        flag("f", Kind::Bool, "false"),
        flag("header", Kind::List, ""),
    ];

    #[test]
    fn go_flag_forms() {
        for form in [
            &["-format=json", "a"][..],
            &["--format=json", "a"][..],
            &["-format", "json", "a"][..],
            &["--format", "json", "a"][..],
        ] {
            let p = parse(SPECS, &s(form)).unwrap();
            assert_eq!(p.str("format"), "json");
            assert_eq!(p.args, s(&["a"]));
        }
        let p = parse(SPECS, &s(&["a"])).unwrap();
        assert_eq!(p.str("format"), "table");
        assert!(!p.is_set("format"));
    }

    #[test]
    fn first_non_flag_ends_flags() {
        let p = parse(SPECS, &s(&["-f", "path", "-format=json"])).unwrap();
        assert!(p.bool("f"));
        assert_eq!(p.args, s(&["path", "-format=json"]));
        let p = parse(SPECS, &s(&["--", "-force"])).unwrap();
        assert_eq!(p.args, s(&["-force"]));
        let p = parse(SPECS, &s(&["-", "x"])).unwrap();
        assert_eq!(p.args, s(&["-", "x"]));
    }

    #[test]
    fn errors_read_like_go() {
        let e = parse(SPECS, &s(&["-token=x"])).unwrap_err();
        assert_eq!(e.to_string(), "flag provided but not defined: -token");
        let e = parse(SPECS, &s(&["-format"])).unwrap_err();
        assert_eq!(e.to_string(), "flag needs an argument: -format");
        let e = parse(SPECS, &s(&["-force=maybe"])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid boolean value \"maybe\" for -force: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        let p = parse(SPECS, &s(&["-format=x"])).unwrap();
        assert_eq!(
            int_flag(&p, "format").unwrap_err().to_string(),
            "invalid value \"x\" for flag -format: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(parse(SPECS, &s(&["-h"])).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn uints_like_go() {
        let p = parse(&[flag("n", Kind::Str, "0")], &s(&["-n=0x10"])).unwrap();
        assert_eq!(uint_flag(&p, "n").unwrap(), 16);
        assert_eq!(parse_go_uint("8200"), Ok(8200));
        assert_eq!(parse_go_uint("010"), Ok(8));
        assert_eq!(parse_go_uint("0b101"), Ok(5));
        assert_eq!(parse_go_uint("0x_1f"), Ok(31));
        assert_eq!(parse_go_uint("0"), Ok(0));
        assert_eq!(parse_go_uint("1_000"), Err("invalid syntax"));
        assert_eq!(parse_go_uint("-1"), Err("invalid syntax"));
        assert_eq!(parse_go_uint("+1"), Err("invalid syntax"));
        assert_eq!(parse_go_uint(""), Err("invalid syntax"));
        assert_eq!(parse_go_uint("abc"), Err("invalid syntax"));
        assert_eq!(
            parse_go_uint("99999999999999999999"),
            Err("value out of range")
        );
        let p = parse(&[flag("n", Kind::Str, "0")], &s(&["-n=abc"])).unwrap();
        assert_eq!(
            uint_flag(&p, "n").unwrap_err().to_string(),
            "invalid value \"abc\" for flag -n: strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
    }

    #[test]
    fn bools_and_lists() {
        let p = parse(SPECS, &s(&["-force=false", "-header=a", "-header", "b"])).unwrap();
        assert!(!p.bool("force"));
        assert!(p.is_set("force"));
        assert_eq!(p.list("header"), s(&["a", "b"]));
    }
}
