//! Admission: the global session cap, the per-client-address cap and the table of live
//! sessions (which also demultiplexes single-port traffic).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::events::RejectReason;

#[derive(Default)]
struct Table {
    sessions: HashMap<SocketAddr, Option<mpsc::Sender<Bytes>>>,
    per_ip: HashMap<IpAddr, u32>,
}

pub struct Admission {
    max_sessions: usize,
    per_client_max: u32,
    table: Mutex<Table>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// A session for this client address exists: a retransmitted request.
    Duplicate,
    Rejected(RejectReason),
}

impl Admission {
    pub fn new(max_sessions: usize, per_client_max: u32) -> Arc<Self> {
        Arc::new(Admission {
            max_sessions: max_sessions.max(1),
            per_client_max: per_client_max.max(1),
            table: Mutex::new(Table::default()),
        })
    }

    pub fn active(&self) -> usize {
        self.table.lock().unwrap().sessions.len()
    }

    /// Reserve a slot for `client`; the slot is freed when the permit drops.
    /// `inbox` is where single-port mode forwards the client's later packets.
    pub fn try_admit(
        self: &Arc<Self>,
        client: SocketAddr,
        inbox: Option<mpsc::Sender<Bytes>>,
    ) -> Result<Permit, Admit> {
        let mut t = self.table.lock().unwrap();
        if t.sessions.contains_key(&client) {
            return Err(Admit::Duplicate);
        }
        if t.sessions.len() >= self.max_sessions {
            return Err(Admit::Rejected(RejectReason::Busy));
        }
        let n = t.per_ip.entry(client.ip()).or_insert(0);
        if *n >= self.per_client_max {
            return Err(Admit::Rejected(RejectReason::PerClientBusy));
        }
        *n += 1;
        t.sessions.insert(client, inbox);
        Ok(Permit {
            admission: self.clone(),
            client,
        })
    }

    /// The inbox of a live single-port session.
    pub fn inbox(&self, client: &SocketAddr) -> Option<mpsc::Sender<Bytes>> {
        self.table
            .lock()
            .unwrap()
            .sessions
            .get(client)
            .and_then(|s| s.clone())
    }

    pub fn is_live(&self, client: &SocketAddr) -> bool {
        self.table.lock().unwrap().sessions.contains_key(client)
    }
}

/// A reserved session slot.
pub struct Permit {
    admission: Arc<Admission>,
    client: SocketAddr,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut t = self.admission.table.lock().unwrap();
        t.sessions.remove(&self.client);
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
        let p1 = a.try_admit(c1, None).unwrap();
        assert_eq!(a.try_admit(c1, None).err(), Some(Admit::Duplicate));
        assert_eq!(
            a.try_admit(c2, None).err(),
            Some(Admit::Rejected(RejectReason::PerClientBusy))
        );
        let _p3 = a.try_admit(c3, None).unwrap();
        assert_eq!(
            a.try_admit(c4, None).err(),
            Some(Admit::Rejected(RejectReason::Busy))
        );
        drop(p1);
        assert!(a.try_admit(c2, None).is_ok());
        assert_eq!(a.active(), 1);
    }
}
