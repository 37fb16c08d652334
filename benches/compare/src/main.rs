//! wiretape against its peers, in one run (issue 12).
//!
//! - **Servers**: `server::serve(Router)`, a raw hyper-util server doing the
//!   same routing by hand, wiremock-rs and httpmock, all driven by one raw
//!   hyper-util client, so the client side is the same for each. Cases: 1
//!   and 100 routes × sequential GETs, 32 concurrent GETs, sequential JSON
//!   POSTs whose body the route matches.
//! - **Clients**: wiretape's `Client` (HyperEngine, default plugins),
//!   `HyperEngine` alone, hyper-util's legacy client and reqwest, all against
//!   one raw hyper server. Cases: sequential GETs, 32 concurrent GETs on one
//!   client, a 1 MiB body downloaded and read.
//!
//! The servers run on one thread and the clients on another, each a
//! current-thread runtime (the usual shape of a test), pinned to different
//! CPUs where the OS allows, so that one side's work never queues behind the
//! other's. The mock servers start threads of their own, which inherit the
//! server thread's CPU. Every peer is warmed up, then the peers of a case
//! take turns for several rounds (the order rotating), and the tables show
//! the best round (the machine may be shared, and load only slows a round
//! down) and the median one.
//!
//! Run with `cargo run --release` in this directory; `-- --quick` for a
//! short run, `-- --only servers` or `-- --only clients` for one half.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use wiretape_compare::measure::{self, Pick, Rounds};
use wiretape_compare::{clients, servers};

/// How long a run is.
struct Plan {
    rounds: usize,
    /// Requests per round in the GET and POST cases.
    requests: usize,
    /// Downloads per round in the 1 MiB case.
    downloads: usize,
    servers: bool,
    clients: bool,
}

impl Plan {
    fn from_args() -> Plan {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(String::as_str);
        if let Some(bad) = args
            .iter()
            .find(|a| a.starts_with("--") && !matches!(a.as_str(), "--quick" | "--only"))
        {
            eprintln!("unknown option {bad}; options: --quick, --only servers|clients");
            std::process::exit(2);
        }
        let (rounds, requests, downloads) = if quick {
            (3, 1_000, 50)
        } else {
            (15, 4_000, 200)
        };
        Plan {
            rounds,
            requests,
            downloads,
            servers: only != Some("clients"),
            clients: only != Some("servers"),
        }
    }
}

/// The client-side cases.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Download {
    Sequential,
    Concurrent,
    Big,
}

impl Download {
    fn name(self) -> &'static str {
        match self {
            Download::Sequential => "sequential GET",
            Download::Concurrent => "32 concurrent GETs, one client",
            Download::Big => "1 MiB body, read fully",
        }
    }
}

fn main() {
    let plan = Plan::from_args();
    // reqwest's rustls without a provider of its own: ring, as wiretape.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let (client_core, server_core) = match cores.as_slice() {
        [a, b, ..] => (Some(*a), Some(*b)),
        _ => (None, None),
    };
    let pinned = client_core.is_some_and(core_affinity::set_for_current);

    let server_thread = spawn_servers(server_core);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");

    println!("# wiretape against its peers\n");
    match (pinned, client_core, server_core) {
        (true, Some(c), Some(s)) => println!(
            "Client thread on CPU {}, server thread on CPU {} (the mock servers' own threads too); \
             each a current-thread runtime.",
            c.id, s.id
        ),
        _ => println!("CPUs not pinned (the OS did not allow it, or there is only one)."),
    }
    println!(
        "{} interleaved rounds after a warm-up; {} requests per round ({} downloads of 1 MiB).\n",
        plan.rounds, plan.requests, plan.downloads
    );

    if plan.servers {
        let results = runtime.block_on(measure_servers(&plan, &server_thread));
        for pick in [Pick::Best, Pick::Median] {
            print_servers(&results, pick);
        }
    }
    if plan.clients {
        let results = runtime.block_on(measure_clients(&plan, server_thread.origin));
        for pick in [Pick::Best, Pick::Median] {
            print_clients(&results, pick);
        }
    }
}

/// Where the server thread's servers listen.
struct ServerThread {
    /// By route count, then by kind.
    servers: HashMap<usize, Vec<(servers::Kind, SocketAddr)>>,
    origin: SocketAddr,
}

const ROUTE_COUNTS: [usize; 2] = [1, 100];

/// Starts every server on a thread of their own (pinned to `core`) and
/// answers their addresses.
fn spawn_servers(core: Option<core_affinity::CoreId>) -> ServerThread {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        if let Some(core) = core {
            core_affinity::set_for_current(core);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let mut keep = Vec::new();
            let mut servers = HashMap::new();
            for routes in ROUTE_COUNTS {
                let mut here = Vec::new();
                for kind in servers::Kind::ALL {
                    let (addr, running) = servers::start(kind, routes).await;
                    keep.push(running);
                    here.push((kind, addr));
                }
                servers.insert(routes, here);
            }
            let origin = servers::origin().await;
            tx.send(ServerThread { servers, origin })
                .expect("main waits for the servers");
            // Serve until the process ends.
            std::future::pending::<()>().await;
            drop(keep);
        });
    });
    rx.recv().expect("the servers start")
}

type ServerResults = Vec<(usize, servers::Mode, Vec<(servers::Kind, Rounds)>)>;

async fn measure_servers(plan: &Plan, thread: &ServerThread) -> ServerResults {
    let client = servers::client();
    let mut results = Vec::new();
    for routes in ROUTE_COUNTS {
        for mode in [
            servers::Mode::Sequential,
            servers::Mode::Concurrent,
            servers::Mode::JsonPost,
        ] {
            let peers = &thread.servers[&routes];
            let send = |addr: SocketAddr| {
                let client = client.clone();
                move || {
                    let client = client.clone();
                    async move { servers::request(&client, addr, mode, routes).await }
                }
            };
            let concurrent = mode == servers::Mode::Concurrent;
            let mut rounds = vec![Rounds::default(); peers.len()];
            for &(_, addr) in peers {
                measure::run(plan.requests / 10, concurrent, send(addr)).await;
            }
            for round in 0..plan.rounds {
                for turn in 0..peers.len() {
                    let which = (turn + round) % peers.len();
                    let sample =
                        measure::run(plan.requests, concurrent, send(peers[which].1)).await;
                    rounds[which].push(sample);
                }
            }
            eprintln!("servers: {routes} route(s), {} done", mode.name());
            let by_kind = peers.iter().map(|(kind, _)| *kind).zip(rounds).collect();
            results.push((routes, mode, by_kind));
        }
    }
    results
}

type ClientResults = Vec<(Download, Vec<(clients::Kind, Rounds)>)>;

async fn measure_clients(plan: &Plan, origin: SocketAddr) -> ClientResults {
    let peers: Vec<_> = clients::Kind::ALL
        .iter()
        .map(|&kind| (kind, Arc::new(clients::Peer::new(kind))))
        .collect();
    let mut results = Vec::new();
    for case in [Download::Sequential, Download::Concurrent, Download::Big] {
        let (path, count) = match case {
            Download::Big => ("/big", plan.downloads),
            _ => ("/small", plan.requests),
        };
        let concurrent = case == Download::Concurrent;
        let send = |peer: &Arc<clients::Peer>| {
            let peer = peer.clone();
            move || {
                let peer = peer.clone();
                async move { peer.get(origin, path).await }
            }
        };
        let mut rounds = vec![Rounds::default(); peers.len()];
        for (_, peer) in &peers {
            measure::run(count / 10, concurrent, send(peer)).await;
        }
        for round in 0..plan.rounds {
            for turn in 0..peers.len() {
                let which = (turn + round) % peers.len();
                let sample = measure::run(count, concurrent, send(&peers[which].1)).await;
                rounds[which].push(sample);
            }
        }
        eprintln!("clients: {} done", case.name());
        let by_kind = peers.iter().map(|(kind, _)| *kind).zip(rounds).collect();
        results.push((case, by_kind));
    }
    results
}

fn rate(per_second: f64) -> String {
    if per_second >= 1_000.0 {
        format!("{:.1}k", per_second / 1_000.0)
    } else {
        format!("{per_second:.0}")
    }
}

fn micros(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

/// A ratio against its target: `0.93× (≥1.00×) missed`. The ratio is
/// judged as shown, to two decimals.
fn verdict(ratio: f64, target: f64) -> String {
    let shown = (ratio * 100.0).round() / 100.0;
    let met = if shown >= target { "met" } else { "**missed**" };
    format!("{shown:.2}× (≥{target:.2}×) {met}")
}

fn print_servers(results: &ServerResults, pick: Pick) {
    println!("## Servers, {} (req/s, p50)\n", pick.name());
    let names: Vec<_> = servers::Kind::ALL.iter().map(|k| k.name()).collect();
    println!(
        "| routes | case | {} | wiretape / raw hyper | wiretape / best other mock |",
        names.join(" | ")
    );
    println!("|---|---|{}---|---|", "---|".repeat(names.len()));
    for (routes, mode, by_kind) in results {
        let samples: Vec<_> = by_kind.iter().map(|(k, r)| (*k, pick.of(r))).collect();
        let of = |kind| {
            samples
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, s)| s.per_second)
                .expect("every kind measured")
        };
        let wiretape = of(servers::Kind::Wiretape);
        let best_other = of(servers::Kind::Wiremock).max(of(servers::Kind::Httpmock));
        let cells: Vec<_> = samples
            .iter()
            .map(|(_, s)| format!("{}, {}", rate(s.per_second), micros(s.p50)))
            .collect();
        println!(
            "| {routes} | {} | {} | {} | {} |",
            mode.name(),
            cells.join(" | "),
            verdict(wiretape / of(servers::Kind::RawHyper), 1.0),
            verdict(wiretape / best_other, 1.0),
        );
    }
    println!();
}

fn print_clients(results: &ClientResults, pick: Pick) {
    println!(
        "## Clients, {} (req/s; MiB/s for the 1 MiB body)\n",
        pick.name()
    );
    let names: Vec<_> = clients::Kind::ALL.iter().map(|k| k.name()).collect();
    println!(
        "| case | {} | Client / hyper-util | HyperEngine / hyper-util | reqwest / hyper-util |",
        names.join(" | ")
    );
    println!("|---|{}---|---|---|", "---|".repeat(names.len()));
    for (case, by_kind) in results {
        let value = |rounds: &Rounds| {
            let sample = pick.of(rounds);
            match case {
                Download::Big => sample.bytes_per_second / f64::from(1 << 20),
                _ => sample.per_second,
            }
        };
        let of = |kind| {
            by_kind
                .iter()
                .find(|(k, _)| *k == kind)
                .map(|(_, r)| value(r))
                .expect("every kind measured")
        };
        let cells: Vec<_> = by_kind
            .iter()
            .map(|(_, r)| match case {
                Download::Big => format!("{:.0} MiB/s", value(r)),
                _ => rate(value(r)),
            })
            .collect();
        let hyper_util = of(clients::Kind::HyperUtil);
        println!(
            "| {} | {} | {} | {} | {:.2}× |",
            case.name(),
            cells.join(" | "),
            verdict(of(clients::Kind::Wiretape) / hyper_util, 0.97),
            verdict(of(clients::Kind::Engine) / hyper_util, 0.97),
            of(clients::Kind::Reqwest) / hyper_util,
        );
    }
    println!();
}
