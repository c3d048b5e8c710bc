//! HTTP load generator for `bench/http_run.sh`: N GETs of the given names over C concurrent
//! connections (kept alive: each connection asks for the next name until all N are taken),
//! bodies read and counted, not stored. One thread (like the TFTP load generator), so its
//! own cost stays on one core. Prints one JSON object.
//!
//!   http-loadgen --addr 127.0.0.1:6970 --names FILE|--name NAME --count N --concurrency C
//!                [--new-connection]          (`--help` describes each flag)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// N GETs over C concurrent connections; prints one JSON object.
#[derive(Parser)]
#[command(name = "http-loadgen")]
struct Args {
    /// The HTTP listener, `ADDR:PORT`.
    #[arg(long)]
    addr: String,
    /// A name to ask for (repeatable).
    #[arg(long = "name", value_name = "NAME")]
    name: Vec<String>,
    /// A file of names, one per line (added to --name).
    #[arg(long = "names", value_name = "FILE")]
    names_file: Option<std::path::PathBuf>,
    /// GETs in all.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Connections at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// A new connection per GET (no keep-alive).
    #[arg(long)]
    new_connection: bool,
    #[arg(skip)]
    names: Vec<String>,
}

fn args() -> Args {
    let mut a = Args::parse();
    a.names = std::mem::take(&mut a.name);
    if let Some(file) = &a.names_file {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| {
            Args::command()
                .error(ErrorKind::Io, format!("{}: {e}", file.display()))
                .exit()
        });
        a.names.extend(text.lines().map(str::to_string));
    }
    if a.names.is_empty() {
        Args::command()
            .error(ErrorKind::MissingRequiredArgument, "give --name or --names")
            .exit();
    }
    a
}

/// One GET on `conn`: the body's length (read and dropped).
async fn get(conn: &mut BufReader<TcpStream>, name: &str, buf: &mut [u8]) -> std::io::Result<u64> {
    let req = format!("GET /{name} HTTP/1.1\r\nHost: bench\r\n\r\n");
    conn.get_mut().write_all(req.as_bytes()).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(std::io::Error::other(format!("{name}: {line:?}")));
    }
    let mut len = None;
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::other("closed in headers"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<u64>().ok();
            }
        }
    }
    let len = len.ok_or_else(|| std::io::Error::other("no content-length"))?;
    let mut left = len;
    while left > 0 {
        let want = (buf.len() as u64).min(left) as usize;
        let n = conn.read(&mut buf[..want]).await?;
        if n == 0 {
            return Err(std::io::Error::other("closed in body"));
        }
        left -= n as u64;
    }
    Ok(len)
}

fn main() {
    let a = Arc::new(args());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let results: Vec<(u64, Vec<f64>, usize)> = rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..a.concurrency.min(a.count) {
            let (a, next) = (a.clone(), next.clone());
            tasks.push(tokio::spawn(async move {
                let mut buf = vec![0u8; 256 << 10];
                let (mut bytes, mut times, mut errors) = (0u64, Vec::new(), 0usize);
                let mut conn: Option<BufReader<TcpStream>> = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= a.count {
                        break;
                    }
                    let name = &a.names[i % a.names.len()];
                    let t = Instant::now();
                    if conn.is_none() || a.new_connection {
                        match TcpStream::connect(&a.addr).await {
                            Ok(s) => {
                                let _ = s.set_nodelay(true);
                                conn = Some(BufReader::new(s));
                            }
                            Err(_) => {
                                errors += 1;
                                continue;
                            }
                        }
                    }
                    match get(conn.as_mut().unwrap(), name, &mut buf).await {
                        Ok(n) => {
                            bytes += n;
                            times.push(t.elapsed().as_secs_f64() * 1000.0);
                        }
                        Err(_) => {
                            errors += 1;
                            conn = None;
                        }
                    }
                }
                (bytes, times, errors)
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap());
        }
        out
    });
    let wall = start.elapsed().as_secs_f64();
    let bytes: u64 = results.iter().map(|r| r.0).sum();
    let errors: usize = results.iter().map(|r| r.2).sum();
    let mut times: Vec<f64> = results.into_iter().flat_map(|r| r.1).collect();
    times.sort_by(|x, y| x.total_cmp(y));
    let pct = |p: f64| {
        if times.is_empty() {
            0.0
        } else {
            times[((times.len() - 1) as f64 * p / 100.0).round() as usize]
        }
    };
    println!(
        "{{\"requests\": {}, \"errors\": {errors}, \"bytes\": {bytes}, \"wall_s\": {wall:.4}, \"mb_s\": {:.1}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        times.len(),
        bytes as f64 / wall / 1e6,
        pct(50.0),
        pct(99.0),
        pct(100.0)
    );
}
