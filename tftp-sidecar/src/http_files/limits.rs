//! Connection caps of the HTTP listener: at most `max` open connections, at most
//! `per_client` from one IP address (the same shape as TFTP's session caps). A slot is held
//! for the connection's whole life, keep-alive included, and freed when its permit drops.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::server::events::{Events, RejectReason};

#[derive(Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, u32>,
}

pub struct ConnLimits {
    max: usize,
    per_client: u32,
    counts: Mutex<Counts>,
    events: Option<Arc<dyn Events>>,
}

impl ConnLimits {
    pub fn new(max: usize, per_client: u32, events: Option<Arc<dyn Events>>) -> Arc<ConnLimits> {
        Arc::new(ConnLimits {
            max: max.max(1),
            per_client: per_client.max(1),
            counts: Mutex::new(Counts::default()),
            events,
        })
    }

    pub fn open(&self) -> usize {
        self.counts.lock().unwrap().total
    }

    /// A slot for a connection from `ip`, or why not (`Busy`, `PerClientBusy`).
    pub fn try_admit(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, RejectReason> {
        let mut c = self.counts.lock().unwrap();
        if c.total >= self.max {
            return Err(RejectReason::Busy);
        }
        let n = c.per_ip.entry(ip).or_insert(0);
        if *n >= self.per_client {
            return Err(RejectReason::PerClientBusy);
        }
        *n += 1;
        c.total += 1;
        if let Some(e) = &self.events {
            e.http_connection_opened();
        }
        Ok(ConnPermit {
            limits: self.clone(),
            ip,
        })
    }
}

/// One open connection's slot.
pub struct ConnPermit {
    limits: Arc<ConnLimits>,
    ip: IpAddr,
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = self.limits.counts.lock().unwrap();
        c.total -= 1;
        if let Some(n) = c.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
        if let Some(e) = &self.limits.events {
            e.http_connection_closed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_frees() {
        let l = ConnLimits::new(3, 2, None);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let a1 = l.try_admit(a).unwrap();
        let _a2 = l.try_admit(a).unwrap();
        assert_eq!(l.try_admit(a).err(), Some(RejectReason::PerClientBusy));
        let _b1 = l.try_admit(b).unwrap();
        assert_eq!(l.try_admit(c).err(), Some(RejectReason::Busy));
        drop(a1);
        assert_eq!(l.open(), 2);
        assert!(l.try_admit(c).is_ok());
        assert_eq!(l.open(), 2);
    }
}
