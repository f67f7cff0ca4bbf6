//! "Did you mean" suggestions. (What a name may be is `toggles_vocab`'s, shared with the runtime.)

/// The candidate closest to `input`, if it is close enough to be what was meant.
pub(crate) fn closest<'a>(input: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(input, c), *c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let keys = ["namespace", "life", "remove_by", "justification", "created"];
        assert_eq!(closest("remove_after", &keys), Some("remove_by"));
        assert_eq!(closest("namespce", &keys), Some("namespace"));
        assert_eq!(closest("zzz", &keys), None);
    }
}
