//! Number-to-words for English: cardinals, ordinals, years, digit strings.

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

const SCALES: [(u64, &str); 6] = [
    (1_000_000_000_000_000_000, "quintillion"),
    (1_000_000_000_000_000, "quadrillion"),
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// `0..100` as words ("forty-two").
fn below_hundred(n: u64) -> String {
    debug_assert!(n < 100);
    if n < 20 {
        ONES[n as usize].to_owned()
    } else if n.is_multiple_of(10) {
        TENS[(n / 10) as usize].to_owned()
    } else {
        format!("{}-{}", TENS[(n / 10) as usize], ONES[(n % 10) as usize])
    }
}

/// `1..1000` as words ("one hundred five").
fn below_thousand(n: u64) -> String {
    debug_assert!(n > 0 && n < 1000);
    let (h, rest) = (n / 100, n % 100);
    match (h, rest) {
        (0, r) => below_hundred(r),
        (h, 0) => format!("{} hundred", ONES[h as usize]),
        (h, r) => format!("{} hundred {}", ONES[h as usize], below_hundred(r)),
    }
}

/// Cardinal number in words (American style, no "and"): 1234 →
/// "one thousand two hundred thirty-four".
pub fn cardinal(mut n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut parts = Vec::new();
    for (value, name) in SCALES {
        if n >= value {
            parts.push(format!("{} {name}", below_thousand(n / value)));
            n %= value;
        }
    }
    if n > 0 {
        parts.push(below_thousand(n));
    }
    parts.join(" ")
}

/// Cardinal for a digit string of any length (no separators). Numbers that do
/// not fit in `u64` are read digit by digit.
pub fn cardinal_str(digits: &str) -> String {
    match digits.parse::<u64>() {
        Ok(n) => cardinal(n),
        Err(_) => spell_digits(digits),
    }
}

/// Reads each digit: "14" → "one four".
pub fn spell_digits(digits: &str) -> String {
    digits
        .chars()
        .filter_map(|c| c.to_digit(10))
        .map(|d| ONES[d as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// Ordinal number in words: 3 → "third", 21 → "twenty-first".
pub fn ordinal(n: u64) -> String {
    let words = cardinal(n);
    let split = words.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_owned(),
        "two" => "second".to_owned(),
        "three" => "third".to_owned(),
        "five" => "fifth".to_owned(),
        "eight" => "eighth".to_owned(),
        "nine" => "ninth".to_owned(),
        "twelve" => "twelfth".to_owned(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// Year reading: 2026 → "twenty twenty-six", 1905 → "nineteen oh five",
/// 1900 → "nineteen hundred", 2005 → "two thousand five".
pub fn year(n: u64) -> String {
    if !(1000..10000).contains(&n) {
        return cardinal(n);
    }
    let (hi, lo) = (n / 100, n % 100);
    if (2000..2010).contains(&n) || hi.is_multiple_of(10) && lo == 0 {
        // 2000-2009 and round thousands are read as cardinals.
        return cardinal(n);
    }
    match lo {
        0 => format!("{} hundred", below_hundred(hi)),
        1..=9 => format!("{} oh {}", below_hundred(hi), ONES[lo as usize]),
        _ => format!("{} {}", below_hundred(hi), below_hundred(lo)),
    }
}

/// Plural of a number phrase ("nineteen ninety" → "nineteen nineties").
pub fn pluralize(words: &str) -> String {
    if let Some(stem) = words.strip_suffix('y') {
        format!("{stem}ies")
    } else if words.ends_with('x') {
        format!("{words}es")
    } else {
        format!("{words}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        let table: &[(u64, &str)] = &[
            (0, "zero"),
            (7, "seven"),
            (13, "thirteen"),
            (40, "forty"),
            (42, "forty-two"),
            (100, "one hundred"),
            (105, "one hundred five"),
            (999, "nine hundred ninety-nine"),
            (1_000, "one thousand"),
            (1_234, "one thousand two hundred thirty-four"),
            (1_000_000, "one million"),
            (2_000_000_001, "two billion one"),
            (3_500_000_000_000, "three trillion five hundred billion"),
        ];
        for (n, want) in table {
            assert_eq!(cardinal(*n), *want);
        }
        assert_eq!(cardinal(u64::MAX).split(' ').next(), Some("eighteen"));
        assert_eq!(
            cardinal_str("123456789012345678901234"),
            spell_digits("123456789012345678901234")
        );
    }

    #[test]
    fn ordinals() {
        let table: &[(u64, &str)] = &[
            (1, "first"),
            (2, "second"),
            (3, "third"),
            (4, "fourth"),
            (12, "twelfth"),
            (20, "twentieth"),
            (21, "twenty-first"),
            (100, "one hundredth"),
            (103, "one hundred third"),
        ];
        for (n, want) in table {
            assert_eq!(ordinal(*n), *want);
        }
    }

    #[test]
    fn years() {
        let table: &[(u64, &str)] = &[
            (2026, "twenty twenty-six"),
            (1999, "nineteen ninety-nine"),
            (1900, "nineteen hundred"),
            (1905, "nineteen oh five"),
            (2000, "two thousand"),
            (2005, "two thousand five"),
            (2010, "twenty ten"),
            (1100, "eleven hundred"),
        ];
        for (n, want) in table {
            assert_eq!(year(*n), *want);
        }
        assert_eq!(pluralize("nineteen ninety"), "nineteen nineties");
        assert_eq!(pluralize("six"), "sixes");
    }
}
