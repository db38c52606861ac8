//! A fault-injecting HTTP/1.1 proxy for tests, in front of a real server (the CNCF registry).
//!
//! It works at the TCP level: request heads are parsed to match faults by method, path and
//! occurrence, bodies are forwarded byte for byte, and answers are copied back untouched (the
//! registry builds upload `Location`s from the `Host` header, which still names the proxy, so
//! clients keep coming back through it). A matching request can be
//! - answered by the proxy instead of the server ([`ProxyAction::Respond`]: 502, 503, 429 with
//!   `Retry-After`, or an error quoting the request's `Authorization` header back, as a
//!   careless server or gateway might), the connection then closed;
//! - cut: the head and the first N body bytes reach the server, then the client's connection
//!   is reset (RST) and the server's closed ([`ProxyAction::ResetAfter`]);
//! - stalled: the head and the first N body bytes reach the server, then the proxy neither
//!   reads nor answers again ([`ProxyAction::Stall`]).
//!
//! Bodies are framed by `Content-Length`, which is what the release tool's clients send. A
//! request with another framing (`Transfer-Encoding: chunked`) turns the rest of its
//! connection into a plain tunnel: still forwarded, no longer matched.
//!
//! The proxy runs on its own thread and runtime; dropping it ends every connection.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// What the proxy does to a matching request.
#[derive(Clone, Debug)]
pub enum ProxyAction {
    /// Answer with this status, headers and body instead of the server; close the connection.
    Respond { status: u16, headers: Vec<(String, String)>, body: String },
    /// Forward the head and this many body bytes, then reset the client's connection.
    ResetAfter { bytes: u64 },
    /// Forward the head and this many body bytes, then stop reading and never answer.
    Stall { after_bytes: u64 },
}

impl ProxyAction {
    /// An error answer with a registry-style JSON body.
    pub fn status(status: u16) -> Self {
        ProxyAction::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(r#"{{"errors":[{{"code":"UNAVAILABLE","message":"injected {status}"}}]}}"#),
        }
    }

    /// An error answer whose message quotes the request's `Authorization` header, credentials
    /// and all: what a careless server or gateway does, and what the client must never show.
    pub fn echo_authorization(status: u16) -> Self {
        ProxyAction::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: format!(
                r#"{{"errors":[{{"code":"DENIED","message":"request with authorization {AUTHORIZATION} denied"}}]}}"#
            ),
        }
    }

    /// 429 `TOOMANYREQUESTS` with `Retry-After: secs`.
    pub fn too_many_requests(retry_after_secs: u64) -> Self {
        ProxyAction::Respond {
            status: 429,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("retry-after".into(), retry_after_secs.to_string()),
            ],
            body: r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"too many requests"}]}"#.into(),
        }
    }
}

/// In a [`ProxyAction::Respond`] body, replaced with the request's `Authorization` header.
pub const AUTHORIZATION: &str = "{authorization}";

/// A fault: on the `nth` request (1-based) matching `method` and `path_contains`, and the
/// `times - 1` after it, do `action`.
#[derive(Clone, Debug)]
pub struct ProxyFault {
    pub method: String,
    pub path_contains: String,
    pub nth: usize,
    pub times: usize,
    pub action: ProxyAction,
}

impl ProxyFault {
    pub fn new(method: &str, path_contains: &str, nth: usize, action: ProxyAction) -> Self {
        ProxyFault { method: method.into(), path_contains: path_contains.into(), nth, times: 1, action }
    }

    /// On `times` matches in a row from the `nth` on.
    pub fn times(mut self, times: usize) -> Self {
        self.times = times;
        self
    }

    /// From the `nth` match on, every time: a persistent fault.
    pub fn always(mut self) -> Self {
        self.times = usize::MAX;
        self
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        self.method.eq_ignore_ascii_case(method) && path.contains(&self.path_contains)
    }
}

/// One request that passed the proxy, and what the proxy did to it.
#[derive(Clone, Debug)]
pub struct ProxiedRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The action applied, if a fault matched.
    pub fault: Option<ProxyAction>,
}

#[derive(Debug, Default)]
struct State {
    /// Each fault with how many requests matched it so far.
    faults: Vec<(ProxyFault, usize)>,
    requests: Vec<ProxiedRequest>,
}

/// The running proxy. Dropping it stops it.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream.parse().expect("an upstream address like 127.0.0.1:5000");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("set the listener non-blocking");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::Builder::new()
            .name("fault-proxy".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the fault proxy");
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                    let accept = async {
                        loop {
                            let Ok((client, _)) = listener.accept().await else { continue };
                            let state = shared.clone();
                            tokio::spawn(async move {
                                let _ = connection(client, upstream, state).await;
                            });
                        }
                    };
                    tokio::select! {
                        () = accept => {}
                        _ = stopped => {}
                    }
                });
            })
            .expect("spawn the fault proxy thread");
        FaultProxy { addr, state, shutdown: Some(shutdown) }
    }

    /// `127.0.0.1:PORT`, to use as the registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn inject(&self, fault: ProxyFault) -> &Self {
        self.state.lock().unwrap().faults.push((fault, 0));
        self
    }

    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.state.lock().unwrap().requests.clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Bytes read from the client but not yet handled.
struct Incoming {
    read: OwnedReadHalf,
    buffered: Vec<u8>,
}

impl Incoming {
    /// The next request head, through the blank line; `None` at a clean end.
    async fn head(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buffered.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(Some(self.buffered.drain(..end + 4).collect()));
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Up to `limit` more body bytes (at least one unless the client closed).
    async fn body_chunk(&mut self, limit: u64) -> io::Result<Vec<u8>> {
        if self.buffered.is_empty() && !self.fill().await? {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the client closed mid-body"));
        }
        let take = self.buffered.len().min(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(self.buffered.drain(..take).collect())
    }

    async fn fill(&mut self) -> io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let read = self.read.read(&mut chunk).await?;
        self.buffered.extend_from_slice(&chunk[..read]);
        Ok(read > 0)
    }
}

/// The parts of a request head the proxy needs.
struct Head {
    method: String,
    path: String,
    content_length: Option<u64>,
    chunked: bool,
    authorization: Option<String>,
}

fn parse_head(raw: &[u8]) -> Head {
    let text = String::from_utf8_lossy(raw);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let mut head = Head { method, path, content_length: None, chunked: false, authorization: None };
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("content-length") {
            head.content_length = value.parse().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") && value.to_ascii_lowercase().contains("chunked") {
            head.chunked = true;
        } else if name.eq_ignore_ascii_case("authorization") {
            head.authorization = Some(value.to_owned());
        }
    }
    head
}

async fn connection(client: TcpStream, upstream_addr: SocketAddr, state: Arc<Mutex<State>>) -> io::Result<()> {
    let (read, write) = client.into_split();
    let client_write = Arc::new(tokio::sync::Mutex::new(write));
    let mut incoming = Incoming { read, buffered: Vec::new() };
    // The server side: connected on the first forwarded request, its answers copied back by
    // a task of their own.
    let mut upstream: Option<(OwnedWriteHalf, tokio::task::JoinHandle<()>)> = None;

    let result = async {
        while let Some(raw) = incoming.head().await? {
            let head = parse_head(&raw);
            let action = {
                let mut state = state.lock().unwrap();
                let mut chosen = None;
                for (fault, seen) in state.faults.iter_mut() {
                    if fault.matches(&head.method, &head.path) {
                        *seen += 1;
                        let active = *seen >= fault.nth && *seen < fault.nth.saturating_add(fault.times);
                        if active && chosen.is_none() {
                            chosen = Some(fault.action.clone());
                        }
                    }
                }
                state.requests.push(ProxiedRequest {
                    method: head.method.clone(),
                    path: head.path.clone(),
                    fault: chosen.clone(),
                });
                chosen
            };
            let body_len = head.content_length.unwrap_or(0);

            if let Some(ProxyAction::Respond { status, headers, body }) = &action {
                // Read the body first: closing with unread bytes would reset the connection
                // before the client reads the answer.
                let mut left = body_len;
                while left > 0 {
                    left -= incoming.body_chunk(left).await?.len() as u64;
                }
                let mut answer = format!("HTTP/1.1 {status} Injected\r\nconnection: close\r\n");
                for (name, value) in headers {
                    answer.push_str(&format!("{name}: {value}\r\n"));
                }
                let body = body.replace(AUTHORIZATION, head.authorization.as_deref().unwrap_or("(none)"));
                let body = if head.method.eq_ignore_ascii_case("HEAD") { "" } else { body.as_str() };
                answer.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
                let mut write = client_write.lock().await;
                write.write_all(answer.as_bytes()).await?;
                write.shutdown().await?;
                return Ok(());
            }

            if upstream.is_none() {
                let (server_read, server_write) = TcpStream::connect(upstream_addr).await?.into_split();
                let back = client_write.clone();
                let copy = tokio::spawn(async move {
                    let mut server_read = server_read;
                    let mut chunk = vec![0u8; 64 * 1024];
                    loop {
                        match server_read.read(&mut chunk).await {
                            Ok(0) | Err(_) => {
                                let _ = back.lock().await.shutdown().await;
                                break;
                            }
                            Ok(read) => {
                                if back.lock().await.write_all(&chunk[..read]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
                upstream = Some((server_write, copy));
            }
            let (server_write, _) = upstream.as_mut().expect("connected above");
            server_write.write_all(&raw).await?;

            if head.chunked {
                // Not framed by length: tunnel the rest of the connection untouched.
                server_write.write_all(&incoming.buffered).await?;
                incoming.buffered.clear();
                tokio::io::copy(&mut incoming.read, server_write).await?;
                return Ok(());
            }

            let cut_at = match &action {
                Some(ProxyAction::ResetAfter { bytes }) | Some(ProxyAction::Stall { after_bytes: bytes }) => {
                    (*bytes).min(body_len)
                }
                _ => body_len,
            };
            let mut sent = 0u64;
            while sent < cut_at {
                let chunk = incoming.body_chunk(cut_at - sent).await?;
                server_write.write_all(&chunk).await?;
                sent += chunk.len() as u64;
            }
            match action {
                Some(ProxyAction::ResetAfter { .. }) => {
                    // SO_LINGER 0: closing sends a reset instead of an orderly end.
                    incoming.read.as_ref().set_zero_linger()?;
                    return Ok(());
                }
                Some(ProxyAction::Stall { .. }) => {
                    // Read nothing more, answer nothing, keep the connection open: the client
                    // must notice on its own. Ends when the proxy is dropped.
                    std::future::pending::<()>().await;
                }
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    if let Some((_, copy)) = upstream {
        copy.abort();
    }
    result
}
