//! `process = { … }` and `node = { … }` handler tables: persistent processes. Checked here for
//! what would fail every job: an empty command, a missing processor file, no Node to run it.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use super::{invalid, Source};
use crate::config::raw::{RawNodeHandler, RawProcessHandler};
use crate::config::{Error, ProcessProgram, ProcessSpec};

/// `process = { command, instances, max_jobs, max_memory }`.
pub(super) fn shell(
    p: &RawProcessHandler,
    src: &Source,
    table: &str,
) -> Result<ProcessSpec, Error> {
    if p.command.trim().is_empty() {
        return Err(invalid(src.place(table, "process"), "the command is empty"));
    }
    if let Some((_, problem)) = crate::crontab::text::command_problem(&p.command) {
        return Err(invalid(src.place(table, "process"), problem));
    }
    let program = ProcessProgram::Shell {
        command: p.command.clone(),
    };
    spec(
        table,
        program,
        p.instances,
        p.max_jobs,
        p.max_memory.as_deref(),
        src,
        "process",
    )
}

/// `node = { file, node_binary, instances, max_jobs, max_memory }`: the file must exist and
/// Node must be found now, not at the first job.
pub(super) fn node(
    n: &RawNodeHandler,
    src: &Source,
    table: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProcessSpec, Error> {
    let place = || src.place(table, "node");
    let file = Path::new(&n.file);
    let file = if file.is_absolute() {
        file.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(file)
    };
    if !file.is_file() {
        return Err(invalid(
            place(),
            format!(
                "the processor file {:?} does not exist ({}): build it first, or give its path \
                 relative to the directory the worker starts in",
                n.file,
                file.display()
            ),
        ));
    }
    let wanted = n.node_binary.as_deref().unwrap_or("node");
    let Some(node) = find_program(wanted, env("PATH").as_deref()) else {
        let fix = match &n.node_binary {
            Some(_) => "fix node_binary, or install Node there",
            None => "install Node (e.g. run cronq in a node image), or set node_binary = \"/path/to/node\"",
        };
        return Err(invalid(
            place(),
            format!("cannot find the Node executable {wanted:?} (searched PATH): {fix}"),
        ));
    };
    let program = ProcessProgram::Node { node, file };
    spec(
        table,
        program,
        n.instances,
        n.max_jobs,
        n.max_memory.as_deref(),
        src,
        "node",
    )
}

fn spec(
    table: &str,
    program: ProcessProgram,
    instances: Option<usize>,
    max_jobs: Option<u64>,
    max_memory: Option<&str>,
    src: &Source,
    key: &str,
) -> Result<ProcessSpec, Error> {
    let instances = match instances {
        None => None,
        Some(n) => Some(NonZeroUsize::new(n).ok_or_else(|| {
            invalid(
                src.place(table, key),
                "instances = 0 would never run a job: use 1 or more, or leave it out for one process per concurrent job",
            )
        })?),
    };
    if max_jobs == Some(0) {
        return Err(invalid(
            src.place(table, key),
            "max_jobs = 0 would replace each process before its first job: use 1 or more, or leave it out",
        ));
    }
    let max_memory_mib = max_memory
        .map(crate::config::units::mebibytes)
        .transpose()
        .map_err(|m| invalid(src.place(table, key), format!("max_memory: {m}")))?;
    Ok(ProcessSpec {
        label: table.to_string(),
        program,
        instances,
        max_jobs,
        max_memory_mib,
    })
}

/// `name` itself when it holds a `/`, else the first executable file of that name on `path`.
fn find_program(name: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        p.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    path?
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| Path::new(d).join(name))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HandlerKind, Overrides};

    fn load(text: &str, path: &str) -> Result<crate::config::Config, String> {
        super::super::tests::load_text(text, &[("PATH", path)], Overrides::default())
            .map_err(|e| e.to_string())
    }

    fn processor() -> String {
        format!(
            "{}/tests/fixtures/process/consumer.py",
            env!("CARGO_MANIFEST_DIR")
        )
    }

    #[test]
    fn process_and_node_tables_build_a_pool_spec() {
        let text = format!(
            "[queues.q.handlers.php]\nprocess = {{ command = \"php bin/consume.php\", instances = 2, max_jobs = 1000, max_memory = \"256MB\" }}\n\
             [queues.q.handlers.mail]\nnode = {{ file = \"{}\", node_binary = \"/bin/sh\" }}\ntimeout = \"30s\"\n",
            processor()
        );
        let config = load(&text, "").unwrap();
        let q = &config.queues["q"];
        let HandlerKind::Process(php) = &q.handlers["php"].kind else {
            panic!()
        };
        assert_eq!(php.instances.map(|n| n.get()), Some(2));
        assert_eq!(php.max_jobs, Some(1000));
        assert_eq!(php.max_memory_mib, Some(256));
        assert_eq!(php.label, "queues.q.handlers.php");
        let HandlerKind::Process(mail) = &q.handlers["mail"].kind else {
            panic!()
        };
        assert_eq!(
            mail.program,
            ProcessProgram::Node {
                node: "/bin/sh".into(),
                file: processor().into()
            }
        );
        assert_eq!(mail.instances, None);
    }

    #[test]
    fn bad_process_tables_are_refused_naming_the_place_and_the_fix() {
        let file = processor();
        let cases = [
            (
                "process = { command = \" \" }".to_string(),
                "command is empty",
            ),
            (
                "process = { command = \"x\", instances = 0 }".to_string(),
                "instances = 0",
            ),
            (
                "process = { command = \"x\", max_jobs = 0 }".to_string(),
                "max_jobs = 0",
            ),
            (
                "process = { command = \"x\", max_memory = \"lots\" }".to_string(),
                "max_memory",
            ),
            (
                "process = { command = \"x\", bogus = 1 }".to_string(),
                "bogus",
            ),
            (
                "node = { file = \"dist/missing.js\" }".to_string(),
                "dist/missing.js",
            ),
            (format!("node = {{ file = \"{file}\" }}"), "set node_binary"),
            (
                format!("node = {{ file = \"{file}\", node_binary = \"/nonexistent/node\" }}"),
                "fix node_binary",
            ),
            (
                "process = { command = \"x\" }\nexec = \"y\"".to_string(),
                "exactly one of",
            ),
        ];
        for (table, wanted) in cases {
            let text = format!("[worker]\nconcurrency = 2\n[queues.q.handlers.n]\n{table}\n");
            let err = load(&text, "/nonexistent").unwrap_err();
            assert!(err.contains(wanted), "{table}: {err}");
            // A syntax error (the unknown key) names the line only; the rest name the table too.
            assert!(err.contains(":4:") || err.contains(":5:"), "{table}: {err}");
            assert!(
                wanted == "bogus" || err.contains("[queues.q.handlers.n]"),
                "{table}: {err}"
            );
        }
    }

    #[test]
    fn programs_are_found_on_path_or_by_path() {
        assert_eq!(
            find_program("sh", Some("/nonexistent:/bin")),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(find_program("sh", Some("/nonexistent")), None);
        assert_eq!(
            find_program("/bin/sh", None),
            Some(PathBuf::from("/bin/sh"))
        );
        assert_eq!(find_program("/nonexistent/node", None), None);
    }
}
