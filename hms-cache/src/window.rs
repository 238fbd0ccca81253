//! Daily (`02:00-03:00`) and weekly (`sun:05:00-sun:06:00`) UTC windows, and whether two overlap. Windows
//! that only touch (one ends when the other starts) do not overlap.

/// Minutes in a day and in a week.
const DAY: u32 = 1440;
const WEEK: u32 = 7 * DAY;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// A window as (start, length) in minutes: of the day when daily, of the week when weekly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: u32,
    pub len: u32,
    pub weekly: bool,
}

/// `hh:mm` as minutes of the day.
fn hhmm(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

impl Window {
    /// `hh:mm-hh:mm` (may cross midnight).
    pub fn daily(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('-')?;
        let (start, end) = (hhmm(a)?, hhmm(b)?);
        Some(Window {
            start,
            len: (end + DAY - start) % DAY,
            weekly: false,
        })
    }

    /// `ddd:hh:mm-ddd:hh:mm` (may cross the week's end).
    pub fn weekly(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('-').collect();
        let [a, b] = parts.as_slice() else {
            return None;
        };
        let at = |x: &str| -> Option<u32> {
            let (d, t) = x.split_once(':')?;
            let day = DAYS.iter().position(|n| *n == d.to_ascii_lowercase())? as u32;
            Some(day * DAY + hhmm(t)?)
        };
        let (start, end) = (at(a)?, at(b)?);
        Some(Window {
            start,
            len: (end + WEEK - start) % WEEK,
            weekly: true,
        })
    }

    /// Every occurrence over two weeks as (start, end) minutes, so that windows across the week's end
    /// meet their neighbours.
    fn spans(self) -> Vec<(u32, u32)> {
        let (period, count) = if self.weekly { (WEEK, 2) } else { (DAY, 14) };
        (0..count)
            .map(|i| (self.start + i * period, self.start + i * period + self.len))
            .collect()
    }

    /// Whether the two windows share any minute.
    pub fn overlaps(self, other: Window) -> bool {
        let (a, b) = (self.spans(), other.spans());
        a.iter()
            .any(|(s1, e1)| b.iter().any(|(s2, e2)| s1 < e2 && s2 < e1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Window {
        Window::daily(s).expect("daily")
    }

    fn w(s: &str) -> Window {
        Window::weekly(s).expect("weekly")
    }

    #[test]
    fn parse() {
        assert_eq!(d("02:00-03:00").len, 60);
        assert_eq!(d("23:30-00:30").len, 60);
        assert_eq!(w("sun:05:00-sun:06:00").start, 6 * 1440 + 300);
        assert!(Window::daily("2:00-03:00").is_none());
        assert!(Window::weekly("sunday:05:00-sun:06:00").is_none());
        assert!(Window::weekly("sun:05:00").is_none());
    }

    #[test]
    fn overlaps() {
        let cases = [
            // The reference windows and the database's: they only touch.
            (d("02:00-03:00"), d("03:00-04:00"), false),
            (d("02:00-03:00"), w("sun:05:00-sun:06:00"), false),
            (w("sun:05:00-sun:06:00"), w("sun:04:00-sun:05:00"), false),
            (w("sun:05:00-sun:06:00"), d("03:00-04:00"), false),
            (d("02:30-03:30"), d("03:00-04:00"), true),
            (d("05:30-06:30"), w("sun:05:00-sun:06:00"), true),
            (w("sun:04:30-sun:05:30"), w("sun:04:00-sun:05:00"), true),
            // Across midnight and the week's end.
            (d("23:30-00:30"), w("mon:00:00-mon:01:00"), true),
            (w("sun:23:30-mon:00:30"), d("00:00-01:00"), true),
            (w("sun:23:30-mon:00:30"), w("mon:00:00-mon:01:00"), true),
        ];
        for (a, b, want) in cases {
            assert_eq!(a.overlaps(b), want, "{a:?} {b:?}");
            assert_eq!(b.overlaps(a), want, "{b:?} {a:?}");
        }
    }
}
