//! Installing, updating and removing offloaded streams, and reading
//! their per-CPU counters. Shared by all workers behind one mutex: it is
//! taken only when a stream latches, changes or ends, and when counters
//! are read for a query or the idle sweep, never per packet.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aya::maps::{HashMap, MapData, PerCpuArray, PerCpuValues};
use sluice_ebpf_common::{FlowAction, FlowAction6, FlowCounters, FlowKey, FlowKey6, Outcome};

use crate::relay::{Counter, FlowSpec};

/// A map operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum XdpError {
    /// Every counter slot is taken (`xdp-max-flows`).
    #[error("XDP flow table full ({0} streams)")]
    Full(u32),
    /// Per-CPU values could not be built for this machine's CPUs.
    #[error("XDP counters: {0}")]
    Counters(String),
    /// The kernel refused a map operation.
    #[error("XDP map {map}: {source}")]
    Map {
        /// Which map.
        map: &'static str,
        /// aya's error.
        source: aya::maps::MapError,
    },
}

fn map_err(map: &'static str) -> impl FnOnce(aya::maps::MapError) -> XdpError {
    move |source| XdpError::Map { map, source }
}

/// The program's maps and the counter-slot allocator.
pub(super) struct Maps {
    pub(super) flows: HashMap<MapData, FlowKey, FlowAction>,
    pub(super) flows6: HashMap<MapData, FlowKey6, FlowAction6>,
    pub(super) counters: PerCpuArray<MapData, FlowCounters>,
    pub(super) outcomes: PerCpuArray<MapData, u64>,
    pub(super) capacity: u32,
    pub(super) next_counter: u32,
    pub(super) free_counters: Vec<u32>,
    pub(super) cpus: usize,
}

/// A cheap, cloneable handle to the fast path's maps.
#[derive(Clone)]
pub struct XdpFlows {
    maps: Arc<Mutex<Maps>>,
}

impl std::fmt::Debug for XdpFlows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpFlows").finish_non_exhaustive()
    }
}

impl XdpFlows {
    pub(super) fn new(maps: Maps) -> Self {
        Self {
            maps: Arc::new(Mutex::new(maps)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Maps> {
        // A panic elsewhere cannot leave the maps half-updated in a way
        // that matters more than stopping the data path would.
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts forwarding the packets `spec` describes in the kernel;
    /// returns the counter slot they count into (set in the installed
    /// action).
    pub fn install(&self, spec: FlowSpec) -> Result<u32, XdpError> {
        let mut maps = self.lock();
        let counter = match maps.free_counters.pop() {
            Some(c) => c,
            None if maps.next_counter < maps.capacity => {
                maps.next_counter += 1;
                maps.next_counter - 1
            }
            None => return Err(XdpError::Full(maps.capacity)),
        };
        let zero = PerCpuValues::try_from(vec![FlowCounters::default(); maps.cpus])
            .map_err(|source| XdpError::Counters(source.to_string()))?;
        let result = maps
            .counters
            .set(counter, zero, 0)
            .map_err(map_err("COUNTERS"))
            .and_then(|()| maps.put(spec.with_counter(counter)));
        if let Err(e) = result {
            maps.free_counters.push(counter);
            return Err(e);
        }
        Ok(counter)
    }

    /// Replaces the action of an installed stream (same key, its counter
    /// slot set), keeping its counters.
    pub fn update(&self, spec: FlowSpec) -> Result<(), XdpError> {
        self.lock().put(spec)
    }

    /// What the program has forwarded into `counter` so far, summed over
    /// CPUs.
    pub fn counters(&self, counter: u32) -> Result<Counter, XdpError> {
        let maps = self.lock();
        read_counter(&maps, counter)
    }

    /// Stops forwarding `key` in the kernel and frees its counter slot;
    /// returns the slot's final counts.
    pub fn remove(&self, spec: &FlowSpec, counter: u32) -> Result<Counter, XdpError> {
        let mut maps = self.lock();
        let removed = match spec {
            FlowSpec::V4 { key, .. } => maps.flows.remove(key).map_err(map_err("FLOWS")),
            FlowSpec::V6 { key, .. } => maps.flows6.remove(key).map_err(map_err("FLOWS6")),
        };
        // Read after the entry is gone: nothing counts into the slot now
        // except packets already past the lookup.
        let last = read_counter(&maps, counter);
        maps.free_counters.push(counter);
        removed?;
        last
    }

    /// Packets per program outcome since load, summed over CPUs.
    pub fn outcomes(&self) -> Result<[u64; Outcome::COUNT as usize], XdpError> {
        let maps = self.lock();
        let mut totals = [0u64; Outcome::COUNT as usize];
        for (i, total) in totals.iter_mut().enumerate() {
            let values = maps
                .outcomes
                .get(&(i as u32), 0)
                .map_err(map_err("OUTCOMES"))?;
            *total = values.iter().sum();
        }
        Ok(totals)
    }
}

impl Maps {
    /// Inserts or replaces the entry of `spec` in its family's map.
    fn put(&mut self, spec: FlowSpec) -> Result<(), XdpError> {
        match spec {
            FlowSpec::V4 { key, action } => {
                self.flows.insert(key, action, 0).map_err(map_err("FLOWS"))
            }
            FlowSpec::V6 { key, action } => self
                .flows6
                .insert(key, action, 0)
                .map_err(map_err("FLOWS6")),
        }
    }
}

fn read_counter(maps: &Maps, counter: u32) -> Result<Counter, XdpError> {
    let values = maps
        .counters
        .get(&counter, 0)
        .map_err(map_err("COUNTERS"))?;
    Ok(values.iter().fold(Counter::default(), |sum, c| {
        sum.plus(Counter {
            packets: c.packets,
            bytes: c.bytes,
        })
    }))
}
