//! Running one job per item on every core, results in input order.
//!
//! [`map`] is the pool behind `cpkit validate` of a folder: `jobs` scoped threads take the next
//! unclaimed item from a shared counter (so a large file does not hold up a queue of small ones),
//! and each result is put back at its item's index, so what the caller sees does not depend on the
//! number of threads or on which thread finished first. With `jobs` ≤ 1, or one item, it runs on
//! the calling thread. No thread outlives the call; a panic in a job is re-raised in the caller.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The number of threads to use when the caller gives none: one per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Applies `job` to every item on up to `jobs` threads; the results are in the items' order.
pub fn map<T, R, F>(items: &[T], jobs: usize, job: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = jobs.min(items.len());
    if threads <= 1 {
        return items.iter().map(job).collect();
    }
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let panicked = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        let result = job(item);
                        *slots[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
                    }
                })
            })
            .collect();
        // Every thread is joined; the first panic is kept to be raised again as it was.
        let joined: Vec<_> = handles.into_iter().map(|h| h.join()).collect();
        joined.into_iter().find_map(Result::err)
    });
    if let Some(payload) = panicked {
        std::panic::resume_unwind(payload);
    }
    slots
        .into_iter()
        .map(|slot| {
            slot.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .expect("every item was taken by a thread that finished")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_input_order_whatever_the_thread_count() {
        let items: Vec<u64> = (0..100).collect();
        // Uneven work, so threads finish out of order.
        let work = |&n: &u64| {
            let mut x = n;
            for _ in 0..(n % 7) * 10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
            (n, x)
        };
        let serial = map(&items, 1, work);
        for jobs in [2, 3, 8, 200] {
            assert_eq!(map(&items, jobs, work), serial, "jobs {jobs}");
        }
        assert_eq!(serial.iter().map(|r| r.0).collect::<Vec<_>>(), items);
    }

    #[test]
    fn uses_more_than_one_thread_when_asked() {
        let items = [(); 4];
        let ids = map(&items, 4, |_| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            std::thread::current().id()
        });
        let mut distinct = ids.clone();
        distinct.sort_by_key(|id| format!("{id:?}"));
        distinct.dedup();
        assert!(distinct.len() > 1, "{ids:?}");
        assert!(map(&[] as &[u8], 4, |_| 0).is_empty());
    }

    #[test]
    #[should_panic(expected = "job failed")]
    fn a_panicking_job_panics_the_caller() {
        map(&[1, 2, 3], 2, |&n| {
            if n == 2 {
                panic!("job failed");
            }
            n
        });
    }
}
