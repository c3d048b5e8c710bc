//! Command-line flags. Every flag can also come from the environment (`TFTP_SIDECAR_*`) and
//! from the TOML file given with `--config`; flags win over the environment, which wins over
//! the file.

use std::path::PathBuf;

use clap::Parser;

use crate::config::{LogFormat, PortModeName};

#[derive(Parser, Debug, Default, Clone)]
#[command(
    name = "tftp-sidecar",
    version,
    about = "TFTP server for Cisco IP phone boot files (firmware, configs, trust lists)",
    long_about = "TFTP server for Cisco IP phone boot files.\n\n\
Serves read requests (RFC 1350) with option negotiation (RFC 2347), blksize (RFC 2348), \
timeout and tsize (RFC 2349) and windowsize (RFC 7440) from a local root directory, \
optionally fronted by a content cache over an HTTP(S) origin. Write requests are refused.\n\n\
Settings come from, in increasing priority: built-in defaults, the TOML file given with \
--config (keys are the long flag names with '-' replaced by '_', e.g. blksize_max = 1428), \
environment variables (shown below), then flags.\n\n\
Examples:\n  \
tftp-sidecar --root /srv/tftp --listen 0.0.0.0:69\n  \
tftp-sidecar --config /etc/tftp-sidecar.toml --port-mode single-port   # behind NAT/Kubernetes\n  \
tftp-sidecar --root /srv/tftp --port-mode range --port-range 50000-50100\n\n\
Signals: SIGTERM/SIGINT stop accepting requests, let running transfers finish for up to \
--drain-deadline seconds, then abort the rest and exit. Config errors exit with status 2."
)]
pub struct Cli {
    /// TOML config file (keys as the flag names with '_' for '-').
    #[arg(long, short = 'c', env = "TFTP_SIDECAR_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration, print the effective settings and exit.
    #[arg(long)]
    pub check_config: bool,

    /// Address to listen on, ADDR:PORT; repeat or comma-separate for several
    /// (e.g. 0.0.0.0:69,[::]:69). [default: 0.0.0.0:69]
    #[arg(
        long,
        env = "TFTP_SIDECAR_LISTEN",
        value_delimiter = ',',
        value_name = "ADDR:PORT"
    )]
    pub listen: Option<Vec<String>>,

    /// Directory files are served from (nothing outside it is ever read).
    #[arg(long, env = "TFTP_SIDECAR_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Where replies come from ("single-port" behind NAT or a Kubernetes Service; "range"
    /// takes --port-range). [default: ephemeral]
    #[arg(long, env = "TFTP_SIDECAR_PORT_MODE", value_name = "MODE", value_enum)]
    pub port_mode: Option<PortModeName>,

    /// Transfer ports for --port-mode range, FIRST-LAST (e.g. 50000-50100).
    #[arg(long, env = "TFTP_SIDECAR_PORT_RANGE", value_name = "FIRST-LAST")]
    pub port_range: Option<String>,

    /// Largest blksize granted (8..65464); larger requests are clamped. The default fits a
    /// 1500-byte MTU. [default: 1468]
    #[arg(long, env = "TFTP_SIDECAR_BLKSIZE_MAX", value_name = "BYTES")]
    pub blksize_max: Option<u16>,

    /// Largest RFC 7440 windowsize granted (1..65535). [default: 16]
    #[arg(long, env = "TFTP_SIDECAR_WINDOWSIZE_MAX", value_name = "BLOCKS")]
    pub windowsize_max: Option<u16>,

    /// Base retransmit timeout in seconds (fractions allowed); doubles on each retry up to
    /// 8x. A client's `timeout` option replaces it. [default: 1]
    #[arg(long, env = "TFTP_SIDECAR_TIMEOUT", value_name = "SECONDS")]
    pub timeout: Option<f64>,

    /// Retransmits of one window before a transfer is abandoned. [default: 5]
    #[arg(long, env = "TFTP_SIDECAR_RETRIES", value_name = "N")]
    pub retries: Option<u32>,

    /// Retransmits of the first packet before the client has ACKed anything (kept low so
    /// spoofed requests get little traffic). [default: 2]
    #[arg(long, env = "TFTP_SIDECAR_FIRST_BLOCK_RETRIES", value_name = "N")]
    pub first_block_retries: Option<u32>,

    /// Concurrent transfers; past it requests get ERROR 0 "server busy". [default: 2000]
    #[arg(long, env = "TFTP_SIDECAR_MAX_SESSIONS", value_name = "N")]
    pub max_sessions: Option<usize>,

    /// Concurrent transfers per client IP address (behind SNAT many phones share one
    /// address: raise it there). [default: 64]
    #[arg(long, env = "TFTP_SIDECAR_PER_CLIENT_MAX", value_name = "N")]
    pub per_client_max: Option<u32>,

    /// Accept write requests. Uploads are not implemented: only `false` is valid, and every
    /// WRQ is refused with ERROR 2. [default: false]
    #[arg(long, env = "TFTP_SIDECAR_WRITE_ENABLED", value_name = "BOOL")]
    pub write_enabled: Option<bool>,

    /// Match file names case-insensitively (phones and install guides disagree on case).
    /// [default: false]
    #[arg(long, env = "TFTP_SIDECAR_CASE_INSENSITIVE", value_name = "BOOL")]
    pub case_insensitive: Option<bool>,

    /// HTTP(S) origin asked for files not under --root: <URL>/<name>; fetched files are
    /// cached (the [store] table of the config file has the cache and timeout settings).
    #[arg(long, env = "TFTP_SIDECAR_ORIGIN_URL", value_name = "URL")]
    pub origin_url: Option<String>,

    /// Disk cache directory for origin files (survives restarts). [default: none]
    #[arg(long, env = "TFTP_SIDECAR_DISK_DIR", value_name = "DIR")]
    pub disk_dir: Option<PathBuf>,

    /// Byte budget of the in-memory content cache. [default: 268435456]
    #[arg(long, env = "TFTP_SIDECAR_MEMORY_CACHE_BYTES", value_name = "BYTES")]
    pub memory_cache_bytes: Option<u64>,

    /// HTTP listener for /metrics, /healthz, /readyz and /api/v1/phones (e.g.
    /// 127.0.0.1:9169). [default: off]
    #[arg(long, env = "TFTP_SIDECAR_METRICS_LISTEN", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<String>,

    /// Phone files over HTTP/1.1 (GET/HEAD /<name>, the same files as TFTP; 78xx/88xx/89xx/99xx
    /// phones try it before TFTP): ADDR:PORT, repeat or comma-separate for several, "off"
    /// to disable. [default: 0.0.0.0:6970,[::]:6970]
    #[arg(
        long,
        env = "TFTP_SIDECAR_HTTP_LISTEN",
        value_delimiter = ',',
        value_name = "ADDR:PORT"
    )]
    pub http_listen: Option<Vec<String>>,

    /// Open HTTP connections at most; more get 503 and are closed. [default: 4096]
    #[arg(long, env = "TFTP_SIDECAR_HTTP_MAX_CONNECTIONS", value_name = "N")]
    pub http_max_connections: Option<usize>,

    /// Open HTTP connections per client IP address (raise behind SNAT). [default: 64]
    #[arg(long, env = "TFTP_SIDECAR_HTTP_PER_CLIENT_MAX", value_name = "N")]
    pub http_per_client_max: Option<u32>,

    /// Seconds for a whole HTTP request head to arrive (slowloris bound; also how long a
    /// kept-alive connection waits for its next request). [default: 10]
    #[arg(long, env = "TFTP_SIDECAR_HTTP_HEADER_TIMEOUT", value_name = "SECONDS")]
    pub http_header_timeout: Option<f64>,

    /// Seconds an HTTP connection may move no bytes at all before it is closed (a client
    /// that stopped reading). [default: 60]
    #[arg(long, env = "TFTP_SIDECAR_HTTP_IDLE_TIMEOUT", value_name = "SECONDS")]
    pub http_idle_timeout: Option<f64>,

    /// Largest HTTP request head (request line + headers) in bytes; larger gets 431.
    /// [default: 8192]
    #[arg(long, env = "TFTP_SIDECAR_HTTP_MAX_HEADER_BYTES", value_name = "BYTES")]
    pub http_max_header_bytes: Option<usize>,

    /// Directory for the copies of large files (1 MiB+) that HTTP bodies are sent from with
    /// sendfile: unlinked files, one per cached file, never visible there. "memory" keeps them
    /// in memfds (more CPU per byte). Default: the temporary directory ($TMPDIR, else /tmp).
    #[arg(
        long,
        env = "TFTP_SIDECAR_HTTP_SENDFILE_DIR",
        value_name = "DIR|memory"
    )]
    pub http_sendfile_dir: Option<PathBuf>,

    /// Log format (one line per finished transfer at info level; filter with RUST_LOG).
    /// [default: text]
    #[arg(
        long,
        env = "TFTP_SIDECAR_LOG_FORMAT",
        value_name = "FORMAT",
        value_enum
    )]
    pub log_format: Option<LogFormat>,

    /// Seconds running transfers may take to finish after SIGTERM. [default: 30]
    #[arg(long, env = "TFTP_SIDECAR_DRAIN_DEADLINE", value_name = "SECONDS")]
    pub drain_deadline: Option<f64>,

    /// Worker threads; 0 = one per CPU. One thread is the most CPU-efficient on small
    /// machines (no cross-thread wake-ups). [default: 1]
    #[arg(long, env = "TFTP_SIDECAR_THREADS", value_name = "N")]
    pub threads: Option<usize>,

    /// SO_RCVBUF of listening sockets in bytes, so request bursts are not dropped.
    /// [default: 4194304]
    #[arg(long, env = "TFTP_SIDECAR_RECV_BUFFER", value_name = "BYTES")]
    pub recv_buffer: Option<usize>,

    /// Kea's control socket (unix). When set, Kea's statistics (the cisco-tftp hook's
    /// counters and DHCPv4 packet counters) are polled and exported as `tftp_kea_*` metrics.
    /// The `[kea]` table of the config file has `control-socket` or (Kea 3.0) `http-url`,
    /// `http-user`, `http-password-file`, and `poll-interval`, `server`; `[[kea]]` for several.
    #[arg(long, env = "TFTP_SIDECAR_KEA_CONTROL_SOCKET", value_name = "PATH")]
    pub kea_control_socket: Option<PathBuf>,

    /// A subcommand instead of serving (`check`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands (without one, the server runs).
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Command {
    /// Check a TFTP root for what phones need: per model `termXX.default.loads`, every image
    /// each `.loads` file names (present, non-empty), each `SEP*.cnf.xml`'s
    /// `<loadInformation>`. Exit status 0 when all is well, 1 on problems, 2 when the root
    /// cannot be read.
    Check {
        /// The TFTP root directory.
        root: PathBuf,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Also require the term file of these models (comma-separated, e.g. 7941,7961).
        #[arg(long, value_delimiter = ',')]
        model: Vec<String>,
        /// Match names case-insensitively, as the server does with --case-insensitive.
        #[arg(long)]
        case_insensitive: bool,
    },
}
