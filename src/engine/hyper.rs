//! The real network engine: hyper 1.x connections in a pool of our own
//! ([`super::pool`]), rustls (ring) for TLS, tungstenite for WebSockets.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use hyper_util::client::legacy::connect::{Connection, HttpConnector};
use rustls::ClientConfig;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use super::pool::{Connect, Connected, Pool, PoolConfig, PoolError};
use super::proxy::{Proxies, ProxyConnector, with_port};
use super::{BoxFuture, Capabilities, Engine};
use crate::body::from_http_body;
use crate::plugins::ConnectTimeout;
use crate::request::{RequestName, url_to_uri};
use crate::ws::{WsConfig, WsConnection, tungstenite as ws_bridge};
use crate::{BoxError, ConnectFailure, Error, Request, Response, Result, TimeoutKind};

/// The real network engine.
///
/// - A connection pool of its own (`src/engine/pool.rs`): HTTP/1.1
///   connections are reused per host, HTTP/2 ones shared; a connection a
///   server closed while idle is not an error; clones share the pool.
/// - HTTP/1.1 and HTTP/2: over TLS the protocol is negotiated by ALPN; over
///   plain TCP, HTTP/1.1 unless [`http2_prior_knowledge`](HyperEngineBuilder::http2_prior_knowledge).
/// - HTTPS through rustls with the ring provider, trusting webpki-roots, the
///   operating system's roots when the `native-roots` feature is on, and any
///   extra root you add (a staging server's private CA).
/// - At most [`max_connections_per_host`](HyperEngineBuilder::max_connections_per_host)
///   open connections to one host: further requests wait for one to free up.
/// - Failures map to the [`Error`] kind that says what happened: a refused
///   connection, a DNS failure, a reset, a TLS failure, a connect timeout.
///
/// ```no_run
/// use std::time::Duration;
/// use wiretape::{engine::HyperEngine, Client};
///
/// # fn run() -> wiretape::Result<()> {
/// let engine = HyperEngine::builder()
///     .connect_timeout(Duration::from_secs(5))
///     .max_connections_per_host(8)
///     .add_root_certificate_pem(&std::fs::read("staging-ca.pem").unwrap())?
///     .build()?;
/// let client = Client::builder().engine(engine).build()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HyperEngine {
    pool: Pool,
    tls: Arc<ClientConfig>,
    settings: Arc<Settings>,
}

#[derive(Debug, Clone)]
struct Settings {
    connect_timeout: Option<Duration>,
    nodelay: bool,
    proxies: Arc<Proxies>,
    /// The TCP connector under TLS, for WebSocket tunnels through a proxy.
    http: HttpConnector,
}

impl Default for HyperEngine {
    /// The engine with default settings: webpki roots (and native roots with
    /// the `native-roots` feature), a 90 s pool idle timeout, no connect
    /// timeout, `TCP_NODELAY` on, no cap on connections.
    fn default() -> Self {
        HyperEngine::builder()
            .build()
            .expect("the default engine configuration is valid")
    }
}

impl HyperEngine {
    /// A builder to configure the engine.
    pub fn builder() -> HyperEngineBuilder {
        HyperEngineBuilder::default()
    }

    async fn connect_websocket(&self, request: Request) -> Result<WsConnection> {
        let name = request.to_string();
        let url = request.url().clone();
        let config = request
            .extensions()
            .get::<WsConfig>()
            .copied()
            .unwrap_or_default();
        let secure = match url.scheme() {
            "wss" | "https" => true,
            "ws" | "http" => false,
            other => {
                return Err(Error::invalid(format!(
                    "{name}: scheme {other:?} is not ws or wss"
                )));
            }
        };
        let host = url
            .host_str()
            .ok_or_else(|| Error::invalid(format!("{name}: the URL has no host")))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = url
            .port_or_known_default()
            .unwrap_or(if secure { 443 } else { 80 });
        if let Some(asked) = request
            .headers()
            .get(http::header::SEC_WEBSOCKET_EXTENSIONS)
        {
            return Err(Error::websocket(
                name,
                format!(
                    "the request asks for WebSocket extensions ({asked:?}), which this engine cannot \
                     speak (tungstenite has no permessage-deflate); remove the \
                     Sec-WebSocket-Extensions header to talk uncompressed"
                ),
            ));
        }

        // As for HTTP requests: the engine's own limit covers TCP, the
        // request's (Timeouts::connect) the whole connection, TCP and TLS, so
        // that a server that accepts but never answers the TLS handshake is a
        // connect timeout, not a hang.
        let connect = self.open_stream(&name, &host, port, secure);
        let stream = match request.extensions().get::<ConnectTimeout>() {
            Some(&ConnectTimeout(limit)) => tokio::time::timeout(limit, connect)
                .await
                .map_err(|_| Error::timeout(TimeoutKind::Connect, name.clone(), Some(limit)))?,
            None => connect.await,
        }?;

        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut handshake = url_to_uri(&url)?
            .into_client_request()
            .map_err(|err| Error::invalid(format!("{name}: {err}")))?;
        for (header, value) in request.headers() {
            if !is_handshake_header(header) {
                handshake
                    .headers_mut()
                    .append(header.clone(), value.clone());
            }
        }
        let (socket, response) = tokio_tungstenite::client_async_with_config(
            handshake,
            stream,
            Some(ws_bridge::config(&config)),
        )
        .await
        .map_err(|err| {
            ws_bridge::map_error(err, &name).unwrap_or_else(|| {
                Error::reset(name.clone(), "the connection closed during the handshake")
            })
        })?;
        let (parts, _) = response.into_parts();
        let response =
            Response::from(http::Response::from_parts(parts, crate::Body::empty())).with_url(url);
        let (sink, stream) = ws_bridge::into_frames(socket, name);
        Ok(WsConnection::new(response, sink, stream))
    }
}

impl HyperEngine {
    /// A TCP connection to `host:port`, with TLS on top when `secure`.
    async fn open_stream(
        &self,
        name: &str,
        host: &str,
        port: u16,
        secure: bool,
    ) -> Result<Box<dyn Io>> {
        let tcp = self.open_tcp(name, host, port, secure).await?;
        if !secure {
            return Ok(tcp);
        }
        let mut tls = (*self.tls).clone();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let server_name = ServerName::try_from(host.to_owned()).map_err(|err| {
            Error::invalid(format!(
                "{name}: {host:?} is not a valid TLS server name: {err}"
            ))
        })?;
        let stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
            .connect(server_name, tcp)
            .await
            .map_err(|err| classify_io(&err, name, true))?;
        Ok(Box::new(stream))
    }

    /// A TCP connection to `host:port`, or a tunnel to it through the proxy
    /// [`Proxies`] names for it.
    async fn open_tcp(
        &self,
        name: &str,
        host: &str,
        port: u16,
        secure: bool,
    ) -> Result<Box<dyn Io>> {
        let scheme = if secure { "wss" } else { "ws" };
        let authority = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let dst: Option<Uri> = format!("{scheme}://{authority}/").parse().ok();
        if let Some(route) = dst
            .as_ref()
            .and_then(|dst| self.settings.proxies.intercept(dst))
        {
            let dst = with_port(dst.expect("intercepted, so parsed"));
            let tunnel = route.tunnel(self.settings.http.clone(), dst);
            let io = match self.settings.connect_timeout {
                Some(limit) => tokio::time::timeout(limit, tunnel)
                    .await
                    .map_err(|_| Error::timeout(TimeoutKind::Connect, name, Some(limit)))?,
                None => tunnel.await,
            }
            .map_err(|err| classify(&*err, name, true))?;
            return Ok(Box::new(io.into_inner()));
        }
        // Resolved apart from connecting, so that a name that does not
        // resolve is a DNS error, as it is for HTTP requests.
        let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|err| Error::connect(ConnectFailure::Dns, name, err.to_string()))?
            .collect();
        let connect = TcpStream::connect(&addresses[..]);
        let tcp = match self.settings.connect_timeout {
            Some(limit) => tokio::time::timeout(limit, connect)
                .await
                .map_err(|_| Error::timeout(TimeoutKind::Connect, name, Some(limit)))?,
            None => connect.await,
        }
        .map_err(|err| classify_io(&err, name, true))?;
        // Nagle only delays small frames; failing to turn it off is harmless.
        let _ = tcp.set_nodelay(self.settings.nodelay);
        Ok(Box::new(tcp))
    }
}

/// Headers that tungstenite writes itself for the handshake.
fn is_handshake_header(name: &http::HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host" | "connection" | "upgrade" | "sec-websocket-key" | "sec-websocket-version"
    )
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

impl Engine for HyperEngine {
    fn execute(&self, request: Request) -> BoxFuture<'_, Result<Response>> {
        Box::pin(async move {
            let connect_limit = request.extensions().get::<ConnectTimeout>().map(|c| c.0);
            let (mut request, target) = request.into_http()?;
            // Formatted only when an error names the request.
            let name = RequestName::new(request.method().clone(), target.clone());
            // Only here, below every plugin and recorder: the proxy's
            // credentials never reach a log or a cassette.
            let route = self.settings.proxies.forwarding(request.uri());
            if let Some(auth) = route.as_ref().and_then(|route| route.authorization()) {
                request
                    .headers_mut()
                    .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
            }
            let response = self
                .pool
                .send(request, connect_limit)
                .await
                .map_err(|err| pool_error(err, &name.to_string()))?;
            let (parts, incoming) = response.into_parts();
            let body = from_http_body(incoming, move |err| {
                classify(&err, &name.to_string(), false)
            });
            Ok(Response::from(http::Response::from_parts(parts, body)).with_target(target))
        })
    }

    fn websocket(&self, request: Request) -> BoxFuture<'_, Result<WsConnection>> {
        Box::pin(self.connect_websocket(request))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
            .with_websocket()
            .with_streaming()
            .with_http2()
            .with_timeouts()
            .with_proxy()
    }
}

impl fmt::Debug for HyperEngine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperEngine")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Configures a [`HyperEngine`]; see [`HyperEngine::builder`].
#[derive(Debug)]
pub struct HyperEngineBuilder {
    pool_idle_timeout: Option<Duration>,
    pool_max_idle_per_host: usize,
    connect_timeout: Option<Duration>,
    nodelay: bool,
    max_connections_per_host: Option<usize>,
    http2_prior_knowledge: bool,
    native_roots: bool,
    extra_roots: Vec<CertificateDer<'static>>,
    proxies: Option<Proxies>,
    accept_invalid_certs: bool,
}

impl Default for HyperEngineBuilder {
    fn default() -> Self {
        HyperEngineBuilder {
            pool_idle_timeout: Some(Duration::from_secs(90)),
            pool_max_idle_per_host: usize::MAX,
            connect_timeout: None,
            nodelay: true,
            max_connections_per_host: None,
            http2_prior_knowledge: false,
            native_roots: cfg!(feature = "native-roots"),
            extra_roots: Vec::new(),
            proxies: None,
            accept_invalid_certs: false,
        }
    }
}

impl HyperEngineBuilder {
    /// How long an idle pooled connection may be reused (default 90 s);
    /// `None` keeps it until the server closes it.
    ///
    /// An expired connection is closed when a request finds it, and every
    /// `timeout` a request sweeps the idle connections of every host. The
    /// engine runs no timer for this: a timer pending in the runtime costs
    /// every park of the runtime (about 650 instructions a request), so a
    /// client that sends nothing at all keeps its idle connections until
    /// the server closes them at its own keep-alive timeout.
    pub fn pool_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.pool_idle_timeout = timeout;
        self
    }

    /// How many idle connections per host the pool keeps (default: no limit).
    pub fn pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = max;
        self
    }

    /// A limit on establishing a TCP connection (default: none).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets `TCP_NODELAY` (default on).
    pub fn tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.nodelay = nodelay;
        self
    }

    /// At most `max` open connections to one host (scheme, host and port);
    /// further requests wait until a connection is free (Ktor's
    /// `maxConnectionsPerRoute`). Default: no limit.
    pub fn max_connections_per_host(mut self, max: usize) -> Self {
        self.max_connections_per_host = Some(max.max(1));
        self
    }

    /// Speaks HTTP/2 without negotiation over plain TCP (h2c), and only
    /// HTTP/2 over TLS.
    pub fn http2_prior_knowledge(mut self) -> Self {
        self.http2_prior_knowledge = true;
        self
    }

    /// The proxies to use, replacing those the environment names (the
    /// default is [`Proxies::from_env`], read when the engine is built).
    pub fn proxies(mut self, proxies: Proxies) -> Self {
        self.proxies = Some(proxies);
        self
    }

    /// Sends every request directly, whatever `HTTP_PROXY` and the like say
    /// (reqwest's `no_proxy()`).
    pub fn no_proxy(self) -> Self {
        self.proxies(Proxies::none())
    }

    /// Whether to trust the operating system's root certificates as well
    /// (default: on with the `native-roots` feature).
    pub fn native_roots(mut self, enabled: bool) -> Self {
        self.native_roots = enabled;
        self
    }

    /// Trusts an extra root certificate (DER).
    pub fn add_root_certificate(mut self, der: impl Into<Vec<u8>>) -> Self {
        self.extra_roots.push(CertificateDer::from(der.into()));
        self
    }

    /// Trusts every certificate in a PEM file's contents, for a staging
    /// server with a private CA.
    pub fn add_root_certificate_pem(mut self, pem: &[u8]) -> Result<Self> {
        let mut reader = pem;
        let mut found = 0;
        for cert in rustls_pemfile::certs(&mut reader) {
            let cert = cert.map_err(|err| {
                Error::invalid(format!("root certificate PEM is malformed: {err}"))
            })?;
            self.extra_roots.push(cert);
            found += 1;
        }
        if found == 0 {
            return Err(Error::invalid(
                "root certificate PEM holds no CERTIFICATE block",
            ));
        }
        Ok(self)
    }

    /// Accepts any server certificate, expired, self-signed or for another
    /// name (signatures are still checked). Off by default; only for a
    /// throwaway test server (the command line's
    /// `--danger-accept-invalid-certs`).
    pub fn danger_accept_invalid_certs(mut self, accept: bool) -> Self {
        self.accept_invalid_certs = accept;
        self
    }

    /// The engine, or an error naming a rejected root certificate.
    pub fn build(self) -> Result<HyperEngine> {
        // One process-wide provider, ring, so that no other crate's default can
        // make rustls panic over an ambiguous choice. Another part of the
        // program may have installed one already; that is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();

        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "native-roots")]
        if self.native_roots {
            // Unreadable system certificates are skipped: webpki roots still apply.
            let native = rustls_native_certs::load_native_certs();
            for cert in native.certs {
                let _ = roots.add(cert);
            }
        }
        for (index, cert) in self.extra_roots.into_iter().enumerate() {
            roots.add(cert).map_err(|err| {
                Error::invalid(format!("extra root certificate #{}: {err}", index + 1))
            })?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|err| Error::invalid(format!("TLS configuration: {err}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        if self.accept_invalid_certs {
            tls.dangerous()
                .set_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)));
        }

        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(self.nodelay);
        http.set_connect_timeout(self.connect_timeout);
        let proxies = Arc::new(self.proxies.unwrap_or_else(Proxies::from_env));
        let proxied = ProxyConnector {
            http: http.clone(),
            proxies: proxies.clone(),
        };
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http();
        let https = if self.http2_prior_knowledge {
            https.enable_http2().wrap_connector(proxied)
        } else {
            https.enable_http1().enable_http2().wrap_connector(proxied)
        };
        let connector = Connector {
            inner: https,
            proxies: proxies.clone(),
        };
        let pool = Pool::new(
            Box::new(connector),
            PoolConfig {
                idle_timeout: self.pool_idle_timeout,
                max_idle_per_host: self.pool_max_idle_per_host,
                max_per_host: self.max_connections_per_host,
                http2_only: self.http2_prior_knowledge,
            },
        );
        Ok(HyperEngine {
            pool,
            tls: Arc::new(tls),
            settings: Arc::new(Settings {
                connect_timeout: self.connect_timeout,
                nodelay: self.nodelay,
                proxies,
                http,
            }),
        })
    }
}

/// The verifier of [`HyperEngineBuilder::danger_accept_invalid_certs`]:
/// any certificate passes; handshake signatures are still checked, so the
/// connection is at least with whoever holds the shown certificate's key.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The pool's connector: TCP (through a proxy's tunnel when one is set),
/// then TLS for `https`, within the request's connect limit when it has one.
struct Connector {
    inner: hyper_rustls::HttpsConnector<ProxyConnector>,
    /// To mark a connection to a forwarding HTTP proxy as proxied, so
    /// requests on it carry absolute-form targets.
    proxies: Arc<Proxies>,
}

impl Connect for Connector {
    fn connect(
        &self,
        dst: Uri,
        limit: Option<Duration>,
    ) -> BoxFuture<'static, std::result::Result<Connected, BoxError>> {
        use tower_service::Service;
        let mut inner = self.inner.clone();
        let proxied = self.proxies.forwarding(&dst).is_some();
        Box::pin(async move {
            std::future::poll_fn(|cx| inner.poll_ready(cx)).await?;
            let connect = inner.call(dst);
            let io = match limit {
                Some(limit) => tokio::time::timeout(limit, connect).await.map_err(|_| {
                    Box::new(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("no connection within {limit:?}"),
                    )) as BoxError
                })?,
                None => connect.await,
            }?;
            let h2 = io.connected().is_negotiated_h2();
            Ok(Connected {
                io: Box::new(io),
                h2,
                proxied,
            })
        })
    }
}

/// The [`Error`] for a request the pool could not get answered.
fn pool_error(err: PoolError, request: &str) -> Error {
    match err {
        PoolError::Connect(err) => classify(&*err, request, true),
        PoolError::Send(err) => classify(&err, request, false),
        PoolError::NoHost => Error::invalid(format!("{request}: the URL has no host")),
        PoolError::NotHttp2 => Error::invalid(format!(
            "{request}: the request asks for HTTP/2 and the server speaks HTTP/1.1; leave the \
             version unset to speak what the server does, or use \
             HyperEngineBuilder::http2_prior_knowledge for a plain-TCP HTTP/2 server"
        )),
    }
}

/// Maps an error from hyper, hyper-util, rustls or the OS to the [`Error`]
/// kind that says what happened. `connecting` tells whether the failure
/// happened while establishing the connection.
pub(crate) fn classify(error: &(dyn StdError + 'static), request: &str, connecting: bool) -> Error {
    let mut current: Option<&(dyn StdError + 'static)> = Some(error);
    let mut dns = false;
    while let Some(err) = current {
        // Our own connectors' verdict (a proxy's failure) stands.
        if let Some(ours) = err.downcast_ref::<Error>() {
            return Error::from_kind(ours.kind(), request, ours.message());
        }
        if err.to_string() == "dns error" {
            dns = true;
        }
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if dns {
                return Error::connect(ConnectFailure::Dns, request, io.to_string());
            }
            return classify_io(io, request, connecting);
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return tls_error(tls, request);
        }
        if let Some(h2_err) = err.downcast_ref::<h2::Error>() {
            if let Some(io) = h2_err.get_io() {
                return classify_io(io, request, connecting);
            }
            // The server reset the stream (RST_STREAM) or is closing the
            // connection (GOAWAY): what a dropped connection is over HTTP/1.
            if h2_err.is_reset() || h2_err.is_go_away() {
                return Error::reset(request, h2_err.to_string());
            }
        }
        if let Some(hyper_err) = err.downcast_ref::<hyper::Error>() {
            if hyper_err.is_incomplete_message() {
                return Error::reset(
                    request,
                    "the server closed the connection before the response was complete",
                );
            }
            if hyper_err.is_parse() || hyper_err.is_parse_status() {
                return Error::Protocol {
                    request: request.to_owned(),
                    message: hyper_err.to_string(),
                };
            }
        }
        current = err.source();
    }
    let message = chain_message(error);
    if dns {
        Error::connect(ConnectFailure::Dns, request, message)
    } else if connecting {
        Error::connect(ConnectFailure::Other, request, message)
    } else {
        Error::Protocol {
            request: request.to_owned(),
            message,
        }
    }
}

/// Maps an I/O error (possibly wrapping a rustls error) to its kind.
pub(crate) fn classify_io(io: &io::Error, request: &str, connecting: bool) -> Error {
    if let Some(inner) = io.get_ref() {
        // hyper-rustls wraps tokio-rustls's I/O error in another one.
        if let Some(nested) = inner.downcast_ref::<io::Error>() {
            return classify_io(nested, request, connecting);
        }
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return tls_error(tls, request);
        }
        if let Some(ours) = inner.downcast_ref::<Error>() {
            return Error::from_kind(ours.kind(), request, ours.message());
        }
    }
    let message = io.to_string();
    match io.kind() {
        io::ErrorKind::ConnectionRefused => {
            Error::connect(ConnectFailure::Refused, request, message)
        }
        // Cut off while connecting (TCP or the TLS handshake): nothing of the
        // request was sent, so this is a connect failure, safe to retry for
        // any method, not a reset of an exchange.
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof
            if connecting =>
        {
            Error::connect(
                ConnectFailure::Other,
                request,
                format!(
                    "the connection was cut off while connecting (TCP or TLS handshake): {message}"
                ),
            )
        }
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe
        | io::ErrorKind::UnexpectedEof => Error::reset(request, message),
        // A body the server framed wrongly (a chunk size line that is not
        // hex, say): hyper's decoder reports it as invalid input.
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData if !connecting => {
            Error::Protocol {
                request: request.to_owned(),
                message,
            }
        }
        io::ErrorKind::TimedOut if connecting => {
            Error::timeout(TimeoutKind::Connect, request, None)
        }
        io::ErrorKind::TimedOut => Error::timeout(TimeoutKind::Socket, request, None),
        io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => {
            Error::connect(ConnectFailure::Other, request, message)
        }
        _ if connecting => Error::connect(ConnectFailure::Other, request, message),
        _ => Error::Io {
            request: request.to_owned(),
            message,
        },
    }
}

fn tls_error(tls: &rustls::Error, request: &str) -> Error {
    Error::Tls {
        request: request.to_owned(),
        message: tls.to_string(),
    }
}

fn chain_message(error: &(dyn StdError + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut current = error.source();
    while let Some(err) = current {
        let text = err.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        current = err.source();
    }
    parts.join(": ")
}
