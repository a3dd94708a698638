//! Peak memory of a piece of work: the CUDA caching allocator's peak on a GPU,
//! the growth of the process's peak resident set on the CPU.

use tch::Device;

extern "C" {
    fn dpn_cuda_reset_peak(device: i32) -> i32;
    fn dpn_cuda_peak_allocated(device: i32, out: *mut i64) -> i32;
}

pub struct PeakMeter {
    device: Device,
    /// Resident set when the meter started (CPU).
    baseline: Option<u64>,
}

impl PeakMeter {
    pub fn start(device: Device) -> PeakMeter {
        let baseline = match device {
            Device::Cuda(i) => {
                // SAFETY: plain C call; the shim catches every C++ exception.
                unsafe { dpn_cuda_reset_peak(i as i32) };
                None
            }
            _ => {
                // Writing 5 to clear_refs resets VmHWM to the current RSS
                // (Linux >= 4.0), so each measurement starts from now.
                let _ = std::fs::write("/proc/self/clear_refs", "5");
                proc_status_kb("VmRSS:")
            }
        };
        PeakMeter { device, baseline }
    }

    /// Bytes above the start, or None where the platform cannot tell.
    pub fn finish(self) -> Option<u64> {
        match self.device {
            Device::Cuda(i) => {
                let mut peak = 0i64;
                // SAFETY: `peak` outlives the call; the shim catches exceptions.
                let rc = unsafe { dpn_cuda_peak_allocated(i as i32, &mut peak) };
                (rc == 0).then_some(peak.max(0) as u64)
            }
            _ => {
                let hwm = proc_status_kb("VmHWM:")?;
                Some(hwm.saturating_sub(self.baseline?))
            }
        }
    }
}

/// A `kB` field of /proc/self/status, in bytes.
fn proc_status_kb(field: &str) -> Option<u64> {
    kb_field("/proc/self/status", field)
}

/// A `kB` field of /proc/meminfo, in bytes.
fn meminfo_kb(field: &str) -> Option<u64> {
    kb_field("/proc/meminfo", field)
}

/// `field` (e.g. `VmRSS:`) of a /proc file in Linux's `NAME: N kB` layout, in bytes.
fn kb_field(file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(file).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Caps this process's address space at what it has mapped now plus the
/// memory the kernel reports available (`MemAvailable`), unless a lower
/// limit is already set (`ulimit -v`). Linux overcommits: without a cap, a
/// batch too large for the machine is not refused by the allocator but
/// killed by the kernel's out-of-memory killer part-way through (SIGKILL, no
/// message, no chance to retry). With it, the allocation fails, libtorch
/// reports it, and dpn retries at a smaller batch or exits 8 with one line.
/// Only for work on the CPU: CUDA reserves large address ranges it never
/// backs. Returns the cap in bytes when one is in force.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn cap_to_available() -> Option<u64> {
    let mapped = proc_status_kb("VmSize:")?;
    let available = meminfo_kb("MemAvailable:")?;
    let want = mapped.saturating_add(available);
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a stack value.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_AS, &mut current) != 0 {
            return None;
        }
        if current.rlim_cur != libc::RLIM_INFINITY && current.rlim_cur <= want {
            return Some(current.rlim_cur);
        }
        let cap = if current.rlim_max == libc::RLIM_INFINITY {
            want
        } else {
            want.min(current.rlim_max)
        };
        let limit = libc::rlimit {
            rlim_cur: cap,
            rlim_max: current.rlim_max,
        };
        (libc::setrlimit(libc::RLIMIT_AS, &limit) == 0).then_some(cap)
    }
}

/// The memory a new allocation can count on: `MemAvailable`, bounded by
/// the room left under an address-space limit. None where Linux's files are
/// missing.
pub fn available_bytes() -> Option<u64> {
    #[cfg(feature = "test-hooks")]
    if let Some(n) = crate::sys::fail::available_memory() {
        return Some(n);
    }
    system_available_bytes()
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn system_available_bytes() -> Option<u64> {
    let available = meminfo_kb("MemAvailable:")?;
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscall on a stack value.
    let limited = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut current) } == 0
        && current.rlim_cur != libc::RLIM_INFINITY;
    if limited {
        let mapped = proc_status_kb("VmSize:")?;
        Some(available.min(current.rlim_cur.saturating_sub(mapped)))
    } else {
        Some(available)
    }
}

/// Elsewhere no cap is set (the limit and the files are Linux's).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn cap_to_available() -> Option<u64> {
    None
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn system_available_bytes() -> Option<u64> {
    None
}
