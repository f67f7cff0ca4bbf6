//! `YYYY-MM-DD` dates in annotations, checked at compile time.

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date {
    pub(crate) year: u16,
    pub(crate) month: u8,
    pub(crate) day: u8,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Parses a date, or says in words what is wrong with it.
pub(crate) fn parse(key: &str, s: &str) -> Result<Date, String> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return Err(format!(
            "`{key}` must be a date written `YYYY-MM-DD`, not `{s}`"
        ));
    }
    let year: u16 = s[0..4].parse().expect("four ascii digits");
    let month: u8 = s[5..7].parse().expect("two ascii digits");
    let day: u8 = s[8..10].parse().expect("two ascii digits");
    if !(1..=12).contains(&month) {
        return Err(format!(
            "`{s}` is not a real date: there is no month {month}; write `{key} = \"YYYY-MM-DD\"`"
        ));
    }
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day == 0 || day > days {
        return Err(format!(
            "`{s}` is not a real date: {} {year} has {days} days",
            MONTHS[usize::from(month) - 1]
        ));
    }
    Ok(Date { year, month, day })
}
