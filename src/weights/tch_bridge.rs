//! Conversion between [`RawTensor`] and `tch::Tensor` (the only weights file
//! that touches libtorch).

use tch::{Device, Kind, Tensor};

use super::{DType, RawTensor};

/// The tch kind of a [`DType`].
pub fn kind_of(d: DType) -> Kind {
    match d {
        DType::F32 => Kind::Float,
        DType::F16 => Kind::Half,
        DType::BF16 => Kind::BFloat16,
        DType::F64 => Kind::Double,
        DType::I64 => Kind::Int64,
        DType::I32 => Kind::Int,
        DType::I16 => Kind::Int16,
        DType::I8 => Kind::Int8,
        DType::U8 => Kind::Uint8,
        DType::Bool => Kind::Bool,
    }
}

fn dtype_of(k: Kind) -> Option<DType> {
    Some(match k {
        Kind::Float => DType::F32,
        Kind::Half => DType::F16,
        Kind::BFloat16 => DType::BF16,
        Kind::Double => DType::F64,
        Kind::Int64 => DType::I64,
        Kind::Int => DType::I32,
        Kind::Int16 => DType::I16,
        Kind::Int8 => DType::I8,
        Kind::Uint8 => DType::U8,
        Kind::Bool => DType::Bool,
        _ => return None,
    })
}

/// A CPU tensor holding a copy of `t`.
pub fn to_tch(t: &RawTensor) -> anyhow::Result<Tensor> {
    t.check_len()
        .map_err(|e| anyhow::anyhow!("cannot convert tensor: {e}"))?;
    let size = t
        .shape
        .iter()
        .map(|&d| i64::try_from(d))
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| anyhow::anyhow!("cannot convert tensor: shape {:?} is too large", t.shape))?;
    Ok(Tensor::f_from_data_size(&t.data, &size, kind_of(t.dtype))?)
}

/// A contiguous little-endian copy of `t` (moved to the CPU if needed).
pub fn from_tch(t: &Tensor) -> anyhow::Result<RawTensor> {
    let kind = t.f_kind()?;
    let dtype =
        dtype_of(kind).ok_or_else(|| anyhow::anyhow!("unsupported tensor kind {kind:?}"))?;
    let shape = t
        .size()
        .into_iter()
        .map(usize::try_from)
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| anyhow::anyhow!("tensor has a negative dimension"))?;
    let cpu = t.f_to_device(Device::Cpu)?.f_contiguous()?;
    let numel = cpu.numel();
    let mut data = vec![0u8; numel * dtype.size()];
    cpu.f_copy_data_u8(&mut data, numel)?;
    Ok(RawTensor { dtype, shape, data })
}
