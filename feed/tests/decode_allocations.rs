//! Decoding allocates nothing in steady state: after warm-up, a stream of bookTicker, depth
//! and trade frames goes through the decoder with the decoding thread's allocation count
//! unchanged (counted per thread, so the test harness's own threads cannot disturb it).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use tickwire_feed::binance::{BinanceDecoder, SymbolSpec};
use tickwire_feed::InstrumentId;

struct Counting;

thread_local! {
    // Const-initialised: reading or bumping it never allocates.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's layout contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: `ptr` came from `System.alloc` with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_decoding_does_not_allocate() {
    let mut decoder = BinanceDecoder::new(vec![SymbolSpec {
        symbol: "BTCUSDT".into(),
        instrument: InstrumentId(0),
        price_decimals: 2,
        qty_decimals: 8,
    }]);
    let frames: Vec<Vec<u8>> = vec![
        br#"{"stream":"btcusdt@bookTicker","data":{"u":400900217,"s":"BTCUSDT","b":"25035.19","B":"31.21000000","a":"25036.52","A":"40.66000000"}}"#.to_vec(),
        br#"{"stream":"btcusdt@depth@100ms","data":{"e":"depthUpdate","E":1672515782136,"s":"BTCUSDT","U":157,"u":160,"b":[["25035.19","10"],["25035.18","0"],["25035.17","1.5"]],"a":[["25036.52","100"],["25036.53","0.001"]]}}"#.to_vec(),
        br#"{"stream":"btcusdt@trade","data":{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":12345,"p":"25036.52","q":"0.01","T":1672515782136,"m":true,"M":true}}"#.to_vec(),
    ];
    let mut work = vec![0u8; 1024];
    let mut run = |n: usize| {
        for i in 0..n {
            let frame = &frames[i % frames.len()];
            work.clear();
            work.extend_from_slice(frame);
            decoder.decode(&mut work, 0).expect("valid frame");
        }
    };
    run(300);
    let before = allocations();
    run(30_000);
    let after = allocations();
    assert_eq!(
        after - before,
        0,
        "allocations while decoding 30,000 frames"
    );
}
