//! The vocabulary the whole program speaks, plain data with no I/O: who a workload is and
//! what was read of it, how rows are grouped, the counters and their source, a destination
//! class's id, a report's period and the amounts people write. The kernel side, the naming,
//! the core, the ledger, the CLI and top import it; it imports none of them.
mod counters;
mod field;
mod holder;
mod labels;
pub mod pairs;
mod period;
mod workload;

pub use counters::{ClassId, Counters, Source};
pub use field::Field;
pub use holder::{Holder, Holding, HOST};
pub use labels::{series_label, LabelKeys};
pub use period::{civil, days_from_civil, parse_bytes, parse_time, unix_now, utc, Period};
pub use workload::{Reading, Workload};
