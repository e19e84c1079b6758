//! Cross-thread ring hop: a ping thread sends a sequence number, a pong thread echoes it back;
//! the round trip over two queues divided by two is one hop. Both threads spin, so run this on
//! an otherwise idle machine with two cores free.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn rtrb_hop(iters: u64) -> Duration {
    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<u64>::new(1024);
    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<u64>::new(1024);
    let barrier = Arc::new(Barrier::new(2));
    let b = Arc::clone(&barrier);
    let echo = std::thread::spawn(move || {
        b.wait();
        for _ in 0..iters {
            let v = loop {
                if let Ok(v) = ping_rx.pop() {
                    break v;
                }
                std::hint::spin_loop();
            };
            while pong_tx.push(v).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    barrier.wait();
    let start = Instant::now();
    for i in 0..iters {
        while ping_tx.push(i).is_err() {
            std::hint::spin_loop();
        }
        loop {
            if let Ok(v) = pong_rx.pop() {
                black_box(v);
                break;
            }
            std::hint::spin_loop();
        }
    }
    let elapsed = start.elapsed();
    echo.join().expect("echo thread");
    elapsed / 2
}

fn crossbeam_hop(iters: u64) -> Duration {
    let ping = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(1024));
    let pong = Arc::new(crossbeam_queue::ArrayQueue::<u64>::new(1024));
    let barrier = Arc::new(Barrier::new(2));
    let (p, q, b) = (Arc::clone(&ping), Arc::clone(&pong), Arc::clone(&barrier));
    let echo = std::thread::spawn(move || {
        b.wait();
        for _ in 0..iters {
            let v = loop {
                if let Some(v) = p.pop() {
                    break v;
                }
                std::hint::spin_loop();
            };
            while q.push(v).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    barrier.wait();
    let start = Instant::now();
    for i in 0..iters {
        while ping.push(i).is_err() {
            std::hint::spin_loop();
        }
        loop {
            if let Some(v) = pong.pop() {
                black_box(v);
                break;
            }
            std::hint::spin_loop();
        }
    }
    let elapsed = start.elapsed();
    echo.join().expect("echo thread");
    elapsed / 2
}

fn std_mpsc_hop(iters: u64) -> Duration {
    let (ping_tx, ping_rx) = std::sync::mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = std::sync::mpsc::channel::<u64>();
    let barrier = Arc::new(Barrier::new(2));
    let b = Arc::clone(&barrier);
    let echo = std::thread::spawn(move || {
        b.wait();
        for _ in 0..iters {
            let Ok(v) = ping_rx.recv() else { return };
            if pong_tx.send(v).is_err() {
                return;
            }
        }
    });
    barrier.wait();
    let start = Instant::now();
    for i in 0..iters {
        ping_tx.send(i).expect("send");
        black_box(pong_rx.recv().expect("recv"));
    }
    let elapsed = start.elapsed();
    echo.join().expect("echo thread");
    elapsed / 2
}

fn ring_hop(c: &mut Criterion) {
    let mut g = c.benchmark_group("ring_hop");
    g.bench_function("rtrb_spsc", |b| b.iter_custom(rtrb_hop));
    g.bench_function("crossbeam_array_queue", |b| b.iter_custom(crossbeam_hop));
    g.bench_function("std_mpsc_blocking", |b| b.iter_custom(std_mpsc_hop));
    g.finish();
}

criterion_group!(benches, ring_hop);
criterion_main!(benches);
