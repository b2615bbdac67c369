//! Hosts in network namespaces made by the test: namespaces, veth links with
//! documentation addresses, routes, nftables rules, and server processes run
//! inside them. Everything is removed when dropped; nothing is routed off
//! the machine (the router namespace has no way out).

use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// Runs a command, panicking with its output when it fails.
pub(crate) fn run(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs `work` on a thread that joined `ns`, in a runtime of its own there.
pub(crate) fn within<T: Send + 'static>(
    ns: &Netns,
    work: impl FnOnce(&tokio::runtime::Runtime) -> T + Send + 'static,
) -> T {
    let path = format!("/run/netns/{}", ns.name);
    std::thread::spawn(move || {
        let f = File::open(&path).unwrap();
        nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        work(&rt)
    })
    .join()
    .unwrap()
}

/// A network namespace, deleted (with its interfaces) when dropped.
pub(crate) struct Netns {
    pub name: String,
}

impl Netns {
    pub(crate) fn new(name: &str) -> Self {
        // A namespace left by an interrupted run of the same name goes first.
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(Stdio::null())
            .status();
        run(&["ip", "netns", "add", name]);
        let ns = Self {
            name: name.to_owned(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"]);
        // Addresses usable at once: no duplicate address detection delay.
        ns.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.all.accept_dad=0"]);
        ns.exec(&["sysctl", "-q", "-w", "net.ipv6.conf.default.accept_dad=0"]);
        ns
    }

    /// Runs a command in the namespace.
    pub(crate) fn exec(&self, args: &[&str]) -> String {
        let mut all = vec!["ip", "netns", "exec", &self.name];
        all.extend_from_slice(args);
        run(&all)
    }

    /// Starts a long-running process in the namespace, its output in `log`.
    pub(crate) fn spawn(&self, what: &str, args: &[&str], log: &Path) -> Server {
        let out = File::create(log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Server {
            what: what.to_owned(),
            child,
            log: log.to_owned(),
            stop: None,
        }
    }

    /// Adds addresses to an interface in this namespace and brings it up.
    pub(crate) fn addrs(&self, dev: &str, addrs: &[&str]) {
        for a in addrs {
            if a.contains(':') {
                self.exec(&["ip", "-6", "addr", "add", a, "dev", dev, "nodad"]);
            } else {
                self.exec(&["ip", "addr", "add", a, "dev", dev]);
            }
        }
        self.exec(&["ip", "link", "set", dev, "up"]);
    }

    /// Default routes of both families through `v6` and `v4`.
    pub(crate) fn gateway(&self, v6: &str, v4: &str) {
        self.exec(&["ip", "-6", "route", "add", "default", "via", v6]);
        self.exec(&["ip", "route", "add", "default", "via", v4]);
    }

    /// Loads an nftables ruleset into this namespace.
    pub(crate) fn nft(&self, ruleset: &str, dir: &Path) {
        let file = dir.join(format!("{}.nft", self.name));
        std::fs::write(&file, ruleset).unwrap();
        self.exec(&["nft", "-f", file.to_str().unwrap()]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A veth pair between two namespaces, `a_dev` in `a` and `b_dev` in `b`.
pub(crate) fn link(a: &Netns, a_dev: &str, b: &Netns, b_dev: &str, mtu: Option<u16>) {
    run(&[
        "ip", "link", "add", a_dev, "netns", &a.name, "type", "veth", "peer", "name", b_dev,
        "netns", &b.name,
    ]);
    if let Some(mtu) = mtu {
        let mtu = mtu.to_string();
        a.exec(&["ip", "link", "set", a_dev, "mtu", &mtu]);
        b.exec(&["ip", "link", "set", b_dev, "mtu", &mtu]);
    }
}

/// A server process in a namespace, stopped (its whole process group) when dropped.
pub(crate) struct Server {
    pub what: String,
    child: Child,
    pub log: std::path::PathBuf,
    /// A command that stops it cleanly (postfix's master forks away).
    pub stop: Option<Vec<String>>,
}

impl Server {
    /// The log so far, for a failure message.
    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test, with the log, when the process has already exited.
    pub(crate) fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}):\n{}", self.what, self.log_text());
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            let _ = Command::new(&stop[0])
                .args(&stop[1..])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // The group `ip netns exec` led: the server and whatever it forked.
        let group = Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX));
        let _ = killpg(group, Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                let _ = killpg(group, Signal::SIGKILL);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = killpg(group, Signal::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Waits (at most `limit`) until `ready` holds, checking the servers are alive.
pub(crate) fn wait_until(
    what: &str,
    limit: Duration,
    servers: &mut [&mut Server],
    ready: impl Fn() -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        for s in servers.iter_mut() {
            s.assert_running();
        }
        if ready() {
            return;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = servers
                .iter()
                .map(|s| format!("--- {}:\n{}", s.what, s.log_text()))
                .collect();
            panic!("{what} not ready within {limit:?}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
