//! The characters allowed in namespaces and names, and "did you mean" suggestions.

/// Lower-case ASCII words (letters and digits, starting with a letter) joined by `_`, or by `.`
/// too when `dots` is set.
pub(crate) fn is_valid(s: &str, dots: bool) -> bool {
    let mut words = s.split(|c| c == '_' || (dots && c == '.'));
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && words.all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

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
    fn validity() {
        for ok in ["grading", "courseware.exams", "a1_b2.c3", "x"] {
            assert!(is_valid(ok, true), "{ok}");
        }
        for bad in [
            "", "Grading", "1abc", "a..b", "a.", "_a", "a__b", "a-b", "é", "a b",
        ] {
            assert!(!is_valid(bad, true), "{bad}");
        }
        assert!(!is_valid("a.b", false));
    }

    #[test]
    fn suggestions() {
        let keys = ["namespace", "life", "remove_by", "justification", "created"];
        assert_eq!(closest("remove_after", &keys), Some("remove_by"));
        assert_eq!(closest("namespce", &keys), Some("namespace"));
        assert_eq!(closest("zzz", &keys), None);
    }
}
