//! Outgoing HTTP over `wasi:http/outgoing-handler`: [`start`] hands the request to the host and
//! returns once its body is written, without waiting for the answer; [`Started::wait`] blocks
//! on it. The host sends (and paces) a started request on its own task, so a run can read the
//! next Salesforce page or write back the last batch while a QBO batch waits for its permit.
//! Every other request goes through waki, which only sends and waits.

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    Fields, FutureIncomingResponse, Method as WasiMethod, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::platform::{HttpRequest, HttpResponse, Method, Pending};

/// How long the guest waits to connect (the host caps every timeout).
const CONNECT_TIMEOUT_NS: u64 = 30_000_000_000;
/// Most bytes one blocking write may carry (`wasi:io` streams take at most 4096 at a time).
const WRITE_MAX: usize = 4096;
/// Bytes asked for per read of an answer's body.
const READ_CHUNK: u64 = 1 << 20;

/// A request the host has and whose answer was not read yet.
pub struct Started(FutureIncomingResponse);

/// Hands `request` to the host and writes its body; the answer is read by [`Started::wait`].
pub fn start(request: HttpRequest) -> Result<Started, String> {
    let (scheme, rest) = match request.url.split_once("://") {
        Some(("https", rest)) => (Scheme::Https, rest),
        Some(("http", rest)) => (Scheme::Http, rest),
        _ => return Err(format!("not an http URL: {}", request.url)),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
        .collect();
    let fields = Fields::from_list(&headers).map_err(|e| format!("headers: {e:?}"))?;
    let outgoing = OutgoingRequest::new(fields);
    let method = match request.method {
        Method::Get => WasiMethod::Get,
        Method::Post => WasiMethod::Post,
        Method::Patch => WasiMethod::Patch,
        Method::Delete => WasiMethod::Delete,
    };
    let refused = |what: &str| format!("the request's {what} was refused");
    outgoing
        .set_method(&method)
        .map_err(|()| refused("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| refused("authority"))?;
    outgoing
        .set_path_with_query(Some(path))
        .map_err(|()| refused("path"))?;
    let body = outgoing.body().map_err(|()| refused("body"))?;
    let options = RequestOptions::new();
    options
        .set_connect_timeout(Some(CONNECT_TIMEOUT_NS))
        .map_err(|()| refused("connect timeout"))?;
    // Handed over before the body is written: the host reads the body as it is written.
    let answer = outgoing_handler::handle(outgoing, Some(options)).map_err(|e| format!("{e:?}"))?;
    {
        let stream = body.write().map_err(|()| refused("body stream"))?;
        for chunk in request
            .body
            .as_deref()
            .unwrap_or_default()
            .chunks(WRITE_MAX)
        {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| format!("writing the body: {e:?}"))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(|e| format!("finishing the body: {e:?}"))?;
    Ok(Started(answer))
}

impl Pending for Started {
    fn wait(self: Box<Self>) -> Result<HttpResponse, String> {
        let answer = self.0;
        answer.subscribe().block();
        let response = answer
            .get()
            .ok_or("the answer is not there after waiting for it")?
            .map_err(|()| "the answer was already taken")?
            .map_err(|e| format!("{e:?}"))?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(name, value)| {
                (
                    name.to_ascii_lowercase(),
                    String::from_utf8_lossy(&value).into_owned(),
                )
            })
            .collect();
        let incoming = response.consume().map_err(|()| "the body was taken")?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| "the body stream was taken")?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(bytes) => body.extend(bytes),
                    Err(StreamError::Closed) => break,
                    Err(e) => return Err(format!("reading the body: {e:?}")),
                }
            }
        }
        drop(incoming);
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}
