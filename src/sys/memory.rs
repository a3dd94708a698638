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
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}
