//! One server, one case, a fixed number of requests: the program to run
//! under `valgrind --tool=callgrind` to count the instructions a request
//! costs (see `instructions.sh`, which runs it twice and takes the
//! difference, so start-up and warm-up cancel out).
//!
//! `instructions SERVER ROUTES MODE REQUESTS`, with SERVER one of
//! `wiretape`, `raw`, `wiremock`, `httpmock`, and MODE one of `get`,
//! `concurrent`, `post`. The server runs on a thread of its own, as in the
//! comparison; the client is the same hyper-util client.

use wiretape_compare::measure;
use wiretape_compare::servers::{self, Kind, Mode};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: instructions wiretape|raw|wiremock|httpmock ROUTES get|concurrent|post REQUESTS";
    let [server, routes, mode, requests] = args.as_slice() else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let kind = match server.as_str() {
        "wiretape" => Kind::Wiretape,
        "raw" => Kind::RawHyper,
        "wiremock" => Kind::Wiremock,
        "httpmock" => Kind::Httpmock,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let mode = match mode.as_str() {
        "get" => Mode::Sequential,
        "concurrent" => Mode::Concurrent,
        "post" => Mode::JsonPost,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let (Ok(routes), Ok(requests)) = (routes.parse::<usize>(), requests.parse::<usize>()) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };

    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async move {
            let (addr, running) = servers::start(kind, routes).await;
            tx.send(addr).expect("main waits");
            std::future::pending::<()>().await;
            drop(running);
        });
    });
    let addr = rx.recv().expect("the server starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let client = servers::client();
        let send = move || {
            let client = client.clone();
            async move { servers::request(&client, addr, mode, routes).await }
        };
        // The same warm-up in every run: connections open, caches filled.
        measure::run(200, mode == Mode::Concurrent, send.clone()).await;
        measure::run(requests, mode == Mode::Concurrent, send).await;
    });
}
