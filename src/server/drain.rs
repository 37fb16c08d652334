//! Graceful shutdown of open connections: when the server stops, each one
//! is told to finish the exchange it is in and close (hyper's
//! `graceful_shutdown`), and the accept loop waits for them.
//!
//! Why not hyper-util's `GracefulShutdown`: its watcher polls a `watch`
//! channel's `changed()` future (a mutex, and tokio's cooperative budget)
//! every time hyper's connection is polled, which is about 200 instructions
//! per request of a keep-alive connection. Here a connection reads one flag
//! and keeps its waker in an [`AtomicWaker`]; the lock is taken once per
//! connection, when it starts, and once when the server stops.
//!
//! The contract: a connection watched before or after [`Drain::start`]
//! is told exactly once, on its next poll after the start (the start wakes
//! every connection watched so far, so an idle keep-alive connection does
//! not wait for its client to speak).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use hyper_util::server::graceful::GracefulConnection;

use crate::mock::lock;

/// The server's side: watches connections and tells them to finish.
/// Clones share one signal.
#[derive(Clone, Default)]
pub(super) struct Drain {
    signal: Arc<Signal>,
}

#[derive(Default)]
struct Signal {
    draining: AtomicBool,
    /// The wakers of the connections watched so far; a dead entry is a
    /// connection that has ended, swept out when the list would grow.
    listeners: Mutex<Vec<Weak<AtomicWaker>>>,
}

impl Drain {
    /// `connection`, told to finish once the drain starts.
    pub(super) fn watch<C: GracefulConnection>(&self, connection: C) -> Draining<C> {
        let waker = Arc::new(AtomicWaker::new());
        {
            let mut listeners = lock(&self.signal.listeners);
            // Bounded by twice the connections open at once.
            if listeners.len() == listeners.capacity() {
                listeners.retain(|listener| listener.strong_count() > 0);
            }
            listeners.push(Arc::downgrade(&waker));
        }
        Draining {
            connection,
            signal: Arc::clone(&self.signal),
            waker,
            told: false,
        }
    }

    /// Tells every connection, watched so far or later, to finish.
    pub(super) fn start(&self) {
        self.signal.draining.store(true, Ordering::Release);
        let listeners = std::mem::take(&mut *lock(&self.signal.listeners));
        for listener in listeners.iter().filter_map(Weak::upgrade) {
            listener.wake();
        }
    }
}

pin_project_lite::pin_project! {
    /// A connection that finishes its exchange and closes once its
    /// [`Drain`] starts.
    pub(super) struct Draining<C> {
        #[pin]
        connection: C,
        signal: Arc<Signal>,
        waker: Arc<AtomicWaker>,
        told: bool,
    }
}

impl<C: GracefulConnection> Future for Draining<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<C::Output> {
        let mut this = self.project();
        if !*this.told {
            // Registered before the flag is read: a start in between still
            // wakes this task.
            this.waker.register(cx.waker());
            if this.signal.draining.load(Ordering::Acquire) {
                *this.told = true;
                this.connection.as_mut().graceful_shutdown();
            }
        }
        this.connection.poll(cx)
    }
}
