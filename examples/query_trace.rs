//! Querying the regulator server's trace endpoint for one weapon.
//!
//! Run against a server (for example `cargo run --release -- demo --serve`,
//! which prints a URL, a token and a sample serial):
//! `cargo run --example query_trace -- URL TOKEN SERIAL`

// `serde_json::Value`'s `Index` yields `Null` for a missing key; it never panics.
#![allow(clippy::indexing_slicing)]

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, token, serial] = args.as_slice() else {
        eprintln!(
            "usage: query_trace URL TOKEN SERIAL   (start a server with `armsledger demo --serve`)"
        );
        std::process::exit(2);
    };
    let trace: serde_json::Value = ureq::get(format!("{url}/v1/firearms/{serial}/trace"))
        .header("authorization", format!("Bearer {token}"))
        .call()?
        .body_mut()
        .read_json()?;
    for f in trace["firearms"].as_array().into_iter().flatten() {
        println!(
            "{} now {} at {}",
            f["identity"]["serial"].as_str().unwrap_or("?"),
            f["state"].as_str().unwrap_or("?"),
            f["site"].as_str().unwrap_or("?")
        );
        for e in f["timeline"]["events"].as_array().into_iter().flatten() {
            println!(
                "  {}  {:<16} {}",
                e["time"].as_str().unwrap_or(""),
                e["chain"]["Site"].as_str().unwrap_or("regulator"),
                e["summary"].as_str().unwrap_or("")
            );
        }
        println!("  history complete: {}", f["timeline"]["complete"]);
    }
    Ok(())
}
