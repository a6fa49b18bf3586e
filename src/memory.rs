//! Process memory.

/// Hands memory that was freed back to the system.
///
/// glibc's allocator keeps freed small blocks (a million file names and digests, once
/// a bag's payload is written) resident for reuse; the large buffers allocated next
/// (a manifest read whole, an index) come from fresh mappings instead, so the peak
/// counted both. `malloc_trim` returns the free pages. Elsewhere, nothing.
pub fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes no pointer and only releases memory the allocator
    // holds free; glibc locks its arenas, so any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
