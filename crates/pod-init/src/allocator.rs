//! pod-init's allocator: dlmalloc, not musl's.
//!
//! musl's allocator gives memory back to the kernel after nearly every
//! free, so each small buffer costs an mmap, a munmap and their page faults
//! (a restart in place made 55 such calls; with dlmalloc, 11). dlmalloc
//! keeps what it got instead, which would keep the bootstrap's peak
//! resident for the days PID 1 supervises: [`trim`] gives the top of the
//! heap back once the bootstrap is over (PID 1's anonymous memory while it
//! supervises: 160 KiB untrimmed, 100 KiB trimmed, 60 KiB with musl's).
//! This wrapper exists for that call: dlmalloc's own global allocator does
//! not offer it.
//!
//! The lock is a spin lock: pod-init is single-threaded, so it is never
//! contended. Not in the unit tests (see main.rs).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// dlmalloc behind a lock.
#[derive(Debug)]
pub struct Allocator {
    locked: AtomicBool,
    heap: UnsafeCell<dlmalloc::Dlmalloc>,
}

// SAFETY: every access to `heap` holds `locked`.
unsafe impl Sync for Allocator {}

impl Allocator {
    pub const fn new() -> Self {
        Allocator { locked: AtomicBool::new(false), heap: UnsafeCell::new(dlmalloc::Dlmalloc::new()) }
    }

    fn with<T>(&self, f: impl FnOnce(&mut dlmalloc::Dlmalloc) -> T) -> T {
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held, so this is the only reference.
        let done = f(unsafe { &mut *self.heap.get() });
        self.locked.store(false, Ordering::Release);
        done
    }
}

// SAFETY: each call forwards to dlmalloc with the layout it was given, under
// the lock; dlmalloc meets GlobalAlloc's contract for those calls.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for the impl.
        self.with(|heap| unsafe { heap.malloc(layout.size(), layout.align()) })
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for the impl.
        self.with(|heap| unsafe { heap.calloc(layout.size(), layout.align()) })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as for the impl; `ptr` came from this allocator.
        self.with(|heap| unsafe { heap.free(ptr, layout.size(), layout.align()) })
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for the impl; `ptr` came from this allocator.
        self.with(|heap| unsafe { heap.realloc(ptr, layout.size(), layout.align(), new_size) })
    }
}

/// Gives the kernel back the free memory at the top of dlmalloc's heap
/// (nothing in the unit tests, which use the system allocator).
pub fn trim() {
    #[cfg(not(test))]
    // SAFETY: trim only releases memory no allocation uses.
    crate::ALLOCATOR.with(|heap| unsafe { heap.trim(0) });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_hold_their_bytes_through_growth_and_come_back_zeroed_when_asked() {
        let heap = Allocator::new();
        let layout = Layout::from_size_align(24, 8).unwrap();
        // SAFETY: each pointer is used within the layout it was allocated
        // with, and freed once, by the allocator that gave it.
        unsafe {
            let a = heap.alloc(layout);
            assert!(!a.is_null() && a as usize % 8 == 0);
            a.copy_from(b"twenty-four bytes, exact".as_ptr(), 24);
            let grown = heap.realloc(a, layout, 4096);
            assert_eq!(std::slice::from_raw_parts(grown, 24), b"twenty-four bytes, exact");
            let zeroed = heap.alloc_zeroed(Layout::from_size_align(8192, 64).unwrap());
            assert!(zeroed as usize % 64 == 0);
            assert!(std::slice::from_raw_parts(zeroed, 8192).iter().all(|b| *b == 0));
            heap.dealloc(zeroed, Layout::from_size_align(8192, 64).unwrap());
            heap.dealloc(grown, Layout::from_size_align(4096, 8).unwrap());
            assert!(!heap.locked.load(Ordering::Relaxed), "the lock is released after each call");
        }
    }

    #[test]
    fn trimming_gives_back_the_free_top_of_the_heap() {
        let heap = Allocator::new();
        let layout = Layout::from_size_align(200 * 1024, 8).unwrap();
        // SAFETY: allocated and freed once, by this allocator.
        unsafe {
            let block = heap.alloc(layout);
            assert!(!block.is_null());
            block.write_bytes(1, layout.size());
            heap.dealloc(block, layout);
            assert!(heap.with(|heap| heap.trim(0)), "nothing given back");
            assert!(!heap.with(|heap| heap.trim(0)), "given back twice");
        }
    }
}
