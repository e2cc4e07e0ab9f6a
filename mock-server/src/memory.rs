//! The hub's memory after large uploads: what the allocator keeps once a request is answered.
//!
//! The upload budget (`limits.max_bytes_in_flight`, [`crate::conn`]) bounds how many request
//! bytes are held at once; this module makes sure that what was held is given back. With glibc's
//! allocator, two things kept hundreds of megabytes resident after a burst of concurrent sends
//! (issue 9 point 7):
//!
//! * **The sliding mmap threshold.** glibc serves a large block with its own mapping (returned to
//!   the system when freed) but, after freeing one, raises the threshold up to 32 MiB, so later
//!   upload buffers come from the heaps of its per-thread arenas and stay there when freed.
//!   [`tune`] fixes the threshold at [`MMAP_THRESHOLD`], which also stops the sliding.
//! * **Free memory inside the arenas.** Many small blocks of a finished request (multipart
//!   buffers, SQLite's pages) leave free pages inside each arena's heap. [`after_large_request`]
//!   asks glibc to return them (`malloc_trim`), once for a burst: a trim is scheduled shortly
//!   after a large request ends, and one already scheduled covers the ones that end meanwhile.
//!
//! On other allocators and platforms both are no-ops. [`status_kb`] reads a process's memory
//! figures (the benchmarks and tests that hold the hub to this).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Blocks at least this large get a mapping of their own (returned when freed).
pub const MMAP_THRESHOLD: usize = 256 * 1024;

/// A request body this large is "large": its end schedules a trim.
pub const LARGE_REQUEST_BYTES: u64 = 1024 * 1024;

/// How long after a large request its trim runs (requests ending meanwhile share it).
const TRIM_DELAY: Duration = Duration::from_millis(100);

static TRIM_SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Fixes the allocator's mmap threshold (see the module comment). Called once when a hub starts;
/// calling it again changes nothing.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

/// Returns the free memory of every arena to the system now.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Called when a request whose body took `bytes` of the upload budget has been answered:
/// schedules one trim for the burst (on the blocking pool, off the connection tasks).
pub fn after_large_request(bytes: u64) {
    if bytes < LARGE_REQUEST_BYTES || TRIM_SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        TRIM_SCHEDULED.store(false, Ordering::Release);
        trim();
        return;
    };
    runtime.spawn(async {
        tokio::time::sleep(TRIM_DELAY).await;
        // Cleared first: a request ending while this trim runs schedules the next one.
        TRIM_SCHEDULED.store(false, Ordering::Release);
        let _ = tokio::task::spawn_blocking(trim).await;
    });
}

/// A memory figure of a process from `/proc/<pid>/status` (`"VmRSS:"`, `"VmHWM:"`, …) in kB;
/// `None` where there is no such file or field (not Linux, the process gone).
pub fn status_kb(pid: Option<u32>, field: &str) -> Option<u64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/status"),
        None => "/proc/self/status".to_owned(),
    };
    std::fs::read_to_string(path).ok().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    })
}

#[cfg(test)]
mod tests {
    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_has_a_resident_size_and_a_peak_at_least_as_large() {
        let rss = super::status_kb(None, "VmRSS:").unwrap();
        let peak = super::status_kb(Some(std::process::id()), "VmHWM:").unwrap();
        assert!(rss > 0 && peak >= rss, "{rss} {peak}");
        assert_eq!(super::status_kb(None, "NoSuchField:"), None);
    }
}
