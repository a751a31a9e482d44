//! Pure helpers for keys and known_hosts, without any I/O: base64, OpenSSH
//! fingerprints, the key type inside a key blob, the `[host]:port` name form,
//! known_hosts line parsing and whether a private key file is encrypted.

use sha2::{Digest, Sha256};

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648 alphabet), with or without `=` padding.
pub fn base64_encode(data: &[u8], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64; whitespace is skipped, padding is optional.
/// `None` on any other character or an impossible length.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    let mut ended = false;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            ended = true;
            continue;
        }
        if ended {
            return None;
        }
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // 6 leftover bits cannot come from whole bytes.
    if bits >= 6 {
        return None;
    }
    Some(out)
}

/// The fingerprint as OpenSSH prints it, without the `SHA256:` prefix:
/// unpadded base64 of the SHA-256 of the key blob.
pub fn fingerprint_sha256(blob: &[u8]) -> String {
    base64_encode(&Sha256::digest(blob), false)
}

/// Reads one SSH wire string (u32 big-endian length + bytes) at the start of `data`;
/// returns it and the rest.
fn ssh_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
    let s = data.get(4..4usize.checked_add(len)?)?;
    Some((s, &data[4 + len..]))
}

/// The key type named inside a public key blob (`ssh-ed25519`, `ssh-rsa`,
/// `ecdsa-sha2-nistp256`...).
pub fn blob_key_type(blob: &[u8]) -> Option<String> {
    let (name, _) = ssh_string(blob)?;
    let name = std::str::from_utf8(name).ok()?;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(name.to_string())
}

/// The name a host has in known_hosts: `host` on port 22, `[host]:port` otherwise
/// (what OpenSSH writes and looks up; hostnames are compared in lower case).
pub fn known_hosts_name(host: &str, port: u16) -> String {
    let host = host.to_ascii_lowercase();
    if port == 22 {
        host
    } else {
        format!("[{host}]:{port}")
    }
}

/// One line for known_hosts: `name type base64-blob`.
pub fn known_hosts_line(host: &str, port: u16, key_type: &str, blob: &[u8]) -> String {
    format!(
        "{} {} {}",
        known_hosts_name(host, port),
        key_type,
        base64_encode(blob, true)
    )
}

/// What a known_hosts line says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    /// A plain entry: the host's own key.
    Plain,
    /// `@revoked`: this key must never be accepted for the hosts named.
    Revoked,
    /// `@cert-authority`: the key signs host certificates of the hosts named.
    CertAuthority,
}

/// A known_hosts entry: its text without the marker (what libssh2 can read), the
/// key type and blob, its marker, and where it was written (`file:line`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownLine {
    pub text: String,
    pub hosts: String,
    pub key_type: String,
    pub blob: Option<Vec<u8>>,
    pub marker: Marker,
    pub source: String,
}

/// Splits known_hosts text (from `file`, for `file:line` in messages) into entries.
/// Comments, blank lines, unknown markers and lines with fewer than three fields
/// are skipped.
pub fn parse_known_hosts(text: &str, file: &str) -> Vec<KnownLine> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (marker, rest) = match line.split_once(char::is_whitespace) {
                Some((m, rest)) if m.starts_with('@') => match m {
                    "@revoked" => (Marker::Revoked, rest.trim_start()),
                    "@cert-authority" => (Marker::CertAuthority, rest.trim_start()),
                    _ => return None,
                },
                _ if line.starts_with('@') => return None,
                _ => (Marker::Plain, line),
            };
            let mut fields = rest.split_whitespace();
            let hosts = fields.next()?;
            let key_type = fields.next()?;
            let key = fields.next()?;
            Some(KnownLine {
                text: rest.to_string(),
                hosts: hosts.to_string(),
                key_type: key_type.to_string(),
                blob: base64_decode(key),
                marker,
                source: format!("{file}:{}", i + 1),
            })
        })
        .collect()
}

/// Whether a known_hosts host field (comma-separated patterns, `*`/`?` wildcards,
/// `!` negation) names `name` (`host` or `[host]:port`, lower case). `None` for a
/// hashed field (`|1|...`), which only libssh2 can check.
pub fn hosts_field_matches(field: &str, name: &str) -> Option<bool> {
    if field.starts_with('|') {
        return None;
    }
    let name = name.to_ascii_lowercase();
    let mut positive = false;
    for p in field.split(',') {
        let p = p.to_ascii_lowercase();
        if let Some(neg) = p.strip_prefix('!') {
            if crate::config::ssh_config::wildcard_match(neg, &name) {
                return Some(false);
            }
        } else if crate::config::ssh_config::wildcard_match(&p, &name) {
            positive = true;
        }
    }
    Some(positive)
}

/// The public key blob inside an OpenSSH-format private key file (stored in the
/// clear even when the private part is encrypted). `None` for other formats.
pub fn openssh_private_key_public_blob(text: &str) -> Option<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let start = text.find(BEGIN)?;
    let body = &text[start + BEGIN.len()..];
    let body = &body[..body.find(END)?];
    let raw = base64_decode(body)?;
    let rest = raw.strip_prefix(b"openssh-key-v1\0".as_slice())?;
    let (_cipher, rest) = ssh_string(rest)?;
    let (_kdf, rest) = ssh_string(rest)?;
    let (_kdfopts, rest) = ssh_string(rest)?;
    let n = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    if n < 1 {
        return None;
    }
    let (blob, _) = ssh_string(&rest[4..])?;
    Some(blob.to_vec())
}

/// The blob of a public key line (`type base64 [comment]`, as in a `.pub` file).
pub fn public_key_line_blob(text: &str) -> Option<Vec<u8>> {
    let mut f = text.split_whitespace();
    let _type = f.next()?;
    base64_decode(f.next()?)
}

/// The host key algorithms that can present a key of this known_hosts key type.
pub fn algorithms_for_key_type(key_type: &str) -> Vec<&str> {
    match key_type {
        "ssh-rsa" => vec!["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
        other => vec![other],
    }
}

/// Orders libssh2's supported host key algorithms so that those whose key type is
/// already known for this host come first (as OpenSSH does), the rest after in
/// libssh2's own order. `None` when nothing is known (keep the default).
pub fn host_key_preference(known_types: &[String], supported: &[&str]) -> Option<String> {
    let mut first: Vec<&str> = Vec::new();
    for t in known_types {
        for alg in algorithms_for_key_type(t) {
            if supported.contains(&alg) && !first.contains(&alg) {
                first.push(alg);
            }
        }
    }
    if first.is_empty() {
        return None;
    }
    let rest = supported.iter().copied().filter(|a| !first.contains(a));
    Some(
        first
            .iter()
            .copied()
            .chain(rest)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// Whether a private key file (its text) is protected by a passphrase: PEM keys say
/// `ENCRYPTED`; OpenSSH-format keys name a cipher other than `none` (with the
/// `bcrypt` kdf).
pub fn private_key_is_encrypted(text: &str) -> bool {
    if text.contains("ENCRYPTED") {
        return true;
    }
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let Some(start) = text.find(BEGIN) else {
        return false;
    };
    let body = &text[start + BEGIN.len()..];
    let body = body.find(END).map_or(body, |end| &body[..end]);
    let Some(raw) = base64_decode(body) else {
        return false;
    };
    const MAGIC: &[u8] = b"openssh-key-v1\0";
    let Some(rest) = raw.strip_prefix(MAGIC) else {
        return false;
    };
    match ssh_string(rest) {
        Some((cipher, rest)) => {
            cipher != b"none" || ssh_string(rest).is_some_and(|(kdf, _)| kdf != b"none")
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, enc) in cases {
            assert_eq!(base64_encode(plain.as_bytes(), true), enc);
            assert_eq!(
                base64_encode(plain.as_bytes(), false),
                enc.trim_end_matches('=')
            );
            assert_eq!(base64_decode(enc).as_deref(), Some(plain.as_bytes()));
            assert_eq!(
                base64_decode(enc.trim_end_matches('=')).as_deref(),
                Some(plain.as_bytes())
            );
        }
    }

    #[test]
    fn base64_decode_rejects_garbage() {
        assert_eq!(base64_decode("Zm9v!"), None);
        assert_eq!(base64_decode("Z"), None);
        assert_eq!(base64_decode("Zg==Zg"), None);
        assert_eq!(base64_decode("Zm\n9v").as_deref(), Some(&b"foo"[..]));
    }

    #[test]
    fn base64_round_trips_all_lengths() {
        let data: Vec<u8> = (0..=255u8).collect();
        for n in 0..data.len() {
            let enc = base64_encode(&data[..n], true);
            assert_eq!(base64_decode(&enc).as_deref(), Some(&data[..n]));
        }
    }

    // A real ed25519 public key and `ssh-keygen -lf` of it.
    const PUB: &str = "AAAAC3NzaC1lZDI1NTE5AAAAIEmff416Hv0AcWYfeZn1rEhtitPJW1Mtb7oFlVfJL4kk";
    const FP: &str = "XCMyTwbCpWZtqWPLzD4zPas9hdK1fEI+MRE5AZQUpV8";

    #[test]
    fn fingerprint_is_openssh_sha256() {
        let blob = base64_decode(PUB).unwrap();
        assert_eq!(fingerprint_sha256(&blob), FP);
        assert_eq!(blob_key_type(&blob).as_deref(), Some("ssh-ed25519"));
    }

    #[test]
    fn blob_key_type_refuses_truncated_blobs() {
        assert_eq!(blob_key_type(&[]), None);
        assert_eq!(blob_key_type(&[0, 0, 0, 9, b's']), None);
        assert_eq!(blob_key_type(&[0, 0, 0, 0]), None);
        assert_eq!(blob_key_type(&[0xff, 0xff, 0xff, 0xff]), None);
    }

    #[test]
    fn known_hosts_names_follow_openssh() {
        assert_eq!(known_hosts_name("Batch-1.Example", 22), "batch-1.example");
        assert_eq!(known_hosts_name("10.0.0.5", 2222), "[10.0.0.5]:2222");
        let blob = base64_decode(PUB).unwrap();
        assert_eq!(
            known_hosts_line("127.0.0.1", 40022, "ssh-ed25519", &blob),
            format!("[127.0.0.1]:40022 ssh-ed25519 {PUB}")
        );
    }

    #[test]
    fn parse_known_hosts_reads_markers_and_places() {
        let text = "# comment\n\n@revoked * ssh-rsa AAAA\n\
                    host1,10.0.0.1 ssh-ed25519 AAAAC3 comment here\n\
                    |1|salt=|hash= ecdsa-sha2-nistp256 AAAAE2\n\
                    @cert-authority *.example ssh-ed25519 AAAA\n\
                    @unknown x ssh-rsa AAAA\n\
                    broken-line ssh-rsa\n";
        let lines = parse_known_hosts(text, "kh");
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].marker, Marker::Revoked);
        assert_eq!(lines[0].text, "* ssh-rsa AAAA");
        assert_eq!(lines[0].source, "kh:3");
        assert_eq!(lines[1].key_type, "ssh-ed25519");
        assert_eq!(lines[1].marker, Marker::Plain);
        assert_eq!(
            lines[1].text,
            "host1,10.0.0.1 ssh-ed25519 AAAAC3 comment here"
        );
        assert_eq!(lines[2].key_type, "ecdsa-sha2-nistp256");
        assert_eq!(lines[3].marker, Marker::CertAuthority);
        assert_eq!(lines[3].hosts, "*.example");
        assert_eq!(lines[3].source, "kh:6");
    }

    #[test]
    fn hosts_fields_match_like_openssh() {
        assert_eq!(hosts_field_matches("*", "[127.0.0.1]:2222"), Some(true));
        assert_eq!(hosts_field_matches("a,b.example", "b.example"), Some(true));
        assert_eq!(hosts_field_matches("*.example", "B.Example"), Some(true));
        assert_eq!(
            hosts_field_matches("*.example,!b.example", "b.example"),
            Some(false)
        );
        assert_eq!(hosts_field_matches("a", "b"), Some(false));
        assert_eq!(hosts_field_matches("|1|x=|y=", "b"), None);
    }

    #[test]
    fn public_blob_is_read_from_openssh_private_keys() {
        let blob = base64_decode(PUB).unwrap();
        let mut raw = b"openssh-key-v1\0".to_vec();
        for s in [&b"aes256-ctr"[..], b"bcrypt", b"opts"] {
            raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
            raw.extend_from_slice(s);
        }
        raw.extend_from_slice(&1u32.to_be_bytes());
        raw.extend_from_slice(&(blob.len() as u32).to_be_bytes());
        raw.extend_from_slice(&blob);
        let text = format!(
            "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
            base64_encode(&raw, true)
        );
        assert_eq!(openssh_private_key_public_blob(&text), Some(blob.clone()));
        assert_eq!(openssh_private_key_public_blob("garbage"), None);
        assert_eq!(
            public_key_line_blob(&format!("ssh-ed25519 {PUB} me@x")),
            Some(blob)
        );
    }

    #[test]
    fn host_key_preference_puts_known_types_first() {
        let supported = [
            "ecdsa-sha2-nistp256",
            "ssh-ed25519",
            "rsa-sha2-512",
            "rsa-sha2-256",
            "ssh-rsa",
        ];
        assert_eq!(host_key_preference(&[], &supported), None);
        assert_eq!(
            host_key_preference(&["ssh-ed25519".into()], &supported).as_deref(),
            Some("ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256,ssh-rsa")
        );
        assert_eq!(
            host_key_preference(&["ssh-rsa".into(), "ssh-dss".into()], &supported).as_deref(),
            Some("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519")
        );
    }

    #[test]
    fn encrypted_keys_are_detected() {
        fn openssh_key(cipher: &str, kdf: &str) -> String {
            let mut raw = b"openssh-key-v1\0".to_vec();
            for s in [cipher, kdf] {
                raw.extend_from_slice(&(s.len() as u32).to_be_bytes());
                raw.extend_from_slice(s.as_bytes());
            }
            format!(
                "-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----\n",
                base64_encode(&raw, true)
            )
        }
        assert!(private_key_is_encrypted(&openssh_key(
            "aes256-ctr",
            "bcrypt"
        )));
        assert!(!private_key_is_encrypted(&openssh_key("none", "none")));
        assert!(private_key_is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
        ));
        assert!(private_key_is_encrypted(
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        ));
        assert!(!private_key_is_encrypted(
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n"
        ));
        assert!(!private_key_is_encrypted("garbage"));
    }
}
