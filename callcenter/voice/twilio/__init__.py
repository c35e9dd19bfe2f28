"""The Twilio voice layer: the same IVR flows and ACD queues over Twilio's webhooks and REST API.

- :class:`TwilioVoiceLayer` (built like the SIP layer; ``start`` / ``stop``; ``router`` is the
  FastAPI router of the signed webhooks under ``/twilio``; ``dial`` places dialer calls with
  answering-machine detection);
- :mod:`.twiml`: IVR actions as TwiML verbs;
- :class:`TwilioRest`: the REST calls the engine makes (with a swappable API base URL);
- :func:`build_router`: the webhooks for a layer;
- :class:`TwilioOutboundPort`: the dialer's :class:`~dialer.ports.OutboundPort` over the layer;
- ``TwilioVoiceLayer.transfer``: the agent desktop's blind transfer of a connected call to a
  queue, an E.164 number or a SIP URI (:mod:`.transfers`; :class:`NotConnected`,
  :class:`TransferNotSupported` when it cannot be made);
- ``TwilioVoiceLayer.places``: callers' kept places (fair virtual hold) called back by an
  agent's leg that dials the customer (:mod:`.callbacks`).

Operators: ``docs/twilio.md``.
"""

from callcenter.voice.twilio.call import TwilioCall
from callcenter.voice.twilio.layer import CallbackUrls, TwilioVoiceLayer
from callcenter.voice.twilio.outbound_port import TwilioOutboundPort
from callcenter.voice.twilio.rest import HttpxTwilioClient, TwilioRest, TwilioRestError
from callcenter.voice.twilio.transfers import NotConnected, TransferNotSupported
from callcenter.voice.twilio.webhooks import build_router

__all__ = [
    "CallbackUrls",
    "HttpxTwilioClient",
    "NotConnected",
    "TransferNotSupported",
    "TwilioCall",
    "TwilioOutboundPort",
    "TwilioRest",
    "TwilioRestError",
    "TwilioVoiceLayer",
    "build_router",
]
