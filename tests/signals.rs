//! Signals the daemon does not use (SIGUSR1, SIGHUP, SIGPIPE) are ignored with a log line
//! instead of killing it mid-run; SIGQUIT drains and exits 0 as SIGTERM does.

mod cron_support;
mod support;

use std::time::Duration;

use cron_support::Cron;
use nix::sys::signal::Signal;
use support::poll;

#[test]
fn unused_signals_are_ignored_and_sigquit_drains() {
    let mut cron = Cron::start(&["-json"], "* * * * * * * echo tick\n", &[]);
    poll(Duration::from_secs(15), "a finished run", || {
        cron.stderr().contains("job completed").then_some(())
    });
    for sig in [Signal::SIGUSR1, Signal::SIGHUP, Signal::SIGPIPE] {
        cron.signal(sig);
        let name = format!("{sig:?}");
        poll(Duration::from_secs(10), &format!("{name} logged"), || {
            cron.json()
                .iter()
                .any(|v| v["msg"] == "signal ignored: SIGTERM or SIGINT drains and exits, SIGUSR2 reloads the crontab" && v["signal"] == name.as_str())
                .then_some(())
        });
    }
    // Still running jobs after all three.
    let runs = cron.stderr().matches("job completed").count();
    poll(Duration::from_secs(10), "another run", || {
        (cron.stderr().matches("job completed").count() > runs).then_some(())
    });
    cron.signal(Signal::SIGQUIT);
    assert_eq!(
        cron.wait_exit(Duration::from_secs(30)),
        0,
        "{}",
        cron.stderr()
    );
    assert!(cron.stderr().contains("shutting down"), "{}", cron.stderr());
}
