"""The SIP transports the stack listens on (``sip.transports``): UDP and TCP at host:port, TLS
at host:tls_port with the engine's certificate. Builds pjsua2's ``TransportConfig`` for one of
them and says what to do when pjsip cannot open it; :class:`~callcenter.voice.sip.stack.
SipStack` creates them on the pj thread."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from callcenter.errors import ConfigError
from callcenter.voice.sip import udp

if TYPE_CHECKING:
    from callcenter.voice.sip.stack import SipConfig

log = logging.getLogger(__name__)


def transport_config(pj: Any, c: SipConfig, transport: str) -> tuple[int, Any]:
    """pjsua2's transport type and ``TransportConfig`` for ``udp``, ``tcp`` or ``tls``."""
    tcfg = pj.TransportConfig()
    tcfg.port = c.tls_port if transport == "tls" else c.port
    tcfg.boundAddress = c.host
    if c.public_host:
        tcfg.publicAddress = c.public_host
    if transport == "udp":
        tcfg.sockOptParams = udp.sock_opts(pj, c.udp_buffer_bytes)
        if warning := udp.shortfall(c.udp_buffer_bytes):
            log.warning("%s", warning)
    if transport == "tls":
        tls = tcfg.tlsConfig
        tls.certFile, tls.privKeyFile = c.tls_cert_file or "", c.tls_key_file or ""
        tls.proto = pj.PJ_SSL_SOCK_PROTO_TLS1_2 | pj.PJ_SSL_SOCK_PROTO_TLS1_3  # not older
        if c.tls_ca_file:
            tls.CaListFile = c.tls_ca_file
            tls.verifyServer = True
    kind = {"udp": pj.PJSIP_TRANSPORT_UDP, "tcp": pj.PJSIP_TRANSPORT_TCP,
            "tls": pj.PJSIP_TRANSPORT_TLS}[transport]
    return kind, tcfg


def cannot_listen(c: SipConfig, transport: str, port: int, why: str) -> ConfigError:
    """The start-up error for a transport pjsip could not open: what, where, why, what to do."""
    what = ("check sip.tls_cert_file and sip.tls_key_file (PEM, the key of that certificate), "
            "free sip.tls_port" if transport == "tls"
            else "free the port, set CALLCENTER_SIP__PORT")
    return ConfigError(f"cannot listen for SIP on {transport} {c.host}:{port} ({why}): {what}, "
                       f"or leave {transport} out of sip.transports")
