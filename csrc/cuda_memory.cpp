// The CUDA caching allocator's statistics, which tch does not expose.
// Uses only c10's device-generic allocator interface, so it compiles without
// CUDA headers and fails softly (non-zero return) where CUDA is absent.
#include <c10/core/CachingDeviceAllocator.h>

#include <cstdint>

extern "C" int dpn_cuda_reset_peak(int device) {
    try {
        c10::getDeviceAllocator(c10::DeviceType::CUDA)->resetPeakStats(static_cast<c10::DeviceIndex>(device));
        return 0;
    } catch (...) {
        return 1;
    }
}

extern "C" int dpn_cuda_peak_allocated(int device, int64_t* out) {
    try {
        auto stats = c10::getDeviceAllocator(c10::DeviceType::CUDA)->getDeviceStats(static_cast<c10::DeviceIndex>(device));
        *out = stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].peak;
        return 0;
    } catch (...) {
        return 1;
    }
}
