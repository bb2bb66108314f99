//! A worker's side of the XDP fast path: carries out the relay table's
//! decisions (install, change, remove a stream's flow) and folds the
//! program's counters back into the streams' own, so NG replies and the
//! idle sweep see kernel-forwarded packets like any other.

use std::time::Instant;

use crate::relay::{CallSerial, Offload, RelayTable, SlotRef};
use crate::xdp::{XdpError, XdpFlows};

/// The worker's handle on the fast path.
pub(super) struct Offloader {
    flows: XdpFlows,
    /// The table-full warning was logged (it repeats on every latch).
    reported_full: bool,
    /// Scratch list of changed sockets, kept for its capacity.
    changed: Vec<SlotRef>,
}

impl Offloader {
    pub(super) fn new(flows: XdpFlows) -> Self {
        Self {
            flows,
            reported_full: false,
            changed: Vec::new(),
        }
    }

    /// Brings the fast path in line with every stream that changed.
    pub(super) fn sync(&mut self, table: &mut RelayTable, now: Instant) {
        table.take_offload_changes(&mut self.changed);
        let changed = std::mem::take(&mut self.changed);
        for &slot in &changed {
            self.sync_one(table, slot, now);
        }
        self.changed = changed;
    }

    fn sync_one(&mut self, table: &mut RelayTable, slot: SlotRef, now: Instant) {
        let want = table.desired_flow(slot);
        let have = table.offload(slot);
        match (want, have) {
            (None, None) => {}
            (Some(want), Some(have)) if want == have.spec => {}
            (Some(want), Some(have)) if want.same_key(&have.spec) => {
                match self.flows.update(want.with_counter(have.counter)) {
                    Ok(()) => table.set_offload(slot, Some(Offload { spec: want, ..have })),
                    Err(e) => {
                        self.report(&e);
                        self.retire(table, slot, now);
                    }
                }
            }
            (want, Some(_)) => {
                self.retire(table, slot, now);
                if let Some(want) = want {
                    self.install(table, slot, want);
                }
            }
            (Some(want), None) => self.install(table, slot, want),
        }
    }

    fn install(&mut self, table: &mut RelayTable, slot: SlotRef, spec: crate::relay::FlowSpec) {
        match self.flows.install(spec) {
            Ok(counter) => table.set_offload(
                slot,
                Some(Offload {
                    spec,
                    counter,
                    seen: Default::default(),
                }),
            ),
            Err(e) => self.report(&e),
        }
    }

    /// Takes `slot`'s flow out of the fast path, keeping its last counts.
    pub(super) fn retire(&mut self, table: &mut RelayTable, slot: SlotRef, now: Instant) {
        let Some(have) = table.offload(slot) else {
            return;
        };
        match self.flows.remove(&have.spec, have.counter) {
            Ok(last) => table.count_offloaded(slot, last, now),
            Err(e) => self.report(&e),
        }
        table.set_offload(slot, None);
    }

    /// Reads the counters of the offloaded streams (of `call`, or all;
    /// with `quiet_since`, only those without a packet since then) into
    /// the table.
    pub(super) fn refresh(
        &mut self,
        table: &mut RelayTable,
        call: Option<CallSerial>,
        quiet_since: Option<Instant>,
        now: Instant,
    ) {
        for (slot, offload) in table.offloaded(call, quiet_since) {
            match self.flows.counters(offload.counter) {
                Ok(total) => table.count_offloaded(slot, total, now),
                Err(e) => self.report(&e),
            }
        }
    }

    fn report(&mut self, error: &XdpError) {
        match error {
            XdpError::Full(_) if self.reported_full => {}
            XdpError::Full(_) => {
                self.reported_full = true;
                tracing::warn!(%error, "further streams stay in userspace (raise xdp-max-flows)");
            }
            _ => tracing::warn!(%error, "XDP fast path: stream stays in userspace"),
        }
    }
}
