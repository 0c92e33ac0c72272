//! A loopback TCP proxy in front of a real service (Azurite), which sees every HTTP request
//! line that passes: a witness of what the instances ask of it (a table scan at start-up).
//!
//! It reads bytes, not HTTP: a chunk from the client that starts with a request line is a new
//! request. That holds for the small requests the ledger sends (reqwest writes a request's
//! head in one piece), which is all it is used for.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// HTTP methods a request line starts with.
const METHODS: [&str; 5] = ["GET ", "PUT ", "POST ", "DELETE ", "MERGE "];

/// A running proxy; it stops with the test's runtime.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    /// A proxy to `upstream` on a free loopback port.
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let accepted_seen = seen.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = accepted_seen.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, seen).await;
                    }
                });
            }
        });
        Proxy { url, seen }
    }

    /// The request lines seen so far (`GET /devstoreaccount1/t1()?$filter=... HTTP/1.1`).
    pub fn request_lines(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

async fn relay(client: TcpStream, server: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upward = async move {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match client_read.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let chunk = &buffer[..read];
            let text = String::from_utf8_lossy(&chunk[..chunk.len().min(2048)]);
            if METHODS.iter().any(|method| text.starts_with(method)) {
                let line = text.lines().next().unwrap_or_default().to_owned();
                seen.lock().unwrap().push(line);
            }
            if server_write.write_all(chunk).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downward = async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upward, downward);
}
