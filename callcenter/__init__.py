"""An open-source telephony call-center engine.

Customers phone in over SIP (pjsua2) or Twilio, walk an IVR, wait in ACD queues and talk to
agents; supervisors run outbound campaigns; what cannot be resolved becomes a back-office
ticket. The pure core (``ivr``, ``acd``, ``tickets``) takes events and returns actions; the
adapters (``voice``, ``store``, ``bus``, ``web``) do the I/O. ``engine`` wires them together.
"""

__version__ = "0.1.0"
