//! Who held an address when: [`Timeline::record`] samples the holders of one address as
//! fast as `ip addr` allows while an action runs (failover tests measure dual holding and
//! takeover times with it).

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::Lab;

/// The holders of one address over time.
#[derive(Debug, Clone)]
pub struct Timeline {
    /// (time since the start, holders).
    pub samples: Vec<(Duration, Vec<String>)>,
}

impl Timeline {
    /// Samples the holders of `ip` on every lab host while `during` runs.
    pub fn record(
        lab: &Lab,
        ip: Ipv4Addr,
        during: impl FnOnce() -> Result<()>,
    ) -> Result<Timeline> {
        let stop = AtomicBool::new(false);
        let start = Instant::now();
        std::thread::scope(|s| {
            let sampler = s.spawn(|| -> Result<Vec<(Duration, Vec<String>)>> {
                let mut samples = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let holders = lab.address_holders(ip)?;
                    samples.push((start.elapsed(), holders));
                }
                Ok(samples)
            });
            let result = during();
            stop.store(true, Ordering::SeqCst);
            let samples = sampler
                .join()
                .map_err(|_| anyhow::anyhow!("the sampler panicked"))??;
            result?;
            Ok(Timeline { samples })
        })
    }

    /// When `cond` first held.
    pub fn first(&self, cond: impl Fn(&[String]) -> bool) -> Option<Duration> {
        self.samples.iter().find(|(_, h)| cond(h)).map(|(t, _)| *t)
    }

    /// When `cond` last held.
    pub fn last(&self, cond: impl Fn(&[String]) -> bool) -> Option<Duration> {
        self.samples
            .iter()
            .rev()
            .find(|(_, h)| cond(h))
            .map(|(t, _)| *t)
    }

    /// The most holders seen in one sample.
    pub fn most_holders(&self) -> usize {
        self.samples.iter().map(|(_, h)| h.len()).max().unwrap_or(0)
    }

    /// The mean sampling interval.
    pub fn resolution(&self) -> Duration {
        let n = u32::try_from(self.samples.len().max(1)).unwrap_or(u32::MAX);
        self.samples.last().map_or(Duration::ZERO, |(t, _)| *t / n)
    }

    /// How long two or more hosts held the address: from the first such sample to the last,
    /// plus one sampling interval (zero if never).
    pub fn dual_holding(&self) -> Duration {
        match (self.first(|h| h.len() > 1), self.last(|h| h.len() > 1)) {
            (Some(a), Some(b)) => b - a + self.resolution(),
            _ => Duration::ZERO,
        }
    }
}

/// Whether `node` is among the holders `h`.
pub fn holds(h: &[String], node: &str) -> bool {
    h.iter().any(|n| n == node)
}
