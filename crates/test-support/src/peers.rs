//! The outside world of delivery, on 127.0.0.1: an SMTP sink that keeps every mail and an HTTP
//! receiver for webhooks that can be told to fail or to hang.

use std::{
    net::TcpListener as StdListener,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

/// An SMTP server that accepts every mail and keeps its raw text; it can be stopped (its
/// port then refuses connections) and started again on the same port.
#[derive(Debug, Clone)]
pub struct MailSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<String>>>,
    accepting: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl MailSink {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the SMTP sink");
        let sink = Self {
            port: listener.local_addr().expect("address").port(),
            mails: Arc::new(Mutex::new(Vec::new())),
            accepting: Arc::new(Mutex::new(None)),
        };
        sink.accept_on(listener);
        sink
    }

    /// Closes the port: connections are refused until [`MailSink::restart`].
    pub fn stop(&self) {
        if let Some(task) = self.accepting.lock().expect("lock").take() {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the SMTP sink's port again");
        self.accept_on(listener);
    }

    fn accept_on(&self, listener: TcpListener) {
        let kept = self.mails.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut lines = BufReader::new(read);
                    let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                    let mut line = String::new();
                    let mut data: Option<String> = None;
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(body) = data.as_mut() {
                            if line == ".\r\n" {
                                kept.lock().expect("lock").push(std::mem::take(body));
                                data = None;
                                let _ = write.write_all(b"250 kept\r\n").await;
                            } else {
                                body.push_str(line.strip_prefix('.').unwrap_or(&line));
                            }
                            continue;
                        }
                        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                        let answer: &[u8] = match verb.as_str() {
                            "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                            "DATA" => {
                                data = Some(String::new());
                                b"354 go on\r\n"
                            }
                            "QUIT" => {
                                let _ = write.write_all(b"221 bye\r\n").await;
                                return;
                            }
                            _ => b"250 ok\r\n",
                        };
                        let _ = write.write_all(answer).await;
                    }
                });
            }
        });
        *self.accepting.lock().expect("lock") = Some(task);
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<String> {
        self.mails.lock().expect("lock").clone()
    }

    /// Waits until at least `count` mails arrived (at most `within`), and returns them all.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= count || tokio::time::Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What the receiver answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept = 0,
    /// `503`, as a receiver that is down behind its proxy.
    Fail = 1,
    /// Holds the request for a minute, as a receiver stuck mid-request.
    Hang = 2,
    /// Accepts after a second, as a receiver under load.
    Slow = 3,
    /// `400` with a plain-text body, as a server refusing the request as it is.
    Refuse = 4,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Whether it was answered 2xx.
    pub accepted: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP server taking webhooks on any path; it can be stopped (its port then refuses
/// connections) and started again on the same port.
#[derive(Debug, Clone)]
pub struct WebhookReceiver {
    pub url: String,
    pub port: u16,
    behaviour: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<Mutex<Option<actix_web::dev::ServerHandle>>>,
}

impl WebhookReceiver {
    pub fn start() -> Self {
        let listener = StdListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("address").port();
        let receiver = Self {
            url: format!("http://127.0.0.1:{port}/hooks/signalons"),
            port,
            behaviour: Arc::new(AtomicUsize::new(Behaviour::Accept as usize)),
            received: Arc::new(Mutex::new(Vec::new())),
            server: Arc::new(Mutex::new(None)),
        };
        receiver.serve_on(listener);
        receiver
    }

    /// Closes the port and every open connection: connections are refused until
    /// [`WebhookReceiver::restart`].
    pub async fn stop(&self) {
        let handle = self.server.lock().expect("lock").take();
        if let Some(handle) = handle {
            handle.stop(false).await;
        }
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        let listener =
            StdListener::bind(("127.0.0.1", self.port)).expect("bind the receiver's port again");
        self.serve_on(listener);
    }

    fn serve_on(&self, listener: StdListener) {
        let (b, r) = (self.behaviour.clone(), self.received.clone());
        let server = HttpServer::new(move || {
            let (b, r) = (b.clone(), r.clone());
            App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
                let (b, r) = (b.clone(), r.clone());
                async move {
                    let behaviour = b.load(Ordering::SeqCst);
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
                        .collect();
                    let accepted = behaviour == Behaviour::Accept as usize
                        || behaviour == Behaviour::Slow as usize;
                    r.lock().expect("lock").push(Received {
                        headers,
                        body: body.to_vec(),
                        accepted,
                    });
                    if behaviour == Behaviour::Hang as usize {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    if behaviour == Behaviour::Slow as usize {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    if accepted {
                        HttpResponse::NoContent().finish()
                    } else if behaviour == Behaviour::Refuse as usize {
                        HttpResponse::BadRequest()
                            .content_type("text/plain")
                            .body("Bad Request: this server does not take that")
                    } else {
                        HttpResponse::ServiceUnavailable().finish()
                    }
                }
            }))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .expect("listen")
        .run();
        *self.server.lock().expect("lock") = Some(server.handle());
        // It stops with the test's runtime, or with `stop`.
        tokio::spawn(server);
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.behaviour.store(behaviour as usize, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until a request was accepted (at most `within`), and returns every request.
    pub async fn wait_for_accepted(&self, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let received = self.received();
            if received.iter().any(|r| r.accepted) || tokio::time::Instant::now() > deadline {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
