//! A minimal, safe unpickler for PyTorch checkpoints.
//!
//! It understands the opcodes of pickle protocols 0-5 that `torch.save`
//! writes (and the ordinary container/scalar ones around them) and executes
//! nothing: `GLOBAL`/`STACK_GLOBAL`/`INST` resolve only the allow-listed names
//! in [`Global`], and `REDUCE`/`NEWOBJ` on a rebuild function merely record the
//! call (as [`Obj::Call`]) for [`super::pth`] to interpret. Any other global
//! is refused with an error naming it.
//!
//! Memory stays proportional to the input: compound objects live in an arena
//! and are referred to by index, so memo look-ups and `DUP` copy a few bytes,
//! strings are reference-counted, and every declared length is checked
//! against the bytes that remain before anything is allocated. The machine is
//! iterative (no recursion).

use std::collections::HashMap;
use std::rc::Rc;

use super::DType;

/// The globals a weights pickle may reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Global {
    /// `collections.OrderedDict`
    OrderedDict,
    /// `builtins.dict` (`__builtin__.dict`)
    Dict,
    /// `builtins.list`
    List,
    /// `builtins.set`
    Set,
    /// `builtins.frozenset`
    FrozenSet,
    /// `builtins.tuple`
    Tuple,
    /// `argparse.Namespace`: a plain attribute bag found in training
    /// checkpoints (`'args'`); kept as an opaque, ignored object.
    Namespace,
    /// `_codecs.encode`: protocol-2 pickles spell `bytes` as
    /// `_codecs.encode(str, 'latin1')`; evaluated natively.
    CodecsEncode,
    /// `torch._utils._rebuild_tensor`
    RebuildTensor,
    /// `torch._utils._rebuild_tensor_v2`
    RebuildTensorV2,
    /// `torch._utils._rebuild_parameter`
    RebuildParameter,
    /// `torch._utils._rebuild_parameter_with_state`
    RebuildParameterWithState,
    /// `torch._tensor._rebuild_from_type_v2`
    RebuildFromTypeV2,
    /// `torch.Tensor`, `torch._tensor.Tensor`, `torch.nn.parameter.Parameter`
    /// (only as the type argument of `_rebuild_from_type_v2`).
    TensorType,
    /// `torch.FloatStorage` & co. (also `torch.cuda.*Storage`).
    Storage(DType),
}

impl Global {
    /// Resolves `module.name`, or `None` when it is not allowed.
    pub fn resolve(module: &str, name: &str) -> Option<Global> {
        let g = match (module, name) {
            ("collections", "OrderedDict") => Global::OrderedDict,
            ("builtins" | "__builtin__", "dict") => Global::Dict,
            ("builtins" | "__builtin__", "list") => Global::List,
            ("builtins" | "__builtin__", "set") => Global::Set,
            ("builtins" | "__builtin__", "frozenset") => Global::FrozenSet,
            ("builtins" | "__builtin__", "tuple") => Global::Tuple,
            ("argparse", "Namespace") => Global::Namespace,
            ("_codecs", "encode") => Global::CodecsEncode,
            ("torch._utils", "_rebuild_tensor") => Global::RebuildTensor,
            ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
            ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
            ("torch._utils", "_rebuild_parameter_with_state") => Global::RebuildParameterWithState,
            ("torch._tensor", "_rebuild_from_type_v2") => Global::RebuildFromTypeV2,
            ("torch", "Tensor")
            | ("torch._tensor", "Tensor")
            | ("torch.nn.parameter", "Parameter") => Global::TensorType,
            ("torch" | "torch.cuda", storage) => Global::Storage(storage_dtype(storage)?),
            _ => return None,
        };
        Some(g)
    }

    /// True for the functions whose call is recorded (not evaluated).
    fn is_rebuild(self) -> bool {
        matches!(
            self,
            Global::RebuildTensor
                | Global::RebuildTensorV2
                | Global::RebuildParameter
                | Global::RebuildParameterWithState
                | Global::RebuildFromTypeV2
        )
    }
}

/// The element type of `torch.<name>` storage classes.
pub fn storage_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "DoubleStorage" => DType::F64,
        "LongStorage" => DType::I64,
        "IntStorage" => DType::I32,
        "ShortStorage" => DType::I16,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "BoolStorage" => DType::Bool,
        _ => return None,
    })
}

/// A pickled value. Compound values live in the [`Machine`]'s arena.
#[derive(Debug, Clone)]
pub enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too large for i64 (little-endian two's complement bytes).
    BigInt(Rc<[u8]>),
    Float(f64),
    Str(Rc<str>),
    Bytes(Rc<[u8]>),
    Global(Global),
    /// Index into the arena.
    Ref(usize),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    /// A short description for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::None => "None",
            Value::Bool(_) => "bool",
            Value::Int(_) | Value::BigInt(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::Global(_) => "global",
            Value::Ref(_) => "object",
        }
    }
}

/// Hashable dictionary keys (the rest are stored without de-duplication).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Str(Rc<str>),
    Int(i64),
    None,
}

fn key_of(v: &Value) -> Option<Key> {
    match v {
        Value::Str(s) => Some(Key::Str(s.clone())),
        Value::Int(i) => Some(Key::Int(*i)),
        Value::Bool(b) => Some(Key::Int(*b as i64)),
        Value::None => Some(Key::None),
        _ => None,
    }
}

/// An insertion-ordered dictionary.
#[derive(Debug, Default)]
pub struct Dict {
    pub items: Vec<(Value, Value)>,
    index: HashMap<Key, usize>,
}

impl Dict {
    fn insert(&mut self, k: Value, v: Value) {
        match key_of(&k) {
            Some(key) => match self.index.get(&key) {
                Some(&i) => self.items[i].1 = v,
                None => {
                    self.index.insert(key, self.items.len());
                    self.items.push((k, v));
                }
            },
            None => self.items.push((k, v)),
        }
    }

    /// The value under the string key `name`.
    pub fn get_str(&self, name: &str) -> Option<&Value> {
        self.index
            .get(&Key::Str(Rc::from(name)))
            .map(|&i| &self.items[i].1)
    }
}

/// An arena object.
#[derive(Debug)]
pub enum Obj {
    Tuple(Vec<Value>),
    List(Vec<Value>),
    Dict(Dict),
    Set(Vec<Value>),
    /// A recorded call of an allow-listed rebuild function.
    Call {
        func: Global,
        args: Value,
    },
    /// A persistent id (`PERSID`/`BINPERSID`), interpreted by the caller.
    PersId(Value),
    /// An instance of an allow-listed plain class (e.g. argparse.Namespace).
    Opaque(Global),
}

/// The result of unpickling: the top value and the arena it refers into.
#[derive(Debug)]
pub struct Pickle {
    pub value: Value,
    pub arena: Vec<Obj>,
    /// Bytes consumed, up to and including STOP.
    pub consumed: usize,
}

impl Pickle {
    pub fn obj(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Ref(i) => self.arena.get(*i),
            _ => None,
        }
    }

    /// The items of a tuple or list value.
    pub fn seq(&self, v: &Value) -> Option<&[Value]> {
        match self.obj(v)? {
            Obj::Tuple(items) | Obj::List(items) => Some(items),
            _ => None,
        }
    }

    pub fn dict(&self, v: &Value) -> Option<&Dict> {
        match self.obj(v)? {
            Obj::Dict(d) => Some(d),
            _ => None,
        }
    }
}

type R<T> = Result<T, String>;

/// Most items on the stack, in the memo or in the arena (memory guard on top
/// of the input-size bound).
const MAX_ITEMS: usize = 1 << 26;

fn refuse(module: &str, name: &str) -> String {
    format!(
        "refusing to load: the pickle references '{}.{}', which is not an allowed tensor type \
         (dpn never executes code from a weights file)",
        printable(module),
        printable(name)
    )
}

/// A string safe to print on one line.
fn printable(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(100)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if s.chars().count() > 100 {
        out.push('…');
    }
    out
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Value>,
    marks: Vec<usize>,
    memo: HashMap<u32, Value>,
    arena: Vec<Obj>,
    /// Items that calls may still copy (keeps copying linear in the input).
    copy_budget: usize,
}

/// Unpickles one pickle starting at `data[0]`. Trailing bytes after STOP are
/// left alone (see [`Pickle::consumed`]).
pub fn unpickle(data: &[u8]) -> R<Pickle> {
    let mut m = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        arena: Vec::new(),
        copy_budget: data.len().saturating_mul(4).saturating_add(1024),
    };
    let value = m.run()?;
    Ok(Pickle {
        value,
        arena: m.arena,
        consumed: m.pos,
    })
}

impl<'a> Machine<'a> {
    fn truncated(&self) -> String {
        format!("the pickle is truncated (at byte {})", self.pos)
    }

    /// `n` bytes of fixed-size data.
    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.data.len() - self.pos {
            return Err(self.truncated());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// `n` bytes whose length the pickle declares.
    fn take_declared(&mut self, n: usize) -> R<&'a [u8]> {
        let remain = self.data.len() - self.pos;
        if n > remain {
            return Err(format!(
                "the pickle is truncated (a length of {n} bytes is declared at byte {}, {remain} remain)",
                self.pos
            ));
        }
        self.take(n)
    }

    fn u8(&mut self) -> R<u8> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> R<u16> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> R<u32> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> R<u64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn len_u64(&mut self) -> R<usize> {
        let n = self.u64()?;
        usize::try_from(n).map_err(|_| format!("the pickle declares an absurd length ({n})"))
    }

    /// A text line (protocol 0), without the trailing newline.
    fn line(&mut self) -> R<&'a [u8]> {
        let rest = &self.data[self.pos..];
        let nl = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| self.truncated())?;
        self.pos += nl + 1;
        Ok(&rest[..nl])
    }

    fn line_str(&mut self) -> R<&'a str> {
        let l = self.line()?;
        std::str::from_utf8(l).map_err(|_| "the pickle has a text field that is not UTF-8".into())
    }

    fn push(&mut self, v: Value) -> R<()> {
        if self.stack.len() >= MAX_ITEMS {
            return Err("the pickle's stack grows too large".into());
        }
        self.stack.push(v);
        Ok(())
    }

    fn alloc(&mut self, o: Obj) -> R<Value> {
        if self.arena.len() >= MAX_ITEMS {
            return Err("the pickle holds too many objects".into());
        }
        self.arena.push(o);
        Ok(Value::Ref(self.arena.len() - 1))
    }

    fn pop(&mut self) -> R<Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(format!(
                "the pickle is malformed (stack underflow at byte {})",
                self.pos
            ));
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    fn top(&self) -> R<&Value> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(format!(
                "the pickle is malformed (stack underflow at byte {})",
                self.pos
            ));
        }
        Ok(self.stack.last().expect("checked non-empty"))
    }

    /// Pops everything down to the last MARK, and the mark.
    fn pop_mark(&mut self) -> R<Vec<Value>> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| format!("the pickle is malformed (no MARK at byte {})", self.pos))?;
        Ok(self.stack.split_off(m))
    }

    fn memo_put(&mut self, idx: u32) -> R<()> {
        let v = self.top()?.clone();
        if self.memo.len() >= MAX_ITEMS && !self.memo.contains_key(&idx) {
            return Err("the pickle's memo grows too large".into());
        }
        self.memo.insert(idx, v);
        Ok(())
    }

    fn memo_get(&mut self, idx: u32) -> R<()> {
        let v = self
            .memo
            .get(&idx)
            .cloned()
            .ok_or_else(|| format!("the pickle is malformed (memo entry {idx} is missing)"))?;
        self.push(v)
    }

    fn global(&mut self, module: &str, name: &str) -> R<()> {
        let g = Global::resolve(module, name).ok_or_else(|| refuse(module, name))?;
        self.push(Value::Global(g))
    }

    /// `callable(*args)` for REDUCE / NEWOBJ / OBJ / INST.
    fn call(&mut self, callable: Value, args: Value) -> R<Value> {
        let g = match callable {
            Value::Global(g) => g,
            other => {
                return Err(format!(
                    "the pickle is malformed (calls a {} at byte {})",
                    other.kind(),
                    self.pos
                ))
            }
        };
        let arg_items: Vec<Value> = match &args {
            Value::Ref(i) => match self.arena.get(*i) {
                Some(Obj::Tuple(items)) => items.iter().take(2).cloned().collect(),
                _ => return Err("the pickle is malformed (call arguments are not a tuple)".into()),
            },
            _ => return Err("the pickle is malformed (call arguments are not a tuple)".into()),
        };
        if g.is_rebuild() {
            return self.alloc(Obj::Call { func: g, args });
        }
        match g {
            Global::OrderedDict | Global::Dict => {
                // dict() / OrderedDict() / OrderedDict([[k, v], ...]) (Python 2
                // pickles OrderedDict with its items as an argument).
                let mut pairs: Vec<(Value, Value)> = Vec::new();
                if let Some(first) = arg_items.first() {
                    match self.obj(first) {
                        Some(Obj::List(items)) | Some(Obj::Tuple(items)) => {
                            for p in items {
                                if let Some(Obj::Tuple(kv)) | Some(Obj::List(kv)) = self.obj(p) {
                                    if kv.len() == 2 {
                                        pairs.push((kv[0].clone(), kv[1].clone()));
                                    }
                                }
                            }
                        }
                        Some(Obj::Dict(src)) => pairs.extend(src.items.iter().cloned()),
                        _ => {}
                    }
                }
                self.spend(pairs.len())?;
                let mut d = Dict::default();
                for (k, v) in pairs {
                    d.insert(k, v);
                }
                self.alloc(Obj::Dict(d))
            }
            Global::List | Global::Tuple | Global::Set | Global::FrozenSet => {
                let items = match self.obj(arg_items.first().unwrap_or(&Value::None)) {
                    Some(Obj::List(items)) | Some(Obj::Tuple(items)) | Some(Obj::Set(items)) => {
                        items.clone()
                    }
                    _ => Vec::new(),
                };
                self.spend(items.len())?;
                let obj = match g {
                    Global::List => Obj::List(items),
                    Global::Tuple => Obj::Tuple(items),
                    _ => Obj::Set(items),
                };
                self.alloc(obj)
            }
            Global::Namespace => self.alloc(Obj::Opaque(g)),
            Global::CodecsEncode => {
                // _codecs.encode(text, 'latin1'): the bytes of a latin-1 string.
                match arg_items.first() {
                    Some(Value::Str(s)) => {
                        let mut out = Vec::with_capacity(s.len());
                        for c in s.chars() {
                            let c = c as u32;
                            if c > 0xff {
                                return Err(
                                    "the pickle's _codecs.encode argument is not latin-1".into()
                                );
                            }
                            out.push(c as u8);
                        }
                        Ok(Value::Bytes(out.into()))
                    }
                    _ => Err("the pickle calls _codecs.encode without a string".into()),
                }
            }
            Global::TensorType | Global::Storage(_) => Err(
                "the pickle is malformed (instantiates a tensor or storage type directly)".into(),
            ),
            Global::RebuildTensor
            | Global::RebuildTensorV2
            | Global::RebuildParameter
            | Global::RebuildParameterWithState
            | Global::RebuildFromTypeV2 => unreachable!("handled by is_rebuild"),
        }
    }

    fn spend(&mut self, n: usize) -> R<()> {
        self.copy_budget = self
            .copy_budget
            .checked_sub(n)
            .ok_or_else(|| "the pickle copies containers too often".to_string())?;
        Ok(())
    }

    fn obj(&self, v: &Value) -> Option<&Obj> {
        match v {
            Value::Ref(i) => self.arena.get(*i),
            _ => None,
        }
    }

    fn obj_mut(&mut self, v: &Value) -> Option<&mut Obj> {
        match v {
            Value::Ref(i) => self.arena.get_mut(*i),
            _ => None,
        }
    }

    fn append(&mut self, target: &Value, items: Vec<Value>) -> R<()> {
        match self.obj_mut(target) {
            Some(Obj::List(list)) => {
                list.extend(items);
                Ok(())
            }
            Some(Obj::Set(set)) => {
                set.extend(items);
                Ok(())
            }
            _ => Err("the pickle is malformed (APPEND to a non-list)".into()),
        }
    }

    fn set_items(&mut self, target: &Value, items: Vec<Value>) -> R<()> {
        if items.len() % 2 != 0 {
            return Err("the pickle is malformed (odd number of dict items)".into());
        }
        match self.obj_mut(target) {
            Some(Obj::Dict(d)) => {
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    d.insert(k, v);
                }
                Ok(())
            }
            // Attribute bags and recorded calls: the items are ignored.
            Some(Obj::Opaque(_)) => Ok(()),
            _ => Err("the pickle is malformed (SETITEM on a non-dict)".into()),
        }
    }

    fn tuple(&mut self, items: Vec<Value>) -> R<()> {
        let v = self.alloc(Obj::Tuple(items))?;
        self.push(v)
    }

    fn run(&mut self) -> R<Value> {
        loop {
            let op = self.u8()?;
            match op {
                // PROTO
                0x80 => {
                    let p = self.u8()?;
                    if p > 5 {
                        return Err(format!("the pickle uses unsupported protocol {p}"));
                    }
                }
                // FRAME: a length hint; the data follows inline.
                0x95 => {
                    self.u64()?;
                }
                // STOP
                b'.' => {
                    let v = self.pop()?;
                    return Ok(v);
                }
                // MARK
                b'(' => {
                    if self.marks.len() >= MAX_ITEMS {
                        return Err("the pickle has too many marks".into());
                    }
                    self.marks.push(self.stack.len());
                }
                // POP
                b'0' => {
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                // POP_MARK
                b'1' => {
                    self.pop_mark()?;
                }
                // DUP
                b'2' => {
                    let v = self.top()?.clone();
                    self.push(v)?;
                }
                // NONE, NEWTRUE, NEWFALSE
                b'N' => self.push(Value::None)?,
                0x88 => self.push(Value::Bool(true))?,
                0x89 => self.push(Value::Bool(false))?,
                // BININT, BININT1, BININT2
                b'J' => {
                    let v = self.u32()? as i32;
                    self.push(Value::Int(v as i64))?
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Value::Int(v as i64))?
                }
                b'M' => {
                    let v = self.u16()?;
                    self.push(Value::Int(v as i64))?
                }
                // LONG1, LONG4
                0x8a => {
                    let n = self.u8()? as usize;
                    let b = self.take_declared(n)?;
                    self.push(long_from_bytes(b))?
                }
                0x8b => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err("the pickle has a negative LONG4 length".into());
                    }
                    let b = self.take_declared(n as usize)?;
                    self.push(long_from_bytes(b))?
                }
                // INT (text; "00"/"01" are False/True in protocol 0)
                b'I' => {
                    let l = self.line_str()?;
                    let v = match l {
                        "00" => Value::Bool(false),
                        "01" => Value::Bool(true),
                        _ => Value::Int(
                            l.trim().parse().map_err(|_| "the pickle has a malformed INT".to_string())?,
                        ),
                    };
                    self.push(v)?
                }
                // LONG (text, with optional trailing L)
                b'L' => {
                    let l = self.line_str()?;
                    let t = l.trim().trim_end_matches('L');
                    let v = match t.parse::<i64>() {
                        Ok(i) => Value::Int(i),
                        Err(_) if !t.is_empty() && t.trim_start_matches('-').bytes().all(|b| b.is_ascii_digit()) => {
                            Value::BigInt(Rc::from(t.as_bytes()))
                        }
                        Err(_) => return Err("the pickle has a malformed LONG".into()),
                    };
                    self.push(v)?
                }
                // BINFLOAT (big-endian), FLOAT (text)
                b'G' => {
                    let b = self.take(8)?;
                    let mut a = [0u8; 8];
                    a.copy_from_slice(b);
                    self.push(Value::Float(f64::from_be_bytes(a)))?
                }
                b'F' => {
                    let l = self.line_str()?;
                    let v: f64 = l.trim().parse().map_err(|_| "the pickle has a malformed FLOAT".to_string())?;
                    self.push(Value::Float(v))?
                }
                // SHORT_BINUNICODE, BINUNICODE, BINUNICODE8
                0x8c => {
                    let n = self.u8()? as usize;
                    self.unicode(n)?
                }
                b'X' => {
                    let n = self.u32()? as usize;
                    self.unicode(n)?
                }
                0x8d => {
                    let n = self.len_u64()?;
                    self.unicode(n)?
                }
                // UNICODE (raw-unicode-escape text line)
                b'V' => {
                    let l = self.line()?;
                    let s = raw_unicode_escape(l)?;
                    self.push(Value::Str(s.into()))?
                }
                // SHORT_BINSTRING, BINSTRING: Python 2 str, decoded as latin-1.
                b'U' => {
                    let n = self.u8()? as usize;
                    let b = self.take_declared(n)?;
                    self.push(Value::Str(latin1(b).into()))?
                }
                b'T' => {
                    let n = self.u32()? as i32;
                    if n < 0 {
                        return Err("the pickle has a negative BINSTRING length".into());
                    }
                    let b = self.take_declared(n as usize)?;
                    self.push(Value::Str(latin1(b).into()))?
                }
                // STRING (quoted repr text)
                b'S' => {
                    let l = self.line()?;
                    let s = quoted_string(l)?;
                    self.push(Value::Str(s.into()))?
                }
                // SHORT_BINBYTES, BINBYTES, BINBYTES8, BYTEARRAY8
                b'C' => {
                    let n = self.u8()? as usize;
                    let b = self.take_declared(n)?;
                    self.push(Value::Bytes(b.into()))?
                }
                b'B' => {
                    let n = self.u32()? as usize;
                    let b = self.take_declared(n)?;
                    self.push(Value::Bytes(b.into()))?
                }
                0x8e | 0x96 => {
                    let n = self.len_u64()?;
                    let b = self.take_declared(n)?;
                    self.push(Value::Bytes(b.into()))?
                }
                // EMPTY_TUPLE, TUPLE, TUPLE1-3
                b')' => self.tuple(Vec::new())?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.tuple(items)?
                }
                0x85 => {
                    let a = self.pop()?;
                    self.tuple(vec![a])?
                }
                0x86 => {
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.tuple(vec![a, b])?
                }
                0x87 => {
                    let c = self.pop()?;
                    let b = self.pop()?;
                    let a = self.pop()?;
                    self.tuple(vec![a, b, c])?
                }
                // EMPTY_LIST, LIST, APPEND, APPENDS
                b']' => {
                    let v = self.alloc(Obj::List(Vec::new()))?;
                    self.push(v)?
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Obj::List(items))?;
                    self.push(v)?
                }
                b'a' => {
                    let item = self.pop()?;
                    let target = self.top()?.clone();
                    self.append(&target, vec![item])?
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.append(&target, items)?
                }
                // EMPTY_DICT, DICT, SETITEM, SETITEMS
                b'}' => {
                    let v = self.alloc(Obj::Dict(Dict::default()))?;
                    self.push(v)?
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Obj::Dict(Dict::default()))?;
                    self.set_items(&v, items)?;
                    self.push(v)?
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, vec![k, v])?
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    self.set_items(&target, items)?
                }
                // EMPTY_SET, ADDITEMS, FROZENSET
                0x8f => {
                    let v = self.alloc(Obj::Set(Vec::new()))?;
                    self.push(v)?
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let target = self.top()?.clone();
                    match self.obj_mut(&target) {
                        Some(Obj::Set(s)) => s.extend(items),
                        _ => return Err("the pickle is malformed (ADDITEMS to a non-set)".into()),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    let v = self.alloc(Obj::Set(items))?;
                    self.push(v)?
                }
                // PUT, BINPUT, LONG_BINPUT, MEMOIZE
                b'p' => {
                    let l = self.line_str()?;
                    let i: u32 = l.trim().parse().map_err(|_| "the pickle has a malformed PUT".to_string())?;
                    self.memo_put(i)?
                }
                b'q' => {
                    let i = self.u8()? as u32;
                    self.memo_put(i)?
                }
                b'r' => {
                    let i = self.u32()?;
                    self.memo_put(i)?
                }
                0x94 => {
                    let i = u32::try_from(self.memo.len())
                        .map_err(|_| "the pickle's memo grows too large".to_string())?;
                    self.memo_put(i)?
                }
                // GET, BINGET, LONG_BINGET
                b'g' => {
                    let l = self.line_str()?;
                    let i: u32 = l.trim().parse().map_err(|_| "the pickle has a malformed GET".to_string())?;
                    self.memo_get(i)?
                }
                b'h' => {
                    let i = self.u8()? as u32;
                    self.memo_get(i)?
                }
                b'j' => {
                    let i = self.u32()?;
                    self.memo_get(i)?
                }
                // GLOBAL (two text lines), STACK_GLOBAL
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let (module, name) = (String::from_utf8_lossy(module), String::from_utf8_lossy(name));
                    self.global(&module, &name)?
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    match (module.as_str(), name.as_str()) {
                        (Some(m), Some(n)) => {
                            let (m, n) = (m.to_string(), n.to_string());
                            self.global(&m, &n)?
                        }
                        _ => return Err("the pickle is malformed (STACK_GLOBAL without strings)".into()),
                    }
                }
                // INST (text module/name, arguments from MARK)
                b'i' => {
                    let module = String::from_utf8_lossy(self.line()?).into_owned();
                    let name = String::from_utf8_lossy(self.line()?).into_owned();
                    let g = Global::resolve(&module, &name).ok_or_else(|| refuse(&module, &name))?;
                    let items = self.pop_mark()?;
                    let args = self.alloc(Obj::Tuple(items))?;
                    let v = self.call(Value::Global(g), args)?;
                    self.push(v)?
                }
                // OBJ (class and arguments from MARK)
                b'o' => {
                    let mut items = self.pop_mark()?;
                    if items.is_empty() {
                        return Err("the pickle is malformed (OBJ without a class)".into());
                    }
                    let cls = items.remove(0);
                    let args = self.alloc(Obj::Tuple(items))?;
                    let v = self.call(cls, args)?;
                    self.push(v)?
                }
                // REDUCE
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let v = self.call(callable, args)?;
                    self.push(v)?
                }
                // NEWOBJ, NEWOBJ_EX
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?
                }
                0x92 => {
                    let _kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    let v = self.call(cls, args)?;
                    self.push(v)?
                }
                // BUILD: the state (object attributes) is ignored.
                b'b' => {
                    let _state = self.pop()?;
                    let target = self.top()?;
                    if !matches!(target, Value::Ref(_)) {
                        return Err(format!("the pickle is malformed (BUILD on a {})", target.kind()));
                    }
                }
                // PERSID, BINPERSID
                b'P' => {
                    let l = self.line()?;
                    let v = self.alloc(Obj::PersId(Value::Str(latin1(l).into())))?;
                    self.push(v)?
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let v = self.alloc(Obj::PersId(pid))?;
                    self.push(v)?
                }
                0x82..=0x84 => {
                    return Err("refusing to load: the pickle uses the copyreg extension registry (EXT opcodes)".into())
                }
                0x97 | 0x98 => {
                    return Err("the pickle uses out-of-band buffers, which torch files never do".into())
                }
                other => {
                    return Err(format!(
                        "the pickle is malformed (unknown opcode 0x{other:02x} at byte {})",
                        self.pos - 1
                    ))
                }
            }
        }
    }

    fn unicode(&mut self, n: usize) -> R<()> {
        let b = self.take_declared(n)?;
        let s = std::str::from_utf8(b)
            .map_err(|_| "the pickle has a string that is not valid UTF-8".to_string())?;
        self.push(Value::Str(s.into()))
    }
}

/// Decodes a little-endian two's complement integer (LONG1/LONG4).
fn long_from_bytes(b: &[u8]) -> Value {
    if b.is_empty() {
        return Value::Int(0);
    }
    if b.len() <= 8 {
        let neg = b[b.len() - 1] & 0x80 != 0;
        let mut a = if neg { [0xffu8; 8] } else { [0u8; 8] };
        a[..b.len()].copy_from_slice(b);
        return Value::Int(i64::from_le_bytes(a));
    }
    Value::BigInt(b.into())
}

fn latin1(b: &[u8]) -> String {
    b.iter().map(|&c| c as char).collect()
}

/// Protocol 0 UNICODE: raw-unicode-escape (\uXXXX and \UXXXXXXXX escapes,
/// other bytes latin-1).
fn raw_unicode_escape(b: &[u8]) -> R<String> {
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() && (b[i + 1] == b'u' || b[i + 1] == b'U') {
            let n = if b[i + 1] == b'u' { 4 } else { 8 };
            let hex = b
                .get(i + 2..i + 2 + n)
                .ok_or("the pickle has a malformed UNICODE escape")?;
            let hex = std::str::from_utf8(hex)
                .map_err(|_| "the pickle has a malformed UNICODE escape")?;
            let cp = u32::from_str_radix(hex, 16)
                .map_err(|_| "the pickle has a malformed UNICODE escape")?;
            out.push(char::from_u32(cp).ok_or("the pickle has an invalid code point")?);
            i += 2 + n;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    Ok(out)
}

/// Protocol 0 STRING: a Python repr in single or double quotes.
fn quoted_string(l: &[u8]) -> R<String> {
    let l = l.strip_suffix(b"\r").unwrap_or(l);
    let bad = || "the pickle has a malformed STRING".to_string();
    if l.len() < 2 || l[0] != l[l.len() - 1] || (l[0] != b'\'' && l[0] != b'"') {
        return Err(bad());
    }
    let body = &l[1..l.len() - 1];
    let mut out = String::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        if c != b'\\' {
            out.push(c as char);
            i += 1;
            continue;
        }
        let e = *body.get(i + 1).ok_or_else(bad)?;
        i += 2;
        match e {
            b'\\' => out.push('\\'),
            b'\'' => out.push('\''),
            b'"' => out.push('"'),
            b'n' => out.push('\n'),
            b't' => out.push('\t'),
            b'r' => out.push('\r'),
            b'0' => out.push('\0'),
            b'x' => {
                let hex = body.get(i..i + 2).ok_or_else(bad)?;
                let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())? as char);
                i += 2;
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_os_system() {
        let p = b"cposix\nsystem\n(S'echo hi'\ntR.";
        let e = unpickle(p).unwrap_err();
        assert!(e.contains("'posix.system'"), "{e}");
    }

    #[test]
    fn dict_and_memo() {
        // {'a': [1, 2], 'b': <same list>} in protocol 2
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01K\x02eX\x01\x00\x00\x00bq\x03h\x02u.";
        let pk = unpickle(p).unwrap();
        let d = pk.dict(&pk.value).unwrap();
        assert_eq!(d.items.len(), 2);
        let b = d.get_str("b").unwrap();
        assert_eq!(pk.seq(b).unwrap().len(), 2);
    }

    #[test]
    fn long1() {
        assert!(matches!(long_from_bytes(&[0xff]), Value::Int(-1)));
        assert!(matches!(long_from_bytes(&[0x6c, 0xfc]), Value::Int(-916)));
    }
}
