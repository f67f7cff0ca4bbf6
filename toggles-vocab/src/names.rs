//! What a namespace, a name and a full name may be, and which texts are placeholders.

/// Lower-case ASCII words (letters and digits, starting with a letter) joined by `.` or `_`:
/// `grading`, `courseware.exams`.
///
/// ```
/// assert!(toggles_vocab::is_namespace("courseware.exams"));
/// assert!(!toggles_vocab::is_namespace("Courseware"));
/// ```
pub fn is_namespace(s: &str) -> bool {
    words(s, true)
}

/// Lower-case ASCII words joined by `_`: `new_grader`.
///
/// ```
/// assert!(toggles_vocab::is_name("new_grader"));
/// assert!(!toggles_vocab::is_name("new.grader"));
/// ```
pub fn is_name(s: &str) -> bool {
    words(s, false)
}

/// `namespace.name`, each part valid: `grading.new_grader`.
///
/// ```
/// assert!(toggles_vocab::is_full_name("courseware.exams.new_timer"));
/// assert!(!toggles_vocab::is_full_name("new_timer"));
/// ```
pub fn is_full_name(s: &str) -> bool {
    s.rsplit_once('.')
        .is_some_and(|(namespace, name)| is_namespace(namespace) && is_name(name))
}

fn words(s: &str, dots: bool) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.split(|c| c == '_' || (dots && c == '.')).all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
}

/// Words that stand where a real description or justification should be, compared without
/// case and without a trailing period.
pub const PLACEHOLDERS: [&str; 13] = [
    "none", "n/a", "na", "todo", "tbd", "tba", "-", "--", "...", "?", "fixme", "xxx", "null",
];

/// Whether `text` is one of the [`PLACEHOLDERS`] rather than a real text.
///
/// ```
/// assert!(toggles_vocab::is_placeholder(" N/A. "));
/// assert!(!toggles_vocab::is_placeholder("circuit breaker for traffic spikes"));
/// ```
pub fn is_placeholder(text: &str) -> bool {
    let t = text.trim();
    let t = t.strip_suffix('.').filter(|s| !s.is_empty()).unwrap_or(t);
    PLACEHOLDERS.contains(&t.to_ascii_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity() {
        for ok in ["grading", "courseware.exams", "a1_b2.c3", "x"] {
            assert!(is_namespace(ok), "{ok}");
        }
        for bad in [
            "", "Grading", "1abc", "a..b", "a.", "_a", "a__b", "a-b", "é", "a b",
        ] {
            assert!(!is_namespace(bad), "{bad}");
        }
        assert!(!is_name("a.b"));
        assert!(is_full_name("a.b"));
        assert!(!is_full_name("a."));
    }
}
