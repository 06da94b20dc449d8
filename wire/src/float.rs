//! Decimal text to `f64`, read exactly as `str::parse::<f64>` reads it, and whole `f64`s
//! to text exactly as `Display` prints them, without `core`'s tables.
//!
//! Owns: [`parse`] and [`display_whole`]. Numbers in JSON are parsed by `serde_json`; only the few fields that
//! also accept a number written as a string (`"0.88"`) need a text-to-float parser.
//! `core`'s (Eisel–Lemire with a 10 KB table of powers of five, plus a 768-digit decimal
//! fallback) costs the wasm about 18 KB. This one gives the same answer for every input
//! with plain big-integer arithmetic: the digits as an integer, scaled by the power of
//! ten, divided down to 67 bits, rounded half to even. It is slower (no fast path), which
//! does not matter for a handful of short fields.
//! Must never: panic, or answer differently from `str::parse::<f64>` and `Display`
//! (property tests hold them to each other on random and adversarial inputs).

use std::cmp::Ordering;

/// Significant digits kept; any further nonzero digit only makes the value "a little
/// more" (a sticky bit). 767 digits decide the rounding of any `f64` halfway point, so
/// 800 are enough to round exactly.
const MAX_DIGITS: usize = 800;

/// `s` as `str::parse::<f64>` reads it, `None` where that is an error. The grammar is
/// `[+-]?` then `inf`, `infinity` or `nan` in any case, or digits with an optional `.`
/// (with a digit on at least one side) and an optional exponent `[eE][+-]?[0-9]+`; no
/// spaces. Exponent digits stop counting at the size `core` stops at, so even absurd
/// exponents read the same.
pub fn parse(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let (negative, rest) = match b.first() {
        Some(b'-') => (true, b.get(1..).unwrap_or_default()),
        Some(b'+') => (false, b.get(1..).unwrap_or_default()),
        _ => (false, b),
    };
    let magnitude = if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        f64::INFINITY
    } else if rest.eq_ignore_ascii_case(b"nan") {
        f64::NAN
    } else {
        magnitude(rest)?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// [`parse`] for the text of a JSON number (an optional `-`, digits, fraction and
/// exponent: no `+`, `inf` or `nan` to look for), as `Number::as_f64` reads it. Apart,
/// so the scanner and the decoder core do not carry `parse`'s words for infinities.
pub fn parse_number(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    match b.split_first() {
        Some((b'-', rest)) => magnitude(rest).map(|m| -m),
        _ => magnitude(b),
    }
}

/// The value of unsigned decimal text (see [`parse`]).
fn magnitude(s: &[u8]) -> Option<f64> {
    // value = digits × 10^exp10, plus "a little more" when `sticky`.
    let mut digits: Vec<u8> = Vec::new();
    let mut exp10: i64 = 0;
    let mut sticky = false;
    let mut any_digit = false;
    let mut i = 0;
    let mut in_fraction = false;
    while let Some(&c) = s.get(i) {
        if c == b'.' && !in_fraction {
            in_fraction = true;
        } else if c.is_ascii_digit() {
            any_digit = true;
            let d = c - b'0';
            if digits.is_empty() && d == 0 {
                // A leading zero: only its place counts.
                exp10 -= i64::from(in_fraction);
            } else if digits.len() < MAX_DIGITS {
                digits.push(d);
                exp10 -= i64::from(in_fraction);
            } else {
                sticky |= d != 0;
                exp10 += i64::from(!in_fraction);
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if let Some(&(b'e' | b'E')) = s.get(i) {
        i += 1;
        let negative = s.get(i) == Some(&b'-');
        if matches!(s.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let start = i;
        let mut e: i64 = 0;
        while let Some(&c) = s.get(i).filter(|c| c.is_ascii_digit()) {
            // As `core` does: stop growing well before any overflow.
            if e < 0x10000 {
                e = 10 * e + i64::from(c - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        exp10 += if negative { -e } else { e };
    }
    if i != s.len() {
        return None;
    }
    if digits.is_empty() {
        return Some(0.0);
    }
    // The value is below 10^(len + exp10) and at least 10^(len - 1 + exp10).
    let top = digits.len() as i64 + exp10;
    if top > 309 {
        return Some(f64::INFINITY);
    }
    if top < -324 {
        // Below 10^-325, under half the smallest subnormal.
        return Some(0.0);
    }
    let mut num = vec![0u32];
    for &d in &digits {
        mul_add(&mut num, 10, u32::from(d));
    }
    let mut den = vec![1u32];
    // |exp10| is at most 324 + MAX_DIGITS here.
    let scale = if exp10 >= 0 { &mut num } else { &mut den };
    for _ in 0..exp10.unsigned_abs() {
        mul_add(scale, 10, 0);
    }
    // value = num / den. Scale one side by a power of two so the quotient has 66 or 67
    // bits: then q × 2^shift, with the remainder as a sticky bit, rounds exactly.
    let shift = bit_len(&num) as i64 - bit_len(&den) as i64 - 66;
    let (num, den) = if shift < 0 {
        (shl(&num, shift.unsigned_abs()), den)
    } else {
        (num, shl(&den, shift.unsigned_abs()))
    };
    let (q, rest_nonzero) = divide(num, &den);
    Some(round(q, sticky || rest_nonzero, shift))
}

/// `(q + f) × 2^shift` rounded half to even, where `0 <= f < 1` and `sticky` says
/// `f > 0`; `q` has 66 or 67 bits.
fn round(q: u128, sticky: bool, shift: i64) -> f64 {
    let len = 128 - i64::from(q.leading_zeros());
    // The exponent of the leading bit, and how many low bits of `q` fall below the
    // result's last place (at least 12 either way: 53 bits of a normal number, fewer
    // for a subnormal, whose last place is 2^-1074).
    let exponent = len - 1 + shift;
    let drop = if exponent >= -1022 {
        len - 53
    } else {
        -1074 - shift
    };
    if drop > len {
        // Below half the smallest subnormal.
        return 0.0;
    }
    let drop = drop as u32;
    let mut m = (q >> drop) as u64;
    let rest = q & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    if rest > half || (rest == half && (sticky || m & 1 == 1)) {
        m += 1;
    }
    if exponent < -1022 {
        // Subnormal; rounding up to 2^52 gives the smallest normal, whose bits these are.
        return f64::from_bits(m);
    }
    let mut exponent = exponent;
    if m == 1 << 53 {
        m >>= 1;
        exponent += 1;
    }
    if exponent > 1023 {
        return f64::INFINITY;
    }
    f64::from_bits(((exponent + 1023) as u64) << 52 | (m & ((1 << 52) - 1)))
}

// A few operations on unsigned big integers: little-endian `u32` limbs.

/// `v = v × m + add`.
fn mul_add(v: &mut Vec<u32>, m: u32, add: u32) {
    let mut carry = u64::from(add);
    for limb in v.iter_mut() {
        let x = u64::from(*limb) * u64::from(m) + carry;
        *limb = x as u32;
        carry = x >> 32;
    }
    if carry > 0 {
        v.push(carry as u32);
    }
}

fn bit_len(v: &[u32]) -> u64 {
    match v.iter().rposition(|&l| l != 0) {
        Some(i) => i as u64 * 32 + u64::from(32 - v[i].leading_zeros()),
        None => 0,
    }
}

/// `v × 2^bits`.
fn shl(v: &[u32], bits: u64) -> Vec<u32> {
    let limbs = (bits / 32) as usize;
    let bits = (bits % 32) as u32;
    let mut out = vec![0u32; limbs];
    let mut carry = 0u32;
    for &l in v {
        out.push(l << bits | carry);
        carry = if bits == 0 { 0 } else { l >> (32 - bits) };
    }
    out.push(carry);
    out
}

fn compare(a: &[u32], b: &[u32]) -> Ordering {
    let len = a.len().max(b.len());
    for i in (0..len).rev() {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        if x != y {
            return x.cmp(&y);
        }
    }
    Ordering::Equal
}

/// `a -= b`, for `a >= b`.
fn sub(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (i, limb) in a.iter_mut().enumerate() {
        let y = u64::from(b.get(i).copied().unwrap_or(0)) + borrow;
        let x = u64::from(*limb);
        borrow = u64::from(x < y);
        *limb = (x + (borrow << 32) - y) as u32;
    }
}

/// `a / b` (below 2^67 by construction) and whether a remainder is left.
fn divide(mut a: Vec<u32>, b: &[u32]) -> (u128, bool) {
    let mut q = 0u128;
    for i in (0..67).rev() {
        let bi = shl(b, i);
        if compare(&a, &bi) != Ordering::Less {
            sub(&mut a, &bi);
            q |= 1 << i;
        }
    }
    (q, a.iter().any(|&l| l != 0))
}

/// 2^64.
const TWO_TO_64: f64 = 18_446_744_073_709_551_616.0;

/// `x` as `format!("{x}")` prints it when `x` is a whole number up to 2^64 in magnitude
/// (a token count carried as `f64`), `None` otherwise; without `core`'s float formatting
/// (Grisu and Dragon4, ~17 KB of wasm), from integer arithmetic alone. Below 2^53 a whole
/// number reads back only from its own digits; above, `core`'s shortest digits are the
/// coarsest multiple of a power of ten that converts back to `x`, the nearer of the two
/// around it, the upper on a tie. A general printer (which also needs [`parse`] to settle
/// ties) cost the proxy's wasm 3 KB gzipped for the one message that prints a number.
pub fn display_whole(x: f64) -> Option<String> {
    let a = x.abs();
    // NaN and infinities fail the first test (their `fract` is NaN).
    if a.fract() != 0.0 || a > TWO_TO_64 {
        return None;
    }
    if a == TWO_TO_64 {
        // `u64::MAX as f64`, one past what `as u64` keeps.
        let sign = if x.is_sign_negative() { "-" } else { "" };
        return Some(crate::concat(&[sign, "18446744073709552000"]));
    }
    // Exact: `a` is whole and below 2^64.
    let n = a as u64;
    let mut digits = n;
    if n >= 1 << 53 {
        let mut p: u64 = 10_000_000_000_000_000_000;
        while p > 1 {
            let lower = n - n % p;
            // `u64 as f64` rounds to nearest, ties to even: exactly how the text reads back.
            let lower_ok = lower as f64 == a;
            let upper = lower.checked_add(p).filter(|&u| u as f64 == a);
            match (lower_ok, upper) {
                (true, Some(u)) if u - n <= n - lower => digits = u,
                (true, _) => digits = lower,
                (false, Some(u)) => digits = u,
                (false, None) => {
                    p /= 10;
                    continue;
                }
            }
            break;
        }
    }
    let text = digits.to_string();
    Some(if x.is_sign_negative() {
        crate::concat(&["-", &text])
    } else {
        text
    })
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(s: &str) {
        let core = s.parse::<f64>().ok();
        let ours = parse(s);
        // A JSON number's text reads the same through `parse_number`.
        if crate::scan::validate(s.as_bytes()) && !s.starts_with('"') {
            assert_eq!(
                parse_number(s).map(f64::to_bits),
                ours.map(f64::to_bits),
                "{s:?}"
            );
        }
        match (core, ours) {
            (Some(a), Some(b)) if a.is_nan() => assert!(b.is_nan(), "{s:?}: {b}"),
            (a, b) => assert_eq!(
                a.map(f64::to_bits),
                b.map(f64::to_bits),
                "{s:?}: {a:?} {b:?}"
            ),
        }
    }

    #[test]
    fn grammar_matches_core() {
        for s in [
            "",
            "+",
            "-",
            ".",
            "+.",
            "e5",
            ".e5",
            "1e",
            "1e+",
            "1e-",
            "1.e5",
            ".5e-3",
            "5.",
            "-.5",
            "+0",
            "-0",
            "-0.0e-9",
            "00012.500",
            "1_000",
            " 1",
            "1 ",
            "0x10",
            "1e5.5",
            "1..2",
            "inf",
            "-INF",
            "Infinity",
            "+infinity",
            "infinit",
            "nan",
            "NaN",
            "-nan",
            "nan1",
            "in",
            "1.5E+3",
            "1d5",
            "١",
            "1e0000000000000000000000000000000000001",
            "1e-99999999999999999999",
            "0e999999999999",
            "1e308",
            "1e309",
            "1e-400",
        ] {
            same(s);
        }
    }

    #[test]
    fn hard_roundings_match_core() {
        for s in [
            "9007199254740993",
            "9007199254740992.5",
            "9007199254740993.0000000000000000000000000000001",
            "2.2250738585072011e-308",
            "2.2250738585072014e-308",
            "2.2250738585072012e-308",
            "4.9406564584124654e-324",
            "2.4703282292062327e-324",
            "2.4703282292062328e-324",
            "2.47032822920623272088284396434110686182529901307162382212792841250337753635104375932649918180817996189898282347722858865463328355177969898199387398005390939063150356595155702263922908583924491051844359318028499365361525003193704576782492193656236698636584807570015857692699037063119282795585513329278343384093519780155312465972635795746227664652728272200563740064854999770965994704540208281662262378573934507363390079677619305775067401763246736009689513405355374585166611342237666786041621596804619144672918403005300575308490487653917113865916462395249126236538818796362393732804238910186723484976682350898633885879256283027559956575244555072551893136908362547791869486679949683240497058210285131854513962138377228261454376934125320985913276672363281255",
            "1.7976931348623157e308",
            "1.7976931348623158e308",
            "1.7976931348623159e308",
            "179769313486231580793728971405301e276",
            "0.1",
            "0.3",
            "123456789012345678901234567890e-40",
            "7.038531e-26",
            "8.98846567431158e307",
            "1448997445238699",
            "3.4028235677973366e38",
            "5e-324",
            "1e-323",
        ] {
            same(s);
        }
        // More digits than are kept, with and without a nonzero digit beyond them.
        let long = format!("1.{}5{}", "0".repeat(900), "0".repeat(100));
        same(&long);
        same(&format!("9007199254740992.5{}", "0".repeat(900)));
        same(&format!("9007199254740992.5{}1", "0".repeat(900)));
        same(&format!("{}e-900", "7".repeat(1000)));
        same(&format!("0.{}1e70000", "0".repeat(70_000)));
        // An exponent past the point `core` stops reading digits at.
        same(&format!("0.{}1e700000", "0".repeat(70_000)));
        same(&format!("1e{}", "9".repeat(30)));
        same(&format!("{}.5e-70000", "1".repeat(70_000)));
    }

    #[test]
    fn display_whole_prints_as_core_does_and_refuses_the_rest() {
        let mut whole = vec![
            0.0,
            -0.0,
            1.0,
            -7.0,
            1e15,
            1e16,
            1e19,
            u64::MAX as f64,
            -TWO_TO_64,
        ];
        for k in 53..64 {
            let p = (1u64 << k) as f64;
            whole.extend([p, p + 2048.0, p - 1024.0, -p]);
        }
        // Right below 2^64 (the last whole numbers it takes) and the ties a tenth apart.
        let top = 18_446_744_073_709_549_568_u64;
        whole.extend([
            top as f64,
            (top - 2048) as f64,
            12_345_678_901_234_567_000_u64 as f64,
        ]);
        for x in whole {
            assert_eq!(display_whole(x), Some(format!("{x}")), "{x:e}");
        }
        for x in [
            0.5,
            -1.25,
            1e20,
            18_446_744_073_709_555_712.0,
            f64::NAN,
            f64::INFINITY,
        ] {
            assert_eq!(display_whole(x), None, "{x:e}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn display_whole_prints_any_whole_number_as_core_does(n in any::<u64>(), neg: bool) {
            let x = if neg { -(n as f64) } else { n as f64 };
            prop_assert_eq!(display_whole(x), Some(format!("{x}")));
        }

        #[test]
        fn display_whole_prints_any_bits_as_core_does_when_whole(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            let whole = x.fract() == 0.0 && x.abs() <= TWO_TO_64;
            prop_assert_eq!(display_whole(x), whole.then(|| format!("{x}")));
        }

        #[test]
        fn every_f64_reads_back(bits in any::<u64>()) {
            let f = f64::from_bits(bits);
            same(&f.to_string());
            same(&format!("{f:e}"));
            same(&format!("{f:.3e}"));
            same(&format!("{f:.17e}"));
            same(&format!("{f:.25e}"));
        }

        #[test]
        fn decimal_text_reads_as_core_reads_it(
            sign in "[+-]?",
            int in "[0-9]{0,25}",
            dot in any::<bool>(),
            frac in "[0-9]{0,25}",
            exp in proptest::option::of(-400i32..400),
        ) {
            let mut s = sign + &int;
            if dot {
                s.push('.');
                s.push_str(&frac);
            }
            if let Some(e) = exp {
                s.push('e');
                s.push_str(&e.to_string());
            }
            same(&s);
        }

        #[test]
        fn near_halfway_points_read_as_core_reads_them(
            bits in any::<u64>(),
            nudge in prop_oneof![Just(""), Just("0000001"), Just("9")],
        ) {
            let f = f64::from_bits(bits & !(1 << 63));
            if f.is_finite() {
                let (digits, exp) = midpoint(f);
                let text = format!("{digits}{nudge}e{}", exp - nudge.len() as i64);
                same(&text);
                same(&format!("-{text}"));
                // One below the midpoint, at the last digit.
                if let Some(below) = decrement(&digits) {
                    same(&format!("{below}e{exp}"));
                }
            }
        }
    }

    /// The exact decimal `(digits, exp)` of the point halfway between `f` and the next
    /// double up: `(2m + 1) × 2^(e - 1)` for `f = m × 2^e`.
    fn midpoint(f: f64) -> (String, i64) {
        let bits = f.to_bits();
        let biased = ((bits >> 52) & 0x7ff) as i64;
        let fraction = bits & ((1 << 52) - 1);
        let (m, e) = if biased == 0 {
            (fraction, -1074)
        } else {
            (fraction | 1 << 52, biased - 1075)
        };
        let odd = 2 * u128::from(m) + 1;
        let mut v = vec![odd as u32, (odd >> 32) as u32, (odd >> 64) as u32];
        let k = e - 1;
        let factor = if k >= 0 { 2 } else { 5 };
        for _ in 0..k.unsigned_abs() {
            mul_add(&mut v, factor, 0);
        }
        (decimal(v), k.min(0))
    }

    fn decimal(mut v: Vec<u32>) -> String {
        let mut chunks = Vec::new();
        while v.iter().any(|&l| l != 0) {
            let mut rem = 0u64;
            for limb in v.iter_mut().rev() {
                let x = rem << 32 | u64::from(*limb);
                *limb = (x / 1_000_000_000) as u32;
                rem = x % 1_000_000_000;
            }
            chunks.push(rem);
        }
        let mut out = chunks.pop().map_or("0".to_owned(), |c| c.to_string());
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }

    /// `digits` minus one in the last place (`None` for "0").
    fn decrement(digits: &str) -> Option<String> {
        let mut b = digits.as_bytes().to_vec();
        let mut i = b.len();
        loop {
            i = i.checked_sub(1)?;
            if b[i] == b'0' {
                b[i] = b'9';
            } else {
                b[i] -= 1;
                break;
            }
        }
        String::from_utf8(b).ok()
    }
}
