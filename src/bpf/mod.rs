//! The BPF object: its skeleton, the layout of its maps, where it is pinned, and how its
//! per-CPU counters are read.
pub mod attachments;
pub mod binding;
pub mod class_table;
pub mod layout;
pub mod percpu;
pub mod pins;
pub mod slots;
pub mod tree;

#[allow(
    clippy::all,
    clippy::unwrap_used,
    clippy::expect_used,
    dead_code,
    non_camel_case_types,
    non_snake_case,
    unused_imports
)]
pub mod skel {
    include!(concat!(env!("OUT_DIR"), "/netattr.skel.rs"));
}

pub use layout::{Attachment, Counters, Health, Meta, Source};
pub use pins::{Instance, PinState, Pins};
