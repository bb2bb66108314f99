//! Why a configuration was refused: always the file, the key and the reason.

use std::io;

/// A configuration that cannot be used.
///
/// Every variant's message starts with the file; all but [`Io`](Self::Io)
/// name the dotted key (`trunk[1].allow[0]`, `sip.listen[0].certificate`),
/// and the TOML ones give `line:column` as well.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read the configuration: {error}")]
    Io {
        /// The file as given.
        file: String,
        /// What the operating system said.
        error: io::Error,
    },
    /// The text is not well-formed TOML.
    #[error("{file}:{line}:{column}: `{key}`: {reason}")]
    Syntax {
        /// The file (or origin) name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// Dotted key nearest to the error (the enclosing table at least).
        key: String,
        /// The TOML parser's message.
        reason: String,
    },
    /// Well-formed TOML that does not fit the configuration: an unknown or
    /// missing key, or a value of the wrong type.
    #[error("{file}:{line}:{column}: `{key}`: {reason}")]
    Type {
        /// The file (or origin) name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        column: usize,
        /// Dotted key of the offending value.
        key: String,
        /// The deserializer's message.
        reason: String,
    },
    /// A value of the right type that fails a semantic check.
    #[error("{file}: `{key}`: {reason}")]
    Invalid {
        /// The file (or origin) name.
        file: String,
        /// Dotted key of the offending value.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ConfigError {
    /// The file (or origin) the error is about.
    pub fn file(&self) -> &str {
        match self {
            ConfigError::Io { file, .. }
            | ConfigError::Syntax { file, .. }
            | ConfigError::Type { file, .. }
            | ConfigError::Invalid { file, .. } => file,
        }
    }

    /// The dotted key the error is about; none for [`Io`](Self::Io).
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Io { .. } => None,
            ConfigError::Syntax { key, .. }
            | ConfigError::Type { key, .. }
            | ConfigError::Invalid { key, .. } => Some(key),
        }
    }

    /// 1-based line and column, for TOML syntax and type errors.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        match self {
            ConfigError::Syntax { line, column, .. } | ConfigError::Type { line, column, .. } => {
                Some((*line, *column))
            }
            _ => None,
        }
    }
}
