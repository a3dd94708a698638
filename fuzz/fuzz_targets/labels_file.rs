#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dpn_fuzz::targets::labels_file(data);
});
