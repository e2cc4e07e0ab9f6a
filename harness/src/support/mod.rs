//! Tools for support engineers: explain why an exchange broke and whose side must change
//! ([`diagnose`]), compare what was sent with what came back ([`diff`]), strip the personal data
//! from a folder so that it can be shared and still fails the same way ([`anonymize`]), and cut a
//! failing folder down to the records that matter ([`shrink`]). `docs/support.md` walks the field
//! cases.
//!
//! Shared parts: [`inputs`] (files and folders read whole, with the spec core's reports) and
//! [`raw`] (byte spans of records and fields, for tools that rewrite files in place).

pub mod anonymize;
pub mod diagnose;
pub mod diff;
pub mod hub_check;
pub mod inputs;
pub mod raw;
pub mod replay;
pub mod scenario_text;
pub mod shrink;
