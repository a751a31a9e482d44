//! Checks on single config values (names, root, link, prefix, ...). Pure string
//! functions: each returns the (normalised) value or a short reason, which the caller
//! turns into a one-line error naming the file, line and key.

/// Characters allowed in host names, group names, the link and the prefix.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// A host or group name: `[A-Za-z0-9._-]+`.
pub fn check_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = s.chars().find(|c| !is_name_char(*c)) {
        return Err(format!(
            "{s:?} has the character {c:?}; use only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// The deploy root: relative to the SSH user's home, or absolute.
///
/// Allowed: `[A-Za-z0-9._+@/-]`, a leading `~/` (stripped: the path is then relative to
/// the home directory), one trailing `/` (stripped). Refused: empty, `~` alone, `/`
/// alone, a `..` component, `//`, a leading `-` (it would read as an option).
pub fn check_root(s: &str) -> Result<String, String> {
    let stripped = s.strip_prefix("~/").unwrap_or(s);
    if s == "~" || (s.starts_with("~/") && stripped.trim_end_matches('/').is_empty()) {
        return Err(format!(
            "{s:?} is the home directory itself; name a directory inside it, e.g. \"deploy\""
        ));
    }
    if stripped.is_empty() {
        return Err("must not be empty".into());
    }
    if let Some(c) = stripped
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '@' | '/' | '-')))
    {
        return Err(format!(
            "{s:?} has the character {c:?}; use only letters, digits and . _ + @ / - \
             (a leading ~/ means the home directory)"
        ));
    }
    if stripped.contains("//") {
        return Err(format!("{s:?} contains \"//\""));
    }
    if stripped.split('/').any(|c| c == "..") {
        return Err(format!("{s:?} contains a \"..\" component"));
    }
    if stripped.starts_with('-') {
        return Err(format!("{s:?} starts with '-'"));
    }
    if stripped == "/" {
        return Err("\"/\" cannot be the deploy root".into());
    }
    let normalised = if stripped.len() > 1 {
        stripped.strip_suffix('/').unwrap_or(stripped)
    } else {
        stripped
    };
    Ok(normalised.to_string())
}

/// The link or the release prefix: `[A-Za-z0-9._-]+`, not starting with `.` or `-`.
pub fn check_entry_name(s: &str) -> Result<(), String> {
    check_name(s)?;
    if s.starts_with('.') {
        return Err(format!(
            "{s:?} starts with '.' (hidden names are relman's own)"
        ));
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} starts with '-'"));
    }
    Ok(())
}

/// The link: as [`check_entry_name`], and not `.relman`.
pub fn check_link(s: &str) -> Result<(), String> {
    if s == ".relman" {
        return Err("\".relman\" is relman's state directory".into());
    }
    check_entry_name(s)
}

/// Whether `link` would itself be taken for a release named with `prefix`
/// (prefix + 14 digits, optionally `.N`).
pub fn link_looks_like_release(link: &str, prefix: &str) -> bool {
    let Some(rest) = link.strip_prefix(prefix) else {
        return false;
    };
    let (stamp, n) = match rest.split_once('.') {
        Some((s, n)) => (s, Some(n)),
        None => (rest, None),
    };
    stamp.len() == 14
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && n.is_none_or(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// A single word such as a user, an address or a jump host: non-empty, no whitespace
/// or control characters, not starting with `-`.
pub fn check_word(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{s:?} contains whitespace"));
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} starts with '-'"));
    }
    Ok(())
}

/// A user name in `job_users`: `[A-Za-z0-9._-]+`, not starting with `-` (it reaches
/// the host's shell as `sudo -u NAME` and in word lists, so nothing else is allowed).
pub fn check_user_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("a user name must not be empty".into());
    }
    if s.starts_with('-') {
        return Err(format!("{s:?} starts with '-'"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{:?} is not a user name (letters, digits, '.', '_', '-'; found {c:?})",
            crate::model::printable(s)
        ));
    }
    Ok(())
}

/// Levenshtein distance, for "did you mean" on unknown keys.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("batch-1").is_ok());
        assert!(check_name("a.b_c-D9").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name("a/b").is_err());
        assert!(check_name("é").is_err());
    }

    #[test]
    fn roots() {
        assert_eq!(check_root("deploy").as_deref(), Ok("deploy"));
        assert_eq!(check_root("~/deploy").as_deref(), Ok("deploy"));
        assert_eq!(check_root("~/apps/deploy/").as_deref(), Ok("apps/deploy"));
        assert_eq!(
            check_root("/srv/batch+x@1").as_deref(),
            Ok("/srv/batch+x@1")
        );
        for bad in [
            "", "~", "~/", "/", "a b", "a//b", "../x", "a/../b", "a/..", "-rf", "~/-x", "$HOME",
            "a;b", "~user/x", "a\nb",
        ] {
            assert!(check_root(bad).is_err(), "{bad:?} should be refused");
        }
        // `..` inside a name is not a component.
        assert!(check_root("a..b").is_ok());
    }

    #[test]
    fn links_and_prefixes() {
        assert!(check_link("batch").is_ok());
        assert!(check_link(".relman").is_err());
        assert!(check_link(".batch").is_err());
        assert!(check_link("-batch").is_err());
        assert!(check_link("a/b").is_err());
        assert!(check_entry_name("batch_").is_ok());
        assert!(check_entry_name("").is_err());
    }

    #[test]
    fn release_like_links() {
        assert!(link_looks_like_release("batch_20261126221500", "batch_"));
        assert!(link_looks_like_release("batch_20261126221500.2", "batch_"));
        assert!(!link_looks_like_release("batch", "batch_"));
        assert!(!link_looks_like_release("batch_current", "batch_"));
        assert!(!link_looks_like_release("batch_2026112622150", "batch_"));
        assert!(!link_looks_like_release("batch_20261126221500.", "batch_"));
    }

    #[test]
    fn words() {
        assert!(check_word("deployer").is_ok());
        assert!(check_word("user@bastion:2222").is_ok());
        assert!(check_word("").is_err());
        assert!(check_word("a b").is_err());
        assert!(check_word("-oProxyCommand=x").is_err());
    }

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kep", "keep"), 1);
        assert_eq!(edit_distance("adress", "address"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }
}
