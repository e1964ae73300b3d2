//! Load errors and warnings, each tied to a YAML path.

use std::fmt;

/// One problem in a configuration file: which file (`source`), where
/// (`plugins[0].config.targets[1].model.nmae`) and what. Messages never contain configured secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// YAML path inside the document; empty for whole-document problems (YAML syntax, I/O).
    pub path: String,
    pub message: String,
    /// The file name (or label given to `load_str`) the error belongs to.
    pub source: String,
}

/// Every error found while loading a file, not just the first.
///
/// `Display` prints one `source: path: message` per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.source.is_empty() {
            write!(f, "{}: ", self.source)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{}", self.message)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors and warnings during one load. Paths are relative to the document root; the
/// source label is prefixed when the result is handed out.
#[derive(Default)]
pub(crate) struct Diag {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

impl Diag {
    pub fn err(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: path.to_string(),
            message: message.into(),
            source: String::new(),
        });
    }

    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.warnings.push(ConfigError {
            path: path.to_string(),
            message: message.into(),
            source: String::new(),
        });
    }

    /// The standard warning for a valid Kong key that llmux accepts but does not act on.
    pub fn ignored(&mut self, path: &str) {
        self.warn(path, "is not implemented by llmux and is ignored");
    }

    /// The standard error for a valid Kong key or value that llmux refuses because ignoring it
    /// would change which requests are served or where they go.
    pub fn unsupported(&mut self, path: &str, what: &str) {
        self.err(path, format!("{what} is not supported yet by llmux"));
    }

    pub fn error_count(&self) -> usize {
        self.errors.len()
    }
}

/// Stamp the source label on everything collected.
pub(crate) fn with_source(source: &str, mut items: Vec<ConfigError>) -> Vec<ConfigError> {
    for e in &mut items {
        e.source = source.to_string();
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_one_line_per_error() {
        let mut d = Diag::default();
        d.err("a.b", "unknown field");
        d.err("", "bad");
        let errs = ConfigErrors(with_source("kong.yaml", d.errors));
        assert_eq!(
            errs.to_string(),
            "kong.yaml: a.b: unknown field\nkong.yaml: bad"
        );
    }
}
