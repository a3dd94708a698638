//! The exact sum of per-image losses: each loss rounded to a multiple of
//! 2^-24 and added as an integer, so that the sum does not depend on batch
//! sizes, summation order or sharding. The integer is wide enough for any
//! finite f64 loss (below 2^1024, so below 2^1048 units) of up to 2^64
//! images, and additions are checked: a sum cannot wrap.

use std::fmt;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// Units per unit of loss: per-image losses are summed in units of 2^-24.
pub const LOSS_SCALE: f64 = (1u64 << 24) as f64;

/// 64-bit limbs: 1152 bits hold 2^1048 units times 2^64 images.
const LIMBS: usize = 18;

/// A non-negative integer number of loss units (little-endian limbs).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct LossSum {
    limbs: [u64; LIMBS],
}

impl LossSum {
    /// `loss` in units of 2^-24, rounded to the nearest unit (halves away
    /// from zero, as `f64::round`); `None` for a negative or non-finite loss.
    pub fn from_loss(loss: f64) -> Option<LossSum> {
        if !loss.is_finite() || loss < 0.0 {
            return None;
        }
        let scaled = loss * LOSS_SCALE;
        Some(if scaled.is_finite() {
            LossSum::from_integral(scaled.round(), 0)
        } else {
            // Beyond 2^1000 a double is an integer: scaling it is a shift.
            LossSum::from_integral(loss, 24)
        })
    }

    /// A sum of `units` units.
    pub fn from_units(units: u128) -> LossSum {
        let mut s = LossSum::default();
        s.limbs[0] = units as u64;
        s.limbs[1] = (units >> 64) as u64;
        s
    }

    /// `v` (finite, non-negative, integral) times 2^`shift`, exactly.
    fn from_integral(v: f64, shift: u32) -> LossSum {
        let mut s = LossSum::default();
        let bits = v.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        if biased == 0 {
            // Zero (an integral double is never subnormal otherwise).
            return s;
        }
        let mantissa = (bits & ((1u64 << 52) - 1)) | (1u64 << 52);
        let e = biased - 1075 + shift as i64;
        if e < 0 {
            // Integral, so the bits shifted out are zeros.
            s.limbs[0] = mantissa >> (-e) as u32;
            return s;
        }
        let (limb, bit) = ((e / 64) as usize, (e % 64) as u32);
        s.limbs[limb] = mantissa << bit;
        if bit > 0 {
            s.limbs[limb + 1] = mantissa >> (64 - bit);
        }
        s
    }

    /// `self + other`, or `None` if it does not fit (it cannot for sums of
    /// finite losses of up to 2^64 images).
    pub fn checked_add(&self, other: &LossSum) -> Option<LossSum> {
        let mut out = LossSum::default();
        let mut carry = false;
        for i in 0..LIMBS {
            let (a, c1) = self.limbs[i].overflowing_add(other.limbs[i]);
            let (b, c2) = a.overflowing_add(u64::from(carry));
            out.limbs[i] = b;
            carry = c1 || c2;
        }
        (!carry).then_some(out)
    }

    pub fn is_zero(&self) -> bool {
        self.limbs.iter().all(|&l| l == 0)
    }

    /// The number of significant bits.
    fn bits(&self) -> u32 {
        match self.limbs.iter().rposition(|&l| l != 0) {
            Some(i) => i as u32 * 64 + 64 - self.limbs[i].leading_zeros(),
            None => 0,
        }
    }

    /// The value, when it fits in a u128.
    pub fn to_u128(&self) -> Option<u128> {
        self.limbs[2..]
            .iter()
            .all(|&l| l == 0)
            .then(|| u128::from(self.limbs[0]) | (u128::from(self.limbs[1]) << 64))
    }

    /// `self / n` and whether a remainder was left.
    fn div_rem(&self, n: u64) -> (LossSum, bool) {
        let mut q = LossSum::default();
        let mut rem: u128 = 0;
        for i in (0..LIMBS).rev() {
            let cur = (rem << 64) | u128::from(self.limbs[i]);
            q.limbs[i] = (cur / u128::from(n)) as u64;
            rem = cur % u128::from(n);
        }
        (q, rem != 0)
    }

    /// The sum in units of loss (the units' 2^-24 divided out) divided by
    /// `n`: the mean loss of `n` images, as the nearest double (0 for `n` =
    /// 0). Sums below 2^128 units are computed as earlier versions did.
    pub fn mean(&self, n: u64) -> f64 {
        if n == 0 {
            return 0.0;
        }
        if let Some(u) = self.to_u128() {
            return u as f64 / LOSS_SCALE / n as f64;
        }
        // q >= 2^64 has more bits than a double keeps: its top 128 bits,
        // with a sticky bit for everything below (the remainder too), round
        // as the exact quotient does.
        let (q, inexact) = self.div_rem(n);
        let shift = q.bits().saturating_sub(128);
        let mut top = 0u128;
        for i in (0..128).rev() {
            let b = shift + i;
            let (limb, bit) = ((b / 64) as usize, b % 64);
            let set = limb < LIMBS && (q.limbs[limb] >> bit) & 1 == 1;
            top = (top << 1) | u128::from(set);
        }
        let below = (0..shift).any(|b| (q.limbs[(b / 64) as usize] >> (b % 64)) & 1 == 1);
        top |= u128::from(below || inexact);
        top as f64 * pow2(shift as i32 - 24)
    }

    /// Decimal digits.
    fn to_decimal(&self) -> String {
        const CHUNK: u64 = 10_000_000_000_000_000_000; // 10^19
        let mut n = self.limbs;
        let mut chunks = Vec::new();
        while n.iter().any(|&l| l != 0) {
            let mut rem: u128 = 0;
            for limb in n.iter_mut().rev() {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / u128::from(CHUNK)) as u64;
                rem = cur % u128::from(CHUNK);
            }
            chunks.push(rem as u64);
        }
        let mut s = chunks.pop().unwrap_or(0).to_string();
        for c in chunks.iter().rev() {
            s.push_str(&format!("{c:019}"));
        }
        s
    }

    /// Parses decimal digits; `None` if they are not digits or do not fit.
    fn parse_decimal(s: &str) -> Option<LossSum> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut out = LossSum::default();
        for d in s.bytes() {
            let mut carry = u128::from(d - b'0');
            for limb in out.limbs.iter_mut() {
                let cur = u128::from(*limb) * 10 + carry;
                *limb = cur as u64;
                carry = cur >> 64;
            }
            if carry != 0 {
                return None;
            }
        }
        Some(out)
    }
}

/// 2^`e`, exactly, for -1022 <= e <= 1023.
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

impl fmt::Debug for LossSum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

impl fmt::Display for LossSum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_decimal())
    }
}

/// A JSON number up to 2^64 - 1 (every realistic sum, and what earlier
/// versions wrote), a string of decimal digits beyond (JSON parsers read
/// larger numbers as doubles, which would not be exact).
impl Serialize for LossSum {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.to_u128().and_then(|u| u64::try_from(u).ok()) {
            Some(u) => s.serialize_u64(u),
            None => s.serialize_str(&self.to_decimal()),
        }
    }
}

impl<'de> Deserialize<'de> for LossSum {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LossSum, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = LossSum;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a non-negative integer number of loss units (a number or a string of digits)",
                )
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LossSum, E> {
                Ok(LossSum::from_units(u128::from(v)))
            }

            fn visit_u128<E: de::Error>(self, v: u128) -> Result<LossSum, E> {
                Ok(LossSum::from_units(v))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LossSum, E> {
                u64::try_from(v)
                    .map(|v| LossSum::from_units(u128::from(v)))
                    .map_err(|_| E::custom(format!("negative loss sum {v}")))
            }

            fn visit_i128<E: de::Error>(self, v: i128) -> Result<LossSum, E> {
                u128::try_from(v)
                    .map(LossSum::from_units)
                    .map_err(|_| E::custom(format!("negative loss sum {v}")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LossSum, E> {
                Err(E::custom(format!(
                    "loss sum {v} is not an exact integer (sums beyond 2^64 units are written as strings of digits)"
                )))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<LossSum, E> {
                LossSum::parse_decimal(v).ok_or_else(|| {
                    E::custom(format!(
                        "loss sum `{v}` is not a non-negative integer that fits"
                    ))
                })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_rounded_as_before() {
        for loss in [0.0, 1e-9, 0.1698, 1.4076, 2.5 / LOSS_SCALE, 1234.5678] {
            let want = (loss * LOSS_SCALE).round() as u128;
            assert_eq!(
                LossSum::from_loss(loss).unwrap().to_u128(),
                Some(want),
                "{loss}"
            );
        }
        assert_eq!(LossSum::from_loss(-1.0), None);
        assert_eq!(LossSum::from_loss(f64::NAN), None);
        assert_eq!(LossSum::from_loss(f64::INFINITY), None);
    }

    #[test]
    fn extreme_losses_are_exact_and_never_wrap() {
        // 1e35 per image is 2^140 units: beyond i128, where the sum wrapped.
        let one = LossSum::from_loss(1e35).unwrap();
        assert_eq!(one.mean(1), 1e35);
        let mut sum = LossSum::default();
        for _ in 0..1000 {
            sum = sum.checked_add(&one).unwrap();
        }
        assert_eq!(sum.mean(1000), 1e35);
        assert_eq!(sum.mean(1), 1e38);
        // The largest double, and 2^64 of it, still fit.
        let max = LossSum::from_loss(f64::MAX).unwrap();
        assert_eq!(max.mean(1), f64::MAX);
        let mut big = max.clone();
        for _ in 0..64 {
            big = big.checked_add(&big).unwrap();
        }
        assert_eq!(big.mean(u64::MAX), f64::MAX);
        // A sum that would not fit is refused, not wrapped.
        let full = LossSum {
            limbs: [u64::MAX; LIMBS],
        };
        assert_eq!(full.checked_add(&LossSum::from_units(1)), None);
    }

    #[test]
    fn json_round_trip() {
        for s in [
            LossSum::default(),
            LossSum::from_units(123_456_789),
            LossSum::from_units(u128::from(u64::MAX)),
            LossSum::from_units(u128::from(u64::MAX) + 1),
            LossSum::from_loss(1e35).unwrap(),
            LossSum::from_loss(f64::MAX).unwrap(),
        ] {
            let j = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<LossSum>(&j).unwrap(), s, "{j}");
        }
        assert_eq!(
            serde_json::to_string(&LossSum::from_units(42)).unwrap(),
            "42"
        );
        let j = serde_json::to_string(&LossSum::from_loss(1e35).unwrap()).unwrap();
        // int(1e35) * 2**24, as Python computes it.
        assert_eq!(j, "\"1677721599999999947376015679619186118623232\"");
        assert!(serde_json::from_str::<LossSum>("-1").is_err());
        assert!(serde_json::from_str::<LossSum>("1.5").is_err());
        assert!(serde_json::from_str::<LossSum>("\"12x\"").is_err());
    }
}
