//! English text normalisation for TTS: spell out what espeak reads badly.
//!
//! [`normalize_text`] is a pure, single-pass function. It expands currency
//! ("$5.20" → "five dollars and twenty cents"), percentages, clock times
//! ("10:30 am" → "ten thirty AM"), ordinals ("3rd" → "third"), standalone
//! years 1100–2099 ("2026" → "twenty twenty-six"), other integers, decimals
//! and negative numbers as cardinals, "&" → "and", and common period
//! abbreviations ("Dr." → "Doctor"). Abbreviations are expanded here, before
//! sentence splitting, so their period never ends a sentence.

mod abbrev;
mod numbers;

pub use numbers::{cardinal, ordinal, spell_digits, year};

/// Normalises English `text` for speech (see module docs).
pub fn normalize_text(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut scanner = Scanner {
        c: &chars,
        i: 0,
        out: String::with_capacity(text.len() + text.len() / 4),
    };
    scanner.run();
    scanner.out
}

/// A parsed numeric literal: digits (group separators removed) and fraction.
struct Num {
    int: String,
    frac: Option<String>,
    grouped: bool,
    end: usize,
}

impl Num {
    fn words(&self) -> String {
        let int = numbers::cardinal_str(&self.int);
        match &self.frac {
            Some(f) => format!("{int} point {}", numbers::spell_digits(f)),
            None => int,
        }
    }

    fn value(&self) -> Option<u64> {
        self.int.parse().ok()
    }
}

struct Currency {
    one: &'static str,
    many: &'static str,
    sub_one: &'static str,
    sub_many: &'static str,
}

fn currency(c: char) -> Option<Currency> {
    let (one, many, sub_one, sub_many) = match c {
        '$' => ("dollar", "dollars", "cent", "cents"),
        '€' => ("euro", "euros", "cent", "cents"),
        '£' => ("pound", "pounds", "penny", "pence"),
        _ => return None,
    };
    Some(Currency {
        one,
        many,
        sub_one,
        sub_many,
    })
}

const SCALE_WORDS: [&str; 4] = ["thousand", "million", "billion", "trillion"];

struct Scanner<'a> {
    c: &'a [char],
    i: usize,
    out: String,
}

impl Scanner<'_> {
    fn at(&self, j: usize) -> Option<char> {
        self.c.get(j).copied()
    }

    fn is_digit(&self, j: usize) -> bool {
        self.at(j).is_some_and(|c| c.is_ascii_digit())
    }

    fn is_letter(&self, j: usize) -> bool {
        self.at(j).is_some_and(char::is_alphabetic)
    }

    fn run(&mut self) {
        while let Some(c) = self.at(self.i) {
            let prev = self.i.checked_sub(1).and_then(|p| self.at(p));
            let word_start = prev.is_none_or(|p| !p.is_alphanumeric());
            if self.is_digit(self.i + 1) {
                if let Some(cur) = currency(c) {
                    self.currency(&cur);
                    continue;
                }
                if (c == '-' || c == '−')
                    && prev.is_none_or(|p| p.is_whitespace() || "([{\"'".contains(p))
                {
                    self.i += 1;
                    self.push_words("minus");
                    self.number();
                    continue;
                }
            }
            if c.is_ascii_digit() {
                self.number();
                continue;
            }
            if word_start && c.is_alphabetic() && self.abbreviation() {
                continue;
            }
            self.i += 1;
            match c {
                '&' => self.emit("and"),
                _ => self.out.push(c),
            }
        }
    }

    /// Appends words, separated from neighbouring letters/digits by spaces.
    /// Call after advancing `self.i` past the source text.
    fn emit(&mut self, words: &str) {
        self.push_words(words);
        if self.at(self.i).is_some_and(char::is_alphanumeric) {
            self.out.push(' ');
        }
    }

    fn push_words(&mut self, words: &str) {
        if self
            .out
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric)
        {
            self.out.push(' ');
        }
        self.out.push_str(words);
    }

    fn parse_num(&self, start: usize) -> Num {
        let mut j = start;
        while self.is_digit(j) {
            j += 1;
        }
        let mut int: String = self.c[start..j].iter().collect();
        let mut grouped = false;
        while self.at(j) == Some(',')
            && (1..=3).all(|k| self.is_digit(j + k))
            && !self.is_digit(j + 4)
        {
            int.extend(&self.c[j + 1..j + 4]);
            j += 4;
            grouped = true;
        }
        let mut frac = None;
        if self.at(j) == Some('.') && self.is_digit(j + 1) {
            let mut k = j + 1;
            while self.is_digit(k) {
                k += 1;
            }
            frac = Some(self.c[j + 1..k].iter().collect());
            j = k;
        }
        Num {
            int,
            frac,
            grouped,
            end: j,
        }
    }

    /// Whether position `j` (just after a period) looks like a sentence end:
    /// only whitespace follows, or whitespace then a capital letter.
    fn sentence_final(&self, j: usize) -> bool {
        let mut k = j;
        while self.at(k).is_some_and(char::is_whitespace) {
            k += 1;
        }
        match self.at(k) {
            None => true,
            Some(c) => k > j && c.is_uppercase(),
        }
    }

    /// Matches "am", "pm", "a.m.", "p.m." (any case) after at most one space.
    /// Returns the spoken form, the end index and whether a sentence period
    /// must be kept.
    fn ampm(&self, j: usize) -> Option<(&'static str, usize, bool)> {
        let j = if self.at(j) == Some(' ') { j + 1 } else { j };
        let word = match self.at(j)?.to_ascii_lowercase() {
            'a' => "AM",
            'p' => "PM",
            _ => return None,
        };
        if self.at(j + 1).is_some_and(|c| c.eq_ignore_ascii_case(&'m')) && !self.is_letter(j + 2) {
            return Some((word, j + 2, false));
        }
        if self.at(j + 1) == Some('.')
            && self.at(j + 2).is_some_and(|c| c.eq_ignore_ascii_case(&'m'))
        {
            if self.at(j + 3) == Some('.') {
                return Some((word, j + 4, self.sentence_final(j + 4)));
            }
            if !self.is_letter(j + 3) {
                return Some((word, j + 3, false));
            }
        }
        None
    }

    fn currency(&mut self, cur: &Currency) {
        let num = self.parse_num(self.i + 1);
        let mut j = num.end;
        // "$2.5 million" → "two point five million dollars"
        let k = if self.at(j) == Some(' ') { j + 1 } else { j };
        for scale in SCALE_WORDS {
            let len = scale.len();
            let candidate: String = self.c[k.min(self.c.len())..(k + len).min(self.c.len())]
                .iter()
                .collect();
            if candidate.eq_ignore_ascii_case(scale) && !self.is_letter(k + len) {
                self.i = k + len;
                self.emit(&format!("{} {scale} {}", num.words(), cur.many));
                return;
            }
        }
        let words = match (&num.frac, num.value()) {
            (Some(frac), Some(units)) if frac.len() <= 2 => {
                let cents: u64 = format!("{frac:0<2}").parse().unwrap_or(0);
                let mut parts = Vec::new();
                if units > 0 || cents == 0 {
                    let unit = if units == 1 { cur.one } else { cur.many };
                    parts.push(format!("{} {unit}", numbers::cardinal(units)));
                }
                if cents > 0 {
                    let sub = if cents == 1 {
                        cur.sub_one
                    } else {
                        cur.sub_many
                    };
                    parts.push(format!("{} {sub}", numbers::cardinal(cents)));
                }
                parts.join(" and ")
            }
            (None, Some(1)) => format!("one {}", cur.one),
            _ => format!("{} {}", num.words(), cur.many),
        };
        j = j.max(self.i + 1);
        self.i = j;
        self.emit(&words);
    }

    /// Digit groups joined by hyphens ("555-1234"), as group lengths.
    fn hyphen_groups(&self, start: usize) -> Vec<usize> {
        let mut groups = Vec::new();
        let mut j = start;
        loop {
            let begin = j;
            while self.is_digit(j) {
                j += 1;
            }
            groups.push(j - begin);
            if self.at(j) == Some('-') && self.is_digit(j + 1) {
                j += 1;
            } else {
                break;
            }
        }
        if self.is_letter(j) {
            groups.clear();
        }
        groups
    }

    fn number(&mut self) {
        // Phone numbers: 555-1234, 555-123-4567, 1-800-555-1234 → digit by digit.
        let groups = self.hyphen_groups(self.i);
        if matches!(groups.as_slice(), [3, 4] | [3, 3, 4] | [1, 3, 3, 4]) {
            let end = self.i + groups.iter().sum::<usize>() + groups.len() - 1;
            let words: Vec<String> = self.c[self.i..end]
                .split(|&c| c == '-')
                .map(|g| numbers::spell_digits(&g.iter().collect::<String>()))
                .collect();
            self.i = end;
            self.emit(&words.join(", "));
            return;
        }
        let num = self.parse_num(self.i);
        let j = num.end;
        let plain = !num.grouped && num.frac.is_none();

        // Version-like dotted numbers: 2.0.1 → "two point zero point one".
        if !num.grouped && num.frac.is_some() && self.at(j) == Some('.') && self.is_digit(j + 1) {
            let mut parts = vec![numbers::cardinal_str(&num.int)];
            let mut k = self.i + num.int.len();
            while self.at(k) == Some('.') && self.is_digit(k + 1) {
                let begin = k + 1;
                k = begin;
                while self.is_digit(k) {
                    k += 1;
                }
                parts.push(numbers::cardinal_str(
                    &self.c[begin..k].iter().collect::<String>(),
                ));
            }
            self.i = k;
            self.emit(&parts.join(" point "));
            return;
        }

        // Clock time: H:MM or HH:MM, optionally followed by am/pm.
        if plain
            && num.int.len() <= 2
            && self.at(j) == Some(':')
            && self.is_digit(j + 1)
            && self.is_digit(j + 2)
            && !self.is_digit(j + 3)
        {
            let hour = num.value().unwrap_or(99);
            let minute = (self.c[j + 1].to_digit(10).unwrap_or(0) * 10
                + self.c[j + 2].to_digit(10).unwrap_or(0)) as u64;
            if hour <= 24 && minute <= 59 {
                let ampm = self.ampm(j + 3);
                let mut words = numbers::cardinal(hour);
                match minute {
                    0 if ampm.is_none() => words.push_str(" o'clock"),
                    0 => {}
                    1..=9 => {
                        words.push_str(" oh ");
                        words.push_str(&numbers::cardinal(minute));
                    }
                    m => {
                        words.push(' ');
                        words.push_str(&numbers::cardinal(m));
                    }
                }
                self.finish_with_ampm(words, j + 3, ampm);
                return;
            }
        }

        // Ordinal: 1st, 2nd, 3rd, 4th.
        if plain {
            let suffix: String = self.c[j.min(self.c.len())..(j + 2).min(self.c.len())]
                .iter()
                .collect::<String>()
                .to_ascii_lowercase();
            if matches!(suffix.as_str(), "st" | "nd" | "rd" | "th") && !self.is_letter(j + 2) {
                if let Some(n) = num.value() {
                    self.i = j + 2;
                    self.emit(&numbers::ordinal(n));
                    return;
                }
            }
        }

        if self.at(j) == Some('%') {
            self.i = j + 1;
            self.emit(&format!("{} percent", num.words()));
            return;
        }

        if plain && num.value().is_some_and(|h| h <= 12) {
            if let Some(ampm) = self.ampm(j) {
                let words = num.words();
                self.finish_with_ampm(words, j, Some(ampm));
                return;
            }
        }

        let plural = self.at(j) == Some('s') && !self.is_letter(j + 1);
        let mut words = match num.value() {
            Some(y) if plain && num.int.len() == 4 && (1100..=2099).contains(&y) => {
                numbers::year(y)
            }
            _ => num.words(),
        };
        let mut end = j;
        if plural && num.frac.is_none() {
            words = numbers::pluralize(&words);
            end += 1;
        }
        // Numeric range: "10-20" → "ten to twenty".
        if !plural && self.at(end) == Some('-') && self.is_digit(end + 1) {
            words.push_str(" to");
            end += 1;
        }
        self.i = end;
        self.emit(&words);
    }

    fn finish_with_ampm(
        &mut self,
        mut words: String,
        end: usize,
        ampm: Option<(&'static str, usize, bool)>,
    ) {
        let mut end = end;
        if let Some((spoken, ampm_end, keep_period)) = ampm {
            words.push(' ');
            words.push_str(spoken);
            if keep_period {
                words.push('.');
            }
            end = ampm_end;
        }
        self.i = end;
        self.emit(&words);
    }

    /// Expands a period abbreviation starting at `self.i`; false if none.
    fn abbreviation(&mut self) -> bool {
        let start = self.i;
        let mut j = start;
        while self.is_letter(j) || (self.at(j) == Some('.') && self.is_letter(j + 1)) {
            j += 1;
        }
        if self.at(j) != Some('.') || self.is_digit(j + 1) {
            return false;
        }
        let word: String = self.c[start..j].iter().collect();
        let Some((expansion, kind)) = abbrev::lookup(&word) else {
            return false;
        };
        let after = j + 1;
        let mut next = after;
        while self.at(next).is_some_and(char::is_whitespace) {
            next += 1;
        }
        let next_char = self.at(next);
        let text = match kind {
            abbrev::Kind::Title => expansion.to_owned(),
            abbrev::Kind::Saint if next_char.is_some_and(char::is_uppercase) && next > after => {
                "Saint".to_owned()
            }
            abbrev::Kind::Saint => with_period("Street", self.sentence_final(after)),
            abbrev::Kind::Number if next_char.is_some_and(|c| c.is_ascii_digit()) => {
                expansion.to_owned()
            }
            abbrev::Kind::Number => return false,
            abbrev::Kind::Trailing => with_period(expansion, self.sentence_final(after)),
        };
        self.i = after;
        self.emit(&text);
        true
    }
}

fn with_period(word: &str, period: bool) -> String {
    if period {
        format!("{word}.")
    } else {
        word.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_text;

    #[test]
    fn normalization_table() {
        let table: &[(&str, &str)] = &[
            // currency
            ("$5.20", "five dollars and twenty cents"),
            ("It costs $5.20.", "It costs five dollars and twenty cents."),
            ("$1", "one dollar"),
            ("$1.01", "one dollar and one cent"),
            ("$0.50", "fifty cents"),
            ("$3.5", "three dollars and fifty cents"),
            ("$1,000,000", "one million dollars"),
            ("$2.5 million", "two point five million dollars"),
            ("£3", "three pounds"),
            ("€10.05", "ten euros and five cents"),
            // abbreviations
            ("Dr. Smith", "Doctor Smith"),
            ("Mr. and Mrs. Jones", "Mister and Missus Jones"),
            ("St. Louis", "Saint Louis"),
            ("Main St. is long", "Main Street is long"),
            ("I live on Main St.", "I live on Main Street."),
            ("apples, pears, etc. Then", "apples, pears, et cetera. Then"),
            ("cats vs. dogs", "cats versus dogs"),
            ("No. 5", "number five"),
            ("No. I refuse.", "No. I refuse."),
            ("e.g. this", "for example this"),
            // ordinals
            ("3rd", "third"),
            ("the 21st century", "the twenty-first century"),
            ("1st and 2nd", "first and second"),
            ("100th", "one hundredth"),
            // times
            ("10:30 am", "ten thirty AM"),
            ("10:30am", "ten thirty AM"),
            ("at 9:05 p.m.", "at nine oh five PM."),
            ("at 9:05 p.m. Then", "at nine oh five PM. Then"),
            ("at 9:05 p.m. today", "at nine oh five PM today"),
            ("10:00", "ten o'clock"),
            ("14:45", "fourteen forty-five"),
            ("7 pm", "seven PM"),
            // years and numbers
            ("2026", "twenty twenty-six"),
            ("In 1999 we", "In nineteen ninety-nine we"),
            ("the 1990s", "the nineteen nineties"),
            ("the 80s", "the eighties"),
            ("2000", "two thousand"),
            ("1000", "one thousand"),
            ("3000", "three thousand"),
            ("2,026", "two thousand twenty-six"),
            ("42", "forty-two"),
            (
                "1,234,567",
                "one million two hundred thirty-four thousand five hundred sixty-seven",
            ),
            ("3.14", "three point one four"),
            ("0.5", "zero point five"),
            ("-5", "minus five"),
            ("it is -3.5 degrees", "it is minus three point five degrees"),
            ("COVID-19", "COVID-nineteen"),
            ("Call 555-1234", "Call five five five, one two three four"),
            (
                "1-800-555-1234",
                "one, eight zero zero, five five five, one two three four",
            ),
            ("1990-2000", "nineteen ninety to two thousand"),
            ("10-20 people", "ten to twenty people"),
            ("version 2.0.1", "version two point zero point one"),
            ("On Jan. 5th", "On January fifth"),
            ("7000000000", "seven billion"),
            ("mp3", "mp three"),
            // percent and symbols
            ("50%", "fifty percent"),
            ("2.5%", "two point five percent"),
            ("Tom & Jerry", "Tom and Jerry"),
            ("AT&T", "AT and T"),
            // untouched
            ("Hello world.", "Hello world."),
            ("", ""),
        ];
        let mut failures = Vec::new();
        for (input, want) in table {
            let got = normalize_text(input);
            if got != *want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn never_panics_on_odd_input() {
        let alphabet: Vec<char> = "0123456789$€£.,:%-−&amp sSt Dr.No.é…\n".chars().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..5_000 {
            let len = (x % 24) as usize;
            let text: String = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    alphabet[(x >> 33) as usize % alphabet.len()]
                })
                .collect();
            let out = normalize_text(&text);
            assert!(
                !out.chars().any(|c| c.is_ascii_digit()),
                "{text:?} -> {out:?}"
            );
        }
        for odd in [
            "1,", "1.", "$", "$.", "12:", "12:3", "99:99", "1st2nd", "-", "--5", "1.2.3",
        ] {
            normalize_text(odd);
        }
    }
}
