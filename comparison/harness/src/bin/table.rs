//! Reads the programs' lines (see the harness docs) from standard input and prints one Markdown
//! table: per row, every library and path with its median ns per evaluation over the runs, its
//! allocations per evaluation, and its time as a multiple of toggles' direct API on that row.

use std::collections::BTreeMap;
use std::io::{self, BufRead};

use harness::Row;

/// The figures of one library path on one row, one per run.
#[derive(Default)]
struct Figures {
    ns: Vec<f64>,
    allocations: Vec<f64>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // (row, library, path) in first-seen order within each row.
    let mut order: Vec<(String, String, String)> = Vec::new();
    let mut figures: BTreeMap<(String, String, String), Figures> = BTreeMap::new();
    for line in io::stdin().lock().lines() {
        let line = line.expect("read standard input");
        let fields: Vec<&str> = line.split('\t').collect();
        let [library, path, row, ns, allocations, _share_on] = fields[..] else {
            eprintln!("table: ignoring a line that is not a measurement: {line}");
            continue;
        };
        let key = (row.to_owned(), library.to_owned(), path.to_owned());
        let entry = figures.entry(key.clone()).or_default();
        if entry.ns.is_empty() {
            order.push(key);
        }
        entry.ns.push(ns.parse().expect("ns per evaluation"));
        entry
            .allocations
            .push(allocations.parse().expect("allocations per evaluation"));
    }

    let runs = figures.values().map(|f| f.ns.len()).max().unwrap_or(0);
    println!("Median of {runs} run(s); × = time per evaluation over toggles' direct API's on the same row.\n");
    println!(
        "| row | library | path | ns / evaluation | allocations / evaluation | × toggles direct |"
    );
    println!("|---|---|---|--:|--:|--:|");
    for row in Row::ALL.into_iter().chain(Row::ARMS) {
        let label = row.label();
        let in_row: Vec<&(String, String, String)> =
            order.iter().filter(|(r, _, _)| r == label).collect();
        let direct = figures
            .get_mut(&(label.to_owned(), "toggles".to_owned(), "direct".to_owned()))
            .map(|f| median(&mut f.ns));
        for key in in_row {
            let f = figures.get_mut(key).expect("a measured key");
            let ns = median(&mut f.ns);
            let allocations = median(&mut f.allocations);
            let ratio = direct.map_or_else(|| "—".to_owned(), |d| format!("{:.2}", ns / d));
            println!(
                "| {label} | {} | {} | {ns:.1} | {allocations:.1} | {ratio} |",
                key.1, key.2
            );
        }
    }
}
