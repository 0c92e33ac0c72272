//! The schedule's time against the real (or paused) clock: the in-memory runs read schedule
//! time on tokio's paused clock one for one; the runs against Azurite, on the real clock, scale
//! it down, so that a schedule's minutes of outages and a day of Event Grid's retries take
//! seconds.

use std::time::Duration;

/// How many seconds of schedule time pass in one second of the runtime's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Schedule seconds per clock second.
    pub scale: u32,
}

impl Clock {
    /// Schedule time as clock time.
    pub fn real(self, schedule: Duration) -> Duration {
        schedule / self.scale
    }

    /// Clock time as schedule time.
    pub fn schedule(self, real: Duration) -> Duration {
        real * self.scale
    }

    /// Sleeps `schedule` time.
    pub async fn sleep(self, schedule: Duration) {
        tokio::time::sleep(self.real(schedule)).await;
    }
}
