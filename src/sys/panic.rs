//! Panics, libtorch's above all, turned into the one-line errors users get.
//!
//! tch's infallible methods panic with the libtorch exception (a message
//! with a C++ backtrace) when an operation fails: out of memory, a shape
//! that libtorch refuses, a CUDA error. dpn calls libtorch in many places;
//! rather than route every call through tch's `f_` variants, the places
//! that run a model catch the unwind ([`catch`]) and get an error they can
//! act on (retry at a smaller batch on out of memory), and `main` catches
//! whatever else gets through, so that no panic reaches the user as a
//! backtrace. [`install_hook`] keeps the default panic message off stderr
//! unless `RUST_BACKTRACE` asks for it.

use std::any::Any;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};

/// A libtorch operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Libtorch {
    /// The first line of libtorch's message, without its C++ backtrace.
    pub message: String,
    pub out_of_memory: bool,
}

impl fmt::Display for Libtorch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "libtorch: {}", self.message)
    }
}

impl std::error::Error for Libtorch {}

/// A panic that is not libtorch's: a bug in dpn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bug {
    pub message: String,
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "internal error: {}; this is a bug in dpn, please report it with the command line \
             (RUST_BACKTRACE=1 shows where it happened)",
            self.message
        )
    }
}

impl std::error::Error for Bug {}

/// Prints panics only when `RUST_BACKTRACE` is set (then with the default
/// hook); otherwise the caller that catches the unwind reports it. A panic
/// that stands for a condition dpn handles (libtorch out of memory, which
/// the commands retry or report as exit 8; an error travelling as a panic
/// payload) is never printed: the user gets dpn's own lines, whatever
/// `RUST_BACKTRACE` says.
pub fn install_hook() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if handled(info.payload()) {
            return;
        }
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            default(info);
        }
    }));
}

/// Whether a panic payload is one that [`from_payload`] turns into an
/// error dpn reports in its own words (not a bug to locate).
fn handled(payload: &(dyn Any + Send)) -> bool {
    if payload.is::<anyhow::Error>() {
        return true;
    }
    let text = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied());
    text.and_then(libtorch_error)
        .is_some_and(|e| e.out_of_memory)
}

/// The error a fallible tch call (`f_*`) returned, as [`Libtorch`]: its
/// text carries libtorch's C++ backtrace (with `TORCH_SHOW_CPP_STACKTRACES`,
/// every frame), which must not reach the user's line.
pub fn from_tch(err: tch::TchError) -> anyhow::Error {
    match &err {
        tch::TchError::Torch(text) => Libtorch {
            message: clean(text.lines().next().unwrap_or(text)),
            out_of_memory: says_out_of_memory(text),
        }
        .into(),
        _ => err.into(),
    }
}

/// Runs `f`, turning a panic into an error: [`Libtorch`] for a libtorch
/// exception, [`Bug`] for anything else.
pub fn catch<T>(f: impl FnOnce() -> T) -> anyhow::Result<T> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(from_payload)
}

/// The error a caught panic payload stands for.
pub fn from_payload(payload: Box<dyn Any + Send>) -> anyhow::Error {
    // An error raised where a signature has no error path (a synchronized
    // BatchNorm in the forward pass, model::sync_bn) travels as itself.
    let payload = match payload.downcast::<anyhow::Error>() {
        Ok(e) => return *e,
        Err(p) => p,
    };
    let text = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic without a message".to_string());
    match libtorch_error(&text) {
        Some(e) => e.into(),
        None => Bug {
            message: first_line(&text).to_string(),
        }
        .into(),
    }
}

/// Recognises the panic message of a failed tch call (`called
/// `Result::unwrap()` on an `Err` value: Torch("...")`).
fn libtorch_error(text: &str) -> Option<Libtorch> {
    let start = text.find("Torch(\"").map(|i| i + "Torch(\"".len())?;
    let body = &text[start..];
    // The message is a Rust Debug string: newlines appear as `\n`.
    let raw = body.split("\\n").next().unwrap_or(body);
    let message = clean(raw);
    Some(Libtorch {
        message,
        out_of_memory: says_out_of_memory(text),
    })
}

/// Whether a libtorch message (CPU allocator, CUDA caching allocator, C++
/// `bad_alloc`) reports an allocation failure.
pub fn says_out_of_memory(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.contains("out of memory")
        || lower.contains("can't allocate memory")
        // oneDNN, when its scratchpad or weights cannot be allocated.
        || lower.contains("could not create a primitive")
        || lower.contains("cannot allocate memory")
        || lower.contains("std::bad_alloc")
}

/// libtorch's first line without its source location noise.
fn clean(raw: &str) -> String {
    let s = raw.trim().trim_end_matches("\")").trim();
    // "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: ..."
    let s = match s.strip_prefix("[enforce fail at ") {
        Some(rest) => rest.split_once("] ").map_or(rest, |(_, m)| m),
        None => s,
    };
    // ... then the failed check itself ("err == 0. "), which says nothing to a user.
    let s = match s.find("DefaultCPUAllocator") {
        Some(i) => &s[i..],
        None => s,
    };
    s.replace("\\\"", "\"").trim().to_string()
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorch_messages_become_one_line() {
        let cpu = r#"called `Result::unwrap()` on an `Err` value: Torch("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 180621508608 bytes. Error code 12 (Cannot allocate memory)\nException raised from alloc_cpu at ...\nframe #0: ...")"#;
        let e = libtorch_error(cpu).unwrap();
        assert!(e.out_of_memory);
        assert_eq!(
            e.message,
            "DefaultCPUAllocator: can't allocate memory: you tried to allocate 180621508608 bytes. Error code 12 (Cannot allocate memory)"
        );
        let cuda = r#"called `Result::unwrap()` on an `Err` value: Torch("CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 139.8 GiB\nframe")"#;
        assert!(libtorch_error(cuda).unwrap().out_of_memory);
        let shape = r#"called `Result::unwrap()` on an `Err` value: Torch("Given groups=1, weight of size [10, 3, 3, 3], expected input[1, 4, 32, 32] to have 3 channels\nException raised from ...")"#;
        let e = libtorch_error(shape).unwrap();
        assert!(!e.out_of_memory);
        assert!(!e.message.contains('\n') && e.message.starts_with("Given groups=1"));
        assert!(libtorch_error("index out of bounds").is_none());
    }

    #[test]
    fn libtorch_out_of_memory_panics_are_handled_and_bugs_are_not() {
        let oom: Box<dyn Any + Send> = Box::new(String::from(
            r#"called `Result::unwrap()` on an `Err` value: Torch("CPU out of memory\nframe #0: c10::Error")"#,
        ));
        assert!(handled(oom.as_ref()));
        let shape: Box<dyn Any + Send> = Box::new(String::from(
            r#"called `Result::unwrap()` on an `Err` value: Torch("Given groups=1, weight of size [10]\nframe #0")"#,
        ));
        assert!(!handled(shape.as_ref()));
        let bug: Box<dyn Any + Send> = Box::new("index out of bounds");
        assert!(!handled(bug.as_ref()));
        let travelling: Box<dyn Any + Send> = Box::new(anyhow::anyhow!("a peer failed"));
        assert!(handled(travelling.as_ref()));
    }

    #[test]
    fn tch_errors_lose_their_cpp_backtrace() {
        let e = from_tch(tch::TchError::Torch(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you tried to allocate 8 bytes.\nException raised from alloc_cpu at alloc_cpu.cpp:117 (most recent call first):\nframe #0: c10::Error::Error()"
                .to_string(),
        ));
        let text = format!("{e:#}");
        assert!(!text.contains('\n') && !text.contains("frame #"), "{text}");
        assert!(
            text.contains("DefaultCPUAllocator: can't allocate memory"),
            "{text}"
        );
        assert_eq!(
            crate::sys::error::exit_code(&e),
            crate::sys::error::Exit::OutOfMemory.code()
        );
    }

    #[test]
    fn panics_are_caught_as_errors() {
        let err = catch(|| -> u8 { panic!("boom") }).unwrap_err();
        assert!(err.downcast_ref::<Bug>().is_some());
        assert!(format!("{err}").contains("boom"));
        assert_eq!(catch(|| 3).unwrap(), 3);
    }
}
