//! Operator commands through the region's control ring, against the real engine.

use std::time::Duration;
use tickwire_shm::control::{Ack, Command};
use tickwire_shm::layout::{EngineState, Reason};
use tickwire_shm::region::RegionReader;
use tickwire_tests::{test_config, wait_for, EngineProcess};

fn send(reader: &RegionReader, command: Command) -> Ack {
    let client = reader.control().expect("map control page");
    let ticket = client.send(command).expect("send");
    client
        .wait_ack(ticket, Duration::from_secs(5))
        .expect("ack")
        .expect("acknowledged in time")
        .expect("known ack code")
}

#[test]
fn pause_resume_kill_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut engine = EngineProcess::start(dir.path(), &test_config(dir.path(), "ctl", ""));
    let reader = engine.wait_ready();
    wait_for(Duration::from_secs(20), || {
        (reader.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("the market maker quotes");

    assert_eq!(send(&reader, Command::Pause), Ack::Done);
    assert_eq!(send(&reader, Command::Pause), Ack::Unchanged);
    let paused = wait_for(Duration::from_secs(5), || {
        let s = reader.engine().ok()?;
        let orders = reader.open_orders().ok()?;
        (s.state == EngineState::Paused.code() && orders.count == 0).then_some(s)
    })
    .expect("paused with no open orders");
    assert_eq!(paused.reason, Reason::Operator.code());
    assert!(
        paused.state_since_unix_ns > 0,
        "the pause's start is published"
    );

    assert_eq!(send(&reader, Command::Resume), Ack::Done);
    wait_for(Duration::from_secs(5), || {
        let running = reader.engine().ok()?.state == EngineState::Running.code();
        (running && reader.open_orders().ok()?.count > 0).then_some(())
    })
    .expect("quoting again after resume");

    let client = reader.control().expect("control");
    let ticket = client.send_code(77).expect("send");
    let ack = client
        .wait_ack(ticket, Duration::from_secs(5))
        .expect("ack");
    assert_eq!(ack, Some(Ok(Ack::UnknownCommand)));

    assert_eq!(send(&reader, Command::Kill), Ack::Done);
    let halted = wait_for(Duration::from_secs(5), || {
        let s = reader.engine().ok()?;
        (s.state == EngineState::Halted.code() && reader.open_orders().ok()?.count == 0)
            .then_some(s)
    })
    .expect("halted with nothing open");
    assert_eq!(halted.reason, Reason::KillSwitch.code());
    assert_eq!(reader.risk().expect("risk").kill_switch, 1);
    assert_eq!(
        send(&reader, Command::Resume),
        Ack::Refused,
        "no resume after the kill switch"
    );

    engine.signal(libc::SIGTERM);
    assert!(engine.wait_exit(Duration::from_secs(10)).success());
}
