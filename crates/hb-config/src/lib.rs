//! hb-config: Heartbeat 3.0.6's configuration files, `ha.cf`, `haresources` and `authkeys`
//! (in one directory, by default `/etc/ha.d`), parsed into validated types that cannot hold
//! invalid values.
//!
//! Existing Heartbeat files load unchanged. Every problem is reported as
//! `file:line: message`, all of them at once (see [`check`] and [`load`]); directives that
//! Heartbeat accepts but heartbeat-rs does not implement yet are warnings, unknown directives
//! are errors. `docs/ha.cf.md` is the reference of every directive.
//!
//! This crate only reads files: it never opens sockets, looks at interfaces or starts
//! processes, and it never depends on tokio.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agents;
mod authkeys;
mod directives;
mod error;
mod fence;
mod hacf;
mod haresources;
mod load;
mod media;
mod monitor;
mod node;
mod ping;
mod testopts;
mod time;
mod timing;
pub mod trust;
mod value;

/// The hb-proto types this crate produces.
use hb_proto as proto;

/// Re-exported from hb-proto: the types of [`Config::keys`] and [`HaCf::msgfmt`].
pub use proto::{AuthMethod, KeyRing, MAX_KEY_INDEX, MsgFmt};

pub use agents::{AgentSearch, DEFAULT_OCF_ROOT, INIT_DIR};
pub use authkeys::{check_authkeys_permissions, parse_authkeys, parse_authkeys_bytes};
pub use error::{ConfigErrors, Diagnostic, Parsed};
pub use fence::{DEFAULT_FENCE_TIMEOUT, FenceConfig, FenceDevice, FenceLine, StonithParams};
pub use hacf::{
    AutoFailback, DEFAULT_AGENT_TIMEOUT, DEFAULT_DEADTIME, DEFAULT_HOPFUDGE, DEFAULT_KEEPALIVE,
    DEFAULT_MAX_REXMIT_DELAY, GenMethod, HaCf, UuidFrom, parse_ha_cf,
};
pub use haresources::{AgentClass, GroupSpec, Haresources, ResourceSpec, parse_haresources};
pub use load::{Config, DEFAULT_CONFIG_DIR, LoadOptions, Loaded, Report, check, load};
pub use media::{DEFAULT_UDPPORT, Medium};
pub use monitor::{
    DEFAULT_MONITOR_INTERVAL, DEFAULT_RESTART_WINDOW, DEFAULT_RESTARTS, MonitorRule,
    ResourcePolicy, resolve as resource_policy,
};
pub use node::NodeName;
pub use ping::{IpfailFrom, Isolation, PingConfig, PingFamily, PingNode};
pub use testopts::{TEST_OPTIONS_FILE, TestOptions};
pub use time::{MAX_MILLIS, TimeError, parse_time};
pub use timing::{Timing, TimingAdvice, TimingError, advise as advise_timing, default_initdead};
