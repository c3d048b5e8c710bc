//! async-tftp 0.4.2's own read-only directory server, as a benchmark and interop peer.
//! Usage: async_tftp_peer ROOT ADDR:PORT

use async_tftp::server::TftpServerBuilder;

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let root = args.next().ok_or("usage: async_tftp_peer ROOT ADDR:PORT")?;
    let addr = args.next().ok_or("usage: async_tftp_peer ROOT ADDR:PORT")?;
    let tftpd = TftpServerBuilder::with_dir_ro(root)?
        .bind(addr.parse()?)
        .build()
        .await?;
    eprintln!("listening addr={}", tftpd.listen_addr()?);
    tftpd.serve().await?;
    Ok(())
}
