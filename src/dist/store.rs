//! The rendezvous store: c10d's TCPStore (csrc/dist.cpp), a key-value
//! server that every rank reaches at `MASTER_ADDR:MASTER_PORT`. dpn's own
//! exchanges go through it rather than through collectives: a store value
//! has any length, so ranks that disagree (other settings, a foreign
//! process) are told apart and reported instead of meeting in a Gloo
//! collective of mismatched sizes, which aborts the process from a thread
//! that no one can catch. Every call is bounded by `--dist-timeout`, by the
//! store itself and by the [`deadline`](super::deadline) watchdog.

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::time::Duration;

use anyhow::Result;

use super::deadline;
use super::ffi;
use super::launch::Launch;
use crate::sys::error;

pub struct Store {
    raw: *mut c_void,
    timeout: Duration,
    /// "rank R of W", for messages.
    who: String,
}

impl Store {
    /// Connects to the store of `launch` (serving it on `listener` when
    /// this is rank 0 and the launcher does not serve it).
    pub fn connect(
        launch: &Launch,
        listener: Option<std::net::TcpListener>,
        timeout: Duration,
    ) -> Result<Store> {
        let who = format!("rank {} of {}", launch.rank, launch.world);
        let host = CString::new(launch.master_addr.clone())
            .map_err(|_| error::usage("MASTER_ADDR holds a NUL byte"))?;
        let prefix = CString::new(launch.prefix.clone())
            .map_err(|_| error::usage("the store prefix holds a NUL byte"))?;
        let unreachable = |why: &str| {
            format!(
                "{who}: could not meet the other ranks at {}:{} within {} s (--dist-timeout): \
                 {why}; check that every rank was started and that MASTER_ADDR and MASTER_PORT \
                 reach rank 0's host",
                launch.master_addr,
                launch.master_port,
                timeout.as_secs()
            )
        };
        let server = listener.is_some();
        #[cfg(unix)]
        let fd: c_int = match listener {
            // The store owns the socket from here on.
            Some(l) => std::os::fd::IntoRawFd::into_raw_fd(l),
            None => -1,
        };
        #[cfg(not(unix))]
        let fd: c_int = -1;
        let _guard = deadline::arm(
            timeout + deadline::GRACE,
            unreachable(
                "no store answered (nobody listens there, rank 0 is stopped, or the process \
                 listening there does not speak the store's protocol)",
            ),
        );
        let mut err = [0 as c_char; ffi::ERR_LEN];
        // SAFETY: valid C strings and an error buffer of the stated length.
        let raw = unsafe {
            ffi::dpn_store_new(
                host.as_ptr(),
                c_int::from(launch.master_port),
                fd,
                c_int::from(server),
                launch.world as c_int,
                prefix.as_ptr(),
                timeout.as_millis().min(i64::MAX as u128) as i64,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if raw.is_null() {
            return Err(error::distributed(unreachable(&ffi::message(&err))));
        }
        Ok(Store { raw, timeout, who })
    }

    pub(super) fn raw(&self) -> *mut c_void {
        self.raw
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn failed(&self, what: &str, err: &[c_char]) -> anyhow::Error {
        error::distributed(format!(
            "{}: {what} failed: {}; another rank died, was stopped or did not answer within \
             {} s (--dist-timeout)",
            self.who,
            ffi::message(err),
            self.timeout.as_secs()
        ))
    }

    fn guard(&self, what: &str) -> deadline::Guard {
        deadline::arm(
            self.timeout + deadline::GRACE,
            format!(
                "{}: {what} got no answer within {} s (--dist-timeout): the store's host \
                 (rank 0, or the launcher) stopped answering",
                self.who,
                self.timeout.as_secs()
            ),
        )
    }

    pub fn set(&self, key: &str, value: &[u8]) -> Result<()> {
        let k = key_cstr(key);
        let what = format!("writing {key} to the rendezvous store");
        let _g = self.guard(&what);
        let mut err = [0 as c_char; ffi::ERR_LEN];
        // SAFETY: a live store, a C string, a byte slice and an error buffer.
        let rc = unsafe {
            ffi::dpn_store_set(
                self.raw,
                k.as_ptr(),
                value.as_ptr(),
                value.len(),
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            return Err(self.failed(&what, &err));
        }
        Ok(())
    }

    /// The value of `key`, waiting for another rank to set it (up to the
    /// timeout); `waiting_for` names what is awaited, for the message.
    pub fn get(&self, key: &str, waiting_for: &str) -> Result<Vec<u8>> {
        self.get_or(key, waiting_for, || {
            format!(
                "{}: {waiting_for} did not come within {} s (--dist-timeout); every rank must \
                 be a dpn of the same version started with the same command",
                self.who,
                self.timeout.as_secs()
            )
        })
    }

    /// [`Store::get`] with the message of a timeout given: the rendezvous
    /// says "could not meet", as before any rank is known to be there.
    pub fn get_or(
        &self,
        key: &str,
        waiting_for: &str,
        on_timeout: impl FnOnce() -> String,
    ) -> Result<Vec<u8>> {
        let k = key_cstr(key);
        let _g = self.guard(&format!("waiting for {waiting_for}"));
        let mut err = [0 as c_char; ffi::ERR_LEN];
        let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
        // SAFETY: as in set; `out` receives a malloc'd buffer of `len` bytes.
        let rc = unsafe {
            ffi::dpn_store_get(
                self.raw,
                k.as_ptr(),
                &mut out,
                &mut len,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            let message = ffi::message(&err).to_ascii_lowercase();
            if message.contains("timeout") || message.contains("timed out") {
                return Err(error::distributed(on_timeout()));
            }
            return Err(self.failed(&format!("waiting for {waiting_for}"), &err));
        }
        Ok(take(out, len))
    }

    /// Adds `delta` to the counter `key`; its new value.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64> {
        let k = key_cstr(key);
        let what = format!("counting {key} in the rendezvous store");
        let _g = self.guard(&what);
        let mut err = [0 as c_char; ffi::ERR_LEN];
        let mut value = 0i64;
        // SAFETY: a live store, a C string, an out value and an error buffer.
        let rc = unsafe {
            ffi::dpn_store_add(
                self.raw,
                k.as_ptr(),
                delta,
                &mut value,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            return Err(self.failed(&what, &err));
        }
        Ok(value)
    }

    /// Waits until the counter `key` reaches `n`, for at most `bound`
    /// (whether it did is not an error either way: used on the way out).
    pub fn wait_count(&self, key: &str, n: i64, bound: Duration) {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < bound.min(self.timeout) {
            match self.add(key, 0) {
                Ok(c) if c >= n => return,
                Ok(_) => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return,
            }
        }
    }

    pub fn who(&self) -> &str {
        &self.who
    }

    /// Sets `key` to `value` unless it is already set; the value it holds
    /// afterwards (`value` itself when this call set it).
    pub fn claim(&self, key: &str, value: &[u8]) -> Result<Vec<u8>> {
        let k = key_cstr(key);
        let what = format!("claiming {key} in the rendezvous store");
        let _g = self.guard(&what);
        let mut err = [0 as c_char; ffi::ERR_LEN];
        let (mut out, mut len) = (std::ptr::null_mut(), 0usize);
        // SAFETY: as in get.
        let rc = unsafe {
            ffi::dpn_store_compare_set(
                self.raw,
                k.as_ptr(),
                std::ptr::null(),
                0,
                value.as_ptr(),
                value.len(),
                &mut out,
                &mut len,
                err.as_mut_ptr(),
                err.len(),
            )
        };
        if rc != 0 {
            return Err(self.failed(&what, &err));
        }
        Ok(take(out, len))
    }
}

/// Keys are dpn's own ASCII names.
fn key_cstr(key: &str) -> CString {
    CString::new(key).expect("store keys hold no NUL byte")
}

fn take(out: *mut u8, len: usize) -> Vec<u8> {
    // SAFETY: `out` holds `len` bytes from malloc, freed once here.
    unsafe {
        let v = std::slice::from_raw_parts(out, len).to_vec();
        ffi::dpn_buf_free(out);
        v
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // SAFETY: made by dpn_store_new, freed once.
        unsafe { ffi::dpn_store_free(self.raw) }
    }
}
