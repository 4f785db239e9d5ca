//! Exit statuses (CONTRACT §5): one meaning each, so scripts can act on them.

pub const OK: u8 = 0;
/// Some jobs failed (they are listed).
pub const JOBS_FAILED: u8 = 1;
/// Bad input: an invalid snapshot or config, bad token files.
pub const INVALID: u8 = 2;
pub const FORBIDDEN: u8 = 3;
pub const CONFLICT: u8 = 4;
pub const NOT_FOUND: u8 = 5;
/// The command could not do its work for an internal reason (store unreachable, I/O): never 1,
/// which means "some jobs failed".
pub const INTERNAL: u8 = 6;
