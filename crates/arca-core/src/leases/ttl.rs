//! Vault's TTL arithmetic (`framework.CalculateTTL`), the one place both token creation and
//! renewal and the expiration manager (secret leases at registration and renewal) compute a
//! lease's TTL: the asked increment or the backend's TTL, capped by the mount's tuned (or the
//! system's) max TTL, the backend's own max TTL and a token's `explicit_max_ttl`, counted
//! from the lease's start.

use std::time::Duration;

use arca_sdk::LogicalError;

use crate::mount_store::MountStore;
use crate::mounts::MountEntry;

/// The TTL limits a lease gets: the system's, replaced by the mount's tuning where set.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TtlLimits {
    /// Default TTL in seconds.
    pub default_ttl: u64,
    /// Maximum TTL in seconds.
    pub max_ttl: u64,
}

impl TtlLimits {
    /// The limits of `mount` over the system's `(default, max)`; the default never exceeds
    /// the max.
    pub(crate) fn of_mount(mount: &MountEntry, system: (Duration, Duration)) -> TtlLimits {
        let mut l = TtlLimits {
            default_ttl: system.0.as_secs(),
            max_ttl: system.1.as_secs(),
        };
        if mount.config.max_lease_ttl > 0 {
            l.max_ttl = mount.config.max_lease_ttl;
        }
        if mount.config.default_lease_ttl > 0 {
            l.default_ttl = mount.config.default_lease_ttl;
        }
        l.default_ttl = l.default_ttl.min(l.max_ttl);
        l
    }

    /// The limits of the mount serving `mount_point` (the system's when none does, zero
    /// when the mount store is gone).
    pub(crate) fn of_mount_point(mounts: Option<&MountStore>, mount_point: &str) -> TtlLimits {
        let Some(mounts) = mounts else {
            return TtlLimits {
                default_ttl: 0,
                max_ttl: 0,
            };
        };
        let system = mounts.system_ttls();
        match mounts.router().route(mount_point) {
            Some((_, route)) => TtlLimits::of_mount(&route.mount.load(), system),
            None => TtlLimits {
                default_ttl: system.0.as_secs().min(system.1.as_secs()),
                max_ttl: system.1.as_secs(),
            },
        }
    }
}

/// The inputs of one TTL computation, in seconds (times in unix seconds).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TtlAsk {
    /// The increment asked on renewal (0: none).
    pub increment: u64,
    /// The TTL the backend answered (0: the mount's default).
    pub backend_ttl: u64,
    /// A periodic token's period (0: not periodic).
    pub period: u64,
    /// The backend's own max TTL (a secret's `max_ttl`, 0: none).
    pub backend_max_ttl: u64,
    /// A token's `explicit_max_ttl` (0: none).
    pub explicit_max_ttl: u64,
    /// When the lease started.
    pub start: i64,
    /// Now.
    pub now: i64,
}

/// Go's `time.Duration` text as Vault's lease warnings print it (`"1h"`, `"1h59m36s"`).
pub(crate) fn human_duration(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut s = arca_sdk::duration::format_go_duration(Duration::from_secs(secs));
    if s.ends_with("m0s") {
        s.truncate(s.len() - 2);
    }
    if let Some(i) = s.find("h0m") {
        s.replace_range(i + 1..i + 3, "");
    }
    s
}

/// Vault's `CalculateTTL`: the TTL of a lease made or renewed now. Returns the TTL and the
/// warnings to show; fails once the lease is past its maximum.
pub(crate) fn calculate_ttl(
    limits: TtlLimits,
    ask: TtlAsk,
) -> Result<(u64, Vec<String>), LogicalError> {
    let mut warnings = Vec::new();
    let mut max_ttl = limits.max_ttl;
    if ask.backend_max_ttl > 0 && ask.backend_max_ttl < max_ttl {
        max_ttl = ask.backend_max_ttl;
    }
    if ask.explicit_max_ttl > 0 && ask.explicit_max_ttl < max_ttl {
        max_ttl = ask.explicit_max_ttl;
    }
    if max_ttl == 0 {
        return Err(LogicalError::internal("max TTL must be greater than zero"));
    }
    let mut ttl;
    let max_valid: Option<i64>;
    if ask.period > 0 {
        let mut period = ask.period;
        if period > max_ttl {
            warnings.push(format!(
                "period of {:?} exceeded the effective max_ttl of {:?}; period value is capped accordingly",
                human_duration(period),
                human_duration(max_ttl)
            ));
            period = max_ttl;
        }
        ttl = period;
        max_valid = (ask.explicit_max_ttl > 0).then(|| ask.start + ask.explicit_max_ttl as i64);
    } else {
        ttl = if ask.increment > 0 {
            ask.increment
        } else if ask.backend_ttl > 0 {
            ask.backend_ttl
        } else {
            limits.default_ttl
        };
        max_valid = Some(ask.start + max_ttl as i64);
    }
    if let Some(mv) = max_valid {
        let valid = mv - ask.now;
        if valid <= 0 {
            return Err(LogicalError::bad_request("past the max TTL, cannot renew"));
        }
        if (valid as u64) < ttl {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                human_duration(ttl),
                human_duration(valid as u64)
            ));
            ttl = valid as u64;
        }
    }
    Ok((ttl, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        for (secs, want) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (3600, "1h"),
            (3661, "1h1m1s"),
            (7176, "1h59m36s"),
            (3605, "1h5s"),
            (36000, "10h"),
            (1800, "30m"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn ttl_calculation() {
        let limits = TtlLimits {
            default_ttl: 100,
            max_ttl: 1000,
        };
        let now = 10_000;
        // (increment, backend ttl, period, backend max, explicit max, start, want ttl, warnings)
        let cases = [
            (0, 0, 0, 0, 0, now, 100, 0),
            (0, 50, 0, 0, 0, now, 50, 0),
            (20, 50, 0, 0, 0, now, 20, 0),
            (0, 5000, 0, 0, 0, now, 1000, 1),
            (0, 500, 0, 0, 300, now, 300, 1),
            (0, 500, 0, 300, 0, now, 300, 1),
            (0, 500, 0, 300, 200, now, 200, 1),
            (900, 500, 0, 600, 0, now - 100, 500, 1),
            (0, 0, 200, 0, 0, now, 200, 0),
            (0, 0, 2000, 0, 0, now, 1000, 1),
            (0, 0, 200, 0, 250, now - 100, 150, 1),
            (0, 500, 0, 0, 0, now - 800, 200, 1),
        ];
        for (
            increment,
            backend_ttl,
            period,
            backend_max_ttl,
            explicit_max_ttl,
            start,
            want,
            nwarn,
        ) in cases
        {
            let ask = TtlAsk {
                increment,
                backend_ttl,
                period,
                backend_max_ttl,
                explicit_max_ttl,
                start,
                now,
            };
            let (ttl, w) = calculate_ttl(limits, ask).unwrap();
            assert_eq!((ttl, w.len()), (want, nwarn), "{ask:?}");
        }
        let past = TtlAsk {
            backend_ttl: 10,
            start: now - 1000,
            now,
            ..TtlAsk::default()
        };
        assert_eq!(
            calculate_ttl(limits, past).unwrap_err().to_string(),
            "past the max TTL, cannot renew"
        );
    }
}
