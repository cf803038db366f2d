//! Abbreviations that end in a period ("Dr.", "etc.").
//!
//! They are expanded before sentence splitting so that their period does not
//! end a sentence. Titles never end a sentence; the other kinds keep a period
//! when they look sentence-final (end of text, or followed by a capital).

/// How an abbreviation behaves around sentence boundaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Precedes a name ("Dr. Smith"): the period is never a sentence end.
    Title,
    /// May end a sentence ("... and so on, etc. Next").
    Trailing,
    /// "St.": "Saint" before a capitalised word, otherwise "Street".
    Saint,
    /// "No.": "number" only before a digit, otherwise left alone.
    Number,
}

const TABLE: &[(&str, &str, Kind)] = &[
    ("Dr", "Doctor", Kind::Title),
    ("Mr", "Mister", Kind::Title),
    ("Mrs", "Missus", Kind::Title),
    ("Ms", "Miz", Kind::Title),
    ("Prof", "Professor", Kind::Title),
    ("Rev", "Reverend", Kind::Title),
    ("Hon", "Honorable", Kind::Title),
    ("Gen", "General", Kind::Title),
    ("Gov", "Governor", Kind::Title),
    ("Sen", "Senator", Kind::Title),
    ("Rep", "Representative", Kind::Title),
    ("Capt", "Captain", Kind::Title),
    ("Lt", "Lieutenant", Kind::Title),
    ("Col", "Colonel", Kind::Title),
    ("Sgt", "Sergeant", Kind::Title),
    ("Mt", "Mount", Kind::Title),
    ("Ft", "Fort", Kind::Title),
    ("St", "", Kind::Saint),
    ("No", "number", Kind::Number),
    ("no", "number", Kind::Number),
    ("Jr", "Junior", Kind::Trailing),
    ("Sr", "Senior", Kind::Trailing),
    ("Inc", "Incorporated", Kind::Trailing),
    ("Ltd", "Limited", Kind::Trailing),
    ("Co", "Company", Kind::Trailing),
    ("Corp", "Corporation", Kind::Trailing),
    ("Ave", "Avenue", Kind::Trailing),
    ("Blvd", "Boulevard", Kind::Trailing),
    ("Rd", "Road", Kind::Trailing),
    ("Dept", "Department", Kind::Trailing),
    ("dept", "department", Kind::Trailing),
    ("etc", "et cetera", Kind::Trailing),
    ("vs", "versus", Kind::Trailing),
    ("approx", "approximately", Kind::Trailing),
    ("e.g", "for example", Kind::Trailing),
    ("i.e", "that is", Kind::Trailing),
    ("Jan", "January", Kind::Trailing),
    ("Feb", "February", Kind::Trailing),
    ("Apr", "April", Kind::Trailing),
    ("Jun", "June", Kind::Trailing),
    ("Jul", "July", Kind::Trailing),
    ("Aug", "August", Kind::Trailing),
    ("Sep", "September", Kind::Trailing),
    ("Sept", "September", Kind::Trailing),
    ("Oct", "October", Kind::Trailing),
    ("Nov", "November", Kind::Trailing),
    ("Dec", "December", Kind::Trailing),
    ("a.m", "AM", Kind::Trailing),
    ("p.m", "PM", Kind::Trailing),
    ("A.M", "AM", Kind::Trailing),
    ("P.M", "PM", Kind::Trailing),
];

/// Looks up `word` (without its final period).
pub(crate) fn lookup(word: &str) -> Option<(&'static str, Kind)> {
    TABLE
        .iter()
        .find(|(k, _, _)| *k == word)
        .map(|(_, v, kind)| (*v, *kind))
}
