//! Client keys (`CLIENT_KEYS`): who may call the proxy, under which name,
//! and for which models.
//!
//! The JSON form lists `{name, sha256, models?}`: the proxy holds only each
//! key's SHA-256, so the secret holds no usable key; a presented key is
//! hashed (by the handler, with the runtime's Web Crypto) and its digest
//! compared with every hash. A name may have two hashes while its key is
//! rotated, and `models` limits a key to some model patterns (within
//! `ALLOWED_MODELS`: both apply). The old comma list of plain keys still
//! works: its keys are named `key#0`, `key#1`, ... by position and open
//! every allowed model.
//!
//! A key's name is the client's identity (the rate limit's key, the log
//! line's `client`); neither a key nor a hash is ever shown, not in an
//! error message and not in a Debug print.

use serde_json::Value;

use super::patterns::{any_matches, ModelPattern};

/// Longest name of a client key.
const MAX_NAME_CHARS: usize = 64;

/// Most hashes one name may have: its key's, and its successor's while the
/// key is rotated.
const MAX_HASHES: usize = 2;

/// The members a `CLIENT_KEYS` entry may have.
const MEMBERS: [&str; 3] = ["name", "sha256", "models"];

/// How to print a key's SHA-256, quoted by the messages that ask for one.
const HASH_COMMAND: &str = "printf %s \"$KEY\" | sha256sum";

/// A SHA-256 digest.
pub type Digest = [u8; 32];

/// The SHA-256 of nothing: what the hash command prints when `$KEY` is unset.
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a presented key is checked against.
#[derive(Clone)]
enum Secret {
    /// The JSON form: the key's SHA-256 (two while it is rotated).
    Sha256(Vec<Digest>),
    /// A key of the old comma list, as it was given.
    Plain(Box<str>),
}

/// One client: its name, what its key is checked against, its models.
#[derive(Clone)]
pub struct ClientKey {
    name: String,
    secret: Secret,
    /// `None`: every model `ALLOWED_MODELS` allows.
    models: Option<Vec<ModelPattern>>,
}

impl ClientKey {
    /// The client's name (`mobile-app`, or `key#0` for the old comma
    /// list): its identity for the rate limit and the log line.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether this key may call `model`, a Hugging Face id (a provider's
    /// id mapped back, a chat model without its `:provider` suffix). Only
    /// the key's own scope: `ALLOWED_MODELS` is checked besides.
    pub fn allows(&self, model: &str) -> bool {
        self.models
            .as_deref()
            .is_none_or(|models| any_matches(models, model))
    }
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("name", &self.name)
            .field("models", &self.models)
            .finish_non_exhaustive()
    }
}

/// The keys clients must present in `x-api-key` (`CLIENT_KEYS`). Debug
/// prints how many there are, never a key or a hash.
#[derive(Clone)]
pub struct ClientKeys(Vec<ClientKey>);

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKeys([{} redacted])", self.0.len())
    }
}

impl ClientKeys {
    /// Reads `CLIENT_KEYS` (trimmed, not blank): a JSON array when it
    /// starts with `[`, else the old comma list. Model patterns of a key
    /// that name one model (no `*`) must be allowed by `allowed`
    /// (`ALLOWED_MODELS`): such an entry could never be used. `Err` is the
    /// message of a CONFIG error; it names the variable and the entry, and
    /// never shows a value of the secret.
    pub fn parse(value: &str, allowed: &[ModelPattern]) -> Result<ClientKeys, String> {
        if value.starts_with('[') {
            return parse_json(value, allowed);
        }
        let keys: Vec<ClientKey> = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(index, key)| ClientKey {
                name: format!("key#{index}"),
                secret: Secret::Plain(key.into()),
                models: None,
            })
            .collect();
        if keys.is_empty() {
            return Err("CLIENT_KEYS is set but lists no key".to_owned());
        }
        Ok(ClientKeys(keys))
    }

    /// The keys' names (a rotated key's twice).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(ClientKey::name)
    }

    /// The client whose key was `presented`, given the presented key's
    /// SHA-256 as `digest`. Every key and every hash is compared, whichever
    /// matches: the time taken tells nothing of which one did.
    pub fn find(&self, presented: &str, digest: &Digest) -> Option<&ClientKey> {
        let mut found = None;
        for key in &self.0 {
            let matched = match &key.secret {
                Secret::Sha256(hashes) => hashes
                    .iter()
                    .fold(false, |matched, hash| matched | same_bytes(hash, digest)),
                Secret::Plain(plain) => same_bytes(plain.as_bytes(), presented.as_bytes()),
            };
            if matched && found.is_none() {
                found = Some(key);
            }
        }
        found
    }
}

/// Whether two keys or two digests are equal, in a time that does not
/// depend on where they differ: a comparison that stopped at the first
/// differing byte would tell a caller, by how long it took, how much of a
/// guess was right. Every byte is XORed into one accumulator, looked at once,
/// at the end. Only the lengths are compared first (a digest's is fixed; a
/// plain key's length is all that can leak).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let difference = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(difference) == 0
}

/// The JSON form: a non-empty array of entries, names and hashes unique.
fn parse_json(value: &str, allowed: &[ModelPattern]) -> Result<ClientKeys, String> {
    // serde_json's messages say where the JSON breaks, never what it holds.
    let items: Vec<Value> = serde_json::from_str(value)
        .map_err(|e| format!("CLIENT_KEYS is not a valid JSON array ({e})"))?;
    if items.is_empty() {
        return Err(
            "CLIENT_KEYS must be a non-empty JSON array of {name, sha256, models?}".to_owned(),
        );
    }
    let mut keys: Vec<ClientKey> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let at = format!("CLIENT_KEYS[{index}]");
        let key = entry(item, &at, allowed)?;
        if let Some(other) = keys.iter().position(|k| k.name == key.name) {
            return Err(format!(
                "{at}.name is also CLIENT_KEYS[{other}]'s: a name is one client (while its key is rotated, give both hashes as \"sha256\": [old, new])"
            ));
        }
        let hashes = |k: &ClientKey| match &k.secret {
            Secret::Sha256(hashes) => hashes.clone(),
            Secret::Plain(_) => Vec::new(),
        };
        let own = hashes(&key);
        if let Some(other) = keys
            .iter()
            .position(|k| hashes(k).iter().any(|h| own.contains(h)))
        {
            return Err(format!(
                "{at}.sha256 is also CLIENT_KEYS[{other}]'s: one key names one client"
            ));
        }
        keys.push(key);
    }
    Ok(ClientKeys(keys))
}

/// Reads one entry `{name, sha256, models?}`. A member it does not know (a
/// misspelt `model`) is refused, not ignored: ignoring it would open every
/// model to that key. (By hand, not a serde derive, like `UPSTREAMS`'
/// entries: a derive's messages would quote the values.)
fn entry(item: &Value, at: &str, allowed: &[ModelPattern]) -> Result<ClientKey, String> {
    let members = item
        .as_object()
        .ok_or_else(|| format!("{at} must be an object {{name, sha256, models?}}"))?;
    // The member is not named: whatever stands in a secret stays unshown.
    if members.keys().any(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!(
            "{at} has a member other than name, sha256 and models"
        ));
    }
    let name = members
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| valid_name(name))
        .ok_or_else(|| {
            format!("{at}.name must be a string of 1 to {MAX_NAME_CHARS} letters, digits, '.', '_' or '-'")
        })?;
    let hashes = match members.get("sha256") {
        Some(Value::String(text)) => vec![digest(text, &format!("{at}.sha256"))?],
        Some(Value::Array(list)) if (1..=MAX_HASHES).contains(&list.len()) => list
            .iter()
            .enumerate()
            .map(|(i, hash)| {
                let at = format!("{at}.sha256[{i}]");
                digest(hash.as_str().unwrap_or_default(), &at)
            })
            .collect::<Result<Vec<Digest>, String>>()?,
        _ => {
            return Err(format!(
                "{at}.sha256 must be the key's SHA-256 as 64 hex digits ({HASH_COMMAND}), or a list of two while the key is rotated"
            ))
        }
    };
    if hashes.len() == 2 && hashes[0] == hashes[1] {
        return Err(format!("{at}.sha256 lists the same hash twice"));
    }
    let models = match members.get("models") {
        None => None,
        Some(models) => Some(scope(models, at, allowed)?),
    };
    Ok(ClientKey {
        name: name.to_owned(),
        secret: Secret::Sha256(hashes),
        models,
    })
}

/// A name of the JSON form: short, and of characters that can be no other
/// kind of client (the old list's `key#0`, the rate limit's `ip:...`).
fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A SHA-256 written as 64 hex digits (either case), not that of an empty
/// key (no client could present it).
fn digest(text: &str, at: &str) -> Result<Digest, String> {
    let bad = || format!("{at} must be the key's SHA-256 as 64 hex digits ({HASH_COMMAND})");
    if text.len() != 64 {
        return Err(bad());
    }
    if text.eq_ignore_ascii_case(EMPTY_SHA256) {
        return Err(format!(
            "{at} is the SHA-256 of an empty key (was $KEY set when it was hashed?)"
        ));
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let nibble = |b: u8| char::from(b).to_digit(16);
        match (nibble(pair[0]), nibble(pair[1])) {
            (Some(high), Some(low)) => *byte = (high * 16 + low) as u8,
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// A key's `models`: a non-empty list of patterns, as `ALLOWED_MODELS`
/// writes them (one per string).
fn scope(models: &Value, at: &str, allowed: &[ModelPattern]) -> Result<Vec<ModelPattern>, String> {
    let list = models.as_array().filter(|l| !l.is_empty()).ok_or_else(|| {
        format!("{at}.models must be a non-empty list of model patterns (leave it out for every model ALLOWED_MODELS allows)")
    })?;
    list.iter()
        .enumerate()
        .map(|(i, pattern)| {
            let text = pattern.as_str().map(str::trim).unwrap_or_default();
            if text.is_empty() || text.contains(',') {
                return Err(format!(
                    "{at}.models[{i}] must be a model pattern like \"google/*\" (one per string)"
                ));
            }
            let pattern = ModelPattern::parse(text);
            match pattern.exact() {
                Some(model) if !any_matches(allowed, &model) => Err(format!(
                    "{at}.models[{i}] names {model}, which ALLOWED_MODELS does not allow"
                )),
                _ => Ok(pattern),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf %s key-one | sha256sum`
    const KEY_ONE: &str = "9b346041bc9a49574eb2665b2ad2a0a3f9f9cce4e42f5d1f26deb8a256b5966a";
    /// `printf %s key-two | sha256sum`
    const KEY_TWO: &str = "c8df51469c308a59bfbd48a3e0bdd228ca922d6032035f5ef6e4ad45f473a9f3";
    /// `printf %s abc | sha256sum`
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    fn allowed() -> Vec<ModelPattern> {
        ModelPattern::parse_list("gpt2, google/*, meta-llama/*").unwrap()
    }

    fn parse(value: &str) -> Result<ClientKeys, String> {
        ClientKeys::parse(value, &allowed())
    }

    fn hex(text: &str) -> Digest {
        digest(text, "test").unwrap()
    }

    /// The name of the client that presents `key`, whose SHA-256 is `hash`.
    fn who(keys: &ClientKeys, key: &str, hash: &str) -> Option<String> {
        keys.find(key, &hex(hash)).map(|k| k.name().to_owned())
    }

    #[test]
    fn json_keys_are_found_by_their_hash() {
        let keys = parse(&format!(
            r#"[{{"name":"mobile-app","sha256":"{KEY_ONE}","models":["google/*"]}},
                {{"name":"batch.jobs_2","sha256":"{}"}}]"#,
            KEY_TWO.to_uppercase()
        ))
        .unwrap();
        assert_eq!(
            who(&keys, "key-one", KEY_ONE).as_deref(),
            Some("mobile-app")
        );
        assert_eq!(
            who(&keys, "key-two", KEY_TWO).as_deref(),
            Some("batch.jobs_2")
        );
        assert_eq!(who(&keys, "abc", ABC), None);
        // The hash is what counts: a plain key equal to a stored hash is no key.
        assert_eq!(who(&keys, KEY_ONE, ABC), None);
        assert_eq!(format!("{keys:?}"), "ClientKeys([2 redacted])");
    }

    #[test]
    fn a_rotated_key_has_two_hashes_and_one_name() {
        let keys = parse(&format!(
            r#"[{{"name":"web","sha256":["{KEY_ONE}","{KEY_TWO}"],"models":["gpt2"]}}]"#
        ))
        .unwrap();
        assert_eq!(who(&keys, "key-one", KEY_ONE).as_deref(), Some("web"));
        assert_eq!(who(&keys, "key-two", KEY_TWO).as_deref(), Some("web"));
        assert_eq!(who(&keys, "abc", ABC), None);
        let web = keys.find("key-two", &hex(KEY_TWO)).unwrap();
        assert!(web.allows("gpt2") && !web.allows("google/vit"));
    }

    #[test]
    fn models_scope_a_key_and_no_models_is_every_model() {
        let keys = parse(&format!(
            r#"[{{"name":"scoped","sha256":"{KEY_ONE}","models":["google/*"," gpt2 "]}},
                {{"name":"open","sha256":"{KEY_TWO}"}}]"#
        ))
        .unwrap();
        let scoped = keys.find("key-one", &hex(KEY_ONE)).unwrap();
        let allows: Vec<bool> = [
            "google/vit-base-patch16-224",
            "gpt2",
            "googlex/a",
            "meta-llama/x",
        ]
        .iter()
        .map(|m| scoped.allows(m))
        .collect();
        assert_eq!(allows, [true, true, false, false]);
        let open = keys.find("key-two", &hex(KEY_TWO)).unwrap();
        assert!(open.allows("meta-llama/x") && open.allows("anything/else"));
        assert_eq!(
            format!("{scoped:?}"),
            r#"ClientKey { name: "scoped", models: Some([Segments(["google", "*"]), Segments(["gpt2"])]), .. }"#
        );
    }

    #[test]
    fn the_old_comma_list_names_keys_by_position() {
        let keys = parse(" k1 , ,k2,").unwrap();
        let named: Vec<Option<String>> = ["k1", "k2", "k3", "", "k1 ", "K1"]
            .iter()
            .map(|k| who(&keys, k, ABC))
            .collect();
        assert_eq!(
            named,
            [
                Some("key#0".into()),
                Some("key#1".into()),
                None,
                None,
                None,
                None
            ]
        );
        let first = keys.find("k1", &hex(ABC)).unwrap();
        assert!(first.allows("anything/at-all"));
        assert_eq!(format!("{keys:?}"), "ClientKeys([2 redacted])");
        assert_eq!(
            format!("{first:?}"),
            r#"ClientKey { name: "key#0", models: None, .. }"#
        );
        assert_eq!(
            parse(" , ").unwrap_err(),
            "CLIENT_KEYS is set but lists no key"
        );
    }

    #[test]
    fn malformed_values_are_named_and_never_shown() {
        let hash_help =
            "must be the key's SHA-256 as 64 hex digits (printf %s \"$KEY\" | sha256sum)";
        let one = |entry: &str| format!("[{entry}]");
        for (value, message) in [
            ("[".to_owned(), "CLIENT_KEYS is not a valid JSON array (EOF while parsing a list at line 1 column 1)".to_owned()),
            ("[{\"name\":\"a\",\"sha256\":\"secret-one\"".to_owned(), "CLIENT_KEYS is not a valid JSON array (EOF while parsing an object at line 1 column 34)".to_owned()),
            ("[]".to_owned(), "CLIENT_KEYS must be a non-empty JSON array of {name, sha256, models?}".to_owned()),
            (one("\"secret-one\""), "CLIENT_KEYS[0] must be an object {name, sha256, models?}".to_owned()),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","model":["gpt2"]}}"#)),
                "CLIENT_KEYS[0] has a member other than name, sha256 and models".to_owned(),
            ),
            (
                one(&format!(r#"{{"sha256":"{KEY_ONE}"}}"#)),
                "CLIENT_KEYS[0].name must be a string of 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"key#0","sha256":"{KEY_ONE}"}}"#)),
                "CLIENT_KEYS[0].name must be a string of 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"{}","sha256":"{KEY_ONE}"}}"#, "n".repeat(65))),
                "CLIENT_KEYS[0].name must be a string of 1 to 64 letters, digits, '.', '_' or '-'".to_owned(),
            ),
            (
                one(r#"{"name":"a","sha256":"secret-one"}"#),
                format!("CLIENT_KEYS[0].sha256 {hash_help}"),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{}g"}}"#, &KEY_ONE[..63])),
                format!("CLIENT_KEYS[0].sha256 {hash_help}"),
            ),
            (
                one(r#"{"name":"a"}"#),
                format!("CLIENT_KEYS[0].sha256 {hash_help}, or a list of two while the key is rotated"),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":["{KEY_ONE}","{KEY_TWO}","{ABC}"]}}"#)),
                format!("CLIENT_KEYS[0].sha256 {hash_help}, or a list of two while the key is rotated"),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{EMPTY_SHA256}"}}"#)),
                "CLIENT_KEYS[0].sha256 is the SHA-256 of an empty key (was $KEY set when it was hashed?)".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":["{KEY_ONE}",7]}}"#)),
                format!("CLIENT_KEYS[0].sha256[1] {hash_help}"),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":["{KEY_ONE}","{}"]}}"#, KEY_ONE.to_uppercase())),
                "CLIENT_KEYS[0].sha256 lists the same hash twice".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","models":[]}}"#)),
                "CLIENT_KEYS[0].models must be a non-empty list of model patterns (leave it out for every model ALLOWED_MODELS allows)".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","models":"google/*"}}"#)),
                "CLIENT_KEYS[0].models must be a non-empty list of model patterns (leave it out for every model ALLOWED_MODELS allows)".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","models":["gpt2","google/*,gpt2"]}}"#)),
                "CLIENT_KEYS[0].models[1] must be a model pattern like \"google/*\" (one per string)".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","models":[" "]}}"#)),
                "CLIENT_KEYS[0].models[0] must be a model pattern like \"google/*\" (one per string)".to_owned(),
            ),
            (
                one(&format!(r#"{{"name":"a","sha256":"{KEY_ONE}","models":["mistralai/Mistral-7B"]}}"#)),
                "CLIENT_KEYS[0].models[0] names mistralai/Mistral-7B, which ALLOWED_MODELS does not allow".to_owned(),
            ),
            (
                format!(r#"[{{"name":"a","sha256":"{KEY_ONE}"}},{{"name":"a","sha256":"{KEY_TWO}"}}]"#),
                "CLIENT_KEYS[1].name is also CLIENT_KEYS[0]'s: a name is one client (while its key is rotated, give both hashes as \"sha256\": [old, new])".to_owned(),
            ),
            (
                format!(r#"[{{"name":"a","sha256":["{ABC}","{KEY_ONE}"]}},{{"name":"b","sha256":"{KEY_TWO}"}},{{"name":"c","sha256":["{KEY_TWO}"]}}]"#),
                "CLIENT_KEYS[2].sha256 is also CLIENT_KEYS[1]'s: one key names one client".to_owned(),
            ),
        ] {
            let err = parse(&value).unwrap_err();
            assert_eq!(err, message, "{value}");
            assert!(!err.contains("secret-one") && !err.contains(KEY_ONE), "{err}");
        }
    }

    #[test]
    fn patterns_with_a_star_are_left_to_both_checks() {
        // `mistralai/*` overlaps nothing ALLOWED_MODELS allows, but a pattern
        // is not judged here: both checks apply to each request.
        let keys = parse(&format!(
            r#"[{{"name":"a","sha256":"{KEY_ONE}","models":["mistralai/*"]}}]"#
        ))
        .unwrap();
        assert!(keys
            .find("key-one", &hex(KEY_ONE))
            .unwrap()
            .allows("mistralai/x"));
    }

    #[test]
    fn digests_compare_every_byte() {
        let a = hex(KEY_ONE);
        let mut b = a;
        assert!(same_bytes(&a, &b));
        b[31] ^= 1;
        assert!(!same_bytes(&a, &b));
        b = a;
        b[0] ^= 0x80;
        assert!(!same_bytes(&a, &b));
        assert!(
            same_bytes(b"key", b"key")
                && !same_bytes(b"key", b"kez")
                && !same_bytes(b"key", b"key ")
        );
    }
}
