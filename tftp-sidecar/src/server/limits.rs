//! Admission: the global session cap, the per-client-address cap and the table of live
//! sessions (which also demultiplexes single-port traffic).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::events::RejectReason;

struct Entry {
    id: u64,
    name: String,
    inbox: Option<mpsc::Sender<Bytes>>,
}

#[derive(Default)]
struct Table {
    /// Usually one entry per address; more when a client reuses its port for a new request
    /// while the previous transfer is still winding down (ephemeral and range modes only).
    sessions: HashMap<SocketAddr, Vec<Entry>>,
    per_ip: HashMap<IpAddr, u32>,
    total: usize,
}

pub struct Admission {
    max_sessions: usize,
    per_client_max: u32,
    next_id: AtomicU64,
    table: Mutex<Table>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// The same request from the same address is already running: a retransmission.
    Duplicate,
    Rejected(RejectReason),
}

impl Admission {
    pub fn new(max_sessions: usize, per_client_max: u32) -> Arc<Self> {
        Arc::new(Admission {
            max_sessions: max_sessions.max(1),
            per_client_max: per_client_max.max(1),
            next_id: AtomicU64::new(1),
            table: Mutex::new(Table::default()),
        })
    }

    pub fn active(&self) -> usize {
        self.table.lock().unwrap().total
    }

    /// Reserve a slot for `client` reading `name`; the slot is freed when the permit drops.
    /// `inbox` (single-port mode) is where the listener forwards the client's packets; such
    /// a session must be the only one for its address, so any live one makes this a
    /// duplicate. Otherwise only a live session for the same name does.
    pub fn try_admit(
        self: &Arc<Self>,
        client: SocketAddr,
        name: &str,
        inbox: Option<mpsc::Sender<Bytes>>,
    ) -> Result<Permit, Admit> {
        let mut t = self.table.lock().unwrap();
        if let Some(live) = t.sessions.get(&client) {
            if inbox.is_some() || live.iter().any(|e| e.name == name || e.inbox.is_some()) {
                return Err(Admit::Duplicate);
            }
        }
        if t.total >= self.max_sessions {
            return Err(Admit::Rejected(RejectReason::Busy));
        }
        let n = t.per_ip.entry(client.ip()).or_insert(0);
        if *n >= self.per_client_max {
            return Err(Admit::Rejected(RejectReason::PerClientBusy));
        }
        *n += 1;
        t.total += 1;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        t.sessions.entry(client).or_default().push(Entry {
            id,
            name: name.to_string(),
            inbox,
        });
        Ok(Permit {
            admission: self.clone(),
            client,
            id,
        })
    }

    /// The inbox of a live single-port session.
    pub fn inbox(&self, client: &SocketAddr) -> Option<mpsc::Sender<Bytes>> {
        let t = self.table.lock().unwrap();
        t.sessions.get(client)?.iter().find_map(|e| e.inbox.clone())
    }
}

/// A reserved session slot.
pub struct Permit {
    admission: Arc<Admission>,
    client: SocketAddr,
    id: u64,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut t = self.admission.table.lock().unwrap();
        if let Some(live) = t.sessions.get_mut(&self.client) {
            live.retain(|e| e.id != self.id);
            if live.is_empty() {
                t.sessions.remove(&self.client);
            }
        }
        t.total -= 1;
        if let Some(n) = t.per_ip.get_mut(&self.client.ip()) {
            *n -= 1;
            if *n == 0 {
                t.per_ip.remove(&self.client.ip());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_frees() {
        let a = Admission::new(2, 1);
        let c1: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let c2: SocketAddr = "127.0.0.1:1001".parse().unwrap();
        let c3: SocketAddr = "127.0.0.2:1000".parse().unwrap();
        let c4: SocketAddr = "127.0.0.3:1000".parse().unwrap();
        let p1 = a.try_admit(c1, "f", None).unwrap();
        assert_eq!(a.try_admit(c1, "f", None).err(), Some(Admit::Duplicate));
        assert_eq!(
            a.try_admit(c2, "f", None).err(),
            Some(Admit::Rejected(RejectReason::PerClientBusy))
        );
        let _p3 = a.try_admit(c3, "f", None).unwrap();
        assert_eq!(
            a.try_admit(c4, "f", None).err(),
            Some(Admit::Rejected(RejectReason::Busy))
        );
        drop(p1);
        assert!(a.try_admit(c2, "f", None).is_ok());
        assert_eq!(a.active(), 1);
    }

    #[test]
    fn reused_port_with_a_new_request_is_admitted() {
        let a = Admission::new(10, 10);
        let c: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let p1 = a.try_admit(c, "a.cnf", None).unwrap();
        let p2 = a.try_admit(c, "b.cnf", None).unwrap();
        assert_eq!(a.active(), 2);
        drop(p1);
        assert_eq!(a.try_admit(c, "b.cnf", None).err(), Some(Admit::Duplicate));
        drop(p2);
        assert_eq!(a.active(), 0);
        // Single-port sessions are one per address.
        let (tx, _rx) = mpsc::channel(1);
        let _p = a.try_admit(c, "a", Some(tx.clone())).unwrap();
        assert!(a.inbox(&c).is_some());
        assert_eq!(a.try_admit(c, "b", Some(tx)).err(), Some(Admit::Duplicate));
    }
}
