//! Counts in words: "1 day", "3 days".

/// `n` followed by `one` or `many`, as `n` asks.
pub(crate) fn count(n: impl Into<i128>, one: &str, many: &str) -> String {
    let n = n.into();
    if n == 1 || n == -1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular() {
        assert_eq!(count(1u8, "day", "days"), "1 day");
        assert_eq!(count(0u8, "day", "days"), "0 days");
        assert_eq!(count(2usize as u64, "service", "services"), "2 services");
    }
}
