//! Who is who: per-person access tokens (`--tokens FILE`). The file has one
//! line per person, `name = "sha256:<hex of the token's SHA-256>"` (blank
//! lines and `#` comments allowed); revoking a person is removing their
//! line and restarting the gateway. It holds hashes, not tokens, so a copy
//! of it lets no one in. `prompt-runs-gateway token add NAME` prints a new
//! token and its line. A request carrying a person's token is theirs: the
//! history records them as the author of what it uploads.

use sha2::{Digest, Sha256};
use std::path::Path;
use subtle::ConstantTimeEq;

/// The people of a tokens file: each name with its token's SHA-256.
#[derive(Clone, Debug, Default)]
pub struct People {
    people: Vec<(String, [u8; 32])>,
}

impl People {
    /// Reads the tokens file at `path`; an error names the line and what is
    /// wrong with it.
    pub fn read(path: &Path) -> Result<People, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| format!("--tokens {}: cannot be read: {error}", path.display()))?;
        People::parse(&text).map_err(|error| format!("--tokens {}: {error}", path.display()))
    }

    /// The people of a tokens file's text.
    pub fn parse(text: &str) -> Result<People, String> {
        let mut people: Vec<(String, [u8; 32])> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let wrong = |why: &str| {
                format!(
                    "line {}: {why}; write it as name = \"sha256:<64 hex digits>\" (prompt-runs-gateway token add NAME prints one)",
                    index + 1
                )
            };
            let (name, hash) = line.split_once('=').ok_or_else(|| wrong("no `=`"))?;
            let name = name.trim();
            if !is_name(name) {
                return Err(wrong(&format!(
                    "`{name}` is not a name (1–64 letters, digits, `_`, `-` or `.`)"
                )));
            }
            let hex = hash
                .trim()
                .strip_prefix("\"sha256:")
                .and_then(|hash| hash.strip_suffix('"'))
                .ok_or_else(|| wrong("the hash is not \"sha256:…\""))?;
            let digest = parse_hex(hex).ok_or_else(|| wrong("the hash is not 64 hex digits"))?;
            if people.iter().any(|(known, _)| known == name) {
                return Err(wrong(&format!("`{name}` is named twice")));
            }
            people.push((name.to_owned(), digest));
        }
        Ok(People { people })
    }

    /// Whether no one is listed.
    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
    }

    /// Whose token `token` is, if anyone's: every hash is compared, in
    /// constant time, so that timing tells nothing.
    pub fn holder(&self, token: &str) -> Option<&str> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for (name, hash) in &self.people {
            if bool::from(digest.ct_eq(hash)) {
                found = Some(name.as_str());
            }
        }
        found
    }
}

/// A person's name, as the history shows it: like a workspace's.
fn is_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn parse_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
    }
    Some(bytes)
}

/// A new token for `name` and the tokens file line that lets it in: what
/// `prompt-runs-gateway token add NAME` prints.
pub fn new_token_line(name: &str) -> Result<(String, String), String> {
    if !is_name(name) {
        return Err(format!(
            "`{name}` is not a name: 1–64 letters, digits, `_`, `-` or `.`"
        ));
    }
    let token = crate::access::generate_token();
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    Ok((token, format!("{name} = \"sha256:{hex}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_its_holders_and_a_removed_line_lets_no_one_in() {
        let (ana_token, ana) = new_token_line("ana").unwrap();
        let (bob_token, bob) = new_token_line("bob").unwrap();
        let people = People::parse(&format!("# the team\n{ana}\n\n{bob}\n")).unwrap();
        assert_eq!(people.holder(&ana_token), Some("ana"));
        assert_eq!(people.holder(&bob_token), Some("bob"));
        assert_eq!(people.holder("a guess"), None);
        let revoked = People::parse(&bob).unwrap();
        assert_eq!(revoked.holder(&ana_token), None);
    }

    #[test]
    fn a_wrong_line_is_named_with_what_is_wrong() {
        let error = People::parse("ana = \"sha256:00\"").unwrap_err();
        assert!(
            error.contains("line 1") && error.contains("64 hex"),
            "{error}"
        );
        let error = People::parse("\n\nana sha256").unwrap_err();
        assert!(
            error.contains("line 3") && error.contains("no `=`"),
            "{error}"
        );
        let error = People::parse("a b = \"sha256:x\"").unwrap_err();
        assert!(error.contains("is not a name"), "{error}");
        let line = format!("ana = \"sha256:{}\"", "0".repeat(64));
        let error = People::parse(&format!("{line}\n{line}")).unwrap_err();
        assert!(error.contains("named twice"), "{error}");
    }
}
