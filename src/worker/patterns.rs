//! Model patterns of `ALLOWED_MODELS` and `CACHE_MODELS`: `*` matches any run
//! of characters within one path segment, so `google/*` allows Google's models
//! and nothing under another owner; a lone `*` allows every model.

/// One pattern of a comma list, split into its segments once, when the
/// settings are read (it is matched on every request).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelPattern {
    /// A lone `*`: every model.
    Any,
    /// The pattern's `/`-separated segments, each a `*`-glob.
    Segments(Vec<Box<str>>),
}

impl ModelPattern {
    /// Parses a comma list; empty entries are skipped. `None` when nothing is left.
    pub fn parse_list(list: &str) -> Option<Vec<ModelPattern>> {
        let patterns: Vec<ModelPattern> = list
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(ModelPattern::parse)
            .collect();
        (!patterns.is_empty()).then_some(patterns)
    }

    /// One pattern (already trimmed, not empty, without a comma), as a
    /// client key's `models` lists them.
    pub fn parse(pattern: &str) -> ModelPattern {
        match pattern {
            "*" => ModelPattern::Any,
            _ => ModelPattern::Segments(pattern.split('/').map(Box::from).collect()),
        }
    }

    /// The one model id it matches, when it has no `*`.
    pub fn exact(&self) -> Option<String> {
        match self {
            ModelPattern::Segments(segments) if !segments.iter().any(|s| s.contains('*')) => {
                Some(segments.join("/"))
            }
            _ => None,
        }
    }

    /// Whether `model` (already a valid model id) matches.
    pub fn matches(&self, model: &str) -> bool {
        let ModelPattern::Segments(pattern) = self else {
            return true;
        };
        let mut segments = model.split('/');
        pattern.iter().all(|p| {
            segments
                .next()
                .is_some_and(|s| glob(p.as_bytes(), s.as_bytes()))
        }) && segments.next().is_none()
    }
}

/// Whether any pattern of `list` matches `model`.
pub fn any_matches(list: &[ModelPattern], model: &str) -> bool {
    list.iter().any(|p| p.matches(model))
}

/// `*`-only glob over bytes, iterative with one backtrack point.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|b| *b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &str, model: &str) -> bool {
        any_matches(&ModelPattern::parse_list(list).unwrap(), model)
    }

    #[test]
    fn star_stays_within_a_segment() {
        assert!(allowed("google/*", "google/vit-base-patch16-224"));
        assert!(!allowed("google/*", "gpt2"));
        assert!(!allowed("google/*", "googlex/vit"));
        assert!(allowed("*", "facebook/bart-large-mnli"));
        assert!(allowed("*", "gpt2"));
        assert!(!allowed("*/*", "gpt2"));
        assert!(allowed("*/*", "a/b"));
        assert!(allowed("google/vit-*-224", "google/vit-base-patch16-224"));
        assert!(!allowed("google/vit-*-224", "google/vit-base-patch16-384"));
    }

    #[test]
    fn exact_entries_and_spacing() {
        assert!(allowed(
            " gpt2 , facebook/bart-large-mnli ,",
            "facebook/bart-large-mnli"
        ));
        assert!(!allowed("gpt2", "gpt2-large"));
        assert!(!allowed("gpt2", "openai-community/gpt2"));
        assert_eq!(ModelPattern::parse_list(" , "), None);
        assert_eq!(
            ModelPattern::parse_list("*, google/vit-*").unwrap(),
            [
                ModelPattern::Any,
                ModelPattern::Segments(vec!["google".into(), "vit-*".into()])
            ]
        );
    }

    #[test]
    fn exact_ids_are_the_patterns_without_a_star() {
        let exact: Vec<Option<String>> =
            ModelPattern::parse_list("gpt2, google/vit-base, google/*, *, a/b*c")
                .unwrap()
                .iter()
                .map(ModelPattern::exact)
                .collect();
        assert_eq!(
            exact,
            [
                Some("gpt2".into()),
                Some("google/vit-base".into()),
                None,
                None,
                None
            ]
        );
    }

    #[test]
    fn segment_counts_must_agree() {
        assert!(!allowed("google", "google/vit"));
        assert!(!allowed("google/vit", "google"));
        assert!(!allowed("a/*", "a/b/c"));
        assert!(allowed("a/*", "a/"));
    }
}
