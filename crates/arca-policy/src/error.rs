//! The error type of this crate: parse errors (with the line they were found on) and ACL
//! construction errors.

/// Everything that can go wrong while parsing a policy or building an ACL.
///
/// The texts follow OpenBao's where practical (`failed to parse policy: ...`), with the
/// 1-based line number of the offending construct when the input format gives one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The policy text is not valid HCL / JSON, or it is well-formed but breaks a policy rule.
    #[error("failed to parse policy: {}{message}", line_prefix(*.line))]
    Parse {
        /// 1-based line of the construct at fault, when known (JSON semantic errors have none).
        line: Option<usize>,
        /// What is wrong, in OpenBao's words where it has them.
        message: String,
    },
    /// The name is missing (empty after trimming).
    #[error("policy name must be provided")]
    EmptyName,
    /// `root` (in any spelling) cannot be written or parsed as a user policy.
    #[error("cannot update \"root\" policy")]
    ReservedName,
    /// An ACL was asked to combine `root` with other policies; OpenBao refuses this.
    #[error("other policies present along with root")]
    RootWithOthers,
}

fn line_prefix(line: Option<usize>) -> String {
    match line {
        Some(line) => format!("line {line}: "),
        None => String::new(),
    }
}

impl PolicyError {
    /// Builds a [`PolicyError::Parse`].
    pub(crate) fn parse(line: Option<usize>, message: impl Into<String>) -> Self {
        PolicyError::Parse {
            line,
            message: message.into(),
        }
    }

    /// The 1-based line number the error points at, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            PolicyError::Parse { line, .. } => *line,
            _ => None,
        }
    }
}
