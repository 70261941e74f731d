//! The bucket sizes usage is kept in.
use crate::model::{civil, days_from_civil};

/// The bucket sizes usage is kept in, finest first, with their names in the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    FiveMinutes,
    Hour,
    Day,
    Month,
}

impl Resolution {
    pub const ALL: [Resolution; 4] =
        [Resolution::FiveMinutes, Resolution::Hour, Resolution::Day, Resolution::Month];

    pub fn name(self) -> &'static str {
        match self {
            Resolution::FiveMinutes => "5m",
            Resolution::Hour => "hour",
            Resolution::Day => "day",
            Resolution::Month => "month",
        }
    }

    /// The start (UTC, unix seconds) of the bucket holding `t`.
    pub fn bucket(self, t: i64) -> i64 {
        match self {
            Resolution::FiveMinutes => t - t.rem_euclid(300),
            Resolution::Hour => t - t.rem_euclid(3600),
            Resolution::Day => t - t.rem_euclid(86_400),
            Resolution::Month => {
                let (y, m, _) = civil(t.div_euclid(86_400));
                days_from_civil(y, m, 1) * 86_400
            }
        }
    }
}

impl Resolution {
    /// The end (exclusive) of the bucket that starts at `bucket`.
    pub fn end(self, bucket: i64) -> i64 {
        match self {
            Resolution::FiveMinutes => bucket + 300,
            Resolution::Hour => bucket + 3600,
            Resolution::Day => bucket + 86_400,
            Resolution::Month => Resolution::Month.bucket(bucket + 32 * 86_400),
        }
    }
}
