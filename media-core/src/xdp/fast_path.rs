//! Loading the program and attaching it. Any failure here leaves
//! media-core running userspace-only, with the reason said once.

use aya::maps::{DevMapHash, HashMap, MapData, PerCpuArray};
use aya::programs::{Xdp, XdpMode as AyaMode};
use aya::{Ebpf, EbpfLoader};
use sluice_ebpf_common::{
    COUNTERS_MAP, EGRESS_MAP, FLOWS6_MAP, FLOWS_MAP, LAYOUT_VERSION, OUTCOMES_MAP, PROGRAM_NAME,
};

use super::flows::{Maps, XdpFlows};
use crate::config::{XdpConfig, XdpMode};

/// One interface the program runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Interface name.
    pub name: String,
    /// Its index.
    pub ifindex: u32,
    /// `native` or `generic`.
    pub mode: &'static str,
}

/// The loaded, attached program. Dropping it detaches the program from
/// every interface.
pub struct XdpFastPath {
    // Owns the program and its links; kept only to keep them alive.
    _ebpf: Ebpf,
    // The interfaces redirects may go to; taken out of the object.
    _egress: DevMapHash<MapData>,
    flows: XdpFlows,
    attached: Vec<Attached>,
}

impl std::fmt::Debug for XdpFastPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpFastPath")
            .field("attached", &self.attached)
            .finish_non_exhaustive()
    }
}

impl XdpFastPath {
    /// Loads the embedded program and attaches it to every interface in
    /// `config`; the error says why the fast path is unavailable.
    pub fn start(config: &XdpConfig) -> Result<Self, String> {
        let object = super::object().ok_or_else(|| {
            format!(
                "this media-core was built without the XDP program ({})",
                super::build_status()
            )
        })?;
        let mut ebpf = EbpfLoader::new()
            .map_max_entries(FLOWS_MAP, config.max_flows)
            .map_max_entries(FLOWS6_MAP, config.max_flows)
            .map_max_entries(COUNTERS_MAP, config.max_flows)
            .load(object)
            .map_err(|e| format!("cannot load the XDP object: {}", explain(&verbose(&e))))?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or_else(|| {
                format!(
                    "the XDP object has no program `{PROGRAM_NAME}` (built for another map layout than version {LAYOUT_VERSION})"
                )
            })?
            .try_into()
            .map_err(|e| format!("`{PROGRAM_NAME}` is not an XDP program: {e}"))?;
        program.load().map_err(|e| {
            format!(
                "the kernel refused the XDP program: {}",
                explain(&verbose(&e))
            )
        })?;
        let mut attached = Vec::with_capacity(config.interfaces.len());
        for name in &config.interfaces {
            check_forwarding(name)?;
            if !ipv6_forwarding(name) {
                tracing::info!(
                    interface = %name,
                    "IPv6 streams on this interface stay in userspace (net.ipv6.conf.{name}.forwarding is off)"
                );
            }
            let modes: &[(AyaMode, &'static str)] = match config.mode {
                XdpMode::Native => &[(AyaMode::Driver, "native")],
                XdpMode::Generic => &[(AyaMode::Skb, "generic")],
                XdpMode::Auto => &[(AyaMode::Driver, "native"), (AyaMode::Skb, "generic")],
            };
            let mut last_error = String::new();
            let mut done = None;
            for &(mode, label) in modes {
                match program.attach(name, mode) {
                    Ok(_) => {
                        done = Some(label);
                        break;
                    }
                    Err(e) => last_error = format!("{label}: {}", explain(&verbose(&e))),
                }
            }
            let mode =
                done.ok_or_else(|| format!("cannot attach XDP to `{name}`: {last_error}"))?;
            attached.push(Attached {
                name: name.clone(),
                ifindex: ifindex(name)?,
                mode,
            });
        }
        let mut egress: DevMapHash<_> = take(&mut ebpf, EGRESS_MAP)?;
        for a in &attached {
            egress
                .insert(a.ifindex, a.ifindex, None, 0)
                .map_err(|e| format!("cannot allow redirects to `{}`: {e}", a.name))?;
        }
        let maps = Maps {
            flows: take::<HashMap<_, _, _>>(&mut ebpf, FLOWS_MAP)?,
            flows6: take::<HashMap<_, _, _>>(&mut ebpf, FLOWS6_MAP)?,
            counters: take::<PerCpuArray<_, _>>(&mut ebpf, COUNTERS_MAP)?,
            outcomes: take::<PerCpuArray<_, _>>(&mut ebpf, OUTCOMES_MAP)?,
            capacity: config.max_flows,
            next_counter: 0,
            free_counters: Vec::new(),
            cpus: aya::util::nr_cpus().map_err(|(_, e)| format!("cannot count CPUs: {e}"))?,
        };
        Ok(Self {
            _ebpf: ebpf,
            _egress: egress,
            flows: XdpFlows::new(maps),
            attached,
        })
    }

    /// The handle workers use to install streams.
    pub fn flows(&self) -> XdpFlows {
        self.flows.clone()
    }

    /// Where the program runs.
    pub fn attached(&self) -> &[Attached] {
        &self.attached
    }
}

/// Takes map `name` out of the object as type `T`.
fn take<T>(ebpf: &mut Ebpf, name: &str) -> Result<T, String>
where
    T: TryFrom<aya::maps::Map, Error = aya::maps::MapError>,
{
    let map = ebpf
        .take_map(name)
        .ok_or_else(|| format!("the XDP object has no map `{name}`"))?;
    T::try_from(map).map_err(|e| format!("XDP map `{name}` has the wrong shape: {e}"))
}

/// The index of interface `name` in this process's network namespace.
fn ifindex(name: &str) -> Result<u32, String> {
    let c_name =
        std::ffi::CString::new(name).map_err(|_| format!("`{name}` is not an interface name"))?;
    #[allow(unsafe_code, reason = "if_nametoindex(3) has no safe wrapper in std")]
    // SAFETY: `c_name` is a valid NUL-terminated string that outlives the
    // call; the function only reads it.
    let index = unsafe { libc::if_nametoindex(c_name.as_ptr()) };
    if index == 0 {
        Err(format!("no interface `{name}`"))
    } else {
        Ok(index)
    }
}

/// The kernel's next-hop lookup for XDP refuses interfaces that do not
/// forward; without it nothing could ever be offloaded.
fn check_forwarding(name: &str) -> Result<(), String> {
    let path = format!("/proc/sys/net/ipv4/conf/{name}/forwarding");
    match std::fs::read_to_string(&path) {
        Ok(v) if v.trim() == "1" => Ok(()),
        Ok(_) => Err(format!(
            "`{name}` does not forward IPv4 (the kernel's next-hop lookup for XDP needs it): set net.ipv4.conf.{name}.forwarding=1"
        )),
        Err(_) => Err(format!("no interface `{name}`")),
    }
}

/// Whether `name` forwards IPv6 (the kernel's next-hop lookup needs it
/// for the program's IPv6 path; IPv4 works without it).
fn ipv6_forwarding(name: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{name}/forwarding"))
        .is_ok_and(|v| v.trim() == "1")
}

/// An error with its sources, for one log line.
fn verbose(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        // Some errors repeat their source's text in their own.
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// Adds the usual cause to a permission error.
fn explain(text: &str) -> String {
    if text.contains("Operation not permitted") || text.contains("EPERM") {
        format!("{text} (XDP needs root, or CAP_BPF with CAP_NET_ADMIN)")
    } else {
        text.to_string()
    }
}
