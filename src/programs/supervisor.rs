//! The supervisor owns every instance: it creates them from the config, applies reloads
//! (Supervisor's `reread` + `update`: new programs start, removed ones stop, changed ones
//! restart, unchanged ones are left alone) and stops them all at shutdown. [`Programs`] is the
//! handle the API, CLI (through the API), `/health` and `/metrics` use: status, start, stop,
//! restart, tail.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::instance::{Command, Instance};
use super::state::InstanceStatus;
use super::tail::{Stream, Tail, TailLine};
use crate::config::programs::ProgramSpec;
use crate::config::EnvPolicy;

/// How long a start/stop/restart call waits for its instances to settle before answering with
/// the states they are in (a program in BACKOFF may take minutes to reach FATAL).
const SETTLE_WAIT: Duration = Duration::from_secs(30);

/// What a control call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// `supervisorctl start`.
    Start,
    /// `supervisorctl stop`.
    Stop,
    /// `supervisorctl restart`: stop, then start.
    Restart,
}

/// A control call that names nothing.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No program or instance by that name.
    #[error("no program {name:?}: known are {known} (or \"all\")")]
    NotFound {
        /// As asked.
        name: String,
        /// The programs configured.
        known: String,
    },
}

/// One instance as the handle holds it.
struct Handle {
    program: String,
    /// The instance task's command channel; dropping every sender stops it.
    commands: mpsc::Sender<Command>,
    status: watch::Receiver<InstanceStatus>,
    tail: Arc<Tail>,
}

/// The shared handle: cheap to clone.
#[derive(Clone, Default)]
pub struct Programs {
    /// Instances by name (`NAME:00`); replaced by the supervisor on reload, read by calls.
    instances: Arc<RwLock<BTreeMap<String, Arc<Handle>>>>,
    /// Numbers commands, so that a caller waits for the effect of its own.
    next_command: Arc<AtomicU64>,
    /// Reload requests; the receiver is [`Supervisor::run`]. `None` in a handle with no
    /// supervisor (tests of the HTTP room).
    reloads: Option<mpsc::Sender<BTreeMap<String, ProgramSpec>>>,
}

/// The owner of the instances' tasks.
pub struct Supervisor {
    programs: Programs,
    specs: BTreeMap<String, Arc<ProgramSpec>>,
    /// Each instance's task, to wait for at shutdown.
    tasks: JoinSet<()>,
    /// The other end is in [`Programs::reload`].
    reloads: mpsc::Receiver<BTreeMap<String, ProgramSpec>>,
    policy: EnvPolicy,
    /// The daemon's shutdown deadline: no program's grace outlasts it.
    cap: Duration,
}

impl Supervisor {
    /// [`Supervisor::new`] for the daemon's config: its programs, the environment policy of
    /// `[worker] pass_env`, and the shutdown deadline as every program's longest grace.
    pub fn for_config(config: &crate::config::Config) -> (Supervisor, Programs) {
        Supervisor::new(
            &config.programs,
            config.job_env.policy(None),
            config.shutdown_timeout,
        )
    }

    /// A supervisor for `specs`, and its handle. Nothing starts before [`Supervisor::run`].
    pub fn new(
        specs: &BTreeMap<String, ProgramSpec>,
        policy: EnvPolicy,
        cap: Duration,
    ) -> (Supervisor, Programs) {
        let (tx, rx) = mpsc::channel(4);
        let programs = Programs {
            reloads: Some(tx),
            ..Programs::default()
        };
        let mut s = Supervisor {
            programs: programs.clone(),
            specs: BTreeMap::new(),
            tasks: JoinSet::new(),
            reloads: rx,
            policy,
            cap,
        };
        for spec in specs.values() {
            s.add(Arc::new(spec.clone()));
        }
        (s, programs)
    }

    /// Creates `spec`'s instances (each starts when its task runs, if `autostart`).
    fn add(&mut self, spec: Arc<ProgramSpec>) {
        let mut map = self.programs.write();
        for num in 0..spec.numprocs {
            let name = format!("{}:{num:02}", spec.name);
            let (tx, rx) = mpsc::channel(8);
            let (status, status_rx) = watch::channel(InstanceStatus::new(&spec.name, &name));
            let tail = Arc::new(Tail::default());
            let instance = Instance {
                spec: spec.clone(),
                num,
                name: Arc::from(name.as_str()),
                policy: self.policy.clone(),
                tail: tail.clone(),
                status,
                commands: rx,
                pending_start: Default::default(),
            };
            self.tasks.spawn(instance.run());
            let handle = Handle {
                program: spec.name.clone(),
                commands: tx,
                status: status_rx,
                tail,
            };
            map.insert(name, Arc::new(handle));
        }
        self.specs.insert(spec.name.clone(), spec);
    }

    /// Stops `program`'s instances (its grace, bounded by `cap`) and forgets them.
    async fn remove(&mut self, program: &str, cap: Duration) {
        let gone: Vec<Arc<Handle>> = {
            let mut map = self.programs.write();
            let names: Vec<String> = map
                .iter()
                .filter(|(_, h)| h.program == program)
                .map(|(n, _)| n.clone())
                .collect();
            names.iter().filter_map(|n| map.remove(n)).collect()
        };
        quit_all(&gone, cap).await;
        self.specs.remove(program);
    }

    /// Runs until `stop` fires, applying reloads; then stops every program at once (its
    /// `stopsignal`, KILL after `stopwaitsecs` or the shutdown deadline, whichever is first)
    /// and returns when all have ended.
    pub async fn run(mut self, stop: CancellationToken) {
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(specs) = self.reloads.recv() => self.apply(specs).await,
                // An instance task that ended early (it panicked): the others go on.
                Some(Err(e)) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    tracing::error!(error = %e, "a program's supervising task failed");
                }
            }
        }
        let all: Vec<Arc<Handle>> = self.programs.write().values().cloned().collect();
        if !all.is_empty() {
            tracing::info!(instances = all.len(), "stopping programs");
        }
        quit_all(&all, self.cap).await;
        while self.tasks.join_next().await.is_some() {}
    }

    /// Supervisor's `update`: only what changed is touched.
    async fn apply(&mut self, specs: BTreeMap<String, ProgramSpec>) {
        let (mut added, mut removed, mut changed) = (Vec::new(), Vec::new(), Vec::new());
        for name in self.specs.keys() {
            match specs.get(name) {
                None => removed.push(name.clone()),
                Some(s) if **self.specs.get(name).expect("listed") != *s => {
                    changed.push(name.clone())
                }
                Some(_) => {}
            }
        }
        for name in specs.keys().filter(|n| !self.specs.contains_key(*n)) {
            added.push(name.clone());
        }
        for name in removed.iter().chain(&changed) {
            let grace = self.specs[name].stopwaitsecs;
            self.remove(name, grace).await;
        }
        for name in added.iter().chain(&changed) {
            self.add(Arc::new(specs[name].clone()));
        }
        if !(added.is_empty() && removed.is_empty() && changed.is_empty()) {
            tracing::info!(added = ?added, removed = ?removed, changed = ?changed, "programs reloaded");
        }
    }
}

/// Tells every instance in `handles` to quit, and waits until each has left its process.
async fn quit_all(handles: &[Arc<Handle>], cap: Duration) {
    let each = handles.iter().map(|h| async move {
        let _ = h.commands.send(Command::Quit { cap }).await;
        // The task drops its status sender when it ends: that is the wait.
        let mut rx = h.status.clone();
        while rx.changed().await.is_ok() {}
    });
    futures::future::join_all(each).await;
}

impl Programs {
    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Arc<Handle>>> {
        self.instances.write().unwrap_or_else(|p| p.into_inner())
    }

    fn handles(&self) -> Vec<(String, Arc<Handle>)> {
        let map = self.instances.read().unwrap_or_else(|p| p.into_inner());
        map.iter().map(|(n, h)| (n.clone(), h.clone())).collect()
    }

    /// Every instance, by name.
    pub fn status(&self) -> Vec<InstanceStatus> {
        self.handles()
            .iter()
            .map(|(_, h)| h.status.borrow().at_now())
            .collect()
    }

    /// Whether there is any program.
    pub fn is_empty(&self) -> bool {
        self.handles().is_empty()
    }

    /// Asks the supervisor to apply `specs` (new start, removed stop, changed restart).
    pub fn reload(&self, specs: BTreeMap<String, ProgramSpec>) {
        if let Some(tx) = &self.reloads {
            if tx.try_send(specs).is_err() {
                tracing::warn!("programs reload skipped: the previous one is still being applied");
            }
        }
    }

    /// The instances `target` names: `all`, a program (`NAME`, or `NAME:*`), or one instance
    /// (`NAME:00`).
    fn select(&self, target: &str) -> Result<Vec<Arc<Handle>>, ControlError> {
        let all = self.handles();
        let program = target.strip_suffix(":*").unwrap_or(target);
        let picked: Vec<Arc<Handle>> = all
            .iter()
            .filter(|(n, h)| target == "all" || h.program == program || n == target)
            .map(|(_, h)| h.clone())
            .collect();
        if picked.is_empty() {
            let mut known: Vec<&str> = all.iter().map(|(_, h)| h.program.as_str()).collect();
            known.dedup();
            return Err(ControlError::NotFound {
                name: target.to_string(),
                known: if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                },
            });
        }
        Ok(picked)
    }

    /// Starts, stops or restarts what `target` names, and waits (at most [`SETTLE_WAIT`])
    /// until each instance has settled; their states then.
    pub async fn control(
        &self,
        target: &str,
        action: Action,
    ) -> Result<Vec<InstanceStatus>, ControlError> {
        let picked = self.select(target)?;
        let steps: &[fn(u64) -> Command] = match action {
            Action::Start => &[Command::Start],
            Action::Stop => &[Command::Stop],
            Action::Restart => &[Command::Stop, Command::Start],
        };
        let run = futures::future::join_all(picked.iter().map(|h| async move {
            for step in steps {
                let id = self.next_command.fetch_add(1, Ordering::Relaxed) + 1;
                if h.commands.send(step(id)).await.is_err() {
                    return;
                }
                let mut rx = h.status.clone();
                let _ = rx.wait_for(|s| s.acked >= id && s.state.settled()).await;
            }
        }));
        let _ = tokio::time::timeout(SETTLE_WAIT, run).await;
        Ok(picked.iter().map(|h| h.status.borrow().at_now()).collect())
    }

    /// The last `n` lines of one instance's `stream` after line number `after`, and the
    /// number of its newest line. A program name alone means its first instance (`NAME:00`),
    /// as supervisorctl takes `NAME`.
    pub fn tail(
        &self,
        target: &str,
        stream: Stream,
        n: usize,
        after: u64,
    ) -> Result<(String, Vec<TailLine>, u64), ControlError> {
        let all = self.handles();
        let found = all
            .iter()
            .find(|(name, _)| name == target)
            .or_else(|| all.iter().find(|(_, h)| h.program == target));
        match found {
            Some((name, h)) => Ok((
                name.clone(),
                h.tail.read(stream, n, after),
                h.tail.newest(stream),
            )),
            None => Err(self.select(target).err().unwrap_or(ControlError::NotFound {
                name: target.into(),
                known: String::new(),
            })),
        }
    }
}
