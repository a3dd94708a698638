//! A hard bound on the blocking calls of the rendezvous. A TCPStore client
//! whose peer accepted the connection and then stays silent (a SIGSTOPped
//! rank 0, or any process listening on the port) waits inside C++ with no
//! timeout of its own, and c10d's connect retries overshoot the timeout by
//! seconds; nothing can interrupt such a call from Rust. A watchdog thread
//! therefore ends the process, with dpn's one error line and exit code 9,
//! when an armed call outlives its deadline (`--dist-timeout` plus
//! [`GRACE`], so that c10d's own, more precise error wins when it comes).
//! Nothing is being written while these calls run, so ending the process
//! there loses no file.

use std::io::Write;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::sys::error;

/// How long past its own timeout a call may take before the watchdog ends it.
pub const GRACE: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Armed {
    next: u64,
    calls: Vec<(u64, Instant, String)>,
}

fn watch() -> &'static (Mutex<Armed>, Condvar) {
    static W: OnceLock<(Mutex<Armed>, Condvar)> = OnceLock::new();
    W.get_or_init(|| {
        std::thread::Builder::new()
            .name("dpn-dist-deadline".into())
            .spawn(watcher)
            .expect("starting the rendezvous watchdog thread");
        (Mutex::new(Armed::default()), Condvar::new())
    })
}

/// A call in progress; dropping it disarms its deadline.
pub struct Guard(u64);

/// Arms a deadline `after` from now: if the guard still lives then, the
/// process prints `message` as its error and exits with code 9.
pub fn arm(after: Duration, message: String) -> Guard {
    let (lock, cv) = watch();
    let mut a = lock.lock().unwrap_or_else(|p| p.into_inner());
    a.next += 1;
    let id = a.next;
    a.calls.push((id, Instant::now() + after, message));
    cv.notify_all();
    Guard(id)
}

impl Drop for Guard {
    fn drop(&mut self) {
        let (lock, cv) = watch();
        let mut a = lock.lock().unwrap_or_else(|p| p.into_inner());
        a.calls.retain(|(id, _, _)| *id != self.0);
        cv.notify_all();
    }
}

fn watcher() {
    // `watch()` is being initialized by the caller that started this
    // thread; the first lock waits for it.
    let (lock, cv) = watch();
    let mut a = lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        let now = Instant::now();
        match a.calls.iter().min_by_key(|(_, at, _)| *at) {
            None => a = cv.wait(a).unwrap_or_else(|p| p.into_inner()),
            Some((_, at, message)) if *at <= now => expire(message),
            Some((_, at, _)) => {
                let wait = *at - now;
                a = cv
                    .wait_timeout(a, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
        }
    }
}

/// Ends the process at once: the thread that is stuck in C++ cannot be
/// unwound, and exit handlers could wait on the locks it holds.
fn expire(message: &str) -> ! {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "dpn: error: {message}");
    let _ = err.flush();
    let code = error::Exit::Distributed.code();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: _exit ends the process without running any handler.
    unsafe {
        libc::_exit(code)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    std::process::exit(code)
}
