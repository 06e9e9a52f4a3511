//! virtio-rng (virtio 1.2, 5.4): one queue of guest buffers, filled from a
//! host entropy source (`<backend model='random'>`, /dev/urandom by
//! default) on the device's worker thread.

use super::worker::Worker;
use super::{
    device_type, features, Activation, ActiveQueue, InterruptCause, VirtioDevice, VirtioError,
    VirtioInterrupt,
};
use crate::vmm::config::RngConfig;
use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use virtio_queue::QueueT;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Size of the one queue.
const QUEUE_SIZE: u16 = 256;
/// Most bytes given for one request: the guest asks for little at a time
/// (the kernel's hwrng reads 64 bytes); a huge buffer only costs it time.
const MAX_PER_REQUEST: usize = 64 * 1024;

/// Errors creating the device.
#[derive(Debug, thiserror::Error)]
pub enum RngError {
    /// The entropy source cannot be opened.
    #[error("virtio-rng: cannot open the entropy source {path}: {source}")]
    Source {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// What the worker owns while the device runs.
struct Running {
    queue: ActiveQueue,
    memory: GuestMemoryMmap,
    interrupt: Arc<dyn VirtioInterrupt>,
    source: File,
}

impl Running {
    /// Fills every buffer the guest has made available.
    fn serve(&mut self) {
        let mut used = false;
        while let Some(chain) = self.queue.queue.pop_descriptor_chain(&self.memory) {
            let head = chain.head_index();
            let mut written = 0usize;
            let mut chunk = [0u8; 4096];
            'descs: for desc in chain.writable() {
                let mut at = 0usize;
                let len = desc.len() as usize;
                while at < len && written < MAX_PER_REQUEST {
                    let want = (len - at).min(chunk.len()).min(MAX_PER_REQUEST - written);
                    let n = match self.source.read(&mut chunk[..want]) {
                        Ok(n) if n > 0 => n,
                        _ => break 'descs,
                    };
                    let addr = GuestAddress(desc.addr().0.wrapping_add(at as u64));
                    if self.memory.write_slice(&chunk[..n], addr).is_err() {
                        break 'descs;
                    }
                    at += n;
                    written += n;
                }
            }
            if self
                .queue
                .queue
                .add_used(&self.memory, head, written as u32)
                .is_err()
            {
                break;
            }
            used = true;
        }
        if used
            && self
                .queue
                .queue
                .needs_notification(&self.memory)
                .unwrap_or(true)
        {
            if let Err(e) = self
                .interrupt
                .trigger(InterruptCause::Queue(self.queue.index))
            {
                eprintln!("hangar-vmm: virtio-rng: interrupt: {e}");
            }
        }
    }
}

/// The entropy device.
pub struct Rng {
    path: PathBuf,
    source: File,
    worker: Option<Worker<Running>>,
}

impl Rng {
    /// A device reading from `config.source`.
    pub fn new(config: &RngConfig) -> Result<Rng, RngError> {
        let source = File::open(&config.source).map_err(|source| RngError::Source {
            path: config.source.clone(),
            source,
        })?;
        Ok(Rng {
            path: config.source.clone(),
            source,
            worker: None,
        })
    }
}

impl VirtioDevice for Rng {
    fn device_type(&self) -> u32 {
        device_type::RNG
    }

    fn name(&self) -> String {
        format!("virtio-rng {}", self.path.display())
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        features::VERSION_1 | features::RING_INDIRECT_DESC
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        // virtio-rng has no configuration space.
        data.fill(0);
    }

    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError> {
        let name = self.name();
        let mut queues = activation.queues.into_iter();
        let (Some(queue), None) = (queues.next(), queues.next()) else {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "the driver must enable exactly its one queue".into(),
            });
        };
        let worker_err = |source| VirtioError::Worker {
            device: self.name(),
            source,
        };
        let source = self.source.try_clone().map_err(worker_err)?;
        let running = Running {
            queue,
            memory: activation.memory,
            interrupt: activation.interrupt,
            source,
        };
        let worker = Worker::spawn(
            "virtio-rng".into(),
            running,
            |r| vec![&r.queue.notify],
            |r, _| r.serve(),
        )
        .map_err(worker_err)?;
        self.worker = Some(worker);
        Ok(())
    }

    fn deactivate(&mut self) -> Vec<ActiveQueue> {
        self.worker
            .take()
            .and_then(Worker::stop)
            .map(|r| vec![r.queue])
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
    use virtio_queue::mock::MockSplitQueue;
    use virtio_queue::Queue;
    use vm_memory::GuestAddress;
    use vmm_sys_util::eventfd::EventFd;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<InterruptCause>>);
    impl VirtioInterrupt for Recorder {
        fn trigger(&self, cause: InterruptCause) -> std::io::Result<()> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).push(cause);
            Ok(())
        }
    }

    #[test]
    fn fills_guest_buffers_and_interrupts() {
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).expect("memory");
        let mock = MockSplitQueue::new(&mem, 16);
        let descs = [
            RawDescriptor::from(SplitDescriptor::new(0x8000, 100, 2 /* WRITE */, 0)),
            RawDescriptor::from(SplitDescriptor::new(0x9000, 5000, 2, 0)),
        ];
        mock.build_multiple_desc_chains(&descs).expect("chains");
        let queue: Queue = mock.create_queue().expect("queue");
        let notify = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
        let recorder = Arc::new(Recorder::default());
        let mut rng = Rng::new(&RngConfig {
            source: "/dev/urandom".into(),
        })
        .expect("rng");
        rng.activate(Activation {
            memory: mem.clone(),
            acked_features: features::VERSION_1,
            queues: vec![ActiveQueue {
                index: 0,
                queue,
                notify: notify.try_clone().expect("clone"),
            }],
            interrupt: recorder.clone(),
        })
        .expect("activate");
        notify.write(1).expect("kick");
        let mut tries = 0;
        while recorder.0.lock().expect("lock").is_empty() && tries < 500 {
            std::thread::sleep(std::time::Duration::from_millis(2));
            tries += 1;
        }
        let queues = rng.deactivate();
        assert_eq!(queues.len(), 1);
        assert_eq!(queues[0].queue.next_used(), 2, "both requests answered");
        assert_eq!(
            recorder.0.lock().expect("lock")[0],
            InterruptCause::Queue(0)
        );
        let mut second = vec![0u8; 5000];
        mem.read_slice(&mut second, GuestAddress(0x9000))
            .expect("read");
        assert!(
            second.iter().any(|b| *b != second[0]),
            "random bytes written"
        );
        assert!(rng.deactivate().is_empty(), "not running any more");
    }
}
