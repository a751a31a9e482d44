//! Shell quoting: the one way a string from a user, a config or a host reaches a shell.

/// Why a string can't be passed to a shell at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a NUL byte cannot be passed to a shell")]
pub struct NulByte;

/// Quotes `s` for POSIX `sh` as one word: `'...'`, with each `'` written as `'\''`.
///
/// The result is safe whatever `s` holds (`;`, `$()`, backticks, newlines, quotes);
/// only NUL is refused, since no shell word can carry it.
pub fn quote(s: &str) -> Result<String, NulByte> {
    if s.contains('\0') {
        return Err(NulByte);
    }
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::process::Command;

    fn echo_through_sh(s: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("printf '%s' {}", quote(s).unwrap()))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn hostile_strings_come_back_unchanged() {
        for s in [
            "",
            "a b",
            "'",
            "''",
            "$(touch /tmp/x)",
            "`id`",
            "a;b",
            "a\nb",
            "\\",
            "\"",
            "-n",
            "*",
        ] {
            assert_eq!(echo_through_sh(s), s);
        }
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(quote("a\0b"), Err(NulByte));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn any_string_round_trips_through_sh(s in "[^\\x00]{0,40}") {
            prop_assert_eq!(echo_through_sh(&s), s);
        }
    }
}
