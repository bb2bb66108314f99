//! Requests waiting for their reply, by cookie.
//!
//! A request registers before its first send and gets a [`Waiter`]; the
//! receiver task hands a reply to the waiter whose cookie it carries. The
//! waiter removes its entry when dropped, so a request that times out (or
//! whose future is dropped) leaves nothing behind.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sluice_ng::frame::FrameError;
use sluice_ng::Dict;
use tokio::sync::oneshot;

/// What the receiver hands a waiter: the decoded dictionary, or why the
/// body under its cookie did not decode.
pub type Reply = Result<Dict, FrameError>;

type Map = HashMap<Box<[u8]>, oneshot::Sender<Reply>>;

/// The waiting requests of one client.
#[derive(Debug, Default)]
pub struct Pending {
    map: Mutex<Map>,
}

impl Pending {
    /// Registers `cookie`; the reply arrives through the returned waiter.
    pub fn register(self: &Arc<Self>, cookie: &[u8]) -> Waiter {
        let (tx, rx) = oneshot::channel();
        self.lock().insert(cookie.into(), tx);
        Waiter {
            pending: Arc::clone(self),
            cookie: cookie.into(),
            rx,
        }
    }

    /// Hands `reply` to the request waiting on `cookie`; false if none is
    /// (a late reply, or a reply to a retransmission already answered).
    pub fn deliver(&self, cookie: &[u8], reply: Reply) -> bool {
        match self.lock().remove(cookie) {
            // The waiter may have given up between the lookup and now.
            Some(tx) => tx.send(reply).is_ok(),
            None => false,
        }
    }

    /// Number of waiting requests.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, Map> {
        // Nothing panics while holding the lock; if something ever did,
        // the map is still consistent.
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One waiting request; unregisters on drop.
#[derive(Debug)]
pub struct Waiter {
    pending: Arc<Pending>,
    cookie: Box<[u8]>,
    rx: oneshot::Receiver<Reply>,
}

impl Waiter {
    /// The receiving end, to await in a `select!`.
    pub fn reply(&mut self) -> &mut oneshot::Receiver<Reply> {
        &mut self.rx
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.pending.lock().remove(&self.cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn delivers_once_and_unregisters_on_drop() {
        let p = Arc::new(Pending::default());
        let mut w = p.register(b"c1");
        let _other = p.register(b"c2");
        assert_eq!(p.len(), 2);
        assert!(p.deliver(b"c1", Ok(Dict::new().with("result", "ok"))));
        assert!(!p.deliver(b"c1", Ok(Dict::new())), "second reply unmatched");
        assert!(w.reply().await.unwrap().is_ok());
        drop(w);
        assert_eq!(p.len(), 1);
        drop(_other);
        assert_eq!(p.len(), 0);
        assert!(!p.deliver(b"c2", Ok(Dict::new())));
    }
}
