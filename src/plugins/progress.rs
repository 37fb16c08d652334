//! Progress: upload and download callbacks, counted where the engine reads
//! and writes.

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, header};

use super::observe::{BodyEvent, observe};
use super::{Link, Next, Plugin};
use crate::engine::BoxFuture;
use crate::{Body, Request, Response, Result};

/// How far a body has got: set with
/// [`RequestBuilder::on_upload`](crate::RequestBuilder::on_upload) and
/// [`on_download`](crate::RequestBuilder::on_download) (Ktor's `onUpload` and
/// `onDownload`).
///
/// Bytes are counted as the engine sends and receives them, so a download
/// is counted before any decompression and `total` is its `Content-Length`
/// when the server sent one. A full request body is handed to the engine in
/// 64 KiB chunks, with `Content-Length` set, so that uploads report as they
/// go.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use wiretape::{mock::{MockEngine, respond_ok}, plugins::Progress, Client};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let engine = MockEngine::new(|_| async { Ok(respond_ok(vec![7u8; 1000]).with_header("content-length", "1000")) });
/// let client = Client::builder().engine(engine).build()?;
/// let uploads = Arc::new(Mutex::new(Vec::new()));
/// let seen = uploads.clone();
/// let last = Arc::new(Mutex::new(None));
/// let downloaded = last.clone();
/// let response = client
///     .post("http://files.test/")
///     .body(vec![0u8; 150_000])
///     .on_upload(move |progress: Progress| seen.lock().unwrap().push(progress.bytes))
///     .on_download(move |progress: Progress| *downloaded.lock().unwrap() = Some(progress))
///     .send()
///     .await?;
/// response.bytes().await?;
/// assert_eq!(*uploads.lock().unwrap(), [65_536, 131_072, 150_000]);
/// assert_eq!(*last.lock().unwrap(), Some(Progress { bytes: 1000, total: Some(1000) }));
/// # Ok::<(), wiretape::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes so far.
    pub bytes: u64,
    /// All the bytes, when known.
    pub total: Option<u64>,
}

/// A progress callback, as it travels in a request's extensions.
#[derive(Clone)]
pub struct ProgressFn(Arc<dyn Fn(Progress) + Send + Sync>);

impl ProgressFn {
    /// Wraps a callback.
    pub fn new<F: Fn(Progress) + Send + Sync + 'static>(callback: F) -> ProgressFn {
        ProgressFn(Arc::new(callback))
    }
}

impl fmt::Debug for ProgressFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressFn(..)")
    }
}

/// The upload callback of a request.
#[derive(Clone, Debug)]
pub(crate) struct UploadProgress(pub(crate) ProgressFn);

/// The download callback of a request.
#[derive(Clone, Debug)]
pub(crate) struct DownloadProgress(pub(crate) ProgressFn);

const UPLOAD_CHUNK: usize = 64 * 1024;

/// `body` as the engine will read it, reporting to `callback`.
fn counted(body: Body, total: Option<u64>, callback: ProgressFn) -> Body {
    let mut bytes = 0u64;
    observe(body, move |event| {
        if let BodyEvent::Chunk(chunk) = event {
            bytes += chunk.len() as u64;
            (callback.0)(Progress { bytes, total });
        }
    })
}

fn watch_upload(request: &mut Request, callback: ProgressFn) {
    let body = request.take_body();
    let (body, total) = match body.as_bytes() {
        Some(bytes) if bytes.is_empty() => (body, Some(0)),
        Some(bytes) => {
            let bytes = bytes.clone();
            let total = bytes.len() as u64;
            if !request.headers().contains_key(header::CONTENT_LENGTH) {
                request
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(total));
            }
            let chunks: Vec<Result<Bytes>> = (0..bytes.len())
                .step_by(UPLOAD_CHUNK)
                .map(|start| Ok(bytes.slice(start..bytes.len().min(start + UPLOAD_CHUNK))))
                .collect();
            (
                Body::from_chunk_stream(Box::pin(futures_util::stream::iter(chunks))),
                Some(total),
            )
        }
        None => {
            let total = request
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok()?.parse().ok());
            (body, total)
        }
    };
    *request.body_mut() = counted(body, total, callback);
}

struct ProgressPlugin;

impl Plugin for ProgressPlugin {
    fn call<'a>(&'a self, mut request: Request, next: Next<'a>) -> BoxFuture<'a, Result<Response>> {
        if let Some(UploadProgress(callback)) =
            request.extensions().get::<UploadProgress>().cloned()
        {
            watch_upload(&mut request, callback);
        }
        let download = request.extensions().get::<DownloadProgress>().cloned();
        if download.is_none() {
            return next.run(request);
        }
        Box::pin(async move {
            let mut response = next.run(request).await?;
            if let Some(DownloadProgress(callback)) = download {
                let total = response.content_length();
                let body = std::mem::take(response.body_mut());
                *response.body_mut() = counted(body, total, callback);
            }
            Ok(response)
        })
    }
}

/// Progress's link: always idle, since it acts only on a request's own
/// callbacks (extensions).
pub(super) fn plugin() -> Link {
    Link::idle_if(Arc::new(ProgressPlugin), true)
}
