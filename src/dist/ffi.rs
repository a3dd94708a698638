//! The C functions of `csrc/dist.cpp`. Each returns non-zero (or null) on
//! failure and leaves the C++ exception's first line in `err`.

use std::os::raw::{c_char, c_int, c_void};

use tch::Tensor;
use torch_sys::C_tensor;

pub use crate::sys::c_error::{message, ERR_LEN};

extern "C" {
    #[allow(clippy::too_many_arguments)]
    pub fn dpn_store_new(
        host: *const c_char,
        port: c_int,
        listen_fd: c_int,
        server: c_int,
        world: c_int,
        prefix: *const c_char,
        timeout_ms: i64,
        err: *mut c_char,
        errlen: usize,
    ) -> *mut c_void;
    pub fn dpn_store_free(s: *mut c_void);
    pub fn dpn_store_set(
        s: *mut c_void,
        key: *const c_char,
        data: *const u8,
        len: usize,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_store_get(
        s: *mut c_void,
        key: *const c_char,
        out: *mut *mut u8,
        outlen: *mut usize,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    #[allow(clippy::too_many_arguments)]
    pub fn dpn_store_compare_set(
        s: *mut c_void,
        key: *const c_char,
        expected: *const u8,
        elen: usize,
        desired: *const u8,
        dlen: usize,
        out: *mut *mut u8,
        outlen: *mut usize,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_store_add(
        s: *mut c_void,
        key: *const c_char,
        delta: i64,
        value: *mut i64,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_buf_free(p: *mut u8);
    #[allow(clippy::too_many_arguments)]
    pub fn dpn_dist_new(
        store: *mut c_void,
        pg_prefix: *const c_char,
        rank: c_int,
        world: c_int,
        timeout_ms: i64,
        backend: c_int,
        err: *mut c_char,
        errlen: usize,
    ) -> *mut c_void;
    pub fn dpn_dist_free(d: *mut c_void);
    pub fn dpn_dist_allreduce(
        d: *mut c_void,
        ts: *const *mut C_tensor,
        n: usize,
        op: c_int,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_dist_broadcast(
        d: *mut c_void,
        ts: *const *mut C_tensor,
        n: usize,
        root: c_int,
        bucket_bytes: i64,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_ddp_new(
        d: *mut c_void,
        params: *const *mut C_tensor,
        names: *const *const c_char,
        n: usize,
        bucket_bytes: i64,
        first_bucket_bytes: i64,
        err: *mut c_char,
        errlen: usize,
    ) -> *mut c_void;
    pub fn dpn_ddp_rebuild_buckets(r: *mut c_void, err: *mut c_char, errlen: usize) -> c_int;
    pub fn dpn_ddp_prepare(
        r: *mut c_void,
        outputs: *const *mut C_tensor,
        n: usize,
        err: *mut c_char,
        errlen: usize,
    ) -> c_int;
    pub fn dpn_ddp_free(r: *mut c_void);
    #[allow(clippy::too_many_arguments)]
    pub fn dpn_sync_batch_norm(
        d: *mut c_void,
        x: *const C_tensor,
        weight: *const C_tensor,
        bias: *const C_tensor,
        running_mean: *const C_tensor,
        running_var: *const C_tensor,
        momentum: f64,
        eps: f64,
        err: *mut c_char,
        errlen: usize,
    ) -> *mut C_tensor;
}

/// The `at::Tensor*` of each tensor. The C++ side only reads the handles
/// (tensors are reference-counted there), so shared references suffice.
pub fn handles(ts: &[&Tensor]) -> Vec<*mut C_tensor> {
    ts.iter().map(|t| t.as_ptr() as *mut C_tensor).collect()
}
