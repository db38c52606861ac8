//! A release download host on loopback: `GET /releases/download/<tag>/<file>` serves
//! `<dir>/<file>`, laid out as GitHub's release downloads are; anything else is a 404. Every
//! request's path is recorded. Plain HTTP/1.1 with `Connection: close`, as curl, wget and
//! busybox wget all read it.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use camino::{Utf8Path, Utf8PathBuf};

#[derive(Debug)]
pub struct Downloads {
    /// `http://127.0.0.1:PORT/releases/download/<tag>`.
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Downloads {
    /// Serves the files of `dir` as the release `tag`'s downloads, until the process ends.
    pub fn serve(dir: &Utf8Path, tag: &str) -> Downloads {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (dir, prefix, seen) = (dir.to_owned(), format!("/releases/download/{tag}/"), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, prefix, seen) = (dir.clone(), prefix.clone(), seen.clone());
                std::thread::spawn(move || answer(stream, &dir, &prefix, &seen));
            }
        });
        Downloads { url: format!("http://127.0.0.1:{port}/releases/download/{tag}"), requests }
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

fn answer(mut stream: std::net::TcpStream, dir: &Utf8PathBuf, prefix: &str, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(0) | Err(_) => break,
            Ok(_) if header == "\r\n" || header == "\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
    seen.lock().unwrap().push(path.clone());
    let file = path.strip_prefix(prefix).filter(|f| !f.is_empty() && !f.contains('/') && !f.contains(".."));
    let body = file.and_then(|f| std::fs::read(dir.join(f)).ok());
    let (status, body) = match body {
        Some(body) => ("200 OK", body),
        None => ("404 Not Found", b"Not Found".to_vec()),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&body);
}
