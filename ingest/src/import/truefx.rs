//! TrueFX quotes, in two layouts:
//!
//! - raw TrueFX: `USD/JPY,20130101 22:00:00.295,86.655,86.665` (no header; time UTC);
//! - NautilusTrader's re-serialisation: header `timestamp,bid,ask`, then
//!   `2013-01-01 22:00:00.295000+00:00,86.655,86.728` (symbol from the file name).
//!
//! The raw layout's symbol loses its `/` (`USD/JPY` → `USDJPY`) so both layouts
//! name a pair alike. No sizes: bid and ask sizes are 0.

use mtf::Tick;

use super::counts::{RowError, Skip};
use super::fields::split;
use super::num::parse_f64;
use super::time::{Zone, ZoneConverter, parse_datetime};
use super::{Decode, ImportError, Outcome, SymState, Syms};

/// Whether a line looks like raw TrueFX (`AAA/BBB,YYYYMMDD HH:MM:SS…`).
pub(crate) fn looks_raw(line: &[u8]) -> bool {
    line.len() > 17
        && line[3] == b'/'
        && line[7] == b','
        && line[8..16].iter().all(u8::is_ascii_digit)
}

/// The TrueFX decoder.
#[derive(Debug)]
pub(crate) struct TrueFxDecoder {
    utc: ZoneConverter,
}

impl Default for TrueFxDecoder {
    fn default() -> TrueFxDecoder {
        TrueFxDecoder {
            utc: ZoneConverter::new(Zone::Utc),
        }
    }
}

impl Decode for TrueFxDecoder {
    fn begin(&mut self, _: &str, _: &str, _: &mut SymState) -> Result<(), ImportError> {
        Ok(())
    }

    fn decode(&mut self, line: &[u8], syms: &mut Syms<'_>, out: &mut Tick) -> Outcome {
        let mut f = [&b""[..]; 4];
        let n = split(line, b',', &mut f);
        let (sym, t, b, a) = match n {
            3 if f[0] == b"timestamp" => return Outcome::Skip(Skip::Header),
            3 => (None, f[0], f[1], f[2]),
            4 => (Some(f[0]), f[1], f[2], f[3]),
            _ => return Outcome::Error(RowError::Fields),
        };
        let Some(ts) = parse_datetime(t).and_then(|c| self.utc.civil_to_utc(&c)) else {
            return Outcome::Error(RowError::Time);
        };
        let (Some(bid), Some(ask)) = (parse_f64(b), parse_f64(a)) else {
            return Outcome::Error(RowError::Price);
        };
        let symbol = match sym {
            Some(s) => {
                // drop the '/' of `USD/JPY`
                let mut buf = [0u8; 16];
                let mut len = 0;
                for &c in s.iter().filter(|&&c| c != b'/') {
                    if len == buf.len() {
                        return Outcome::Reject(crate::Reject::Symbol);
                    }
                    buf[len] = c;
                    len += 1;
                }
                syms.named(&buf[..len])
            }
            None => syms.fixed(),
        };
        let symbol = match symbol {
            Ok(s) => s,
            Err(r) => return Outcome::Reject(r),
        };
        *out = Tick::quote(symbol, ts, bid, 0.0, ask, 0.0);
        Outcome::Tick
    }
}
