//! Wall time of the built-in scenario suite, per scenario.
//!
//! Run: `cargo bench -p careplan-harness --bench suite` (add `-- --runs N`, default 3). Every
//! scenario of the built-in suite runs N times against the built-in personas, each time with its
//! own mock exchange over mutual TLS on loopback, exactly as `cpkit run` does; printed are the median wall
//! time per scenario, the suite's total per run, and the target (the whole suite under 60 s on the
//! 2-core machine) as a ratio.

use std::time::{Duration, Instant};

use careplan_harness::runner::{self, Quiet, RunOptions};
use careplan_harness::scenario::Scenario;
use careplan_harness::suite;

fn main() {
    let mut runs = 3usize;
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < argv.len() {
        match argv[i].as_str() {
            "--runs" => {
                runs = argv
                    .get(i + 1)
                    .and_then(|v| v.parse().ok())
                    .expect("--runs needs a number");
                i += 1;
            }
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
        i += 1;
    }
    // The built-in suite, as `cpkit run` without arguments runs it.
    let sources = suite::scenario_sources(&[]).expect("the built-in suite");
    let files: Vec<String> = sources.iter().map(|s| s.name.clone()).collect();
    let scenarios: Vec<Scenario> = sources
        .iter()
        .map(|s| Scenario::load(s).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let work = std::env::temp_dir().join(format!("cpkit-bench-suite-{}", std::process::id()));
    let options = RunOptions {
        sut: None,
        work_dir: work.clone(),
        keep: false,
    };
    let mut per: Vec<Vec<Duration>> = vec![Vec::new(); scenarios.len()];
    let mut cases = vec![0usize; scenarios.len()];
    let mut totals = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let outcome = runner::run(&scenarios, &options, &mut Quiet);
        totals.push(started.elapsed());
        for (i, s) in outcome.scenarios.iter().enumerate() {
            assert!(
                s.verdict() <= careplan_harness::outcome::Verdict::Warn,
                "{} did not pass: {:?}",
                s.name,
                s.verdict()
            );
            per[i].push(s.duration);
            cases[i] = s.cases.len();
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "## Built-in suite: {} scenarios, {runs} runs, median per scenario\n",
        scenarios.len()
    );
    println!("| scenario | cases | median ms |");
    println!("|---|---:|---:|");
    for (i, file) in files.iter().enumerate() {
        let m = median(&mut per[i]);
        println!(
            "| {} | {} | {:.1} |",
            file.trim_start_matches("scenarios/"),
            cases[i],
            m.as_secs_f64() * 1000.0
        );
    }
    let t = median(&mut totals);
    println!(
        "\nsuite total (median of {runs}): {:.2} s; target 60 s; total / target = {:.4}",
        t.as_secs_f64(),
        t.as_secs_f64() / 60.0
    );
    let _ = std::fs::remove_dir_all(&work);
}
