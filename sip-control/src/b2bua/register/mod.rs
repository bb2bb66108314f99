//! Outbound registration of the trunks that have a `[trunk.register]`
//! block: one task per trunk, restarted when a reload changes its block,
//! stopped (with an un-REGISTER) when the block goes away or on shutdown.
//!
//! - [`policy`]: sans-IO: what a result means, when the next REGISTER is due.
//! - `trunk`: one trunk's REGISTER, refresh, retry and un-REGISTER.

pub mod policy;
mod trunk;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Runtime, Shared};
use crate::config::Registration;

/// How often the configuration is checked for changed registrations.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// A running per-trunk task.
struct Task {
    config: Registration,
    cancel: CancellationToken,
    join: JoinHandle<()>,
}

/// Keeps every configured trunk registered until `cancel`; then waits for
/// the un-REGISTERs (each bounded by 2 s) before returning.
pub async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    let mut tasks: HashMap<String, Task> = HashMap::new();
    // Tasks of removed trunks still un-REGISTERing.
    let mut retiring: Vec<JoinHandle<()>> = Vec::new();
    let mut applied: Option<Arc<Runtime>> = None;
    loop {
        let runtime = shared.runtime();
        if !applied.as_ref().is_some_and(|a| Arc::ptr_eq(a, &runtime)) {
            reconcile(&shared, &runtime, &cancel, &mut tasks, &mut retiring);
            applied = Some(runtime);
        }
        tokio::select! {
            () = cancel.cancelled() => break,
            () = tokio::time::sleep(RELOAD_CHECK) => {}
        }
    }
    // Every task's token is a child of `cancel`: all are stopping.
    for join in tasks.into_values().map(|t| t.join).chain(retiring) {
        let _ = join.await;
    }
}

/// Stops the tasks whose block changed or went away and starts the missing
/// ones; a changed trunk's new task waits for its old one.
fn reconcile(
    shared: &Arc<Shared>,
    runtime: &Runtime,
    cancel: &CancellationToken,
    tasks: &mut HashMap<String, Task>,
    retiring: &mut Vec<JoinHandle<()>>,
) {
    let wanted: HashMap<&str, &Registration> = runtime
        .config
        .trunks
        .iter()
        .filter_map(|t| Some((t.name.as_str(), t.register.as_ref()?)))
        .collect();
    let stale: Vec<String> = tasks
        .iter()
        .filter(|(name, task)| {
            !wanted
                .get(name.as_str())
                .is_some_and(|w| same(w, &task.config))
        })
        .map(|(name, _)| name.clone())
        .collect();
    let mut previous = HashMap::new();
    for name in stale {
        if let Some(task) = tasks.remove(&name) {
            task.cancel.cancel();
            previous.insert(name, task.join);
        }
    }
    for (name, config) in wanted {
        if tasks.contains_key(name) {
            continue;
        }
        let token = cancel.child_token();
        let join = tokio::spawn(trunk::run(
            shared.clone(),
            name.to_owned(),
            config.clone(),
            token.clone(),
            previous.remove(name),
        ));
        tasks.insert(
            name.to_owned(),
            Task {
                config: config.clone(),
                cancel: token,
                join,
            },
        );
    }
    retiring.retain(|join| !join.is_finished());
    retiring.extend(previous.into_values());
}

/// Whether two blocks register the same way.
fn same(a: &Registration, b: &Registration) -> bool {
    a.registrar == b.registrar
        && a.aor == b.aor
        && a.username == b.username
        && a.password == b.password
        && a.expires == b.expires
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_changed_field_is_a_different_registration() {
        let a = Registration {
            registrar: "sip:192.0.2.1".into(),
            aor: "sip:t@carrier.example".into(),
            username: "t".into(),
            password: "p".into(),
            expires: 600,
        };
        assert!(same(&a, &a.clone()));
        let changes: [fn(&mut Registration); 5] = [
            |r| r.registrar.push('0'),
            |r| r.aor.push('x'),
            |r| r.username.push('x'),
            |r| r.password.push('x'),
            |r| r.expires += 1,
        ];
        for change in changes {
            let mut b = a.clone();
            change(&mut b);
            assert!(!same(&a, &b));
        }
    }
}
