//! Cassettes shared between processes: several recorders saving one file,
//! and recorders killed with `kill -9` in the middle of a save.
//!
//! Each test re-runs this test executable as a child (the environment
//! variable [`ROLE`] selects what the child does), so the processes are real
//! and the lock between them is the operating system's.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wiretape::Client;
use wiretape::cassette::{Cassette, Environment, Mode, Tape};
use wiretape::mock::{MockEngine, respond_ok};

/// Names the child's job: `record`.
const ROLE: &str = "WIRETAPE_TEST_ROLE";
/// The cassette a child records into, its name and how many saves it makes.
const CASSETTE: &str = "WIRETAPE_TEST_CASSETTE";
const NAME: &str = "WIRETAPE_TEST_NAME";
const SAVES: &str = "WIRETAPE_TEST_SAVES";

/// In a child: records `SAVES` sessions into `CASSETTE` in `new_episodes`,
/// one request each, and prints `saved NAME I` after each save that
/// succeeded (or `failed NAME I: why`).
fn record_child() {
    let path = PathBuf::from(std::env::var(CASSETTE).unwrap());
    let name = std::env::var(NAME).unwrap();
    let saves: usize = std::env::var(SAVES).unwrap().parse().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for i in 0..saves {
            let outcome = async {
                // A body big enough that a write takes a moment.
                let api = MockEngine::new(|_| async { Ok(respond_ok("x".repeat(4096))) });
                let cassette = Cassette::builder(&path)
                    .mode(Mode::NewEpisodes)
                    .environment(Environment::clean())
                    .build(api)?;
                let client = Client::builder().engine(cassette.clone()).build()?;
                client
                    .get(format!("http://api.test/{name}/{i}"))
                    .send()
                    .await?
                    .bytes()
                    .await?;
                cassette.finish()?;
                Ok::<(), wiretape::Error>(())
            }
            .await;
            match outcome {
                Ok(()) => println!("saved {name} {i}"),
                Err(err) => println!("failed {name} {i}: {err}"),
            }
        }
    });
}

/// Starts this executable as a recording child running `test`.
fn spawn_recorder(test: &str, cassette: &Path, name: &str, saves: usize) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE, "record")
        .env(CASSETTE, cassette)
        .env(NAME, name)
        .env(SAVES, saves.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// What a child reported: the URIs it saved, and its failures.
fn reports(child: &mut Child) -> (BTreeSet<String>, Vec<String>) {
    let stdout = child.stdout.take().unwrap();
    let mut saved = BTreeSet::new();
    let mut failed = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        // The test harness may have started the line (`test name ... `).
        if let Some((_, rest)) = line.split_once("saved ") {
            let (name, i) = rest.split_once(' ').unwrap();
            saved.insert(format!("http://api.test/{name}/{i}"));
        } else if let Some((_, rest)) = line.split_once("failed ") {
            failed.push(rest.to_string());
        }
    }
    (saved, failed)
}

fn uris_on_disk(path: &Path) -> Vec<String> {
    match Tape::load(path) {
        Ok(tape) => tape
            .interactions
            .into_iter()
            .map(|it| it.request.uri)
            .collect(),
        Err(err) if !path.exists() => {
            let _ = err;
            Vec::new()
        }
        Err(err) => panic!("the cassette does not open: {err}"),
    }
}

fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

/// Waits for `child` at most `limit`; kills it and fails the test if it
/// overruns.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} exited with {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn several_recorder_processes_lose_no_reported_save() {
    const TEST: &str = "several_recorder_processes_lose_no_reported_save";
    if std::env::var(ROLE).is_ok() {
        return record_child();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.yaml");
    let (children, saves) = (4, 12);
    let mut recorders: Vec<Child> = (0..children)
        .map(|n| spawn_recorder(TEST, &path, &format!("p{n}"), saves))
        .collect();
    let mut saved = BTreeSet::new();
    let mut failed = Vec::new();
    for child in &mut recorders {
        let (ok, bad) = reports(child);
        saved.extend(ok);
        failed.extend(bad);
        wait_bounded(child, Duration::from_secs(60), "a recorder");
    }
    let on_disk: BTreeSet<String> = uris_on_disk(&path).into_iter().collect();
    let lost: Vec<&String> = saved.difference(&on_disk).collect();
    eprintln!(
        "{} saves reported, {} on disk, {} lost, {} failed",
        saved.len(),
        on_disk.len(),
        lost.len(),
        failed.len()
    );
    assert!(lost.is_empty(), "saves reported but not on disk: {lost:?}");
    assert!(failed.is_empty(), "saves that failed: {failed:?}");
    assert_eq!(saved.len(), children * saves);
    assert_eq!(temp_files(dir.path()), Vec::<String>::new());
}

/// A tiny seeded generator (xorshift), so a failing trial can be repeated
/// with `WIRETAPE_SEED`.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn a_recorder_killed_mid_save_leaves_a_whole_cassette_and_blocks_nobody() {
    const TEST: &str = "a_recorder_killed_mid_save_leaves_a_whole_cassette_and_blocks_nobody";
    if std::env::var(ROLE).is_ok() {
        return record_child();
    }
    let seed: u64 = std::env::var("WIRETAPE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    let result = std::panic::catch_unwind(|| {
        let mut rng = seed;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("killed.yaml");
        let mut all_saved = BTreeSet::new();
        let mut kills_mid_write = 0;
        let trials = 16;
        for trial in 0..trials {
            let mut child = spawn_recorder(TEST, &path, &format!("k{trial}"), 1000);
            // Let it make a few saves, then kill it at a random moment.
            std::thread::sleep(Duration::from_millis(20 + next(&mut rng) % 120));
            child.kill().unwrap(); // SIGKILL on Unix
            let (saved, _) = reports(&mut child);
            child.wait().unwrap();
            // Whole: the file opens, and every save the child reported is in it.
            let on_disk: BTreeSet<String> = uris_on_disk(&path).into_iter().collect();
            all_saved.extend(saved);
            let lost: Vec<&String> = all_saved.difference(&on_disk).collect();
            assert!(lost.is_empty(), "trial {trial}: saves lost: {lost:?}");
            if !temp_files(dir.path()).is_empty() {
                kills_mid_write += 1;
            }
            // The next run is not blocked by the dead one, and sweeps its
            // temporary files.
            let mut next_run = spawn_recorder(TEST, &path, &format!("n{trial}"), 1);
            let (saved, failed) = reports(&mut next_run);
            wait_bounded(&mut next_run, Duration::from_secs(30), "the next run");
            assert!(failed.is_empty(), "trial {trial}: {failed:?}");
            assert_eq!(saved.len(), 1, "trial {trial}");
            all_saved.extend(saved);
            assert_eq!(
                temp_files(dir.path()),
                Vec::<String>::new(),
                "trial {trial}: stale temporary files"
            );
        }
        eprintln!(
            "{kills_mid_write} of {trials} kills left a temporary file; the next run swept it"
        );
    });
    if let Err(panic) = result {
        eprintln!("kill -9 trials failed with WIRETAPE_SEED={seed}");
        std::panic::resume_unwind(panic);
    }
}
