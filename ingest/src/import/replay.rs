//! Pacing a replay by the recorded times.

/// Maps recorded times (a tick's `ts_recv`: capture time, or event time when
/// the source has none) to wall-clock due times at a speed factor.
///
/// `due = start_wall + (recorded − first_recorded) / speed`. Recorded times that
/// go backwards (out-of-order captures) never move the schedule back: the
/// largest recorded time seen so far is used, so a replay never sleeps
/// negative and never bursts ahead of order.
///
/// ```
/// use ingest::import::Pacer;
/// let mut p = Pacer::new(10.0, 1_000); // 10× speed, wall clock starts at 1,000 ns
/// assert_eq!(p.due_ns(5_000_000_000), 1_000); // the first tick is due at once
/// assert_eq!(p.due_ns(6_000_000_000), 100_001_000); // 1 s recorded = 0.1 s wall
/// assert_eq!(p.due_ns(5_500_000_000), 100_001_000); // behind: not earlier than the last
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Pacer {
    /// wall ns per recorded ns (1 / speed)
    scale: f64,
    start_wall: i64,
    first: Option<i64>,
    max_seen: i64,
}

impl Pacer {
    /// A pacer at `speed` (1.0 = real time, 10.0 = ten times faster; values
    /// ≤ 0 or not finite mean "as fast as possible": every tick is due at once).
    pub fn new(speed: f64, start_wall_ns: i64) -> Pacer {
        let scale = if speed.is_finite() && speed > 0.0 {
            1.0 / speed
        } else {
            0.0
        };
        Pacer {
            scale,
            start_wall: start_wall_ns,
            first: None,
            max_seen: i64::MIN,
        }
    }

    /// The wall-clock time (ns, same clock as `start_wall_ns`) at which the tick
    /// recorded at `recorded_ns` is due.
    #[inline]
    pub fn due_ns(&mut self, recorded_ns: i64) -> i64 {
        let first = *self.first.get_or_insert(recorded_ns);
        self.max_seen = self.max_seen.max(recorded_ns);
        let elapsed = self.max_seen.saturating_sub(first) as f64 * self.scale;
        self.start_wall.saturating_add(elapsed as i64)
    }
}
