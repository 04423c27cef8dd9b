"""The HTTPS/WSS edge: TLS 1.3 server, REST admin API and (later) room signaling."""
