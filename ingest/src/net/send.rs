//! [`WireSender`]: ticks → binary wire frames → a socket (`tickctl send/replay`,
//! load generators).
//!
//! UDP frames are sent in batches with `sendmmsg`; TCP frames are written back
//! to back with their length prefix. Sockets are blocking: a full send buffer
//! slows the sender down instead of losing frames on this side.
//!
//! ```no_run
//! use ingest::net::send::WireSender;
//! use mtf::{Side, Tick};
//! let mut s = WireSender::udp("127.0.0.1:7001".parse().unwrap(), 1, 1, 1472, 64).unwrap();
//! s.set_replay(true);
//! let t = Tick::trade(0, 1_700_000_000_000_000_000, 101.5, 2.0, Side::Buy, 9);
//! s.send(&t, "SPY".parse().unwrap()).unwrap();
//! s.flush().unwrap();
//! ```

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};

use mtf::Tick;

use super::now_ns;
use super::sys::SendBatch;
use crate::symbols::SymbolName;
use crate::wire::{FRAME_REPLAY, FRAME_SEQ_RESET, FrameEncoder, WireError, WireMsg};

enum Transport {
    Udp {
        sock: UdpSocket,
        batch: SendBatch,
        /// Finished frames waiting for the next `sendmmsg`, and how many slots are used.
        slots: Vec<Vec<u8>>,
        used: usize,
    },
    Tcp(TcpStream),
}

/// Counters of a [`WireSender`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SendCounts {
    /// Ticks handed to the socket.
    pub ticks: u64,
    /// Frames handed to the socket (heartbeats included).
    pub frames: u64,
    /// Bytes handed to the socket.
    pub bytes: u64,
}

/// Encodes ticks into frames and sends them (see the module docs).
pub struct WireSender {
    enc: FrameEncoder,
    transport: Transport,
    flags: u8,
    /// Counters.
    pub counts: SendCounts,
    pending_ticks: u64,
}

fn invalid(e: WireError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e.to_string())
}

impl WireSender {
    /// Sends to `dest` over UDP, frames of at most `max_datagram` bytes,
    /// `batch` datagrams per `sendmmsg`.
    pub fn udp(
        dest: SocketAddr,
        stream_id: u32,
        first_seq: u64,
        max_datagram: usize,
        batch: usize,
    ) -> io::Result<WireSender> {
        let bind: SocketAddr = if dest.is_ipv4() {
            "0.0.0.0:0"
                .parse()
                .map_err(|_| io::ErrorKind::InvalidInput)?
        } else {
            "[::]:0".parse().map_err(|_| io::ErrorKind::InvalidInput)?
        };
        let sock = UdpSocket::bind(bind)?;
        sock.connect(dest)?;
        let enc = FrameEncoder::new(stream_id, first_seq, max_datagram).map_err(invalid)?;
        let batch = batch.clamp(1, 1024);
        Ok(WireSender {
            enc,
            transport: Transport::Udp {
                sock,
                batch: SendBatch::new(batch),
                slots: (0..batch)
                    .map(|_| Vec::with_capacity(max_datagram))
                    .collect(),
                used: 0,
            },
            flags: 0,
            counts: SendCounts::default(),
            pending_ticks: 0,
        })
    }

    /// Sends to `dest` over TCP, frames of at most `max_frame` bytes.
    pub fn tcp(
        dest: SocketAddr,
        stream_id: u32,
        first_seq: u64,
        max_frame: usize,
    ) -> io::Result<WireSender> {
        let s = TcpStream::connect(dest)?;
        s.set_nodelay(true)?;
        let enc = FrameEncoder::new_tcp(stream_id, first_seq, max_frame).map_err(invalid)?;
        Ok(WireSender {
            enc,
            transport: Transport::Tcp(s),
            flags: 0,
            counts: SendCounts::default(),
            pending_ticks: 0,
        })
    }

    /// Marks the frames from now on as a replay (ticks get `Tick::FLAG_REPLAY`).
    pub fn set_replay(&mut self, replay: bool) {
        self.flags = if replay { FRAME_REPLAY } else { 0 };
        self.enc.set_flags(self.flags);
    }

    /// Marks the next frame as a sequence reset (a restarted publisher).
    pub fn reset_sequence(&mut self) {
        self.enc.set_flags(self.flags | FRAME_SEQ_RESET);
    }

    /// The sequence number the next tick gets.
    pub fn next_seq(&self) -> u64 {
        self.enc.next_seq() + self.enc.pending() as u64
    }

    /// Queues one tick under the name `symbol` (`t.symbol` is ignored); frames
    /// go out as they fill.
    pub fn send(&mut self, t: &Tick, symbol: SymbolName) -> io::Result<()> {
        let m = WireMsg::from_tick(t, symbol);
        if self.enc.push(&m).is_err() {
            self.finish_frame()?;
            self.enc.push(&m).map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidInput, "message larger than a frame")
            })?;
        }
        self.pending_ticks += 1;
        Ok(())
    }

    /// Sends a heartbeat frame (after what is queued), carrying the next number.
    pub fn heartbeat(&mut self) -> io::Result<()> {
        if self.enc.pending() > 0 {
            self.finish_frame()?;
        }
        self.finish_frame()?;
        self.flush_sends()
    }

    /// Sends everything queued, including a partly filled frame.
    pub fn flush(&mut self) -> io::Result<()> {
        if self.enc.pending() > 0 {
            self.finish_frame()?;
        }
        self.flush_sends()
    }

    fn finish_frame(&mut self) -> io::Result<()> {
        let ticks = self.enc.pending() as u64;
        let frame = self.enc.finish(now_ns());
        self.counts.frames += 1;
        self.counts.bytes += frame.len() as u64;
        self.counts.ticks += ticks;
        self.pending_ticks -= ticks.min(self.pending_ticks);
        match &mut self.transport {
            Transport::Tcp(s) => s.write_all(frame),
            Transport::Udp { slots, used, .. } => {
                let slot = &mut slots[*used];
                slot.clear();
                slot.extend_from_slice(frame);
                *used += 1;
                if *used == slots.len() {
                    self.flush_sends()?;
                }
                Ok(())
            }
        }
    }

    fn flush_sends(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Tcp(s) => s.flush(),
            Transport::Udp {
                sock,
                batch,
                slots,
                used,
            } => {
                let refs: Vec<&[u8]> = slots[..*used].iter().map(|s| s.as_slice()).collect();
                let mut k = 0;
                while k < refs.len() {
                    k += batch.send(sock, &refs[k..])?;
                }
                *used = 0;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::{Listener, Receiver, ReceiverConfig};
    use crate::sink::VecSink;
    use crate::{SymbolTable, Validator};
    use mtf::Side;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    fn run(tcp: bool) {
        let any = Some("127.0.0.1:0".parse().unwrap());
        let cfg = ReceiverConfig {
            udp_binary: if tcp { None } else { any },
            tcp_binary: if tcp { any } else { None },
            udp_recv_buffer: 4 << 20,
            validator: Validator::history(),
            ..ReceiverConfig::default()
        };
        let table = Arc::new(SymbolTable::new(10));
        let mut rx = Receiver::bind(&cfg, table.clone(), VecSink::with_capacity(10_000)).unwrap();
        let dest = rx
            .local_addr(if tcp {
                Listener::TcpBinary
            } else {
                Listener::UdpBinary
            })
            .unwrap();
        let mut s = if tcp {
            WireSender::tcp(dest, 5, 1, 4096).unwrap()
        } else {
            WireSender::udp(dest, 5, 1, 1472, 8).unwrap()
        };
        s.set_replay(true);
        let t0 = 1_763_700_000_000_000_000;
        for i in 0..3000u64 {
            let t = Tick::trade(0, t0 + i as i64, 10.0, 1.0, Side::Sell, i);
            s.send(&t, if i % 2 == 0 { "A" } else { "B" }.parse().unwrap())
                .unwrap();
        }
        s.heartbeat().unwrap();
        assert_eq!(s.counts.ticks, 3000);
        assert_eq!(s.next_seq(), 3001);
        let start = Instant::now();
        while rx.sink().ticks.len() < 3000 || rx.stats().wire.heartbeats == 0 {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "{:?}",
                rx.stats()
            );
            rx.poll_once(Some(Duration::from_millis(5))).unwrap();
        }
        let got = &rx.sink().ticks;
        assert!(got.iter().enumerate().all(|(i, t)| t.id == i as u64));
        assert!(got.iter().all(|t| t.flags & Tick::FLAG_REPLAY != 0));
        assert_eq!(table.name(got[1].symbol).unwrap().as_str(), "B");
        assert_eq!(rx.stats().seq.gaps, 0);
    }

    #[test]
    fn udp_sender_to_receiver() {
        run(false);
    }

    #[test]
    fn tcp_sender_to_receiver() {
        run(true);
    }
}
