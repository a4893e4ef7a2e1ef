//! Counted nouns in output: "1 step", "2 steps".

/// `n` and the noun, plural unless `n` is 1 (regular plurals only).
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular() {
        assert_eq!(count(0, "step"), "0 steps");
        assert_eq!(count(1, "request"), "1 request");
        assert_eq!(count(12, "warning"), "12 warnings");
    }
}
