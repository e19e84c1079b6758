//! The gateway thread's agent (paper mode): takes order requests from the strategy, executes
//! them against the in-process paper venue, and returns execution reports.
//!
//! Execution reports are never dropped: one that finds the report ring full waits in a
//! pre-allocated backlog (counted as `report_queue_full`) and goes out first on the next turn.

use crate::clock::LatencyClock;
use crate::idle::Agent;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tickwire_feed::Quote;
use tickwire_gateway::paper::PaperExchange;
use tickwire_gateway::{ExecKind, ExecReport, OrderMsg, OrderRequest};
use tickwire_shm::layout::{CounterId, Stage};
use tickwire_shm::region::GatewaySection;

const BACKLOG_CAPACITY: usize = 4096;

/// The gateway thread's agent.
#[derive(Debug)]
pub struct GatewayAgent {
    venue: PaperExchange,
    order_rx: rtrb::Consumer<OrderMsg>,
    quote_rx: rtrb::Consumer<Quote>,
    out: ReportOut,
    clock: LatencyClock,
    stop: Arc<AtomicBool>,
}

#[derive(Debug)]
struct ReportOut {
    ring: rtrb::Producer<ExecReport>,
    backlog: VecDeque<ExecReport>,
    section: GatewaySection,
}

impl ReportOut {
    fn emit(&mut self, report: ExecReport) {
        match report.kind {
            ExecKind::Fill { .. } => self.section.counter(CounterId::Fills).add(1),
            ExecKind::Rejected(_) => self.section.counter(CounterId::VenueRejects).add(1),
            _ => {}
        }
        if !self.backlog.is_empty() || self.ring.push(report).is_err() {
            self.section.counter(CounterId::ReportQueueFull).add(1);
            self.backlog.push_back(report);
        }
    }

    fn flush(&mut self) {
        while let Some(&r) = self.backlog.front() {
            if self.ring.push(r).is_err() {
                return;
            }
            self.backlog.pop_front();
        }
    }
}

impl GatewayAgent {
    /// A paper gateway.
    pub fn paper(
        venue: PaperExchange,
        order_rx: rtrb::Consumer<OrderMsg>,
        quote_rx: rtrb::Consumer<Quote>,
        report_tx: rtrb::Producer<ExecReport>,
        section: GatewaySection,
        clock: LatencyClock,
        stop: Arc<AtomicBool>,
    ) -> Self {
        Self {
            venue,
            order_rx,
            quote_rx,
            out: ReportOut {
                ring: report_tx,
                backlog: VecDeque::with_capacity(BACKLOG_CAPACITY),
                section,
            },
            clock,
            stop,
        }
    }
}

impl Agent for GatewayAgent {
    fn role_name(&self) -> &'static str {
        "gateway"
    }

    fn do_work(&mut self) -> usize {
        let mut work = 0;
        self.out.flush();
        while let Ok(quote) = self.quote_rx.pop() {
            let out = &mut self.out;
            self.venue
                .on_quote(&quote, quote.recv_tsc, &mut |r| out.emit(r));
            work += 1;
        }
        while let Ok(msg) = self.order_rx.pop() {
            let popped = self.clock.ticks();
            let section = &self.out.section;
            section
                .latency(Stage::StrategyToGateway)
                .record(popped.wrapping_sub(msg.pushed_tsc));
            let out = &mut self.out;
            self.venue
                .on_request(&msg.request, popped, &mut |r| out.emit(r));
            let written = self.clock.ticks();
            let section = &self.out.section;
            section
                .latency(Stage::EncodeToWrite)
                .record(written.wrapping_sub(popped));
            if let OrderRequest::New(_) = msg.request {
                section.counter(CounterId::OrdersSent).add(1);
                if msg.cause_recv_tsc != 0 {
                    section
                        .latency(Stage::TickToTrade)
                        .record(written.wrapping_sub(msg.cause_recv_tsc));
                }
            }
            work += 1;
        }
        work
    }

    fn is_done(&self) -> bool {
        self.stop.load(Ordering::Acquire)
            && (self.out.backlog.is_empty() || self.out.ring.is_abandoned())
    }
}
