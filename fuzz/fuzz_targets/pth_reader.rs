#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dpn_fuzz::targets::pth_reader(data);
});
