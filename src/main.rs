// mimalloc rather than glibc's malloc: reading thousands of applications allocates millions of small
// values across threads, and glibc grows its per-thread arenas a page at a time (an `mprotect` each),
// which was a third of `vapp plan`'s time on a 10,000-application account.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vapp::cli::main()
}
