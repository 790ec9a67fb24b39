//! Patient identifiers: NHS numbers (with their modulus-11 check digit) and
//! hospital numbers matching the site's pattern.

use regex::Regex;
use serde::{Deserialize, Serialize};

/// What the NHS-number check says about a string of digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NhsCheck {
    Valid,
    /// Ten digits, but the check digit does not match (or the sum gives 10).
    BadCheckDigit,
    /// Not ten digits at all.
    NotAnNhsNumber,
}

/// Checks an NHS number: weights 10..2 on the first nine digits, 11 minus the sum
/// modulo 11; 11 means 0 and 10 means the number is invalid. Spaces and dashes
/// (as printed on labels, "943 476 5919") are ignored.
pub fn check_nhs_number(text: &str) -> NhsCheck {
    let digits: Vec<u32> = match normalise_nhs(text) {
        Some(d) => d.chars().filter_map(|c| c.to_digit(10)).collect(),
        None => return NhsCheck::NotAnNhsNumber,
    };
    let sum: u32 = digits[..9]
        .iter()
        .zip((2..=10).rev())
        .map(|(d, w)| d * w)
        .sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return NhsCheck::BadCheckDigit,
        c => c,
    };
    if check == digits[9] {
        NhsCheck::Valid
    } else {
        NhsCheck::BadCheckDigit
    }
}

/// The ten digits of an NHS number written with optional spaces or dashes.
fn normalise_nhs(text: &str) -> Option<String> {
    let t = text.trim();
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
    {
        return None;
    }
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits.len() == 10).then_some(digits)
}

/// A patient identifier read from a control sheet or a label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PatientId {
    /// Ten digits; `valid` is false when the check digit is wrong.
    Nhs { number: String, valid: bool },
    /// A hospital (MRN) number matching the site's pattern.
    Hospital { number: String },
}

impl PatientId {
    /// Classifies text as an NHS number (ten digits, spaced or not) or a hospital
    /// number matching `hospital_pattern`; anything else is not an identifier.
    pub fn classify(text: &str, hospital_pattern: &Regex) -> Option<PatientId> {
        if let Some(number) = normalise_nhs(text) {
            let valid = check_nhs_number(&number) == NhsCheck::Valid;
            return Some(PatientId::Nhs { number, valid });
        }
        let t = text.trim();
        hospital_pattern.is_match(t).then(|| PatientId::Hospital {
            number: t.to_string(),
        })
    }

    /// The identifier as written (NHS numbers as ten plain digits).
    pub fn number(&self) -> &str {
        match self {
            PatientId::Nhs { number, .. } | PatientId::Hospital { number } => number,
        }
    }

    /// "NHS number 943 476 5919" or "hospital number RX1234567", for messages.
    pub fn describe(&self) -> String {
        match self {
            PatientId::Nhs { .. } => format!("NHS number {}", self.spaced()),
            PatientId::Hospital { number } => format!("hospital number {number}"),
        }
    }

    /// The identifier as printed on labels: "943 476 5919", "RX1234567".
    pub fn spaced(&self) -> String {
        match self {
            PatientId::Nhs { number, .. } if number.len() == 10 && number.is_ascii() => {
                format!("{} {} {}", &number[..3], &number[3..6], &number[6..])
            }
            PatientId::Nhs { number, .. } | PatientId::Hospital { number } => number.clone(),
        }
    }

    /// True when both are the same kind of identifier with a different value: the
    /// only case where a label can prove a page belongs to someone else.
    pub fn contradicts(&self, other: &PatientId) -> bool {
        match (self, other) {
            (PatientId::Nhs { number: a, .. }, PatientId::Nhs { number: b, .. }) => a != b,
            (PatientId::Hospital { number: a }, PatientId::Hospital { number: b }) => {
                !a.eq_ignore_ascii_case(b)
            }
            _ => false,
        }
    }
}

/// An identifier that would match a simple hospital-number pattern (such as
/// `^[A-Z]{2}[0-9]{6}$`, giving "AB123456"), to show people what is
/// expected; `None` when the pattern uses more than literal characters,
/// `\d`, classes and counted repeats, or the example would not match it.
pub fn pattern_example(pattern: &str) -> Option<String> {
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let body = body.strip_suffix('$').unwrap_or(body);
    let mut chars = body.chars().peekable();
    let mut out = String::new();
    while let Some(c) = chars.next() {
        let ranges: Vec<(char, char)> = match c {
            '[' => class_ranges(&mut chars)?,
            '\\' => match chars.next()? {
                'd' => vec![('0', '9')],
                l if l.is_ascii_punctuation() => vec![(l, l)],
                _ => return None,
            },
            l if l.is_ascii_alphanumeric() || l == '-' || l == '/' => vec![(l, l)],
            _ => return None,
        };
        let times = repeats(&mut chars)?;
        let (lo, hi) = *ranges.first()?;
        let span = hi as u32 - lo as u32 + 1;
        for i in 0..times {
            // Digits read as "123456", letters as "ABC".
            let step = if (lo, hi) == ('0', '9') { i + 1 } else { i };
            out.push(char::from_u32(lo as u32 + step % span)?);
        }
    }
    let re = Regex::new(pattern).ok()?;
    (!out.is_empty() && re.is_match(&out)).then_some(out)
}

/// The ranges of a class (after its `[`), up to its `]`.
fn class_ranges(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<Vec<(char, char)>> {
    let mut ranges = Vec::new();
    loop {
        let c = chars.next()?;
        match c {
            ']' => return (!ranges.is_empty()).then_some(ranges),
            '^' | '[' | '\\' => return None,
            _ if chars.peek() == Some(&'-') => {
                chars.next();
                let hi = chars.next()?;
                if hi == ']' || hi < c {
                    return None;
                }
                ranges.push((c, hi));
            }
            _ => ranges.push((c, c)),
        }
    }
}

/// How many times the atom before is written in an example: `{n}`,
/// `{n,m}` and `+` the fewest allowed (at least once), `?` and `*` once.
fn repeats(chars: &mut std::iter::Peekable<std::str::Chars>) -> Option<u32> {
    match chars.peek() {
        Some('+' | '?' | '*') => {
            chars.next();
            Some(1)
        }
        Some('{') => {
            chars.next();
            let mut inside = String::new();
            loop {
                match chars.next()? {
                    '}' => break,
                    c => inside.push(c),
                }
            }
            let first = inside.split(',').next()?.trim();
            let n: u32 = first.parse().ok()?;
            (n <= 64).then_some(n.max(1))
        }
        _ => Some(1),
    }
}

/// Makes a valid NHS number from nine digits by appending the check digit, or
/// `None` when those nine digits cannot have one (the sum gives 10).
pub fn complete_nhs_number(first_nine: &str) -> Option<String> {
    let digits: Vec<u32> = first_nine.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 9 {
        return None;
    }
    let sum: u32 = digits.iter().zip((2..=10).rev()).map(|(d, w)| d * w).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return None,
        c => c,
    };
    Some(format!("{first_nine}{check}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_check_digit() {
        assert_eq!(check_nhs_number("9434765919"), NhsCheck::Valid);
        assert_eq!(check_nhs_number("943 476 5919"), NhsCheck::Valid);
        assert_eq!(check_nhs_number("9434765918"), NhsCheck::BadCheckDigit);
        assert_eq!(check_nhs_number("943476591"), NhsCheck::NotAnNhsNumber);
        assert_eq!(check_nhs_number("94347659X9"), NhsCheck::NotAnNhsNumber);
        assert_eq!(complete_nhs_number("401023213"), Some("4010232137".into()));
        for n in ["401023213", "123456789", "999999999"] {
            if let Some(full) = complete_nhs_number(n) {
                assert_eq!(check_nhs_number(&full), NhsCheck::Valid, "{full}");
            }
        }
    }

    #[test]
    fn classify_and_contradict() {
        let pat = Regex::new(r"^[A-Z]{1,3}[0-9]{5,8}$").unwrap();
        let a = PatientId::classify("9434765919", &pat).unwrap();
        let b = PatientId::classify("4010232137", &pat).unwrap();
        let h = PatientId::classify("RX123456", &pat).unwrap();
        assert!(matches!(a, PatientId::Nhs { valid: true, .. }));
        assert!(a.contradicts(&b));
        assert!(!a.contradicts(&a.clone()));
        assert!(!a.contradicts(&h));
        assert_eq!(PatientId::classify("hello", &pat), None);
        assert_eq!(a.describe(), "NHS number 943 476 5919");
    }

    #[test]
    fn simple_patterns_give_an_example_that_matches() {
        assert_eq!(
            pattern_example("^[A-Z]{2}[0-9]{6}$").as_deref(),
            Some("AB123456")
        );
        assert_eq!(
            pattern_example(r"^[A-Z]{1,3}[0-9]{5,8}$").as_deref(),
            Some("A12345")
        );
        assert_eq!(pattern_example(r"^H\d{3}$").as_deref(), Some("H123"));
        assert_eq!(pattern_example(r"^(RX|RY)\d+$"), None);
        assert_eq!(pattern_example(r"^[^0-9]{2}$"), None);
        assert_eq!(pattern_example(""), None);
    }
}
