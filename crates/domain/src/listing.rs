//! Bounds on list endpoints.

use crate::Violation;

/// How many items one page of a list holds: 1..=[`PageSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u16);

impl PageSize {
    pub const DEFAULT: u16 = 50;
    pub const MAX: u16 = 200;

    pub fn new(size: i64) -> Result<Self, Violation> {
        if (1..=i64::from(Self::MAX)).contains(&size) {
            // The range check above makes the conversion lossless.
            Ok(Self(u16::try_from(size).unwrap_or(Self::MAX)))
        } else {
            Err(Violation::new(
                "out_of_range",
                format!("page size must be between 1 and {}, got {size}", Self::MAX),
            ))
        }
    }
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageSize {
    fn default() -> Self {
        Self(Self::DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(PageSize::new(1).unwrap().get(), 1);
        assert_eq!(PageSize::new(200).unwrap().get(), 200);
        assert!(PageSize::new(0).is_err());
        assert!(PageSize::new(1_000_000).is_err());
        assert!(PageSize::new(-3).is_err());
    }
}
