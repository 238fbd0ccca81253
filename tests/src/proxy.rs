//! A fault-injecting HTTP proxy in front of the emulator, for the reliability trials.
//!
//! It listens on 127.0.0.1:0 and forwards each request, on a fresh upstream connection with `Connection:
//! close`, to the emulator, then copies the response back and closes the client connection. With a
//! probability `p` (a seeded xorshift, so a seed gives the same sequence of decisions for the same order of
//! requests) it answers a fault instead of forwarding, in the protocol's own error format as the request
//! tells it (query, awsJson, restXml, restJson, rpcv2Cbor): 503, 500, throttling, or a connection closed
//! without an answer. Faults are only ever injected *before* forwarding, so the emulator never sees the
//! request and a retried create is never carried out twice.
//!
//! It counts the requests it forwarded and tells mutating ones (the operation does not start with
//! Describe/List/Get/Head/Lookup) apart, and it can call a hook once the Kth mutating request has been
//! forwarded and its answer received, before the answer goes back to the client: the deterministic point
//! at which a test kills the process that made it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What the proxy did instead of forwarding a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// 503 in the protocol's format (ServiceUnavailable / Unavailable).
    Unavailable,
    /// 500 in the protocol's format (InternalError / InternalFailure).
    Internal,
    /// The protocol's throttling error (Throttling, RequestLimitExceeded, ThrottlingException, SlowDown, …).
    Throttle,
    /// The connection closed after the request was read, without an answer.
    Drop,
}

impl Fault {
    const ALL: [Fault; 4] = [
        Fault::Unavailable,
        Fault::Internal,
        Fault::Throttle,
        Fault::Drop,
    ];
}

/// The wire protocol of a request, as its headers and body show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// A form body with `Action=` (EC2, IAM, RDS, ELBv2, ElastiCache, SNS, STS, CloudWatch before CBOR).
    Query,
    /// An `X-Amz-Target` header (KMS, ECS, Logs, Secrets Manager, ACM, WAFv2, …).
    AwsJson,
    /// application/cbor (`smithy-protocol: rpc-v2-cbor`; CloudWatch in recent SDKs).
    Cbor,
    /// Everything else: REST (S3, Route 53, CloudFront: XML; X-Ray: JSON).
    Rest,
}

/// One request the proxy saw.
#[derive(Clone, Debug)]
pub struct Call {
    /// The label of the listener it came in on (`url_for`), "" for `url`'s.
    pub label: String,
    /// The signing name from the Authorization header's credential scope (`ec2`, `s3`, `kms`, …).
    pub service: String,
    /// The operation (`Action=`, the X-Amz-Target's suffix, the CBOR path's last segment) or, for REST,
    /// `METHOD /path`.
    pub operation: String,
    pub protocol: Protocol,
    pub mutating: bool,
    /// `None`: forwarded; otherwise the fault answered instead.
    pub fault: Option<Fault>,
    /// When the proxy finished with it, since the proxy started.
    pub at: Duration,
    /// How long the proxy held it (reading, forwarding, answering); 0 for a fault.
    pub took: Duration,
    /// For a forwarded mutating request: its ordinal among the mutating requests whose answer came back
    /// from the emulator (1-based).
    pub mutating_ordinal: Option<u64>,
}

type Hook = Box<dyn FnOnce() + Send>;
type When = Box<dyn Fn(&Call) -> bool + Send>;

struct Config {
    p: f64,
    rng: u64,
    /// (when, hook): run the hook once a forwarded request for which `when` holds has its answer.
    kill: Option<(When, Hook)>,
}

#[derive(Default)]
struct Counters {
    forwarded: u64,
    mutating: u64,
    calls: Vec<Call>,
}

struct Inner {
    upstream: SocketAddr,
    started: Instant,
    config: Mutex<Config>,
    counters: Mutex<Counters>,
    stop: AtomicBool,
    /// Set once the kill hook ran: later answers are dropped too (their client is dead anyway).
    killed: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    inner: Arc<Inner>,
    /// Every listener: (label, address, accept thread); the first is `url`'s.
    listeners: Mutex<Vec<(String, SocketAddr, thread::JoinHandle<()>)>>,
}

/// Figures of the requests seen since the last `reset`.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Requests forwarded to the emulator.
    pub forwarded: u64,
    /// Of them, mutating.
    pub mutating: u64,
    /// Faults answered, by kind.
    pub faults: Vec<(Fault, u64)>,
    /// Every request, in the order it was answered (or faulted).
    pub calls: Vec<Call>,
}

impl Stats {
    /// How many faults were answered.
    pub fn fault_count(&self) -> u64 {
        self.faults.iter().map(|(_, n)| n).sum()
    }

    /// The mutating requests forwarded, as `service:Operation`, in order.
    pub fn mutating_ops(&self) -> Vec<String> {
        let mut v: Vec<(u64, String)> = self
            .calls
            .iter()
            .filter_map(|c| {
                c.mutating_ordinal
                    .map(|k| (k, format!("{}:{}", c.service, c.operation)))
            })
            .collect();
        v.sort();
        v.into_iter().map(|(_, s)| s).collect()
    }
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (a URL such as `http://127.0.0.1:5000`), with no faults.
    pub fn start(upstream: &str) -> Proxy {
        let hostport = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let upstream = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .unwrap_or_else(|| panic!("proxy: upstream {hostport} does not resolve"));
        let inner = Arc::new(Inner {
            upstream,
            started: Instant::now(),
            config: Mutex::new(Config {
                p: 0.0,
                rng: 0x9E37_79B9_7F4A_7C15,
                kill: None,
            }),
            counters: Mutex::new(Counters::default()),
            stop: AtomicBool::new(false),
            killed: AtomicBool::new(false),
        });
        let (addr, accept) = listen(&inner, "");
        Proxy {
            addr,
            inner,
            listeners: Mutex::new(vec![(String::new(), addr, accept)]),
        }
    }

    /// The proxy's URL, for `--endpoint-url` / `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The URL of a listener of its own for `label` (made on first use), so that the calls of one tool of
    /// a pipeline can be told apart (`Call::label`); faults, counters and the kill hook are shared.
    pub fn url_for(&self, label: &str) -> String {
        let mut ls = lock(&self.listeners);
        if let Some((_, a, _)) = ls.iter().find(|(l, _, _)| l == label) {
            return format!("http://{a}");
        }
        let (addr, accept) = listen(&self.inner, label);
        ls.push((label.to_owned(), addr, accept));
        format!("http://{addr}")
    }

    /// Injects faults with probability `p` from now on, decided by a xorshift seeded with `seed`.
    pub fn set_faults(&self, p: f64, seed: u64) {
        let mut c = lock(&self.inner.config);
        c.p = p;
        // xorshift must not start at 0; mix the seed so that nearby seeds diverge at once.
        c.rng = splitmix(seed) | 1;
    }

    /// Runs `hook` once the `k`th mutating request (1-based, counted from the last `reset`) has been
    /// forwarded and its answer received, before the answer goes back to the client. The answers of that
    /// request and of every later one are then dropped (closed without an answer).
    pub fn kill_at(&self, k: u64, hook: impl FnOnce() + Send + 'static) {
        self.kill_when(move |c| c.mutating_ordinal == Some(k), hook);
    }

    /// Runs `hook` once, after the answer to the first forwarded request for which `when` holds has come
    /// back from the emulator, before it goes back to the client (`Call::fault` is `None` and, for a
    /// mutating request, `mutating_ordinal` is set); later answers are dropped as with `kill_at`.
    pub fn kill_when(
        &self,
        when: impl Fn(&Call) -> bool + Send + 'static,
        hook: impl FnOnce() + Send + 'static,
    ) {
        lock(&self.inner.config).kill = Some((Box::new(when), Box::new(hook)));
    }

    /// Zeroes the counters, forgets the calls and any kill hook, re-arms after a kill; the fault setting
    /// stays.
    pub fn reset(&self) {
        *lock(&self.inner.counters) = Counters::default();
        lock(&self.inner.config).kill = None;
        self.inner.killed.store(false, Ordering::SeqCst);
    }

    /// The figures since the last `reset`.
    pub fn stats(&self) -> Stats {
        let c = lock(&self.inner.counters);
        let mut faults: Vec<(Fault, u64)> = Fault::ALL
            .iter()
            .map(|f| {
                (
                    *f,
                    c.calls.iter().filter(|x| x.fault == Some(*f)).count() as u64,
                )
            })
            .collect();
        faults.retain(|(_, n)| *n > 0);
        Stats {
            forwarded: c.forwarded,
            mutating: c.mutating,
            faults,
            calls: c.calls.clone(),
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::SeqCst);
        for (_, addr, accept) in lock(&self.listeners).drain(..) {
            // Wake the accept loop.
            let _ = TcpStream::connect(addr);
            let _ = accept.join();
        }
    }
}

/// A listener on 127.0.0.1:0 whose connections are handled with `label`.
fn listen(inner: &Arc<Inner>, label: &str) -> (SocketAddr, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy: bind");
    let addr = listener.local_addr().expect("proxy: local addr");
    let i = Arc::clone(inner);
    let label = label.to_owned();
    let accept = thread::spawn(move || {
        for conn in listener.incoming() {
            if i.stop.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let i = Arc::clone(&i);
            let label = label.clone();
            thread::spawn(move || {
                let _ = handle(&i, &label, conn);
            });
        }
    });
    (addr, accept)
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// A parsed request: the head as lines, and the raw body bytes (chunked bodies kept chunked).
struct Request {
    method: String,
    path: String,
    version: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_owned())
}

/// A message head: the first line and the headers.
type Head = (String, Vec<(String, String)>);

/// Reads a head (request or response) up to the blank line; `None` when the peer closed first.
fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut first = String::new();
    if r.read_line(&mut first)? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(bad("eof in head"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| bad("header line"))?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    Ok(Some((first.trim_end().to_owned(), headers)))
}

/// Reads a body as the headers frame it: chunked (copied raw, trailers included), Content-Length, or
/// (`to_eof`) everything until the peer closes.
fn read_body(
    r: &mut impl BufRead,
    headers: &[(String, String)],
    to_eof: bool,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header(headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 {
                return Err(bad("eof in chunk size"));
            }
            body.extend_from_slice(line.as_bytes());
            let size =
                usize::from_str_radix(line.trim().split(';').next().unwrap_or("").trim(), 16)
                    .map_err(|_| bad("chunk size"))?;
            if size == 0 {
                // Trailers up to the blank line.
                loop {
                    let mut t = String::new();
                    if r.read_line(&mut t)? == 0 {
                        return Ok(body);
                    }
                    body.extend_from_slice(t.as_bytes());
                    if t.trim().is_empty() {
                        return Ok(body);
                    }
                }
            }
            let start = body.len();
            body.resize(start + size + 2, 0);
            r.read_exact(&mut body[start..])?;
        }
    }
    if let Some(n) = header(headers, "content-length") {
        let n: usize = n.parse().map_err(|_| bad("content-length"))?;
        body.resize(n, 0);
        r.read_exact(&mut body)?;
        return Ok(body);
    }
    if to_eof {
        r.read_to_end(&mut body)?;
    }
    Ok(body)
}

fn read_request(client: &mut TcpStream, r: &mut impl BufRead) -> io::Result<Option<Request>> {
    let Some((first, headers)) = read_head(r)? else {
        return Ok(None);
    };
    let mut parts = first.splitn(3, ' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let version = parts.next().unwrap_or("HTTP/1.1").to_owned();
    if header(&headers, "expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let body = read_body(r, &headers, false)?;
    Ok(Some(Request {
        method,
        path,
        version,
        headers,
        body,
    }))
}

/// (service, operation, protocol, mutating) of a request.
fn classify(req: &Request) -> (String, String, Protocol, bool) {
    // Authorization: AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/ec2/aws4_request, …
    let service = req
        .header("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("?")
        .to_owned();
    let content_type = req
        .header("content-type")
        .unwrap_or("")
        .to_ascii_lowercase();
    let reads = |op: &str| {
        ["Describe", "List", "Get", "Head", "Lookup"]
            .iter()
            .any(|p| op.starts_with(p))
    };
    if let Some(target) = req.header("x-amz-target") {
        let op = target.rsplit('.').next().unwrap_or(target).to_owned();
        let m = !reads(&op);
        return (service, op, Protocol::AwsJson, m);
    }
    if content_type.contains("application/cbor") || req.header("smithy-protocol").is_some() {
        let op = req
            .path
            .split('?')
            .next()
            .unwrap_or("")
            .rsplit('/')
            .next()
            .unwrap_or("")
            .to_owned();
        let m = !reads(&op);
        return (service, op, Protocol::Cbor, m);
    }
    if content_type.contains("x-www-form-urlencoded") || req.method == "POST" {
        let body = String::from_utf8_lossy(&req.body);
        if let Some(op) = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("Action="))
            .map(str::to_owned)
        {
            let m = !reads(&op);
            return (service, op, Protocol::Query, m);
        }
    }
    let path = req.path.split('?').next().unwrap_or("");
    // X-Ray (restJson) is all POST /OperationName, with GetGroups at POST /Groups.
    if service == "xray" {
        let seg = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let op = if seg == "Groups" {
            String::from("GetGroups")
        } else {
            seg.to_owned()
        };
        let m = !reads(&op);
        return (service, op, Protocol::Rest, m);
    }
    // Route 53's ListTagsForResources is `POST /2013-04-01/tags/<type>` (ChangeTagsForResource names the
    // resource after it).
    let batch_read = service == "route53"
        && req.method == "POST"
        && path
            .strip_prefix("/2013-04-01/tags/")
            .is_some_and(|rest| !rest.contains('/'));
    let m = !matches!(req.method.as_str(), "GET" | "HEAD") && !batch_read;
    (service, format!("{} {path}", req.method), Protocol::Rest, m)
}

/// The fault's whole answer (head and body) in the request's own protocol.
fn fault_answer(service: &str, protocol: Protocol, fault: Fault) -> Vec<u8> {
    let (status, reason) = match fault {
        Fault::Unavailable => (503, "Service Unavailable"),
        Fault::Internal => (500, "Internal Server Error"),
        Fault::Throttle => (400, "Bad Request"),
        Fault::Drop => (0, ""),
    };
    let rid = "00000000-0000-4000-8000-00000000fa17";
    let mut status = status;
    let mut reason = reason;
    let mut headers: Vec<(String, String)> = Vec::new();
    let (ctype, body) = match protocol {
        Protocol::Query if service == "ec2" => {
            let code = match fault {
                Fault::Unavailable => "Unavailable",
                Fault::Internal => "InternalError",
                _ => "RequestLimitExceeded",
            };
            (
                "text/xml;charset=UTF-8",
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{code}</Code><Message>injected {code}</Message></Error></Errors><RequestID>{rid}</RequestID></Response>"),
            )
        }
        Protocol::Query => {
            let (ty, code) = match fault {
                Fault::Unavailable => ("Receiver", "ServiceUnavailable"),
                Fault::Internal => ("Receiver", "InternalFailure"),
                _ => ("Sender", "Throttling"),
            };
            (
                "text/xml",
                format!("<ErrorResponse><Error><Type>{ty}</Type><Code>{code}</Code><Message>injected: Rate exceeded</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"),
            )
        }
        Protocol::AwsJson => {
            let code = match fault {
                Fault::Unavailable => "ServiceUnavailableException",
                Fault::Internal => "InternalFailure",
                _ => "ThrottlingException",
            };
            headers.push(("x-amzn-ErrorType".into(), code.into()));
            headers.push(("x-amzn-RequestId".into(), rid.into()));
            (
                "application/x-amz-json-1.1",
                format!("{{\"__type\":\"{code}\",\"message\":\"Rate exceeded\"}}"),
            )
        }
        Protocol::Cbor => {
            // A plain status: the SDK retries 500 and 503 as transient whatever the body.
            if fault == Fault::Throttle {
                status = 503;
                reason = "Service Unavailable";
            }
            ("application/cbor", String::new())
        }
        Protocol::Rest if service == "s3" => {
            let code = match fault {
                Fault::Unavailable => "ServiceUnavailable",
                Fault::Internal => "InternalError",
                _ => {
                    // S3 throttles with 503 SlowDown.
                    status = 503;
                    reason = "Slow Down";
                    "SlowDown"
                }
            };
            (
                "application/xml",
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected {code}</Message><RequestId>{rid}</RequestId></Error>"),
            )
        }
        Protocol::Rest if service == "xray" => {
            let code = match fault {
                Fault::Unavailable => "ServiceUnavailable",
                Fault::Internal => "InternalFailure",
                _ => {
                    status = 429;
                    reason = "Too Many Requests";
                    "ThrottledException"
                }
            };
            headers.push(("x-amzn-ErrorType".into(), code.into()));
            (
                "application/json",
                format!("{{\"message\":\"injected {code}\"}}"),
            )
        }
        Protocol::Rest => {
            // Route 53, CloudFront.
            let (ty, code) = match fault {
                Fault::Unavailable => ("Receiver", "ServiceUnavailable"),
                Fault::Internal => ("Receiver", "InternalFailure"),
                _ => ("Sender", "Throttling"),
            };
            (
                "text/xml",
                format!("<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>{ty}</Type><Code>{code}</Code><Message>injected: Rate exceeded</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"),
            )
        }
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n", body.len());
    if protocol == Protocol::Cbor {
        out.push_str("smithy-protocol: rpc-v2-cbor\r\n");
    }
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

/// Forwards the request on a fresh connection and returns the whole answer, its head rewritten to
/// `Connection: close`.
fn forward(upstream: SocketAddr, req: &Request) -> io::Result<Vec<u8>> {
    let mut up = TcpStream::connect_timeout(&upstream, Duration::from_secs(10))?;
    up.set_read_timeout(Some(Duration::from_secs(300)))?;
    let mut head = format!("{} {} {}\r\n", req.method, req.path, req.version);
    for (k, v) in &req.headers {
        if ["connection", "keep-alive", "expect", "proxy-connection"]
            .iter()
            .any(|h| k.eq_ignore_ascii_case(h))
        {
            continue;
        }
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&req.body)?;
    up.flush()?;
    let mut r = BufReader::new(up);
    loop {
        let (first, headers) = read_head(&mut r)?.ok_or_else(|| bad("upstream closed"))?;
        let status: u16 = first
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("status line"))?;
        if (100..200).contains(&status) {
            continue;
        }
        let no_body = req.method == "HEAD" || status == 204 || status == 304;
        let body = if no_body {
            Vec::new()
        } else {
            read_body(&mut r, &headers, true)?
        };
        let mut out = format!("{first}\r\n");
        let framed = header(&headers, "content-length").is_some()
            || header(&headers, "transfer-encoding").is_some();
        for (k, v) in &headers {
            if ["connection", "keep-alive"]
                .iter()
                .any(|h| k.eq_ignore_ascii_case(h))
            {
                continue;
            }
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        if !framed && !no_body {
            out.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        out.push_str("Connection: close\r\n\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(&body);
        return Ok(out);
    }
}

fn handle(inner: &Inner, label: &str, mut client: TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(120)))?;
    let mut r = BufReader::new(client.try_clone()?);
    let Some(req) = read_request(&mut client, &mut r)? else {
        return Ok(());
    };
    let received = Instant::now();
    let (service, operation, protocol, mutating) = classify(&req);
    let fault = {
        let mut c = lock(&inner.config);
        if c.p > 0.0 {
            let draw = xorshift(&mut c.rng);
            let kind = xorshift(&mut c.rng);
            // The top 53 bits as a uniform draw in [0, 1).
            let u = (draw >> 11) as f64 / (1u64 << 53) as f64;
            (u < c.p).then(|| Fault::ALL[(kind % 4) as usize])
        } else {
            None
        }
    };
    if let Some(f) = fault {
        lock(&inner.counters).calls.push(Call {
            label: label.to_owned(),
            service: service.clone(),
            operation,
            protocol,
            mutating,
            fault: Some(f),
            at: inner.started.elapsed(),
            took: Duration::ZERO,
            mutating_ordinal: None,
        });
        if f != Fault::Drop {
            client.write_all(&fault_answer(&service, protocol, f))?;
            client.flush()?;
        }
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    let answer = forward(inner.upstream, &req);
    let call = {
        let mut c = lock(&inner.counters);
        c.forwarded += 1;
        let ordinal = if mutating {
            c.mutating += 1;
            Some(c.mutating)
        } else {
            None
        };
        let call = Call {
            label: label.to_owned(),
            service,
            operation,
            protocol,
            mutating,
            fault: None,
            at: inner.started.elapsed(),
            took: received.elapsed(),
            mutating_ordinal: ordinal,
        };
        c.calls.push(call.clone());
        call
    };
    let hook = {
        let mut c = lock(&inner.config);
        if c.kill.as_ref().is_some_and(|(when, _)| when(&call)) {
            c.kill.take().map(|(_, h)| h)
        } else {
            None
        }
    };
    if let Some(h) = hook {
        h();
        inner.killed.store(true, Ordering::SeqCst);
    }
    if inner.killed.load(Ordering::SeqCst) {
        let _ = client.shutdown(Shutdown::Both);
        return Ok(());
    }
    match answer {
        Ok(bytes) => {
            client.write_all(&bytes)?;
            client.flush()?;
        }
        Err(_) => {
            // The emulator did not answer: the client sees a dropped connection.
        }
    }
    let _ = client.shutdown(Shutdown::Both);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
        Request {
            method: method.into(),
            path: path.into(),
            version: "HTTP/1.1".into(),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    const AUTH: &str = "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/SVC/aws4_request, SignedHeaders=host, Signature=x";

    fn auth(svc: &str) -> String {
        AUTH.replace("SVC", svc)
    }

    #[test]
    fn requests_are_classified_by_protocol_and_operation() {
        let a = auth("ec2");
        let r = req(
            "POST",
            "/",
            &[
                ("Authorization", &a),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            "Action=CreateVpc&Version=2016-11-15",
        );
        assert_eq!(
            classify(&r),
            ("ec2".into(), "CreateVpc".into(), Protocol::Query, true)
        );
        let a = auth("kms");
        let r = req(
            "POST",
            "/",
            &[
                ("Authorization", &a),
                ("X-Amz-Target", "TrentService.DescribeKey"),
            ],
            "{}",
        );
        assert_eq!(
            classify(&r),
            ("kms".into(), "DescribeKey".into(), Protocol::AwsJson, false)
        );
        let a = auth("monitoring");
        let r = req(
            "POST",
            "/service/GraniteServiceVersion20100801/operation/PutMetricAlarm",
            &[("Authorization", &a), ("Content-Type", "application/cbor")],
            "",
        );
        assert_eq!(
            classify(&r),
            (
                "monitoring".into(),
                "PutMetricAlarm".into(),
                Protocol::Cbor,
                true
            )
        );
        let a = auth("xray");
        let r = req("POST", "/Groups", &[("Authorization", &a)], "{}");
        assert_eq!(
            classify(&r),
            ("xray".into(), "GetGroups".into(), Protocol::Rest, false)
        );
        let a = auth("s3");
        let r = req("PUT", "/bucket?versioning", &[("Authorization", &a)], "");
        assert!(classify(&r).3);
        let r = req("GET", "/bucket?versioning", &[("Authorization", &a)], "");
        assert!(!classify(&r).3);
        let a = auth("route53");
        let r = req(
            "POST",
            "/2013-04-01/tags/hostedzone",
            &[("Authorization", &a)],
            "<x/>",
        );
        assert!(!classify(&r).3, "ListTagsForResources reads");
        let r = req(
            "POST",
            "/2013-04-01/tags/hostedzone/Z1",
            &[("Authorization", &a)],
            "<x/>",
        );
        assert!(classify(&r).3, "ChangeTagsForResource writes");
    }

    #[test]
    fn faults_are_in_the_protocols_format() {
        let s = |b: Vec<u8>| String::from_utf8(b).expect("utf8");
        let ec2 = s(fault_answer("ec2", Protocol::Query, Fault::Throttle));
        assert!(ec2.starts_with("HTTP/1.1 400"), "{ec2}");
        assert!(ec2.contains("<Response><Errors><Error><Code>RequestLimitExceeded</Code>"));
        let iam = s(fault_answer("iam", Protocol::Query, Fault::Throttle));
        assert!(iam.contains("<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"));
        let kms = s(fault_answer("kms", Protocol::AwsJson, Fault::Throttle));
        assert!(kms.contains("x-amzn-ErrorType: ThrottlingException"));
        assert!(kms.ends_with("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}"));
        let s3 = s(fault_answer("s3", Protocol::Rest, Fault::Throttle));
        assert!(s3.starts_with("HTTP/1.1 503") && s3.contains("<Error><Code>SlowDown</Code>"));
        let cbor = s(fault_answer("monitoring", Protocol::Cbor, Fault::Throttle));
        assert!(cbor.starts_with("HTTP/1.1 503") && cbor.contains("content-length: 0"));
        let xray = s(fault_answer("xray", Protocol::Rest, Fault::Internal));
        assert!(
            xray.starts_with("HTTP/1.1 500") && xray.contains("x-amzn-ErrorType: InternalFailure")
        );
    }

    #[test]
    fn a_seed_gives_the_same_decisions() {
        let draws = |seed| {
            let mut s = splitmix(seed) | 1;
            (0..32).map(|_| xorshift(&mut s)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7), draws(7));
        assert_ne!(draws(7), draws(8));
    }

    #[test]
    fn chunked_bodies_are_read_whole() {
        let raw = b"4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nTrailer: v\r\n\r\nNEXT";
        let mut r = BufReader::new(&raw[..]);
        let h = vec![("Transfer-Encoding".to_owned(), "chunked".to_owned())];
        let body = read_body(&mut r, &h, false).expect("chunked");
        assert_eq!(body, &raw[..raw.len() - 4]);
    }

    /// A stand-in emulator: answers every request with 200 and the request line as its body, counting.
    fn upstream() -> (String, Arc<Mutex<Vec<String>>>) {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", l.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Arc::clone(&seen);
        thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut r = BufReader::new(conn.try_clone().expect("clone"));
                let Ok(Some((first, headers))) = read_head(&mut r) else {
                    continue;
                };
                let _ = read_body(&mut r, &headers, false);
                lock(&s).push(first.clone());
                let body = first.into_bytes();
                let _ = conn.write_all(
                    format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                let _ = conn.write_all(&body);
            }
        });
        (url, seen)
    }

    /// One POST with a query body through the proxy; the status line and body, or None if dropped.
    fn post(url: &str, action: &str) -> Option<(String, String)> {
        let mut c = TcpStream::connect(url.trim_start_matches("http://")).expect("connect");
        let body = format!("Action={action}&Version=1");
        let a = auth("ec2");
        let _ = c.write_all(
            format!(
                "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {a}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let mut r = BufReader::new(c);
        let (first, headers) = read_head(&mut r).ok()??;
        let body = read_body(&mut r, &headers, true).ok()?;
        Some((first, String::from_utf8_lossy(&body).into_owned()))
    }

    #[test]
    fn it_forwards_counts_faults_and_kills_at_the_kth_mutating_call() {
        let (url, seen) = upstream();
        let proxy = Proxy::start(&url);
        let (status, body) = post(&proxy.url(), "DescribeVpcs").expect("answered");
        assert!(status.contains(" 200 "), "{status}");
        assert_eq!(body, "POST / HTTP/1.1");
        let fired = Arc::new(AtomicBool::new(false));
        let f = Arc::clone(&fired);
        proxy.kill_at(2, move || f.store(true, Ordering::SeqCst));
        assert!(post(&proxy.url_for("tool"), "CreateVpc").is_some());
        assert!(!fired.load(Ordering::SeqCst));
        // The second mutating call reaches the emulator, the hook runs, the client gets no answer.
        assert!(post(&proxy.url(), "CreateSubnet").is_none());
        assert!(fired.load(Ordering::SeqCst));
        let st = proxy.stats();
        assert_eq!((st.forwarded, st.mutating), (3, 2));
        assert_eq!(st.mutating_ops(), ["ec2:CreateVpc", "ec2:CreateSubnet"]);
        assert_eq!(st.calls[1].label, "tool");
        assert_eq!(lock(&seen).len(), 3);

        // At p = 1 nothing reaches the emulator; every kind comes up.
        proxy.reset();
        proxy.set_faults(1.0, 42);
        for _ in 0..40 {
            if let Some((status, _)) = post(&proxy.url(), "CreateVpc") {
                assert!(!status.contains(" 200 "), "{status}");
            }
        }
        let st = proxy.stats();
        assert_eq!(st.forwarded, 0);
        assert_eq!(st.fault_count(), 40);
        assert_eq!(st.faults.len(), 4, "{:?}", st.faults);
        assert_eq!(lock(&seen).len(), 3);
    }
}
