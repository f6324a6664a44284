//! The `http` baseline: N POSTs of a small JSON body to URL from a plain reqwest client, at most
//! CONCURRENCY at once (what cronq's http handler sends, without the queue).
//!
//! `bench-http-client URL N CONCURRENCY` prints `{"n":…,"elapsed_ms":…,"per_s":…}`.

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: bench-http-client URL N CONCURRENCY");
        std::process::exit(2);
    }
    let url = args[1].clone();
    let n: usize = args[2].parse().expect("N is a number");
    let concurrency: usize = args[3].parse().expect("CONCURRENCY is a number");
    let client = reqwest::Client::new();
    let body = serde_json::json!({ "i": 0 });

    let (failed, elapsed) = cronq_bench_baselines::run_bounded(n, concurrency, || {
        let (client, url, body) = (client.clone(), url.clone(), body.clone());
        async move {
            match client.post(&url).json(&body).send().await {
                Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                Err(_) => false,
            }
        }
    })
    .await;
    let elapsed = elapsed.as_secs_f64();
    println!(
        "{{\"n\":{n},\"concurrency\":{concurrency},\"failed\":{failed},\"elapsed_ms\":{:.1},\"per_s\":{:.1}}}",
        elapsed * 1000.0,
        n as f64 / elapsed
    );
}
